#include "view_action.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "proto_json.h"
#include "rev2_blocking.h"
#include "rev2_tree.h"

static int put_bytes(cas_store *s, const void *data, size_t len, rev2_digest *d, char **err)
{
    rev2_digest_of_bytes(data, len, d);
    int rc = cas_store_put(s, d, data, len);
    return rc < 0 ? gmb_fail(err, "cannot store a rendered file: %s", strerror(-rc)) : 0;
}

static int put_message(cas_store *s, const ProtobufCMessage *m, rev2_digest *d, char **err)
{
    size_t len;
    uint8_t *bytes = rev2_pack(m, &len);
    int rc = put_bytes(s, bytes, len, d, err);
    free(bytes);
    return rc;
}

static int add_json(cas_store *s, rev2_tree *t, const char *name, const ProtobufCMessage *m, char **err)
{
    gmb_buf json;
    gmb_buf_init(&json, 64u << 20);
    rev2_digest d;
    int rc = proto_json(m, &json) < 0 ? gmb_fail(err, "%s is too large to render", name)
                                      : put_bytes(s, json.data, json.len, &d, err);
    if (rc == 0)
        rc = rev2_tree_add_file(t, name, &d, false, err);
    gmb_buf_free(&json);
    return rc;
}

static void *read_message(cas_store *s, const char *instance, const rev2_digest *d,
                          const ProtobufCMessageDescriptor *desc, const char *what, char **err)
{
    uint8_t *bytes = NULL;
    char ds[REV2_DIGEST_STR_LEN];
    int rc = cas_store_read_all(s, instance, d, &bytes);
    if (rc < 0) {
        gmb_fail(err, "%s %s: %s", what, rev2_digest_str(d, ds),
                 rc == -EIO ? "not in Buildbarn's CAS (or unreachable)" : strerror(-rc));
        return NULL;
    }
    void *m = protobuf_c_message_unpack(desc, NULL, (size_t)d->size, bytes);
    free(bytes);
    if (!m)
        gmb_fail(err, "%s %s is not a valid %s message", what, rev2_digest_str(d, ds), desc->name);
    return m;
}

static double span_ms(const GpbTimestamp *a, const GpbTimestamp *b)
{
    return (a && b) ? (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0 : 0;
}

/* timings.txt: what result.json says about time, in milliseconds. */
static int add_timings(cas_store *s, rev2_tree *t, const Rev2ActionResult *r, char **err)
{
    const Rev2ExecMetadata *m = r->execution_metadata;
    char *text =
        gmb_format("exit code   %d\nworker      %s\nqueued      %.1f ms\ninput fetch %.1f ms\nexecution   %.1f ms\n"
                   "upload      %.1f ms\ntotal       %.1f ms\n",
                   r->exit_code, m && m->worker ? m->worker : "(unknown)",
                   m ? span_ms(m->queued_timestamp, m->worker_start_timestamp) : 0,
                   m ? span_ms(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp) : 0,
                   m ? span_ms(m->execution_start_timestamp, m->execution_completed_timestamp) : 0,
                   m ? span_ms(m->output_upload_start_timestamp, m->output_upload_completed_timestamp) : 0,
                   m ? span_ms(m->queued_timestamp, m->worker_completed_timestamp) : 0);
    rev2_digest d;
    int rc = put_bytes(s, text, strlen(text), &d, err);
    free(text);
    return rc == 0 ? rev2_tree_add_file(t, "timings.txt", &d, false, err) : rc;
}

/* stdout/stderr: inline bytes are put into the store; a digest is used as is. */
static int add_stream(cas_store *s, rev2_tree *t, const char *name, const ProtobufCBinaryData *raw,
                      const Rev2Digest *digest, char **err)
{
    rev2_digest d = rev2_empty_digest;
    if (raw->len > 0) {
        if (put_bytes(s, raw->data, raw->len, &d, err) < 0)
            return -1;
    } else if (digest && !rev2_digest_from_proto(digest, &d)) {
        return gmb_fail(err, "%s has an invalid digest", name);
    }
    if (d.size == 0)
        cas_store_put(s, &d, "", 0);
    return rev2_tree_add_file(t, name, &d, false, err);
}

/* An output directory arrives as a Tree; its Directories go into the
 * store so output/<path> browses like any Directory. */
static int add_output_tree(cas_store *s, const char *instance, rev2_tree *t, const char *path,
                           const Rev2Digest *tree_digest, char **err)
{
    rev2_digest td;
    if (!rev2_digest_from_proto(tree_digest, &td))
        return gmb_fail(err, "output directory %s has no tree digest", path);
    Rev2Tree *tree =
        read_message(s, instance, &td, &build__bazel__remote__execution__v2__tree__descriptor, "output tree", err);
    if (!tree)
        return -1;
    int rc = 0;
    rev2_digest root;
    for (size_t i = 0; rc == 0 && i < tree->n_children; i++) {
        rev2_digest child;
        rc = put_message(s, (const ProtobufCMessage *)tree->children[i], &child, err);
    }
    if (rc == 0 && tree->root)
        rc = put_message(s, (const ProtobufCMessage *)tree->root, &root, err);
    else if (rc == 0)
        rc = gmb_fail(err, "output tree %s has no root", path);
    if (rc == 0)
        rc = rev2_tree_add_dir_digest(t, path, &root, err);
    rev2_msg_free(tree);
    return rc;
}

/* An output path that climbs out of the working directory ("../obj/a.o",
 * a compile's -o there): output/ holds the working directory's outputs,
 * so it has no place there; result.json still lists it. */
static bool climbs_out(const char *path)
{
    for (const char *c = path; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return true;
    return false;
}

static int add_outputs(cas_store *s, const char *instance, const Rev2ActionResult *r, rev2_digest *out, char **err)
{
    rev2_tree *t = rev2_tree_new();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n_output_files; i++) {
        rev2_digest d;
        if (climbs_out(r->output_files[i]->path))
            continue;
        if (!rev2_digest_from_proto(r->output_files[i]->digest, &d))
            rc = gmb_fail(err, "output file %s has no digest", r->output_files[i]->path);
        else
            rc = rev2_tree_add_file(t, r->output_files[i]->path, &d, r->output_files[i]->is_executable, err);
    }
    for (size_t i = 0; rc == 0 && i < r->n_output_symlinks; i++)
        if (!climbs_out(r->output_symlinks[i]->path))
            rc = rev2_tree_add_symlink(t, r->output_symlinks[i]->path, r->output_symlinks[i]->target, err);
    for (size_t i = 0; rc == 0 && i < r->n_output_directories; i++)
        if (!climbs_out(r->output_directories[i]->path))
            rc = add_output_tree(s, instance, t, r->output_directories[i]->path, r->output_directories[i]->tree_digest,
                                 err);
    if (rc == 0) {
        rev2_tree_finish(t, out);
        const rev2_blob *blobs;
        size_t n = rev2_tree_directory_blobs(t, &blobs);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = cas_store_put(s, &blobs[i].digest, blobs[i].data, (size_t)blobs[i].digest.size) < 0
                     ? gmb_fail(err, "cannot store the output listing")
                     : 0;
    }
    rev2_tree_free(t);
    return rc;
}

int view_action_build(cas_store *s, const char *instance, const rev2_digest *action, const Rev2ActionResult *known,
                      rev2_digest *root, bool *has_result, char **err)
{
    rev2_client *remote = cas_store_remote(s);
    Rev2Action *a =
        read_message(s, instance, action, &build__bazel__remote__execution__v2__action__descriptor, "action", err);
    if (!a)
        return -1;
    rev2_digest cmd_d, input_d;
    Rev2Command *cmd = NULL;
    Rev2ActionResult *result = NULL;
    rev2_tree *t = rev2_tree_new();
    int rc = 0;
    if (!rev2_digest_from_proto(a->command_digest, &cmd_d) || !rev2_digest_from_proto(a->input_root_digest, &input_d))
        rc = gmb_fail(err, "the action lacks a command or input root digest");
    if (rc == 0 && !(cmd = read_message(s, instance, &cmd_d, &build__bazel__remote__execution__v2__command__descriptor,
                                        "command", err)))
        rc = -1;
    if (rc == 0)
        rc = add_json(s, t, "action.json", (const ProtobufCMessage *)a, err);
    if (rc == 0)
        rc = add_json(s, t, "command.json", (const ProtobufCMessage *)cmd, err);
    if (rc == 0)
        rc = rev2_tree_add_dir_digest(t, "input", &input_d, err);
    if (rc == 0 && !known && remote) {
        /* No result (never run, still running, or evicted) is normal: then
         * there is no output. */
        rev2_error *e = rev2_get_action_result_sync(remote, instance, action, false, &result);
        if (e && e->code != REV2_NOT_FOUND) {
            char ds[REV2_DIGEST_STR_LEN];
            GMB_WARN("view", "action %s: cannot read its result: %s", rev2_digest_str(action, ds), e->message);
        }
        rev2_error_free(e);
    }
    const Rev2ActionResult *r = known ? known : result;
    *has_result = r != NULL;
    if (rc == 0 && r) {
        rev2_digest out;
        rc = add_json(s, t, "result.json", (const ProtobufCMessage *)r, err);
        if (rc == 0)
            rc = add_timings(s, t, r, err);
        if (rc == 0)
            rc = add_stream(s, t, "stdout", &r->stdout_raw, r->stdout_digest, err);
        if (rc == 0)
            rc = add_stream(s, t, "stderr", &r->stderr_raw, r->stderr_digest, err);
        if (rc == 0)
            rc = add_outputs(s, instance, r, &out, err);
        if (rc == 0)
            rc = rev2_tree_add_dir_digest(t, "output", &out, err);
    }
    if (rc == 0) {
        rev2_tree_finish(t, root);
        const rev2_blob *blobs;
        size_t n = rev2_tree_directory_blobs(t, &blobs);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (cas_store_put(s, &blobs[i].digest, blobs[i].data, (size_t)blobs[i].digest.size) < 0)
                rc = gmb_fail(err, "cannot store the action's listing");
    }
    rev2_tree_free(t);
    rev2_msg_free(a);
    rev2_msg_free(cmd);
    rev2_msg_free(result);
    return rc;
}
