/* `gomabarn remote-run`: option parsing and wiring; the work is in
 * remote_run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "client_config.h"
#include "log.h"
#include "remote_run.h"
#include "mem.h"

static const char usage[] =
    "usage: gomabarn remote-run [options] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs one command on Buildbarn. The named inputs (files or directories,\n"
    "relative to the current directory) form the input root; the command runs\n"
    "in the same relative place; the named outputs are written back here. The\n"
    "command's stdout and stderr are copied to ours, and its exit code becomes\n"
    "ours. Exit 125 means gomabarn or Buildbarn failed, not the command.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE     gomabarn configuration (default: built-in defaults,\n"
    "                        Buildbarn at 127.0.0.1:8980, instance \"hardlinking\")\n"
    "  -n, --instance NAME   REv2 instance name (\"\" is valid), e.g. hardlinking or fuse\n"
    "  -i, --input PATH      an input file or directory (repeat)\n"
    "  -o, --output PATH     an output file or directory (repeat)\n"
    "  -e, --env NAME=VALUE  environment of the command (repeat; default PATH only)\n"
    "  -p, --platform NAME=VALUE\n"
    "                        platform property, added to or replacing the config's\n"
    "      --timeout SECONDS execution timeout (default: Buildbarn's)\n"
    "      --no-cache        neither look up nor store the result in the action cache\n"
    "  -q, --quiet           no progress or timing lines\n"
    "  -h, --help            this text\n"
    "\n"
    "example:\n"
    "  gomabarn remote-run -n fuse -i hello.c -o hello.o -- /usr/bin/cc -c hello.c -o hello.o\n";

static rev2_property parse_kv(const char *text, bool *ok)
{
    const char *eq = strchr(text, '=');
    *ok = eq && eq != text;
    rev2_property p = {NULL, NULL};
    if (*ok) {
        p.name = gmb_strndup(text, (size_t)(eq - text));
        p.value = gmb_strdup(eq + 1);
    }
    return p;
}

/* Sets (or replaces) one property in a list. */
static void put_property(rev2_property *list, size_t *n, rev2_property p)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(list[i].name, p.name) == 0) {
            free((char *)list[i].name);
            free((char *)list[i].value);
            list[i] = p;
            return;
        }
    }
    list[(*n)++] = p;
}

static void free_properties(rev2_property *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)list[i].name);
        free((char *)list[i].value);
    }
    free(list);
}

/* The command line but the command itself (argv from optind). */
typedef struct {
    const char *config_path, *instance;
    const char **inputs, **outputs; /* -i, -o: argv's strings */
    size_t n_inputs, n_outputs;
    rev2_property *env; /* -e, one per name (owned) */
    size_t n_env;
    rev2_property extra_platform[64]; /* -p in order (owned until merged with the config's) */
    size_t n_extra;
    int64_t timeout_ms; /* --timeout; 0: Buildbarn's */
    bool no_cache, quiet;
} run_args;

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"instance", required_argument, NULL, 'n'},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"env", required_argument, NULL, 'e'},
    {"platform", required_argument, NULL, 'p'},
    {"timeout", required_argument, NULL, 't'},
    {"no-cache", no_argument, NULL, 'N'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option into a (run_args); false for a bad value. */
static bool take_option(run_args *a, int opt, const char *arg)
{
    bool ok = true;
    switch (opt) {
    case 'n':
        a->instance = arg;
        break;
    case 'i':
        a->inputs[a->n_inputs++] = arg;
        break;
    case 'o':
        a->outputs[a->n_outputs++] = arg;
        break;
    case 'e': {
        rev2_property p = parse_kv(arg, &ok);
        if (ok)
            put_property(a->env, &a->n_env, p);
        break;
    }
    case 'p':
        if (a->n_extra < 64)
            a->extra_platform[a->n_extra++] = parse_kv(arg, &ok);
        break;
    case 't': {
        char *end;
        double s = strtod(arg, &end);
        ok = *end == '\0' && s > 0;
        a->timeout_ms = (int64_t)(s * 1000);
        break;
    }
    case 'N':
        a->no_cache = true;
        break;
    default: /* 'q' */
        a->quiet = true;
        break;
    }
    return ok;
}

static int run_option(const gmb_cli_spec *spec, int opt, const char *arg)
{
    run_args *a = spec->user;
    if (take_option(a, opt, arg))
        return -1;
    return gmb_cli_usage_error(spec, false, "bad value \"%s\" for --%s (expected %s)", arg,
                               opt == 't'   ? "timeout"
                               : opt == 'e' ? "env"
                                            : "platform",
                               opt == 't' ? "seconds" : "NAME=VALUE");
}

/* getopt over argv into a; -1 to go on, else the exit status (usage or the complaint printed). */
static int parse_args(int argc, char **argv, run_args *a)
{
    const gmb_cli_spec spec = {"gomabarn remote-run", usage, "+c:n:i:o:e:p:qh", options, run_option, a};
    int status = gmb_cli_options(&spec, argc, argv, &a->config_path);
    if (status >= 0)
        return status;
    if (optind >= argc)
        return gmb_cli_usage_error(&spec, true, "no command given (put it after --)");
    return -1;
}

/* The config's platform, then -p: each adds to or replaces one property. The list takes a's extras over. */
static void merge_platform(const gmb_config *cfg, run_args *a, rev2_property *platform, size_t *n_platform)
{
    if (*cfg->platform_os_family)
        put_property(platform, n_platform,
                     (rev2_property){gmb_strdup("OSFamily"), gmb_strdup(cfg->platform_os_family)});
    if (*cfg->platform_container_image)
        put_property(platform, n_platform,
                     (rev2_property){gmb_strdup("container-image"), gmb_strdup(cfg->platform_container_image)});
    for (size_t i = 0; i < a->n_extra; i++)
        put_property(platform, n_platform, a->extra_platform[i]);
    a->n_extra = 0;
}

int gmb_cli_remote_run(int argc, char **argv)
{
    run_args a = {0};
    a.inputs = gmb_calloc((size_t)argc + 1, sizeof *a.inputs);
    a.outputs = gmb_calloc((size_t)argc + 1, sizeof *a.outputs);
    a.env = gmb_calloc((size_t)argc + 1, sizeof *a.env);
    rev2_property *platform = gmb_calloc((size_t)argc + 3, sizeof *platform);
    size_t n_platform = 0;
    gmb_config cfg;
    gmb_config_defaults(&cfg);

    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        goto out;
    status = 125;
    char *err = NULL;
    if (a.config_path && gmb_config_load(a.config_path, &cfg, &err) < 0) {
        fprintf(stderr, "gomabarn remote-run: %s\n", err);
        free(err);
        goto out;
    }
    gmb_log_set_level(gmb_log_parse_level(cfg.log_level));
    if (a.quiet && gmb_log_get_level() < GMB_LOG_WARN)
        gmb_log_set_level(GMB_LOG_WARN);
    merge_platform(&cfg, &a, platform, &n_platform);
    if (a.n_env == 0)
        a.env[a.n_env++] = (rev2_property){gmb_strdup("PATH"), gmb_strdup("/usr/local/bin:/usr/bin:/bin")};

    rev2_client *client = gmb_client_from_config(&cfg, &err);
    if (!client) {
        fprintf(stderr, "gomabarn remote-run: %s\n", err);
        free(err);
        goto out;
    }
    gmb_remote_run_spec spec = {
        .instance = a.instance,
        .inputs = a.inputs,
        .n_inputs = a.n_inputs,
        .outputs = a.outputs,
        .n_outputs = a.n_outputs,
        .argv = (const char *const *)argv + optind,
        .argc = (size_t)(argc - optind),
        .env = a.env,
        .n_env = a.n_env,
        .platform = platform,
        .n_platform = n_platform,
        .timeout_ms = a.timeout_ms,
        .no_cache = a.no_cache,
        .verbose = !a.quiet,
    };
    int exit_code = 0;
    if (gmb_remote_run(client, &spec, &exit_code, &err) < 0) {
        fprintf(stderr, "gomabarn remote-run: %s\n", err);
        free(err);
    } else {
        status = exit_code;
    }
    rev2_client_free(client);
out:
    for (size_t i = 0; i < a.n_extra; i++) {
        free((char *)a.extra_platform[i].name);
        free((char *)a.extra_platform[i].value);
    }
    free_properties(a.env, a.n_env);
    free_properties(platform, n_platform);
    free(a.inputs);
    free(a.outputs);
    gmb_config_free(&cfg);
    return status;
}
