/* rev2_exec_stream: what the Operations of an Execute or WaitExecution
 * stream have said so far. Separate from the call so the parser of
 * Buildbarn's messages can be tested and fuzzed without a live stream. */
#ifndef REV2_EXEC_STREAM_H
#define REV2_EXEC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_error.h"
#include "rev2_proto.h"

typedef struct {
    char *operation_name;          /* last name seen; WaitExecution reattaches to it */
    int stage;                     /* last ExecutionStage reported, -1 before any */
    bool done;                     /* an Operation with done=true arrived */
    rev2_error *op_error;          /* Operation.error of the last finished operation */
    Rev2ExecuteResponse *response; /* its ExecuteResponse */
} rev2_exec_stream;

void rev2_exec_stream_init(rev2_exec_stream *s);
/* Reads one Operation message. Returns true when the stage changed (so
 * the caller reports progress). Undecodable messages are logged and
 * ignored; a stream may carry several finished Operations: the last wins. */
bool rev2_exec_stream_feed(rev2_exec_stream *s, const uint8_t *data, size_t len);
/* After `done`: the error the execution ended with (Operation.error, the
 * ExecuteResponse's status, or a response without a result), or NULL.
 * The caller owns it; the response stays in s->response. */
rev2_error *rev2_exec_stream_outcome(rev2_exec_stream *s);
/* Frees what the stream holds (the response too, unless taken). */
void rev2_exec_stream_clear(rev2_exec_stream *s);

#endif
