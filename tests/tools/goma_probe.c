/* goma_probe: reads a goma message as a goma peer sends it (groups) on
 * stdin, decodes it the way gomabarn does (goma_wire + protobuf-c), prints
 * what it understood, and re-encodes it for the wire, so tests with an
 * independent encoder can compare.
 *   goma_probe exec-req  < ExecReq bytes
 *   goma_probe exec-resp < ExecResp bytes
 * Lines: "input|output|arg|missing ... " then "wire <hex of our encoding>".
 * On bad input: "error <reason>" and exit 1. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"

static void hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static const char *blob_type(const DevtoolsGoma__FileBlob *b)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&devtools_goma__file_blob__blob_type__descriptor, b->blob_type);
    return v ? v->name : "?";
}

static int fail(const char *why)
{
    printf("error %s\n", why);
    return 1;
}

/* Re-encodes with protobuf-c, converts to groups and prints it. */
static int emit(goma_msg_kind kind, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *flat = malloc(n + 1);
    protobuf_c_message_pack(m, flat);
    gmb_buf wire;
    gmb_buf_init(&wire, 64u << 20);
    const char *why = NULL;
    int rc = goma_messages_to_groups(kind, flat, n, &wire, &why);
    if (rc == 0) {
        printf("wire ");
        hex(wire.data, wire.len);
        printf("\n");
    }
    free(flat);
    gmb_buf_free(&wire);
    return rc == 0 ? 0 : fail(why);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    static uint8_t in[16 << 20];
    size_t len = fread(in, 1, sizeof in, stdin);
    bool req = strcmp(argv[1], "exec-req") == 0;
    goma_msg_kind kind = req ? GOMA_MSG_EXEC_REQ : GOMA_MSG_EXEC_RESP;
    gmb_buf flat;
    gmb_buf_init(&flat, 64u << 20);
    const char *why = NULL;
    if (goma_groups_to_messages(kind, in, len, &flat, &why) < 0) {
        gmb_buf_free(&flat);
        return fail(why);
    }
    int rc = 0;
    if (req) {
        DevtoolsGoma__ExecReq *r = devtools_goma__exec_req__unpack(NULL, flat.len, flat.data);
        if (!r) {
            gmb_buf_free(&flat);
            return fail("not a valid ExecReq (after group conversion)");
        }
        for (size_t i = 0; i < r->n_arg; i++)
            printf("arg %s\n", r->arg[i]);
        for (size_t i = 0; i < r->n_input; i++) {
            const DevtoolsGoma__ExecReq__Input *in_ = r->input[i];
            printf("input %s %s", in_->filename, in_->hash_key);
            if (in_->content)
                printf(" %s %zu\n", blob_type(in_->content), in_->content->has_content ? in_->content->content.len : 0);
            else
                printf(" -\n");
        }
        rc = emit(kind, (const ProtobufCMessage *)r);
        devtools_goma__exec_req__free_unpacked(r, NULL);
    } else {
        DevtoolsGoma__ExecResp *r = devtools_goma__exec_resp__unpack(NULL, flat.len, flat.data);
        if (!r) {
            gmb_buf_free(&flat);
            return fail("not a valid ExecResp (after group conversion)");
        }
        for (size_t i = 0; i < r->n_missing_input; i++)
            printf("missing %s\n", r->missing_input[i]);
        if (r->result) {
            printf("exit %d\n", r->result->exit_status);
            for (size_t i = 0; i < r->result->n_output; i++) {
                const DevtoolsGoma__ExecResult__Output *o = r->result->output[i];
                printf("output %s %s %zu %d\n", o->filename, o->blob ? blob_type(o->blob) : "-",
                       o->blob && o->blob->has_content ? o->blob->content.len : 0, o->is_executable);
            }
        }
        rc = emit(kind, (const ProtobufCMessage *)r);
        devtools_goma__exec_resp__free_unpacked(r, NULL);
    }
    gmb_buf_free(&flat);
    return rc;
}
