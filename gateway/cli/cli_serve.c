/* `gomabarn serve`: the goma-facing HTTP server. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "budget.h"
#include "cli.h"
#include "cli_args.h"
#include "client_config.h"
#include "cas_store.h"
#include "exec_pipeline.h"
#include "goma_files.h"
#include "goma_service.h"
#include "http_server.h"
#include "metrics.h"
#include "request_log.h"
#include "rev2_pool_health.h"
#include "serve_shadow.h"
#include "status_page.h"
#include "view.h"
#include "log.h"

static const char usage[] = "usage: gomabarn serve [--config FILE]\n"
                            "\n"
                            "Serves the goma protocol over HTTP on http.listen:http.port (default\n"
                            "127.0.0.1:5050) under http.path_prefix (default /cxx-compiler-service), with\n"
                            "auth.mode none or tokens, until SIGINT or SIGTERM (then: requests in\n"
                            "flight get 3 s to finish, the rest are answered 503, and it exits 0).\n"
                            "\n"
                            "Also: / (status page; ?state= and ?instance= filter its requests),\n"
                            "/request/<id>, /builds and /build (per-build summary, ?format=json),\n"
                            "/metrics (Prometheus), /healthz.\n"
                            "Served now: ping (GET and POST), s (StoreFile) and l (LookupFile) on the\n"
                            "local content store (cache.dir), sl (SaveLog), /healthz.\n"
                            "With mount.enabled, the FUSE view is mounted at mount.path: each Exec's\n"
                            "action appears there before it runs (requests/<goma request id> links to\n"
                            "by-instance/<instance>/<action hash>-<size>) and its outputs are read back\n"
                            "through the mount (in-process when FUSE is unavailable).\n"
                            "e (Exec) runs plain requests (the compiler named in argv is the worker's)\n"
                            "and toolchain_included requests (GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true: the\n"
                            "shipped compiler runs; files outside the input root are staged under\n"
                            ".gomabarn-toolchain/<absolute path>). The instance name is the\n"
                            "X-Gomabarn-Instance request header (routing.allow_header), else the first\n"
                            "matching routing.rules entry, else buildbarn.instance_name.\n"
                            "\n"
                            "goma client settings: GOMA_SERVER_HOST=127.0.0.1 GOMA_SERVER_PORT=5050\n"
                            "GOMA_USE_SSL=false GOMACTL_USE_PROXY=false (goma_ctl's own proxy would\n"
                            "forward to port 443 over TLS and answer 502 itself).\n"
                            "\n"
                            "options:\n"
                            "  -c, --config FILE   gomabarn configuration (default: built-in defaults)\n"
                            "  -h, --help          this text\n";

static void *run_view(void *view)
{
    pthread_setname_np(pthread_self(), "gmb-fuse");
    view_run(view, false);
    return NULL;
}

/* -1 to go on (the --config file, if any, in *config_path), else the exit status. */
static int parse_options(int argc, char **argv, const char **config_path)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const gmb_cli_spec spec = {"gomabarn serve", usage, "c:h", options, NULL, NULL};
    return gmb_cli_options(&spec, argc, argv, config_path);
}

/* A store too small for real work is said at start, not found out from
 * compiles that all fall back to local builds. */
static void warn_store_options(const cas_store_options *so)
{
    char *warnings = cas_store_options_warnings(so);
    for (char *line = warnings, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        GMB_WARN("serve", "%s", line);
    }
    free(warnings);
}

/* Blocks the stop signals before any thread starts, so sigwait gets them. */
static void block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The view, mounted and served by its own thread (*thread); NULL without
 * FUSE: then outputs are read in-process and the status page and log say so. */
static gmb_view *start_view(const gmb_config *cfg, cas_store *store, pthread_t *thread)
{
    view_options vo = gmb_view_options(cfg, NULL);
    char *why = NULL;
    gmb_view *view = view_create(store, &vo, &why);
    if (view && view_mount(view, &why) == 0 && pthread_create(thread, NULL, run_view, view) == 0) {
        free(why);
        return view;
    }
    GMB_WARN("serve", "the FUSE view is not available (%s): Exec outputs are read in-process", why ? why : "?");
    view_destroy(view);
    free(why);
    return NULL;
}

/* Everything serve runs, started in order and stopped in reverse. */
typedef struct {
    gmb_config cfg;
    gmb_auth *auth;
    http_server *http;
    goma_service *goma;
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    exec_pipeline *pipeline;
    metrics *met;
    request_log *rlog;
    status_page *status;
    gmb_budget *budget;
    rev2_pool_health *pools;
    rev2_client *scheduler;
    gmb_view *view;
    serve_shadow *shadow;
    pthread_t view_thread;
} serve_parts;

/* The Buildbarn side: the blob memory budget, the client (connecting is
 * lazy: serve starts even while Buildbarn is down), pool health and, when
 * configured, the scheduler's build queue state it watches. */
static int start_buildbarn(serve_parts *s, char **err)
{
    const gmb_config *cfg = &s->cfg;
    s->budget = gmb_budget_new((uint64_t)cfg->exec_max_blob_memory_bytes);
    if (!(s->client = gmb_client_from_config_budget(cfg, s->budget, err)))
        return -1;
    s->pools = rev2_pool_health_new(cfg->exec_pool_probe_interval_s * 1000);
    if (*cfg->bb_scheduler_target) {
        /* The same TLS and token settings, another endpoint. */
        gmb_config sc = *cfg;
        sc.bb_target = cfg->bb_scheduler_target;
        if (!(s->scheduler = gmb_client_from_config(&sc, err)))
            return -1;
        rev2_pool_health_watch(s->pools, s->scheduler, 5000);
    }
    return 0;
}

/* The content store, the goma files on it (shared through Buildbarn when
 * configured) and the view over it. */
static int start_store(serve_parts *s, char **err)
{
    const gmb_config *cfg = &s->cfg;
    cas_store_options so = gmb_store_options(cfg);
    if (!(s->store = cas_store_open(&so, s->client, err)))
        return -1;
    warn_store_options(&so);
    s->files = goma_files_new(s->store);
    if (cfg->goma_share_through_buildbarn) /* stopped by goma_files_free */
        goma_files_share_start(s->files, &(goma_share_options){.client = s->client,
                                                               .store = s->store,
                                                               .queue_max = (size_t)cfg->goma_share_queue_max,
                                                               .wait_ms = cfg->goma_share_wait_ms,
                                                               .lookup_timeout_ms = cfg->goma_share_lookup_timeout_ms,
                                                               .metrics = s->met});
    if (cfg->mount_enabled) /* NULL when FUSE is unavailable: outputs are read in-process */
        s->view = start_view(cfg, s->store, &s->view_thread);
    return 0;
}

/* The HTTP server and what answers on it: goma's endpoints, the Exec
 * pipeline (with its shadow queue) and the status pages. */
static int start_http(serve_parts *s, char **err)
{
    const gmb_config *cfg = &s->cfg;
    http_server_options ho = {.listen_address = cfg->http_listen,
                              .port = (int)cfg->http_port,
                              .max_body_bytes = (size_t)cfg->http_max_body_bytes,
                              .threads = (int)cfg->http_threads,
                              .auth = s->auth,
                              .metrics = s->met};
    if (!(s->http = http_server_new(&ho, err)))
        return -1;
    s->goma = goma_service_new(s->http, cfg->http_path_prefix);
    goma_files_routes(s->files, s->http, cfg->http_path_prefix);
    exec_pipeline_parts parts = {.client = s->client,
                                 .store = s->store,
                                 .files = s->files,
                                 .cfg = cfg,
                                 .threads = 8,
                                 .metrics = s->met,
                                 .log = s->rlog,
                                 .view = s->view,
                                 .budget = s->budget,
                                 .pools = s->pools};
    if (!(s->shadow = serve_shadow_start(cfg, s->met, parts.view, s->http, err)))
        return -1;
    parts.shadow = serve_shadow_queue(s->shadow);
    if (!(s->pipeline = exec_pipeline_new(&parts, err)))
        return -1;
    exec_pipeline_routes(s->pipeline, s->http, cfg->http_path_prefix);
    s->status = status_page_new(cfg, s->client, s->store, s->files, s->http, s->met, s->rlog);
    status_page_watch_budget(s->status, s->budget);
    status_page_watch_pools(s->status, s->pools);
    status_page_routes(s->status, s->http);
    return http_server_start(s->http, err);
}

static int serve_start(serve_parts *s, const char *config_path, char **err)
{
    if (config_path && gmb_config_load(config_path, &s->cfg, err) < 0)
        return -1;
    gmb_log_set_level(gmb_log_parse_level(s->cfg.log_level));
    if (!(s->auth = gmb_auth_new(s->cfg.auth_mode, s->cfg.auth_token_file, err)))
        return -1;
    return start_buildbarn(s, err) < 0 || start_store(s, err) < 0 || start_http(s, err) < 0 ? -1 : 0;
}

/* In this order: the HTTP server answers or gives up on every request
 * (libmicrohttpd aborts if stopped with one suspended); then Buildbarn
 * calls end, so the pipeline's callbacks run now, answering into requests
 * already answered, never later into freed parts; then the work queued by
 * those callbacks drains. Between the two, with no StoreFile left to come
 * and Buildbarn still reachable, the files queued for the other gateways
 * go up. */
static void serve_stop(serve_parts *s)
{
    http_server_shutdown(s->http);
    goma_files_share_drain(s->files);
    rev2_client_stop(s->client);
    exec_pipeline_free(s->pipeline);
    goma_files_routes_stop(s->files);
    serve_shadow_stop(s->shadow); /* the pipeline submitted to it */
    if (s->view) {
        view_stop(s->view);
        pthread_join(s->view_thread, NULL);
    }
    view_destroy(s->view);
    status_page_free(s->status);
    http_server_free(s->http);
    goma_service_free(s->goma);
    goma_files_free(s->files);
    cas_store_close(s->store);
    rev2_client_free(s->client);
    rev2_client_free(s->scheduler); /* ends the pool watch's polling */
    rev2_pool_health_free(s->pools);
    gmb_budget_free(s->budget);
    gmb_auth_free(s->auth);
    metrics_free(s->met);
    request_log_free(s->rlog);
    gmb_config_free(&s->cfg);
}

int gmb_cli_serve(int argc, char **argv)
{
    const char *config_path;
    int parsed = parse_options(argc, argv, &config_path);
    if (parsed >= 0)
        return parsed;
    serve_parts s = {.met = metrics_new(), .rlog = request_log_new(200)};
    gmb_config_defaults(&s.cfg);
    sigset_t stop;
    block_stop_signals(&stop);
    char *err = NULL;
    int exit_status = 1;
    if (serve_start(&s, config_path, &err) == 0) {
        const gmb_config *cfg = &s.cfg;
        GMB_INFO("serve", "goma endpoints at http://%s:%d%s/ (auth: %s%s); Buildbarn %s, instance \"%s\"",
                 cfg->http_listen, http_server_port(s.http), cfg->http_path_prefix, cfg->auth_mode,
                 gmb_auth_required(s.auth) ? ", tokens loaded" : "", cfg->bb_target, cfg->bb_instance_name);
        int sig = 0;
        sigwait(&stop, &sig);
        GMB_INFO("serve", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        exit_status = 0;
    } else {
        fprintf(stderr, "gomabarn serve: %s\n", err);
        free(err);
    }
    serve_stop(&s);
    return exit_status;
}
