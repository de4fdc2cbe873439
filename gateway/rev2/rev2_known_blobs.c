#include "rev2_known_blobs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rev2_engine.h"

/* Instance names are few; an entry names its instance by index. */
#define MAX_INSTANCES 64
/* The first 16 bytes of the SHA-256 tell blobs apart well enough. */
#define KEY_BYTES 16

typedef struct {
    uint8_t key[KEY_BYTES];
    int64_t size;
    int64_t expires_ms; /* 0: empty slot; in the past: forgotten or stale */
    uint16_t instance;
} known_entry;

typedef struct {
    known_entry *slots; /* NULL until the first add */
    size_t used;
} generation;

typedef struct waiter {
    rev2_upload_waiter_cb cb;
    void *user;
    struct waiter *next;
} waiter;

typedef struct claim {
    uint16_t instance;
    rev2_digest digest;
    waiter *waiters;
    struct claim *next;
} claim;

struct rev2_known_blobs {
    pthread_mutex_t lock;
    size_t capacity; /* slots per generation, a power of two */
    int64_t ttl_ms;
    generation young, old;
    char *instances[MAX_INSTANCES];
    size_t n_instances;
    claim *claims;
};

rev2_known_blobs *rev2_known_blobs_new(size_t max_entries, int64_t ttl_ms)
{
    rev2_known_blobs *k = gmb_calloc(1, sizeof *k);
    pthread_mutex_init(&k->lock, NULL);
    k->ttl_ms = ttl_ms;
    if (max_entries > 0 && ttl_ms > 0) {
        /* Each generation holds max_entries/2 at most: a table at most half full. */
        k->capacity = 16;
        while (k->capacity < max_entries)
            k->capacity *= 2;
    }
    return k;
}

void rev2_known_blobs_free(rev2_known_blobs *k)
{
    if (!k)
        return;
    free(k->young.slots);
    free(k->old.slots);
    for (size_t i = 0; i < k->n_instances; i++)
        free(k->instances[i]);
    while (k->claims) {
        claim *c = k->claims;
        k->claims = c->next;
        while (c->waiters) {
            waiter *w = c->waiters;
            c->waiters = w->next;
            free(w);
        }
        free(c);
    }
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* The instance's index; -1 if the table of names is full and `add` is set,
 * or the name is unknown. */
static int instance_index(rev2_known_blobs *k, const char *instance, bool add)
{
    for (size_t i = 0; i < k->n_instances; i++)
        if (strcmp(k->instances[i], instance) == 0)
            return (int)i;
    if (!add || k->n_instances == MAX_INSTANCES)
        return -1;
    k->instances[k->n_instances] = gmb_strdup(instance);
    return (int)k->n_instances++;
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void key_of(const rev2_digest *d, uint8_t key[KEY_BYTES])
{
    for (size_t i = 0; i < KEY_BYTES; i++)
        key[i] = (uint8_t)(hex_value(d->hash[2 * i]) << 4 | hex_value(d->hash[2 * i + 1]));
}

/* The slot holding (key, size, instance), or the empty slot where it goes. */
static known_entry *probe(const rev2_known_blobs *k, const generation *g, const uint8_t *key, int64_t size,
                          uint16_t instance)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    for (size_t i = 0; i < k->capacity; i++) {
        known_entry *e = &g->slots[(h + i) & (k->capacity - 1)];
        if (e->expires_ms == 0 || (e->size == size && e->instance == instance && memcmp(e->key, key, KEY_BYTES) == 0))
            return e;
    }
    return NULL; /* never: a generation is at most half full */
}

static void put_locked(rev2_known_blobs *k, const uint8_t *key, int64_t size, uint16_t instance, int64_t expires)
{
    if (!k->young.slots)
        k->young.slots = gmb_calloc(k->capacity, sizeof *k->young.slots);
    if (k->young.used >= k->capacity / 2) {
        /* The old generation goes; what was used since moved up already. */
        free(k->old.slots);
        k->old = k->young;
        k->young.slots = gmb_calloc(k->capacity, sizeof *k->young.slots);
        k->young.used = 0;
    }
    known_entry *e = probe(k, &k->young, key, size, instance);
    if (e->expires_ms == 0) {
        memcpy(e->key, key, KEY_BYTES);
        e->size = size;
        e->instance = instance;
        k->young.used++;
    }
    e->expires_ms = expires;
}

bool rev2_known_blobs_has(rev2_known_blobs *k, const char *instance, const rev2_digest *d)
{
    if (k->capacity == 0)
        return false;
    uint8_t key[KEY_BYTES];
    key_of(d, key);
    int64_t now = rev2_now_ms();
    bool known = false;
    pthread_mutex_lock(&k->lock);
    int inst = instance_index(k, instance, false);
    if (inst >= 0 && k->young.slots) {
        known_entry *e = probe(k, &k->young, key, d->size, (uint16_t)inst);
        known = e->expires_ms > now;
        if (!known && e->expires_ms == 0 && k->old.slots) {
            known_entry *o = probe(k, &k->old, key, d->size, (uint16_t)inst);
            known = o->expires_ms > now;
            if (known) /* still wanted: keep it past the next rotation */
                put_locked(k, key, d->size, (uint16_t)inst, o->expires_ms);
        }
    }
    pthread_mutex_unlock(&k->lock);
    return known;
}

void rev2_known_blobs_add(rev2_known_blobs *k, const char *instance, const rev2_digest *d)
{
    if (k->capacity == 0)
        return;
    uint8_t key[KEY_BYTES];
    key_of(d, key);
    pthread_mutex_lock(&k->lock);
    int inst = instance_index(k, instance, true);
    if (inst >= 0)
        put_locked(k, key, d->size, (uint16_t)inst, rev2_now_ms() + k->ttl_ms);
    pthread_mutex_unlock(&k->lock);
}

void rev2_known_blobs_forget(rev2_known_blobs *k, const char *instance, const rev2_digest *d)
{
    if (k->capacity == 0)
        return;
    uint8_t key[KEY_BYTES];
    key_of(d, key);
    pthread_mutex_lock(&k->lock);
    int inst = instance_index(k, instance, false);
    generation *gens[2] = {&k->young, &k->old};
    for (int g = 0; inst >= 0 && g < 2; g++) {
        if (!gens[g]->slots)
            continue;
        known_entry *e = probe(k, gens[g], key, d->size, (uint16_t)inst);
        if (e->expires_ms != 0)
            e->expires_ms = 1; /* stays occupied: later probes walk past it */
    }
    pthread_mutex_unlock(&k->lock);
}

static claim **find_claim(rev2_known_blobs *k, uint16_t instance, const rev2_digest *d)
{
    claim **c = &k->claims;
    while (*c && !((*c)->instance == instance && rev2_digest_equal(&(*c)->digest, d)))
        c = &(*c)->next;
    return c;
}

bool rev2_known_blobs_claim(rev2_known_blobs *k, const char *instance, const rev2_digest *d,
                            rev2_upload_waiter_cb on_done, void *user)
{
    pthread_mutex_lock(&k->lock);
    int inst = instance_index(k, instance, true);
    if (inst < 0) { /* too many instance names to track: everyone uploads */
        pthread_mutex_unlock(&k->lock);
        return true;
    }
    claim **c = find_claim(k, (uint16_t)inst, d);
    bool mine = *c == NULL;
    if (mine) {
        claim *fresh = gmb_calloc(1, sizeof *fresh);
        fresh->instance = (uint16_t)inst;
        fresh->digest = *d;
        *c = fresh;
    } else {
        waiter *w = gmb_calloc(1, sizeof *w);
        w->cb = on_done;
        w->user = user;
        w->next = (*c)->waiters;
        (*c)->waiters = w;
    }
    pthread_mutex_unlock(&k->lock);
    return mine;
}

void rev2_known_blobs_release(rev2_known_blobs *k, const char *instance, const rev2_digest *d, bool ok)
{
    if (ok)
        rev2_known_blobs_add(k, instance, d);
    pthread_mutex_lock(&k->lock);
    int inst = instance_index(k, instance, false);
    claim *done = NULL;
    if (inst >= 0) {
        claim **c = find_claim(k, (uint16_t)inst, d);
        done = *c;
        if (done)
            *c = done->next;
    }
    pthread_mutex_unlock(&k->lock);
    if (!done)
        return;
    while (done->waiters) { /* outside the lock: a waiter may start more work */
        waiter *w = done->waiters;
        done->waiters = w->next;
        w->cb(w->user, ok);
        free(w);
    }
    free(done);
}
