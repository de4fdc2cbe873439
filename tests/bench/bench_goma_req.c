#include "bench_goma_req.h"

#include <stdlib.h>
#include <string.h>

#include "cc_http.h"
#include "goma_wire.h"
#include "rev2_digest.h"

uint8_t *bench_exec_req(const char *input_name, const char *input_content, char **args, size_t n_args, char *output,
                        size_t *len)
{
    DevtoolsGoma__FileBlob blob = DEVTOOLS_GOMA__FILE_BLOB__INIT;
    blob.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    blob.has_content = blob.has_file_size = true;
    blob.content.data = (uint8_t *)input_content;
    blob.content.len = strlen(input_content);
    blob.file_size = (int64_t)blob.content.len;
    size_t bl = devtools_goma__file_blob__get_packed_size(&blob);
    uint8_t *bb = malloc(bl);
    devtools_goma__file_blob__pack(&blob, bb);
    rev2_digest key; /* goma's key: SHA-256 of the serialized FileBlob */
    rev2_digest_of_bytes(bb, bl, &key);
    free(bb);
    DevtoolsGoma__ExecReq__Input in = DEVTOOLS_GOMA__EXEC_REQ__INPUT__INIT;
    in.filename = (char *)input_name;
    in.hash_key = key.hash;
    in.content = &blob;
    DevtoolsGoma__ExecReq__Input *ins[] = {&in};
    DevtoolsGoma__CommandSpec spec = DEVTOOLS_GOMA__COMMAND_SPEC__INIT;
    spec.name = args[0];
    DevtoolsGoma__ExecReq req = DEVTOOLS_GOMA__EXEC_REQ__INIT;
    req.command_spec = &spec;
    req.n_arg = n_args;
    req.arg = args;
    req.cwd = "/tmp/gomabarn-bench";
    req.n_input = 1;
    req.input = ins;
    req.n_expected_output_files = 1;
    req.expected_output_files = &output;
    size_t n = devtools_goma__exec_req__get_packed_size(&req);
    uint8_t *flat = malloc(n);
    devtools_goma__exec_req__pack(&req, flat);
    gmb_buf wire;
    gmb_buf_init(&wire, GMB_BUF_UNLIMITED);
    const char *why;
    goma_messages_to_groups(GOMA_MSG_EXEC_REQ, flat, n, &wire, &why);
    free(flat);
    return gmb_buf_take(&wire, len);
}

DevtoolsGoma__ExecResp *bench_exec(int port, const uint8_t *req, size_t len)
{
    cc_http_target t = {.host = "127.0.0.1", .port = port, .timeout_s = 600};
    gmb_buf out, flat;
    gmb_buf_init(&out, 256u << 20);
    gmb_buf_init(&flat, GMB_BUF_UNLIMITED);
    const char *why;
    int status = cc_http_post(&t, "/cxx-compiler-service/e", req, len, &out, &why);
    DevtoolsGoma__ExecResp *resp = NULL;
    if (status == 200 && goma_groups_to_messages(GOMA_MSG_EXEC_RESP, out.data, out.len, &flat, &why) == 0)
        resp = devtools_goma__exec_resp__unpack(NULL, flat.len, flat.data);
    gmb_buf_free(&out);
    gmb_buf_free(&flat);
    return resp;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}
