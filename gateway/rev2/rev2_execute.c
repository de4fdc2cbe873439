/* rev2_execute: GetActionResult, and Execute followed to the end,
 * reattaching with WaitExecution when the stream breaks. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "rev2_client_internal.h"
#include "rev2_exec_stream.h"
#include "rev2_known_blobs.h"
#include "rev2_pool_health.h"
#include "rev2_retry.h"
#include "rev2_rpc.h"
#include "rev2_unary.h"
#include "mem.h"

/* ---- GetActionResult ---- */

typedef struct {
    rev2_action_result_cb cb;
    void *user;
} gar_call;

static void gar_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    gar_call *g = user;
    Rev2ActionResult *result = NULL;
    if (!err) {
        result = build__bazel__remote__execution__v2__action_result__unpack(NULL, len, resp);
        if (!result)
            err = rev2_error_new(REV2_INTERNAL, "undecodable ActionResult (%zu bytes)", len);
    }
    g->cb(g->user, err, result);
    free(g);
}

void rev2_get_action_result(rev2_client *c, const char *instance, const rev2_digest *action, bool inline_outputs,
                            rev2_action_result_cb cb, void *user)
{
    Rev2GetActionResultRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_ACTION_RESULT_REQUEST__INIT;
    Rev2Digest d;
    rev2_digest_to_proto(action, &d);
    req.instance_name = (char *)rev2_client_instance(c, instance);
    req.action_digest = &d;
    req.inline_stdout = inline_outputs;
    req.inline_stderr = inline_outputs;
    req.digest_function = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    gar_call *g = gmb_malloc(sizeof *g);
    g->cb = cb;
    g->user = user;
    rev2_unary(c, REV2_METHOD_AC "GetActionResult", bytes, len, gar_done, g);
}

/* ---- Execute ---- */

typedef struct {
    rev2_client *client;
    char *instance;
    rev2_digest action;
    rev2_execute_options opts;
    rev2_progress_cb progress;
    rev2_execute_cb cb;
    void *user;

    int attempt;
    bool waiting;        /* this attempt is a WaitExecution */
    rev2_exec_stream st; /* what the stream has said */
    /* The queue watch (opts.max_queued_ms): since when the action waits
     * QUEUED (0: it does not; read by the engine's sweep too), and whether
     * the sweep ended the call (exec_give_up: queued too long, or its pool
     * was marked down). */
    _Atomic int64_t queued_since_ms;
    _Atomic bool queue_watch_fired;
    /* The sweep ended the call because the worker executing the action
     * stopped synchronizing with the scheduler (rev2_pool_health_action_lost). */
    _Atomic bool worker_lost;
    int64_t submitted_ms; /* the first Execute: a pool marked down later gives this action up */
    /* The silence watch (opts.max_silent_ms): when Buildbarn last said
     * anything; whether this call's deadline is the watch's; calls in a
     * row that heard nothing. */
    int64_t heard_ms;
    bool deadline_is_silence;
    int silent_calls;
} exec_op;

#define STAGE_QUEUED BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTION_STAGE__VALUE__QUEUED
#define STAGE_EXECUTING BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTION_STAGE__VALUE__EXECUTING

static void exec_attempt(exec_op *x);

static bool exec_next_request(void *user, gmb_buf *out, bool *last, char **why)
{
    exec_op *x = user;
    size_t len;
    uint8_t *bytes;
    if (x->waiting) {
        Rev2WaitExecutionRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__WAIT_EXECUTION_REQUEST__INIT;
        req.name = x->st.operation_name;
        bytes = REV2_PACK(&req, &len);
    } else {
        Rev2ExecuteRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTE_REQUEST__INIT;
        Rev2Digest d;
        rev2_digest_to_proto(&x->action, &d);
        Build__Bazel__Remote__Execution__V2__ExecutionPolicy policy =
            BUILD__BAZEL__REMOTE__EXECUTION__V2__EXECUTION_POLICY__INIT;
        policy.priority = x->opts.priority;
        req.instance_name = x->instance;
        req.action_digest = &d;
        req.skip_cache_lookup = x->opts.skip_cache_lookup;
        req.execution_policy = x->opts.priority ? &policy : NULL;
        req.digest_function = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
        bytes = REV2_PACK(&req, &len);
    }
    gmb_buf_result put = gmb_buf_append(out, bytes, len);
    free(bytes);
    *last = true;
    if (put != GMB_BUF_OK) {
        *why = gmb_format("request of %zu bytes is larger than a call may send", len);
        return false;
    }
    return true;
}

static bool exec_on_message(void *user, const uint8_t *data, size_t len)
{
    exec_op *x = user;
    x->heard_ms = rev2_now_ms();
    x->silent_calls = 0;
    int before = x->st.stage;
    if (!rev2_exec_stream_feed(&x->st, data, len))
        return true;
    if (x->progress)
        x->progress(x->user, x->st.stage, x->st.operation_name);
    if (x->st.stage == STAGE_EXECUTING)
        x->queued_since_ms = 0;
    if (before == STAGE_EXECUTING && x->st.stage == STAGE_QUEUED) {
        /* The scheduler stopped hearing from the worker and queued the
         * action again (Buildbarn's own retry): the queue watch restarts. */
        char ds[REV2_DIGEST_STR_LEN];
        GMB_WARN("rev2", "action %s on instance \"%s\": its worker disappeared; Buildbarn queued it again",
                 rev2_digest_str(&x->action, ds), x->instance);
        REV2_STAT_ADD(x->client, requeued, 1);
        x->queued_since_ms = rev2_now_ms(); /* the queue watch starts over */
    }
    return true;
}

static void exec_finish(exec_op *x, rev2_error *err)
{
    /* Blobs Buildbarn says it lacks are no longer known present, so the
     * caller's next upload_missing sends them. */
    for (size_t i = 0; err && i < err->n_missing; i++)
        rev2_known_blobs_forget(rev2_client_known(x->client), x->instance, &err->missing[i]);
    char ds[REV2_DIGEST_STR_LEN];
    if (err)
        rev2_error_prefix(err, "executing action %s on instance \"%s\"", rev2_digest_str(&x->action, ds), x->instance);
    Rev2ExecuteResponse *resp = x->st.response; /* the callback owns it */
    x->st.response = NULL;
    x->cb(x->user, err, resp);
    rev2_exec_stream_clear(&x->st);
    free(x->instance);
    free(x);
}

static void exec_retry_timer(void *arg, bool cancelled)
{
    exec_op *x = arg;
    if (cancelled)
        exec_finish(x, rev2_error_new(REV2_CANCELLED, "shutting down while reconnecting"));
    else
        exec_attempt(x);
}

/* A watch ended the call on purpose: go on with the operation we know
 * (WaitExecution), or submit again if none was named yet (the scheduler
 * deduplicates). Returns true, for the watches' callers. */
static bool watch_again(exec_op *x, rev2_error **err)
{
    rev2_error_free(*err);
    *err = NULL;
    x->waiting = x->st.operation_name != NULL;
    exec_attempt(x);
    return true;
}

/* Whether the queue watch ended this call, and what follows: true when
 * handled (reattached, or finished with the queue timeout). */
static bool queue_watch_ended(exec_op *x, rev2_error **err)
{
    if (!atomic_exchange(&x->queue_watch_fired, false))
        return false;
    if (x->queued_since_ms == 0 && x->st.operation_name) /* a worker took it meanwhile */
        return watch_again(x, err);
    int64_t waited = rev2_now_ms() - x->queued_since_ms;
    char down[512];
    bool pool_down =
        x->opts.pools && rev2_pool_health_down_since(x->opts.pools, x->instance, x->submitted_ms, down, sizeof down);
    if (waited < x->opts.max_queued_ms && !pool_down) /* a check, not the end: wait on */
        return watch_again(x, err);
    rev2_error_free(*err);
    REV2_STAT_ADD(x->client, queue_timeouts, 1);
    /* No waiter left: the scheduler drops the operation within a minute. */
    exec_finish(x, rev2_error_new(REV2_UNAVAILABLE,
                                  "queued for %lld s and no worker of the pool took it (%s; exec.max_queued_s)",
                                  (long long)(waited / 1000),
                                  pool_down ? down : "the pool has no free worker, or its workers disappeared"));
    return true;
}

/* Whether the sweep ended this call because the action's worker went
 * silent: true when handled. Buildbarn would notice only when it drops the
 * worker a minute later, and a second Execute of the action would join the
 * same task on the same dead worker: the action ends here, with an error
 * the caller may run on a fallback pool or leave to the client. */
static bool worker_watch_ended(exec_op *x, rev2_error **err)
{
    if (!atomic_exchange(&x->worker_lost, false))
        return false;
    char why[512];
    if (!rev2_pool_health_action_lost(x->opts.pools, x->instance, x->action.hash, why, sizeof why))
        return watch_again(x, err); /* it spoke again meanwhile */
    rev2_error_free(*err);
    REV2_STAT_ADD(x->client, workers_lost, 1);
    char ds[REV2_DIGEST_STR_LEN];
    GMB_WARN("rev2", "action %s on instance \"%s\": %s; given up", rev2_digest_str(&x->action, ds), x->instance, why);
    exec_finish(x, rev2_error_new(REV2_UNAVAILABLE, "the worker executing it was lost (%s)", why));
    return true;
}

/* Whether the silence watch ended this call: true when handled. A call
 * that heard something, or the first one that heard nothing, is followed
 * by a WaitExecution (Buildbarn updates a running operation at least once
 * a minute); a second silent one ends the action: the connection or the
 * scheduler is stuck, and the client is better off compiling itself. */
static bool silence_watch_ended(exec_op *x, rev2_error **err)
{
    if (!x->deadline_is_silence || !*err || (*err)->code != REV2_DEADLINE_EXCEEDED)
        return false;
    int64_t silent = rev2_now_ms() - x->heard_ms;
    if (silent < x->opts.max_silent_ms || x->silent_calls++ == 0)
        return watch_again(x, err);
    rev2_error_free(*err);
    char ds[REV2_DIGEST_STR_LEN];
    GMB_WARN("rev2", "action %s on instance \"%s\": no word from Buildbarn for %lld s; given up",
             rev2_digest_str(&x->action, ds), x->instance, (long long)(silent / 1000));
    exec_finish(x, rev2_error_new(REV2_UNAVAILABLE,
                                  "no word from Buildbarn about the action for %lld s: its Execute stream went "
                                  "silent twice (exec.max_silent_s)",
                                  (long long)(silent / 1000)));
    return true;
}

static void exec_on_done(void *user, rev2_error *err)
{
    exec_op *x = user;
    if (x->st.done) {
        /* The outcome is known; how the stream then ended does not matter. */
        rev2_error_free(err);
        exec_finish(x, rev2_exec_stream_outcome(&x->st));
        return;
    }
    if (worker_watch_ended(x, &err) || queue_watch_ended(x, &err) || silence_watch_ended(x, &err))
        return;
    /* The stream ended early: reattach to the operation if we know it,
     * otherwise submit again (the scheduler deduplicates). */
    if (!err)
        err = rev2_error_new(REV2_UNAVAILABLE, "stream ended before the operation finished");
    /* NOT_FOUND from WaitExecution: the operation was dropped; resubmit.
     * The next attempt's state is set before it is scheduled: a zero pause
     * may start it on the timer thread at once. */
    bool lost = x->waiting && err->code == REV2_NOT_FOUND;
    bool reattach = !lost && x->st.operation_name != NULL;
    x->waiting = reattach;
    if (lost) {
        free(x->st.operation_name);
        x->st.operation_name = NULL;
    }
    if (rev2_retry_later(x->client, err, rev2_code_is_retryable(err->code) || lost, lost, &x->attempt, "Execute stream",
                         reattach ? "reattaching with WaitExecution" : "submitting again", exec_retry_timer, x))
        return;
    exec_finish(x, err);
}

/* The queue watch, asked by the engine's sweep four times a second while
 * the call is in flight: an action QUEUED past opts.max_queued_ms, or on a
 * pool marked down since it was submitted, will not be taken; the call
 * ends and queue_watch_ended gives the action up. The stream itself stays
 * open while the action waits. (Before, a queued call's deadline ended it
 * every second to look, and it reattached: a WaitExecution and a gRPC
 * timer per queued action per second.) */
static bool exec_give_up(void *user)
{
    exec_op *x = user;
    int64_t since = atomic_load(&x->queued_since_ms);
    if (since == 0 && x->opts.pools &&
        rev2_pool_health_action_lost(x->opts.pools, x->instance, x->action.hash, NULL, 0)) {
        atomic_store(&x->worker_lost, true);
        return true;
    }
    if (since == 0 || x->opts.max_queued_ms <= 0)
        return false;
    if (rev2_now_ms() - since < x->opts.max_queued_ms &&
        !(x->opts.pools && rev2_pool_health_down_since(x->opts.pools, x->instance, x->submitted_ms, NULL, 0)))
        return false;
    atomic_store(&x->queue_watch_fired, true);
    return true;
}

static const rev2_rpc_handlers exec_handlers = {
    .next_request = exec_next_request,
    .on_message = exec_on_message,
    .on_done = exec_on_done,
    .give_up = exec_give_up,
};

static void exec_attempt(exec_op *x)
{
    REV2_STAT_ADD(x->client, calls, 1);
    if (x->waiting)
        REV2_STAT_ADD(x->client, reattaches, 1);
    /* While the action may be waiting in the queue, the queue watch
     * (exec_give_up) is on; the deadline stays the silence watch's. */
    int64_t timeout = rev2_client_options_of(x->client)->execute_timeout_ms;
    if (x->opts.max_queued_ms > 0 && x->st.stage != STAGE_EXECUTING && x->queued_since_ms == 0)
        x->queued_since_ms = rev2_now_ms();
    x->deadline_is_silence = false;
    if (x->opts.max_silent_ms > 0 && x->opts.max_silent_ms < timeout) {
        timeout = x->opts.max_silent_ms;
        x->deadline_is_silence = true;
    }
    rev2_rpc_start(rev2_client_channel(x->client),
                   x->waiting ? REV2_METHOD_EXEC "WaitExecution" : REV2_METHOD_EXEC "Execute", timeout, &exec_handlers,
                   x);
}

/* Buildbarn's Execute never consults the action cache (it only merges
 * identical actions in flight), so the REv2 cache check happens here: a
 * hit is answered as Execute would, with cached_result set. */
static void cache_checked(void *user, rev2_error *err, Rev2ActionResult *result)
{
    exec_op *x = user;
    if (!err && result) {
        Rev2ExecuteResponse *resp = gmb_malloc(sizeof *resp);
        build__bazel__remote__execution__v2__execute_response__init(resp);
        resp->result = result; /* freed with resp */
        resp->cached_result = true;
        x->cb(x->user, NULL, resp);
        rev2_exec_stream_clear(&x->st);
        free(x->instance);
        free(x);
        return;
    }
    if (err && err->code != REV2_NOT_FOUND)
        GMB_DEBUG("rev2", "cache check failed (%s: %s); executing", rev2_code_name(err->code), err->message);
    rev2_error_free(err);
    rev2_msg_free(result);
    exec_attempt(x);
}

void rev2_execute(rev2_client *c, const char *instance, const rev2_digest *action, const rev2_execute_options *opts,
                  rev2_progress_cb progress, rev2_execute_cb cb, void *user)
{
    exec_op *x = gmb_calloc(1, sizeof *x);
    x->client = c;
    x->instance = gmb_strdup(rev2_client_instance(c, instance));
    x->action = *action;
    if (opts)
        x->opts = *opts;
    x->progress = progress;
    x->cb = cb;
    x->user = user;
    x->attempt = 1;
    x->submitted_ms = x->heard_ms = rev2_now_ms();
    rev2_exec_stream_init(&x->st);
    REV2_STAT_ADD(c, executes, 1);
    if (x->opts.skip_cache_lookup)
        exec_attempt(x);
    else
        rev2_get_action_result(c, x->instance, action, false, cache_checked, x);
}
