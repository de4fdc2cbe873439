/* fuzz_proto_json: the JSON renderings the view serves as action.json,
 * command.json and result.json (gateway/rev2/proto_json.h).
 *
 * Input: a type byte (Action, Command, ActionResult, Tree,
 * ExecuteResponse), a limit byte (bit 7 set: the output may hold only
 * (byte & 0x7f) * 8 bytes, else 16 MiB), then the message. Checked: a
 * rendering that succeeds is one valid JSON value (and valid UTF-8 when
 * GMB_FUZZ_JSON_UTF8=1: RFC 8259 requires it, see tests/fuzz/README.md);
 * one that fails stayed within the limit; rendering twice, with the stack
 * filled differently before each, gives the same bytes. */
#include "fuzz_common.h"

#include <time.h>

#include "buf.h"
#include "fuzz_json.h"
#include "proto_json.h"
#include "rev2_proto.h"

static const ProtobufCMessageDescriptor *const types[] = {
    &build__bazel__remote__execution__v2__action__descriptor,
    &build__bazel__remote__execution__v2__command__descriptor,
    &build__bazel__remote__execution__v2__action_result__descriptor,
    &build__bazel__remote__execution__v2__tree__descriptor,
    &build__bazel__remote__execution__v2__execute_response__descriptor,
};
#define N_TYPES (sizeof types / sizeof *types)

static bool check_utf8;

/* Fills the stack below the caller with `v`, so that a rendering which
 * reads uninitialised stack memory comes out differently each time. */
__attribute__((noinline)) static void scrub_stack(uint8_t v)
{
    volatile uint8_t junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    check_utf8 = getenv("GMB_FUZZ_JSON_UTF8") && strcmp(getenv("GMB_FUZZ_JSON_UTF8"), "1") == 0;
    return 0;
}

/* Known bug (tests/fuzz/crashes/proto_json): a Timestamp gmtime_r cannot
 * convert is rendered from an uninitialised struct tm. True if `m` holds
 * one, at any depth. */
static bool has_unconvertible_timestamp(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (strcmp(d->name, "google.protobuf.Timestamp") == 0) {
        time_t t = (time_t) * (const int64_t *)((const char *)m + d->fields[0].offset);
        struct tm tm;
        return gmtime_r(&t, &tm) == NULL;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *p = (const char *)m + f->offset;
        size_t n =
            f->label == PROTOBUF_C_LABEL_REPEATED ? *(const size_t *)((const char *)m + f->quantifier_offset) : 1;
        ProtobufCMessage *const *items =
            f->label == PROTOBUF_C_LABEL_REPEATED ? *(ProtobufCMessage *const *const *)p : (ProtobufCMessage *const *)p;
        for (size_t k = 0; k < n; k++)
            if (items && items[k] && has_unconvertible_timestamp(items[k]))
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    const ProtobufCMessageDescriptor *type = types[fuzz_u8(&c) % N_TYPES];
    uint8_t sel = fuzz_u8(&c);
    size_t limit = sel & 0x80 ? (size_t)(sel & 0x7f) * 8 : (size_t)16 << 20;
    ProtobufCMessage *m = protobuf_c_message_unpack(type, NULL, c.left, c.left ? c.p : NULL);
    if (!m)
        return 0;
    if (fuzz_skip_known_bugs() && has_unconvertible_timestamp(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return 0;
    }
    gmb_buf out;
    gmb_buf_init(&out, limit);
    scrub_stack(0xa5);
    int rc = proto_json(m, &out);
    FUZZ_CHECK(out.len <= limit, "rendered past the limit");
    if (rc == 0) {
        size_t at = 0;
        const char *why = json_check(out.data, out.len, check_utf8, &at);
        FUZZ_CHECK(why == NULL, "%s is not valid JSON: %s at byte %zu of %zu:\n%.*s", type->name, why, at, out.len,
                   (int)(out.len < 4096 ? out.len : 4096), (const char *)out.data);
        /* Rendering is a function of the message. */
        gmb_buf again;
        gmb_buf_init(&again, limit);
        scrub_stack(0x5a);
        FUZZ_CHECK(proto_json(m, &again) == 0, "a second rendering fails");
        size_t same = 0;
        while (same < out.len && same < again.len && out.data[same] == again.data[same])
            same++;
        size_t from = same > 60 ? same - 60 : 0;
        FUZZ_CHECK(same == out.len && same == again.len,
                   "two renderings of one message differ from byte %zu:\n  %.*s\n  %.*s", same,
                   (int)((out.len - from) < 120 ? out.len - from : 120), (const char *)out.data + from,
                   (int)((again.len - from) < 120 ? again.len - from : 120), (const char *)again.data + from);
        gmb_buf_free(&again);
    } else {
        FUZZ_CHECK(rc == -1, "proto_json returned %d", rc);
    }
    gmb_buf_free(&out);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
