#include "exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "mem.h"
#include "exec_result.h"
#include "goma_wire.h"
#include "worker_phases.h"

static double span_ms(const GpbTimestamp *a, const GpbTimestamp *b)
{
    return (a && b) ? (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0 : 0;
}

/* Publishes the request's state; terminal states also count in metrics. */
void exec_job_record(exec_job *j, const char *state, const char *error)
{
    exec_pipeline *p = j->p;
    request_entry *e = &j->entry;
    snprintf(e->state, sizeof e->state, "%s", state);
    e->fell_back = j->fell_back;
    if (error)
        snprintf(e->error, sizeof e->error, "%s", error);
    e->duration_ms = (double)(rev2_now_ms() - j->t0);
    if (p->log)
        request_log_put(p->log, e);
    bool ran = strcmp(state, "done") == 0 || strcmp(state, "failed") == 0;
    if (ran && *e->action)
        action_log_put(p->actions, j->instance, &j->action.action_digest, state);
    exec_activity_note(&p->activity, state, e->cache_hit, rev2_now_ms());
    if (!p->metrics || strcmp(state, "running") == 0)
        return;
    char series[128];
    snprintf(series, sizeof series, "gomabarn_exec_requests_total{outcome=\"%s\"}", state);
    metrics_add(p->metrics, series, 1);
    metrics_add(p->metrics, "gomabarn_exec_in_flight", -1);
    if (strcmp(state, "missing") == 0)
        metrics_add(p->metrics, "gomabarn_exec_missing_input_rounds_total", 1);
    if (e->cache_hit)
        metrics_add(p->metrics, "gomabarn_exec_cache_hits_total", 1);
    if (*e->reason) { /* fixed phrases: a bounded set of series */
        snprintf(series, sizeof series, GMB_EXEC_ERRORS_SERIES, e->reason);
        metrics_add(p->metrics, series, 1);
    }
    if (strcmp(state, "done") == 0 && p->mount_path)
        metrics_add(p->metrics, "gomabarn_exec_outputs_via_view_total", (int64_t)e->n_outputs);
    metrics_observe_exec(p->metrics, e->duration_ms / 1000.0);
}

void exec_job_free(exec_job *j)
{
    gmb_arena_free(j->exec_arena); /* j->exec's memory */
    exec_inputs_free(&j->inputs);
    for (size_t i = 0; j->outputs && j->outputs[i]; i++)
        free(j->outputs[i]);
    free(j->outputs);
    rev2_built_action_free(&j->action);
    rev2_msg_free(j->resp);
    rev2_error_free(j->err);
    free(j->instance);
    free(j->shadow);
    free(j);
}

/* Encodes an ExecResp with goma's groups and answers 200. */
void exec_respond(exec_job *j, DevtoolsGoma__ExecResp *resp)
{
    size_t n = devtools_goma__exec_resp__get_packed_size(resp);
    uint8_t *flat = gmb_malloc(n + 1);
    devtools_goma__exec_resp__pack(resp, flat);
    gmb_buf wire;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    /* Sized once: groups take about the bytes the messages did. */
    if (!gmb_buf_reserve(&wire, n + n / 8 + 64, NULL))
        gmb_out_of_memory(n);
    const char *why = NULL;
    if (goma_messages_to_groups(GOMA_MSG_EXEC_RESP, flat, n, &wire, &why) == 0) {
        http_respond(j->req, 200, "binary/x-protocol-buffer", wire.data, wire.len);
    } else { /* our own encoding refused: a bug, said here since nothing else reports it */
        GMB_ERROR("exec", "#%llu answered 500: cannot encode the ExecResp: %s", (unsigned long long)j->id, why);
        char *msg = gmb_format("gomabarn: cannot encode the ExecResp: %s\n", why);
        http_respond(j->req, 500, "text/plain; charset=utf-8", msg, strlen(msg));
        free(msg);
    }
    gmb_buf_free(&wire);
    free(flat);
}

/* An answer without a result: a message the goma client logs and shows. */
void exec_respond_error(exec_job *j, bool bad_request, const char *reason, const char *message)
{
    snprintf(j->entry.reason, sizeof j->entry.reason, "%s", reason);
    GMB_WARN("exec", "#%llu %s: %s", (unsigned long long)j->id, bad_request ? "bad request" : "failed", message);
    exec_job_record(j, bad_request ? "bad" : "failed", message);
    DevtoolsGoma__ExecResp resp = DEVTOOLS_GOMA__EXEC_RESP__INIT;
    char *msg = gmb_format("gomabarn: %s", message);
    char *msgs[1] = {msg};
    resp.n_error_message = 1;
    resp.error_message = msgs;
    if (bad_request) {
        resp.has_error = true;
        resp.error = DEVTOOLS_GOMA__EXEC_RESP__EXEC_ERROR__BAD_REQUEST;
    }
    exec_respond(j, &resp);
    free(msg);
}

/* The goma answer to a finished action; outputs must lie among the ones
 * the request expected. */
/* After the answer: the worker's phases into /metrics, and the shadow
 * handed over (exec_shadow_submit never waits). A hit costs nothing here
 * unless it is shadowed: its timings are an old execution's. */
static void observe_and_shadow(exec_job *j)
{
    exec_pipeline *p = j->p;
    if (!j->shadow && (j->resp->cached_result || !p->metrics))
        return;
    action_run run;
    action_run_from_execute(&run, j->instance, NULL, j->resp);
    worker_phases_observe(p->metrics, &run);
    /* A hit was looked up as the cacheable form, the Action the CAS holds. */
    const rev2_digest *ran = j->resp->cached_result ? &j->lookup_digest : &j->action.action_digest;
    if (j->shadow)
        exec_shadow_submit(p->shadow, ran, j->shadow, &run);
    action_run_free(&run);
}

static DevtoolsGoma__ExecResult *answer_of(exec_job *j, char **err)
{
    exec_pipeline *p = j->p;
    const DevtoolsGoma__ExecReq *x = j->exec;
    /* Read back under the Command's output paths; the answer names each
     * as the client declared it (an absolute one as written). */
    DevtoolsGoma__ExecResult *result =
        exec_result_from_rev2(p->files, p->store, j->instance, p->mount_path, j->resp->result,
                              (const char *const *)j->outputs, j->n_outputs, &p->output_limits, err);
    for (size_t k = 0; result && k < result->n_output; k++) {
        DevtoolsGoma__ExecResult__Output *o = result->output[k];
        for (size_t i = 0; i < j->n_outputs; i++) {
            const char *sent = j->outputs[i], *as_declared = exec_expected_output(x, i);
            size_t len = strlen(sent);
            /* A file, or one below a directory output. */
            if (strcmp(sent, as_declared) != 0 && strncmp(o->filename, sent, len) == 0 &&
                (o->filename[len] == '\0' || o->filename[len] == '/')) {
                char *named = gmb_format("%s%s", as_declared, o->filename + len);
                free(o->filename);
                o->filename = named;
                break;
            }
        }
    }
    return result;
}

void exec_finish(void *arg)
{
    exec_job *j = arg;
    exec_pipeline *p = j->p;
    if (j->err && exec_heal_missing(j))
        return; /* executing again */
    if (j->err) {
        rev2_error *e = j->err;
        bool no_workers = rev2_error_is_no_workers(e), queue_timeout = rev2_error_is_queue_timeout(e);
        bool worker_lost = rev2_error_is_worker_lost(e), disappeared = rev2_error_is_worker_disappeared(e);
        const char *why = no_workers      ? "Buildbarn says no worker serves it"
                          : queue_timeout ? "an action waited in its queue past exec.max_queued_s"
                          : disappeared   ? "Buildbarn says its worker disappeared while executing it"
                                          : "the worker executing it stopped synchronizing with the scheduler";
        /* A lost worker says nothing of its pool's other workers: the
         * scheduler watch marks the pool down when all of them are silent. */
        if (p->pools && (no_workers || queue_timeout))
            rev2_pool_health_down(p->pools, j->instance, why);
        if ((no_workers || queue_timeout || worker_lost || disappeared) && exec_try_fallback(j, why))
            return; /* executing on the fallback pool */
        if (disappeared && exec_try_again(j, why))
            return; /* executing once more on its pool */
        char *msg = gmb_format("Buildbarn (instance \"%s\"): %s%s", j->instance, e->message,
                               no_workers ? " (no worker pool serves this instance name with this platform: check the "
                                            "gateway's buildbarn.instance_name and platform settings)"
                                          : "");
        exec_respond_error(j, false,
                           no_workers      ? "no worker for the platform"
                           : queue_timeout ? "queued past exec.max_queued_s"
                           : worker_lost   ? "worker went silent"
                           : disappeared   ? "worker disappeared"
                                           : "Buildbarn error",
                           msg);
        free(msg);
        exec_job_free(j);
        return;
    }
    /* The answer's bytes wait their turn under exec.max_blob_memory_bytes;
     * not on the engine thread: there the job moves to the pool. */
    uint64_t held = exec_result_memory(j->resp->result);
    if (!gmb_budget_take(p->budget, held, j->on_engine ? 0 : BUDGET_WAIT_MS)) {
        if (j->on_engine) {
            j->on_engine = false;
            work_pool_run(p->pool, exec_finish, j);
            return;
        }
        exec_respond_error(j, false, "short of blob memory",
                           "the gateway is short of blob memory (exec.max_blob_memory_bytes) and waited 5 minutes; try "
                           "again");
        exec_job_free(j);
        return;
    }
    if (p->pools && !j->resp->cached_result) /* it ran: the pool has a working worker */
        rev2_pool_health_up(p->pools, j->instance);
    char *err = NULL;
    if (p->view) /* so by-instance/<instance>/<action>/ shows output/ at once */
        view_action_result(p->view, j->instance, &j->action.action_digest, j->resp->result);
    DevtoolsGoma__ExecResult *result = answer_of(j, &err);
    if (!result) {
        gmb_budget_give(p->budget, held);
        char action[REV2_DIGEST_STR_LEN];
        char *msg = gmb_format("Buildbarn's answer to action %s (instance \"%s\") cannot be used: %s",
                               rev2_digest_str(&j->action.action_digest, action), j->instance, err);
        exec_respond_error(j, false, "Buildbarn's result unusable", msg);
        free(msg);
        free(err);
        exec_job_free(j);
        return;
    }
    DevtoolsGoma__ExecResp resp = DEVTOOLS_GOMA__EXEC_RESP__INIT;
    resp.result = result;
    char key[REV2_DIGEST_STR_LEN];
    resp.cache_key = (char *)rev2_digest_str(&j->action.action_digest, key);
    if (j->resp->cached_result) {
        resp.has_cache_hit = true;
        resp.cache_hit = DEVTOOLS_GOMA__EXEC_RESP__CACHE_SOURCE__STORAGE_CACHE;
    }
    const Rev2ExecMetadata *m = j->resp->result->execution_metadata;
    request_entry *e = &j->entry;
    e->exit_code = result->exit_status;
    e->n_outputs = result->n_output;
    e->cache_hit = j->resp->cached_result;
    if (m) {
        snprintf(e->worker, sizeof e->worker, "%s", m->worker ? m->worker : "");
        e->queued_ms = span_ms(m->queued_timestamp, m->worker_start_timestamp);
        e->fetch_ms = span_ms(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp);
        e->execute_ms = span_ms(m->execution_start_timestamp, m->execution_completed_timestamp);
        e->upload_ms = span_ms(m->output_upload_start_timestamp, m->output_upload_completed_timestamp);
    }
    exec_job_record(j, "done", NULL);
    exec_respond(j, &resp);
    /* A hit at debug level: a build has thousands (exec_activity counts them). */
    gmb_log(j->resp->cached_result ? GMB_LOG_DEBUG : GMB_LOG_INFO, "exec",
            "#%llu instance \"%s\" exit %d, %zu outputs, %s, %lld ms", (unsigned long long)j->id, j->instance,
            result->exit_status, result->n_output, j->resp->cached_result ? "cache hit" : "executed",
            (long long)(rev2_now_ms() - j->t0));
    devtools_goma__exec_result__free_unpacked(result, NULL);
    gmb_budget_give(p->budget, held);
    observe_and_shadow(j);
    exec_job_free(j);
}

void exec_respond_missing(exec_job *j)
{
    DevtoolsGoma__ExecResp resp = DEVTOOLS_GOMA__EXEC_RESP__INIT;
    resp.n_missing_input = j->inputs.n_missing;
    resp.missing_input = j->inputs.missing;
    char **reasons = gmb_calloc(j->inputs.n_missing + 1, sizeof *reasons);
    for (size_t i = 0; i < j->inputs.n_missing; i++)
        reasons[i] = "not in gomabarn's file store; upload it";
    resp.n_missing_reason = j->inputs.n_missing;
    resp.missing_reason = reasons;
    GMB_INFO("exec", "#%llu %zu inputs missing (first: %s)", (unsigned long long)j->id, j->inputs.n_missing,
             j->inputs.missing[0]);
    j->entry.n_missing = j->inputs.n_missing;
    exec_job_record(j, "missing", NULL);
    exec_respond(j, &resp);
    free(reasons);
}
