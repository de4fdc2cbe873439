/* rev2_worker_watch: which of Buildbarn's workers stopped talking to the
 * scheduler, learned from its BuildQueueState ListWorkers.
 *
 * A live worker either waits inside a Synchronize call (idle: no timeout is
 * listed for it) or, while it executes, makes one at least every 10 s
 * (Buildbarn's busy-worker interval), and each call moves its listed
 * timeout on. A worker listed with the same timeout in two listings
 * REV2_WORKER_SILENT_MS apart has stopped: killed, its host gone, or cut
 * off. (Measured between listings, not up to now: a worker not listed
 * lately because a listing failed or was slow is not taken for silent.)
 * Buildbarn itself drops such a worker only after a minute, and only then
 * fails its action ("disappeared while task was executing"); until then
 * the action's Execute stream says nothing, so without this watch a
 * compile on a dead worker waits a minute or more.
 *
 * The table is not thread-safe: rev2_pool_health holds its lock around
 * every call. It keeps at most REV2_WORKERS_MAX workers; past that the
 * round is marked overflowed, and no pool is judged from it. */
#ifndef REV2_WORKER_WATCH_H
#define REV2_WORKER_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_client.h"

#define REV2_WORKER_SILENT_MS 15000
#define REV2_WORKERS_MAX 1024

/* One worker as ListWorkers lists it. */
typedef struct {
    char *id; /* its id map as "key=value,..." sorted by key */
    bool has_timeout;
    int64_t timeout_s;
    int32_t timeout_ns;
    char action_hash[65]; /* of the action it executes; "" when idle */
} rev2_worker_seen;

typedef void (*rev2_workers_cb)(void *user, rev2_error *err, rev2_worker_seen *workers, size_t n);
/* ListWorkers for one size class queue; `request` (a packed
 * ListWorkersRequest from rev2_platform_queue) is taken. The workers
 * (malloc'd; free with rev2_workers_seen_free) or an error. */
void rev2_list_workers(rev2_client *scheduler, uint8_t *request, size_t len, rev2_workers_cb cb, void *user);
void rev2_workers_seen_free(rev2_worker_seen *w, size_t n);

/* ---- the table ---- */
typedef struct {
    char prefix[128]; /* the instance name prefix of the queue it serves */
    char *id;
    bool has_timeout;
    int64_t timeout_s;
    int32_t timeout_ns;
    int64_t same_since_ms; /* when this timeout was first listed */
    int64_t listed_ms;     /* when it was last listed */
    char action_hash[65];
    unsigned round; /* the last round that listed it */
} rev2_worker_entry;

typedef struct rev2_worker_table rev2_worker_table;
rev2_worker_table *rev2_worker_table_new(void);
void rev2_worker_table_free(rev2_worker_table *t);
/* A round of listings begins: every queue's workers follow (saw), then end. */
void rev2_worker_table_begin(rev2_worker_table *t);
void rev2_worker_table_saw(rev2_worker_table *t, const char *prefix, const rev2_worker_seen *w, int64_t now_ms);
/* Forgets the workers this round did not list (gone from the scheduler). */
void rev2_worker_table_end(rev2_worker_table *t);
/* Whether the last round listed more workers than the table holds. */
bool rev2_worker_table_overflowed(const rev2_worker_table *t);
size_t rev2_worker_table_count(const rev2_worker_table *t);
const rev2_worker_entry *rev2_worker_table_at(const rev2_worker_table *t, size_t i);
/* Whether the worker was listed with the same timeout REV2_WORKER_SILENT_MS
 * apart; for how long it has been seen so in *silent_ms (may be NULL). */
bool rev2_worker_silent(const rev2_worker_entry *e, int64_t *silent_ms);

#endif
