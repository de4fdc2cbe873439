#include "cli_args.h"

#include <stdarg.h>
#include <stdio.h>

int gmb_cli_options(const gmb_cli_spec *spec, int argc, char **argv, const char **config_path)
{
    *config_path = NULL;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, spec->shortopts, spec->longopts, NULL)) != -1) {
        int status = -1;
        if (opt == 'c') {
            *config_path = optarg;
        } else if (opt == 'h') {
            fputs(spec->usage, stdout);
            return 0;
        } else if (opt == '?' || opt == ':' || !spec->on_option) {
            fputs(spec->usage, stderr);
            return 2;
        } else {
            status = spec->on_option(spec, opt, optarg);
        }
        if (status >= 0)
            return status;
    }
    return -1;
}

int gmb_cli_usage_error(const gmb_cli_spec *spec, bool with_usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", spec->me);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s%s", with_usage ? "\n" : "", with_usage ? spec->usage : "");
    return 2;
}
