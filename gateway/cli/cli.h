/* cli: gomabarn's subcommands, one function each; main.c dispatches. */
#ifndef GMB_CLI_H
#define GMB_CLI_H

/* argv[0] is the subcommand's name. Each returns the process exit code. */
int gmb_cli_remote_run(int argc, char **argv);
int gmb_cli_mount(int argc, char **argv);
int gmb_cli_serve(int argc, char **argv);
int gmb_cli_check(int argc, char **argv);
int gmb_cli_replay(int argc, char **argv);
int gmb_cli_compare(int argc, char **argv);

#endif
