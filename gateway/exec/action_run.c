/* action_run: one execution's facts from an ExecuteResponse or an
 * ActionResult, and Buildbarn's errors in plain words (action_compare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_compare.h"
#include "errmsg.h"
#include "mem.h"

const char *action_phase_name(action_phase p)
{
    static const char *const names[ACTION_PHASE_COUNT] = {"queued", "input_fetch", "execution", "output_upload",
                                                          "total"};
    return p < ACTION_PHASE_COUNT ? names[p] : "?";
}

/* b - a in seconds; -1 when either timestamp is absent. */
static double span_s(const GpbTimestamp *a, const GpbTimestamp *b)
{
    if (!a || !b)
        return -1;
    double d = rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a);
    return d < 0 ? 0 : d;
}

static void stream_digest(const ProtobufCBinaryData *raw, const Rev2Digest *digest, rev2_digest *out)
{
    if (digest && rev2_digest_from_proto(digest, out))
        return;
    rev2_digest_of_bytes(raw->data ? raw->data : (const uint8_t *)"", raw->len, out);
}

static int output_by_path(const void *a, const void *b)
{
    return strcmp(((const action_output *)a)->path, ((const action_output *)b)->path);
}

static void add_symlinks(action_run *run, Rev2OutputSymlink *const *links, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(links[i]->path);
        o->kind = ACTION_OUTPUT_SYMLINK;
        o->target = gmb_strdup(links[i]->target);
    }
}

static void run_outputs(action_run *run, const Rev2ActionResult *r)
{
    size_t n = r->n_output_files + r->n_output_directories + r->n_output_symlinks + r->n_output_file_symlinks +
               r->n_output_directory_symlinks;
    run->outputs = gmb_calloc(n ? n : 1, sizeof *run->outputs);
    for (size_t i = 0; i < r->n_output_files; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(r->output_files[i]->path);
        o->kind = ACTION_OUTPUT_FILE;
        o->executable = r->output_files[i]->is_executable;
        stream_digest(&r->output_files[i]->contents, r->output_files[i]->digest, &o->digest);
    }
    for (size_t i = 0; i < r->n_output_directories; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(r->output_directories[i]->path);
        o->kind = ACTION_OUTPUT_DIRECTORY;
        if (r->output_directories[i]->tree_digest)
            rev2_digest_from_proto(r->output_directories[i]->tree_digest, &o->digest);
    }
    /* output_symlinks replaced the other two in REv2 2.1; servers may
     * still fill all three with the same links, so keep each path once. */
    add_symlinks(run, r->output_symlinks, r->n_output_symlinks);
    add_symlinks(run, r->output_file_symlinks, r->n_output_file_symlinks);
    add_symlinks(run, r->output_directory_symlinks, r->n_output_directory_symlinks);
    qsort(run->outputs, run->n_outputs, sizeof *run->outputs, output_by_path);
    size_t k = 0;
    for (size_t i = 0; i < run->n_outputs; i++) {
        if (k > 0 && strcmp(run->outputs[k - 1].path, run->outputs[i].path) == 0 &&
            run->outputs[k - 1].kind == run->outputs[i].kind && run->outputs[i].kind == ACTION_OUTPUT_SYMLINK) {
            free(run->outputs[i].path);
            free(run->outputs[i].target);
            continue;
        }
        run->outputs[k++] = run->outputs[i];
    }
    run->n_outputs = k;
}

static void run_phases(action_run *run, const Rev2ExecMetadata *m)
{
    for (int p = 0; p < ACTION_PHASE_COUNT; p++)
        run->phase_s[p] = -1;
    if (!m)
        return;
    run->phase_s[ACTION_PHASE_QUEUED] = span_s(m->queued_timestamp, m->worker_start_timestamp);
    run->phase_s[ACTION_PHASE_INPUT_FETCH] = span_s(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp);
    run->phase_s[ACTION_PHASE_EXECUTION] = span_s(m->execution_start_timestamp, m->execution_completed_timestamp);
    run->phase_s[ACTION_PHASE_OUTPUT_UPLOAD] =
        span_s(m->output_upload_start_timestamp, m->output_upload_completed_timestamp);
    run->phase_s[ACTION_PHASE_TOTAL] = span_s(m->queued_timestamp, m->output_upload_completed_timestamp);
}

void action_run_failed(action_run *run, const char *instance, int code, const char *message)
{
    memset(run, 0, sizeof *run);
    run->instance = gmb_strdup(instance ? instance : "");
    run->error = gmb_strdup(message && *message ? message : "failed (no reason given)");
    run->error_code = code ? code : REV2_UNKNOWN;
    run->worker = gmb_strdup("");
    for (int p = 0; p < ACTION_PHASE_COUNT; p++)
        run->phase_s[p] = -1;
}

void action_run_from_result(action_run *run, const char *instance, const Rev2ActionResult *r, bool cached)
{
    if (!r) {
        action_run_failed(run, instance, REV2_INTERNAL, "Buildbarn's answer carried no ActionResult");
        return;
    }
    memset(run, 0, sizeof *run);
    run->instance = gmb_strdup(instance ? instance : "");
    run->exit_code = r->exit_code;
    run->cached = cached;
    const Rev2ExecMetadata *m = r->execution_metadata;
    run->worker = gmb_strdup(m && m->worker ? m->worker : "");
    run_phases(run, m);
    run_outputs(run, r);
    stream_digest(&r->stdout_raw, r->stdout_digest, &run->stdout_digest);
    stream_digest(&r->stderr_raw, r->stderr_digest, &run->stderr_digest);
}

void action_run_from_execute(action_run *run, const char *instance, const rev2_error *err,
                             const Rev2ExecuteResponse *resp)
{
    if (err) {
        char *why = action_error_explain(err);
        action_run_failed(run, instance, err->code, why);
        free(why);
        return;
    }
    action_run_from_result(run, instance, resp ? resp->result : NULL, resp && resp->cached_result);
}

const action_output *action_run_output(const action_run *run, const char *path)
{
    action_output key = {.path = (char *)path};
    return bsearch(&key, run->outputs, run->n_outputs, sizeof *run->outputs, output_by_path);
}

void action_run_free(action_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n_outputs; i++) {
        free(run->outputs[i].path);
        free(run->outputs[i].target);
    }
    free(run->outputs);
    free(run->instance);
    free(run->error);
    free(run->worker);
    memset(run, 0, sizeof *run);
}

/* What a status code means to someone running actions. */
static const char *code_meaning(const rev2_error *e)
{
    if (rev2_error_is_no_workers(e))
        return "no worker serves this instance name with this platform (check the instance name and the platform "
               "properties)";
    if (rev2_error_is_queue_timeout(e))
        return "no worker of the pool took the action in time (are the pool's workers busy or gone?)";
    if (e->n_missing > 0)
        return "inputs of the action are missing from the CAS";
    switch (e->code) {
    case REV2_CANCELLED:
        return "cancelled";
    case REV2_UNKNOWN:
    case REV2_INTERNAL:
        return "the worker or Buildbarn failed while running the action";
    case REV2_INVALID_ARGUMENT:
        return "Buildbarn refused the request as invalid";
    case REV2_DEADLINE_EXCEEDED:
        return "no answer in time (the action ran too long, or Buildbarn is stuck)";
    case REV2_NOT_FOUND:
        return "not found";
    case REV2_PERMISSION_DENIED:
    case REV2_UNAUTHENTICATED:
        return "Buildbarn refused access (check the token or the certificates)";
    case REV2_RESOURCE_EXHAUSTED:
        return "Buildbarn or the worker ran out of resources";
    case REV2_FAILED_PRECONDITION:
        return "Buildbarn could not run the action";
    case REV2_UNAVAILABLE:
        return "Buildbarn is unreachable or overloaded";
    case REV2_DATA_LOSS:
        return "a blob arrived corrupt";
    case REV2_UNIMPLEMENTED:
        return "Buildbarn does not support this call";
    default:
        return "failed";
    }
}

char *action_error_explain(const rev2_error *e)
{
    if (!e)
        return gmb_strdup("no error");
    char extra[REV2_DIGEST_STR_LEN + 64] = "";
    if (e->n_missing > 0) {
        char ds[REV2_DIGEST_STR_LEN];
        snprintf(extra, sizeof extra, " (%zu blob%s, e.g. %s)", e->n_missing, e->n_missing == 1 ? "" : "s",
                 rev2_digest_str(&e->missing[0], ds));
    }
    return gmb_format("%s%s. Buildbarn said: %s (%s)", code_meaning(e), extra, e->message, rev2_code_name(e->code));
}
