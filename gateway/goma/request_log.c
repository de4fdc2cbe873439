#include "request_log.h"
#include "mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct request_log {
    pthread_mutex_t lock;
    request_entry *ring;
    size_t capacity;
};

request_log *request_log_new(size_t capacity)
{
    request_log *l = gmb_calloc(1, sizeof *l);
    l->capacity = capacity ? capacity : 1;
    l->ring = gmb_calloc(l->capacity, sizeof *l->ring);
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void request_log_free(request_log *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->ring);
    free(l);
}

void request_log_put(request_log *l, const request_entry *e)
{
    pthread_mutex_lock(&l->lock);
    l->ring[e->id % l->capacity] = *e; /* ids grow by one: a ring by id */
    pthread_mutex_unlock(&l->lock);
}

static int newer_first(const void *a, const void *b)
{
    uint64_t x = ((const request_entry *)a)->id, y = ((const request_entry *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

size_t request_log_recent(request_log *l, request_entry *out, size_t max)
{
    request_entry *all = gmb_malloc(l->capacity * sizeof *all);
    pthread_mutex_lock(&l->lock);
    size_t n = 0;
    for (size_t i = 0; i < l->capacity; i++)
        if (l->ring[i].id)
            all[n++] = l->ring[i];
    pthread_mutex_unlock(&l->lock);
    if (n > 1)
        qsort(all, n, sizeof *all, newer_first);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

bool request_log_get(request_log *l, uint64_t id, request_entry *out)
{
    pthread_mutex_lock(&l->lock);
    bool ok = id && l->ring[id % l->capacity].id == id;
    if (ok)
        *out = l->ring[id % l->capacity];
    pthread_mutex_unlock(&l->lock);
    return ok;
}
