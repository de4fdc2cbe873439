/* fuzz_pb_reader: the protobuf field reader (gateway/base/pb_reader.h).
 *
 * The whole input is one message. Checked: every field lies inside the
 * input, in order, with nothing skipped; and against protobuf-c, which
 * keeps every field of an empty message as an unknown field: when
 * protobuf-c decodes the input, pb_reader must read the very same fields
 * (numbers, wire types, values) and end cleanly. Length-delimited values
 * are walked again as messages, a few levels deep. */
#include "fuzz_common.h"

#include "goma/goma_data.pb-c.h"
#include "pb_reader.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static uint64_t varint_of(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++)
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
    return v;
}

static size_t varint_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] & 0x80))
        i++;
    return i + 1;
}

/* Walks one message; returns pb_reader's final result (0 or -1). */
static int walk(const uint8_t *data, size_t len, int depth)
{
    pb_reader r;
    pb_field f;
    int rc;
    pb_reader_init(&r, data, len);
    const uint8_t *end = data ? data + len : NULL;
    const uint8_t *last = data;
    while ((rc = pb_reader_next(&r, &f)) > 0) {
        FUZZ_CHECK(r.p > last && r.p <= end, "the reader did not move forward inside the input");
        FUZZ_CHECK(f.wire == PB_VARINT || f.wire == PB_FIXED64 || f.wire == PB_BYTES || f.wire == PB_FIXED32,
                   "wire type %u", f.wire);
        if (f.wire == PB_VARINT) {
            FUZZ_CHECK(f.data == NULL && f.len == 0, "a varint with bytes");
        } else {
            FUZZ_CHECK(f.len == 0 || (f.data >= last && f.data + f.len == r.p),
                       "a value outside the field it belongs to");
            FUZZ_CHECK(f.wire != PB_FIXED64 || f.len == 8, "fixed64 of %zu bytes", f.len);
            FUZZ_CHECK(f.wire != PB_FIXED32 || f.len == 4, "fixed32 of %zu bytes", f.len);
            if (f.wire == PB_BYTES && depth < 4)
                (void)walk(f.data, f.len, depth + 1);
        }
        last = r.p;
    }
    FUZZ_CHECK(rc == 0 || rc == -1, "pb_reader_next returned %d", rc);
    if (rc == 0)
        FUZZ_CHECK(r.p == end, "the end reported before the end of the input");
    return rc;
}

/* protobuf-c's reading of the same bytes, field by field. */
static void compare_with_protobuf_c(const uint8_t *data, size_t len)
{
    DevtoolsGoma__EmptyMessage *m = devtools_goma__empty_message__unpack(NULL, len, data);
    if (!m)
        return;
    pb_reader r;
    pb_field f;
    pb_reader_init(&r, data, len);
    for (unsigned i = 0; i < m->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &m->base.unknown_fields[i];
        int rc = pb_reader_next(&r, &f);
        FUZZ_CHECK(rc == 1, "protobuf-c reads field %u (number %u) where pb_reader gives %d", i, u->tag, rc);
        FUZZ_CHECK(f.number == u->tag, "field %u: number %llu, protobuf-c %u", i, (unsigned long long)f.number, u->tag);
        FUZZ_CHECK(f.wire == (unsigned)u->wire_type, "field %u: wire type %u, protobuf-c %u", i, f.wire,
                   (unsigned)u->wire_type);
        switch (f.wire) {
        case PB_VARINT:
            FUZZ_CHECK(f.varint == varint_of(u->data, u->len), "field %u: varint %llu differs", i,
                       (unsigned long long)f.varint);
            break;
        case PB_BYTES: {
            /* protobuf-c keeps the length prefix with the value. */
            size_t prefix = varint_len(u->data, u->len);
            FUZZ_CHECK(u->len >= prefix && f.len == u->len - prefix &&
                           (f.len == 0 || memcmp(f.data, u->data + prefix, f.len) == 0),
                       "field %u: bytes differ (%zu, protobuf-c %zu with prefix)", i, f.len, u->len);
            break;
        }
        default:
            FUZZ_CHECK(f.len == u->len && memcmp(f.data, u->data, f.len) == 0, "field %u: fixed value differs", i);
        }
    }
    FUZZ_CHECK(pb_reader_next(&r, &f) == 0, "pb_reader reads past what protobuf-c decoded");
    devtools_goma__empty_message__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    walk(size ? data : NULL, size, 0);
    compare_with_protobuf_c(data, size);
    return 0;
}
