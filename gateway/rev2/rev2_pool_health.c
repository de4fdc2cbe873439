#include "rev2_pool_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildbarn/buildqueuestate/buildqueuestate.pb-c.h"
#include "buf.h"
#include "log.h"
#include "mem.h"
#include "rev2_client_internal.h"
#include "rev2_engine.h"
#include "rev2_unary.h"
#include "rev2_worker_watch.h"

#define MAX_POOLS 64

typedef struct {
    char instance[128];
    bool known, up;
    bool down_by_scheduler; /* cleared when the scheduler lists workers again */
    bool down_for_silence;  /* down because every listed worker is silent; cleared when one talks again */
    int workers;
    int silent; /* of its workers listed, those silent (rev2_worker_watch.h); -1: not known */
    int64_t since_ms, last_probe_ms;
    char reason[256];
    uint64_t refused;
} pool;

struct rev2_pool_health {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int64_t probe_interval_ms;
    pool pools[MAX_POOLS];
    size_t n;
    /* the scheduler watch */
    rev2_client *scheduler;
    int64_t poll_interval_ms;
    bool stopping, polling, reachable;
    /* ListWorkers, one size class queue after another each poll */
    rev2_worker_table *workers;
    size_t silent_busy;    /* silent workers that hold an action, after the last round */
    bool workers_unlisted; /* ListWorkers failed (said once) */
};

rev2_pool_health *rev2_pool_health_new(int64_t probe_interval_ms)
{
    rev2_pool_health *h = gmb_calloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->probe_interval_ms = probe_interval_ms;
    h->workers = rev2_worker_table_new();
    return h;
}

void rev2_pool_health_free(rev2_pool_health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    while (h->polling) /* a poll or its timer is pending: it ends soon (shutdown cancels) */
        pthread_cond_wait(&h->idle, &h->lock);
    pthread_mutex_unlock(&h->lock);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    rev2_worker_table_free(h->workers);
    free(h);
}

/* The pool of `instance`, added if new (NULL when the table is full). */
static pool *pool_of(rev2_pool_health *h, const char *instance)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->pools[i].instance, instance) == 0)
            return &h->pools[i];
    if (h->n == MAX_POOLS)
        return NULL;
    pool *p = &h->pools[h->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->instance, sizeof p->instance, "%s", instance);
    p->workers = -1;
    p->silent = -1;
    p->since_ms = rev2_now_ms();
    return p;
}

static void set_state(pool *p, bool up, const char *reason)
{
    if (!p->known || p->up != up)
        p->since_ms = rev2_now_ms();
    p->known = true;
    p->up = up;
    snprintf(p->reason, sizeof p->reason, "%s", reason ? reason : "");
}

bool rev2_pool_health_refuse(rev2_pool_health *h, const char *instance, char *why, size_t why_size)
{
    pthread_mutex_lock(&h->lock);
    pool *p = pool_of(h, instance);
    bool refuse = false;
    if (p && p->known && !p->up) {
        int64_t now = rev2_now_ms();
        if (now - p->last_probe_ms < h->probe_interval_ms) {
            refuse = true;
            p->refused++;
            snprintf(why, why_size, "pool \"%s\" is down (for %lld s): %s", instance,
                     (long long)((now - p->since_ms) / 1000), p->reason);
        } else {
            p->last_probe_ms = now; /* this one goes through: it may have recovered */
        }
    }
    pthread_mutex_unlock(&h->lock);
    return refuse;
}

bool rev2_pool_health_down_since(rev2_pool_health *h, const char *instance, int64_t since_ms, char *why,
                                 size_t why_size)
{
    pthread_mutex_lock(&h->lock);
    pool *p = pool_of(h, instance);
    bool down = p && p->known && !p->up && p->since_ms >= since_ms;
    if (down)
        snprintf(why, why_size, "pool \"%s\" was marked down meanwhile: %s", instance, p->reason);
    pthread_mutex_unlock(&h->lock);
    return down;
}

void rev2_pool_health_up(rev2_pool_health *h, const char *instance)
{
    pthread_mutex_lock(&h->lock);
    pool *p = pool_of(h, instance);
    if (p) {
        if (p->known && !p->up)
            GMB_INFO("pools", "pool \"%s\" is up again", instance);
        set_state(p, true, NULL);
        p->down_by_scheduler = false;
        p->down_for_silence = false;
    }
    pthread_mutex_unlock(&h->lock);
}

void rev2_pool_health_down(rev2_pool_health *h, const char *instance, const char *reason)
{
    pthread_mutex_lock(&h->lock);
    pool *p = pool_of(h, instance);
    if (p) {
        if (!p->known || p->up)
            GMB_WARN("pools", "pool \"%s\" is down: %s; requests to it are answered at once, one every %lld s tries it",
                     instance, reason, (long long)(h->probe_interval_ms / 1000));
        set_state(p, false, reason);
        p->down_for_silence = false; /* this reason governs now: a probe or an Exec brings it back */
        p->last_probe_ms = rev2_now_ms();
    }
    pthread_mutex_unlock(&h->lock);
}

size_t rev2_pool_health_list(rev2_pool_health *h, rev2_pool_state *out, size_t max)
{
    pthread_mutex_lock(&h->lock);
    int64_t now = rev2_now_ms();
    size_t n = h->n < max ? h->n : max;
    for (size_t i = 0; i < n; i++) {
        const pool *p = &h->pools[i];
        rev2_pool_state *s = &out[i];
        memset(s, 0, sizeof *s);
        snprintf(s->instance, sizeof s->instance, "%s", p->instance);
        s->known = p->known;
        s->up = p->up;
        s->workers = p->workers;
        s->silent_workers = p->silent;
        s->since_s = (now - p->since_ms) / 1000;
        snprintf(s->reason, sizeof s->reason, "%s", p->reason);
        s->refused = p->refused;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

bool rev2_pool_health_scheduler_reachable(rev2_pool_health *h)
{
    pthread_mutex_lock(&h->lock);
    bool r = h->scheduler && h->reachable;
    pthread_mutex_unlock(&h->lock);
    return r;
}

/* ---- BuildQueueState ---- */

typedef struct {
    rev2_platform_queues_cb cb;
    void *user;
} list_call;

static char *platform_text(const Rev2Platform *p)
{
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    for (size_t i = 0; p && i < p->n_properties; i++) {
        const Rev2PlatformProperty *pp = p->properties[i];
        if (i)
            gmb_buf_put(&b, ",", 1);
        gmb_buf_put(&b, pp->name, strlen(pp->name));
        gmb_buf_put(&b, "=", 1);
        gmb_buf_put(&b, pp->value, strlen(pp->value));
    }
    gmb_buf_put(&b, "", 1);
    size_t n;
    return (char *)gmb_buf_take(&b, &n);
}

/* ListWorkersRequest for every worker of one size class queue. */
static uint8_t *list_workers_request(Buildbarn__Buildqueuestate__PlatformQueueName *name, uint32_t size_class,
                                     size_t *len)
{
    Buildbarn__Buildqueuestate__SizeClassQueueName queue = BUILDBARN__BUILDQUEUESTATE__SIZE_CLASS_QUEUE_NAME__INIT;
    queue.platform_queue_name = name;
    queue.size_class = size_class;
    Buildbarn__Buildqueuestate__ListWorkersRequest__Filter filter =
        BUILDBARN__BUILDQUEUESTATE__LIST_WORKERS_REQUEST__FILTER__INIT;
    filter.type_case = BUILDBARN__BUILDQUEUESTATE__LIST_WORKERS_REQUEST__FILTER__TYPE_ALL;
    filter.all = &queue;
    Buildbarn__Buildqueuestate__ListWorkersRequest req = BUILDBARN__BUILDQUEUESTATE__LIST_WORKERS_REQUEST__INIT;
    req.filter = &filter;
    req.page_size = REV2_WORKERS_MAX;
    return REV2_PACK(&req, len);
}

static void list_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    list_call *l = user;
    rev2_platform_queue *queues = NULL;
    size_t n = 0;
    if (!err) {
        Buildbarn__Buildqueuestate__ListPlatformQueuesResponse *r =
            buildbarn__buildqueuestate__list_platform_queues_response__unpack(NULL, len, resp);
        if (!r) {
            err = rev2_error_new(REV2_INTERNAL, "undecodable ListPlatformQueuesResponse (%zu bytes)", len);
        } else {
            queues = gmb_calloc(r->n_platform_queues + 1, sizeof *queues);
            for (size_t i = 0; i < r->n_platform_queues; i++) {
                const Buildbarn__Buildqueuestate__PlatformQueueState *q = r->platform_queues[i];
                rev2_platform_queue *out = &queues[n++];
                out->instance_name_prefix = gmb_strdup(q->name ? q->name->instance_name_prefix : "");
                out->platform = platform_text(q->name ? q->name->platform : NULL);
                out->queue_expiring = q->n_size_class_queues > 0;
                out->list_workers = gmb_calloc(q->n_size_class_queues + 1, sizeof *out->list_workers);
                out->list_workers_len = gmb_calloc(q->n_size_class_queues + 1, sizeof *out->list_workers_len);
                for (size_t k = 0; k < q->n_size_class_queues; k++) {
                    out->workers += q->size_class_queues[k]->workers_count;
                    out->queue_expiring &= q->size_class_queues[k]->timeout != NULL;
                    if (q->name) {
                        size_t w = out->n_list_workers++;
                        out->list_workers[w] = list_workers_request(q->name, q->size_class_queues[k]->size_class,
                                                                    &out->list_workers_len[w]);
                    }
                }
            }
            buildbarn__buildqueuestate__list_platform_queues_response__free_unpacked(r, NULL);
        }
    }
    l->cb(l->user, err, queues, n);
    free(l);
}

void rev2_list_platform_queues(rev2_client *scheduler, rev2_platform_queues_cb cb, void *user)
{
    list_call *l = gmb_malloc(sizeof *l);
    l->cb = cb;
    l->user = user;
    /* The request is a google.protobuf.Empty: no bytes. */
    rev2_unary(scheduler, "/buildbarn.buildqueuestate.BuildQueueState/ListPlatformQueues", gmb_malloc(1), 0, list_done,
               l);
}

void rev2_platform_queues_free(rev2_platform_queue *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(q[i].instance_name_prefix);
        free(q[i].platform);
        for (size_t k = 0; k < q[i].n_list_workers; k++)
            free(q[i].list_workers[k]);
        free(q[i].list_workers);
        free(q[i].list_workers_len);
    }
    free(q);
}

/* Whether queue prefix `prefix` serves instance name `instance`: equal,
 * or a leading run of its /-separated components ("" serves all). */
static size_t prefix_match(const char *prefix, const char *instance)
{
    size_t n = strlen(prefix);
    if (n == 0)
        return 1;
    if (strncmp(prefix, instance, n) != 0 || (instance[n] != '\0' && instance[n] != '/'))
        return 0;
    return n + 1;
}

static void poll_later(rev2_pool_health *h);
static void workers_round_start(rev2_pool_health *h, rev2_platform_queue *q, size_t n);

static void queues_listed(void *user, rev2_error *err, rev2_platform_queue *q, size_t n)
{
    rev2_pool_health *h = user;
    pthread_mutex_lock(&h->lock);
    bool was = h->reachable;
    h->reachable = err == NULL;
    if (err && was)
        GMB_WARN("pools",
                 "the scheduler's BuildQueueState stopped answering (%s); pool health now comes from Exec "
                 "answers only",
                 err->message);
    for (size_t i = 0; !err && i < n; i++)
        pool_of(h, q[i].instance_name_prefix); /* every pool the scheduler knows is listed */
    for (size_t p = 0; !err && p < h->n; p++) {
        pool *pl = &h->pools[p];
        size_t best = 0;
        int workers = 0;
        for (size_t i = 0; i < n; i++) {
            size_t m = prefix_match(q[i].instance_name_prefix, pl->instance);
            if (m > best) {
                best = m;
                workers = 0;
            }
            if (m && m == best)
                workers += (int)q[i].workers;
        }
        pl->workers = workers;
        if (workers == 0 && (!pl->known || pl->up)) {
            GMB_WARN("pools", "pool \"%s\" is down: the scheduler lists no worker for it", pl->instance);
            set_state(pl, false,
                      best ? "the scheduler lists no worker for it (all disappeared)"
                           : "the scheduler has no queue for this instance name (no worker ever came)");
            pl->down_by_scheduler = true;
            pl->down_for_silence = false;
            pl->last_probe_ms = rev2_now_ms();
        } else if (workers > 0 && pl->down_by_scheduler && !pl->down_for_silence) {
            GMB_INFO("pools", "pool \"%s\": the scheduler lists %d worker(s) again", pl->instance, workers);
            set_state(pl, true, NULL);
            pl->down_by_scheduler = false;
        }
    }
    pthread_mutex_unlock(&h->lock);
    if (err) {
        rev2_error_free(err);
        poll_later(h);
        return;
    }
    workers_round_start(h, q, n);
}

static void poll_now(void *arg, bool cancelled)
{
    rev2_pool_health *h = arg;
    pthread_mutex_lock(&h->lock);
    bool stop = cancelled || h->stopping;
    if (stop) {
        h->polling = false;
        pthread_cond_broadcast(&h->idle);
    }
    pthread_mutex_unlock(&h->lock);
    if (!stop)
        rev2_list_platform_queues(h->scheduler, queues_listed, h);
}

static void poll_later(rev2_pool_health *h)
{
    pthread_mutex_lock(&h->lock);
    bool stop = h->stopping;
    if (stop) {
        h->polling = false;
        pthread_cond_broadcast(&h->idle);
    }
    pthread_mutex_unlock(&h->lock);
    if (!stop)
        rev2_engine_after(rev2_client_engine(h->scheduler), h->poll_interval_ms, poll_now, h);
}

void rev2_pool_health_watch(rev2_pool_health *h, rev2_client *scheduler, int64_t interval_ms)
{
    pthread_mutex_lock(&h->lock);
    h->scheduler = scheduler;
    h->poll_interval_ms = interval_ms;
    h->polling = true;
    pthread_mutex_unlock(&h->lock);
    poll_now(h, false);
}

/* ---- ListWorkers: workers that stopped synchronizing ---- */

/* The pools whose every listed worker is silent are down; one that was
 * down for that comes back up once a worker talks again, or goes by the
 * scheduler's count once none of its workers is listed. Workers count for
 * a pool as in queues_listed: those of the longest queue prefix serving it. */
static void judge_silence(rev2_pool_health *h, int64_t now)
{
    size_t n = rev2_worker_table_count(h->workers);
    h->silent_busy = 0;
    for (size_t i = 0; i < n; i++) {
        const rev2_worker_entry *e = rev2_worker_table_at(h->workers, i);
        if (e->action_hash[0] && rev2_worker_silent(e, NULL))
            h->silent_busy++;
    }
    if (rev2_worker_table_overflowed(h->workers))
        return; /* a partial view: no pool is judged from it */
    for (size_t p = 0; p < h->n; p++) {
        pool *pl = &h->pools[p];
        size_t best = 0;
        for (size_t i = 0; i < n; i++) {
            size_t m = prefix_match(rev2_worker_table_at(h->workers, i)->prefix, pl->instance);
            best = m > best ? m : best;
        }
        int listed = 0, silent = 0;
        int64_t quiet = INT64_MAX;
        for (size_t i = 0; best && i < n; i++) {
            const rev2_worker_entry *e = rev2_worker_table_at(h->workers, i);
            int64_t for_ms;
            if (prefix_match(e->prefix, pl->instance) != best)
                continue;
            listed++;
            if (rev2_worker_silent(e, &for_ms)) {
                silent++;
                quiet = for_ms < quiet ? for_ms : quiet;
            }
        }
        pl->silent = silent;
        if (listed > 0 && silent == listed && !pl->down_for_silence && (!pl->known || pl->up)) {
            char why[256];
            snprintf(why, sizeof why,
                     "the scheduler has heard nothing from its %d worker%s for %lld s (killed, or cut off from it; "
                     "Buildbarn drops them only after a minute)",
                     listed, listed == 1 ? "" : "s", (long long)(quiet / 1000));
            GMB_WARN("pools", "pool \"%s\" is down: %s", pl->instance, why);
            set_state(pl, false, why);
            pl->down_by_scheduler = pl->down_for_silence = true;
            pl->last_probe_ms = now;
        } else if (pl->down_for_silence && listed == 0 && pl->workers == 0) {
            /* Buildbarn dropped them at last: the queue count's reason now. */
            set_state(pl, false, "the scheduler lists no worker for it (all disappeared)");
            pl->down_for_silence = false;
        } else if (pl->down_for_silence && (listed == 0 || silent < listed)) {
            /* A worker talks again, or none is listed (ListWorkers failed?) while the scheduler counts some. */
            GMB_INFO("pools", "pool \"%s\": %s", pl->instance,
                     listed ? "a worker synchronizes with the scheduler again"
                            : "its workers are no longer seen silent; up again");
            set_state(pl, true, NULL);
            pl->down_by_scheduler = pl->down_for_silence = false;
        }
    }
}

void rev2_pool_health_workers_round(rev2_pool_health *h, size_t n_queues, const char *const *prefixes,
                                    rev2_worker_seen *const *workers, const size_t *n_workers, int64_t now_ms)
{
    pthread_mutex_lock(&h->lock);
    rev2_worker_table_begin(h->workers);
    for (size_t q = 0; q < n_queues; q++)
        for (size_t i = 0; i < n_workers[q]; i++)
            rev2_worker_table_saw(h->workers, prefixes[q], &workers[q][i], now_ms);
    rev2_worker_table_end(h->workers);
    judge_silence(h, now_ms);
    pthread_mutex_unlock(&h->lock);
}

/* One round: ListWorkers for each size class queue of a poll's queues,
 * one after another (a few calls every poll interval), then applied at
 * once. A call that fails leaves its queue out of the round. */
typedef struct {
    rev2_pool_health *h;
    rev2_platform_queue *q;
    size_t n;
    size_t queue, size_class; /* the next call's */
    /* the answers so far: one entry per call answered */
    const char **prefixes;
    rev2_worker_seen **seen;
    size_t *n_seen;
    size_t answered;
} workers_round;

static void workers_round_next(workers_round *r);

static void workers_round_free(workers_round *r)
{
    for (size_t i = 0; i < r->answered; i++)
        rev2_workers_seen_free(r->seen[i], r->n_seen[i]);
    free(r->prefixes);
    free(r->seen);
    free(r->n_seen);
    rev2_platform_queues_free(r->q, r->n);
    free(r);
}

static void workers_listed(void *user, rev2_error *err, rev2_worker_seen *seen, size_t n)
{
    workers_round *r = user;
    rev2_pool_health *h = r->h;
    pthread_mutex_lock(&h->lock);
    if (err && !h->workers_unlisted)
        GMB_WARN("pools",
                 "the scheduler's ListWorkers failed (%s): until it answers, a worker that stops synchronizing is "
                 "noticed only when Buildbarn drops it, a minute later",
                 err->message);
    h->workers_unlisted = err != NULL;
    bool stop = h->stopping;
    pthread_mutex_unlock(&h->lock);
    if (err) {
        rev2_error_free(err);
        rev2_workers_seen_free(seen, n);
    } else {
        r->prefixes[r->answered] = r->q[r->queue].instance_name_prefix;
        r->seen[r->answered] = seen;
        r->n_seen[r->answered++] = n;
    }
    if (stop) {
        workers_round_free(r);
        poll_later(h);
        return;
    }
    workers_round_next(r);
}

static void workers_round_next(workers_round *r)
{
    while (r->queue < r->n && r->size_class >= r->q[r->queue].n_list_workers) {
        r->queue++;
        r->size_class = 0;
    }
    if (r->queue == r->n) { /* the round is whole */
        rev2_pool_health *h = r->h;
        rev2_pool_health_workers_round(h, r->answered, r->prefixes, r->seen, r->n_seen, rev2_now_ms());
        workers_round_free(r);
        poll_later(h);
        return;
    }
    rev2_platform_queue *pq = &r->q[r->queue];
    size_t k = r->size_class++;
    uint8_t *request = pq->list_workers[k];
    pq->list_workers[k] = NULL; /* taken by the call */
    rev2_list_workers(r->h->scheduler, request, pq->list_workers_len[k], workers_listed, r);
}

static void workers_round_start(rev2_pool_health *h, rev2_platform_queue *q, size_t n)
{
    workers_round *r = gmb_calloc(1, sizeof *r);
    r->h = h;
    r->q = q;
    r->n = n;
    size_t calls = 0;
    for (size_t i = 0; i < n; i++)
        calls += q[i].n_list_workers;
    r->prefixes = gmb_calloc(calls + 1, sizeof *r->prefixes);
    r->seen = gmb_calloc(calls + 1, sizeof *r->seen);
    r->n_seen = gmb_calloc(calls + 1, sizeof *r->n_seen);
    workers_round_next(r);
}

bool rev2_pool_health_action_lost(rev2_pool_health *h, const char *instance, const char *action_hash, char *why,
                                  size_t why_size)
{
    bool lost = false;
    pthread_mutex_lock(&h->lock);
    if (h->silent_busy > 0) { /* else nothing to look for: the common case, four times a second per action */
        int64_t quiet;
        size_t n = rev2_worker_table_count(h->workers);
        for (size_t i = 0; i < n && !lost; i++) {
            const rev2_worker_entry *e = rev2_worker_table_at(h->workers, i);
            if (strcmp(e->action_hash, action_hash) == 0 && prefix_match(e->prefix, instance) &&
                rev2_worker_silent(e, &quiet)) {
                lost = true;
                if (why)
                    snprintf(why, why_size,
                             "worker {%s} has not synchronized with the scheduler for %lld s: killed, or cut off "
                             "from it",
                             e->id, (long long)(quiet / 1000));
            }
        }
    }
    pthread_mutex_unlock(&h->lock);
    return lost;
}
