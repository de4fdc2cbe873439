#include "exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "mem.h"
#include "rev2_blocking.h"

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

/* Executes the job's action with the pipeline's watches; the cache was
 * asked already (or must not be). */
static void execute(exec_job *j)
{
    exec_pipeline *p = j->p;
    rev2_execute_options eo = {.skip_cache_lookup = true,
                               .max_queued_ms = p->max_queued_ms,
                               .pools = p->pools,
                               .max_silent_ms = p->max_silent_ms};
    rev2_execute(p->client, j->instance, &j->action.action_digest, &eo, NULL, exec_executed, j);
}

/* Why healing did not help, added to the error the Exec is answered with
 * (and logged once, there). Takes `why`. false. */
static bool not_healed(exec_job *j, char *why)
{
    char *m = gmb_format("%s (not healed: %s)", j->err->message, why);
    free(j->err->message);
    j->err->message = m;
    free(why);
    return false;
}

/* Buildbarn lost blobs it had said it held (evicted between the upload
 * and the worker's input fetch): upload them again from what the job
 * holds and execute once more. false if this cannot help (already tried,
 * a MISSING digest is none of ours, the upload failed), with the reason
 * in j->err. On a pool thread. */
bool exec_heal_missing(exec_job *j)
{
    rev2_error *e = j->err;
    if (j->healed || !e || e->n_missing == 0)
        return false;
    size_t n_all;
    rev2_blob *all = action_blobs(j, &n_all);
    /* Every lost digest must be one of ours, before any file is opened. */
    size_t *which = gmb_calloc(e->n_missing, sizeof *which);
    for (size_t m = 0; m < e->n_missing; m++) {
        size_t k = 0;
        while (k < n_all && !rev2_digest_equal(&all[k].digest, &e->missing[m]))
            k++;
        if (k == n_all) {
            char ds[REV2_DIGEST_STR_LEN];
            free(all);
            free(which);
            return not_healed(j, gmb_format("Buildbarn misses %s, which is not one of this action's blobs",
                                            rev2_digest_str(&e->missing[m], ds)));
        }
        which[m] = k;
    }
    cas_blob **pins = gmb_calloc(j->inputs.n_blobs + 1, sizeof *pins);
    char *why = NULL;
    if (pin_input_files(j, all, pins, &why) < 0) {
        free(pins);
        free(all);
        free(which);
        char *msg = gmb_format("cannot upload the lost blobs again: %s", why);
        free(why);
        return not_healed(j, msg);
    }
    size_t n_again = e->n_missing;
    rev2_blob *again = gmb_calloc(n_again, sizeof *again);
    for (size_t m = 0; m < n_again; m++)
        again[m] = all[which[m]]; /* after pinning: input files carry their path */
    free(which);
    j->healed = true;
    GMB_WARN("exec", "#%llu Buildbarn lost %zu of the action's blobs (first %.16s...); uploading them again",
             (unsigned long long)j->id, n_again, again[0].digest.hash);
    rev2_error *up = rev2_upload_sync(j->p->client, j->instance, again, n_again);
    unpin_input_files(pins, j->inputs.n_blobs);
    free(all);
    free(again);
    if (up) {
        char *msg = gmb_format("uploading the %zu lost blobs again: %s", n_again, up->message);
        rev2_error_free(up);
        return not_healed(j, msg);
    }
    if (j->p->metrics)
        metrics_add(j->p->metrics, "gomabarn_exec_missing_blobs_healed_total", (int64_t)n_again);
    rev2_error_free(j->err);
    j->err = NULL;
    rev2_msg_free(j->resp);
    j->resp = NULL;
    execute(j);
    return true;
}

void exec_executed(void *user, rev2_error *err, Rev2ExecuteResponse *resp)
{
    exec_job *j = user;
    j->err = err;
    j->resp = resp;
    /* Fetching outputs blocks: not on an engine thread. */
    work_pool_run(j->p->pool, exec_finish, j);
}

/* The action, its Command and its input Directories go into the local
 * store next to the input files, so the view shows a running action
 * (input/ included) without asking Buildbarn. Only a convenience: a blob
 * not staged is fetched from Buildbarn when the view reads it, so a
 * failure is said once and the Exec goes on. */
static void stage_in_store(exec_job *j, const rev2_blob *blobs, size_t n)
{
    size_t failed = 0;
    int first = 0;
    /* Input files are in the store already (they came through goma_files). */
    for (size_t i = j->inputs.n_blobs; i < n; i++) {
        int rc = cas_store_put(j->p->store, &blobs[i].digest, blobs[i].data, (size_t)blobs[i].digest.size);
        if (rc < 0 && failed++ == 0)
            first = rc;
    }
    if (failed)
        GMB_WARN("exec",
                 "#%llu %zu of the action's %zu blobs not staged in the local store (%s); the view fetches them "
                 "from Buildbarn",
                 (unsigned long long)j->id, failed, n - j->inputs.n_blobs, cas_error_words(first));
}

/* A miss: upload what Buildbarn lacks, then Execute. On a pool thread. */
void exec_upload_and_execute(void *arg)
{
    exec_job *j = arg;
    exec_pipeline *p = j->p;
    /* A pool known down: the client compiles locally now, not after a
     * queue timeout (cache hits were answered already; they need no worker). */
    char down[512];
    if (p->pools && rev2_pool_health_refuse(p->pools, j->instance, down, sizeof down)) {
        if (exec_try_fallback(j, down))
            return;
        if (p->metrics)
            metrics_add(p->metrics, "gomabarn_exec_pool_down_answers_total", 1);
        char *msg = gmb_format("%s; answered at once (it is tried again every exec.pool_probe_interval_s)", down);
        exec_respond_error(j, false, "pool down", msg);
        free(msg);
        exec_job_free(j);
        return;
    }
    size_t n;
    rev2_blob *blobs = action_blobs(j, &n);
    if (p->view) {
        stage_in_store(j, blobs, n);
        exec_show_in_view(j);
    }
    cas_blob **pins = gmb_calloc(j->inputs.n_blobs + 1, sizeof *pins);
    char *why = NULL;
    if (pin_input_files(j, blobs, pins, &why) < 0) {
        free(pins);
        free(blobs);
        exec_respond_error(j, false, "input files unreadable", why);
        free(why);
        exec_job_free(j);
        return;
    }
    exec_inputs_release_pins(&j->inputs); /* the open handles hold them now */
    size_t uploaded = 0;
    rev2_error *e = rev2_upload_missing_sync(p->client, j->instance, blobs, n, &uploaded);
    unpin_input_files(pins, j->inputs.n_blobs);
    free(blobs);
    if (e) {
        char *msg = gmb_format("Buildbarn (instance \"%s\"): uploading inputs: %s", j->instance, e->message);
        rev2_error_free(e);
        exec_respond_error(j, false, "input upload failed", msg);
        free(msg);
        exec_job_free(j);
        return;
    }
    GMB_INFO("exec", "#%llu action %s on \"%s\": %zu inputs (%zu system files left to the worker), %zu blobs uploaded",
             (unsigned long long)j->id, j->entry.action, j->instance, j->inputs.n_inputs, j->inputs.n_skipped,
             uploaded);
    execute(j);
}

/* Outputs up to this much are answered on the engine thread (a larger
 * one is read and chunked on the pool: it would hold the thread up). */
#define INLINE_ANSWER_MAX_BYTES (1 << 20)

/* When every blob the answer reads is on disk here (or inline in the
 * result), and small, pins them and returns the pin: building the answer
 * then waits for nothing but a short read of the local disk, and the
 * engine thread may do it (pinned: an eviction between this check and
 * the read would make that read a fetch from Buildbarn, which needs an
 * engine thread to complete). NULL otherwise. An output directory needs
 * its Tree; a compiler's stdout or stderr not inline comes from
 * Buildbarn. */
static cas_pin *pin_outputs_on_disk(cas_store *s, const Rev2ActionResult *r)
{
    if (r->n_output_directories > 0)
        return NULL;
    const Rev2Digest *streams[] = {r->stdout_raw.len ? NULL : r->stdout_digest,
                                   r->stderr_raw.len ? NULL : r->stderr_digest};
    for (size_t i = 0; i < 2; i++)
        if (streams[i] && streams[i]->size_bytes > 0)
            return NULL;
    rev2_digest *d = gmb_calloc(r->n_output_files + 1, sizeof *d);
    size_t n = 0;
    int64_t total = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < r->n_output_files; i++) {
        const Rev2OutputFile *f = r->output_files[i];
        if (f->contents.len > 0)
            continue;
        ok = f->digest && rev2_digest_from_proto(f->digest, &d[n]) && (total += d[n].size) <= INLINE_ANSWER_MAX_BYTES;
        n += ok && d[n].size > 0;
    }
    size_t missing = 1;
    cas_pin *pin = ok ? cas_store_pin(s, d, n, 0, &missing) : NULL;
    free(d);
    if (missing) {
        cas_pin_release(pin);
        pin = NULL;
    }
    return pin;
}

/* The answer of the action cache (on an engine thread). */
void exec_cache_checked(void *user, rev2_error *err, Rev2ActionResult *result)
{
    exec_job *j = user;
    if (!err && result) {
        exec_inputs_release_pins(&j->inputs); /* a hit needs no input */
        Rev2ExecuteResponse *resp = gmb_malloc(sizeof *resp);
        build__bazel__remote__execution__v2__execute_response__init(resp);
        resp->result = result;
        resp->cached_result = true;
        if (j->p->view)
            exec_show_in_view(j);
        cas_pin *outputs = pin_outputs_on_disk(j->p->store, result);
        if (outputs) {
            /* Answered here: a hand-over to the pool costs a thread
             * wake-up, a good part of a hit's CPU. */
            j->resp = resp;
            j->on_engine = true;
            exec_finish(j);
            cas_pin_release(outputs);
            return;
        }
        exec_executed(j, NULL, resp);
        return;
    }
    if (err && err->code != REV2_NOT_FOUND)
        GMB_DEBUG("exec", "#%llu cache lookup failed (%s); executing", (unsigned long long)j->id, err->message);
    rev2_error_free(err);
    rev2_msg_free(result);
    work_pool_run(j->p->pool, exec_upload_and_execute, j);
}

/* The job's last outcome forgotten, it is uploaded and executed again
 * (on j->instance, which the caller may have changed). */
static void run_again(exec_job *j)
{
    rev2_error_free(j->err);
    j->err = NULL;
    rev2_msg_free(j->resp);
    j->resp = NULL;
    j->healed = false;
    work_pool_run(j->p->pool, exec_upload_and_execute, j);
}

bool exec_try_fallback(exec_job *j, const char *why)
{
    exec_pipeline *p = j->p;
    if (!p->fallback_instance || j->fell_back || strcmp(p->fallback_instance, j->instance) == 0)
        return false;
    /* Its client has left (gomabarn-cc's local compile won its race, or
     * goma's client gave up): a second pool would run it for nobody, and a
     * build losing a pool races many compiles at once, so those runs would
     * take the CPU and workers of the compiles still waited for. */
    if (http_request_client_gone(j->req)) {
        GMB_INFO("exec",
                 "#%llu instance \"%s\": %s; not moved to the fallback instance: its client closed the connection",
                 (unsigned long long)j->id, j->instance, why);
        if (p->metrics)
            metrics_add(p->metrics, "gomabarn_exec_fallbacks_skipped_total", 1);
        return false;
    }
    GMB_WARN("exec", "#%llu instance \"%s\": %s; running it on the fallback instance \"%s\" (exec.fallback_instance)",
             (unsigned long long)j->id, j->instance, why, p->fallback_instance);
    if (p->metrics)
        metrics_add(p->metrics, "gomabarn_exec_fallbacks_total", 1);
    j->fell_back = true;
    free(j->instance);
    j->instance = gmb_strdup(p->fallback_instance);
    snprintf(j->entry.instance, sizeof j->entry.instance, "%s", j->instance);
    run_again(j);
    return true;
}

bool exec_try_again(exec_job *j, const char *why)
{
    exec_pipeline *p = j->p;
    if (j->tried_again || http_request_client_gone(j->req))
        return false;
    GMB_WARN("exec", "#%llu instance \"%s\": %s; trying it once more on the same pool", (unsigned long long)j->id,
             j->instance, why);
    if (p->metrics)
        metrics_add(p->metrics, "gomabarn_exec_tried_again_total", 1);
    j->tried_again = true;
    run_again(j);
    return true;
}
