#include "exec_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "rev2_outputs.h"
#include "rev2_tree_index.h"
#include "mem.h"

#define GOMA_CHUNK_BYTES (2u * 1024 * 1024)

static ProtobufCBinaryData copy_bytes(const uint8_t *p, size_t n)
{
    ProtobufCBinaryData b = {n, gmb_malloc(n ? n : 1)};
    if (n)
        memcpy(b.data, p, n);
    return b;
}

/* A FileBlob the way protobuf-c's free_unpacked can free it (all malloc). */
static DevtoolsGoma__FileBlob *new_blob(int type)
{
    DevtoolsGoma__FileBlob *b = gmb_malloc(sizeof *b);
    devtools_goma__file_blob__init(b);
    b->blob_type = type;
    return b;
}

/* A large output: its chunks into the file service, their keys in a META. */
static DevtoolsGoma__FileBlob *chunked(goma_files *files, const uint8_t *data, size_t size, char **err)
{
    DevtoolsGoma__FileBlob *meta = new_blob(DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META);
    meta->has_file_size = true;
    meta->file_size = (int64_t)size;
    size_t n = (size + GOMA_CHUNK_BYTES - 1) / GOMA_CHUNK_BYTES;
    meta->hash_key = gmb_calloc(n, sizeof *meta->hash_key);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * GOMA_CHUNK_BYTES, len = size - off < GOMA_CHUNK_BYTES ? size - off : GOMA_CHUNK_BYTES;
        DevtoolsGoma__FileBlob chunk = DEVTOOLS_GOMA__FILE_BLOB__INIT;
        chunk.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
        chunk.has_offset = true; /* offset 0 too: the client checks presence */
        chunk.offset = (int64_t)off;
        chunk.has_content = true;
        chunk.content.data = (uint8_t *)data + off;
        chunk.content.len = len;
        chunk.has_file_size = true;
        chunk.file_size = (int64_t)len; /* what goma's client writes here */
        size_t bl = devtools_goma__file_blob__get_packed_size(&chunk);
        uint8_t *bytes = gmb_malloc(bl);
        devtools_goma__file_blob__pack(&chunk, bytes);
        char key[65];
        const char *why = NULL;
        int rc = goma_files_store(files, bytes, bl, key, &why);
        free(bytes);
        if (rc < 0) {
            gmb_fail(err, "cannot store an output chunk: %s", why);
            devtools_goma__file_blob__free_unpacked(meta, NULL);
            return NULL;
        }
        meta->hash_key[meta->n_hash_key++] = gmb_strdup(key);
    }
    return meta;
}

/* An output's bytes as the view shows them. The view gives a blob one
 * inode per (instance, digest, executable bit), so this file under cas/ is
 * the very inode that by-instance/<instance>/<action>/output/<path> shows
 * (same page cache), reached without building the action's directory: that
 * costs some small local writes per action, which a user browsing the view
 * pays, not every Exec. */
static int read_through_mount(const char *mount, const char *instance, const rev2_digest *d, bool executable,
                              uint8_t **data)
{
    char *file = gmb_format("%s/cas/%s%sblobs/sha256/%s/%s-%lld", mount, instance, *instance ? "/" : "",
                            executable ? "executable" : "file", d->hash, (long long)d->size);
    FILE *f = fopen(file, "rb");
    free(file);
    if (!f)
        return -1;
    *data = gmb_malloc((size_t)d->size + 1);
    size_t got = fread(*data, 1, (size_t)d->size, f);
    fclose(f);
    if (got != (size_t)d->size) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

typedef struct {
    goma_files *files;
    cas_store *store;
    const char *instance;
    const char *mount_path;
} reader;

/* One output file as a goma Output: FILE up to 2 MiB, else FILE_META. */
static int add_output(reader *rd, DevtoolsGoma__ExecResult *res, size_t *cap, const char *path,
                      const rev2_digest *d, bool executable, char **err)
{
    /* Buildbarn reports a file once per output path naming it (an output
     * file inside an expected output directory, nested directories):
     * the client gets it once. */
    for (size_t i = 0; i < res->n_output; i++)
        if (strcmp(res->output[i]->filename, path) == 0)
            return 0;
    uint8_t *data = NULL;
    bool have = rd->mount_path ? read_through_mount(rd->mount_path, rd->instance, d, executable, &data) == 0
                               : cas_store_read_all(rd->store, rd->instance, d, &data) == 0;
    if (!have)
        return gmb_fail(err, "cannot fetch output %s from Buildbarn%s", path,
                        rd->mount_path ? " through the view" : "");
    if (res->n_output + 1 >= *cap) {
        *cap *= 2;
        res->output = gmb_realloc(res->output, *cap * sizeof *res->output);
    }
    DevtoolsGoma__ExecResult__Output *o = gmb_malloc(sizeof *o);
    devtools_goma__exec_result__output__init(o);
    o->filename = gmb_strdup(path);
    o->has_is_executable = executable;
    o->is_executable = executable;
    if ((size_t)d->size <= GOMA_CHUNK_BYTES) {
        o->blob = new_blob(DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE);
        o->blob->has_content = true; /* present even when empty */
        o->blob->content = copy_bytes(data, (size_t)d->size);
        o->blob->has_file_size = true;
        o->blob->file_size = d->size;
    } else {
        o->blob = chunked(rd->files, data, (size_t)d->size, err);
    }
    free(data);
    res->output[res->n_output++] = o;
    return o->blob ? 0 : -1;
}

/* The files below Directory `dir` of `tree`, named <prefix>/<path>. */
static int add_tree_files(reader *rd, DevtoolsGoma__ExecResult *res, size_t *cap, const rev2_tree_index *tree,
                          const Rev2Directory *dir, const char *prefix, int depth, char **err)
{
    if (depth > 128)
        return gmb_fail(err, "output directory %s nests too deep", prefix);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < dir->n_files; i++) {
        rev2_digest d;
        char *path = gmb_format("%s/%s", prefix, dir->files[i]->name);
        rc = rev2_digest_from_proto(dir->files[i]->digest, &d)
                 ? add_output(rd, res, cap, path, &d, dir->files[i]->is_executable, err)
                 : gmb_fail(err, "output %s has no digest", path);
        free(path);
    }
    for (size_t i = 0; rc == 0 && i < dir->n_directories; i++) {
        rev2_digest d;
        const Rev2Directory *sub =
            rev2_digest_from_proto(dir->directories[i]->digest, &d) ? rev2_tree_index_find(tree, &d) : NULL;
        char *path = gmb_format("%s/%s", prefix, dir->directories[i]->name);
        rc = sub ? add_tree_files(rd, res, cap, tree, sub, path, depth + 1, err)
                 : gmb_fail(err, "output directory %s is missing from its Tree", path);
        free(path);
    }
    return rc;
}

static int add_output_directory(reader *rd, DevtoolsGoma__ExecResult *res, size_t *cap, const char *path,
                                const Rev2Digest *tree_digest, char **err)
{
    rev2_digest td;
    uint8_t *bytes = NULL;
    if (!rev2_digest_from_proto(tree_digest, &td) || cas_store_read_all(rd->store, rd->instance, &td, &bytes) < 0)
        return gmb_fail(err, "cannot fetch the tree of output directory %s from Buildbarn", path);
    Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, (size_t)td.size, bytes);
    free(bytes);
    if (!tree || !tree->root) {
        rev2_msg_free(tree);
        return gmb_fail(err, "the tree of output directory %s is not a Tree", path);
    }
    rev2_tree_index ix;
    rev2_tree_index_init(&ix, tree);
    int rc = add_tree_files(rd, res, cap, &ix, tree->root, path, 0, err);
    rev2_tree_index_free(&ix);
    rev2_msg_free(tree);
    return rc;
}

DevtoolsGoma__ExecResult *exec_result_from_rev2(goma_files *files, cas_store *store, const char *instance,
                                                const char *mount_path, const Rev2ActionResult *r, char **err)
{
    DevtoolsGoma__ExecResult *res = gmb_malloc(sizeof *res);
    devtools_goma__exec_result__init(res);
    res->exit_status = r->exit_code;
    rev2_client *remote = cas_store_remote(store);
    gmb_buf so, se;
    gmb_buf_init(&so, 64u << 20);
    gmb_buf_init(&se, 64u << 20);
    rev2_error *e = rev2_outputs_stream(remote, instance, &r->stdout_raw, r->stdout_digest, &so);
    if (!e)
        e = rev2_outputs_stream(remote, instance, &r->stderr_raw, r->stderr_digest, &se);
    if (e) {
        gmb_fail(err, "cannot fetch the compiler's output: %s", e->message);
        rev2_error_free(e);
        gmb_buf_free(&so);
        gmb_buf_free(&se);
        devtools_goma__exec_result__free_unpacked(res, NULL);
        return NULL;
    }
    if (so.len) {
        res->has_stdout_buffer = true;
        res->stdout_buffer = copy_bytes(so.data, so.len);
    }
    if (se.len) {
        res->has_stderr_buffer = true;
        res->stderr_buffer = copy_bytes(se.data, se.len);
    }
    gmb_buf_free(&so);
    gmb_buf_free(&se);

    size_t cap = r->n_output_files + 1;
    res->output = gmb_calloc(cap, sizeof *res->output);
    reader rd = {files, store, instance, mount_path};
    for (size_t i = 0; i < r->n_output_files; i++) {
        const Rev2OutputFile *of = r->output_files[i];
        rev2_digest d;
        if (!rev2_digest_from_proto(of->digest, &d) || add_output(&rd, res, &cap, of->path, &d, of->is_executable, err) < 0) {
            if (!*err)
                gmb_fail(err, "output %s has no digest", of->path);
            devtools_goma__exec_result__free_unpacked(res, NULL);
            return NULL;
        }
    }
    /* goma has no directories: each file of an output directory becomes an
     * output named <dir>/<path>, as goma's own server does. */
    for (size_t i = 0; i < r->n_output_directories; i++) {
        const Rev2OutputDirectory *od = r->output_directories[i];
        if (add_output_directory(&rd, res, &cap, od->path, od->tree_digest, err) < 0) {
            devtools_goma__exec_result__free_unpacked(res, NULL);
            return NULL;
        }
    }
    return res;
}
