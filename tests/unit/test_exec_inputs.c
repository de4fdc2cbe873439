/* An ExecReq's inputs resolved against the goma file index and the local
 * store (no Buildbarn): every resolved input is pinned until the Exec lets
 * it go (100 builds leave no pin behind), and a store failure (a FILE_META
 * larger than cache.max_bytes) is the server's error (not -EINVAL, so
 * never BAD_REQUEST) with the store's reason in words, while a corrupt
 * embedded blob stays the client's. A toolchain file larger than the
 * store is refused before the client is asked to send it. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "errmsg.h"
#include "exec_inputs.h"
#include "goma_wire.h"
#include "mem.h"

static char dir[] = "/tmp/gmb-inputs-XXXXXX";

static cas_store *open_store(uint64_t max_bytes)
{
    cas_store_options o = {.dir = dir, .max_bytes = max_bytes, .fetch_timeout_ms = 1000};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    if (!s)
        fprintf(stderr, "open: %s\n", err);
    return s;
}

/* A FileBlob's bytes as goma's client sends them (malloc'd, *n long). */
static uint8_t *packed(const DevtoolsGoma__FileBlob *b, size_t *n)
{
    *n = devtools_goma__file_blob__get_packed_size(b);
    uint8_t *bytes = malloc(*n + 1);
    devtools_goma__file_blob__pack(b, bytes);
    return bytes;
}

/* Packs a FileBlob and stores it; its key in key. 0 or -errno. */
static int store_blob(goma_files *f, DevtoolsGoma__FileBlob *b, char key[65])
{
    size_t n;
    uint8_t *bytes = packed(b, &n);
    const char *why = NULL;
    int rc = goma_files_store(f, bytes, n, key, &why);
    free(bytes);
    return rc;
}

/* The FILE blob of `text` (which it points into). */
static void file_blob(DevtoolsGoma__FileBlob *b, const char *text)
{
    devtools_goma__file_blob__init(b);
    b->blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    b->has_content = b->has_file_size = true;
    b->content.data = (uint8_t *)text;
    b->content.len = strlen(text);
    b->file_size = (int64_t)b->content.len;
}

static int store_file(goma_files *f, const char *text, char key[65])
{
    DevtoolsGoma__FileBlob b;
    file_blob(&b, text);
    return store_blob(f, &b, key);
}

/* An ExecReq compiling one input named by key (hash only). */
typedef struct {
    DevtoolsGoma__ExecReq req;
    DevtoolsGoma__ExecReq__Input in, *inputs[1];
    char *outputs[1];
} one_input_req;

static void one_input(one_input_req *r, char *key)
{
    devtools_goma__exec_req__init(&r->req);
    devtools_goma__exec_req__input__init(&r->in);
    r->in.filename = "a.c";
    r->in.hash_key = key;
    r->inputs[0] = &r->in;
    r->req.cwd = "/src";
    r->req.n_input = 1;
    r->req.input = r->inputs;
    r->outputs[0] = "a.o";
    r->req.n_expected_output_files = 1;
    r->req.expected_output_files = r->outputs;
}

static uint64_t timed_pins(cas_store *s)
{
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    return st.timed_pins;
}

static void inputs_pinned_then_released(void)
{
    cas_store *s = open_store(64 << 20);
    goma_files *f = goma_files_new(s);
    char key[65];
    CHECK_INT(store_file(f, "int a(void) { return 1; }\n", key), 0);
    one_input_req r;
    one_input(&r, key);
    for (int i = 0; i < 100; i++) {
        exec_inputs in;
        char *err = NULL;
        CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &in, &err), 0);
        CHECK_INT(in.n_missing, 0);
        CHECK_INT(in.n_pins, 1);
        CHECK_INT(timed_pins(s), 1); /* held while the Exec needs it */
        if (i % 2)
            exec_inputs_release_pins(&in); /* a hit answered, or the upload's handles took over */
        exec_inputs_free(&in);
        free(err);
    }
    CHECK_INT(timed_pins(s), 0);
    /* A missing key pins nothing and is reported missing. */
    char unknown[65];
    memset(unknown, 'a', 64);
    unknown[64] = '\0';
    one_input(&r, unknown);
    exec_inputs in;
    char *err = NULL;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &in, &err), 0);
    CHECK_INT(in.n_missing, 1);
    exec_inputs_free(&in);
    CHECK_INT(timed_pins(s), 0);
    goma_files_free(f);
    cas_store_close(s);
}

/* exec_inputs_build_quick (the HTTP thread's): what is held is taken
 * with one pin for the whole request; anything else says -EWOULDBLOCK
 * with nothing held and no message, for the slow build to do. */
static void quick_build_takes_only_what_is_held(void)
{
    cas_store_options o = {.dir = dir, .max_bytes = 1 << 20, .fetch_timeout_ms = 1000, .pin_timeout_ms = 1};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    CHECK(s != NULL);
    goma_files *f = goma_files_new(s);
    char key[65];
    CHECK_INT(store_file(f, "int q(void) { return 1; }\n", key), 0);
    one_input_req r;
    one_input(&r, key);
    exec_inputs quick, slow;
    CHECK_INT(exec_inputs_build_quick(f, s, &r.req, NULL, &quick, &err), 0);
    CHECK_INT(quick.n_pins, 1);
    CHECK_INT(timed_pins(s), 1);
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &slow, &err), 0);
    CHECK(rev2_digest_equal(&quick.root, &slow.root));
    exec_inputs_free(&quick);
    exec_inputs_free(&slow);
    CHECK_INT(timed_pins(s), 0);

    /* A key nobody stored: the slow build answers it missing. */
    char unknown[65];
    memset(unknown, 'b', 64);
    unknown[64] = '\0';
    one_input(&r, unknown);
    CHECK_INT(exec_inputs_build_quick(f, s, &r.req, NULL, &quick, &err), -EWOULDBLOCK);
    CHECK(err == NULL);
    CHECK_INT(timed_pins(s), 0);

    /* Known, but its content evicted since (200 KiB files through a 1 MiB
     * store, pins of 1 ms): the index still names it, the pin finds it gone. */
    one_input(&r, key);
    usleep(5000);
    for (int i = 0; i < 12; i++) {
        char *text = gmb_malloc(200 << 10), filler[65];
        memset(text, 'a' + i, (200 << 10) - 1);
        text[(200 << 10) - 1] = '\0';
        CHECK_INT(store_file(f, text, filler), 0);
        free(text);
        usleep(2000);
    }
    rev2_digest content;
    CHECK(goma_files_indexed_content(f, key, &content));
    CHECK(!cas_store_contains(s, &content));
    CHECK_INT(exec_inputs_build_quick(f, s, &r.req, NULL, &quick, &err), -EWOULDBLOCK);
    CHECK(err == NULL);
    CHECK_INT(timed_pins(s), 0);
    /* The slow build makes it again from its FileBlob, or asks for it. */
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &slow, &err), 0);
    CHECK(slow.n_missing == 1 || cas_store_contains(s, &content));
    exec_inputs_free(&slow);
    free(err);
    goma_files_free(f);
    cas_store_close(s);
}

static void store_failure_is_the_servers(void)
{
    /* Three 2 MiB chunks (pinned from their StoreFile) make a 6 MiB file
     * that can never fit in a 4 MiB store: -EFBIG from its assembly. */
    cas_store *s = open_store(4 << 20);
    goma_files *f = goma_files_new(s);
    size_t n = 3;
    char keys[3][65], *key_ptrs[3];
    uint8_t *body = malloc(GOMA_CHUNK_BYTES);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        memset(body, 'a' + (int)i, GOMA_CHUNK_BYTES);
        DevtoolsGoma__FileBlob c = DEVTOOLS_GOMA__FILE_BLOB__INIT;
        c.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
        c.has_offset = c.has_content = c.has_file_size = true;
        c.offset = (int64_t)(i * GOMA_CHUNK_BYTES);
        c.content.data = body;
        c.content.len = GOMA_CHUNK_BYTES;
        c.file_size = GOMA_CHUNK_BYTES;
        rc |= store_blob(f, &c, keys[i]);
        key_ptrs[i] = keys[i];
    }
    free(body);
    CHECK_INT(rc, 0);
    DevtoolsGoma__FileBlob meta = DEVTOOLS_GOMA__FILE_BLOB__INIT;
    meta.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META;
    meta.has_file_size = true;
    meta.file_size = (int64_t)(n * GOMA_CHUNK_BYTES);
    meta.n_hash_key = n;
    meta.hash_key = key_ptrs;
    char meta_key[65];
    CHECK_INT(store_blob(f, &meta, meta_key), 0);
    one_input_req r;
    one_input(&r, meta_key);
    exec_inputs in;
    char *err = NULL;
    rc = exec_inputs_build(f, s, &r.req, NULL, &in, &err);
    CHECK_INT(rc, -EFBIG);
    CHECK(!cas_error_is_client(rc));
    CHECK_CONTAINS(err, "input \"a.c\"");
    CHECK_CONTAINS(err, "larger than the whole content store (cache.max_bytes)");
    CHECK_INT(in.n_pins, 0);
    exec_inputs_free(&in);
    free(err);
    /* Never usable: its chunks are let go too. */
    CHECK_INT(timed_pins(s), 0);
    goma_files_free(f);
    cas_store_close(s);
}

static void corrupt_embedded_blob_is_the_clients(void)
{
    cas_store *s = open_store(64 << 20);
    goma_files *f = goma_files_new(s);
    DevtoolsGoma__FileBlob b;
    file_blob(&b, "x");
    char wrong[65];
    memset(wrong, 'b', 64);
    wrong[64] = '\0';
    one_input_req r;
    one_input(&r, wrong);
    r.in.content = &b;
    exec_inputs in;
    char *err = NULL;
    int rc = exec_inputs_build(f, s, &r.req, NULL, &in, &err);
    CHECK_INT(rc, -EINVAL);
    CHECK(cas_error_is_client(rc));
    CHECK_CONTAINS(err, "does not match its hash key");
    exec_inputs_free(&in);
    free(err);
    goma_files_free(f);
    cas_store_close(s);
}

/* A spec's input is found through the index resolve_input keeps; a spec
 * named twice still finds it, and one naming no input is refused. */
static void toolchain_specs_find_their_inputs(void)
{
    cas_store *s = open_store(64 << 20);
    goma_files *f = goma_files_new(s);
    char key[65];
    CHECK_INT(store_file(f, "#!/bin/sh\necho cc\n", key), 0);
    one_input_req r;
    one_input(&r, key);
    r.in.filename = "/opt/tc/cc";
    DevtoolsGoma__ToolchainSpec a = DEVTOOLS_GOMA__TOOLCHAIN_SPEC__INIT, b = DEVTOOLS_GOMA__TOOLCHAIN_SPEC__INIT;
    DevtoolsGoma__ToolchainSpec *specs[2] = {&a, &b};
    a.path = b.path = "/opt/tc/cc";
    r.req.has_toolchain_included = r.req.toolchain_included = true;
    r.req.n_toolchain_specs = 2;
    r.req.toolchain_specs = specs;
    for (int quick = 0; quick < 2; quick++) {
        exec_inputs in;
        char *err = NULL;
        CHECK_INT(quick ? exec_inputs_build_quick(f, s, &r.req, NULL, &in, &err)
                        : exec_inputs_build(f, s, &r.req, NULL, &in, &err),
                  0);
        CHECK_INT(in.n_toolchain, 2);
        CHECK_STR(in.argv0, ".gomabarn-toolchain/opt/tc/cc");
        exec_inputs_free(&in);
        free(err);
    }
    b.path = "/opt/tc/missing";
    exec_inputs in;
    char *err = NULL;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &in, &err), -EINVAL);
    CHECK_CONTAINS(err, "toolchain file \"/opt/tc/missing\" is in toolchain_specs but not among the inputs");
    exec_inputs_free(&in);
    free(err);
    goma_files_free(f);
    cas_store_close(s);
}

static void toolchain_file_larger_than_the_store_refused_at_once(void)
{
    /* A toolchain_included request naming a 6 MiB compiler for a 4 MiB
     * store: refused before the client is asked to send it (no missing
     * input, so no upload that could only be refused), as the server's
     * error; a spec that fits is asked for as usual. */
    cas_store *s = open_store(4 << 20);
    goma_files *f = goma_files_new(s);
    char unknown[65];
    memset(unknown, 'c', 64);
    unknown[64] = '\0';
    one_input_req r;
    one_input(&r, unknown);
    r.in.filename = "/usr/bin/big-cc";
    DevtoolsGoma__ToolchainSpec spec = DEVTOOLS_GOMA__TOOLCHAIN_SPEC__INIT, *specs[1] = {&spec};
    spec.path = "/usr/bin/big-cc";
    spec.hash = unknown;
    spec.has_size = true;
    spec.size = 6 << 20;
    r.req.has_toolchain_included = r.req.toolchain_included = true;
    r.req.n_toolchain_specs = 1;
    r.req.toolchain_specs = specs;
    exec_inputs in;
    char *err = NULL;
    int rc = exec_inputs_build(f, s, &r.req, NULL, &in, &err);
    CHECK_INT(rc, -EFBIG);
    CHECK(!cas_error_is_client(rc));
    CHECK_INT(in.n_missing, 0);
    CHECK_CONTAINS(err, "input \"/usr/bin/big-cc\" (a toolchain file of 6291456 bytes)");
    CHECK_CONTAINS(err, "larger than the whole content store (cache.max_bytes)");
    exec_inputs_free(&in);
    free(err);
    err = NULL;
    spec.size = 1 << 20;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &in, &err), 0);
    CHECK_INT(in.n_missing, 1);
    exec_inputs_free(&in);
    free(err);
    goma_files_free(f);
    cas_store_close(s);
}

/* An embedded copy of a key held already is checked against its key but
 * not stored again: the tree is the same as for the key alone; a copy
 * that lies is still refused; a key not held is stored as before. */
static void embedded_copy_of_a_held_key_is_not_stored_again(void)
{
    cas_store *s = open_store(64 << 20);
    goma_files *f = goma_files_new(s);
    char key[65];
    CHECK_INT(store_file(f, "int a;\n", key), 0);
    one_input_req r;
    one_input(&r, key);
    exec_inputs by_key;
    char *err = NULL;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &by_key, &err), 0);
    goma_files_stats before, after;
    goma_files_stats_get(f, &before);
    DevtoolsGoma__FileBlob same;
    file_blob(&same, "int a;\n");
    r.in.content = &same;
    exec_inputs embedded;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &embedded, &err), 0);
    CHECK_INT(embedded.n_missing, 0);
    CHECK_INT(embedded.n_pins, 1);
    CHECK(rev2_digest_equal(&embedded.root, &by_key.root));
    goma_files_stats_get(f, &after);
    CHECK_INT(after.stored, before.stored);
    exec_inputs_free(&embedded);
    exec_inputs_free(&by_key);
    DevtoolsGoma__FileBlob other;
    file_blob(&other, "int b;\n");
    r.in.content = &other; /* not what the held key says */
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &embedded, &err), -EINVAL);
    CHECK_CONTAINS(err, "does not match its hash key");
    exec_inputs_free(&embedded);
    free(err);
    err = NULL;
    /* A key not held: the copy is checked and stored. */
    size_t n;
    uint8_t *bytes = packed(&other, &n);
    rev2_digest other_key;
    rev2_digest_of_bytes(bytes, n, &other_key);
    free(bytes);
    one_input(&r, other_key.hash);
    r.in.content = &other;
    CHECK_INT(exec_inputs_build(f, s, &r.req, NULL, &embedded, &err), 0);
    CHECK_INT(embedded.n_missing, 0);
    goma_files_stats_get(f, &after);
    CHECK_INT(after.stored, before.stored + 1);
    exec_inputs_free(&embedded);
    free(err);
    goma_files_free(f);
    cas_store_close(s);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    RUN(inputs_pinned_then_released);
    RUN(quick_build_takes_only_what_is_held);
    RUN(store_failure_is_the_servers);
    RUN(corrupt_embedded_blob_is_the_clients);
    RUN(embedded_copy_of_a_held_key_is_not_stored_again);
    RUN(toolchain_file_larger_than_the_store_refused_at_once);
    RUN(toolchain_specs_find_their_inputs);
    char *rm = gmb_format("rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    return CHECK_REPORT();
}
