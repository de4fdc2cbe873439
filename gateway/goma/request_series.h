/* request_series: finished Exec requests per minute over the last
 * SERIES_MINUTES minutes, for the front page's chart: counts by outcome
 * and a latency histogram per minute, so p50/p90 need no list of samples.
 * A fixed ring of minutes: memory does not grow. Thread-safe. */
#ifndef REQUEST_SERIES_H
#define REQUEST_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "request_log.h"

#define SERIES_MINUTES 15

typedef struct request_series request_series;

/* One minute (or the sum of several). */
typedef struct {
    time_t minute;     /* its start, unix seconds */
    uint64_t requests; /* finished in that minute, all outcomes */
    uint64_t hits;     /* done from Buildbarn's action cache */
    uint64_t executed; /* done by running the action */
    uint64_t missing;  /* answered with a missing-input list */
    uint64_t failed;   /* answered with an error (the client retries, then compiles locally) */
    uint64_t bad;      /* refused as a bad request (the client compiles locally) */
    double p50_ms;     /* latency percentiles in the gateway; -1 without requests */
    double p90_ms;
} series_point;

request_series *request_series_new(void);
void request_series_free(request_series *s);
/* Counts one finished request at time `now`. */
void request_series_add(request_series *s, time_t now, const request_entry *e);
/* The last n (<= SERIES_MINUTES) minutes up to now's, oldest first; the
 * minutes without requests are zero. */
void request_series_points(request_series *s, time_t now, series_point *out, size_t n);
/* All of the last SERIES_MINUTES minutes together (minute: the oldest). */
void request_series_total(request_series *s, time_t now, series_point *out);

#endif
