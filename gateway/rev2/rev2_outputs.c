#include "errmsg.h"
#include "rev2_outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rev2_blocking.h"
#include "rev2_output_list.h"
#include "mem.h"

/* Largest single output we hold in memory while writing it. */
#define OUTPUT_MAX_BYTES ((size_t)4 << 30)

static int mkdirs_for(const char *path, char **err)
{
    char *copy = gmb_strdup(path);
    for (char *s = copy + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
            gmb_fail(err, "cannot create %s: %s", copy, strerror(errno));
            free(copy);
            return -1;
        }
        *s = '/';
    }
    free(copy);
    return 0;
}

static int write_file(rev2_client *c, const char *instance, const char *path, const rev2_digest *dp,
                      const ProtobufCBinaryData *inline_bytes, bool executable, char **err)
{
    rev2_digest d = *dp;
    gmb_buf data;
    gmb_buf_init(&data, OUTPUT_MAX_BYTES);
    if (inline_bytes && inline_bytes->len == (size_t)d.size && d.size > 0) {
        if (gmb_buf_append(&data, inline_bytes->data, inline_bytes->len) != GMB_BUF_OK)
            return gmb_fail(err, "%s: %zu bytes is more than an output may have", path, inline_bytes->len);
    } else {
        rev2_error *e = rev2_read_blob_sync(c, instance, &d, &data);
        if (e) {
            gmb_fail(err, "fetching %s: %s", path, e->message);
            rev2_error_free(e);
            gmb_buf_free(&data);
            return -1;
        }
    }
    if (mkdirs_for(path, err) < 0) {
        gmb_buf_free(&data);
        return -1;
    }
    /* Write beside it, then rename: a reader never sees half a file. */
    char *tmp = gmb_format("%s.gomabarn-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0755 : 0644);
    int rc = 0;
    if (fd < 0 || (data.len && write(fd, data.data, data.len) != (ssize_t)data.len) || close(fd) < 0 ||
        rename(tmp, path) < 0) {
        rc = gmb_fail(err, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    gmb_buf_free(&data);
    return rc;
}

static int write_symlink(const char *path, const char *target, char **err)
{
    if (mkdirs_for(path, err) < 0)
        return -1;
    unlink(path);
    if (symlink(target, path) < 0)
        return gmb_fail(err, "cannot create symlink %s: %s", path, strerror(errno));
    return 0;
}

typedef struct {
    rev2_client *client;
    const char *instance;
} tree_source;

static Rev2Tree *fetch_tree(void *user, const rev2_digest *td, char **err)
{
    tree_source *src = user;
    gmb_buf bytes;
    gmb_buf_init(&bytes, OUTPUT_MAX_BYTES);
    rev2_error *e = rev2_read_blob_sync(src->client, src->instance, td, &bytes);
    Rev2Tree *tree = e ? NULL : build__bazel__remote__execution__v2__tree__unpack(NULL, bytes.len, bytes.data);
    gmb_buf_free(&bytes);
    if (!tree)
        gmb_fail(err, "%s", e ? e->message : "its Tree does not decode");
    rev2_error_free(e);
    return tree;
}

static int write_output(rev2_client *c, const char *instance, const rev2_output *o, const char *dir, char **err)
{
    char *path = gmb_format("%s/%s", dir, o->path);
    int rc = 0;
    switch (o->kind) {
    case REV2_OUTPUT_FILE:
        rc = write_file(c, instance, path, &o->digest, o->contents, o->executable, err);
        break;
    case REV2_OUTPUT_SYMLINK:
        rc = write_symlink(path, o->target, err);
        break;
    case REV2_OUTPUT_DIRECTORY:
        if (mkdirs_for(path, err) < 0)
            rc = -1;
        else if (mkdir(path, 0755) < 0 && errno != EEXIST)
            rc = gmb_fail(err, "cannot create %s: %s", path, strerror(errno));
        break;
    }
    free(path);
    return rc;
}

int rev2_outputs_write(rev2_client *c, const char *instance, const Rev2ActionResult *r, const char *const *declared,
                       size_t n_declared, const char *dir, char **err)
{
    tree_source src = {c, instance};
    rev2_output_limits limits = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, REV2_OUTPUT_DEFAULT_MAX_BYTES, 0};
    rev2_output_list outs;
    if (rev2_output_list_build(r, declared, n_declared, &limits, fetch_tree, &src, &outs, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < outs.n; i++)
        rc = write_output(c, instance, &outs.items[i], dir, err);
    rev2_output_list_free(&outs);
    return rc;
}

rev2_error *rev2_outputs_stream(rev2_client *c, const char *instance, const ProtobufCBinaryData *raw,
                                const Rev2Digest *digest, gmb_buf *out)
{
    rev2_digest d;
    if (raw && raw->len > 0)
        return gmb_buf_append(out, raw->data, raw->len) == GMB_BUF_OK
                   ? NULL
                   : rev2_error_new(REV2_RESOURCE_EXHAUSTED, "output stream too large");
    if (!digest || !rev2_digest_from_proto(digest, &d) || d.size == 0)
        return NULL;
    return rev2_read_blob_sync(c, instance, &d, out);
}
