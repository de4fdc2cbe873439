/* request_log: the last Exec requests, for the status pages. A fixed ring:
 * old entries are overwritten, memory does not grow. Thread-safe. Each
 * request's final state is also counted, once, into the per-minute series
 * (request_series.h) and the per-build summaries (build_log.h). */
#ifndef REQUEST_LOG_H
#define REQUEST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    uint64_t id;
    time_t started;
    char state[16]; /* running, missing, done, failed, bad */
    double duration_ms;
    char user[64];
    char requester[128]; /* goma's compiler_proxy_id */
    char instance[128];
    char action[96]; /* <hash>/<size>, once built */
    size_t n_inputs, n_missing, n_outputs;
    bool cache_hit;
    int exit_code;
    char worker[160];
    double queued_ms, fetch_ms, execute_ms, upload_ms;
    char error[512];
    char reason[48]; /* failed, bad: what kind of failure, a fixed phrase to count by */
    bool fell_back;  /* ran on exec.fallback_instance instead of its own pool */
} request_entry;

typedef struct request_log request_log;
struct request_series;
struct build_log;

/* An entry in a final state (not "running"). */
bool request_entry_finished(const request_entry *e);

/* Counts how a finished entry ended, as the status pages do: one more in
 * the counter of its outcome (done from the action cache, done by
 * running, answered with missing inputs, refused as bad, failed). */
void request_outcome_add(const request_entry *e, uint64_t *hits, uint64_t *executed, uint64_t *missing, uint64_t *bad,
                         uint64_t *failed);

request_log *request_log_new(size_t capacity);
void request_log_free(request_log *l);
/* Records or replaces the entry with e->id. */
void request_log_put(request_log *l, const request_entry *e);
/* How many entries the ring keeps. */
size_t request_log_capacity(request_log *l);
/* Newest first; returns how many were copied. */
size_t request_log_recent(request_log *l, request_entry *out, size_t max);
bool request_log_get(request_log *l, uint64_t id, request_entry *out);
/* The figures kept from every finished request (owned by the log). */
struct request_series *request_log_series(request_log *l);
struct build_log *request_log_builds(request_log *l);

#endif
