/* gomabarn: the command-line entry point. Each subcommand is a function;
 * main only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "mem.h"

#ifndef GOMABARN_VERSION
#define GOMABARN_VERSION "dev"
#endif

static const char usage_text[] = "usage: gomabarn <command> [options]\n"
                                 "\n"
                                 "gomabarn serves the goma remote-compilation protocol and runs the\n"
                                 "compiles on Buildbarn through the Remote Execution API v2.\n"
                                 "\n"
                                 "commands:\n"
                                 "  version       print the version and the libraries built in\n"
                                 "  config-keys   print every configuration key with its default and meaning\n"
                                 "  remote-run    run one command on Buildbarn with local files as inputs\n"
                                 "  mount         mount the lazy CAS view (FUSE) and serve it\n"
                                 "  serve         serve the goma protocol over HTTP\n"
                                 "  check         check a configuration: Buildbarn, instance names, cache, FUSE, port\n"
                                 "  replay        run seen actions again on instance names (cache bypassed); compare\n"
                                 "  compare       what shadow execution found on a running gateway, pool against pool\n"
                                 "  help          print this text\n"
                                 "\n"
                                 "\n"
                                 "Run `gomabarn <command> --help` for a command's options.\n"
                                 "Documentation: docs/operations.md (running it), docs/configuration.md (every key),\n"
                                 "docs/architecture.md (how it works).\n";

static int cmd_version(void)
{
    printf("gomabarn %s\n", GOMABARN_VERSION);
    printf("REv2 client: gRPC C core, protobuf-c; API 2.3 (Command.output_paths, Action.platform)\n");
    return 0;
}

static int cmd_config_keys(void)
{
    gmb_config_print_schema(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    gmb_mem_tune_for_streams();
    const char *cmd = argv[1];
    bool help = argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (help) {
            puts("usage: gomabarn version\n\nPrints gomabarn's version.");
            return 0;
        }
        return cmd_version();
    }
    if (strcmp(cmd, "config-keys") == 0) {
        if (help) {
            puts("usage: gomabarn config-keys\n\nPrints every configuration key as a Markdown table.");
            return 0;
        }
        return cmd_config_keys();
    }
    if (strcmp(cmd, "check") == 0)
        return gmb_cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return gmb_cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "mount") == 0)
        return gmb_cli_mount(argc - 1, argv + 1);
    if (strcmp(cmd, "remote-run") == 0)
        return gmb_cli_remote_run(argc - 1, argv + 1);
    if (strcmp(cmd, "replay") == 0)
        return gmb_cli_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0)
        return gmb_cli_compare(argc - 1, argv + 1);
    fprintf(stderr, "gomabarn: unknown command \"%s\"\n\n%s", cmd, usage_text);
    return 2;
}
