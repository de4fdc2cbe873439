#include "exec_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "action_log.h"
#include "budget.h"
#include "errmsg.h"
#include "exec_inputs.h"
#include "exec_result.h"
#include "goma_wire.h"
#include "log.h"
#include "routing.h"
#include "rev2_action.h"
#include "rev2_blocking.h"
#include "rev2_pool_health.h"
#include "work_pool.h"
#include "mem.h"

struct exec_pipeline {
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    work_pool *pool;
    char *default_instance;
    gmb_routes routes;
    bool allow_header;                /* X-Gomabarn-Instance overrides the routing */
    gmb_strlist env_allow;            /* client variables an action gets */
    char *env_path;                   /* every action's PATH ("" none) */
    char *exec_root;                  /* fixed input root, or "" */
    rev2_output_limits output_limits; /* exec.max_outputs, exec.max_output_bytes */
    rev2_property platform[2];
    size_t n_platform;
    int64_t timeout_ms;
    metrics *metrics;
    request_log *log;
    gmb_view *view;          /* NULL: not mounted */
    char *mount_path;        /* the view's; NULL: outputs read in-process */
    gmb_budget *budget;      /* blob bytes in memory across requests */
    gmb_budget *own_budget;  /* when the caller gave none */
    rev2_pool_health *pools; /* NULL: not tracked */
    action_log *actions;     /* exec.action_log; NULL: none */
    int64_t max_queued_ms;   /* exec.max_queued_s */
};

/* How long an answer waits for blob memory before failing (retryable). */
#define BUDGET_WAIT_MS (5 * 60 * 1000)

typedef struct {
    exec_pipeline *p;
    http_request *req;
    uint64_t id;
    int64_t t0;
    char *instance;
    DevtoolsGoma__ExecReq *exec;
    exec_inputs inputs;
    rev2_built_action action;
    rev2_digest lookup_digest; /* the cacheable form of the action, for the action cache */
    Rev2ExecuteResponse *resp;
    rev2_error *err;
    bool healed;         /* MISSING blobs were re-uploaded once already */
    request_entry entry; /* what the status page shows */
} exec_job;

static double span_ms(const GpbTimestamp *a, const GpbTimestamp *b)
{
    return (a && b) ? (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0 : 0;
}

/* Publishes the request's state; terminal states also count in metrics. */
static void record(exec_job *j, const char *state, const char *error)
{
    exec_pipeline *p = j->p;
    request_entry *e = &j->entry;
    snprintf(e->state, sizeof e->state, "%s", state);
    if (error)
        snprintf(e->error, sizeof e->error, "%s", error);
    e->duration_ms = (double)(rev2_now_ms() - j->t0);
    if (p->log)
        request_log_put(p->log, e);
    bool ran = strcmp(state, "done") == 0 || strcmp(state, "failed") == 0;
    if (ran && *e->action)
        action_log_put(p->actions, j->instance, &j->action.action_digest, state);
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
    if (strcmp(state, "done") == 0 && p->mount_path)
        metrics_add(p->metrics, "gomabarn_exec_outputs_via_view_total", (int64_t)e->n_outputs);
    metrics_observe_exec(p->metrics, e->duration_ms / 1000.0);
}

static void job_free(exec_job *j)
{
    if (j->exec)
        devtools_goma__exec_req__free_unpacked(j->exec, NULL);
    exec_inputs_free(&j->inputs);
    rev2_built_action_free(&j->action);
    rev2_msg_free(j->resp);
    rev2_error_free(j->err);
    free(j->instance);
    free(j);
}

/* Encodes an ExecResp with goma's groups and answers 200. */
static void respond(exec_job *j, DevtoolsGoma__ExecResp *resp)
{
    size_t n = devtools_goma__exec_resp__get_packed_size(resp);
    uint8_t *flat = gmb_malloc(n + 1);
    devtools_goma__exec_resp__pack(resp, flat);
    gmb_buf wire;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    if (goma_messages_to_groups(GOMA_MSG_EXEC_RESP, flat, n, &wire, &why) == 0) {
        http_respond(j->req, 200, "binary/x-protocol-buffer", wire.data, wire.len);
    } else {
        char *msg = gmb_format("gomabarn: cannot encode the ExecResp: %s\n", why);
        http_respond(j->req, 500, "text/plain; charset=utf-8", msg, strlen(msg));
        free(msg);
    }
    gmb_buf_free(&wire);
    free(flat);
}

/* An answer without a result: a message the goma client logs and shows. */
static void respond_error(exec_job *j, bool bad_request, const char *message)
{
    GMB_WARN("exec", "#%llu %s: %s", (unsigned long long)j->id, bad_request ? "bad request" : "failed", message);
    record(j, bad_request ? "bad" : "failed", message);
    DevtoolsGoma__ExecResp resp = DEVTOOLS_GOMA__EXEC_RESP__INIT;
    char *msg = gmb_format("gomabarn: %s", message);
    char *msgs[1] = {msg};
    resp.n_error_message = 1;
    resp.error_message = msgs;
    if (bad_request) {
        resp.has_error = true;
        resp.error = DEVTOOLS_GOMA__EXEC_RESP__EXEC_ERROR__BAD_REQUEST;
    }
    respond(j, &resp);
    free(msg);
}

static bool heal_missing(exec_job *j);

/* The goma answer to a finished action; outputs must lie among the ones
 * the request expected. */
static DevtoolsGoma__ExecResult *answer_of(exec_job *j, char **err)
{
    exec_pipeline *p = j->p;
    const DevtoolsGoma__ExecReq *x = j->exec;
    size_t n = x->n_expected_output_files + x->n_expected_output_dirs;
    const char **declared = gmb_calloc(n + 1, sizeof *declared);
    for (size_t i = 0; i < n; i++)
        declared[i] = i < x->n_expected_output_files ? x->expected_output_files[i]
                                                     : x->expected_output_dirs[i - x->n_expected_output_files];
    DevtoolsGoma__ExecResult *result = exec_result_from_rev2(p->files, p->store, j->instance, p->mount_path,
                                                             j->resp->result, declared, n, &p->output_limits, err);
    free(declared);
    return result;
}

static void finish(void *arg)
{
    exec_job *j = arg;
    exec_pipeline *p = j->p;
    if (j->err && heal_missing(j))
        return; /* executing again */
    if (j->err) {
        rev2_error *e = j->err;
        if (p->pools && (rev2_error_is_no_workers(e) || rev2_error_is_queue_timeout(e)))
            rev2_pool_health_down(p->pools, j->instance,
                                  rev2_error_is_no_workers(e) ? "Buildbarn says no worker serves it"
                                                              : "an action waited in its queue past exec.max_queued_s");
        char *msg = gmb_format("Buildbarn (instance \"%s\"): %s%s", j->instance, e->message,
                               rev2_error_is_no_workers(e)
                                   ? " (no worker pool serves this instance name with this platform: check the "
                                     "gateway's buildbarn.instance_name and platform settings)"
                                   : "");
        respond_error(j, false, msg);
        free(msg);
        job_free(j);
        return;
    }
    if (p->pools && !j->resp->cached_result) /* it ran: the pool has a working worker */
        rev2_pool_health_up(p->pools, j->instance);
    char *err = NULL;
    if (p->view) /* so by-instance/<instance>/<action>/ shows output/ at once */
        view_action_result(p->view, j->instance, &j->action.action_digest, j->resp->result);
    /* The answer's bytes wait their turn under exec.max_blob_memory_bytes. */
    uint64_t held = exec_result_memory(j->resp->result);
    if (!gmb_budget_take(p->budget, held, BUDGET_WAIT_MS)) {
        respond_error(j, false,
                      "the gateway is short of blob memory (exec.max_blob_memory_bytes) and waited 5 minutes; try "
                      "again");
        job_free(j);
        return;
    }
    DevtoolsGoma__ExecResult *result = answer_of(j, &err);
    if (!result) {
        gmb_budget_give(p->budget, held);
        char action[REV2_DIGEST_STR_LEN];
        char *msg = gmb_format("Buildbarn's answer to action %s (instance \"%s\") cannot be used: %s",
                               rev2_digest_str(&j->action.action_digest, action), j->instance, err);
        respond_error(j, false, msg);
        free(msg);
        free(err);
        job_free(j);
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
    record(j, "done", NULL);
    respond(j, &resp);
    GMB_INFO("exec", "#%llu instance \"%s\" exit %d, %zu outputs, %s, %lld ms", (unsigned long long)j->id, j->instance,
             result->exit_status, result->n_output, j->resp->cached_result ? "cache hit" : "executed",
             (long long)(rev2_now_ms() - j->t0));
    devtools_goma__exec_result__free_unpacked(result, NULL);
    gmb_budget_give(p->budget, held);
    job_free(j);
}

/* Every blob the action needs (data owned by the job). n in *n, malloc'd. */
static rev2_blob *action_blobs(exec_job *j, size_t *n)
{
    const rev2_blob *dirs;
    size_t n_dirs = rev2_tree_directory_blobs(j->inputs.tree, &dirs);
    *n = j->inputs.n_blobs + n_dirs + 2;
    rev2_blob *blobs = gmb_calloc(*n, sizeof *blobs);
    memcpy(blobs, j->inputs.blobs, j->inputs.n_blobs * sizeof *blobs);
    memcpy(blobs + j->inputs.n_blobs, dirs, n_dirs * sizeof *blobs);
    rev2_action_blobs(&j->action, blobs + j->inputs.n_blobs + n_dirs);
    return blobs;
}

static void executed(void *user, rev2_error *err, Rev2ExecuteResponse *resp);

/* Input files go up from the content store's files, by path: a cache hit
 * reads none of their bytes and a miss streams only what Buildbarn lacks
 * (rev2_upload reads a file in chunks). The handles pin the files against
 * eviction until the upload is done. 0, or -1 with *err. */
static int pin_input_files(exec_job *j, rev2_blob *blobs, cas_blob **handles, char **err)
{
    for (size_t i = 0; i < j->inputs.n_blobs; i++) {
        int error = 0;
        handles[i] = cas_store_open_blob(j->p->store, NULL, &blobs[i].digest, &error);
        if (handles[i] && cas_blob_wait(handles[i]) == 0) {
            blobs[i].path = cas_blob_path(handles[i]);
            continue;
        }
        char ds[REV2_DIGEST_STR_LEN];
        gmb_fail(err, "input %s vanished from the content store", rev2_digest_str(&blobs[i].digest, ds));
        for (size_t k = 0; k <= i; k++)
            cas_blob_close(handles[k]);
        return -1;
    }
    if (j->p->metrics)
        metrics_add(j->p->metrics, "gomabarn_exec_input_files_opened_total", (int64_t)j->inputs.n_blobs);
    return 0;
}

static void unpin_input_files(cas_blob **handles, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cas_blob_close(handles[i]);
    free(handles);
}

/* Buildbarn lost blobs it had said it held (evicted between the upload
 * and the worker's input fetch): upload them again from what the job
 * holds and execute once more. false if this cannot help (already tried,
 * or a MISSING digest is none of ours). On a pool thread. */
static bool heal_missing(exec_job *j)
{
    rev2_error *e = j->err;
    if (j->healed || !e || e->n_missing == 0)
        return false;
    size_t n_all;
    rev2_blob *all = action_blobs(j, &n_all);
    cas_blob **pins = gmb_calloc(j->inputs.n_blobs + 1, sizeof *pins);
    char *why = NULL;
    if (pin_input_files(j, all, pins, &why) < 0) {
        GMB_WARN("exec", "#%llu cannot upload lost blobs again: %s", (unsigned long long)j->id, why);
        free(why);
        free(pins);
        free(all);
        return false;
    }
    rev2_blob *again = gmb_calloc(e->n_missing, sizeof *again);
    size_t n_again = 0;
    for (size_t m = 0; m < e->n_missing; m++) {
        size_t k = 0;
        while (k < n_all && !rev2_digest_equal(&all[k].digest, &e->missing[m]))
            k++;
        if (k == n_all) {
            char ds[REV2_DIGEST_STR_LEN];
            GMB_WARN("exec", "#%llu Buildbarn misses %s, which is not one of this action's blobs",
                     (unsigned long long)j->id, rev2_digest_str(&e->missing[m], ds));
            unpin_input_files(pins, j->inputs.n_blobs);
            free(all);
            free(again);
            return false;
        }
        again[n_again++] = all[k];
    }
    j->healed = true;
    GMB_WARN("exec", "#%llu Buildbarn lost %zu of the action's blobs (first %.16s...); uploading them again",
             (unsigned long long)j->id, n_again, again[0].digest.hash);
    rev2_error *up = rev2_upload_sync(j->p->client, j->instance, again, n_again);
    unpin_input_files(pins, j->inputs.n_blobs);
    free(all);
    free(again);
    if (up) {
        rev2_error_free(up);
        return false;
    }
    if (j->p->metrics)
        metrics_add(j->p->metrics, "gomabarn_exec_missing_blobs_healed_total", (int64_t)n_again);
    rev2_error_free(j->err);
    j->err = NULL;
    rev2_msg_free(j->resp);
    j->resp = NULL;
    rev2_execute_options eo = {.skip_cache_lookup = true, .max_queued_ms = j->p->max_queued_ms};
    rev2_execute(j->p->client, j->instance, &j->action.action_digest, &eo, NULL, executed, j);
    return true;
}

static void executed(void *user, rev2_error *err, Rev2ExecuteResponse *resp)
{
    exec_job *j = user;
    j->err = err;
    j->resp = resp;
    /* Fetching outputs blocks: not on an engine thread. */
    work_pool_run(j->p->pool, finish, j);
}

static void respond_missing(exec_job *j)
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
    record(j, "missing", NULL);
    respond(j, &resp);
    free(reasons);
}

/* The action, its Command and its input Directories go into the local
 * store next to the input files, so the view shows a running action
 * (input/ included) without asking Buildbarn. */
static void stage_in_store(exec_job *j)
{
    size_t n;
    rev2_blob *blobs = action_blobs(j, &n);
    /* Input files are in the store already (they came through goma_files). */
    for (size_t i = j->inputs.n_blobs; i < n; i++)
        if (cas_store_put(j->p->store, &blobs[i].digest, blobs[i].data, (size_t)blobs[i].digest.size) < 0)
            GMB_WARN("exec", "#%llu cannot stage %s in the local store", (unsigned long long)j->id,
                     blobs[i].digest.hash);
    free(blobs);
}

/* A miss: upload what Buildbarn lacks, then Execute. On a pool thread. */
static void upload_and_execute(void *arg)
{
    exec_job *j = arg;
    exec_pipeline *p = j->p;
    /* A pool known down: the client compiles locally now, not after a
     * queue timeout (cache hits were answered already; they need no worker). */
    char down[512];
    if (p->pools && rev2_pool_health_refuse(p->pools, j->instance, down, sizeof down)) {
        if (p->metrics)
            metrics_add(p->metrics, "gomabarn_exec_pool_down_answers_total", 1);
        char *msg = gmb_format("%s; answered at once (it is tried again every exec.pool_probe_interval_s)", down);
        respond_error(j, false, msg);
        free(msg);
        job_free(j);
        return;
    }
    if (p->view)
        stage_in_store(j);
    size_t n;
    rev2_blob *blobs = action_blobs(j, &n);
    cas_blob **pins = gmb_calloc(j->inputs.n_blobs + 1, sizeof *pins);
    char *why = NULL;
    if (pin_input_files(j, blobs, pins, &why) < 0) {
        free(pins);
        free(blobs);
        respond_error(j, false, why);
        free(why);
        job_free(j);
        return;
    }
    size_t uploaded = 0;
    rev2_error *e = rev2_upload_missing_sync(p->client, j->instance, blobs, n, &uploaded);
    unpin_input_files(pins, j->inputs.n_blobs);
    free(blobs);
    if (e) {
        char *msg = gmb_format("Buildbarn (instance \"%s\"): uploading inputs: %s", j->instance, e->message);
        rev2_error_free(e);
        respond_error(j, false, msg);
        free(msg);
        job_free(j);
        return;
    }
    GMB_INFO("exec", "#%llu action %s on \"%s\": %zu inputs (%zu system files left to the worker), %zu blobs uploaded",
             (unsigned long long)j->id, j->entry.action, j->instance, j->inputs.n_inputs, j->inputs.n_skipped,
             uploaded);
    /* The cache was asked already (or must not be). */
    rev2_execute_options eo = {.skip_cache_lookup = true, .max_queued_ms = j->p->max_queued_ms};
    rev2_execute(p->client, j->instance, &j->action.action_digest, &eo, NULL, executed, j);
}

/* The answer of the action cache (on an engine thread). */
static void cache_checked(void *user, rev2_error *err, Rev2ActionResult *result)
{
    exec_job *j = user;
    if (!err && result) {
        Rev2ExecuteResponse *resp = gmb_malloc(sizeof *resp);
        build__bazel__remote__execution__v2__execute_response__init(resp);
        resp->result = result;
        resp->cached_result = true;
        executed(j, NULL, resp);
        return;
    }
    if (err && err->code != REV2_NOT_FOUND)
        GMB_DEBUG("exec", "#%llu cache lookup failed (%s); executing", (unsigned long long)j->id, err->message);
    rev2_error_free(err);
    rev2_msg_free(result);
    work_pool_run(j->p->pool, upload_and_execute, j);
}

static bool env_allowed(const exec_pipeline *p, const char *name)
{
    if (strcmp(name, "PATH") == 0)
        return false;
    for (size_t i = 0; i < p->env_allow.n; i++) {
        const char *pat = p->env_allow.items[i];
        size_t n = strlen(pat);
        if (n && pat[n - 1] == '*' ? strncmp(pat, name, n - 1) == 0 : strcmp(pat, name) == 0)
            return true;
    }
    return false;
}

/* The instance name: the request header (when allowed), else the first
 * matching routing rule, else the default. */
static void route(exec_job *j)
{
    exec_pipeline *p = j->p;
    const DevtoolsGoma__ExecReq *x = j->exec;
    const char *header = p->allow_header ? http_request_header(j->req, "X-Gomabarn-Instance") : NULL;
    const char *chosen = p->default_instance, *why = "default";
    if (header) {
        chosen = header;
        why = "X-Gomabarn-Instance header";
    } else {
        const DevtoolsGoma__CommandSpec *cs = x->command_spec;
        const DevtoolsGoma__RequesterInfo *ri = x->requester_info;
        const gmb_route *r = gmb_routes_match(&p->routes, cs ? cs->name : NULL, cs ? cs->target : NULL,
                                              ri ? ri->dimensions : NULL, ri ? ri->n_dimensions : 0);
        if (r) {
            chosen = r->instance;
            why = r->text;
        }
    }
    free(j->instance);
    j->instance = gmb_strdup(chosen);
    snprintf(j->entry.instance, sizeof j->entry.instance, "%s", j->instance);
    GMB_DEBUG("exec", "#%llu instance \"%s\" (%s)", (unsigned long long)j->id, j->instance, why);
}

/* Decodes the body into j->exec; false (400 answered) if it is no ExecReq. */
static bool decode_exec_req(exec_job *j)
{
    size_t len;
    const uint8_t *body = http_request_body(j->req, &len);
    gmb_buf flat;
    gmb_buf_init(&flat, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    if (goma_groups_to_messages(GOMA_MSG_EXEC_REQ, body, len, &flat, &why) < 0 ||
        !(j->exec = devtools_goma__exec_req__unpack(NULL, flat.len, flat.data))) {
        char *msg = gmb_format("gomabarn: the Exec body is not an ExecReq (%s)\n", why ? why : "undecodable");
        record(j, "bad", msg);
        http_respond(j->req, 400, "text/plain; charset=utf-8", msg, strlen(msg));
        free(msg);
        gmb_buf_free(&flat);
        return false;
    }
    gmb_buf_free(&flat);
    return true;
}

/* The Command's environment: the client variables exec.env_allow lets
 * through (others would only split the action cache), and the configured
 * PATH (the client's names client directories). Splits x's NAME=VALUE
 * strings in place; the values point into them. */
static rev2_property *command_environment(exec_job *j, size_t *n_env)
{
    const exec_pipeline *p = j->p;
    DevtoolsGoma__ExecReq *x = j->exec;
    rev2_property *env = gmb_calloc(x->n_env + 3, sizeof *env);
    *n_env = 0;
    /* A relocated gcc's COMPILER_PATH (exec_inputs.h) goes after the
     * client's own, when exec.env_allow lets that through. */
    char **compiler_path = &j->inputs.compiler_path;
    for (size_t i = 0; i < x->n_env; i++) {
        char *eq = strchr(x->env[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (!env_allowed(p, x->env[i]))
            continue;
        if (*compiler_path && strcmp(x->env[i], "COMPILER_PATH") == 0) {
            char *joined = gmb_format("%s:%s", eq + 1, *compiler_path);
            free(*compiler_path);
            *compiler_path = joined;
        } else {
            env[(*n_env)++] = (rev2_property){x->env[i], eq + 1};
        }
    }
    if (*compiler_path)
        env[(*n_env)++] = (rev2_property){"COMPILER_PATH", *compiler_path};
    if (*p->env_path)
        env[(*n_env)++] = (rev2_property){"PATH", p->env_path};
    return env;
}

/* REv2 has one list of output paths, files and directories alike. NULL
 * (the error answered) if one is absolute. */
static const char **command_outputs(exec_job *j, size_t *n_out)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    *n_out = x->n_expected_output_files + x->n_expected_output_dirs;
    const char **outputs = gmb_calloc(*n_out + 1, sizeof *outputs);
    for (size_t i = 0; i < *n_out; i++) {
        outputs[i] = i < x->n_expected_output_files ? x->expected_output_files[i]
                                                    : x->expected_output_dirs[i - x->n_expected_output_files];
        if (outputs[i][0] == '/') {
            respond_error(j, true, "absolute expected output paths are not served yet");
            free(outputs);
            return NULL;
        }
    }
    return outputs;
}

/* The client's argv; a shipped toolchain runs from the tree: argv[0] names it there. */
static const char **command_arguments(const exec_job *j)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    const char **args = gmb_calloc(x->n_arg + 1, sizeof *args);
    for (size_t i = 0; i < x->n_arg; i++)
        args[i] = x->arg[i];
    if (j->inputs.argv0 && x->n_arg > 0)
        args[0] = j->inputs.argv0;
    return args;
}

/* Builds j->action and sets j->lookup_digest. LOOKUP_ONLY: use a cached
 * result, but do not store ours. The action run then carries do_not_cache
 * (so it has another digest); the cache is asked with the digest of its
 * cacheable twin. */
static int build_action(exec_job *j, rev2_action_spec *spec, char **err)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    int rc = rev2_action_build(spec, &j->action, err);
    j->lookup_digest = j->action.action_digest;
    if (rc == 0 && x->has_cache_policy && x->cache_policy == DEVTOOLS_GOMA__EXEC_REQ__CACHE_POLICY__LOOKUP_ONLY) {
        rev2_built_action_free(&j->action);
        spec->do_not_cache = true;
        rc = rev2_action_build(spec, &j->action, err);
    }
    return rc;
}

/* requests/<goma request id> leads to the action in the view. Its
 * Action, Command and Directories are read lazily: on a cache hit
 * Buildbarn has them (the view fetches what it shows), and a miss stages
 * them in the local store first (upload_and_execute), so a hit writes
 * nothing to disk. */
static void show_in_view(exec_job *j)
{
    exec_pipeline *p = j->p;
    char own_id[32];
    snprintf(own_id, sizeof own_id, "gomabarn-%llu", (unsigned long long)j->id);
    view_name_request(p->view, *j->entry.requester ? j->entry.requester : own_id, j->instance,
                      &j->action.action_digest);
}

static void prepare(void *arg)
{
    exec_job *j = arg;
    exec_pipeline *p = j->p;
    if (!decode_exec_req(j)) {
        job_free(j);
        return;
    }
    DevtoolsGoma__ExecReq *x = j->exec;
    if (x->requester_info && x->requester_info->compiler_proxy_id)
        snprintf(j->entry.requester, sizeof j->entry.requester, "%s", x->requester_info->compiler_proxy_id);
    route(j);
    char *err = NULL;
    if (exec_inputs_build(p->files, p->store, x, p->exec_root, &j->inputs, &err) < 0) {
        respond_error(j, true, err);
        free(err);
        job_free(j);
        return;
    }
    if (j->inputs.n_missing > 0) {
        respond_missing(j);
        job_free(j);
        return;
    }
    size_t n_env, n_out;
    rev2_property *env = command_environment(j, &n_env);
    const char **outputs = command_outputs(j, &n_out);
    if (!outputs) {
        free(env);
        job_free(j);
        return;
    }
    const char **args = command_arguments(j);
    rev2_action_spec spec = {
        .arguments = args,
        .n_arguments = x->n_arg,
        .environment = env,
        .n_environment = n_env,
        .output_paths = outputs,
        .n_output_paths = n_out,
        .working_directory = j->inputs.working_dir,
        .platform = p->platform,
        .n_platform = p->n_platform,
        .input_root = j->inputs.root,
        .timeout_ms = p->timeout_ms,
    };
    int rc = build_action(j, &spec, &err);
    free(outputs);
    free(env);
    free(args);
    if (rc < 0) {
        respond_error(j, true, err);
        free(err);
        job_free(j);
        return;
    }
    char ds[REV2_DIGEST_STR_LEN];
    snprintf(j->entry.action, sizeof j->entry.action, "%s", rev2_digest_str(&j->action.action_digest, ds));
    j->entry.n_inputs = j->inputs.n_inputs;
    if (p->view)
        show_in_view(j);
    record(j, "running", NULL);
    /* The action cache first: a hit needs no upload at all (one round
     * trip to Buildbarn instead of three). STORE_ONLY skips the lookup. */
    bool lookup = !(x->has_cache_policy && x->cache_policy == DEVTOOLS_GOMA__EXEC_REQ__CACHE_POLICY__STORE_ONLY);
    if (lookup)
        rev2_get_action_result(p->client, j->instance, &j->lookup_digest, false, cache_checked, j);
    else
        work_pool_run(p->pool, upload_and_execute, j);
}

static void on_exec(http_request *r, void *user)
{
    exec_pipeline *p = user;
    exec_job *j = gmb_calloc(1, sizeof *j);
    j->p = p;
    j->req = r;
    j->id = http_request_id(r);
    j->t0 = rev2_now_ms();
    j->instance = gmb_strdup(p->default_instance); /* until the request is read (route) */
    j->entry.id = j->id;
    j->entry.started = time(NULL);
    j->entry.exit_code = -1;
    snprintf(j->entry.user, sizeof j->entry.user, "%s", http_request_user(r));
    snprintf(j->entry.instance, sizeof j->entry.instance, "%s", j->instance);
    if (p->metrics)
        metrics_add(p->metrics, "gomabarn_exec_in_flight", 1);
    record(j, "running", NULL);
    work_pool_run(p->pool, prepare, j);
}

exec_pipeline *exec_pipeline_new(const exec_pipeline_parts *parts)
{
    const gmb_config *cfg = parts->cfg;
    gmb_view *view = parts->view;
    exec_pipeline *p = gmb_calloc(1, sizeof *p);
    p->client = parts->client;
    p->store = parts->store;
    p->files = parts->files;
    p->pool = work_pool_new(parts->threads);
    p->pools = parts->pools;
    p->max_queued_ms = cfg->exec_max_queued_s * 1000;
    p->actions = action_log_open(cfg->exec_action_log);
    p->default_instance = gmb_strdup(cfg->bb_instance_name);
    if (*cfg->platform_os_family)
        p->platform[p->n_platform++] = (rev2_property){gmb_strdup("OSFamily"), gmb_strdup(cfg->platform_os_family)};
    if (*cfg->platform_container_image)
        p->platform[p->n_platform++] =
            (rev2_property){gmb_strdup("container-image"), gmb_strdup(cfg->platform_container_image)};
    p->timeout_ms = cfg->exec_timeout_s * 1000;
    char *why = NULL;
    if (gmb_routes_parse(&cfg->routing_rules, &p->routes, &why) < 0) {
        /* gmb_config_validate checked them already. */
        GMB_ERROR("exec", "%s", why);
        free(why);
    }
    p->allow_header = cfg->routing_allow_header;
    for (size_t i = 0; i < cfg->exec_env_allow.n; i++) {
        p->env_allow.items = gmb_realloc(p->env_allow.items, (i + 1) * sizeof *p->env_allow.items);
        p->env_allow.items[p->env_allow.n++] = gmb_strdup(cfg->exec_env_allow.items[i]);
    }
    p->env_path = gmb_strdup(cfg->exec_path);
    p->exec_root = gmb_strdup(cfg->exec_root);
    p->output_limits.max_outputs = (size_t)cfg->exec_max_outputs;
    p->output_limits.max_bytes = (uint64_t)cfg->exec_max_output_bytes;
    p->metrics = parts->metrics;
    p->log = parts->log;
    p->view = view;
    p->mount_path = view ? gmb_strdup(view_mountpoint(view)) : NULL;
    /* Without one (tools, tests): an uncapped budget, figures only. */
    p->budget = parts->budget ? parts->budget : (p->own_budget = gmb_budget_new(0));
    return p;
}

void exec_pipeline_routes(exec_pipeline *p, http_server *http, const char *prefix)
{
    char *path = gmb_format("%s/e", prefix);
    http_server_route(http, path, "POST", false, on_exec, p);
    free(path);
}

void exec_pipeline_free(exec_pipeline *p)
{
    if (!p)
        return;
    work_pool_free(p->pool);
    for (size_t i = 0; i < p->n_platform; i++) {
        free((char *)p->platform[i].name);
        free((char *)p->platform[i].value);
    }
    free(p->default_instance);
    gmb_routes_free(&p->routes);
    for (size_t i = 0; i < p->env_allow.n; i++)
        free(p->env_allow.items[i]);
    free(p->env_allow.items);
    free(p->env_path);
    free(p->exec_root);
    free(p->mount_path);
    gmb_budget_free(p->own_budget);
    action_log_close(p->actions);
    free(p);
}
