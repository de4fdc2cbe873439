#include "request_log.h"

#include "build_log.h"
#include "mem.h"
#include "request_series.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct request_log {
    pthread_mutex_t lock;
    request_entry *ring;
    size_t capacity;
    request_series *series;
    build_log *builds;
};

bool request_entry_finished(const request_entry *e)
{
    return *e->state && strcmp(e->state, "running") != 0;
}

void request_outcome_add(const request_entry *e, uint64_t *hits, uint64_t *executed, uint64_t *missing, uint64_t *bad,
                         uint64_t *failed)
{
    if (strcmp(e->state, "done") == 0)
        (*(e->cache_hit ? hits : executed))++;
    else if (strcmp(e->state, "missing") == 0)
        (*missing)++;
    else if (strcmp(e->state, "bad") == 0)
        (*bad)++;
    else
        (*failed)++;
}

request_log *request_log_new(size_t capacity)
{
    request_log *l = gmb_calloc(1, sizeof *l);
    l->capacity = capacity ? capacity : 1;
    l->ring = gmb_calloc(l->capacity, sizeof *l->ring);
    pthread_mutex_init(&l->lock, NULL);
    l->series = request_series_new();
    l->builds = build_log_new();
    return l;
}

void request_log_free(request_log *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    request_series_free(l->series);
    build_log_free(l->builds);
    free(l->ring);
    free(l);
}

void request_log_put(request_log *l, const request_entry *e)
{
    pthread_mutex_lock(&l->lock);
    request_entry *slot = &l->ring[e->id % l->capacity]; /* ids grow by one: a ring by id */
    bool newly_finished = request_entry_finished(e) && !(slot->id == e->id && request_entry_finished(slot));
    *slot = *e;
    pthread_mutex_unlock(&l->lock);
    if (newly_finished) { /* counted once, however often it is put */
        time_t now = time(NULL);
        request_series_add(l->series, now, e);
        build_log_add(l->builds, now, e);
    }
}

struct request_series *request_log_series(request_log *l)
{
    return l->series;
}

struct build_log *request_log_builds(request_log *l)
{
    return l->builds;
}

static int newer_first(const void *a, const void *b)
{
    uint64_t x = ((const request_entry *)a)->id, y = ((const request_entry *)b)->id;
    return x < y ? 1 : x > y ? -1 : 0;
}

size_t request_log_capacity(request_log *l)
{
    return l->capacity;
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
