#include "proto_json.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct {
    gmb_buf *out;
    bool failed;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (!w->failed && gmb_buf_append(w->out, s, n) != GMB_BUF_OK)
        w->failed = true;
}

static void puts_(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void printf_(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(writer *w, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(w, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void indent(writer *w, int depth)
{
    puts_(w, "\n");
    for (int i = 0; i < depth; i++)
        puts_(w, "  ");
}

static void string_literal(writer *w, const uint8_t *s, size_t n)
{
    puts_(w, "\"");
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(w, e, 2);
        } else if (c == '\n') {
            puts_(w, "\\n");
        } else if (c == '\t') {
            puts_(w, "\\t");
        } else if (c < 0x20) {
            printf_(w, "\\u%04x", c);
        } else {
            put(w, (const char *)&c, 1);
        }
    }
    puts_(w, "\"");
}

static bool printable_text(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 && s[i] != '\n' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static void base64(writer *w, const uint8_t *s, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    puts_(w, "\"");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=', i + 2 < n ? t[v & 63] : '='};
        put(w, q, 4);
    }
    puts_(w, "\"");
}

static void message(writer *w, const ProtobufCMessage *m, int depth);

static void timestamp(writer *w, const ProtobufCMessage *m)
{
    /* Fields 1 and 2 of google.protobuf.Timestamp/Duration: seconds, nanos. */
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int64_t secs = *(const int64_t *)((const char *)m + d->fields[0].offset);
    int32_t nanos = *(const int32_t *)((const char *)m + d->fields[1].offset);
    if (strcmp(d->name, "google.protobuf.Duration") == 0) {
        printf_(w, "\"%.9fs\"", (double)secs + nanos / 1e9);
        return;
    }
    /* A Timestamp from the CAS may be any 64-bit number; beyond what
     * gmtime can represent it is shown as plain seconds. */
    time_t t = (time_t)secs;
    struct tm tm;
    char when[64];
    if (!gmtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        printf_(w, "\"%llds %dns\"", (long long)secs, nanos);
        return;
    }
    printf_(w, "\"%s.%09dZ\"", when, nanos);
}

static void scalar(writer *w, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        printf_(w, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        printf_(w, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        printf_(w, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        printf_(w, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        printf_(w, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        printf_(w, "%g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        puts_(w, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        if (ev)
            string_literal(w, (const uint8_t *)ev->name, strlen(ev->name));
        else
            printf_(w, "%d", *(const int *)p);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        string_literal(w, (const uint8_t *)(s ? s : ""), s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (printable_text(b->data, b->len))
            string_literal(w, b->data, b->len);
        else
            base64(w, b->data, b->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        message(w, *(ProtobufCMessage *const *)p, depth);
        break;
    }
}

/* proto3 leaves default values off the wire; we leave them out too. */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_STRING:
        return !*(char *const *)p || !**(char *const *)p;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    default:
        return *(const uint32_t *)p == 0;
    }
}

static size_t element_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void message(writer *w, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (strcmp(d->name, "google.protobuf.Timestamp") == 0 || strcmp(d->name, "google.protobuf.Duration") == 0) {
        timestamp(w, m);
        return;
    }
    puts_(w, "{");
    bool first = true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        const void *p = base + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (*(const size_t *)(base + f->quantifier_offset) == 0)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
                continue;
        } else if (is_default(f, p)) {
            continue;
        }
        puts_(w, first ? "" : ",");
        first = false;
        indent(w, depth + 1);
        printf_(w, "\"%s\": ", f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(const char *const *)p;
            puts_(w, "[");
            for (size_t k = 0; k < n; k++) {
                bool nested = f->type == PROTOBUF_C_TYPE_MESSAGE;
                puts_(w, k ? (nested ? "," : ", ") : "");
                if (nested)
                    indent(w, depth + 2);
                scalar(w, f, arr + k * element_size(f), depth + 2);
            }
            if (f->type == PROTOBUF_C_TYPE_MESSAGE)
                indent(w, depth + 1);
            puts_(w, "]");
        } else {
            scalar(w, f, p, depth + 1);
        }
    }
    if (!first)
        indent(w, depth);
    puts_(w, "}");
}

int proto_json(const ProtobufCMessage *msg, gmb_buf *out)
{
    writer w = {out, false};
    message(&w, msg, 0);
    puts_(&w, "\n");
    return w.failed ? -1 : 0;
}
