/* fuzz_goma_wire: goma's group encoding (gateway/wire/goma_wire.h) and the
 * goma requests decoded after it, as the HTTP front end does.
 *
 * Input: one mode byte, then the body.
 *   mode % 8 = 0, 1, 2   ExecReq, ExecResp, ExecResult from a goma peer:
 *                        groups -> messages, protobuf-c unpack; a message
 *                        that decodes is packed again and must survive
 *                        messages -> groups -> messages byte for byte
 *   mode % 8 = 3, 4, 5   the same kinds, messages -> groups on raw bytes
 *   mode % 8 = 6         StoreFileReq: protobuf-c unpack, and the FileBlobs
 *                        taken from the raw bytes with pb_reader (as
 *                        goma_files_rpc.c does) must be the same blobs
 *   mode % 8 = 7         LookupFileReq
 *   mode & 0x80          the output buffer's limit is half the input
 *                        (the "message too large" paths) */
#include "fuzz_common.h"

#include "buf.h"
#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"
#include "pb_reader.h"
#include "rev2_digest.h"
#include "routing.h"

static gmb_routes routes;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    /* Routing is what the pipeline does first with a decoded ExecReq. */
    char *rules[] = {"compiler=clang* target=aarch64-* -> arm", "dimension=os:linux -> hardlinking",
                     "compiler=gcc -> \"\""};
    gmb_strlist l = {rules, 3};
    char *err = NULL;
    if (gmb_routes_parse(&l, &routes, &err) < 0)
        abort();
    return 0;
}

static const ProtobufCMessageDescriptor *descriptor_for(goma_msg_kind kind)
{
    switch (kind) {
    case GOMA_MSG_EXEC_REQ:
        return &devtools_goma__exec_req__descriptor;
    case GOMA_MSG_EXEC_RESP:
        return &devtools_goma__exec_resp__descriptor;
    default:
        return &devtools_goma__exec_result__descriptor;
    }
}

static void route(const DevtoolsGoma__ExecReq *req)
{
    const DevtoolsGoma__CommandSpec *cs = req->command_spec;
    const DevtoolsGoma__RequesterInfo *ri = req->requester_info;
    const gmb_route *r = gmb_routes_match(&routes, cs ? cs->name : NULL, cs ? cs->target : NULL,
                                          ri ? ri->dimensions : NULL, ri ? ri->n_dimensions : 0);
    if (r)
        FUZZ_CHECK(r->instance != NULL, "a route without an instance");
}

/* Our own encoding of a decoded message must go to goma's wire and back
 * unchanged: that is what the gateway sends and what a peer returns. */
static void round_trip(goma_msg_kind kind, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *flat = gmb_malloc(n + 1);
    protobuf_c_message_pack(m, flat);
    gmb_buf groups, again;
    gmb_buf_init(&groups, GMB_BUF_UNLIMITED);
    gmb_buf_init(&again, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int rc = goma_messages_to_groups(kind, flat, n, &groups, &why);
    FUZZ_CHECK(rc == 0, "protobuf-c's encoding of a decoded message does not convert to groups: %s", why);
    rc = goma_groups_to_messages(kind, groups.data, groups.len, &again, &why);
    FUZZ_CHECK(rc == 0, "our own group encoding does not convert back: %s", why);
    FUZZ_CHECK(again.len == n && (n == 0 || memcmp(again.data, flat, n) == 0),
               "messages -> groups -> messages changed the bytes (%zu -> %zu)", n, again.len);
    gmb_buf_free(&groups);
    gmb_buf_free(&again);
    free(flat);
}

static void from_peer(goma_msg_kind kind, const uint8_t *in, size_t len, size_t limit)
{
    gmb_buf out;
    gmb_buf_init(&out, limit);
    const char *why = NULL;
    int rc = goma_groups_to_messages(kind, in, len, &out, &why);
    FUZZ_CHECK(out.len <= limit, "output past its limit");
    if (rc < 0) {
        FUZZ_CHECK(why != NULL, "failure without a reason");
        gmb_buf_free(&out);
        return;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(descriptor_for(kind), NULL, out.len, out.data);
    if (m) {
        if (kind == GOMA_MSG_EXEC_REQ)
            route((const DevtoolsGoma__ExecReq *)m);
        round_trip(kind, m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    gmb_buf_free(&out);
}

static void to_peer(goma_msg_kind kind, const uint8_t *in, size_t len, size_t limit)
{
    gmb_buf out;
    gmb_buf_init(&out, limit);
    const char *why = NULL;
    int rc = goma_messages_to_groups(kind, in, len, &out, &why);
    FUZZ_CHECK(out.len <= limit, "output past its limit");
    FUZZ_CHECK(rc == 0 || why != NULL, "failure without a reason");
    gmb_buf_free(&out);
}

static bool same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a), nb = protobuf_c_message_get_packed_size(b);
    if (na != nb)
        return false;
    uint8_t *pa = gmb_malloc(na + 1), *pb = gmb_malloc(nb + 1);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    bool same = memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

static void store_file_req(const uint8_t *in, size_t len)
{
    DevtoolsGoma__StoreFileReq *req = devtools_goma__store_file_req__unpack(NULL, len, in);
    pb_reader r;
    pb_field f;
    int rc;
    size_t k = 0;
    pb_reader_init(&r, in, len);
    while ((rc = pb_reader_next(&r, &f)) > 0) {
        if (f.number != 1 || f.wire != PB_BYTES)
            continue;
        DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, f.len, f.data);
        if (req) {
            /* Both readers saw this blob: the same bytes, the same blob. */
            FUZZ_CHECK(k < req->n_blob, "pb_reader sees more FileBlobs than protobuf-c (%zu)", req->n_blob);
            FUZZ_CHECK(b != NULL, "blob %zu decodes inside the request but not alone", k);
            FUZZ_CHECK(same_message((const ProtobufCMessage *)b, (const ProtobufCMessage *)req->blob[k]),
                       "blob %zu differs between the two readers", k);
        }
        if (b) {
            if (b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META)
                for (size_t i = 0; i < b->n_hash_key; i++)
                    (void)rev2_hash_is_valid(b->hash_key[i]);
            devtools_goma__file_blob__free_unpacked(b, NULL);
        }
        k++;
    }
    if (req) {
        /* goma_files answers one key per blob it took from the raw bytes. */
        if (rc == 0)
            FUZZ_CHECK(k == req->n_blob, "pb_reader found %zu FileBlobs, protobuf-c %zu", k, req->n_blob);
        devtools_goma__store_file_req__free_unpacked(req, NULL);
    }
}

static void lookup_file_req(const uint8_t *in, size_t len)
{
    DevtoolsGoma__LookupFileReq *req = devtools_goma__lookup_file_req__unpack(NULL, len, in);
    if (!req)
        return;
    for (size_t i = 0; i < req->n_hash_key; i++) {
        FUZZ_CHECK(req->hash_key[i] != NULL, "a NULL key");
        rev2_digest d;
        if (rev2_hash_is_valid(req->hash_key[i]))
            FUZZ_CHECK(rev2_digest_set(&d, req->hash_key[i], 0), "a valid key is not a digest");
    }
    devtools_goma__lookup_file_req__free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *in = size > 1 ? data + 1 : NULL;
    size_t len = size - 1;
    size_t limit = mode & 0x80 ? len / 2 : (size_t)16 << 20;
    switch (mode % 8) {
    case 0:
    case 1:
    case 2:
        from_peer((goma_msg_kind)(mode % 8), in, len, limit);
        break;
    case 3:
    case 4:
    case 5:
        to_peer((goma_msg_kind)(mode % 8 - 3), in, len, limit);
        break;
    case 6:
        store_file_req(in, len);
        break;
    default:
        lookup_file_req(in, len);
        break;
    }
    return 0;
}
