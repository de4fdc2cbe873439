/* cli_args: the option loop every gomabarn subcommand shares.
 *
 * getopt_long over the subcommand's own option table, which lists
 * --config/-c and --help/-h too. Those two are handled here: --config
 * FILE is kept, --help prints the usage on stdout (exit 0); an option
 * getopt refuses prints the usage on stderr after getopt's own complaint
 * (exit 2). Every other option goes to the subcommand's callback. Usage
 * errors are said in words by gmb_cli_usage_error, with exit 2. */
#ifndef GMB_CLI_ARGS_H
#define GMB_CLI_ARGS_H

#include <getopt.h>
#include <stdbool.h>

typedef struct gmb_cli_spec {
    const char *me;                /* "gomabarn replay": how every complaint starts */
    const char *usage;             /* the --help text */
    const char *shortopts;         /* getopt_long's, with "c:" and "h" */
    const struct option *longopts; /* with "config" ('c') and "help" ('h') */
    /* Any other option (opt as getopt_long returns it, arg its optarg;
     * spec->user the subcommand's own state): -1 to go on, else the exit
     * status (the complaint printed, e.g. by gmb_cli_usage_error). NULL:
     * the subcommand has no other options. */
    int (*on_option)(const struct gmb_cli_spec *spec, int opt, const char *arg);
    void *user;
} gmb_cli_spec;

/* Parses argv's options (optind then points at the first operand). -1 to
 * go on, with the --config FILE in *config_path (NULL if none), else the
 * exit status. */
int gmb_cli_options(const gmb_cli_spec *spec, int argc, char **argv, const char **config_path);
/* Prints "<me>: <message>" to stderr, and with `with_usage` a blank line
 * and the usage after it. Returns 2, the exit status of a usage error. */
int gmb_cli_usage_error(const gmb_cli_spec *spec, bool with_usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
