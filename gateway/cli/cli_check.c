/* `gomabarn check`: is this configuration going to work? Each step says
 * in plain words what is right or wrong; exit 0 only if all is well. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "rev2_pool_health.h"
#include "client_config.h"
#include "errmsg.h"
#include "log.h"
#include "routing.h"
#include "rev2_action.h"
#include "rev2_blocking.h"
#include "mem.h"

static const char usage[] = "usage: gomabarn check [--config FILE] [--instance NAME]...\n"
                            "\n"
                            "Checks a configuration before serving with it: the file itself (every\n"
                            "error with file:line), Buildbarn's reachability and capabilities, a\n"
                            "trivial action on buildbarn.instance_name, on every instance name in\n"
                            "routing.rules (shadows included) and on every --instance given\n"
                            "(proving a worker pool matches the instance name and the platform), the\n"
                            "worker pools the scheduler lists with their workers (when\n"
                            "buildbarn.scheduler_target is set), the cache directory, FUSE, and the\n"
                            "HTTP port. Exit 0 when all is well.\n"
                            "\n"
                            "options:\n"
                            "  -c, --config FILE     gomabarn configuration (default: built-in defaults)\n"
                            "  -n, --instance NAME   also check this instance name (repeat)\n"
                            "  -h, --help            this text\n";

static int problems;

static void good(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void good(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  ok    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  FAIL  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    problems++;
}

/* Works, but not well: said, not counted as a problem. */
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  WARN  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void check_capabilities(rev2_client *c, const gmb_config *cfg)
{
    Rev2ServerCapabilities *caps = NULL;
    rev2_error *e = rev2_get_capabilities_sync(c, NULL, &caps);
    if (e) {
        if (e->code == REV2_UNAVAILABLE || e->code == REV2_DEADLINE_EXCEEDED)
            bad("cannot reach Buildbarn at %s: %s (is bb_storage running, and is buildbarn.target right?)",
                cfg->bb_target, e->message);
        else if (e->code == REV2_UNAUTHENTICATED || e->code == REV2_PERMISSION_DENIED)
            bad("Buildbarn at %s refuses our credentials: %s (check buildbarn.token_file and the TLS settings)",
                cfg->bb_target, e->message);
        else
            bad("Buildbarn at %s answered GetCapabilities with %s: %s", cfg->bb_target, rev2_code_name(e->code),
                e->message);
        rev2_error_free(e);
        return;
    }
    bool sha256 = false;
    for (size_t i = 0; caps->cache_capabilities && i < caps->cache_capabilities->n_digest_functions; i++)
        sha256 |= caps->cache_capabilities->digest_functions[i] ==
                  BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
    if (sha256)
        good("Buildbarn at %s speaks REv2 %d.%d with SHA-256%s", cfg->bb_target,
             caps->high_api_version ? caps->high_api_version->major : 2,
             caps->high_api_version ? caps->high_api_version->minor : 0,
             caps->execution_capabilities && caps->execution_capabilities->exec_enabled ? " and remote execution" : "");
    else
        bad("Buildbarn at %s does not offer SHA-256 digests, which gomabarn uses", cfg->bb_target);
    if (caps->execution_capabilities && !caps->execution_capabilities->exec_enabled)
        bad("Buildbarn at %s does not offer remote execution (a storage-only endpoint?)", cfg->bb_target);
    rev2_msg_free(caps);
}

/* The scheduler's answer, waited for (the call has the client's deadline). */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rev2_error *err;
    rev2_platform_queue *queues;
    size_t n;
} queues_wait;

static void queues_listed(void *user, rev2_error *err, rev2_platform_queue *queues, size_t n)
{
    queues_wait *w = user;
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->queues = queues;
    w->n = n;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The worker pools the scheduler knows (buildbarn.scheduler_target), with
 * their workers: what the gateway's pool health watches. */
static void check_pools(const gmb_config *cfg)
{
    if (!*cfg->bb_scheduler_target)
        return;
    gmb_config sc = *cfg;
    sc.bb_target = cfg->bb_scheduler_target;
    char *err = NULL;
    rev2_client *c = gmb_client_from_config(&sc, &err);
    if (!c) {
        bad("buildbarn.scheduler_target: %s", err);
        free(err);
        return;
    }
    queues_wait w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    rev2_list_platform_queues(c, queues_listed, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    if (w.err) {
        warn("scheduler %s (buildbarn.scheduler_target) did not list its worker pools: %s; pool health will be "
             "learned from Exec answers only",
             cfg->bb_scheduler_target, w.err->message);
        rev2_error_free(w.err);
    } else if (w.n == 0) {
        warn("scheduler %s lists no worker pool at all", cfg->bb_scheduler_target);
    }
    for (size_t i = 0; i < w.n; i++) {
        const rev2_platform_queue *q = &w.queues[i];
        const char *name = *q->instance_name_prefix ? q->instance_name_prefix : "\"\"";
        if (q->workers == 0 || q->queue_expiring)
            warn("pool \"%s\" (platform {%s}): %s", name, q->platform,
                 q->workers == 0 ? "no workers now" : "every worker is gone; the scheduler will drop it");
        else
            good("pool \"%s\" (platform {%s}): %u worker%s", name, q->platform, q->workers, q->workers == 1 ? "" : "s");
    }
    rev2_platform_queues_free(w.queues, w.n);
    rev2_client_free(c);
}

static void check_instance(rev2_client *c, const gmb_config *cfg, const char *instance)
{
    rev2_property platform[2];
    size_t n_platform = 0;
    if (*cfg->platform_os_family)
        platform[n_platform++] = (rev2_property){"OSFamily", cfg->platform_os_family};
    if (*cfg->platform_container_image)
        platform[n_platform++] = (rev2_property){"container-image", cfg->platform_container_image};
    const char *args[] = {"/bin/sh", "-c", "echo gomabarn-check"};
    uint8_t salt[8];
    int64_t now = rev2_now_us();
    memcpy(salt, &now, sizeof salt); /* a fresh action: really run, not a cache hit */
    rev2_action_spec spec = {.arguments = args,
                             .n_arguments = 3,
                             .platform = platform,
                             .n_platform = n_platform,
                             .input_root = rev2_empty_digest,
                             .timeout_ms = 60000,
                             .do_not_cache = true,
                             .salt = salt,
                             .salt_len = sizeof salt};
    rev2_built_action b;
    char *err = NULL;
    if (rev2_action_build(&spec, &b, &err) < 0) {
        bad("instance \"%s\": %s", instance, err);
        free(err);
        return;
    }
    rev2_blob blobs[3];
    rev2_action_blobs(&b, blobs);
    blobs[2] = (rev2_blob){.digest = rev2_empty_digest, .data = (const uint8_t *)""};
    rev2_error *e = rev2_upload_missing_sync(c, instance, blobs, 3, NULL);
    Rev2ExecuteResponse *resp = NULL;
    int64_t t0 = rev2_now_ms();
    rev2_execute_options eo = {.skip_cache_lookup = true};
    if (!e)
        e = rev2_execute_sync(c, instance, &b.action_digest, &eo, NULL, NULL, &resp);
    if (e) {
        if (rev2_error_is_no_workers(e)) {
            bad("instance \"%s\": no worker pool serves this instance name with platform {%s%s%s%s%s}. Buildbarn "
                "matches the instance name prefix and the whole platform exactly; compare with the pools it has "
                "(its admin page lists them)%s",
                instance, n_platform ? "OSFamily=" : "", n_platform ? cfg->platform_os_family : "",
                n_platform > 1 ? ", container-image=" : "", n_platform > 1 ? cfg->platform_container_image : "", "",
                strcmp(cfg->platform_os_family, "linux") != 0 && strcasecmp(cfg->platform_os_family, "linux") == 0
                    ? ". Note: OSFamily must be lowercase \"linux\""
                    : "");
        } else {
            bad("instance \"%s\": a trivial action failed: %s", instance, e->message);
        }
        rev2_error_free(e);
    } else if (!resp || !resp->result || resp->result->exit_code != 0) {
        bad("instance \"%s\": the trivial action ran but exited %d", instance,
            resp && resp->result ? resp->result->exit_code : -1);
    } else {
        const Rev2ExecMetadata *m = resp->result->execution_metadata;
        good("instance \"%s\": a trivial action ran on worker %s in %lld ms", instance,
             m && m->worker ? m->worker : "?", (long long)(rev2_now_ms() - t0));
    }
    rev2_msg_free(resp);
    rev2_built_action_free(&b);
}

static void check_local(const gmb_config *cfg)
{
    char *probe = gmb_format("%s/.gomabarn-check", cfg->cache_dir);
    char *mk = gmb_format("mkdir -p '%s'", cfg->cache_dir);
    int rc = system(mk);
    FILE *f = rc == 0 ? fopen(probe, "w") : NULL;
    if (f) {
        fclose(f);
        unlink(probe);
        good("cache directory %s is writable", cfg->cache_dir);
    } else {
        bad("cache directory %s is not writable: %s", cfg->cache_dir, strerror(errno));
    }
    free(probe);
    free(mk);
    char *busy = cas_store_dir_in_use(cfg->cache_dir);
    if (busy)
        bad("%s (gomabarn serve or mount with this configuration would stop at once)", busy);
    free(busy);
    cas_store_options so = gmb_store_options(cfg);
    char *warnings = cas_store_options_warnings(&so);
    for (char *line = warnings, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        warn("%s", line);
    }
    free(warnings);
    if (access("/dev/fuse", R_OK | W_OK) == 0 && geteuid() == 0)
        good("FUSE is available: the view can be mounted at %s", cfg->mount_path);
    else
        bad("FUSE is not available (%s): gomabarn mount cannot run here",
            access("/dev/fuse", F_OK) != 0 ? "no /dev/fuse" : "not root");
    int s = socket(strchr(cfg->http_listen, ':') ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->http_port)};
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (strchr(cfg->http_listen, ':') || inet_pton(AF_INET, cfg->http_listen, &a.sin_addr) != 1) {
        good("http.listen %s (IPv6: not probed)", cfg->http_listen);
    } else if (bind(s, (struct sockaddr *)&a, sizeof a) == 0) {
        good("port %s:%lld is free for gomabarn serve", cfg->http_listen, (long long)cfg->http_port);
    } else {
        bad("port %s:%lld cannot be used: %s (another gomabarn serve, or another program?)", cfg->http_listen,
            (long long)cfg->http_port, strerror(errno));
    }
    close(s);
}

/* --instance NAME, repeated. */
typedef struct {
    const char **names; /* room for every argument */
    size_t n;
} instance_list;

static int instance_option(const gmb_cli_spec *spec, int opt, const char *arg)
{
    instance_list *l = spec->user;
    l->names[l->n++] = arg;
    return -1;
}

int gmb_cli_check(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"instance", required_argument, NULL, 'n'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path;
    instance_list list = {gmb_calloc((size_t)argc + 2, sizeof *list.names), 0};
    const gmb_cli_spec spec = {"gomabarn check", usage, "c:n:h", options, instance_option, &list};
    int parsed = gmb_cli_options(&spec, argc, argv, &config_path);
    if (parsed >= 0) {
        free(list.names);
        return parsed;
    }
    const char **instances = list.names;
    size_t n_instances = list.n;
    gmb_routes routes = {0};
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    char *err = NULL;
    gmb_log_set_level(GMB_LOG_ERROR); /* this command speaks for itself */
    printf("gomabarn check%s%s\n", config_path ? " " : " (built-in defaults)", config_path ? config_path : "");
    if (config_path && gmb_config_load(config_path, &cfg, &err) < 0) {
        bad("%s", err);
        free(err);
        gmb_config_free(&cfg);
        free(instances);
        printf("1 problem: fix the configuration first\n");
        return 1;
    }
    good("configuration is valid");
    rev2_client *c = gmb_client_from_config(&cfg, &err);
    if (!c) {
        bad("%s", err);
        free(err);
    } else {
        check_capabilities(c, &cfg);
        if (problems == 0) {
            /* The default, every instance a routing rule names, and --instance: each once. */
            char *why = NULL;
            if (gmb_routes_parse(&cfg.routing_rules, &routes, &why) < 0)
                free(why); /* validated with the configuration already */
            const char **all = gmb_calloc(1 + 2 * routes.n + n_instances, sizeof *all);
            size_t n_all = 0;
            all[n_all++] = cfg.bb_instance_name;
            for (size_t i = 0; i < routes.n; i++) {
                all[n_all++] = routes.routes[i].instance;
                if (routes.routes[i].shadow) /* a shadow pool must work too */
                    all[n_all++] = routes.routes[i].shadow;
            }
            for (size_t i = 0; i < n_instances; i++)
                all[n_all++] = instances[i];
            for (size_t i = 0; i < n_all; i++) {
                bool seen = false;
                for (size_t k = 0; k < i; k++)
                    seen |= strcmp(all[k], all[i]) == 0;
                if (!seen)
                    check_instance(c, &cfg, all[i]);
            }
            free(all);
            gmb_routes_free(&routes);
        }
        rev2_client_free(c);
    }
    check_pools(&cfg);
    check_local(&cfg);
    gmb_config_free(&cfg);
    free(instances);
    if (problems)
        printf("%d problem%s\n", problems, problems == 1 ? "" : "s");
    else
        printf("all good\n");
    return problems ? 1 : 0;
}
