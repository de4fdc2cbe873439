/* rev2_pool_health: what the gateway knows of each worker pool (one per
 * instance name), so requests to a pool known dead are answered at once
 * instead of waiting in a queue no worker serves.
 *
 * Learned from two sources:
 * - Exec answers: an action that ran (or a "no workers" answer, or the
 *   queue watch giving up) marks the pool up (or down, with the reason);
 * - Buildbarn's scheduler, when its BuildQueueState service is reachable
 *   (buildbarn.scheduler_target): every few seconds ListPlatformQueues
 *   says how many workers each instance name prefix has, and ListWorkers
 *   which of them stopped synchronizing with it (rev2_worker_watch.h): a
 *   pool whose every worker is silent is down, and an action executing on
 *   a silent worker is lost (rev2_pool_health_action_lost).
 * A pool that is down lets one request through every `probe_interval_ms`
 * (it may have recovered); the rest are refused with the reason.
 * Thread-safe. */
#ifndef REV2_POOL_HEALTH_H
#define REV2_POOL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_client.h"
#include "rev2_worker_watch.h"

typedef struct rev2_pool_health rev2_pool_health;

rev2_pool_health *rev2_pool_health_new(int64_t probe_interval_ms);
/* Stops watching (waits for the poll in flight) and frees. */
void rev2_pool_health_free(rev2_pool_health *h);

/* Polls `scheduler` (a client for bb_scheduler's BuildQueueState
 * endpoint; not owned) every interval_ms until freed. */
void rev2_pool_health_watch(rev2_pool_health *h, rev2_client *scheduler, int64_t interval_ms);

/* True if a request to `instance` should not be sent: the pool is down
 * and this is not its turn to probe. The reason goes into why. */
bool rev2_pool_health_refuse(rev2_pool_health *h, const char *instance, char *why, size_t why_size);
/* True if `instance` was marked down at or after `since_ms` (and still
 * is): an action queued on it before then will not be taken, so it gives
 * up now; one sent later (a probe) has its own queue time. The reason
 * goes into why. */
bool rev2_pool_health_down_since(rev2_pool_health *h, const char *instance, int64_t since_ms, char *why,
                                 size_t why_size);
/* True if the scheduler lists the action (its digest's hash) as executing
 * on a worker of `instance`'s pool that has stopped synchronizing with it
 * (rev2_worker_watch.h): its Execute stream would say nothing until
 * Buildbarn drops the worker a minute later. The reason goes into why. */
bool rev2_pool_health_action_lost(rev2_pool_health *h, const char *instance, const char *action_hash, char *why,
                                  size_t why_size);
/* One round of ListWorkers answers, as the scheduler watch applies them:
 * the queue of prefixes[q] listed workers[q] (n_workers[q] of them) at
 * now_ms. Pools are judged from it (rev2_worker_watch.h). Also for tests. */
void rev2_pool_health_workers_round(rev2_pool_health *h, size_t n_queues, const char *const *prefixes,
                                    rev2_worker_seen *const *workers, const size_t *n_workers, int64_t now_ms);
void rev2_pool_health_up(rev2_pool_health *h, const char *instance);
void rev2_pool_health_down(rev2_pool_health *h, const char *instance, const char *reason);

typedef struct {
    char instance[128];
    bool up;
    bool known;         /* up/down learned at all */
    int workers;        /* per the scheduler; -1: not known */
    int silent_workers; /* of those, silent ones (rev2_worker_watch.h); -1: not known */
    int64_t since_s;    /* seconds in the current state */
    char reason[256];
    uint64_t refused; /* requests answered at once while down */
} rev2_pool_state;
/* Up to max pools, in the order first seen; the count. */
size_t rev2_pool_health_list(rev2_pool_health *h, rev2_pool_state *out, size_t max);
/* Whether the scheduler answered the last poll (false when not watching). */
bool rev2_pool_health_scheduler_reachable(rev2_pool_health *h);

/* ---- BuildQueueState ---- */
typedef struct {
    char *instance_name_prefix;
    uint32_t workers;    /* over all size classes */
    bool queue_expiring; /* every worker is gone: the scheduler will drop the queue */
    char *platform;      /* "key=value,..." */
    /* A packed ListWorkersRequest per size class of the queue (all its workers). */
    uint8_t **list_workers;
    size_t *list_workers_len;
    size_t n_list_workers;
} rev2_platform_queue;
/* ListPlatformQueues: the queues (malloc'd array; free with
 * rev2_platform_queues_free) or an error. */
typedef void (*rev2_platform_queues_cb)(void *user, rev2_error *err, rev2_platform_queue *queues, size_t n);
void rev2_list_platform_queues(rev2_client *scheduler, rev2_platform_queues_cb cb, void *user);
void rev2_platform_queues_free(rev2_platform_queue *q, size_t n);

#endif
