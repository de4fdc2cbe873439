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

int gmb_cli_serve(int argc, char **argv)
{
    const char *config_path;
    int parsed = parse_options(argc, argv, &config_path);
    if (parsed >= 0)
        return parsed;
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    char *err = NULL;
    int exit_status = 1;
    gmb_auth *auth = NULL;
    http_server *http = NULL;
    goma_service *goma = NULL;
    rev2_client *client = NULL;
    cas_store *store = NULL;
    goma_files *files = NULL;
    exec_pipeline *pipeline = NULL;
    metrics *met = metrics_new();
    request_log *rlog = request_log_new(200);
    status_page *status = NULL;
    gmb_budget *budget = NULL;
    rev2_pool_health *pools = NULL;
    rev2_client *scheduler = NULL;
    gmb_view *view = NULL;
    serve_shadow *shadow = NULL;
    pthread_t view_thread;
    bool view_running = false;
    sigset_t stop;
    block_stop_signals(&stop);

    if (config_path && gmb_config_load(config_path, &cfg, &err) < 0)
        goto fail;
    gmb_log_set_level(gmb_log_parse_level(cfg.log_level));
    if (!(auth = gmb_auth_new(cfg.auth_mode, cfg.auth_token_file, &err)))
        goto fail;
    /* Connecting is lazy: serve starts even while Buildbarn is down. */
    budget = gmb_budget_new((uint64_t)cfg.exec_max_blob_memory_bytes);
    if (!(client = gmb_client_from_config_budget(&cfg, budget, &err)))
        goto fail;
    pools = rev2_pool_health_new(cfg.exec_pool_probe_interval_s * 1000);
    if (*cfg.bb_scheduler_target) {
        /* The same TLS and token settings, another endpoint. */
        gmb_config sc = cfg;
        sc.bb_target = cfg.bb_scheduler_target;
        if (!(scheduler = gmb_client_from_config(&sc, &err)))
            goto fail;
        rev2_pool_health_watch(pools, scheduler, 5000);
    }
    cas_store_options so = gmb_store_options(&cfg);
    if (!(store = cas_store_open(&so, client, &err)))
        goto fail;
    warn_store_options(&so);
    files = goma_files_new(store);
    if (cfg.goma_share_through_buildbarn) /* stopped by goma_files_free */
        goma_files_share_start(files, &(goma_share_options){.client = client,
                                                            .store = store,
                                                            .queue_max = (size_t)cfg.goma_share_queue_max,
                                                            .wait_ms = cfg.goma_share_wait_ms,
                                                            .lookup_timeout_ms = cfg.goma_share_lookup_timeout_ms,
                                                            .metrics = met});
    if (cfg.mount_enabled) {
        view = start_view(&cfg, store, &view_thread);
        view_running = view != NULL;
    }
    http_server_options ho = {.listen_address = cfg.http_listen,
                              .port = (int)cfg.http_port,
                              .max_body_bytes = (size_t)cfg.http_max_body_bytes,
                              .threads = (int)cfg.http_threads,
                              .auth = auth,
                              .metrics = met};
    if (!(http = http_server_new(&ho, &err)))
        goto fail;
    goma = goma_service_new(http, cfg.http_path_prefix);
    goma_files_routes(files, http, cfg.http_path_prefix);
    exec_pipeline_parts parts = {.client = client,
                                 .store = store,
                                 .files = files,
                                 .cfg = &cfg,
                                 .threads = 8,
                                 .metrics = met,
                                 .log = rlog,
                                 .view = view_running ? view : NULL,
                                 .budget = budget,
                                 .pools = pools};
    if (!(shadow = serve_shadow_start(&cfg, met, parts.view, http, &err)))
        goto fail;
    parts.shadow = serve_shadow_queue(shadow);
    if (!(pipeline = exec_pipeline_new(&parts, &err)))
        goto fail;
    exec_pipeline_routes(pipeline, http, cfg.http_path_prefix);
    status = status_page_new(&cfg, client, store, files, http, met, rlog);
    status_page_watch_budget(status, budget);
    status_page_watch_pools(status, pools);
    status_page_routes(status, http);
    if (http_server_start(http, &err) < 0)
        goto fail;
    GMB_INFO("serve", "goma endpoints at http://%s:%d%s/ (auth: %s%s); Buildbarn %s, instance \"%s\"", cfg.http_listen,
             http_server_port(http), cfg.http_path_prefix, cfg.auth_mode,
             gmb_auth_required(auth) ? ", tokens loaded" : "", cfg.bb_target, cfg.bb_instance_name);
    int sig = 0;
    sigwait(&stop, &sig);
    GMB_INFO("serve", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    exit_status = 0;
    goto done;
fail:
    fprintf(stderr, "gomabarn serve: %s\n", err);
    free(err);
done:
    /* In this order: the HTTP server answers or gives up on every request
     * (libmicrohttpd aborts if stopped with one suspended); then Buildbarn
     * calls end, so the pipeline's callbacks run now, answering into
     * requests already answered, never later into freed parts; then the
     * work queued by those callbacks drains. */
    http_server_shutdown(http);
    rev2_client_stop(client);
    exec_pipeline_free(pipeline);
    serve_shadow_stop(shadow); /* the pipeline submitted to it */
    if (view_running) {
        view_stop(view);
        pthread_join(view_thread, NULL);
    }
    view_destroy(view);
    status_page_free(status);
    http_server_free(http);
    goma_service_free(goma);
    goma_files_free(files);
    cas_store_close(store);
    rev2_client_free(client);
    rev2_client_free(scheduler); /* ends the pool watch's polling */
    rev2_pool_health_free(pools);
    gmb_budget_free(budget);
    gmb_auth_free(auth);
    metrics_free(met);
    request_log_free(rlog);
    gmb_config_free(&cfg);
    return exit_status;
}
