#include "exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>

#include "errmsg.h"
#include "exec_paths.h"
#include "exec_worker_args.h"
#include "log.h"
#include "mem.h"

/* Larger Exec bodies (sources embedded) are decoded on the work pool. */
#define EXEC_QUICK_MAX_BODY ((size_t)1 << 20)

/* Whether this request is in a shadow's share: a golden-ratio sequence
 * over the requests offered, so a share of 10% shadows one in ten,
 * evenly spread, with no random state to lock. */
static bool sampled(exec_pipeline *p, double share)
{
    if (share >= 1.0)
        return true;
    uint64_t n = atomic_fetch_add(&p->shadow_seq, 1);
    double x = (double)n * 0.6180339887498949;
    return x - floor(x) < share;
}

/* The shadow instance: the X-Gomabarn-Shadow header (when allowed), else
 * the rule's, in its share. false (400 answered) for a header that does
 * not parse. */
static bool choose_shadow(exec_job *j, const gmb_route *rule)
{
    exec_pipeline *p = j->p;
    const char *header = p->allow_header ? http_request_header(j->req, "X-Gomabarn-Shadow") : NULL;
    char *name = NULL;
    double share = 0;
    if (header) {
        char *why = NULL;
        if (gmb_shadow_parse(header, &name, &share, &why) < 0) {
            char *msg =
                gmb_format("the X-Gomabarn-Shadow header \"%s\" %s (expected \"INSTANCE [PCT%%]\")", header, why);
            exec_respond_error(j, true, "bad X-Gomabarn-Shadow header", msg);
            free(msg);
            free(why);
            return false;
        }
    } else if (rule && rule->shadow) {
        name = gmb_strdup(rule->shadow);
        share = rule->shadow_share;
    }
    if (name && p->shadow && strcmp(name, j->instance) != 0 && sampled(p, share))
        j->shadow = name;
    else
        free(name);
    return true;
}

/* The instance name: the request header (when allowed), else the first
 * matching routing rule, else the default; then the shadow, if any.
 * false when answered already (a bad header). */
static bool route(exec_job *j)
{
    exec_pipeline *p = j->p;
    const DevtoolsGoma__ExecReq *x = j->exec;
    const char *header = p->allow_header ? http_request_header(j->req, "X-Gomabarn-Instance") : NULL;
    const char *chosen = p->default_instance, *why = "default";
    const gmb_route *r = NULL;
    if (header) {
        chosen = header;
        why = "X-Gomabarn-Instance header";
    } else {
        const DevtoolsGoma__CommandSpec *cs = x->command_spec;
        const DevtoolsGoma__RequesterInfo *ri = x->requester_info;
        r = gmb_routes_match(&p->routes, cs ? cs->name : NULL, cs ? cs->target : NULL, ri ? ri->dimensions : NULL,
                             ri ? ri->n_dimensions : 0);
        if (r) {
            chosen = r->instance;
            why = r->text;
        }
    }
    free(j->instance);
    j->instance = gmb_strdup(chosen);
    snprintf(j->entry.instance, sizeof j->entry.instance, "%s", j->instance);
    if (!choose_shadow(j, r))
        return false;
    GMB_DEBUG("exec", "#%llu instance \"%s\" (%s)%s%s%s", (unsigned long long)j->id, j->instance, why,
              j->shadow ? ", shadowed on \"" : "", j->shadow ? j->shadow : "", j->shadow ? "\"" : "");
    return true;
}

void exec_show_in_view(exec_job *j)
{
    exec_pipeline *p = j->p;
    char own_id[32];
    snprintf(own_id, sizeof own_id, "gomabarn-%llu", (unsigned long long)j->id);
    view_name_request(p->view, *j->entry.requester ? j->entry.requester : own_id, j->instance,
                      &j->action.action_digest);
}

/* Decodes the ExecReq and picks its instance name. false when answered
 * (a bad request): the job is gone. */
static bool read_request(exec_job *j)
{
    if (!exec_decode_req(j)) {
        exec_job_free(j);
        return false;
    }
    DevtoolsGoma__ExecReq *x = j->exec;
    if (x->requester_info && x->requester_info->compiler_proxy_id)
        snprintf(j->entry.requester, sizeof j->entry.requester, "%s", x->requester_info->compiler_proxy_id);
    if (!route(j)) {
        exec_job_free(j);
        return false;
    }
    return true;
}

/* The input tree, the Action, then the action cache. `quick` (on the HTTP
 * thread): false, with nothing done, when an input is not held here yet
 * (exec_inputs_build_quick); the work pool then does it all. Else true:
 * answered, or the lookup is on its way. */
static bool build_and_look_up(exec_job *j, bool quick)
{
    exec_pipeline *p = j->p;
    DevtoolsGoma__ExecReq *x = j->exec;
    char *err = NULL;
    int built = quick ? exec_inputs_build_quick(p->files, p->store, x, p->exec_root, &j->inputs, &err)
                      : exec_inputs_build(p->files, p->store, x, p->exec_root, &j->inputs, &err);
    if (built == -EWOULDBLOCK && quick)
        return false; /* j->inputs left empty */
    if (built < 0) {
        /* Only the client's own fault is BAD_REQUEST (goma clients stop
         * on it); a store failure is the server's, and retryable. */
        bool client = cas_error_is_client(built);
        exec_respond_error(j, client, client ? "inputs refused" : "content store failed", err);
        free(err);
        exec_job_free(j);
        return true;
    }
    if (j->inputs.n_missing > 0) {
        exec_respond_missing(j);
        exec_job_free(j);
        return true;
    }
    size_t n_env;
    rev2_property *env = exec_command_environment(j, &n_env);
    if (!exec_command_outputs(j)) {
        free(env);
        exec_job_free(j);
        return true;
    }
    const char **args = exec_command_arguments(j);
    exec_worker_args wargs;
    exec_worker_args_build(args, x->n_arg, x->command_spec ? x->command_spec->name : NULL, j->inputs.root_path,
                           j->inputs.working_dir, j->inputs.n_relocated ? EXEC_TOOLCHAIN_DIR : NULL, p->shell, &wargs);
    rev2_action_spec spec = {
        .arguments = wargs.argv,
        .n_arguments = wargs.argc,
        .environment = env,
        .n_environment = n_env,
        .output_paths = (const char *const *)j->outputs,
        .n_output_paths = j->n_outputs,
        .working_directory = j->inputs.working_dir,
        .platform = p->platform,
        .n_platform = p->n_platform,
        .input_root = j->inputs.root,
        .timeout_ms = p->timeout_ms,
    };
    int rc = exec_build_action(j, &spec, &err);
    free(env);
    free(args);
    exec_worker_args_free(&wargs);
    if (rc < 0) {
        exec_respond_error(j, true, "action cannot be built", err);
        free(err);
        exec_job_free(j);
        return true;
    }
    char ds[REV2_DIGEST_STR_LEN];
    snprintf(j->entry.action, sizeof j->entry.action, "%s", rev2_digest_str(&j->action.action_digest, ds));
    j->entry.n_inputs = j->inputs.n_inputs;
    exec_job_record(j, "running", NULL);
    /* The action cache first: a hit needs no upload at all (one round
     * trip to Buildbarn instead of three). STORE_ONLY skips the lookup. */
    bool lookup = !(x->has_cache_policy && x->cache_policy == DEVTOOLS_GOMA__EXEC_REQ__CACHE_POLICY__STORE_ONLY);
    if (p->metrics)
        metrics_add(p->metrics,
                    quick ? "gomabarn_exec_prepared_total{on=\"http\"}" : "gomabarn_exec_prepared_total{on=\"pool\"}",
                    1);
    if (lookup)
        rev2_get_action_result(p->client, j->instance, &j->lookup_digest, false, exec_cache_checked, j);
    else
        work_pool_run(p->pool, exec_upload_and_execute, j);
    return true;
}

/* On the work pool: whatever the HTTP thread left. */
static void prepare(void *arg)
{
    exec_job *j = arg;
    if (!j->exec && !read_request(j))
        return;
    build_and_look_up(j, false);
}

static void on_exec(http_request *r, void *user)
{
    exec_pipeline *p = user;
    exec_job *j = gmb_calloc(1, sizeof *j);
    j->p = p;
    j->req = r;
    j->id = http_request_id(r);
    j->t0 = rev2_now_ms();
    j->instance = gmb_strdup(p->default_instance); /* until the request is read (route) */
    j->entry.id = j->id;
    j->entry.started = time(NULL);
    j->entry.exit_code = -1;
    snprintf(j->entry.user, sizeof j->entry.user, "%s", http_request_user(r));
    snprintf(j->entry.instance, sizeof j->entry.instance, "%s", j->instance);
    if (p->metrics)
        metrics_add(p->metrics, "gomabarn_exec_in_flight", 1);
    exec_job_record(j, "running", NULL);
    /* A hit whose inputs are all held here is prepared on this (HTTP)
     * thread up to the action cache's lookup: a hand-over to the work
     * pool cost a thread wake-up per Exec, ~20% of a hit's CPU. Nothing
     * here waits (exec_inputs_build_quick); a large body is decoded on
     * the pool, not to hold this thread's other connections. */
    size_t body_len;
    http_request_body(r, &body_len);
    if (body_len <= EXEC_QUICK_MAX_BODY && (!read_request(j) || build_and_look_up(j, true)))
        return;
    work_pool_run(p->pool, prepare, j);
}

exec_pipeline *exec_pipeline_new(const exec_pipeline_parts *parts, char **err)
{
    const gmb_config *cfg = parts->cfg;
    gmb_view *view = parts->view;
    /* gmb_config_load checked the rules already: this only fails for a
     * configuration built otherwise. */
    gmb_routes routes;
    char *why = NULL;
    if (gmb_routes_parse(&cfg->routing_rules, &routes, &why) < 0) {
        *err = gmb_format("routing.rules: %s", why);
        free(why);
        return NULL;
    }
    exec_pipeline *p = gmb_calloc(1, sizeof *p);
    exec_activity_init(&p->activity, rev2_now_ms());
    p->routes = routes;
    p->client = parts->client;
    p->store = parts->store;
    p->files = parts->files;
    p->pool = work_pool_new(parts->threads);
    p->pools = parts->pools;
    p->shadow = parts->shadow;
    p->fallback_instance = *cfg->exec_fallback_instance ? gmb_strdup(cfg->exec_fallback_instance) : NULL;
    p->max_queued_ms = cfg->exec_max_queued_s * 1000;
    p->max_silent_ms = cfg->exec_max_silent_s * 1000;
    p->actions = action_log_open(cfg->exec_action_log);
    p->default_instance = gmb_strdup(cfg->bb_instance_name);
    if (*cfg->platform_os_family)
        p->platform[p->n_platform++] = (rev2_property){gmb_strdup("OSFamily"), gmb_strdup(cfg->platform_os_family)};
    if (*cfg->platform_container_image)
        p->platform[p->n_platform++] =
            (rev2_property){gmb_strdup("container-image"), gmb_strdup(cfg->platform_container_image)};
    p->timeout_ms = cfg->exec_timeout_s * 1000;
    p->allow_header = cfg->routing_allow_header;
    for (size_t i = 0; i < cfg->exec_env_allow.n; i++) {
        p->env_allow.items = gmb_realloc(p->env_allow.items, (i + 1) * sizeof *p->env_allow.items);
        p->env_allow.items[p->env_allow.n++] = gmb_strdup(cfg->exec_env_allow.items[i]);
    }
    p->env_path = gmb_strdup(cfg->exec_path);
    p->shell = gmb_strdup(cfg->exec_shell);
    p->exec_root = gmb_strdup(cfg->exec_root);
    p->output_limits.max_outputs = (size_t)cfg->exec_max_outputs;
    p->output_limits.max_bytes = (uint64_t)cfg->exec_max_output_bytes;
    p->metrics = parts->metrics;
    p->log = parts->log;
    p->view = view;
    p->mount_path = view ? gmb_strdup(view_mountpoint(view)) : NULL;
    /* Without one (tools, tests): an uncapped budget, figures only. */
    p->budget = parts->budget ? parts->budget : (p->own_budget = gmb_budget_new(0));
    return p;
}

void exec_pipeline_routes(exec_pipeline *p, http_server *http, const char *prefix)
{
    char *path = gmb_format("%s/e", prefix);
    http_server_route(http, path, "POST", false, on_exec, p);
    free(path);
}

void exec_pipeline_free(exec_pipeline *p)
{
    if (!p)
        return;
    work_pool_free(p->pool);
    exec_activity_flush(&p->activity, rev2_now_ms()); /* the answers since the last line */
    for (size_t i = 0; i < p->n_platform; i++) {
        free((char *)p->platform[i].name);
        free((char *)p->platform[i].value);
    }
    free(p->default_instance);
    free(p->fallback_instance);
    gmb_routes_free(&p->routes);
    for (size_t i = 0; i < p->env_allow.n; i++)
        free(p->env_allow.items[i]);
    free(p->env_allow.items);
    free(p->env_path);
    free(p->shell);
    free(p->exec_root);
    free(p->mount_path);
    gmb_budget_free(p->own_budget);
    action_log_close(p->actions);
    free(p);
}
