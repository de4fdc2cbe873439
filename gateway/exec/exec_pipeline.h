/* exec_pipeline: goma's Exec on Buildbarn.
 *
 *   ExecReq (groups decoded by goma_wire)
 *     -> inputs resolved in the file service, or missing_input (as sent)
 *     -> instance name: the X-Gomabarn-Instance header (routing.allow_header),
 *        else the first matching routing.rules entry, else the default
 *     -> input root (exec_inputs; a toolchain_included request's compiler
 *        staged in it and named by argv[0]), Command (arguments, the
 *        client variables exec.env_allow lets through plus exec.path as
 *        PATH, Command.output_paths from expected_output_files, working
 *        directory), Action (exec.timeout_s; platform from config in
 *        Action.platform)
 *     -> FindMissingBlobs + upload of what Buildbarn lacks
 *     -> Execute on the routed instance name, the action cache consulted
 *        first unless the cache policy is STORE_ONLY; blobs Buildbarn
 *        reports MISSING after all (evicted meanwhile) are uploaded again
 *        from the job's own copies and the action executed once more
 *     -> ExecResult (exec_result) -> ExecResp, groups re-encoded.
 * Short blocking steps run on a fixed work pool; while Buildbarn executes,
 * the request holds no thread. Infrastructure failures answer with a
 * retryable error_message (never exit status 0 without outputs); bad
 * requests with error = BAD_REQUEST and a message.
 * Inputs over 2 MiB arrive as FILE_META and are assembled from their
 * stored chunks (goma_files). */
#ifndef EXEC_PIPELINE_H
#define EXEC_PIPELINE_H

#include "cas_store.h"
#include "config.h"
#include "goma_files.h"
#include "http_server.h"
#include "metrics.h"
#include "request_log.h"
#include "view.h"

typedef struct exec_pipeline exec_pipeline;
struct gmb_budget;
struct exec_shadow;

/* What a pipeline works with (not owned). metrics, log, view, budget
 * and pools may be NULL. view: the mounted FUSE view, to name each action
 * under requests/ and read outputs back through the mount; NULL: outputs
 * are read from the store in-process. budget: the blob memory cap
 * (exec.max_blob_memory_bytes) shared with the REv2 client. pools: what is
 * known of each worker pool (requests to a pool known down are answered
 * at once). shadow: where shadowed requests go (exec_shadow.h); it must
 * outlive the pipeline. */
typedef struct {
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    const gmb_config *cfg;
    int threads;
    metrics *metrics;
    request_log *log;
    gmb_view *view;
    struct gmb_budget *budget;
    struct rev2_pool_health *pools;
    struct exec_shadow *shadow; /* NULL: no shadow execution */
} exec_pipeline_parts;

/* NULL with *err when the configuration's routing.rules do not parse. */
exec_pipeline *exec_pipeline_new(const exec_pipeline_parts *parts, char **err);
void exec_pipeline_routes(exec_pipeline *p, http_server *http, const char *prefix);
/* Waits for the work queued, then frees. Stop the HTTP server first. */
void exec_pipeline_free(exec_pipeline *p);

#endif
