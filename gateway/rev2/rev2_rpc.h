/* rev2_rpc: one gRPC call of any shape, driven by the engine's
 * completion queue.
 *
 * Unary, server-streaming and client-streaming calls all go through this
 * one state machine: requests are pulled from `next_request` one at a
 * time (a unary call has exactly one), responses are pushed to
 * `on_message` one at a time, and `on_done` runs exactly once at the end
 * with the call's status. Messages travel as bytes: callers encode and
 * decode them with protobuf-c. */
#ifndef REV2_RPC_H
#define REV2_RPC_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "rev2_channel.h"
#include "rev2_error.h"

typedef struct {
    /* Appends the next request's encoding to `out`; sets *last on the final
     * one. Return false to abandon the call (on_done then gets INTERNAL with
     * the message left in *why, malloc'd). Runs on engine threads. */
    bool (*next_request)(void *user, gmb_buf *out, bool *last, char **why);
    /* One response message, valid only during the call. Return false to
     * stop reading: the call is cancelled and ends as OK. */
    bool (*on_message)(void *user, const uint8_t *data, size_t len);
    /* Exactly once. `err` is NULL for OK; the callee owns it. */
    void (*on_done)(void *user, rev2_error *err);
    /* NULL, or asked four times a second (REV2_ENGINE_SWEEP_MS) while the
     * call is in flight, on the engine's timer thread with its lock held:
     * quick, reading only what is safe from another thread, no call into
     * the engine. true ends the call: on_done then gets CANCELLED. Lets a
     * long call end on an outside event without a deadline that cuts it
     * every second. */
    bool (*give_up)(void *user);
} rev2_rpc_handlers;

/* Starts a call to `method` (e.g. "/google.bytestream.ByteStream/Read").
 * timeout_ms <= 0 means no deadline. If the call cannot start (engine shut
 * down, first request refused), on_done runs before this returns. */
void rev2_rpc_start(rev2_channel *ch, const char *method, int64_t timeout_ms, const rev2_rpc_handlers *handlers,
                    void *user);

#endif
