/* `gomabarn compare`: what shadow execution found on a running gateway,
 * as text or JSON (the gateway's /compare/report, shadow_page.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "cli.h"
#include "cli_args.h"
#include "config.h"
#include "errmsg.h"
#include "html.h"

static const char me[] = "gomabarn compare";

static const char usage[] = "usage: gomabarn compare [options] [PRIMARY SHADOW]\n"
                            "\n"
                            "Prints what shadow execution found on a running gateway: for each pair of\n"
                            "instance names (or the one given; \"\" is the empty name), how many shadowed\n"
                            "actions matched, mismatched or failed, the worker phases (queued, input fetch,\n"
                            "execution, output upload, total) as p50/p90/p99 on both pools with the ratio,\n"
                            "and the mismatches with both digests. Shadow a share of requests with a\n"
                            "routing rule (\"compiler=gcc* -> hardlinking shadow fuse 10%\") or the\n"
                            "X-Gomabarn-Shadow request header. Exit 0 when nothing mismatched or failed,\n"
                            "1 otherwise, 2 on a usage error or when the gateway cannot be asked.\n"
                            "\n"
                            "options:\n"
                            "  -c, --config FILE      the gateway's configuration (http.listen, http.port)\n"
                            "  -g, --gateway HOST:PORT  the gateway's status server (default from the config)\n"
                            "      --since DURATION   only comparisons finished in the last DURATION:\n"
                            "                         seconds, or a number with s, m, h or d (30m, 2h)\n"
                            "      --json             the report as JSON\n"
                            "  -h, --help             this text\n";

/* "90", "90s", "30m", "2h", "1d" -> seconds; -1 if it is none of those. */
static long long duration_s(const char *text)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (end == text || n < 0)
        return -1;
    long long unit = 1;
    if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1])
        return -1;
    return n * unit;
}

/* The status server: "127.0.0.1:5050"; a listen address of 0.0.0.0 or ::
 * is asked on loopback. */
static int split_gateway(const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return -1;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    snprintf(host, host_size, "%.*s", (int)(colon - text), text);
    *port = (int)p;
    return 0;
}

typedef struct {
    const char *gateway;
    long long since;
    bool json;
} compare_args;

static int compare_option(const gmb_cli_spec *spec, int opt, const char *arg)
{
    compare_args *a = spec->user;
    switch (opt) {
    case 'g':
        a->gateway = arg;
        return -1;
    case 's':
        a->since = duration_s(arg);
        if (a->since <= 0)
            return gmb_cli_usage_error(spec, false,
                                       "bad --since \"%s\" (seconds, or a number with s, m, h or d: 30m, 2h)", arg);
        return -1;
    default: /* 'J' */
        a->json = true;
        return -1;
    }
}

int gmb_cli_compare(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"gateway", required_argument, NULL, 'g'},
        {"since", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    compare_args args = {0};
    const gmb_cli_spec spec = {me, usage, "c:g:h", options, compare_option, &args};
    const char *config_path;
    int parsed = gmb_cli_options(&spec, argc, argv, &config_path);
    if (parsed >= 0)
        return parsed;
    const char *gateway = args.gateway;
    long long since = args.since;
    bool json = args.json;
    if (argc - optind != 0 && argc - optind != 2)
        return gmb_cli_usage_error(&spec, true, "give both PRIMARY and SHADOW instance names, or neither");

    char host[256];
    int port = 0;
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    char *err = NULL;
    if (config_path && gmb_config_load(config_path, &cfg, &err) < 0) {
        fprintf(stderr, "%s: %s\n", me, err);
        free(err);
        gmb_config_free(&cfg);
        return 2;
    }
    if (gateway) {
        if (split_gateway(gateway, host, sizeof host, &port) < 0) {
            fprintf(stderr, "%s: bad --gateway \"%s\" (expected HOST:PORT)\n", me, gateway);
            gmb_config_free(&cfg);
            return 2;
        }
    } else {
        const char *listen = cfg.http_listen;
        snprintf(host, sizeof host, "%s",
                 strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0 ? "127.0.0.1" : listen);
        port = (int)cfg.http_port;
    }
    gmb_config_free(&cfg);

    char *path = gmb_format("/compare/report?format=%s", json ? "json" : "text");
    if (since) {
        char *next = gmb_format("%s&since=%lld", path, since);
        free(path);
        path = next;
    }
    if (optind < argc) {
        const char *a = *argv[optind] ? argv[optind] : "\"\"", *b = *argv[optind + 1] ? argv[optind + 1] : "\"\"";
        char *qa = html_query_value(a), *qb = html_query_value(b);
        char *next = gmb_format("%s&primary=%s&shadow=%s", path, qa, qb);
        free(path);
        free(qa);
        free(qb);
        path = next;
    }
    http_client_target t = {.host = host, .port = port, .timeout_s = 60};
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int status = http_client_get(&t, path, &out, &why);
    free(path);
    int rc = 2;
    if (status < 0) {
        fprintf(stderr, "%s: cannot ask the gateway at %s:%d: %s\n", me, host, port, why);
    } else if (status != 200) {
        fprintf(stderr, "%s: the gateway at %s:%d answered HTTP %d: %.*s", me, host, port, status, (int)out.len,
                (const char *)out.data);
    } else {
        fwrite(out.data, 1, out.len, stdout);
        /* The first line has the totals (shadow_page.c). */
        gmb_buf_put(&out, "", 1);
        size_t actions = 0, matched = 0, mismatched = 0, failed = 0, pairs = 0;
        int got = json ? sscanf((const char *)out.data,
                                "{\"actions\": %zu, \"matched\": %zu, \"mismatched\": %zu, \"failed\": %zu", &actions,
                                &matched, &mismatched, &failed)
                       : sscanf((const char *)out.data,
                                "%zu shadowed actions in %zu instance pairs: %zu matched, %zu mismatched, %zu failed",
                                &actions, &pairs, &matched, &mismatched, &failed);
        if (got != (json ? 4 : 5))
            fprintf(stderr, "%s: the gateway's answer does not start with the totals (an older gateway?)\n", me);
        else
            rc = mismatched || failed ? 1 : 0;
    }
    gmb_buf_free(&out);
    return rc;
}
