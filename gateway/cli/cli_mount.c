/* `gomabarn mount`: the lazy CAS view on its own, without any goma
 * client: for looking into Buildbarn's CAS and for worker developers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cas_store.h"
#include "cli.h"
#include "cli_args.h"
#include "client_config.h"
#include "log.h"
#include "view.h"

static const char usage[] = "usage: gomabarn mount [--config FILE] [--mountpoint PATH]\n"
                            "\n"
                            "Mounts the lazy CAS view read-only and serves it until SIGINT or SIGTERM\n"
                            "(then unmounts cleanly). Blobs are read from the local content store\n"
                            "(cache.dir) and fetched from Buildbarn on first read:\n"
                            "  PATH/cas/<instance>/blobs/sha256/file/<hash>-<size>        a blob as a file\n"
                            "  PATH/cas/<instance>/blobs/sha256/executable/<hash>-<size>  the same, executable\n"
                            "  PATH/cas/<instance>/blobs/sha256/directory/<hash>-<size>   a Directory, browsable\n"
                            "  PATH/cas/<instance>/blobs/sha256/tree/<hash>-<size>        a Tree, browsable\n"
                            "  PATH/actions/<hash>-<size>/                 any action (default instance):\n"
                            "      action.json command.json input/ result.json timings.txt stdout stderr output/\n"
                            "  PATH/by-instance/<instance>/<hash>-<size>/  the same on another instance name\n"
                            "Directories under cas/, actions/ and by-instance/ are not listable; type\n"
                            "exact names. The empty instance name is PATH/cas/blobs/sha256/...\n"
                            "\n"
                            "options:\n"
                            "  -c, --config FILE       gomabarn configuration (default: built-in defaults)\n"
                            "  -m, --mountpoint PATH   overrides mount.path\n"
                            "  -h, --help              this text\n"
                            "\n"
                            "Needs /dev/fuse and root (or fusermount3). A dead mount left by a killed\n"
                            "gomabarn at PATH is detached first.\n";

/* --mountpoint, the one option of its own. */
static int mount_option(const gmb_cli_spec *spec, int opt, const char *arg)
{
    *(const char **)spec->user = arg;
    return -1;
}

int gmb_cli_mount(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"mountpoint", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path, *mountpoint = NULL;
    const gmb_cli_spec spec = {"gomabarn mount", usage, "c:m:h", options, mount_option, &mountpoint};
    int parsed = gmb_cli_options(&spec, argc, argv, &config_path);
    if (parsed >= 0)
        return parsed;
    if (optind < argc)
        return gmb_cli_usage_error(&spec, true, "unexpected argument \"%s\"", argv[optind]);
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    char *err = NULL;
    int status = 1;
    rev2_client *client = NULL;
    cas_store *store = NULL;
    gmb_view *view = NULL;
    if (config_path && gmb_config_load(config_path, &cfg, &err) < 0)
        goto fail;
    gmb_log_set_level(gmb_log_parse_level(cfg.log_level));
    if (!(client = gmb_client_from_config(&cfg, &err)))
        goto fail;
    cas_store_options so = gmb_store_options(&cfg);
    if (!(store = cas_store_open(&so, client, &err)))
        goto fail;
    view_options vo = gmb_view_options(&cfg, mountpoint);
    if (!(view = view_create(store, &vo, &err)) || view_mount(view, &err) < 0)
        goto fail;
    GMB_INFO("mount", "serving %s from Buildbarn at %s (default instance \"%s\"); stop with SIGINT or SIGTERM",
             vo.mountpoint, cfg.bb_target, cfg.bb_instance_name);
    status = view_run(view, true) == 0 ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "gomabarn mount: %s\n", err);
    free(err);
done:
    view_destroy(view);
    cas_store_close(store);
    rev2_client_free(client);
    gmb_config_free(&cfg);
    return status;
}
