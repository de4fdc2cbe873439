#include "pb_reader.h"

#include <string.h>

void pb_reader_init(pb_reader *r, const uint8_t *data, size_t len)
{
    /* No arithmetic on a NULL pointer, even with 0 (undefined in C). */
    r->p = data;
    r->end = data ? data + len : NULL;
}

static int read_varint(pb_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int pb_reader_next(pb_reader *r, pb_field *f)
{
    if (r->p >= r->end)
        return 0;
    memset(f, 0, sizeof *f);
    uint64_t key;
    if (read_varint(r, &key) < 0)
        return -1;
    f->number = key >> 3;
    f->wire = (unsigned)(key & 7);
    size_t left;
    switch (f->wire) {
    case PB_VARINT:
        return read_varint(r, &f->varint) < 0 ? -1 : 1;
    case PB_BYTES: {
        uint64_t n;
        if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
            return -1;
        f->len = (size_t)n;
        break;
    }
    case PB_FIXED64:
        f->len = 8;
        break;
    case PB_FIXED32:
        f->len = 4;
        break;
    default:
        return -1;
    }
    left = (size_t)(r->end - r->p);
    if (f->len > left)
        return -1;
    f->data = r->p;
    r->p += f->len;
    return 1;
}
