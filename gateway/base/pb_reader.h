/* pb_reader: walks the fields of a protobuf message in place.
 *
 * For the few messages decoded by hand, where protobuf-c would copy what
 * we only need to look at (a StoreFileReq's FileBlobs, kept byte for byte
 * because their goma keys are hashes of those bytes; the data of every
 * ByteStream ReadResponse). Every length is checked against the end of
 * the input; an empty input (data NULL, len 0) is an empty message. */
#ifndef GMB_PB_READER_H
#define GMB_PB_READER_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

typedef struct {
    const uint8_t *p, *end;
} pb_reader;

typedef struct {
    uint64_t number;     /* field number */
    unsigned wire;       /* PB_VARINT, PB_FIXED64, PB_BYTES or PB_FIXED32 */
    uint64_t varint;     /* PB_VARINT: the value */
    const uint8_t *data; /* PB_BYTES, PB_FIXED*: the value's bytes, in place */
    size_t len;
} pb_field;

void pb_reader_init(pb_reader *r, const uint8_t *data, size_t len);
/* 1 with the next field in *f, 0 at the end, -1 on malformed input
 * (truncated, an overlong varint, a length past the end, or a group:
 * none of the messages read this way has one). */
int pb_reader_next(pb_reader *r, pb_field *f);

#endif
