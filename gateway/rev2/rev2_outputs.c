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
#include "rev2_tree.h"
#include "rev2_tree_index.h"
#include "mem.h"

/* Largest single output we hold in memory while writing it. */
#define OUTPUT_MAX_BYTES ((size_t)4 << 30)

/* dir + "/" + a relative path that must not escape. */
static char *join_checked(const char *dir, const char *rel, char **err)
{
    char **parts;
    size_t n;
    if (!rev2_path_split(rel, &parts, &n, err))
        return NULL;
    rev2_path_parts_free(parts, n);
    if (n == 0) {
        gmb_fail(err, "output path \"%s\" names the directory itself", rel);
        return NULL;
    }
    char *p = gmb_format("%s/%s", dir, rel);
    return p;
}

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

static int write_file(rev2_client *c, const char *instance, const char *path, const Rev2Digest *dp,
                      const ProtobufCBinaryData *inline_bytes, bool executable, char **err)
{
    rev2_digest d;
    if (!rev2_digest_from_proto(dp, &d))
        return gmb_fail(err, "%s: output without a valid digest", path);
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

/* Writes Directory `dir` (from a Tree) at `path`. */
static int write_directory(rev2_client *c, const char *instance, const rev2_tree_index *tree,
                           const Rev2Directory *dir, const char *path, int depth, char **err)
{
    if (depth > 256)
        return gmb_fail(err, "%s: output tree nested too deep", path);
    if (mkdirs_for(path, err) < 0 || (mkdir(path, 0755) < 0 && errno != EEXIST))
        return gmb_fail(err, "cannot create %s: %s", path, strerror(errno));
    for (size_t i = 0; i < dir->n_files; i++) {
        char *p = join_checked(path, dir->files[i]->name, err);
        if (!p || strchr(dir->files[i]->name, '/') ||
            write_file(c, instance, p, dir->files[i]->digest, NULL, dir->files[i]->is_executable, err) < 0) {
            free(p);
            return -1;
        }
        free(p);
    }
    for (size_t i = 0; i < dir->n_symlinks; i++) {
        char *p = join_checked(path, dir->symlinks[i]->name, err);
        if (!p || write_symlink(p, dir->symlinks[i]->target, err) < 0) {
            free(p);
            return -1;
        }
        free(p);
    }
    for (size_t i = 0; i < dir->n_directories; i++) {
        rev2_digest want;
        if (!rev2_digest_from_proto(dir->directories[i]->digest, &want))
            return gmb_fail(err, "%s: directory entry without a digest", path);
        const Rev2Directory *child = rev2_tree_index_find(tree, &want);
        if (!child)
            return gmb_fail(err, "%s/%s: the Tree lacks that directory", path, dir->directories[i]->name);
        char *p = join_checked(path, dir->directories[i]->name, err);
        int rc = p ? write_directory(c, instance, tree, child, p, depth + 1, err) : -1;
        free(p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int rev2_outputs_write(rev2_client *c, const char *instance, const Rev2ActionResult *r,
                       const char *dir, char **err)
{
    for (size_t i = 0; i < r->n_output_files; i++) {
        const Rev2OutputFile *f = r->output_files[i];
        char *p = join_checked(dir, f->path, err);
        if (!p || write_file(c, instance, p, f->digest, &f->contents, f->is_executable, err) < 0) {
            free(p);
            return -1;
        }
        free(p);
    }
    for (size_t i = 0; i < r->n_output_symlinks; i++) {
        char *p = join_checked(dir, r->output_symlinks[i]->path, err);
        if (!p || write_symlink(p, r->output_symlinks[i]->target, err) < 0) {
            free(p);
            return -1;
        }
        free(p);
    }
    for (size_t i = 0; i < r->n_output_directories; i++) {
        const Rev2OutputDirectory *od = r->output_directories[i];
        rev2_digest td;
        if (!rev2_digest_from_proto(od->tree_digest, &td))
            return gmb_fail(err, "output directory %s has no tree digest", od->path);
        gmb_buf bytes;
        gmb_buf_init(&bytes, OUTPUT_MAX_BYTES);
        rev2_error *e = rev2_read_blob_sync(c, instance, &td, &bytes);
        Rev2Tree *tree = e ? NULL : build__bazel__remote__execution__v2__tree__unpack(NULL, bytes.len, bytes.data);
        gmb_buf_free(&bytes);
        if (!tree) {
            gmb_fail(err, "output directory %s: %s", od->path, e ? e->message : "undecodable Tree");
            rev2_error_free(e);
            return -1;
        }
        char *p = join_checked(dir, od->path, err);
        rev2_tree_index ix;
        rev2_tree_index_init(&ix, tree);
        int rc = p && tree->root ? write_directory(c, instance, &ix, tree->root, p, 0, err) : -1;
        rev2_tree_index_free(&ix);
        if (p && !tree->root)
            gmb_fail(err, "output directory %s: Tree without a root", od->path);
        free(p);
        rev2_msg_free(tree);
        if (rc < 0)
            return -1;
    }
    return 0;
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
