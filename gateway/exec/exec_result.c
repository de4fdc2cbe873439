#include "exec_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "goma_wire.h"
#include "rev2_outputs.h"
#include "mem.h"

/* A FileBlob the way protobuf-c's free_unpacked can free it (all malloc). */
static DevtoolsGoma__FileBlob *new_blob(int type)
{
    DevtoolsGoma__FileBlob *b = gmb_malloc(sizeof *b);
    devtools_goma__file_blob__init(b);
    b->blob_type = type;
    return b;
}

/* Where an output's bytes come from: a file under the mount, or (no
 * mount) the store's pinned blob, read in place. */
typedef struct {
    FILE *file;
    cas_blob *blob;
    off_t offset;
} output_source;

/* Reads exactly n bytes; false at a short read. */
static bool read_exact(output_source *src, uint8_t *buf, size_t n)
{
    if (src->file)
        return fread(buf, 1, n, src->file) == n;
    size_t got = 0;
    while (got < n) {
        ssize_t r = cas_blob_pread(src->blob, buf + got, n - got, src->offset);
        if (r <= 0)
            return false;
        got += (size_t)r;
        src->offset += r;
    }
    return true;
}

/* A large output, read one chunk at a time: its chunks into the file
 * service, their keys in a META. */
static DevtoolsGoma__FileBlob *chunked(goma_files *files, output_source *src, size_t size, const char *path, char **err)
{
    DevtoolsGoma__FileBlob *meta = new_blob(DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META);
    meta->has_file_size = true;
    meta->file_size = (int64_t)size;
    size_t n = (size + GOMA_CHUNK_BYTES - 1) / GOMA_CHUNK_BYTES;
    meta->hash_key = gmb_calloc(n, sizeof *meta->hash_key);
    uint8_t *data = gmb_malloc(GOMA_CHUNK_BYTES);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * GOMA_CHUNK_BYTES, len = size - off < GOMA_CHUNK_BYTES ? size - off : GOMA_CHUNK_BYTES;
        if (!read_exact(src, data, len)) {
            gmb_fail(err, "output %s is shorter than its digest says", path);
            break;
        }
        DevtoolsGoma__FileBlob chunk = DEVTOOLS_GOMA__FILE_BLOB__INIT;
        chunk.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
        chunk.has_offset = true; /* offset 0 too: the client checks presence */
        chunk.offset = (int64_t)off;
        chunk.has_content = true;
        chunk.content.data = data;
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
            gmb_fail(err, "cannot store a chunk of output %s: %s", path, why);
            break;
        }
        meta->hash_key[meta->n_hash_key++] = gmb_strdup(key);
    }
    free(data);
    if (meta->n_hash_key < n) {
        devtools_goma__file_blob__free_unpacked(meta, NULL);
        return NULL;
    }
    return meta;
}

typedef struct {
    goma_files *files;
    cas_store *store;
    const char *instance;
    const char *mount_path;
} reader;

/* An output's bytes as the view shows them. The view gives a blob one
 * inode per (instance, digest, executable bit), so this file under cas/ is
 * the very inode that by-instance/<instance>/<action>/output/<path> shows
 * (same page cache), reached without building the action's directory: that
 * costs some small local writes per action, which a user browsing the view
 * pays, not every Exec. In-process (no mount): the store's blob, fetched
 * from Buildbarn if needed and pinned against eviction while read. false:
 * neither could be opened. */
static bool open_output(const reader *rd, const rev2_digest *d, bool executable, output_source *src)
{
    *src = (output_source){0};
    if (rd->mount_path) {
        char *file =
            gmb_format("%s/cas/%s%sblobs/sha256/%s/%s-%lld", rd->mount_path, rd->instance, *rd->instance ? "/" : "",
                       executable ? "executable" : "file", d->hash, (long long)d->size);
        src->file = fopen(file, "rb");
        free(file);
        return src->file != NULL;
    }
    int error = 0;
    src->blob = cas_store_open_blob(rd->store, rd->instance, d, &error);
    if (src->blob && cas_blob_wait(src->blob) < 0) {
        cas_blob_close(src->blob);
        src->blob = NULL;
    }
    return src->blob != NULL;
}

static void close_output(output_source *src)
{
    if (src->file)
        fclose(src->file);
    if (src->blob)
        cas_blob_close(src->blob);
}

/* One output file as a goma Output: FILE up to 2 MiB (read once, straight
 * into the answer), else FILE_META (streamed in chunks). */
static int add_output(reader *rd, DevtoolsGoma__ExecResult *res, size_t *cap, const char *path, const rev2_digest *d,
                      bool executable, char **err)
{
    output_source src;
    bool opened = open_output(rd, d, executable, &src);
    DevtoolsGoma__FileBlob *blob = NULL;
    if (opened && (size_t)d->size <= GOMA_CHUNK_BYTES) {
        uint8_t *data = gmb_malloc((size_t)d->size + 1);
        if (read_exact(&src, data, (size_t)d->size)) {
            blob = new_blob(DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE);
            blob->has_content = true; /* present even when empty */
            blob->content = (ProtobufCBinaryData){(size_t)d->size, data};
            blob->has_file_size = true;
            blob->file_size = d->size;
        } else {
            free(data);
        }
    } else if (opened) {
        blob = chunked(rd->files, &src, (size_t)d->size, path, err);
    }
    close_output(&src);
    if (!blob)
        return *err ? -1
                    : gmb_fail(err, "cannot fetch output %s from Buildbarn%s", path,
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
    o->blob = blob;
    res->output[res->n_output++] = o;
    return 0;
}

uint64_t exec_result_memory(const Rev2ActionResult *r)
{
    /* Inline bytes live three times until the answer is sent: in the
     * ExecResult, packed, and in goma's wire form; a chunked output holds
     * one chunk and its packed copy at a time. */
    uint64_t inline_bytes = 0, chunked_peak = 0;
    for (size_t i = 0; i < r->n_output_files; i++) {
        const Rev2Digest *d = r->output_files[i]->digest;
        uint64_t size = d && d->size_bytes > 0 ? (uint64_t)d->size_bytes : 0;
        if (size <= GOMA_CHUNK_BYTES)
            inline_bytes += size;
        else
            chunked_peak = 2 * GOMA_CHUNK_BYTES;
    }
    if (r->stdout_digest && r->stdout_digest->size_bytes > 0)
        inline_bytes += (uint64_t)r->stdout_digest->size_bytes;
    if (r->stderr_digest && r->stderr_digest->size_bytes > 0)
        inline_bytes += (uint64_t)r->stderr_digest->size_bytes;
    return 3 * inline_bytes + chunked_peak;
}

/* The Tree of an output directory, from the store (Buildbarn on a miss). */
static Rev2Tree *fetch_tree(void *user, const rev2_digest *td, char **err)
{
    reader *rd = user;
    uint8_t *bytes = NULL;
    if (cas_store_read_all(rd->store, rd->instance, td, &bytes) < 0) {
        gmb_fail(err, "cannot fetch its Tree from Buildbarn");
        return NULL;
    }
    Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, (size_t)td->size, bytes);
    free(bytes);
    if (!tree)
        gmb_fail(err, "its Tree does not decode");
    return tree;
}

DevtoolsGoma__ExecResult *exec_result_from_rev2(goma_files *files, cas_store *store, const char *instance,
                                                const char *mount_path, const Rev2ActionResult *r,
                                                const char *const *declared, size_t n_declared,
                                                const rev2_output_limits *limits, char **err)
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
    if (so.len) { /* handed over, not copied */
        res->has_stdout_buffer = true;
        res->stdout_buffer.data = gmb_buf_take(&so, &res->stdout_buffer.len);
    }
    if (se.len) {
        res->has_stderr_buffer = true;
        res->stderr_buffer.data = gmb_buf_take(&se, &res->stderr_buffer.len);
    }
    gmb_buf_free(&so);
    gmb_buf_free(&se);

    /* goma has no directories: each file of an output directory becomes an
     * output named <dir>/<path>, as goma's own server does; symlinks and
     * empty directories are not sent. */
    reader rd = {files, store, instance, mount_path};
    rev2_output_list outs;
    if (rev2_output_list_build(r, declared, n_declared, limits, fetch_tree, &rd, &outs, err) < 0) {
        devtools_goma__exec_result__free_unpacked(res, NULL);
        return NULL;
    }
    size_t cap = outs.n + 1;
    res->output = gmb_calloc(cap, sizeof *res->output);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < outs.n; i++)
        if (outs.items[i].kind == REV2_OUTPUT_FILE)
            rc = add_output(&rd, res, &cap, outs.items[i].path, &outs.items[i].digest, outs.items[i].executable, err);
    rev2_output_list_free(&outs);
    if (rc < 0) {
        devtools_goma__exec_result__free_unpacked(res, NULL);
        return NULL;
    }
    return res;
}
