#include "bench_goma_req.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_toolchain.h"
#include "errmsg.h"
#include "goma_wire.h"
#include "http_body.h"
#include "mem.h"
#include "rev2_digest.h"

#define STORE_CHUNKS_PER_REQ 5 /* goma's client uploads at most 5 chunks per StoreFile */

typedef struct {
    char *path;
    char *link; /* a symlink's target; NULL for a file */
    bool executable;
    uint8_t *data;
    size_t size;
    rev2_digest content; /* the toolchain spec's hash and size */
    char key[65];        /* goma key of the FILE or FILE_META blob */
    char **chunk_keys;   /* FILE_META only */
    size_t n_chunks;
} tool_file;

struct bench_toolchain {
    tool_file *files;
    size_t n;
};

/* goma's key: SHA-256 of the serialized FileBlob. */
static void key_of(const DevtoolsGoma__FileBlob *b, char key[65])
{
    size_t n = devtools_goma__file_blob__get_packed_size(b);
    uint8_t *buf = gmb_malloc(n + 1);
    devtools_goma__file_blob__pack(b, buf);
    rev2_digest d;
    rev2_digest_of_bytes(buf, n, &d);
    memcpy(key, d.hash, 65);
    free(buf);
}

static void file_blob(DevtoolsGoma__FileBlob *b, const uint8_t *data, size_t size)
{
    devtools_goma__file_blob__init(b);
    b->blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    b->has_content = b->has_file_size = true;
    b->content.data = (uint8_t *)data;
    b->content.len = size;
    b->file_size = (int64_t)size;
}

/* Chunk i of a large file, as gomabarn-cc makes it (file_size: the chunk's). */
static void chunk_blob(DevtoolsGoma__FileBlob *b, const tool_file *f, size_t i)
{
    size_t off = i * GOMA_CHUNK_BYTES, len = f->size - off < GOMA_CHUNK_BYTES ? f->size - off : GOMA_CHUNK_BYTES;
    devtools_goma__file_blob__init(b);
    b->blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
    b->has_offset = b->has_content = b->has_file_size = true;
    b->offset = (int64_t)off;
    b->content.data = f->data + off;
    b->content.len = len;
    b->file_size = (int64_t)len;
}

static void meta_blob(DevtoolsGoma__FileBlob *b, const tool_file *f)
{
    devtools_goma__file_blob__init(b);
    b->blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META;
    b->has_file_size = true;
    b->file_size = (int64_t)f->size;
    b->n_hash_key = f->n_chunks;
    b->hash_key = f->chunk_keys;
}

static int load_file(tool_file *f, char **err)
{
    FILE *in = fopen(f->path, "rb");
    if (!in)
        return gmb_fail(err, "cannot open the toolchain file %s", f->path);
    gmb_buf b;
    gmb_buf_init(&b, (size_t)1 << 30);
    size_t r;
    do {
        gmb_buf_result br;
        uint8_t *dst = gmb_buf_reserve(&b, 1 << 20, &br);
        if (!dst) {
            fclose(in);
            gmb_buf_free(&b);
            return gmb_fail(err, "the toolchain file %s is larger than 1 GiB", f->path);
        }
        r = fread(dst, 1, 1 << 20, in);
        gmb_buf_commit(&b, r);
    } while (r > 0);
    bool bad = ferror(in);
    fclose(in);
    if (bad) {
        gmb_buf_free(&b);
        return gmb_fail(err, "cannot read the toolchain file %s", f->path);
    }
    f->data = gmb_buf_take(&b, &f->size);
    rev2_digest_of_bytes(f->data, f->size, &f->content);
    DevtoolsGoma__FileBlob blob;
    if (f->size <= GOMA_CHUNK_BYTES) {
        file_blob(&blob, f->data, f->size);
    } else {
        f->n_chunks = (f->size + GOMA_CHUNK_BYTES - 1) / GOMA_CHUNK_BYTES;
        f->chunk_keys = gmb_calloc(f->n_chunks, sizeof *f->chunk_keys);
        for (size_t i = 0; i < f->n_chunks; i++) {
            DevtoolsGoma__FileBlob c;
            chunk_blob(&c, f, i);
            f->chunk_keys[i] = gmb_malloc(65);
            key_of(&c, f->chunk_keys[i]);
        }
        meta_blob(&blob, f);
    }
    key_of(&blob, f->key);
    return 0;
}

bench_toolchain *bench_toolchain_load(const char *compiler, char **err)
{
    size_t n = 0;
    cc_tool_file *tools = cc_toolchain_files(compiler, false, &n);
    if (!tools) {
        *err = gmb_format("cannot find the compiler %s and its helpers", compiler);
        return NULL;
    }
    bench_toolchain *t = gmb_calloc(1, sizeof *t);
    t->files = gmb_calloc(n + 1, sizeof *t->files);
    for (size_t i = 0; i < n; i++) {
        tool_file *f = &t->files[t->n++];
        f->path = gmb_strdup(tools[i].path);
        f->link = tools[i].link ? gmb_strdup(tools[i].link) : NULL;
        f->executable = tools[i].executable;
        if (!f->link && load_file(f, err) < 0) {
            cc_toolchain_free(tools, n);
            bench_toolchain_free(t);
            return NULL;
        }
    }
    cc_toolchain_free(tools, n);
    return t;
}

void bench_toolchain_free(bench_toolchain *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        tool_file *f = &t->files[i];
        free(f->path);
        free(f->link);
        free(f->data);
        for (size_t k = 0; k < f->n_chunks; k++)
            free(f->chunk_keys[k]);
        free(f->chunk_keys);
    }
    free(t->files);
    free(t);
}

size_t bench_toolchain_count(const bench_toolchain *t, uint64_t *bytes)
{
    *bytes = 0;
    for (size_t i = 0; i < t->n; i++)
        *bytes += t->files[i].size;
    return t->n;
}

const char *bench_toolchain_path(const bench_toolchain *t, size_t i, uint64_t *size)
{
    *size = t->files[i].size;
    return t->files[i].path;
}

/* One StoreFile of n blobs; each answered key must be the one expected. */
static int store_blobs(bench_http *c, DevtoolsGoma__FileBlob *blobs, size_t n, const char *what, char **err)
{
    DevtoolsGoma__FileBlob **ptrs = gmb_calloc(n, sizeof *ptrs);
    char(*want)[65] = gmb_calloc(n, sizeof *want);
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = &blobs[i];
        key_of(&blobs[i], want[i]);
    }
    DevtoolsGoma__StoreFileReq req = DEVTOOLS_GOMA__STORE_FILE_REQ__INIT;
    req.n_blob = n;
    req.blob = ptrs;
    size_t len = devtools_goma__store_file_req__get_packed_size(&req);
    uint8_t *body = gmb_malloc(len);
    devtools_goma__store_file_req__pack(&req, body);
    gmb_buf out;
    gmb_buf_init(&out, 1 << 20);
    int status = bench_http_post(c, BENCH_GOMA_PREFIX "/s", body, len, NULL, &out);
    free(body);
    free(ptrs);
    DevtoolsGoma__StoreFileResp *resp =
        status == 200 ? devtools_goma__store_file_resp__unpack(NULL, out.len, out.data) : NULL;
    int rc = 0;
    if (status < 0)
        rc = gmb_fail(err, "StoreFile of %s: %s", what, bench_http_error(c));
    else if (!resp)
        rc = gmb_fail(err, "StoreFile of %s: HTTP %d, %.*s", what, status, (int)(out.len < 200 ? out.len : 200),
                      out.data ? (const char *)out.data : "");
    else if (resp->n_hash_key != n)
        rc = gmb_fail(err, "StoreFile of %s: %zu keys answered for %zu blobs", what, resp->n_hash_key, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (strcmp(resp->hash_key[i], want[i]) != 0)
            rc = gmb_fail(err, "StoreFile of %s: blob %zu refused (key \"%s\")", what, i, resp->hash_key[i]);
    if (resp)
        devtools_goma__store_file_resp__free_unpacked(resp, NULL);
    gmb_buf_free(&out);
    free(want);
    return rc;
}

int bench_toolchain_store(const bench_toolchain *t, bench_http *c, char **err)
{
    for (size_t i = 0; i < t->n; i++) {
        const tool_file *f = &t->files[i];
        if (f->link)
            continue;
        DevtoolsGoma__FileBlob blobs[STORE_CHUNKS_PER_REQ];
        if (f->n_chunks == 0) {
            file_blob(&blobs[0], f->data, f->size);
            if (store_blobs(c, blobs, 1, f->path, err) < 0)
                return -1;
            continue;
        }
        for (size_t first = 0; first < f->n_chunks; first += STORE_CHUNKS_PER_REQ) {
            size_t k = f->n_chunks - first < STORE_CHUNKS_PER_REQ ? f->n_chunks - first : STORE_CHUNKS_PER_REQ;
            for (size_t j = 0; j < k; j++)
                chunk_blob(&blobs[j], f, first + j);
            if (store_blobs(c, blobs, k, f->path, err) < 0)
                return -1;
        }
        meta_blob(&blobs[0], f);
        if (store_blobs(c, blobs, 1, f->path, err) < 0)
            return -1;
    }
    return 0;
}

static uint8_t *build_req(const char *input_name, const char *input_content, char **args, size_t n_args, char *output,
                          const bench_toolchain *t, size_t *len)
{
    DevtoolsGoma__FileBlob blob;
    file_blob(&blob, (const uint8_t *)input_content, strlen(input_content));
    char key[65];
    key_of(&blob, key);
    size_t n_tools = t ? t->n : 0;
    DevtoolsGoma__ExecReq__Input *ins = gmb_calloc(n_tools + 1, sizeof *ins);
    DevtoolsGoma__ExecReq__Input **inp = gmb_calloc(n_tools + 1, sizeof *inp);
    DevtoolsGoma__ToolchainSpec *specs = gmb_calloc(n_tools + 1, sizeof *specs);
    DevtoolsGoma__ToolchainSpec **specp = gmb_calloc(n_tools + 1, sizeof *specp);
    size_t n_in = 0;
    devtools_goma__exec_req__input__init(&ins[0]);
    ins[0].filename = (char *)input_name;
    ins[0].hash_key = key;
    ins[0].content = &blob;
    inp[n_in++] = &ins[0];
    for (size_t i = 0; i < n_tools; i++) {
        const tool_file *f = &t->files[i];
        DevtoolsGoma__ToolchainSpec *sp = &specs[i];
        devtools_goma__toolchain_spec__init(sp);
        sp->path = f->path;
        sp->has_is_executable = true;
        sp->is_executable = f->executable;
        specp[i] = sp;
        if (f->link) {
            sp->symlink_path = f->link;
            continue;
        }
        sp->hash = (char *)f->content.hash;
        sp->has_size = true;
        sp->size = f->content.size;
        DevtoolsGoma__ExecReq__Input *in = &ins[n_in];
        devtools_goma__exec_req__input__init(in);
        in->filename = f->path;
        in->hash_key = (char *)f->key; /* by key only: stored with StoreFile */
        inp[n_in++] = in;
    }
    DevtoolsGoma__CommandSpec spec = DEVTOOLS_GOMA__COMMAND_SPEC__INIT;
    spec.name = args[0];
    DevtoolsGoma__ExecReq req = DEVTOOLS_GOMA__EXEC_REQ__INIT;
    req.command_spec = &spec;
    req.n_arg = n_args;
    req.arg = args;
    req.cwd = "/tmp/gomabarn-bench";
    req.n_input = n_in;
    req.input = inp;
    req.n_expected_output_files = 1;
    req.expected_output_files = &output;
    if (n_tools) {
        req.has_toolchain_included = req.toolchain_included = true;
        req.n_toolchain_specs = n_tools;
        req.toolchain_specs = specp;
    }
    size_t n = devtools_goma__exec_req__get_packed_size(&req);
    uint8_t *flat = gmb_malloc(n + 1);
    devtools_goma__exec_req__pack(&req, flat);
    free(ins);
    free(inp);
    free(specs);
    free(specp);
    gmb_buf wire;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    const char *why;
    goma_messages_to_groups(GOMA_MSG_EXEC_REQ, flat, n, &wire, &why);
    free(flat);
    return gmb_buf_take(&wire, len);
}

uint8_t *bench_exec_req(const char *input_name, const char *input_content, char **args, size_t n_args, char *output,
                        size_t *len)
{
    return build_req(input_name, input_content, args, n_args, output, NULL, len);
}

uint8_t *bench_exec_req_toolchain(const char *input_name, const char *input_content, char **args, size_t n_args,
                                  char *output, const bench_toolchain *t, size_t *len)
{
    return build_req(input_name, input_content, args, n_args, output, t, len);
}

uint8_t *bench_gzip(const uint8_t *body, size_t len, size_t *gz_len)
{
    gmb_buf gz;
    gmb_buf_init(&gz, GMB_BUF_UNLIMITED);
    if (http_body_gzip(body, len, &gz) < 0) {
        fprintf(stderr, "bench: cannot gzip a request body\n");
        abort();
    }
    return gmb_buf_take(&gz, gz_len);
}

DevtoolsGoma__ExecResp *bench_exec_on(bench_http *c, const uint8_t *gz, size_t gz_len, const char **why)
{
    gmb_buf out, flat;
    gmb_buf_init(&out, 256u << 20);
    gmb_buf_init(&flat, GMB_BUF_UNLIMITED);
    int status = bench_http_post(c, BENCH_GOMA_PREFIX "/e", gz, gz_len, "gzip", &out);
    DevtoolsGoma__ExecResp *resp = NULL;
    *why = status < 0 ? bench_http_error(c) : status != 200 ? "the gateway answered an HTTP error" : NULL;
    if (status == 200 && goma_groups_to_messages(GOMA_MSG_EXEC_RESP, out.data, out.len, &flat, why) == 0) {
        resp = devtools_goma__exec_resp__unpack(NULL, flat.len, flat.data);
        if (!resp)
            *why = "the gateway's answer is not an ExecResp";
    }
    gmb_buf_free(&out);
    gmb_buf_free(&flat);
    return resp;
}

DevtoolsGoma__ExecResp *bench_exec(int port, const uint8_t *req, size_t len)
{
    size_t gz_len;
    uint8_t *gz = bench_gzip(req, len, &gz_len);
    bench_http *c = bench_http_new("127.0.0.1", port, 600 * 1000, false);
    const char *why;
    DevtoolsGoma__ExecResp *resp = bench_exec_on(c, gz, gz_len, &why);
    bench_http_free(c);
    free(gz);
    return resp;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}
