/* exec_internal: what the exec pipeline's files share (not for others).
 *
 *   exec_pipeline.c      the flow: an Exec arrives, is decoded, routed and
 *                        built, then the action cache is asked
 *   exec_action_build.c  an ExecReq turned into a Command and an Action
 *   exec_run.c           a miss: upload what Buildbarn lacks, Execute,
 *                        heal blobs Buildbarn lost
 *   exec_answer.c        the goma answer: outputs, errors, missing inputs,
 *                        and the request's record (status page, metrics)
 */
#ifndef EXEC_INTERNAL_H
#define EXEC_INTERNAL_H

#include "arena.h"
#include "exec_pipeline.h"

#include "action_log.h"
#include "budget.h"
#include "exec_activity.h"
#include "exec_inputs.h"
#include "exec_shadow.h"
#include "rev2_action.h"
#include "rev2_output_list.h"
#include "rev2_pool_health.h"
#include "routing.h"
#include "work_pool.h"

struct exec_pipeline {
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    work_pool *pool;
    char *default_instance;
    gmb_routes routes;
    bool allow_header;                /* X-Gomabarn-Instance overrides the routing */
    gmb_strlist env_allow;            /* client variables an action gets */
    char *env_path;                   /* every action's PATH ("" none) */
    char *shell;                      /* exec.shell ("" none: arguments as sent) */
    char *exec_root;                  /* fixed input root, or "" */
    rev2_output_limits output_limits; /* exec.max_outputs, exec.max_output_bytes */
    rev2_property platform[2];
    size_t n_platform;
    int64_t timeout_ms;
    metrics *metrics;
    request_log *log;
    gmb_view *view;              /* NULL: not mounted */
    char *mount_path;            /* the view's; NULL: outputs read in-process */
    gmb_budget *budget;          /* blob bytes in memory across requests */
    gmb_budget *own_budget;      /* when the caller gave none */
    rev2_pool_health *pools;     /* NULL: not tracked */
    action_log *actions;         /* exec.action_log; NULL: none */
    int64_t max_queued_ms;       /* exec.max_queued_s */
    int64_t max_silent_ms;       /* exec.max_silent_s, in ms */
    exec_shadow *shadow;         /* NULL: no shadow execution */
    char *fallback_instance;     /* exec.fallback_instance; NULL: none */
    _Atomic uint64_t shadow_seq; /* requests offered a shadow share (sampling) */
    exec_activity activity;      /* the once-a-minute summary in the log */
};

/* How long an answer waits for blob memory before failing (retryable). */
#define BUDGET_WAIT_MS (5 * 60 * 1000)

typedef struct {
    exec_pipeline *p;
    http_request *req;
    uint64_t id;
    int64_t t0;
    char *instance;
    DevtoolsGoma__ExecReq *exec;
    gmb_arena *exec_arena; /* exec's memory, all of it: freed with the job */
    exec_inputs inputs;
    char **outputs; /* Command.output_paths, as exec_command_outputs made them */
    size_t n_outputs;
    rev2_built_action action;
    rev2_digest lookup_digest; /* the cacheable form of the action, for the action cache */
    Rev2ExecuteResponse *resp;
    rev2_error *err;
    bool healed;         /* MISSING blobs were re-uploaded once already */
    char *shadow;        /* the shadow instance name, or NULL */
    bool fell_back;      /* moved to exec.fallback_instance once already */
    bool tried_again;    /* run once more on its pool after its worker disappeared */
    bool on_engine;      /* answered on the engine thread: may not wait */
    request_entry entry; /* what the status page shows */
} exec_job;

/* ---- exec_action_build.c ---------------------------------------------- */

/* Decodes the body into j->exec; false (400 answered) if it is no ExecReq. */
bool exec_decode_req(exec_job *j);
/* The action's environment: exec.env_allow'ed client variables and PATH. */
rev2_property *exec_command_environment(exec_job *j, size_t *n_env);
/* The request's expected output i: files first, then directories. */
const char *exec_expected_output(const DevtoolsGoma__ExecReq *x, size_t i);
/* Sets j->outputs, Command.output_paths: the expected outputs in that
 * order, relative to the working directory (exec_path_output_in_cwd: an
 * absolute one becomes the path to it from there, with ".." where it lies
 * elsewhere). false when answered already (a bad request). */
bool exec_command_outputs(exec_job *j);
const char **exec_command_arguments(const exec_job *j);
/* Builds j->action and sets j->lookup_digest. 0, or -1 with *err. */
int exec_build_action(exec_job *j, rev2_action_spec *spec, char **err);

/* requests/<goma request id> leads to the action in the view (mounted
 * only). Its Action, Command and Directories are read lazily, so it is
 * named once someone can read them: on a cache hit, where Buildbarn has
 * them (a hit writes nothing to disk), and on a miss after they were
 * staged in the local store (exec_upload_and_execute). Named before the
 * cache lookup, a listing in between failed with EIO. (exec_pipeline.c) */
void exec_show_in_view(exec_job *j);

/* ---- exec_run.c ------------------------------------------------------- */

/* The action cache's answer (on an engine thread): a hit is finished, a
 * miss goes on to exec_upload_and_execute. */
void exec_cache_checked(void *user, rev2_error *err, Rev2ActionResult *result);
/* A miss: upload what Buildbarn lacks, then Execute. On a pool thread. */
void exec_upload_and_execute(void *arg);
/* Execute's answer (engine thread): exec_finish on a pool thread. */
void exec_executed(void *user, rev2_error *err, Rev2ExecuteResponse *resp);
/* Blobs Buildbarn lost: uploaded again, executed once more. false if that
 * cannot help. */
bool exec_heal_missing(exec_job *j);
/* The pool is down (no workers, a queue timeout, known down): run the job
 * on exec.fallback_instance instead, once. false when there is none, it
 * is the same pool, or the job fell back already. */
bool exec_try_fallback(exec_job *j, const char *why);
/* Buildbarn failed the job because its worker disappeared: run it once
 * more on the same pool (another worker takes it). false when it was tried
 * again already or its client has left. */
bool exec_try_again(exec_job *j, const char *why);

/* ---- exec_answer.c ---------------------------------------------------- */

/* The finished action answered (pool thread, or the engine thread for a
 * hit whose outputs are all on disk here: j->on_engine); frees the job. */
void exec_finish(void *arg);
/* Publishes the request's state; terminal states also count in metrics. */
void exec_job_record(exec_job *j, const char *state, const char *error);
void exec_job_free(exec_job *j);
/* Encodes an ExecResp with goma's groups and answers 200. */
void exec_respond(exec_job *j, DevtoolsGoma__ExecResp *resp);
/* An answer without a result; bad_request: the client's fault. reason: a
 * fixed short phrase the status pages count failures by. */
void exec_respond_error(exec_job *j, bool bad_request, const char *reason, const char *message);
void exec_respond_missing(exec_job *j);

#endif
