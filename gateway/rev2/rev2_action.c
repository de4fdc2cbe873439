#include "errmsg.h"
#include "rev2_action.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rev2_tree.h"
#include "mem.h"

static int cmp_property(const void *a, const void *b)
{
    const rev2_property *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static int cmp_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted copies, so the caller's arrays stay as given. */
static rev2_property *sorted_properties(const rev2_property *in, size_t n)
{
    rev2_property *out = gmb_malloc((n + 1) * sizeof *out);
    if (n)
        memcpy(out, in, n * sizeof *in);
    qsort(out, n, sizeof *out, cmp_property);
    return out;
}

/* Checks one output path against the working directory, given as its
 * components (relative to the input root): relative, '/'-separated names,
 * where ".." may climb from the working directory (Buildbarn resolves it
 * so, and a compile's "-o ../obj/a.o" needs it) but never above the input
 * root, and naming neither the working directory nor a directory holding
 * it. */
static int check_output_path(char *const *wd_parts, size_t n_wd, const char *path, char **err)
{
    size_t len = strlen(path), depth = n_wd;
    /* The resolved path's components, as pointers into `path` (or `wd`). */
    const char **at = gmb_malloc((n_wd + len + 1) * sizeof *at);
    size_t *lens = gmb_malloc((n_wd + len + 1) * sizeof *lens);
    for (size_t i = 0; i < n_wd; i++) {
        at[i] = wd_parts[i];
        lens[i] = strlen(wd_parts[i]);
    }
    int rc = 0;
    if (len == 0 || path[0] == '/')
        rc = gmb_fail(err, "output path \"%s\" is not a relative path", path);
    for (const char *c = path; rc == 0 && c <= path + len;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.')) {
            /* "a//b", "./a": the same path, as rev2_path_split reads it */
        } else if (n == 2 && c[0] == '.' && c[1] == '.') {
            if (depth == 0)
                rc = gmb_fail(err, "output path \"%s\" climbs above the input root", path);
            else
                depth--;
        } else {
            at[depth] = c;
            lens[depth++] = n;
        }
        c += n + 1;
    }
    /* It must not end in the working directory or a directory above it. */
    if (rc == 0 && depth <= n_wd) {
        bool ancestor = true;
        for (size_t i = 0; ancestor && i < depth; i++)
            ancestor = lens[i] == strlen(wd_parts[i]) && strncmp(at[i], wd_parts[i], lens[i]) == 0;
        if (ancestor)
            rc = gmb_fail(err, "output path \"%s\" names the working directory or a directory above it", path);
    }
    free(at);
    free(lens);
    return rc;
}

/* Copies the output paths to outs, sorted and without duplicates; each
 * must pass check_output_path. */
static int sorted_output_paths(const rev2_action_spec *spec, const char **outs, size_t *n_outs, char **err)
{
    *n_outs = 0;
    char **wd_parts = NULL;
    size_t n_wd = 0;
    const char *wd = spec->working_directory;
    if (wd && *wd && !rev2_path_split(wd, &wd_parts, &n_wd, err))
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < spec->n_output_paths; i++)
        if ((rc = check_output_path(wd_parts, n_wd, spec->output_paths[i], err)) == 0)
            outs[(*n_outs)++] = spec->output_paths[i];
    if (wd_parts)
        rev2_path_parts_free(wd_parts, n_wd);
    if (rc < 0)
        return -1;
    qsort(outs, *n_outs, sizeof *outs, cmp_string);
    /* Duplicates are a client mistake we can absorb: keep one. */
    size_t w = 0;
    for (size_t i = 0; i < *n_outs; i++)
        if (w == 0 || strcmp(outs[w - 1], outs[i]) != 0)
            outs[w++] = outs[i];
    *n_outs = w;
    return 0;
}

/* The Platform message over sorted properties; props and pp (n + 1 long each) hold its parts. */
static void fill_platform(const rev2_property *plat, size_t n, Rev2PlatformProperty *props, Rev2PlatformProperty **pp,
                          Rev2Platform *platform)
{
    for (size_t i = 0; i < n; i++) {
        build__bazel__remote__execution__v2__platform__property__init(&props[i]);
        props[i].name = (char *)plat[i].name;
        props[i].value = (char *)plat[i].value;
        pp[i] = &props[i];
    }
    platform->n_properties = n;
    platform->properties = pp;
}

/* Serializes the Command into out and digests it; platform is NULL when there is none. */
static void pack_command(const rev2_action_spec *spec, const rev2_property *env, const char **outs, size_t n_outs,
                         Rev2Platform *platform, rev2_built_action *out)
{
    Rev2EnvVar *vars = gmb_calloc(spec->n_environment + 1, sizeof *vars);
    Rev2EnvVar **vp = gmb_calloc(spec->n_environment + 1, sizeof *vp);
    for (size_t i = 0; i < spec->n_environment; i++) {
        build__bazel__remote__execution__v2__command__environment_variable__init(&vars[i]);
        vars[i].name = (char *)env[i].name;
        vars[i].value = (char *)env[i].value;
        vp[i] = &vars[i];
    }
    Rev2Command cmd = BUILD__BAZEL__REMOTE__EXECUTION__V2__COMMAND__INIT;
    cmd.n_arguments = spec->n_arguments;
    cmd.arguments = (char **)spec->arguments;
    cmd.n_environment_variables = spec->n_environment;
    cmd.environment_variables = vp;
    cmd.n_output_paths = n_outs;
    cmd.output_paths = (char **)outs;
    cmd.working_directory = (char *)(spec->working_directory ? spec->working_directory : "");
    cmd.platform = platform;
    out->command_bytes = REV2_PACK(&cmd, &out->command_len);
    rev2_digest_of_bytes(out->command_bytes, out->command_len, &out->command_digest);
    free(vars);
    free(vp);
}

/* Serializes the Action (over out's Command digest) into out and digests it; platform is NULL when there is none. */
static void pack_action(const rev2_action_spec *spec, Rev2Platform *platform, rev2_built_action *out)
{
    Rev2Action action = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION__INIT;
    Rev2Digest cmd_d, root_d;
    rev2_digest_to_proto(&out->command_digest, &cmd_d);
    rev2_digest_to_proto(&spec->input_root, &root_d);
    action.command_digest = &cmd_d;
    action.input_root_digest = &root_d;
    GpbDuration timeout = GOOGLE__PROTOBUF__DURATION__INIT;
    if (spec->timeout_ms > 0) {
        timeout.seconds = spec->timeout_ms / 1000;
        timeout.nanos = (int32_t)(spec->timeout_ms % 1000) * 1000000;
        action.timeout = &timeout;
    }
    action.do_not_cache = spec->do_not_cache;
    if (spec->salt_len) {
        action.salt.data = (uint8_t *)spec->salt;
        action.salt.len = spec->salt_len;
    }
    action.platform = platform;
    out->action_bytes = REV2_PACK(&action, &out->action_len);
    rev2_digest_of_bytes(out->action_bytes, out->action_len, &out->action_digest);
}

int rev2_action_build(const rev2_action_spec *spec, rev2_built_action *out, char **err)
{
    memset(out, 0, sizeof *out);
    if (spec->n_arguments == 0 || !spec->arguments[0] || !*spec->arguments[0])
        return gmb_fail(err, "an action needs a program to run (arguments[0])");

    rev2_property *env = sorted_properties(spec->environment, spec->n_environment);
    rev2_property *plat = sorted_properties(spec->platform, spec->n_platform);
    const char **outs = gmb_malloc((spec->n_output_paths + 1) * sizeof *outs);
    size_t n_outs;
    int rc = sorted_output_paths(spec, outs, &n_outs, err);
    if (rc < 0)
        goto done;
    for (size_t i = 1; i < spec->n_environment; i++)
        if (strcmp(env[i - 1].name, env[i].name) == 0) {
            rc = gmb_fail(err, "environment variable %s is given twice", env[i].name);
            goto done;
        }

    /* Platform, in the Command and in the Action. */
    Rev2PlatformProperty *props = gmb_calloc(spec->n_platform + 1, sizeof *props);
    Rev2PlatformProperty **pp = gmb_calloc(spec->n_platform + 1, sizeof *pp);
    Rev2Platform platform = BUILD__BAZEL__REMOTE__EXECUTION__V2__PLATFORM__INIT;
    fill_platform(plat, spec->n_platform, props, pp, &platform);
    pack_command(spec, env, outs, n_outs, spec->n_platform ? &platform : NULL, out);
    pack_action(spec, spec->n_platform ? &platform : NULL, out);
    free(props);
    free(pp);
done:
    free(env);
    free(plat);
    free(outs);
    return rc;
}

void rev2_action_blobs(const rev2_built_action *b, rev2_blob out[2])
{
    out[0] = (rev2_blob){.digest = b->action_digest, .data = b->action_bytes};
    out[1] = (rev2_blob){.digest = b->command_digest, .data = b->command_bytes};
}

void rev2_built_action_free(rev2_built_action *b)
{
    free(b->action_bytes);
    free(b->command_bytes);
    memset(b, 0, sizeof *b);
}
