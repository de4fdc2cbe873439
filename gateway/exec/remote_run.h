/* remote_run: runs one command on Buildbarn with files from the current
 * directory as its inputs, and brings its outputs back. The engine of
 * `gomabarn remote-run`: real compile traffic for worker developers and a
 * way to compare instance names, without any goma client. */
#ifndef GMB_REMOTE_RUN_H
#define GMB_REMOTE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_action.h"
#include "rev2_client.h"

typedef struct {
    const char *instance;      /* NULL: the client's default */
    const char *const *inputs; /* files or directories, relative to the current directory */
    size_t n_inputs;
    const char *const *outputs; /* output paths, relative to the current directory */
    size_t n_outputs;
    const char *const *argv;
    size_t argc;
    const rev2_property *env;
    size_t n_env;
    const rev2_property *platform;
    size_t n_platform;
    int64_t timeout_ms;
    bool no_cache; /* skip the cache lookup and do not cache */
    bool verbose;  /* progress and timings on stderr */
} gmb_remote_run_spec;

/* 0 with the command's exit code in *exit_code, or -1 with a malloc'd
 * explanation (the infrastructure failed, not the command). The command's
 * stdout and stderr are copied to ours. */
int gmb_remote_run(rev2_client *c, const gmb_remote_run_spec *spec, int *exit_code, char **err);

#endif
