/* goma_wire: goma's proto2 groups <-> the length-delimited form protobuf-c
 * understands.
 *
 * goma encodes ExecReq.Input and ExecResult.Output as groups (field 10,
 * start tag 0x53 ... end tag 0x54). Our .proto declares both as nested
 * messages at field 10 (protoc-c cannot compile groups), so bytes are
 * rewritten at exactly those paths on the way in and out:
 *   ExecReq:   field 10                 (Input)
 *   ExecResp:  field 1 -> field 10      (result -> Output)
 *   ExecResult: field 10                (Output)
 * Everything else is copied byte for byte, unknown fields included, so a
 * FileBlob keeps the exact bytes its goma hash key was computed over. */
#ifndef GOMA_WIRE_H
#define GOMA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* goma's file size limit for one FileBlob: larger files travel as a
 * FILE_META listing FILE_CHUNKs of this size (goma's client and server). */
#define GOMA_CHUNK_BYTES ((size_t)2 * 1024 * 1024)

typedef enum {
    GOMA_MSG_EXEC_REQ,
    GOMA_MSG_EXEC_RESP,
    GOMA_MSG_EXEC_RESULT,
} goma_msg_kind;

/* Group encoding (from a goma peer) -> length-delimited (for protobuf-c).
 * Appends to `out`. 0, or -1 with a static reason in *why (truncated,
 * unbalanced group, nesting too deep, out's limit reached). A field 10
 * that already arrives length-delimited is accepted as it is. */
int goma_groups_to_messages(goma_msg_kind kind, const uint8_t *in, size_t len, gmb_buf *out, const char **why);
/* Length-delimited (from protobuf-c) -> group encoding (for a goma peer). */
int goma_messages_to_groups(goma_msg_kind kind, const uint8_t *in, size_t len, gmb_buf *out, const char **why);

#endif
