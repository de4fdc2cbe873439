#include "errmsg.h"
#include "remote_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rev2_blocking.h"
#include "rev2_outputs.h"
#include "rev2_tree.h"
#include "mem.h"

typedef struct {
    rev2_blob *blobs;
    char **paths; /* owned copies the blobs point at */
    size_t n, cap;
} blob_list;

static void add_blob(blob_list *l, const rev2_blob *b, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (rev2_digest_equal(&l->blobs[i].digest, &b->digest))
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->blobs = gmb_realloc(l->blobs, l->cap * sizeof *l->blobs);
        l->paths = gmb_realloc(l->paths, l->cap * sizeof *l->paths);
    }
    l->paths[l->n] = path ? gmb_strdup(path) : NULL;
    l->blobs[l->n] = *b;
    if (path)
        l->blobs[l->n].path = l->paths[l->n];
    l->n++;
}

static void on_input_file(void *user, const char *local_path, const rev2_digest *d)
{
    rev2_blob b = {.digest = *d};
    add_blob(user, &b, local_path);
}

static void blob_list_free(blob_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    free(l->blobs);
}

static const char *stage_name(int stage)
{
    static const char *const names[] = {"unknown", "cache check", "queued", "executing", "completed"};
    return stage >= 0 && stage <= 4 ? names[stage] : "?";
}

static void on_progress(void *user, int stage, const char *operation)
{
    const gmb_remote_run_spec *spec = user;
    if (spec->verbose)
        fprintf(stderr, "gomabarn: %s (operation %s)\n", stage_name(stage), operation ? operation : "?");
}

static double span_ms(const GpbTimestamp *a, const GpbTimestamp *b)
{
    return (a && b) ? (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0 : 0;
}

static void copy_stream(rev2_client *c, const char *instance, const ProtobufCBinaryData *raw, const Rev2Digest *digest,
                        FILE *to)
{
    gmb_buf b;
    gmb_buf_init(&b, (size_t)1 << 30);
    rev2_error *e = rev2_outputs_stream(c, instance, raw, digest, &b);
    if (e)
        fprintf(stderr, "gomabarn: cannot fetch the command's output: %s\n", e->message);
    else if (b.len)
        fwrite(b.data, 1, b.len, to);
    fflush(to);
    rev2_error_free(e);
    gmb_buf_free(&b);
}

/* Uploads the inputs, runs the action, returns its response. */
static int execute(rev2_client *c, const gmb_remote_run_spec *spec, Rev2ExecuteResponse **resp, char **err)
{
    rev2_tree *t = rev2_tree_new();
    blob_list blobs = {0};
    int rc = 0;
    for (size_t i = 0; i < spec->n_inputs && rc == 0; i++) {
        char **parts;
        size_t n;
        if (!rev2_path_split(spec->inputs[i], &parts, &n, err)) {
            rc = -1;
            break;
        }
        rev2_path_parts_free(parts, n);
        rc = rev2_tree_add_local(t, spec->inputs[i], spec->inputs[i], on_input_file, &blobs, err);
    }
    /* Output parents exist before the command runs. */
    for (size_t i = 0; i < spec->n_outputs && rc == 0; i++) {
        const char *slash = strrchr(spec->outputs[i], '/');
        if (!slash)
            continue;
        char *parent = gmb_strndup(spec->outputs[i], (size_t)(slash - spec->outputs[i]));
        char *why = NULL;
        rc = rev2_tree_add_dir(t, parent, &why);
        if (rc < 0)
            gmb_fail(err, "output %s: %s (outputs are written below the current directory, the input root)",
                     spec->outputs[i], why);
        free(why);
        free(parent);
    }
    rev2_built_action built = {0};
    if (rc == 0) {
        rev2_digest root;
        rev2_tree_finish(t, &root);
        rev2_action_spec as = {
            .arguments = spec->argv,
            .n_arguments = spec->argc,
            .environment = spec->env,
            .n_environment = spec->n_env,
            .output_paths = spec->outputs,
            .n_output_paths = spec->n_outputs,
            .platform = spec->platform,
            .n_platform = spec->n_platform,
            .input_root = root,
            .timeout_ms = spec->timeout_ms,
            .do_not_cache = spec->no_cache,
        };
        rc = rev2_action_build(&as, &built, err);
    }
    if (rc == 0) {
        rev2_blob two[2];
        rev2_action_blobs(&built, two);
        add_blob(&blobs, &two[0], NULL);
        add_blob(&blobs, &two[1], NULL);
        const rev2_blob *dirs;
        size_t nd = rev2_tree_directory_blobs(t, &dirs);
        for (size_t i = 0; i < nd; i++)
            add_blob(&blobs, &dirs[i], NULL);
        size_t uploaded = 0;
        int64_t t0 = rev2_now_ms();
        rev2_error *e = rev2_upload_missing_sync(c, spec->instance, blobs.blobs, blobs.n, &uploaded);
        if (e) {
            rc = gmb_fail(err, "uploading inputs: %s", e->message);
            rev2_error_free(e);
        } else if (spec->verbose) {
            char ds[REV2_DIGEST_STR_LEN];
            fprintf(stderr, "gomabarn: action %s: %zu blobs, %zu uploaded in %lld ms\n",
                    rev2_digest_str(&built.action_digest, ds), blobs.n, uploaded, (long long)(rev2_now_ms() - t0));
        }
    }
    if (rc == 0) {
        rev2_execute_options eo = {.skip_cache_lookup = spec->no_cache};
        rev2_error *e =
            rev2_execute_sync(c, spec->instance, &built.action_digest, &eo, on_progress, (void *)spec, resp);
        if (e) {
            rc = gmb_fail(err, "%s%s", e->message,
                          rev2_error_is_no_workers(e)
                              ? " (no worker serves this instance name with this platform: check the instance "
                                "name and the platform properties)"
                              : "");
            rev2_error_free(e);
        }
    }
    rev2_built_action_free(&built);
    blob_list_free(&blobs);
    rev2_tree_free(t);
    return rc;
}

int gmb_remote_run(rev2_client *c, const gmb_remote_run_spec *spec, int *exit_code, char **err)
{
    if (spec->argc == 0)
        return gmb_fail(err, "no command to run");
    Rev2ExecuteResponse *resp = NULL;
    int64_t t0 = rev2_now_ms();
    if (execute(c, spec, &resp, err) < 0) {
        rev2_msg_free(resp);
        return -1;
    }
    const Rev2ActionResult *r = resp->result;
    copy_stream(c, spec->instance, &r->stdout_raw, r->stdout_digest, stdout);
    copy_stream(c, spec->instance, &r->stderr_raw, r->stderr_digest, stderr);
    int rc = rev2_outputs_write(c, spec->instance, r, spec->outputs, spec->n_outputs, ".", err);
    *exit_code = r->exit_code;
    if (spec->verbose) {
        /* Digests to look at through the CAS view (gomabarn mount). */
        for (size_t i = 0; i < r->n_output_files; i++)
            if (r->output_files[i]->digest)
                fprintf(stderr, "gomabarn: output file %s: %s/%lld\n", r->output_files[i]->path,
                        r->output_files[i]->digest->hash, (long long)r->output_files[i]->digest->size_bytes);
        for (size_t i = 0; i < r->n_output_directories; i++)
            if (r->output_directories[i]->tree_digest)
                fprintf(stderr, "gomabarn: output directory %s: tree %s/%lld\n", r->output_directories[i]->path,
                        r->output_directories[i]->tree_digest->hash,
                        (long long)r->output_directories[i]->tree_digest->size_bytes);
        const Rev2ExecMetadata *m = r->execution_metadata;
        fprintf(stderr,
                "gomabarn: exit %d%s in %lld ms on instance \"%s\"; worker %s: queued %.1f ms, "
                "fetch %.1f ms, execute %.1f ms, upload %.1f ms\n",
                r->exit_code, resp->cached_result ? " (cached)" : "", (long long)(rev2_now_ms() - t0),
                spec->instance ? spec->instance : rev2_client_default_instance(c), m && m->worker ? m->worker : "?",
                m ? span_ms(m->queued_timestamp, m->worker_start_timestamp) : 0,
                m ? span_ms(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp) : 0,
                m ? span_ms(m->execution_start_timestamp, m->execution_completed_timestamp) : 0,
                m ? span_ms(m->output_upload_start_timestamp, m->output_upload_completed_timestamp) : 0);
    }
    rev2_msg_free(resp);
    return rc;
}
