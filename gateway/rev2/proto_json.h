/* proto_json: any protobuf-c message as readable JSON, driven by its
 * descriptor: field names as in the .proto, enums by name, 64-bit
 * integers as numbers, bytes as base64 (or as text when they are
 * printable UTF-8 text, which is what stdout/stderr usually are),
 * google.protobuf.Timestamp as an RFC 3339 UTC time and Duration as
 * seconds. proto3 fields at their default value are left out. */
#ifndef PROTO_JSON_H
#define PROTO_JSON_H

#include <protobuf-c/protobuf-c.h>

#include "buf.h"

/* Appends the JSON (with a final newline) to out. 0, or -1 if out's
 * limit was reached. */
int proto_json(const ProtobufCMessage *msg, gmb_buf *out);

#endif
