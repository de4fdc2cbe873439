/* rev2_action: builds the Command and Action messages of one REv2 action
 * the way Buildbarn expects them.
 *
 * The platform goes into Action.platform (what the scheduler matches on,
 * REv2 2.2+) and, for older servers, Command.platform too; its properties
 * are sorted by name, then value. Outputs are declared only through
 * Command.output_paths (REv2 2.1+), sorted and without duplicates: the
 * retired output_files/output_directories are never set, because
 * Buildbarn's workers ignore them and would return no outputs at all.
 * Environment variables are sorted by name. */
#ifndef REV2_ACTION_H
#define REV2_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_client.h"

typedef struct {
    const char *name;
    const char *value;
} rev2_property;

typedef struct {
    const char *const *arguments; /* argv; arguments[0] is the program */
    size_t n_arguments;
    const rev2_property *environment;
    size_t n_environment;
    const char *const *output_paths; /* relative to the working directory */
    size_t n_output_paths;
    const char *working_directory; /* relative to the input root; NULL or "" for the root */
    const rev2_property *platform;
    size_t n_platform;
    rev2_digest input_root;
    int64_t timeout_ms; /* 0: none (the server's default) */
    bool do_not_cache;
    const uint8_t *salt;
    size_t salt_len;
} rev2_action_spec;

typedef struct {
    rev2_digest action_digest;
    rev2_digest command_digest;
    uint8_t *action_bytes; /* serialized Action (malloc'd) */
    size_t action_len;
    uint8_t *command_bytes; /* serialized Command (malloc'd) */
    size_t command_len;
} rev2_built_action;

/* 0, or -1 with a malloc'd reason in *err (no arguments, duplicate
 * platform property names, an output path that is absolute or uses ".."). */
int rev2_action_build(const rev2_action_spec *spec, rev2_built_action *out, char **err);
/* The Action and Command as blobs to upload (pointing into `b`). */
void rev2_action_blobs(const rev2_built_action *b, rev2_blob out[2]);
void rev2_built_action_free(rev2_built_action *b);

#endif
