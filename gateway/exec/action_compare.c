/* action_compare: the verdict on runs of one action, and what differs
 * (action_compare.h). */
#include "action_compare.h"

#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mem.h"

const char *action_verdict_name(action_verdict v)
{
    switch (v) {
    case ACTION_MATCH:
        return "match";
    case ACTION_MISMATCH:
        return "mismatch";
    case ACTION_FAILED:
        return "failed";
    }
    return "?";
}

static char *output_value(const action_output *o)
{
    char ds[REV2_DIGEST_STR_LEN];
    if (!o)
        return gmb_strdup("absent");
    switch (o->kind) {
    case ACTION_OUTPUT_FILE:
        return gmb_format("%s%s", rev2_digest_str(&o->digest, ds), o->executable ? " executable" : "");
    case ACTION_OUTPUT_DIRECTORY:
        return gmb_format("tree %s", rev2_digest_str(&o->digest, ds));
    case ACTION_OUTPUT_SYMLINK:
        return gmb_format("symlink to %s", o->target ? o->target : "");
    }
    return gmb_strdup("?");
}

/* Records a difference when the n values are not all equal; takes them over. */
static void note_values(action_comparison *c, char *what, char **values)
{
    bool differ = false;
    for (size_t i = 1; i < c->n_runs; i++)
        differ = differ || strcmp(values[0], values[i]) != 0;
    if (!differ) {
        for (size_t i = 0; i < c->n_runs; i++)
            free(values[i]);
        free(values);
        free(what);
        return;
    }
    c->differences = gmb_realloc(c->differences, (c->n_differences + 1) * sizeof *c->differences);
    c->differences[c->n_differences++] = (action_difference){what, values};
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void compare_outputs(action_comparison *c, const action_run *runs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += runs[i].n_outputs;
    if (total == 0)
        return;
    const char **paths = gmb_malloc(total * sizeof *paths);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < runs[i].n_outputs; j++)
            paths[np++] = runs[i].outputs[j].path;
    qsort(paths, np, sizeof *paths, str_cmp);
    for (size_t k = 0; k < np; k++) {
        if (k > 0 && strcmp(paths[k - 1], paths[k]) == 0)
            continue;
        char **values = gmb_malloc(n * sizeof *values);
        for (size_t i = 0; i < n; i++)
            values[i] = output_value(action_run_output(&runs[i], paths[k]));
        note_values(c, gmb_format("output %s", paths[k]), values);
    }
    free(paths);
}

void action_compare(const rev2_digest *action, const rev2_digest *executed, const action_run *runs, size_t n,
                    action_comparison *out)
{
    memset(out, 0, sizeof *out);
    out->action = *action;
    out->executed = executed ? *executed : *action;
    out->n_runs = n;
    out->instances = gmb_calloc(n ? n : 1, sizeof *out->instances);
    out->errors = gmb_calloc(n ? n : 1, sizeof *out->errors);
    out->error_codes = gmb_calloc(n ? n : 1, sizeof *out->error_codes);
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        out->instances[i] = gmb_strdup(runs[i].instance ? runs[i].instance : "");
        if (runs[i].error) {
            out->errors[i] = gmb_strdup(runs[i].error);
            out->error_codes[i] = runs[i].error_code;
            failed = true;
        }
    }
    if (failed) {
        out->verdict = ACTION_FAILED;
        return;
    }
    char ds[REV2_DIGEST_STR_LEN];
    char **values = gmb_malloc((n ? n : 1) * sizeof *values);
    for (size_t i = 0; i < n; i++)
        values[i] = gmb_format("%d", runs[i].exit_code);
    note_values(out, gmb_strdup("exit code"), values);
    compare_outputs(out, runs, n);
    values = gmb_malloc((n ? n : 1) * sizeof *values);
    for (size_t i = 0; i < n; i++)
        values[i] = gmb_strdup(rev2_digest_str(&runs[i].stdout_digest, ds));
    note_values(out, gmb_strdup("stdout"), values);
    values = gmb_malloc((n ? n : 1) * sizeof *values);
    for (size_t i = 0; i < n; i++)
        values[i] = gmb_strdup(rev2_digest_str(&runs[i].stderr_digest, ds));
    note_values(out, gmb_strdup("stderr"), values);
    out->verdict = out->n_differences ? ACTION_MISMATCH : ACTION_MATCH;
}

void action_comparison_free(action_comparison *c)
{
    if (!c)
        return;
    for (size_t d = 0; d < c->n_differences; d++) {
        for (size_t i = 0; i < c->n_runs; i++)
            free(c->differences[d].values[i]);
        free(c->differences[d].values);
        free(c->differences[d].what);
    }
    free(c->differences);
    for (size_t i = 0; i < c->n_runs; i++) {
        free(c->instances[i]);
        free(c->errors[i]);
    }
    free(c->instances);
    free(c->errors);
    free(c->error_codes);
    memset(c, 0, sizeof *c);
}
