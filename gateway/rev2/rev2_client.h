/* rev2_client: gomabarn's client for the Remote Execution API v2.
 *
 * One client per Buildbarn endpoint: one shared gRPC channel, a small
 * fixed set of engine threads, and asynchronous operations that finish by
 * callback on those threads, so thousands can be in flight at once.
 * Thread-safe: any thread may start any operation. rev2_blocking.h has
 * thin blocking wrappers for tools and tests.
 *
 * Every operation takes an instance name; NULL means the client's default
 * and "" is the (valid) empty instance name, never turned into ".".
 * Every call has a deadline. Idempotent calls are retried with exponential
 * back-off and jitter on UNAVAILABLE and RESOURCE_EXHAUSTED. ByteStream
 * reads resume at the last offset; writes restart from 0; an Execute whose
 * stream breaks reattaches with WaitExecution.
 *
 * Ownership: each callback receives `err` (NULL on success) and the
 * result, and owns both: free errors with rev2_error_free, messages with
 * rev2_msg_free. */
#ifndef REV2_CLIENT_H
#define REV2_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_channel.h"
#include "rev2_error.h"
#include "rev2_proto.h"

typedef struct {
    rev2_channel_options channel;   /* target, TLS, bearer token */
    const char *instance_name;      /* default for operations given NULL; "" is valid */
    int threads;                    /* completion threads (default 2) */
    int64_t call_timeout_ms;        /* deadline of every call but Execute (default 60 s) */
    int64_t execute_timeout_ms;     /* deadline of an Execute or WaitExecution stream (default 15 min) */
    size_t max_batch_bytes;         /* batch size limit; larger blobs use ByteStream (default 2 MiB - 64 KiB) */
    size_t bytestream_chunk_bytes;  /* ByteStream Write chunk (default 1 MiB) */
    int max_attempts;               /* tries per retryable call (default 5) */
    int64_t initial_backoff_ms;     /* first pause before a retry (default 100) */
    int64_t max_backoff_ms;         /* longest pause (default 5000) */
    size_t known_blobs_max;         /* blobs remembered as present in the CAS (default 100,000; 0: none) */
    int64_t known_blobs_ttl_ms;     /* for how long (default 10 min) */
    struct gmb_budget *blob_budget; /* bounds upload buffers read from files (budget.h); NULL: none */
} rev2_client_options;

/* Fills in the defaults above. */
void rev2_client_options_init(rev2_client_options *o);

typedef struct rev2_client rev2_client;

/* Counters since start (read with rev2_client_stats). */
typedef struct {
    uint64_t calls;                /* gRPC calls started */
    uint64_t retries;              /* of which retries after a retryable error */
    uint64_t bytes_up;             /* blob bytes uploaded */
    uint64_t bytes_down;           /* blob bytes downloaded */
    uint64_t executes;             /* Execute operations started */
    uint64_t reattaches;           /* WaitExecution calls: a stream ended before its action */
    uint64_t find_missing_calls;   /* FindMissingBlobs calls made by rev2_upload_missing */
    uint64_t find_missing_avoided; /* of its calls, those every blob of which was known present */
    uint64_t blobs_known_present;  /* blobs not asked about because known present */
    uint64_t uploads_joined;       /* blobs another upload in flight was sending already */
    uint64_t file_bytes_read;      /* bytes read from files to upload them */
    uint64_t requeued;             /* actions Buildbarn queued again after their worker disappeared */
    uint64_t queue_timeouts;       /* actions given up after max_queued_ms in QUEUED */
    uint64_t workers_lost;         /* actions given up because their worker stopped synchronizing */
} rev2_client_stats;

/* NULL on failure with a malloc'd explanation in *err. Connecting is lazy:
 * an unreachable Buildbarn shows up as UNAVAILABLE on the first call. */
rev2_client *rev2_client_new(const rev2_client_options *o, char **err);
const char *rev2_client_default_instance(const rev2_client *c);
const rev2_client_options *rev2_client_options_of(const rev2_client *c);
void rev2_client_stats_get(rev2_client *c, rev2_client_stats *out);
/* Cancels what is in flight (callbacks run with CANCELLED) and waits for
 * it; calls started afterwards fail at once with CANCELLED. The client
 * stays valid until rev2_client_free, so threads still using it see their
 * calls end, and owners know no callback runs any more before they free
 * what callbacks use. Idempotent. */
void rev2_client_stop(rev2_client *c);
/* Stops (if not yet) and frees everything. */
void rev2_client_free(rev2_client *c);

/* ---- Capabilities ----------------------------------------------------- */
typedef void (*rev2_capabilities_cb)(void *user, rev2_error *err, Rev2ServerCapabilities *caps);
void rev2_get_capabilities(rev2_client *c, const char *instance, rev2_capabilities_cb cb, void *user);

/* ---- Content-addressable storage -------------------------------------- */
/* `missing` is a malloc'd array (free it); n_missing may be 0. */
typedef void (*rev2_find_missing_cb)(void *user, rev2_error *err, rev2_digest *missing, size_t n_missing);
void rev2_find_missing(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                       rev2_find_missing_cb cb, void *user);

/* A blob to upload: bytes in memory, or a file read when needed. The data
 * or path must stay valid until the callback has run. */
typedef struct {
    rev2_digest digest;
    const uint8_t *data; /* NULL: read from path */
    const char *path;
} rev2_blob;

typedef void (*rev2_done_cb)(void *user, rev2_error *err);
/* Uploads all blobs: small ones in BatchUpdateBlobs calls under
 * max_batch_bytes, large ones through ByteStream Write. A file whose bytes
 * do not match its digest fails with DATA_LOSS. No FindMissingBlobs. */
void rev2_upload(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n, rev2_done_cb cb, void *user);
/* FindMissingBlobs, then rev2_upload of just the missing ones. Blobs
 * known present (rev2_known_blobs.h) are not asked about (no call at all
 * when every one is known); a blob another upload is sending already is
 * waited for, not sent twice. *uploaded (if not NULL) receives how many
 * this call sent before cb runs. */
void rev2_upload_missing(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n, size_t *uploaded,
                         rev2_done_cb cb, void *user);

typedef struct {
    rev2_digest digest;
    uint8_t *data;   /* malloc'd, digest.size bytes; NULL when err is set */
    rev2_error *err; /* this blob's own failure (NOT_FOUND, DATA_LOSS...) */
} rev2_read_result;
void rev2_read_results_free(rev2_read_result *r, size_t n);
/* Reads blobs whose total size is under max_batch_bytes in one
 * BatchReadBlobs (checking each digest). `results` is in request order. */
typedef void (*rev2_batch_read_cb)(void *user, rev2_error *err, rev2_read_result *results, size_t n);
void rev2_batch_read(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n, rev2_batch_read_cb cb,
                     void *user);

/* ByteStream Read of [offset, offset+limit) (limit 0: to the end). Data
 * arrives in order through on_data (return false to stop early: the call
 * ends OK). Resumes at the next offset after a retryable failure. */
typedef bool (*rev2_data_cb)(void *user, const uint8_t *data, size_t len);
void rev2_bytestream_read(rev2_client *c, const char *instance, const rev2_digest *d, int64_t offset, int64_t limit,
                          rev2_data_cb on_data, rev2_done_cb on_done, void *user);
/* ByteStream Write of one blob, in chunks of bytestream_chunk_bytes. */
void rev2_bytestream_write(rev2_client *c, const char *instance, const rev2_blob *blob, rev2_done_cb cb, void *user);

/* ---- Action cache and execution --------------------------------------- */
/* NOT_FOUND in err means a cache miss. */
typedef void (*rev2_action_result_cb)(void *user, rev2_error *err, Rev2ActionResult *result);
void rev2_get_action_result(rev2_client *c, const char *instance, const rev2_digest *action, bool inline_outputs,
                            rev2_action_result_cb cb, void *user);
/* Writes an entry (the caller's own: a key kept for other gateways, not
 * an action run). Buildbarn may refuse client writes (PERMISSION_DENIED,
 * the action cache's putAuthorizer). */
void rev2_update_action_result(rev2_client *c, const char *instance, const rev2_digest *action,
                               const Rev2ActionResult *result, rev2_done_cb cb, void *user);

/* Stage changes while an Execute runs (QUEUED, EXECUTING...); optional. */
typedef void (*rev2_progress_cb)(void *user, int stage, const char *operation_name);
/* `err` covers the call and ExecuteResponse.status (a non-OK status is an
 * infrastructure failure; its MISSING digests are parsed). On err the
 * response, if any was received, is still passed for its logs. */
typedef void (*rev2_execute_cb)(void *user, rev2_error *err, Rev2ExecuteResponse *response);
/* Unless skip_cache_lookup is set, the action cache is asked first
 * (GetActionResult) and a hit comes back with cached_result set: REv2's
 * Execute semantics, which Buildbarn's own Execute leaves to the client. */
typedef struct {
    bool skip_cache_lookup;
    int priority; /* ExecutionPolicy.priority; 0 default */
    /* Longest time the action may wait QUEUED (counted again when
     * Buildbarn queues it anew after its worker disappeared); past it the
     * call ends with UNAVAILABLE and rev2_error_is_queue_timeout. 0: no
     * limit (Buildbarn's own platformQueueWithNoWorkersTimeout applies). */
    int64_t max_queued_ms;
    /* With max_queued_ms: while QUEUED, every QUEUE_CHECK_MS the action
     * gives up early (the same queue timeout) if this says its pool was
     * marked down after it was queued (another action's queue timeout,
     * the scheduler listing no workers). NULL: no check. */
    struct rev2_pool_health *pools;
    /* Longest time without a word from Buildbarn about the action (it
     * updates a running operation at least once a minute): then the
     * stream is asked again with WaitExecution, and after a second such
     * time the call ends with UNAVAILABLE. 0: no watch. */
    int64_t max_silent_ms;
} rev2_execute_options;
void rev2_execute(rev2_client *c, const char *instance, const rev2_digest *action, const rev2_execute_options *opts,
                  rev2_progress_cb progress, rev2_execute_cb cb, void *user);

#endif
