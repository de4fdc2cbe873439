#include "rev2_exec_stream.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

void rev2_exec_stream_init(rev2_exec_stream *s)
{
    memset(s, 0, sizeof *s);
    s->stage = -1;
}

static void take_final(rev2_exec_stream *s, const LroOperation *op)
{
    /* A stream may carry more than one finished Operation: the last wins,
     * and what an earlier one left is released. */
    s->done = true;
    rev2_error_free(s->op_error);
    s->op_error = NULL;
    rev2_msg_free(s->response);
    s->response = NULL;
    if (op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR) {
        s->op_error = rev2_error_from_status_msg(op->error);
        if (!s->op_error)
            s->op_error = rev2_error_new(REV2_UNKNOWN, "operation failed without a status");
        return;
    }
    if (op->result_case != GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE ||
        !rev2_any_is(op->response, REV2_PKG "ExecuteResponse")) {
        s->op_error = rev2_error_new(REV2_INTERNAL, "finished operation carries no ExecuteResponse");
        return;
    }
    s->response = build__bazel__remote__execution__v2__execute_response__unpack(NULL, op->response->value.len,
                                                                                op->response->value.data);
    if (!s->response)
        s->op_error = rev2_error_new(REV2_INTERNAL, "undecodable ExecuteResponse");
}

bool rev2_exec_stream_feed(rev2_exec_stream *s, const uint8_t *data, size_t len)
{
    LroOperation *op = google__longrunning__operation__unpack(NULL, len, data);
    if (!op) {
        GMB_WARN("rev2", "undecodable Operation (%zu bytes) ignored", len);
        return false;
    }
    if (op->name && *op->name && (!s->operation_name || strcmp(op->name, s->operation_name) != 0)) {
        free(s->operation_name);
        s->operation_name = gmb_strdup(op->name);
    }
    bool stage_changed = false;
    if (rev2_any_is(op->metadata, REV2_PKG "ExecuteOperationMetadata")) {
        Rev2ExecuteOperationMetadata *md = build__bazel__remote__execution__v2__execute_operation_metadata__unpack(
            NULL, op->metadata->value.len, op->metadata->value.data);
        if (md && (int)md->stage != s->stage) {
            s->stage = (int)md->stage;
            stage_changed = true;
        }
        rev2_msg_free(md);
    }
    if (op->done)
        take_final(s, op);
    rev2_msg_free(op);
    return stage_changed;
}

rev2_error *rev2_exec_stream_outcome(rev2_exec_stream *s)
{
    rev2_error *err = s->op_error;
    s->op_error = NULL;
    if (!err && s->response)
        err = rev2_error_from_status_msg(s->response->status);
    if (!err && s->response && !s->response->result)
        err = rev2_error_new(REV2_INTERNAL, "ExecuteResponse without an ActionResult");
    if (!err && !s->response)
        err = rev2_error_new(REV2_INTERNAL, "the operation finished without an answer");
    return err;
}

void rev2_exec_stream_clear(rev2_exec_stream *s)
{
    free(s->operation_name);
    rev2_error_free(s->op_error);
    rev2_msg_free(s->response);
    rev2_exec_stream_init(s);
}
