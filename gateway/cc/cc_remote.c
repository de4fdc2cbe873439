#include "cc_remote.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_log.h"
#include "cc_toolchain.h"
#include "errmsg.h"
#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"
#include "mem.h"
#include "rev2_digest.h"

#define EMBED_BELOW 512 /* goma embeds small files on the first try */
#define MAX_TRIES 5

struct cc_remote_answer {
    DevtoolsGoma__ExecResp *resp; /* with a result */
    uint8_t **fetched;            /* per output: a FILE_META's content from LookupFile, else NULL */
    char *rule;                   /* the -M rule, written as the dependency file */
};

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
static bool store_chunks(const http_client_target *t, const char *prefix, const input_file *in, char **why)
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
        const char *hwhy = "";
        char *path = gmb_format("%s/s", prefix);
        int status = http_client_post(t, path, body, n, &out, &hwhy);
        free(path);
        free(body);
        free(blobs);
        free(ptrs);
        gmb_buf_free(&out);
        if (status != 200) {
            *why = status < 0 ? gmb_format("sending %s (StoreFile): %s", in->name, hwhy)
                              : gmb_format("sending %s (StoreFile): the gateway answered HTTP %d", in->name, status);
            return false;
        }
    }
    return true;
}

/* ---- outputs ---- */

static uint8_t *lookup_chunks(const http_client_target *t, const char *prefix, const DevtoolsGoma__FileBlob *meta,
                              char **why)
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
        const char *hwhy = "";
        char *path = gmb_format("%s/l", prefix);
        int status = http_client_post(t, path, body, n, &out, &hwhy);
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
            *why = status < 0 ? gmb_format("fetching an output (LookupFile): %s", hwhy)
                              : gmb_strdup("fetching an output (LookupFile): the gateway's answer is unusable");
            free(data);
            return NULL;
        }
    }
    if (have != (size_t)meta->file_size) {
        *why = gmb_strdup("fetching an output (LookupFile): its chunks do not add up to its size");
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
/* The request's compiler_proxy id, as goma's client makes them:
 * "<who>/<build>/<request>". The gateway groups a build's requests by
 * what comes before the last '/' (its /build page), so <build> is
 * GOMABARN_BUILD_ID, else the parent process (the make that runs this
 * compile), and the output's own slashes become ':'. */
static char *slashes_to_colons(char *s)
{
    for (char *p = s; (p = strchr(p, '/')) != NULL;)
        *p = ':';
    return s;
}

static char *requester_id(const char *host, const char *output)
{
    const char *build = getenv("GOMABARN_BUILD_ID");
    char *build_part = slashes_to_colons(build && *build ? gmb_strdup(build) : gmb_format("make-%d", (int)getppid()));
    char *request_part = slashes_to_colons(gmb_format("%d:%s", (int)getpid(), output));
    char *id = gmb_format("gomabarn-cc@%s/%s/%s", host, build_part, request_part);
    free(build_part);
    free(request_part);
    return id;
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
    char *id = requester_id(host, c->output);
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

/* The first line of an HTTP error body, for a message. */
static char *first_line(const gmb_buf *b)
{
    size_t n = 0;
    while (n < b->len && n < 200 && b->data[n] != '\n' && b->data[n] != '\r' && b->data[n] != '\0')
        n++;
    return gmb_strndup((const char *)b->data, n);
}

/* POSTs one serialized ExecReq in goma's groups; the answer, or NULL with *why. */
static DevtoolsGoma__ExecResp *post_exec_req(const http_client_target *t, const char *prefix, const uint8_t *flat,
                                             size_t n, char **why)
{
    gmb_buf wire, out;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    gmb_buf_init(&out, 1u << 30);
    const char *hwhy = "";
    goma_messages_to_groups(GOMA_MSG_EXEC_REQ, flat, n, &wire, &hwhy);
    char *path = gmb_format("%s/e", prefix);
    int status = http_client_post(t, path, wire.data, wire.len, &out, &hwhy);
    free(path);
    gmb_buf_free(&wire);
    if (status != 200) {
        if (status < 0) {
            *why = gmb_strdup(hwhy);
        } else {
            char *line = first_line(&out);
            *why = gmb_format("the gateway answered HTTP %d%s%s", status, *line ? ": " : "", line);
            free(line);
        }
        gmb_buf_free(&out);
        return NULL;
    }
    gmb_buf flatresp;
    gmb_buf_init(&flatresp, GMB_BUF_UNLIMITED);
    DevtoolsGoma__ExecResp *resp = NULL;
    if (goma_groups_to_messages(GOMA_MSG_EXEC_RESP, out.data, out.len, &flatresp, &hwhy) == 0)
        resp = devtools_goma__exec_resp__unpack(NULL, flatresp.len, flatresp.data);
    gmb_buf_free(&flatresp);
    gmb_buf_free(&out);
    if (!resp)
        *why = gmb_strdup("the gateway's answer is not an ExecResp");
    return resp;
}

/* Marks the inputs the gateway misses to be sent again with content, storing big ones' chunks first; false with *why
 * if a StoreFile failed. */
static bool embed_missing(const http_client_target *t, const char *prefix, const DevtoolsGoma__ExecResp *resp,
                          input_file *inputs, size_t n_files, bool *embed, char **why)
{
    for (size_t m = 0; m < resp->n_missing_input; m++)
        for (size_t i = 0; i < n_files; i++)
            if (strcmp(resp->missing_input[m], inputs[i].name) == 0) {
                embed[i] = true;
                if (inputs[i].blob.blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META &&
                    !store_chunks(t, prefix, &inputs[i], why))
                    return false;
            }
    return true;
}

/* Fetches the outputs that came as FILE_META, so that the answer is complete in memory before anything is written. */
static cc_remote_answer *answer_of(const http_client_target *t, const char *prefix, DevtoolsGoma__ExecResp *resp,
                                   char **why)
{
    cc_remote_answer *a = gmb_calloc(1, sizeof *a);
    a->resp = resp;
    const DevtoolsGoma__ExecResult *r = resp->result;
    a->fetched = gmb_calloc(r->n_output + 1, sizeof *a->fetched);
    for (size_t o = 0; o < r->n_output; o++) {
        const DevtoolsGoma__FileBlob *b = r->output[o]->blob;
        if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META &&
            !(a->fetched[o] = lookup_chunks(t, prefix, b, why))) {
            cc_remote_answer_free(a);
            return NULL;
        }
    }
    return a;
}

/* Exec requests until the gateway answers with a result (missing inputs are sent again, with content). */
static cc_remote_answer *exec_with_retries(const http_client_target *t, const char *prefix, const compile_args *c,
                                           const char *compiler, input_file *inputs, size_t n_files, bool *embed,
                                           char *cwd, DevtoolsGoma__ToolchainSpec **specs, size_t n_specs, char **why)
{
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
        size_t n;
        uint8_t *flat = pack_exec_req(c, compiler, inputs, n_files, embed, cwd, specs, n_specs, attempt, &n);
        DevtoolsGoma__ExecResp *resp = post_exec_req(t, prefix, flat, n, why);
        free(flat);
        if (!resp)
            return NULL;
        if (resp->n_missing_input) {
            cc_say("%zu inputs missing on the gateway; sending them", resp->n_missing_input);
            bool ok = embed_missing(t, prefix, resp, inputs, n_files, embed, why);
            devtools_goma__exec_resp__free_unpacked(resp, NULL);
            if (!ok)
                return NULL;
            continue;
        }
        if (resp->n_error_message || !resp->result) {
            gmb_buf msg;
            gmb_buf_init(&msg, GMB_BUF_UNLIMITED);
            for (size_t m = 0; m < resp->n_error_message; m++) {
                if (m)
                    gmb_buf_put(&msg, "; ", 2);
                gmb_buf_put(&msg, resp->error_message[m], strlen(resp->error_message[m]));
            }
            gmb_buf_put(&msg, "", 1);
            *why = msg.len > 1 ? gmb_format("the gateway could not compile it: %s", (const char *)msg.data)
                               : gmb_strdup("the gateway answered without a result");
            gmb_buf_free(&msg);
            devtools_goma__exec_resp__free_unpacked(resp, NULL);
            return NULL;
        }
        return answer_of(t, prefix, resp, why);
    }
    *why = gmb_format("the gateway still missed inputs after %d tries", MAX_TRIES);
    return NULL;
}

/* The compiler's own files as inputs and toolchain specs (goma's toolchain_included). Appends to inputs/embed; returns
 * the specs. */
static DevtoolsGoma__ToolchainSpec **toolchain_inputs(const char *compiler, const char *source, input_file **inputs,
                                                      bool **embed, size_t *n_files, size_t *n_specs, char **why)
{
    size_t n_tools = 0;
    const char *dot = strrchr(source, '.');
    bool cxx = strstr(compiler, "++") || (dot && (strcmp(dot, ".cc") == 0 || strcmp(dot, ".cpp") == 0 ||
                                                  strcmp(dot, ".cxx") == 0 || strcmp(dot, ".C") == 0));
    cc_tool_file *tools = cc_toolchain_files(compiler, cxx, &n_tools);
    *n_specs = 0;
    if (!tools) {
        *why = gmb_format("cannot find the files of the compiler %s to send (GOMABARN_TOOLCHAIN_INCLUDED)", compiler);
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
            if (!load_input(in) && !*why)
                *why = gmb_format("cannot read toolchain file %s", in->name);
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
    cc_say("toolchain_included: %zu toolchain entries, the first %s", *n_specs, tools[0].path);
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

cc_remote_answer *cc_remote_compile(const http_client_target *t, const char *prefix, const compile_args *c,
                                    const char *compiler, bool toolchain_included, char **why)
{
    *why = NULL;
    char *rule = cc_args_dependencies(c);
    if (!rule) {
        *why = gmb_strdup("the compiler could not list the dependencies (-M)");
        return NULL;
    }
    size_t n_files;
    char **names = cc_rule_files(rule, &n_files);
    input_file *inputs = gmb_calloc(n_files + 1, sizeof *inputs);
    bool *embed = gmb_calloc(n_files + 1, sizeof *embed);
    for (size_t i = 0; i < n_files; i++) {
        inputs[i].name = names[i];
        if (!load_input(&inputs[i]) && !*why)
            *why = gmb_format("cannot read input %s", names[i]);
        embed[i] = inputs[i].size < EMBED_BELOW; /* goma embeds small files at once */
    }
    size_t n_specs = 0;
    DevtoolsGoma__ToolchainSpec **specs = NULL;
    if (!*why && toolchain_included)
        specs = toolchain_inputs(compiler, c->source, &inputs, &embed, &n_files, &n_specs, why);
    char cwd[4096];
    cc_remote_answer *a = NULL;
    if (!*why && !getcwd(cwd, sizeof cwd))
        *why = gmb_strdup("cannot tell the current directory");
    if (!*why)
        a = exec_with_retries(t, prefix, c, compiler, inputs, n_files, embed, cwd, specs, n_specs, why);
    toolchain_specs_free(specs, n_specs);
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
    if (a)
        a->rule = rule;
    else
        free(rule);
    return a;
}

int cc_remote_answer_write(const cc_remote_answer *a, const compile_args *c, char **why)
{
    const DevtoolsGoma__ExecResult *r = a->resp->result;
    if (r->has_stdout_buffer)
        fwrite(r->stdout_buffer.data, 1, r->stdout_buffer.len, stdout);
    if (r->has_stderr_buffer)
        fwrite(r->stderr_buffer.data, 1, r->stderr_buffer.len, stderr);
    fflush(stdout);
    for (size_t o = 0; o < r->n_output; o++) {
        const DevtoolsGoma__ExecResult__Output *out_file = r->output[o];
        const DevtoolsGoma__FileBlob *b = out_file->blob;
        const uint8_t *data = a->fetched[o];
        size_t size = b ? (size_t)b->file_size : 0;
        if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE) {
            data = b->content.data;
            size = b->content.len;
        }
        if (!data || !write_file(out_file->filename, data, size, out_file->is_executable)) {
            *why = gmb_format("cannot write the output %s", out_file->filename);
            return -1;
        }
    }
    /* The dependency file, as the compiler would have written it. */
    if (r->exit_status == 0 && c->dep_file &&
        !write_file(c->dep_file, (const uint8_t *)a->rule, strlen(a->rule), false)) {
        *why = gmb_format("cannot write the dependency file %s", c->dep_file);
        return -1;
    }
    return r->exit_status;
}

bool cc_remote_answer_cache_hit(const cc_remote_answer *a)
{
    return a->resp->has_cache_hit && a->resp->cache_hit;
}

void cc_remote_answer_free(cc_remote_answer *a)
{
    if (!a)
        return;
    for (size_t o = 0; a->fetched && o < a->resp->result->n_output; o++)
        free(a->fetched[o]);
    free(a->fetched);
    free(a->rule);
    devtools_goma__exec_resp__free_unpacked(a->resp, NULL);
    free(a);
}
