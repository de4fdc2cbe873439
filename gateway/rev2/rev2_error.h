/* rev2_error: what went wrong in a call to Buildbarn.
 *
 * Keeps the gRPC status code, the server's message and the parsed details
 * of google.rpc.Status (the MISSING blobs of a PreconditionFailure), so the
 * exec pipeline can heal missing inputs and the user sees the server's own
 * words. Every error is heap-allocated and owned by whoever receives it. */
#ifndef REV2_ERROR_H
#define REV2_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_digest.h"

/* gRPC status codes (same numbers as grpc_status_code and google.rpc.Code),
 * spelled out here so users of this header need not include grpc.h. */
enum {
    REV2_OK = 0,
    REV2_CANCELLED = 1,
    REV2_UNKNOWN = 2,
    REV2_INVALID_ARGUMENT = 3,
    REV2_DEADLINE_EXCEEDED = 4,
    REV2_NOT_FOUND = 5,
    REV2_ALREADY_EXISTS = 6,
    REV2_PERMISSION_DENIED = 7,
    REV2_RESOURCE_EXHAUSTED = 8,
    REV2_FAILED_PRECONDITION = 9,
    REV2_ABORTED = 10,
    REV2_OUT_OF_RANGE = 11,
    REV2_UNIMPLEMENTED = 12,
    REV2_INTERNAL = 13,
    REV2_UNAVAILABLE = 14,
    REV2_DATA_LOSS = 15,
    REV2_UNAUTHENTICATED = 16,
};

typedef struct {
    int code;             /* a REV2_* status code, never REV2_OK */
    char *message;        /* the server's (or our) words; never NULL */
    rev2_digest *missing; /* blobs named by MISSING precondition violations */
    size_t n_missing;
} rev2_error;

rev2_error *rev2_error_new(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* From a serialized google.rpc.Status (the "grpc-status-details-bin"
 * trailer, or ExecuteResponse.status). NULL when the status is OK. */
rev2_error *rev2_error_from_status_bytes(const uint8_t *data, size_t len);
/* From a decoded google.rpc.Status message (const void * to keep the
 * generated headers out of this one). NULL when its code is OK. */
rev2_error *rev2_error_from_status_msg(const void *rpc_status);
rev2_error *rev2_error_copy(const rev2_error *e);
/* Prefixes the message with context: "<context>: <old message>". */
void rev2_error_prefix(rev2_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rev2_error_free(rev2_error *e);

/* "UNAVAILABLE", "NOT_FOUND", ... */
const char *rev2_code_name(int code);
/* UNAVAILABLE and RESOURCE_EXHAUSTED: worth another try after a pause. */
bool rev2_code_is_retryable(int code);
/* Scheduler text for "no worker matches this instance name and platform". */
bool rev2_error_is_no_workers(const rev2_error *e);
/* The action waited QUEUED longer than rev2_execute_options.max_queued_ms. */
bool rev2_error_is_queue_timeout(const rev2_error *e);
/* The action's worker stopped synchronizing with the scheduler while it ran
 * (rev2_pool_health_action_lost). */
bool rev2_error_is_worker_lost(const rev2_error *e);
/* Buildbarn's scheduler failed the action: it dropped the worker executing
 * it (a minute without a word from it). */
bool rev2_error_is_worker_disappeared(const rev2_error *e);

#endif
