#include "rev2_rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "tsan.h"

/* Largest single request message we build (ByteStream chunks are smaller). */
#define RPC_MAX_REQUEST_BYTES (64u << 20)

typedef struct rpc {
    rev2_channel *channel;
    const rev2_rpc_handlers *h;
    void *user;
    char method[128];        /* for log lines */
    grpc_slice method_slice; /* ref-counted: the transport's HPACK table may keep it */
    grpc_call *call;
    rev2_live_call live;

    rev2_tag send_tag, recv_tag, status_tag;
    pthread_mutex_t lock;
    int pending; /* batches started and not yet completed */
    bool status_done;
    bool stopped_by_us;  /* on_message asked to stop: cancelled on purpose */
    bool cancelled_live; /* cancelled by the engine: shutdown, or give_up */
    bool sent_last;
    rev2_error *local_err; /* a failure of ours, reported instead of the status */

    grpc_byte_buffer *send_bb;
    grpc_byte_buffer *recv_bb;
    gmb_buf request;
    grpc_metadata_array initial_md;
    grpc_metadata_array trailing_md;
    grpc_status_code status;
    grpc_slice status_details;
    const char *error_string;
} rpc;

static void on_send_done(void *arg, bool ok);
static void on_recv_done(void *arg, bool ok);
static void on_status_done(void *arg, bool ok);

static rev2_error *status_to_error(rpc *r)
{
    if (r->local_err) {
        rev2_error *e = r->local_err;
        r->local_err = NULL;
        return e;
    }
    if (r->status == GRPC_STATUS_OK || (r->stopped_by_us && r->status == GRPC_STATUS_CANCELLED))
        return NULL;
    pthread_mutex_lock(&r->lock);
    bool cancelled_here = r->cancelled_live;
    pthread_mutex_unlock(&r->lock);
    if (r->status == GRPC_STATUS_CANCELLED && !cancelled_here) {
        /* Not cancelled here, so by the server (RST_STREAM CANCEL, as
         * Buildbarn under load sometimes sends): the call did not fail,
         * it was dropped. Every REv2 call of ours is idempotent (Execute
         * is deduplicated by the scheduler), so it is worth another try. */
        char *details = grpc_slice_to_c_string(r->status_details);
        rev2_error *e = rev2_error_new(REV2_UNAVAILABLE, "Buildbarn dropped the call (%s)",
                                       *details ? details : "cancelled by the server");
        gpr_free(details);
        return e;
    }
    /* Rich details (PreconditionFailure...) travel in this trailer. */
    for (size_t i = 0; i < r->trailing_md.count; i++) {
        grpc_metadata *m = &r->trailing_md.metadata[i];
        if (grpc_slice_str_cmp(m->key, "grpc-status-details-bin") == 0) {
            rev2_error *e = rev2_error_from_status_bytes(GRPC_SLICE_START_PTR(m->value), GRPC_SLICE_LENGTH(m->value));
            if (e) {
                e->code = (int)r->status;
                return e;
            }
        }
    }
    char *details = grpc_slice_to_c_string(r->status_details);
    rev2_error *e;
    if (*details)
        e = rev2_error_new((int)r->status, "%s", details);
    else if (r->error_string)
        e = rev2_error_new((int)r->status, "%s", r->error_string);
    else
        e = rev2_error_new((int)r->status, "%s", rev2_code_name((int)r->status));
    gpr_free(details);
    return e;
}

static void rpc_free(rpc *r)
{
    if (r->call)
        grpc_call_unref(r->call);
    grpc_slice_unref(r->method_slice);
    if (r->send_bb)
        grpc_byte_buffer_destroy(r->send_bb);
    if (r->recv_bb)
        grpc_byte_buffer_destroy(r->recv_bb);
    grpc_metadata_array_destroy(&r->initial_md);
    grpc_metadata_array_destroy(&r->trailing_md);
    grpc_slice_unref(r->status_details);
    gpr_free((void *)r->error_string);
    gmb_buf_free(&r->request);
    rev2_error_free(r->local_err);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Drops one pending batch; the last one out reports and frees. */
static void batch_finished(rpc *r)
{
    pthread_mutex_lock(&r->lock);
    bool last = --r->pending == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    rev2_error *err = status_to_error(r);
    if (err)
        GMB_DEBUG("rev2", "%s ended: %s %s", r->method, rev2_code_name(err->code), err->message);
    rev2_engine *engine = rev2_channel_engine(r->channel);
    if (r->live.give_up) /* on_done may free what give_up reads */
        rev2_engine_call_unwatch(engine, &r->live);
    /* The callback runs while this call still counts as in flight: it may
     * start the next call (a retry, the Execute after a cache check), and
     * shutdown must not free the channel under it. A call started while
     * shutting down is refused at once, so nothing outlives shutdown. */
    r->h->on_done(r->user, err);
    rev2_engine_call_finished(engine, &r->live);
    rpc_free(r);
}

/* The engine's: shutdown, or give_up said so. Before the gRPC call
 * exists, rev2_rpc_start cancels it as soon as it does. */
static void cancel_live(void *arg)
{
    rpc *r = arg;
    pthread_mutex_lock(&r->lock);
    r->cancelled_live = true;
    grpc_call *call = r->call;
    pthread_mutex_unlock(&r->lock);
    if (call)
        grpc_call_cancel(call, NULL);
}

static bool give_up_live(void *arg)
{
    rpc *r = arg;
    return r->h->give_up(r->user);
}

static void fail_locally(rpc *r, rev2_error *e)
{
    pthread_mutex_lock(&r->lock);
    if (!r->local_err)
        r->local_err = e;
    else
        rev2_error_free(e);
    pthread_mutex_unlock(&r->lock);
    grpc_call_cancel(r->call, NULL);
}

/* Pulls the next request from the caller and wraps it in a byte buffer. */
static bool take_next_request(rpc *r)
{
    gmb_buf_reset(&r->request);
    bool last = true;
    char *why = NULL;
    if (!r->h->next_request(r->user, &r->request, &last, &why)) {
        rev2_error *e = rev2_error_new(REV2_INTERNAL, "%s: %s", r->method, why ? why : "request could not be built");
        free(why);
        fail_locally(r, e);
        return false;
    }
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)r->request.data, r->request.len);
    r->send_bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    r->sent_last = last;
    return true;
}

/* Every batch of the call starts here: its tag reaches the completion
 * thread through gRPC, a hand-off ThreadSanitizer is told of (tsan.h). */
static grpc_call_error start_batch(rpc *r, const grpc_op *ops, size_t n, rev2_tag *tag)
{
    GMB_HANDOFF_RELEASE(tag);
    return grpc_call_start_batch(r->call, ops, n, tag, NULL);
}

static void start_send(rpc *r, bool with_initial_metadata)
{
    grpc_op ops[3];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (with_initial_metadata) {
        const void *md;
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = rev2_channel_metadata(r->channel, &md);
        ops[n++].data.send_initial_metadata.metadata = (grpc_metadata *)md;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = r->send_bb;
    if (r->sent_last)
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    pthread_mutex_lock(&r->lock);
    r->pending++;
    pthread_mutex_unlock(&r->lock);
    grpc_call_error rc = start_batch(r, ops, n, &r->send_tag);
    if (rc != GRPC_CALL_OK) {
        fail_locally(r, rev2_error_new(REV2_INTERNAL, "%s: gRPC refused a send batch (%d)", r->method, rc));
        batch_finished(r);
    }
}

static void start_recv(rpc *r, bool with_initial_metadata)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (with_initial_metadata) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &r->initial_md;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &r->recv_bb;
    pthread_mutex_lock(&r->lock);
    r->pending++;
    pthread_mutex_unlock(&r->lock);
    grpc_call_error rc = start_batch(r, ops, n, &r->recv_tag);
    if (rc != GRPC_CALL_OK) {
        fail_locally(r, rev2_error_new(REV2_INTERNAL, "%s: gRPC refused a receive batch (%d)", r->method, rc));
        batch_finished(r);
    }
}

static void on_send_done(void *arg, bool ok)
{
    rpc *r = arg;
    grpc_byte_buffer_destroy(r->send_bb);
    r->send_bb = NULL;
    /* A failed send means the call is ending; the status says why. */
    if (ok && !r->sent_last && take_next_request(r))
        start_send(r, false);
    batch_finished(r);
}

static void on_recv_done(void *arg, bool ok)
{
    rpc *r = arg;
    if (ok && r->recv_bb) {
        grpc_byte_buffer_reader reader;
        bool keep_going = false;
        if (grpc_byte_buffer_reader_init(&reader, r->recv_bb)) {
            grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
            keep_going = r->h->on_message(r->user, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all));
            grpc_slice_unref(all);
        } else {
            fail_locally(r, rev2_error_new(REV2_INTERNAL, "unreadable (compressed?) response message"));
        }
        grpc_byte_buffer_destroy(r->recv_bb);
        r->recv_bb = NULL;
        if (keep_going) {
            start_recv(r, false);
        } else {
            pthread_mutex_lock(&r->lock);
            r->stopped_by_us = r->local_err == NULL;
            pthread_mutex_unlock(&r->lock);
            grpc_call_cancel(r->call, NULL);
        }
    }
    /* NULL message: the server closed the stream; the status follows. */
    batch_finished(r);
}

static void on_status_done(void *arg, bool ok)
{
    rpc *r = arg;
    r->status_done = true;
    batch_finished(r);
}

static void fail_before_start(const rev2_rpc_handlers *h, void *user, rev2_error *e)
{
    h->on_done(user, e);
}

void rev2_rpc_start(rev2_channel *ch, const char *method, int64_t timeout_ms, const rev2_rpc_handlers *handlers,
                    void *user)
{
    rpc *r = gmb_calloc(1, sizeof *r);
    r->channel = ch;
    r->h = handlers;
    r->user = user;
    snprintf(r->method, sizeof r->method, "%s", method);
    r->method_slice = grpc_slice_from_copied_string(method);
    pthread_mutex_init(&r->lock, NULL);
    gmb_buf_init(&r->request, RPC_MAX_REQUEST_BYTES);
    grpc_metadata_array_init(&r->initial_md);
    grpc_metadata_array_init(&r->trailing_md);
    r->status_details = grpc_empty_slice();
    r->send_tag = (rev2_tag){on_send_done, r};
    r->recv_tag = (rev2_tag){on_recv_done, r};
    r->status_tag = (rev2_tag){on_status_done, r};
    r->live.cancel = cancel_live;
    r->live.give_up = handlers->give_up ? give_up_live : NULL;
    r->live.arg = r;

    rev2_engine *engine = rev2_channel_engine(ch);
    if (!rev2_engine_call_started(engine, &r->live)) {
        rpc_free(r);
        fail_before_start(handlers, user, rev2_error_new(REV2_CANCELLED, "%s: gomabarn is shutting down", method));
        return;
    }

    gpr_timespec deadline =
        timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
                       : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_call *call = grpc_channel_create_call(rev2_channel_grpc(ch), NULL, GRPC_PROPAGATE_DEFAULTS,
                                               rev2_engine_cq(engine), r->method_slice, NULL, deadline, NULL);
    pthread_mutex_lock(&r->lock);
    r->call = call;
    bool cancelled = r->cancelled_live; /* by the engine, before the call existed */
    pthread_mutex_unlock(&r->lock);
    if (cancelled)
        grpc_call_cancel(call, NULL);

    /* The status batch first: it holds the call open until everything ends. */
    grpc_op status_op;
    memset(&status_op, 0, sizeof status_op);
    status_op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    status_op.data.recv_status_on_client.trailing_metadata = &r->trailing_md;
    status_op.data.recv_status_on_client.status = &r->status;
    status_op.data.recv_status_on_client.status_details = &r->status_details;
    status_op.data.recv_status_on_client.error_string = &r->error_string;
    /* Two counts before the first batch starts: the status batch's, and
     * one held while the other batches start. A call that fails at once
     * (nothing listening) may complete its status on another thread
     * before this function goes on; the second count keeps r alive. */
    r->pending = 2;
    grpc_call_error rc = start_batch(r, &status_op, 1, &r->status_tag);
    if (rc != GRPC_CALL_OK) {
        rev2_engine_call_finished(engine, &r->live);
        rpc_free(r);
        fail_before_start(handlers, user, rev2_error_new(REV2_INTERNAL, "%s: gRPC refused the call (%d)", method, rc));
        return;
    }
    if (take_next_request(r))
        start_send(r, true);
    start_recv(r, true);
    batch_finished(r);
}
