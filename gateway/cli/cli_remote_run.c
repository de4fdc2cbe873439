/* `gomabarn remote-run`: option parsing and wiring; the work is in
 * remote_run.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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

int gmb_cli_remote_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"instance", required_argument, NULL, 'n'},
        {"input", required_argument, NULL, 'i'},  {"output", required_argument, NULL, 'o'},
        {"env", required_argument, NULL, 'e'},    {"platform", required_argument, NULL, 'p'},
        {"timeout", required_argument, NULL, 't'}, {"no-cache", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *instance = NULL;
    const char **inputs = gmb_calloc((size_t)argc + 1, sizeof *inputs);
    const char **outputs = gmb_calloc((size_t)argc + 1, sizeof *outputs);
    rev2_property *env = gmb_calloc((size_t)argc + 1, sizeof *env);
    rev2_property *platform = gmb_calloc((size_t)argc + 3, sizeof *platform);
    size_t n_inputs = 0, n_outputs = 0, n_env = 0, n_platform = 0;
    int64_t timeout_ms = 0;
    bool no_cache = false, quiet = false;
    int status = 2;
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    rev2_property extra_platform[64];
    size_t n_extra = 0;

    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:n:i:o:e:p:qh", options, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'n': instance = optarg; break;
        case 'i': inputs[n_inputs++] = optarg; break;
        case 'o': outputs[n_outputs++] = optarg; break;
        case 'e': {
            rev2_property p = parse_kv(optarg, &ok);
            if (ok)
                put_property(env, &n_env, p);
            break;
        }
        case 'p':
            if (n_extra < 64)
                extra_platform[n_extra++] = parse_kv(optarg, &ok);
            break;
        case 't': {
            char *end;
            double s = strtod(optarg, &end);
            ok = *end == '\0' && s > 0;
            timeout_ms = (int64_t)(s * 1000);
            break;
        }
        case 'N': no_cache = true; break;
        case 'q': quiet = true; break;
        case 'h':
            fputs(usage, stdout);
            status = 0;
            goto out;
        default:
            fputs(usage, stderr);
            goto out;
        }
        if (!ok) {
            fprintf(stderr, "gomabarn remote-run: bad value \"%s\" for --%s (expected %s)\n", optarg,
                    opt == 't' ? "timeout" : opt == 'e' ? "env" : "platform",
                    opt == 't' ? "seconds" : "NAME=VALUE");
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "gomabarn remote-run: no command given (put it after --)\n\n%s", usage);
        goto out;
    }
    status = 125;
    char *err = NULL;
    if (config_path && gmb_config_load(config_path, &cfg, &err) < 0) {
        fprintf(stderr, "gomabarn remote-run: %s\n", err);
        free(err);
        goto out;
    }
    gmb_log_set_level(gmb_log_parse_level(cfg.log_level));
    if (quiet && gmb_log_get_level() < GMB_LOG_WARN)
        gmb_log_set_level(GMB_LOG_WARN);
    if (*cfg.platform_os_family)
        put_property(platform, &n_platform, (rev2_property){gmb_strdup("OSFamily"), gmb_strdup(cfg.platform_os_family)});
    if (*cfg.platform_container_image)
        put_property(platform, &n_platform,
                     (rev2_property){gmb_strdup("container-image"), gmb_strdup(cfg.platform_container_image)});
    for (size_t i = 0; i < n_extra; i++)
        put_property(platform, &n_platform, extra_platform[i]);
    n_extra = 0;
    if (n_env == 0)
        env[n_env++] = (rev2_property){gmb_strdup("PATH"), gmb_strdup("/usr/local/bin:/usr/bin:/bin")};

    rev2_client *client = gmb_client_from_config(&cfg, &err);
    if (!client) {
        fprintf(stderr, "gomabarn remote-run: %s\n", err);
        free(err);
        goto out;
    }
    gmb_remote_run_spec spec = {
        .instance = instance, .inputs = inputs, .n_inputs = n_inputs,
        .outputs = outputs, .n_outputs = n_outputs,
        .argv = (const char *const *)argv + optind, .argc = (size_t)(argc - optind),
        .env = env, .n_env = n_env, .platform = platform, .n_platform = n_platform,
        .timeout_ms = timeout_ms, .no_cache = no_cache, .verbose = !quiet,
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
    for (size_t i = 0; i < n_extra; i++) {
        free((char *)extra_platform[i].name);
        free((char *)extra_platform[i].value);
    }
    free_properties(env, n_env);
    free_properties(platform, n_platform);
    free(inputs);
    free(outputs);
    gmb_config_free(&cfg);
    return status;
}
