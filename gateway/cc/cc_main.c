/* gomabarn-cc: a goma client for make and friends.
 *
 *   CC="gomabarn-cc gcc" make
 *
 * A compile (-c) of one source file goes to the gomabarn gateway over the
 * goma protocol: inputs come from the compiler's own dependency output
 * (-M), files travel with goma's hash keys (small or requested ones
 * embedded, the rest by key, files over 2 MiB as StoreFile chunks),
 * missing inputs are re-sent, outputs are written back (large ones fetched
 * with LookupFile) and the dependency file (-MD/-MMD) is written from the
 * -M output. Anything else (links, -E, several sources) runs locally, and
 * so does a compile the gateway cannot do when GOMABARN_FALLBACK is on.
 *
 * Environment: GOMABARN_SERVER (host:port, default 127.0.0.1:5050),
 * GOMABARN_PATH_PREFIX (/cxx-compiler-service), GOMABARN_TOKEN_FILE
 * (a file with the bearer token), GOMABARN_INSTANCE (instance name for this
 * compile), GOMABARN_FALLBACK (1: compile locally when the gateway fails;
 * default 1), GOMABARN_VERBOSE (1: say what happens),
 * GOMABARN_TOOLCHAIN_INCLUDED (1: ship the compiler too, as goma's client
 * does with GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true; cc_toolchain.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_args.h"
#include "cc_http.h"
#include "cc_toolchain.h"
#include "errmsg.h"
#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"
#include "rev2_digest.h"
#include "mem.h"

#define EMBED_BELOW 512 /* goma embeds small files on the first try */
#define MAX_TRIES 5

static bool verbose;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (!verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gomabarn-cc: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int run_local(char **argv)
{
    execvp(argv[0], argv);
    fprintf(stderr, "gomabarn-cc: cannot run %s: %s\n", argv[0], strerror(errno));
    return 127;
}

/* ---- goma blobs ---- */

typedef struct {
    char *name; /* as given to the compiler (relative to cwd or absolute) */
    uint8_t *data;
    size_t size;
    DevtoolsGoma__FileBlob blob; /* FILE, or FILE_META for large files */
    char **chunk_keys;
    char key[65];
} input_file;

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

static bool load_input(input_file *in)
{
    FILE *f = fopen(in->name, "rb");
    if (!f)
        return false;
    struct stat st;
    fstat(fileno(f), &st);
    in->size = (size_t)st.st_size;
    in->data = gmb_malloc(in->size + 1);
    bool ok = fread(in->data, 1, in->size, f) == in->size;
    fclose(f);
    devtools_goma__file_blob__init(&in->blob);
    in->blob.has_file_size = true;
    in->blob.file_size = (int64_t)in->size;
    if (in->size <= GOMA_CHUNK_BYTES) {
        in->blob.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
        in->blob.has_content = true;
        in->blob.content.data = in->data;
        in->blob.content.len = in->size;
    } else {
        in->blob.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META;
        size_t nc = (in->size + GOMA_CHUNK_BYTES - 1) / GOMA_CHUNK_BYTES;
        in->chunk_keys = gmb_calloc(nc, sizeof *in->chunk_keys);
        for (size_t i = 0; i < nc; i++) {
            DevtoolsGoma__FileBlob c = DEVTOOLS_GOMA__FILE_BLOB__INIT;
            c.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
            c.has_offset = true;
            c.offset = (int64_t)(i * GOMA_CHUNK_BYTES);
            c.has_content = true;
            c.content.data = in->data + i * GOMA_CHUNK_BYTES;
            c.content.len =
                in->size - i * GOMA_CHUNK_BYTES < GOMA_CHUNK_BYTES ? in->size - i * GOMA_CHUNK_BYTES : GOMA_CHUNK_BYTES;
            c.has_file_size = true;
            c.file_size = (int64_t)c.content.len;
            in->chunk_keys[i] = gmb_malloc(65);
            key_of(&c, in->chunk_keys[i]);
        }
        in->blob.n_hash_key = nc;
        in->blob.hash_key = in->chunk_keys;
    }
    key_of(&in->blob, in->key);
    return ok;
}

/* StoreFile of a large file's chunks, at most 5 per request as goma does. */
static bool store_chunks(const cc_http_target *t, const char *prefix, const input_file *in)
{
    size_t nc = in->blob.n_hash_key;
    for (size_t first = 0; first < nc; first += 5) {
        size_t k = nc - first < 5 ? nc - first : 5;
        DevtoolsGoma__FileBlob *blobs = gmb_calloc(k, sizeof *blobs), **ptrs = gmb_calloc(k, sizeof *ptrs);
        for (size_t i = 0; i < k; i++) {
            size_t idx = first + i;
            devtools_goma__file_blob__init(&blobs[i]);
            blobs[i].blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
            blobs[i].has_offset = true;
            blobs[i].offset = (int64_t)(idx * GOMA_CHUNK_BYTES);
            blobs[i].has_content = true;
            blobs[i].content.data = in->data + idx * GOMA_CHUNK_BYTES;
            blobs[i].content.len = in->size - idx * GOMA_CHUNK_BYTES < GOMA_CHUNK_BYTES
                                       ? in->size - idx * GOMA_CHUNK_BYTES
                                       : GOMA_CHUNK_BYTES;
            blobs[i].has_file_size = true;
            blobs[i].file_size = (int64_t)blobs[i].content.len;
            ptrs[i] = &blobs[i];
        }
        DevtoolsGoma__StoreFileReq req = DEVTOOLS_GOMA__STORE_FILE_REQ__INIT;
        req.n_blob = k;
        req.blob = ptrs;
        size_t n = devtools_goma__store_file_req__get_packed_size(&req);
        uint8_t *body = gmb_malloc(n);
        devtools_goma__store_file_req__pack(&req, body);
        gmb_buf out;
        gmb_buf_init(&out, 1 << 20);
        const char *why = "";
        char *path = gmb_format("%s/s", prefix);
        int status = cc_http_post(t, path, body, n, &out, &why);
        free(path);
        free(body);
        free(blobs);
        free(ptrs);
        gmb_buf_free(&out);
        if (status != 200) {
            fprintf(stderr, "gomabarn-cc: StoreFile of %s failed (%s)\n", in->name, status < 0 ? why : "HTTP error");
            return false;
        }
    }
    return true;
}

/* ---- outputs ---- */

static uint8_t *lookup_chunks(const cc_http_target *t, const char *prefix, const DevtoolsGoma__FileBlob *meta)
{
    uint8_t *data = gmb_malloc((size_t)meta->file_size + 1);
    size_t have = 0;
    for (size_t first = 0; first < meta->n_hash_key; first += 5) {
        size_t k = meta->n_hash_key - first < 5 ? meta->n_hash_key - first : 5;
        DevtoolsGoma__LookupFileReq req = DEVTOOLS_GOMA__LOOKUP_FILE_REQ__INIT;
        req.n_hash_key = k;
        req.hash_key = meta->hash_key + first;
        size_t n = devtools_goma__lookup_file_req__get_packed_size(&req);
        uint8_t *body = gmb_malloc(n);
        devtools_goma__lookup_file_req__pack(&req, body);
        gmb_buf out;
        gmb_buf_init(&out, 64u << 20);
        const char *why = "";
        char *path = gmb_format("%s/l", prefix);
        int status = cc_http_post(t, path, body, n, &out, &why);
        free(path);
        free(body);
        DevtoolsGoma__LookupFileResp *resp =
            status == 200 ? devtools_goma__lookup_file_resp__unpack(NULL, out.len, out.data) : NULL;
        gmb_buf_free(&out);
        bool ok = resp && resp->n_blob == k;
        for (size_t i = 0; ok && i < k; i++) {
            const DevtoolsGoma__FileBlob *b = resp->blob[i];
            ok = b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK && b->has_content &&
                 have + b->content.len <= (size_t)meta->file_size;
            if (ok) {
                memcpy(data + have, b->content.data, b->content.len);
                have += b->content.len;
            }
        }
        if (resp)
            devtools_goma__lookup_file_resp__free_unpacked(resp, NULL);
        if (!ok) {
            free(data);
            return NULL;
        }
    }
    if (have != (size_t)meta->file_size) {
        free(data);
        return NULL;
    }
    return data;
}

static bool write_file(const char *name, const uint8_t *data, size_t n, bool exec)
{
    char *tmp = gmb_format("%s.gomabarn-cc-tmp", name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, exec ? 0777 : 0666);
    bool ok = fd >= 0 && (n == 0 || write(fd, data, n) == (ssize_t)n) && close(fd) == 0 && rename(tmp, name) == 0;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok;
}

/* ---- one compile through the gateway ---- */

/* One try's ExecReq, serialized (*n bytes); embed says which inputs travel with their content. */
static uint8_t *pack_exec_req(const compile_args *c, const char *compiler, input_file *inputs, size_t n_files,
                              const bool *embed, char *cwd, DevtoolsGoma__ToolchainSpec **specs, size_t n_specs,
                              int attempt, size_t *n)
{
    DevtoolsGoma__ExecReq req = DEVTOOLS_GOMA__EXEC_REQ__INIT;
    DevtoolsGoma__CommandSpec spec = DEVTOOLS_GOMA__COMMAND_SPEC__INIT;
    char *cname = gmb_strdup(compiler);
    spec.name = basename(cname);
    req.command_spec = &spec;
    req.n_arg = c->n_remote;
    req.arg = c->remote;
    req.cwd = cwd;
    char *out_name = (char *)c->output;
    req.n_expected_output_files = 1;
    req.expected_output_files = &out_name;
    DevtoolsGoma__RequesterInfo info = DEVTOOLS_GOMA__REQUESTER_INFO__INIT;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    char *id = gmb_format("gomabarn-cc@%s/%d/%s", host, (int)getpid(), c->output);
    info.compiler_proxy_id = id;
    info.has_api_version = true;
    info.api_version = 2;
    info.has_retry = true;
    info.retry = attempt;
    req.requester_info = &info;
    DevtoolsGoma__ExecReq__Input *ins = gmb_calloc(n_files + 1, sizeof *ins);
    DevtoolsGoma__ExecReq__Input **inp = gmb_calloc(n_files + 1, sizeof *inp);
    for (size_t i = 0; i < n_files; i++) {
        devtools_goma__exec_req__input__init(&ins[i]);
        ins[i].filename = inputs[i].name;
        ins[i].hash_key = inputs[i].key;
        if (embed[i])
            ins[i].content = &inputs[i].blob;
        inp[i] = &ins[i];
    }
    req.n_input = n_files;
    req.input = inp;
    if (n_specs) {
        req.has_toolchain_included = true;
        req.toolchain_included = true;
        req.n_toolchain_specs = n_specs;
        req.toolchain_specs = specs;
    }
    *n = devtools_goma__exec_req__get_packed_size(&req);
    uint8_t *flat = gmb_malloc(*n);
    devtools_goma__exec_req__pack(&req, flat);
    free(ins);
    free(inp);
    free(id);
    free(cname);
    return flat;
}

/* POSTs one serialized ExecReq in goma's groups; the answer, or NULL (the reason printed). */
static DevtoolsGoma__ExecResp *post_exec_req(const cc_http_target *t, const char *prefix, const uint8_t *flat, size_t n)
{
    gmb_buf wire, out;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    gmb_buf_init(&out, 1u << 30);
    const char *why = "";
    goma_messages_to_groups(GOMA_MSG_EXEC_REQ, flat, n, &wire, &why);
    char *path = gmb_format("%s/e", prefix);
    int status = cc_http_post(t, path, wire.data, wire.len, &out, &why);
    free(path);
    gmb_buf_free(&wire);
    if (status != 200) {
        fprintf(stderr, "gomabarn-cc: the gateway failed: %s\n",
                status < 0 ? why : (out.len ? (const char *)out.data : "HTTP error"));
        gmb_buf_free(&out);
        return NULL;
    }
    gmb_buf flatresp;
    gmb_buf_init(&flatresp, GMB_BUF_UNLIMITED);
    DevtoolsGoma__ExecResp *resp = NULL;
    if (goma_groups_to_messages(GOMA_MSG_EXEC_RESP, out.data, out.len, &flatresp, &why) == 0)
        resp = devtools_goma__exec_resp__unpack(NULL, flatresp.len, flatresp.data);
    gmb_buf_free(&flatresp);
    gmb_buf_free(&out);
    if (!resp)
        fprintf(stderr, "gomabarn-cc: the gateway's answer is not an ExecResp\n");
    return resp;
}

/* Marks the inputs the gateway misses to be sent again with content, storing big ones' chunks first; false if a
 * StoreFile failed. */
static bool embed_missing(const cc_http_target *t, const char *prefix, const DevtoolsGoma__ExecResp *resp,
                          input_file *inputs, size_t n_files, bool *embed)
{
    bool ok = true;
    for (size_t m = 0; m < resp->n_missing_input; m++)
        for (size_t i = 0; i < n_files; i++)
            if (strcmp(resp->missing_input[m], inputs[i].name) == 0) {
                embed[i] = true;
                if (inputs[i].blob.blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META)
                    ok &= store_chunks(t, prefix, &inputs[i]);
            }
    return ok;
}

/* Copies the compiler's stdout and stderr to ours and writes its outputs (large ones fetched with LookupFile); its
 * exit status, or -1 when an output cannot be written. */
static int take_result(const cc_http_target *t, const char *prefix, const DevtoolsGoma__ExecResult *r)
{
    if (r->has_stdout_buffer)
        fwrite(r->stdout_buffer.data, 1, r->stdout_buffer.len, stdout);
    if (r->has_stderr_buffer)
        fwrite(r->stderr_buffer.data, 1, r->stderr_buffer.len, stderr);
    int result = r->exit_status;
    for (size_t o = 0; o < r->n_output && result >= 0; o++) {
        const DevtoolsGoma__ExecResult__Output *out_file = r->output[o];
        const DevtoolsGoma__FileBlob *b = out_file->blob;
        uint8_t *data = NULL;
        size_t size = 0;
        if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE) {
            data = b->content.data;
            size = b->content.len;
        } else if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META) {
            data = lookup_chunks(t, prefix, b);
            size = (size_t)b->file_size;
        }
        if (!data || !write_file(out_file->filename, data, size, out_file->is_executable)) {
            fprintf(stderr, "gomabarn-cc: cannot write output %s\n", out_file->filename);
            result = -1;
        }
        if (data && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META)
            free(data);
    }
    return result;
}

/* Exec requests until the gateway answers with a result (missing inputs
 * are sent again, with content). 0..255, or -1 when the gateway failed. */
static int exec_with_retries(const cc_http_target *t, const char *prefix, const compile_args *c, const char *compiler,
                             input_file *inputs, size_t n_files, bool *embed, char *cwd,
                             DevtoolsGoma__ToolchainSpec **specs, size_t n_specs)
{
    int result = -1;
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
        size_t n;
        uint8_t *flat = pack_exec_req(c, compiler, inputs, n_files, embed, cwd, specs, n_specs, attempt, &n);
        DevtoolsGoma__ExecResp *resp = post_exec_req(t, prefix, flat, n);
        free(flat);
        if (!resp)
            break;
        if (resp->n_missing_input) {
            bool ok = embed_missing(t, prefix, resp, inputs, n_files, embed);
            say("%zu inputs missing on the gateway; sending them", resp->n_missing_input);
            devtools_goma__exec_resp__free_unpacked(resp, NULL);
            if (!ok)
                break;
            continue;
        }
        if (resp->n_error_message || !resp->result) {
            for (size_t m = 0; m < resp->n_error_message; m++)
                fprintf(stderr, "gomabarn-cc: %s\n", resp->error_message[m]);
            devtools_goma__exec_resp__free_unpacked(resp, NULL);
            break;
        }
        result = take_result(t, prefix, resp->result);
        say("%s compiled on the gateway%s (exit %d)", c->source,
            resp->has_cache_hit && resp->cache_hit ? ", from the cache" : "", result);
        devtools_goma__exec_resp__free_unpacked(resp, NULL);
        break;
    }
    return result;
}

/* The compiler's own files as inputs and toolchain specs (goma's
 * toolchain_included). Appends to inputs/embed; returns the specs. */
static DevtoolsGoma__ToolchainSpec **toolchain_inputs(const char *compiler, const char *source, input_file **inputs,
                                                      bool **embed, size_t *n_files, size_t *n_specs, bool *ready)
{
    size_t n_tools = 0;
    const char *dot = strrchr(source, '.');
    bool cxx = strstr(compiler, "++") || (dot && (strcmp(dot, ".cc") == 0 || strcmp(dot, ".cpp") == 0 ||
                                                  strcmp(dot, ".cxx") == 0 || strcmp(dot, ".C") == 0));
    cc_tool_file *tools = cc_toolchain_files(compiler, cxx, &n_tools);
    *n_specs = 0;
    if (!tools) {
        *ready = false;
        return NULL;
    }
    DevtoolsGoma__ToolchainSpec **specs = gmb_calloc(n_tools + 1, sizeof *specs);
    *inputs = gmb_realloc(*inputs, (*n_files + n_tools + 1) * sizeof **inputs);
    *embed = gmb_realloc(*embed, (*n_files + n_tools + 1) * sizeof **embed);
    for (size_t i = 0; i < n_tools; i++) {
        DevtoolsGoma__ToolchainSpec *sp = gmb_calloc(1, sizeof *sp);
        devtools_goma__toolchain_spec__init(sp);
        sp->path = gmb_strdup(tools[i].path);
        sp->has_is_executable = true;
        sp->is_executable = tools[i].executable;
        if (tools[i].link) {
            sp->symlink_path = gmb_strdup(tools[i].link);
        } else {
            input_file *in = &(*inputs)[*n_files];
            memset(in, 0, sizeof *in);
            in->name = gmb_strdup(tools[i].path);
            if (!load_input(in)) {
                fprintf(stderr, "gomabarn-cc: cannot read toolchain file %s\n", in->name);
                *ready = false;
            }
            rev2_digest d;
            rev2_digest_of_bytes(in->data, in->size, &d);
            sp->hash = gmb_strdup(d.hash);
            sp->has_size = true;
            sp->size = d.size;
            (*embed)[*n_files] = false; /* by key; sent when the gateway asks */
            (*n_files)++;
        }
        specs[(*n_specs)++] = sp;
    }
    say("toolchain_included: %zu toolchain entries, the first %s", *n_specs, tools[0].path);
    cc_toolchain_free(tools, n_tools);
    return specs;
}

static void toolchain_specs_free(DevtoolsGoma__ToolchainSpec **specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(specs[i]->path);
        free(specs[i]->hash);
        free(specs[i]->symlink_path);
        free(specs[i]);
    }
    free(specs);
}

/* 0..255: the compiler's exit status; -1: the gateway failed (message printed). */
static int remote_compile(const cc_http_target *t, const char *prefix, const compile_args *c, const char *compiler)
{
    char *rule = cc_args_dependencies(c);
    if (!rule) {
        say("the compiler could not list dependencies; compiling locally");
        return -1;
    }
    size_t n_files;
    char **names = cc_rule_files(rule, &n_files);
    input_file *inputs = gmb_calloc(n_files + 1, sizeof *inputs);
    bool *embed = gmb_calloc(n_files + 1, sizeof *embed);
    bool ready = true;
    for (size_t i = 0; i < n_files; i++) {
        inputs[i].name = names[i];
        if (!load_input(&inputs[i])) {
            fprintf(stderr, "gomabarn-cc: cannot read input %s\n", names[i]);
            ready = false;
        }
        embed[i] = inputs[i].size < EMBED_BELOW; /* goma embeds small files at once */
    }
    size_t n_specs = 0;
    DevtoolsGoma__ToolchainSpec **specs = NULL;
    const char *tc = getenv("GOMABARN_TOOLCHAIN_INCLUDED");
    if (ready && tc && strcmp(tc, "0") != 0)
        specs = toolchain_inputs(compiler, c->source, &inputs, &embed, &n_files, &n_specs, &ready);
    char cwd[4096];
    int result = -1;
    if (ready && getcwd(cwd, sizeof cwd))
        result = exec_with_retries(t, prefix, c, compiler, inputs, n_files, embed, cwd, specs, n_specs);
    toolchain_specs_free(specs, n_specs);
    /* The dependency file, as the compiler would have written it. */
    if (result == 0 && c->dep_file) {
        if (!write_file(c->dep_file, (const uint8_t *)rule, strlen(rule), false))
            fprintf(stderr, "gomabarn-cc: cannot write %s\n", c->dep_file);
    }
    free(embed);
    for (size_t i = 0; i < n_files; i++) {
        free(inputs[i].name);
        free(inputs[i].data);
        for (size_t k = 0; inputs[i].chunk_keys && k < inputs[i].blob.n_hash_key; k++)
            free(inputs[i].chunk_keys[k]);
        free(inputs[i].chunk_keys);
    }
    free(inputs);
    free(names);
    free(rule);
    return result;
}

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return strncmp(line, "Bearer ", 7) == 0 ? gmb_strdup(line) : gmb_format("Bearer %s", line);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: gomabarn-cc COMPILER [ARGS...]   e.g. CC=\"gomabarn-cc gcc\" make\n"
                "Compiles through the gomabarn gateway (goma protocol); anything but a\n"
                "compile of one source runs locally. Environment: GOMABARN_SERVER\n"
                "(host:port, default 127.0.0.1:5050), GOMABARN_PATH_PREFIX, GOMABARN_TOKEN_FILE,\n"
                "GOMABARN_INSTANCE, GOMABARN_FALLBACK (default 1), GOMABARN_VERBOSE,\n"
                "GOMABARN_TOOLCHAIN_INCLUDED (1: send the compiler, cc1 and as as inputs with\n"
                "toolchain specs, like goma's GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true).\n");
        return argc < 2 ? 2 : 0;
    }
    verbose = getenv("GOMABARN_VERBOSE") && strcmp(getenv("GOMABARN_VERBOSE"), "0") != 0;
    char **cmd = argv + 1;
    compile_args c;
    if (!cc_args_parse(argc - 1, cmd, &c)) {
        say("not a single compile: running %s locally", cmd[0]);
        cc_args_free(&c);
        return run_local(cmd);
    }
    const char *server = getenv("GOMABARN_SERVER") ? getenv("GOMABARN_SERVER") : "127.0.0.1:5050";
    char *host = gmb_strdup(server);
    char *colon = strrchr(host, ':');
    int port = 5050;
    if (colon) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    cc_http_target t = {.host = host, .port = port, .instance = getenv("GOMABARN_INSTANCE"), .timeout_s = 900};
    char *auth = getenv("GOMABARN_TOKEN_FILE") ? read_token(getenv("GOMABARN_TOKEN_FILE")) : NULL;
    t.authorization = auth;
    const char *prefix = getenv("GOMABARN_PATH_PREFIX") ? getenv("GOMABARN_PATH_PREFIX") : "/cxx-compiler-service";
    int rc = remote_compile(&t, prefix, &c, cmd[0]);
    free(host);
    free(auth);
    char *source = gmb_strdup(c.source);
    cc_args_free(&c);
    if (rc >= 0) {
        free(source);
        return rc;
    }
    const char *fb = getenv("GOMABARN_FALLBACK");
    if (fb && strcmp(fb, "0") == 0) {
        fprintf(stderr, "gomabarn-cc: the compile of %s did not go through, and GOMABARN_FALLBACK=0\n", source);
        free(source);
        return 1;
    }
    fprintf(stderr, "gomabarn-cc: compiling %s locally instead\n", source);
    free(source);
    return run_local(cmd);
}
