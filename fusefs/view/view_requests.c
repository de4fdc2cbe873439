#include "view_requests.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "errmsg.h"
#include "mem.h"

/* Entries live in a ring (oldest first, for eviction and listing) and are
 * found by name through a chained hash table of ring slots. */
typedef struct slot {
    view_request req;
    struct slot *next_in_bucket;
} slot;

struct view_requests {
    pthread_mutex_t lock;
    slot *ring;
    size_t capacity, oldest, count;
    slot **buckets;
    size_t n_buckets;
};

#define NAME_MAX_BYTES 200

view_requests *view_requests_new(size_t capacity)
{
    view_requests *t = gmb_calloc(1, sizeof *t);
    t->capacity = capacity ? capacity : 1;
    t->ring = gmb_calloc(t->capacity, sizeof *t->ring);
    t->n_buckets = 1;
    while (t->n_buckets < t->capacity * 2)
        t->n_buckets <<= 1;
    t->buckets = gmb_calloc(t->n_buckets, sizeof *t->buckets);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void view_request_clear(view_request *r)
{
    free(r->name);
    free(r->instance);
    r->name = r->instance = NULL;
}

void view_requests_free(view_requests *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->capacity; i++)
        view_request_clear(&t->ring[i].req);
    free(t->ring);
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static slot **bucket_of(view_requests *t, const char *name)
{
    return &t->buckets[XXH3_64bits(name, strlen(name)) & (t->n_buckets - 1)];
}

static slot *find_slot(view_requests *t, const char *name)
{
    for (slot *s = *bucket_of(t, name); s; s = s->next_in_bucket)
        if (strcmp(s->req.name, name) == 0)
            return s;
    return NULL;
}

static void unlink_slot(view_requests *t, slot *s)
{
    slot **p = bucket_of(t, s->req.name);
    while (*p != s)
        p = &(*p)->next_in_bucket;
    *p = s->next_in_bucket;
}

void view_requests_put(view_requests *t, const char *name, const char *instance, const rev2_digest *action)
{
    pthread_mutex_lock(&t->lock);
    slot *s = find_slot(t, name);
    if (s) { /* a retried request: point at its latest action */
        free(s->req.instance);
        s->req.instance = gmb_strdup(instance);
        s->req.action = *action;
        pthread_mutex_unlock(&t->lock);
        return;
    }
    if (t->count == t->capacity) { /* forget the oldest */
        slot *old = &t->ring[t->oldest];
        unlink_slot(t, old);
        view_request_clear(&old->req);
        t->oldest = (t->oldest + 1) % t->capacity;
        t->count--;
    }
    s = &t->ring[(t->oldest + t->count) % t->capacity];
    s->req = (view_request){gmb_strdup(name), gmb_strdup(instance), *action};
    slot **b = bucket_of(t, name);
    s->next_in_bucket = *b;
    *b = s;
    t->count++;
    pthread_mutex_unlock(&t->lock);
}

static void copy_request(const view_request *from, view_request *to)
{
    *to = (view_request){gmb_strdup(from->name), gmb_strdup(from->instance), from->action};
}

bool view_requests_find(view_requests *t, const char *name, view_request *out)
{
    pthread_mutex_lock(&t->lock);
    slot *s = find_slot(t, name);
    if (s)
        copy_request(&s->req, out);
    pthread_mutex_unlock(&t->lock);
    return s != NULL;
}

size_t view_requests_list(view_requests *t, view_request **out)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->count;
    *out = gmb_calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++)
        copy_request(&t->ring[(t->oldest + i) % t->capacity].req, &(*out)[i]);
    pthread_mutex_unlock(&t->lock);
    return n;
}

char *view_request_file_name(const char *id)
{
    if (!id || !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return NULL;
    size_t n = strlen(id);
    if (n > NAME_MAX_BYTES)
        n = NAME_MAX_BYTES;
    char *name = gmb_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        name[i] = (c == '/' || c < 0x20 || c == 0x7f) ? '_' : (char)c;
    }
    name[n] = '\0';
    return name;
}

char *view_request_target(const view_request *r)
{
    return gmb_format("../by-instance/%s%s%s-%lld", r->instance, *r->instance ? "/" : "", r->action.hash,
                      (long long)r->action.size);
}
