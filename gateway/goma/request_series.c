#include "request_series.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Latency buckets: bucket i holds durations up to 1.2^i ms, so a
 * percentile read from them is at most 20% high; 90 buckets reach ~4 h. */
#define LAT_BUCKETS 90
#define LAT_STEP 1.2

typedef struct {
    series_point counts; /* p50/p90 unused here: computed from lat */
    uint32_t lat[LAT_BUCKETS];
} minute_slot;

struct request_series {
    pthread_mutex_t lock;
    minute_slot ring[SERIES_MINUTES];
};

request_series *request_series_new(void)
{
    request_series *s = gmb_calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void request_series_free(request_series *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static size_t bucket_of(double ms)
{
    if (ms <= 1)
        return 0;
    double i = ceil(log(ms) / log(LAT_STEP));
    return i >= LAT_BUCKETS - 1 ? LAT_BUCKETS - 1 : (size_t)i;
}

/* The slot for `minute`, emptied if it last held an older minute. */
static minute_slot *slot_for(request_series *s, time_t minute)
{
    minute_slot *m = &s->ring[(size_t)(minute / 60) % SERIES_MINUTES];
    if (m->counts.minute != minute) {
        memset(m, 0, sizeof *m);
        m->counts.minute = minute;
    }
    return m;
}

void request_series_add(request_series *s, time_t now, const request_entry *e)
{
    pthread_mutex_lock(&s->lock);
    minute_slot *m = slot_for(s, now - now % 60);
    series_point *c = &m->counts;
    c->requests++;
    request_outcome_add(e, &c->hits, &c->executed, &c->missing, &c->bad, &c->failed);
    m->lat[bucket_of(e->duration_ms)]++;
    pthread_mutex_unlock(&s->lock);
}

/* The upper bound of the bucket holding the q-th quantile; -1 if empty. */
static double quantile(const uint32_t *lat, uint64_t n, double q)
{
    if (n == 0)
        return -1;
    uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;
    for (size_t i = 0; i < LAT_BUCKETS; i++) {
        seen += lat[i];
        if (seen >= want && seen > 0)
            return pow(LAT_STEP, (double)i);
    }
    return pow(LAT_STEP, LAT_BUCKETS - 1);
}

static void add_counts(series_point *to, const series_point *from)
{
    to->requests += from->requests;
    to->hits += from->hits;
    to->executed += from->executed;
    to->missing += from->missing;
    to->failed += from->failed;
    to->bad += from->bad;
}

/* The counts and percentiles of minutes [first, last] into out. */
static void sum_minutes(request_series *s, time_t first, time_t last, series_point *out)
{
    uint32_t lat[LAT_BUCKETS] = {0};
    *out = (series_point){.minute = first};
    for (time_t t = first; t <= last; t += 60) {
        const minute_slot *m = &s->ring[(size_t)(t / 60) % SERIES_MINUTES];
        if (m->counts.minute != t)
            continue;
        add_counts(out, &m->counts);
        for (size_t i = 0; i < LAT_BUCKETS; i++)
            lat[i] += m->lat[i];
    }
    out->p50_ms = quantile(lat, out->requests, 0.5);
    out->p90_ms = quantile(lat, out->requests, 0.9);
}

void request_series_points(request_series *s, time_t now, series_point *out, size_t n)
{
    if (n > SERIES_MINUTES)
        n = SERIES_MINUTES;
    time_t last = now - now % 60;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        time_t t = last - (time_t)(n - 1 - i) * 60;
        sum_minutes(s, t, t, &out[i]);
    }
    pthread_mutex_unlock(&s->lock);
}

void request_series_total(request_series *s, time_t now, series_point *out)
{
    time_t last = now - now % 60;
    pthread_mutex_lock(&s->lock);
    sum_minutes(s, last - (SERIES_MINUTES - 1) * 60, last, out);
    pthread_mutex_unlock(&s->lock);
}
