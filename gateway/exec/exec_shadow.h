/* exec_shadow: shadow execution, the same action run again on a second
 * instance name (worker pool) and compared with the first.
 *
 * The exec pipeline hands over an Exec it has answered: the action
 * digest, what ran on the primary instance name (an action_run) and the
 * shadow instance name. exec_shadow_submit never blocks: the shadow goes
 * into a bounded queue (shadow.max_queued), or is dropped and counted when
 * the queue is full, so the client's answer is never delayed by a shadow.
 * shadow.max_in_flight threads of its own take shadows from the queue and
 * run each with action_rerun on the shadow instance name, the cache
 * bypassed (a do_not_cache twin, skip_cache_lookup); blobs the shadow
 * pool's CAS lacks are copied from the primary's. Every wait there has
 * the REv2 client's deadlines.
 *
 * The verdict (action_compare) and both runs are kept, the newest
 * shadow.keep of them, for the comparison page (shadow_page.h) and
 * `gomabarn compare`. The shadow's result is given to the view, so a
 * mismatch can be opened side by side under the mount:
 *   by-instance/<primary>/<action>/output/...
 *   by-instance/<shadow>/<twin>/output/...
 * Counters and the worker phase histograms go to /metrics. */
#ifndef EXEC_SHADOW_H
#define EXEC_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "action_compare.h"
#include "metrics.h"
#include "rev2_client.h"
#include "view.h"

typedef struct exec_shadow exec_shadow;

typedef struct {
    size_t max_queued;     /* shadows waiting; past it they are dropped */
    int max_in_flight;     /* shadows running at once (threads) */
    size_t keep;           /* comparisons kept for the page and `compare` */
    int64_t max_queued_ms; /* exec.max_queued_s, for each shadow's Execute */
} exec_shadow_options;

/* client: a REv2 client of the shadows' own (exec_shadow_free stops it);
 * metrics and view may be NULL. Nothing is owned: free the client after
 * the shadow. */
exec_shadow *exec_shadow_new(rev2_client *client, const exec_shadow_options *o, metrics *m, gmb_view *view);
/* Drops what is queued, stops the client (the shadows' calls end with
 * CANCELLED at once) and waits for the shadow threads. */
void exec_shadow_free(exec_shadow *s);

/* Queues a shadow of `action` on `shadow_instance`. Takes `primary` (the
 * run on the primary instance name; moved: the caller's is left empty).
 * false: dropped, because the queue is full or the shadow is stopping. */
bool exec_shadow_submit(exec_shadow *s, const rev2_digest *action, const char *shadow_instance, action_run *primary);

typedef struct {
    uint64_t submitted, dropped; /* offered; dropped of those (queue full) */
    uint64_t matched, mismatched, failed;
    size_t queued, running;
} exec_shadow_stats;
void exec_shadow_stats_get(exec_shadow *s, exec_shadow_stats *out);

/* The (primary, shadow) instance pairs among the kept comparisons, each
 * with how many there are; at most `max`, in first-seen order. */
#define EXEC_SHADOW_NAME_MAX 256
typedef struct {
    char primary[EXEC_SHADOW_NAME_MAX], shadow[EXEC_SHADOW_NAME_MAX];
    size_t kept;
} exec_shadow_pair;
size_t exec_shadow_pairs(exec_shadow *s, exec_shadow_pair *out, size_t max);

/* A report (instances: primary, then shadow) over the kept comparisons of
 * that pair finished at or after `since` (unix seconds; 0: all kept). The
 * caller frees it with action_report_free. */
action_report *exec_shadow_report(exec_shadow *s, const char *primary, const char *shadow, time_t since);

/* Calls fn for each kept comparison of the pair finished at or after
 * `since` that is not a match, newest first, at most `max` of them;
 * returns how many there were in all. fn runs under the shadow's lock:
 * it must not call exec_shadow functions. */
typedef void (*exec_shadow_differing_fn)(void *user, time_t finished, const action_comparison *c);
size_t exec_shadow_each_differing(exec_shadow *s, const char *primary, const char *shadow, time_t since, size_t max,
                                  exec_shadow_differing_fn fn, void *user);

/* Declares the shadow metric families (counters). */
void exec_shadow_declare_metrics(metrics *m);

#endif
