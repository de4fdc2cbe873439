#include "goma_wire.h"

#include <stdbool.h>
#include <string.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_SGROUP = 3, WIRE_EGROUP = 4, WIRE_I32 = 5 };
#define MAX_DEPTH 32

/* Where the groups are: a field that is a group, or a message to descend into. */
typedef struct rule {
    uint32_t field;
    bool group;                /* this field is a group on goma's wire */
    const struct rule *inside; /* rules within it (NULL: none) */
} rule;

static const rule exec_req_rules[] = {{10, true, NULL}, {0, false, NULL}};
static const rule exec_result_rules[] = {{10, true, NULL}, {0, false, NULL}};
static const rule exec_resp_rules[] = {{1, false, exec_result_rules}, {0, false, NULL}};

static const rule *rules_for(goma_msg_kind kind)
{
    switch (kind) {
    case GOMA_MSG_EXEC_REQ:
        return exec_req_rules;
    case GOMA_MSG_EXEC_RESP:
        return exec_resp_rules;
    default:
        return exec_result_rules;
    }
}

static const rule *find_rule(const rule *rules, uint32_t field)
{
    for (; rules && rules->field; rules++)
        if (rules->field == field)
            return rules;
    return NULL;
}

typedef struct {
    const uint8_t *p, *end;
    const char *why;
} reader;

static bool read_varint(reader *r, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->why = "truncated varint";
            return false;
        }
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    r->why = "varint longer than 10 bytes";
    return false;
}

static bool put_varint(gmb_buf *out, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return gmb_buf_append(out, b, n) == GMB_BUF_OK;
}

/* Skips one field's value (after its tag); for a group, up to and
 * including its matching end tag. */
static bool skip_value(reader *r, uint32_t field, unsigned wire, int depth)
{
    uint64_t v;
    switch (wire) {
    case WIRE_VARINT:
        return read_varint(r, &v);
    case WIRE_I64:
    case WIRE_I32: {
        size_t n = wire == WIRE_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            r->why = "truncated fixed-size field";
            return false;
        }
        r->p += n;
        return true;
    }
    case WIRE_LEN:
        if (!read_varint(r, &v))
            return false;
        if (v > (uint64_t)(r->end - r->p)) {
            r->why = "length runs past the end";
            return false;
        }
        r->p += v;
        return true;
    case WIRE_SGROUP:
        if (depth >= MAX_DEPTH) {
            r->why = "groups nested too deep";
            return false;
        }
        for (;;) {
            uint64_t key;
            if (!read_varint(r, &key))
                return false;
            unsigned w = key & 7;
            uint32_t f = (uint32_t)(key >> 3);
            if (w == WIRE_EGROUP) {
                if (f != field) {
                    r->why = "group ended with another field's end tag";
                    return false;
                }
                return true;
            }
            if (!skip_value(r, f, w, depth + 1))
                return false;
        }
    default:
        r->why = wire == WIRE_EGROUP ? "end of a group that never started" : "unknown wire type";
        return false;
    }
}

static bool transcode(const uint8_t *in, size_t len, const rule *rules, bool to_messages, gmb_buf *out, int depth,
                      const char **why);

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

static void write_varint(uint8_t *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p = (uint8_t)v;
}

/* Converts one body and writes it framed for the target encoding,
 * straight into `out` (a request has a few dozen nested messages; a
 * buffer of its own for each cost more than the conversion). A group
 * needs no length. A message's length is known only after its body: the
 * body goes after room for the input's length, and moves when its own
 * length takes another number of bytes. */
static bool emit(uint32_t field, bool as_group, const uint8_t *body, size_t len, const rule *inside, bool to_messages,
                 gmb_buf *out, int depth, const char **why)
{
    if (as_group) {
        if (!put_varint(out, (uint64_t)field << 3 | WIRE_SGROUP)) {
            *why = "message too large";
            return false;
        }
        if (!transcode(body, len, inside, to_messages, out, depth + 1, why))
            return false; /* it said why */
        if (!put_varint(out, (uint64_t)field << 3 | WIRE_EGROUP)) {
            *why = "message too large";
            return false;
        }
        return true;
    }
    size_t guess = varint_len(len);
    if (!put_varint(out, (uint64_t)field << 3 | WIRE_LEN) || !gmb_buf_reserve(out, guess, NULL)) {
        *why = "message too large";
        return false;
    }
    size_t len_at = out->len;
    gmb_buf_commit(out, guess);
    if (!transcode(body, len, inside, to_messages, out, depth + 1, why))
        return false;
    size_t body_len = out->len - len_at - guess, need = varint_len(body_len);
    if (need > guess && !gmb_buf_reserve(out, need - guess, NULL)) {
        *why = "message too large";
        return false;
    }
    if (need != guess)
        memmove(out->data + len_at + need, out->data + len_at + guess, body_len);
    write_varint(out->data + len_at, body_len);
    out->len = len_at + need + body_len;
    return true;
}

static bool transcode(const uint8_t *in, size_t len, const rule *rules, bool to_messages, gmb_buf *out, int depth,
                      const char **why)
{
    if (depth > MAX_DEPTH) {
        *why = "messages nested too deep";
        return false;
    }
    reader r = {in, in ? in + len : in, NULL}; /* an empty body may be NULL: no NULL + 0 */
    while (r.p < r.end) {
        const uint8_t *field_start = r.p;
        uint64_t key;
        if (!read_varint(&r, &key))
            break;
        unsigned wire = key & 7;
        uint32_t field = (uint32_t)(key >> 3);
        if (field == 0) {
            r.why = "field number 0";
            break;
        }
        const uint8_t *value_start = r.p;
        if (!skip_value(&r, field, wire, depth))
            break;
        const rule *ru = find_rule(rules, field);
        if (ru && ru->group && to_messages && wire == WIRE_SGROUP) {
            /* The body lies between the start tag and the end tag; the end
             * tag is the last varint skip_value read. */
            size_t tag_len = 1;
            for (uint64_t t = (uint64_t)field << 3 | WIRE_EGROUP; t >= 0x80; t >>= 7)
                tag_len++;
            const uint8_t *body_end = r.p - tag_len;
            if (!emit(field, false, value_start, (size_t)(body_end - value_start), ru->inside, true, out, depth, why))
                return false;
            continue;
        }
        if (ru && wire == WIRE_LEN) {
            /* A length-delimited body to convert: into a group (outgoing),
             * or a message whose inside has groups (both ways). A group
             * field that already arrives length-delimited is checked
             * field by field as it is copied, like one that arrives as a
             * group: protobuf-c would keep a field numbered 0 inside it,
             * which no encoder can write back. */
            reader lr = {value_start, r.p, NULL};
            uint64_t n;
            read_varint(&lr, &n);
            if (!emit(field, ru->group && !to_messages, lr.p, (size_t)n, ru->inside, to_messages, out, depth, why))
                return false;
            continue;
        }
        if (gmb_buf_append(out, field_start, (size_t)(r.p - field_start)) != GMB_BUF_OK) {
            *why = "message too large";
            return false;
        }
    }
    if (r.why) {
        *why = r.why;
        return false;
    }
    return true;
}

int goma_groups_to_messages(goma_msg_kind kind, const uint8_t *in, size_t len, gmb_buf *out, const char **why)
{
    return transcode(in, len, rules_for(kind), true, out, 0, why) ? 0 : -1;
}

int goma_messages_to_groups(goma_msg_kind kind, const uint8_t *in, size_t len, gmb_buf *out, const char **why)
{
    return transcode(in, len, rules_for(kind), false, out, 0, why) ? 0 : -1;
}
