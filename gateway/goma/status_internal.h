/* status_internal: what the status pages' files share (status_page.c
 * wires them; status_gauges.c fills /metrics' gauges; status_front.c
 * draws /; status_pools.c its Buildbarn and instance parts; request_table.c the request list and /request/<id>;
 * build_page.c /builds and /build). Not for other modules. */
#ifndef STATUS_INTERNAL_H
#define STATUS_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "build_log.h"
#include "status_page.h"

struct gmb_budget;
struct rev2_pool_health;

#define EVICTION_SAMPLES 16

struct status_page {
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    http_server *http;
    metrics *metrics;
    request_log *log;
    time_t started;
    char *summary;                  /* the configuration, rendered once (no secrets) */
    long long cache_max_bytes;      /* cache.max_bytes: the store's fill is against it */
    struct gmb_budget *budget;      /* NULL: not shown */
    struct rev2_pool_health *pools; /* NULL: not shown */
    /* The store's eviction count, sampled at most once a minute when the
     * gauges are refreshed, for the eviction rate (a ring). */
    pthread_mutex_t evicted_lock;
    struct {
        time_t t;
        int64_t evictions;
    } evicted[EVICTION_SAMPLES];
};

/* Declares every family /metrics shows. */
void status_declare_families(metrics *m);
/* Refreshes the gauges from the parts that keep their own counters. */
void status_refresh_gauges(status_page *s);
/* Store evictions per minute over the last samples (since start at first). */
double status_eviction_rate(status_page *s);

/* Buildbarn's state in a line (err: GetCapabilities' answer); the worker
 * pools; the instance names with their counts and their pool's state. */
void status_put_buildbarn_line(gmb_buf *b, status_page *s, const rev2_error *err);
void status_put_pools(gmb_buf *b, status_page *s);
void status_put_instances(gmb_buf *b, status_page *s);

/* A build_count's cells: requests, hits, executed, missing, failed, bad,
 * ran as the fallback (build_page.c). */
void status_put_count_cells(gmb_buf *b, const build_count *c);

/* GET /: asks Buildbarn for its capabilities, then draws the page. */
void status_front_page(http_request *r, void *user);
/* The request table under the front page, filtered by the query's state
 * and instance arguments. */
void status_request_table(status_page *s, http_request *r, gmb_buf *b);
/* GET /request/<id>. */
void status_request_page(http_request *r, void *user);
/* GET /builds and /build. */
void status_builds_page(http_request *r, void *user);
void status_build_page(http_request *r, void *user);

#endif
