#include "action_compare.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mem.h"

/* ---- Names ------------------------------------------------------------- */

const char *action_phase_name(action_phase p)
{
    static const char *const names[ACTION_PHASE_COUNT] = {"queued", "input_fetch", "execution", "output_upload",
                                                          "total"};
    return p < ACTION_PHASE_COUNT ? names[p] : "?";
}

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

/* ---- One run ----------------------------------------------------------- */

/* b - a in seconds; -1 when either timestamp is absent. */
static double span_s(const GpbTimestamp *a, const GpbTimestamp *b)
{
    if (!a || !b)
        return -1;
    double d = rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a);
    return d < 0 ? 0 : d;
}

static void stream_digest(const ProtobufCBinaryData *raw, const Rev2Digest *digest, rev2_digest *out)
{
    if (digest && rev2_digest_from_proto(digest, out))
        return;
    rev2_digest_of_bytes(raw->data ? raw->data : (const uint8_t *)"", raw->len, out);
}

static int output_by_path(const void *a, const void *b)
{
    return strcmp(((const action_output *)a)->path, ((const action_output *)b)->path);
}

static void add_symlinks(action_run *run, Rev2OutputSymlink *const *links, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(links[i]->path);
        o->kind = ACTION_OUTPUT_SYMLINK;
        o->target = gmb_strdup(links[i]->target);
    }
}

static void run_outputs(action_run *run, const Rev2ActionResult *r)
{
    size_t n = r->n_output_files + r->n_output_directories + r->n_output_symlinks + r->n_output_file_symlinks +
               r->n_output_directory_symlinks;
    run->outputs = gmb_calloc(n ? n : 1, sizeof *run->outputs);
    for (size_t i = 0; i < r->n_output_files; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(r->output_files[i]->path);
        o->kind = ACTION_OUTPUT_FILE;
        o->executable = r->output_files[i]->is_executable;
        stream_digest(&r->output_files[i]->contents, r->output_files[i]->digest, &o->digest);
    }
    for (size_t i = 0; i < r->n_output_directories; i++) {
        action_output *o = &run->outputs[run->n_outputs++];
        o->path = gmb_strdup(r->output_directories[i]->path);
        o->kind = ACTION_OUTPUT_DIRECTORY;
        if (r->output_directories[i]->tree_digest)
            rev2_digest_from_proto(r->output_directories[i]->tree_digest, &o->digest);
    }
    /* output_symlinks replaced the other two in REv2 2.1; servers may
     * still fill all three with the same links, so keep each path once. */
    add_symlinks(run, r->output_symlinks, r->n_output_symlinks);
    add_symlinks(run, r->output_file_symlinks, r->n_output_file_symlinks);
    add_symlinks(run, r->output_directory_symlinks, r->n_output_directory_symlinks);
    qsort(run->outputs, run->n_outputs, sizeof *run->outputs, output_by_path);
    size_t k = 0;
    for (size_t i = 0; i < run->n_outputs; i++) {
        if (k > 0 && strcmp(run->outputs[k - 1].path, run->outputs[i].path) == 0 &&
            run->outputs[k - 1].kind == run->outputs[i].kind && run->outputs[i].kind == ACTION_OUTPUT_SYMLINK) {
            free(run->outputs[i].path);
            free(run->outputs[i].target);
            continue;
        }
        run->outputs[k++] = run->outputs[i];
    }
    run->n_outputs = k;
}

static void run_phases(action_run *run, const Rev2ExecMetadata *m)
{
    for (int p = 0; p < ACTION_PHASE_COUNT; p++)
        run->phase_s[p] = -1;
    if (!m)
        return;
    run->phase_s[ACTION_PHASE_QUEUED] = span_s(m->queued_timestamp, m->worker_start_timestamp);
    run->phase_s[ACTION_PHASE_INPUT_FETCH] = span_s(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp);
    run->phase_s[ACTION_PHASE_EXECUTION] = span_s(m->execution_start_timestamp, m->execution_completed_timestamp);
    run->phase_s[ACTION_PHASE_OUTPUT_UPLOAD] =
        span_s(m->output_upload_start_timestamp, m->output_upload_completed_timestamp);
    run->phase_s[ACTION_PHASE_TOTAL] = span_s(m->queued_timestamp, m->output_upload_completed_timestamp);
}

void action_run_failed(action_run *run, const char *instance, int code, const char *message)
{
    memset(run, 0, sizeof *run);
    run->instance = gmb_strdup(instance ? instance : "");
    run->error = gmb_strdup(message && *message ? message : "failed (no reason given)");
    run->error_code = code ? code : REV2_UNKNOWN;
    run->worker = gmb_strdup("");
    for (int p = 0; p < ACTION_PHASE_COUNT; p++)
        run->phase_s[p] = -1;
}

void action_run_from_execute(action_run *run, const char *instance, const rev2_error *err,
                             const Rev2ExecuteResponse *resp)
{
    if (err) {
        char *why = action_error_explain(err);
        action_run_failed(run, instance, err->code, why);
        free(why);
        return;
    }
    if (!resp || !resp->result) {
        action_run_failed(run, instance, REV2_INTERNAL, "Buildbarn's answer carried no ActionResult");
        return;
    }
    const Rev2ActionResult *r = resp->result;
    memset(run, 0, sizeof *run);
    run->instance = gmb_strdup(instance ? instance : "");
    run->exit_code = r->exit_code;
    run->cached = resp->cached_result;
    const Rev2ExecMetadata *m = r->execution_metadata;
    run->worker = gmb_strdup(m && m->worker ? m->worker : "");
    run_phases(run, m);
    run_outputs(run, r);
    stream_digest(&r->stdout_raw, r->stdout_digest, &run->stdout_digest);
    stream_digest(&r->stderr_raw, r->stderr_digest, &run->stderr_digest);
}

void action_run_free(action_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n_outputs; i++) {
        free(run->outputs[i].path);
        free(run->outputs[i].target);
    }
    free(run->outputs);
    free(run->instance);
    free(run->error);
    free(run->worker);
    memset(run, 0, sizeof *run);
}

/* What a status code means to someone running actions. */
static const char *code_meaning(const rev2_error *e)
{
    if (rev2_error_is_no_workers(e))
        return "no worker serves this instance name with this platform (check the instance name and the platform "
               "properties)";
    if (rev2_error_is_queue_timeout(e))
        return "no worker of the pool took the action in time (are the pool's workers busy or gone?)";
    if (e->n_missing > 0)
        return "inputs of the action are missing from the CAS";
    switch (e->code) {
    case REV2_CANCELLED:
        return "cancelled";
    case REV2_UNKNOWN:
    case REV2_INTERNAL:
        return "the worker or Buildbarn failed while running the action";
    case REV2_INVALID_ARGUMENT:
        return "Buildbarn refused the request as invalid";
    case REV2_DEADLINE_EXCEEDED:
        return "no answer in time (the action ran too long, or Buildbarn is stuck)";
    case REV2_NOT_FOUND:
        return "not found";
    case REV2_PERMISSION_DENIED:
    case REV2_UNAUTHENTICATED:
        return "Buildbarn refused access (check the token or the certificates)";
    case REV2_RESOURCE_EXHAUSTED:
        return "Buildbarn or the worker ran out of resources";
    case REV2_FAILED_PRECONDITION:
        return "Buildbarn could not run the action";
    case REV2_UNAVAILABLE:
        return "Buildbarn is unreachable or overloaded";
    case REV2_DATA_LOSS:
        return "a blob arrived corrupt";
    case REV2_UNIMPLEMENTED:
        return "Buildbarn does not support this call";
    default:
        return "failed";
    }
}

char *action_error_explain(const rev2_error *e)
{
    if (!e)
        return gmb_strdup("no error");
    char extra[REV2_DIGEST_STR_LEN + 64] = "";
    if (e->n_missing > 0) {
        char ds[REV2_DIGEST_STR_LEN];
        snprintf(extra, sizeof extra, " (%zu blob%s, e.g. %s)", e->n_missing, e->n_missing == 1 ? "" : "s",
                 rev2_digest_str(&e->missing[0], ds));
    }
    return gmb_format("%s%s. Buildbarn said: %s (%s)", code_meaning(e), extra, e->message, rev2_code_name(e->code));
}

/* ---- One action on several instance names ------------------------------ */

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

static const action_output *find_output(const action_run *run, const char *path)
{
    action_output key = {.path = (char *)path};
    return bsearch(&key, run->outputs, run->n_outputs, sizeof *run->outputs, output_by_path);
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
            values[i] = output_value(find_output(&runs[i], paths[k]));
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

/* ---- The report -------------------------------------------------------- */

/* The newest `max` doubles (max 0: all of them). */
typedef struct {
    double *v;
    size_t n, cap, next, max;
} sample_ring;

static void ring_add(sample_ring *s, double x)
{
    if (s->max && s->n == s->max) {
        s->v[s->next] = x;
        s->next = (s->next + 1) % s->max;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        if (s->max && s->cap > s->max)
            s->cap = s->max;
        s->v = gmb_realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = x;
}

/* The newest `max` comparisons (max 0: all), oldest first by kept_at. */
typedef struct {
    action_comparison *items;
    size_t n, cap, next, max;
} kept_list;

static void kept_add(kept_list *k, const action_comparison *c)
{
    if (k->max && k->n == k->max) {
        action_comparison_free(&k->items[k->next]);
        k->items[k->next] = *c;
        k->next = (k->next + 1) % k->max;
        return;
    }
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        if (k->max && k->cap > k->max)
            k->cap = k->max;
        k->items = gmb_realloc(k->items, k->cap * sizeof *k->items);
    }
    k->items[k->n++] = *c;
}

static const action_comparison *kept_at(const kept_list *k, size_t i)
{
    return &k->items[k->max && k->n == k->max ? (k->next + i) % k->max : i];
}

static void kept_free(kept_list *k)
{
    for (size_t i = 0; i < k->n; i++)
        action_comparison_free(&k->items[i]);
    free(k->items);
}

struct action_report {
    pthread_mutex_t lock;
    size_t n; /* instance names */
    char **instances;
    sample_ring *samples; /* [instance * ACTION_PHASE_COUNT + phase] */
    action_instance_counts *per_instance;
    action_report_counts counts;
    kept_list mismatches, failures;
};

action_report *action_report_new(const char *const *instances, size_t n, const action_report_options *o)
{
    action_report *r = gmb_calloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->n = n;
    r->instances = gmb_calloc(n ? n : 1, sizeof *r->instances);
    for (size_t i = 0; i < n; i++)
        r->instances[i] = gmb_strdup(instances[i] ? instances[i] : "");
    r->samples = gmb_calloc((n ? n : 1) * ACTION_PHASE_COUNT, sizeof *r->samples);
    for (size_t i = 0; i < n * ACTION_PHASE_COUNT; i++)
        r->samples[i].max = o ? o->max_samples : 0;
    r->per_instance = gmb_calloc(n ? n : 1, sizeof *r->per_instance);
    r->mismatches.max = r->failures.max = o ? o->max_kept : 0;
    return r;
}

void action_report_free(action_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n * ACTION_PHASE_COUNT; i++)
        free(r->samples[i].v);
    free(r->samples);
    for (size_t i = 0; i < r->n; i++)
        free(r->instances[i]);
    free(r->instances);
    free(r->per_instance);
    kept_free(&r->mismatches);
    kept_free(&r->failures);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

action_verdict action_report_add(action_report *r, const rev2_digest *action, const rev2_digest *executed,
                                 const action_run *runs)
{
    action_comparison c;
    action_compare(action, executed, runs, r->n, &c);
    action_verdict v = c.verdict;
    pthread_mutex_lock(&r->lock);
    r->counts.actions++;
    for (size_t i = 0; i < r->n; i++) {
        action_instance_counts *ic = &r->per_instance[i];
        ic->runs++;
        if (runs[i].error) {
            ic->failed++;
            continue;
        }
        ic->cached += runs[i].cached;
        ic->nonzero_exit += runs[i].exit_code != 0;
        if (runs[i].cached) /* an old execution's timings, counted again on every hit */
            continue;
        for (int p = 0; p < ACTION_PHASE_COUNT; p++)
            if (runs[i].phase_s[p] >= 0)
                ring_add(&r->samples[i * ACTION_PHASE_COUNT + (size_t)p], runs[i].phase_s[p]);
    }
    switch (v) {
    case ACTION_MATCH:
        r->counts.matched++;
        action_comparison_free(&c);
        break;
    case ACTION_MISMATCH:
        r->counts.mismatched++;
        kept_add(&r->mismatches, &c);
        break;
    case ACTION_FAILED:
        r->counts.failed++;
        kept_add(&r->failures, &c);
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return v;
}

size_t action_report_instances(const action_report *r)
{
    return r->n;
}

const char *action_report_instance(const action_report *r, size_t i)
{
    return i < r->n ? r->instances[i] : NULL;
}

void action_report_counts_get(action_report *r, action_report_counts *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->counts;
    pthread_mutex_unlock(&r->lock);
}

void action_report_instance_counts(action_report *r, size_t instance, action_instance_counts *out)
{
    memset(out, 0, sizeof *out);
    if (instance >= r->n)
        return;
    pthread_mutex_lock(&r->lock);
    *out = r->per_instance[instance];
    pthread_mutex_unlock(&r->lock);
}

static int double_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of them at or below it. */
static double rank(const double *sorted, size_t n, size_t p)
{
    size_t k = (p * n + 99) / 100;
    return sorted[k ? k - 1 : 0];
}

void action_report_phase(action_report *r, size_t instance, action_phase p, action_phase_stats *out)
{
    memset(out, 0, sizeof *out);
    if (instance >= r->n || p >= ACTION_PHASE_COUNT)
        return;
    pthread_mutex_lock(&r->lock);
    const sample_ring *s = &r->samples[instance * ACTION_PHASE_COUNT + (size_t)p];
    size_t n = s->n;
    double *v = n ? gmb_memdup(s->v, n * sizeof *v) : NULL;
    pthread_mutex_unlock(&r->lock);
    if (!n)
        return;
    qsort(v, n, sizeof *v, double_cmp);
    out->n = n;
    out->p50 = rank(v, n, 50);
    out->p90 = rank(v, n, 90);
    out->p99 = rank(v, n, 99);
    free(v);
}

/* ---- Rendering --------------------------------------------------------- */

static void put(gmb_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gmb_buf *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gmb_vformat(fmt, ap);
    va_end(ap);
    gmb_buf_put(out, s, strlen(s));
    free(s);
}

static const char *shown_name(const char *instance)
{
    return *instance ? instance : "\"\"";
}

static void text_list_comparison(gmb_buf *out, const action_comparison *c, int width)
{
    char as[REV2_DIGEST_STR_LEN], es[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&c->action, as);
    char *ran = rev2_digest_equal(&c->action, &c->executed)
                    ? gmb_strdup("")
                    : gmb_format(" (ran as %s)", rev2_digest_str(&c->executed, es));
    if (c->verdict == ACTION_FAILED) {
        /* Runs that failed the same way are listed once. */
        for (size_t i = 0; i < c->n_runs; i++) {
            bool said = false;
            for (size_t j = 0; j < i && !said; j++)
                said = c->errors[i] && c->errors[j] && strcmp(c->errors[i], c->errors[j]) == 0;
            if (!c->errors[i] || said)
                continue;
            put(out, "  action %s%s on %s", as, ran, shown_name(c->instances[i]));
            for (size_t j = i + 1; j < c->n_runs; j++)
                if (c->errors[j] && strcmp(c->errors[i], c->errors[j]) == 0)
                    put(out, ", %s", shown_name(c->instances[j]));
            put(out, ": %s\n", c->errors[i]);
        }
    } else {
        put(out, "  action %s%s\n", as, ran);
        for (size_t d = 0; d < c->n_differences; d++) {
            put(out, "    %s differs:\n", c->differences[d].what);
            for (size_t i = 0; i < c->n_runs; i++)
                put(out, "      %-*s %s\n", width, shown_name(c->instances[i]), c->differences[d].values[i]);
        }
    }
    free(ran);
}

static void text_list(gmb_buf *out, const char *title, const kept_list *k, size_t counted, size_t max_listed, int width)
{
    if (counted == 0)
        return;
    put(out, "\n%s (%zu):\n", title, counted);
    size_t shown = max_listed && k->n > max_listed ? max_listed : k->n;
    for (size_t i = 0; i < shown; i++)
        text_list_comparison(out, kept_at(k, k->n - shown + i), width);
    if (counted > shown)
        put(out, "  ... %zu more not listed%s\n", counted - shown,
            k->n > shown ? " (all kept ones are in --json)" : "");
}

void action_report_text(action_report *r, size_t max_listed, gmb_buf *out)
{
    action_report_counts c;
    action_report_counts_get(r, &c);
    int width = 8;
    for (size_t i = 0; i < r->n; i++) {
        int len = (int)strlen(shown_name(r->instances[i]));
        width = len > width ? len : width;
    }
    put(out, "%zu action%s on ", c.actions, c.actions == 1 ? "" : "s");
    for (size_t i = 0; i < r->n; i++)
        put(out, "%s%s", i ? ", " : "", shown_name(r->instances[i]));
    put(out, ": %zu matched, %zu mismatched, %zu failed\n\n", c.matched, c.mismatched, c.failed);

    put(out, "%-*s %8s %8s %8s %13s\n", width, "instance", "runs", "failed", "cached", "nonzero exit");
    for (size_t i = 0; i < r->n; i++) {
        action_instance_counts ic;
        action_report_instance_counts(r, i, &ic);
        put(out, "%-*s %8zu %8zu %8zu %13zu\n", width, shown_name(r->instances[i]), ic.runs, ic.failed, ic.cached,
            ic.nonzero_exit);
    }

    put(out, "\nworker phases in seconds (ratio: p50 / p50 on %s)\n", r->n ? shown_name(r->instances[0]) : "-");
    put(out, "%-14s %-*s %7s %10s %10s %10s %7s\n", "phase", width, "instance", "n", "p50", "p90", "p99", "ratio");
    for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
        action_phase_stats base;
        action_report_phase(r, 0, (action_phase)p, &base);
        for (size_t i = 0; i < r->n; i++) {
            action_phase_stats s;
            action_report_phase(r, i, (action_phase)p, &s);
            put(out, "%-14s %-*s %7zu", i == 0 ? action_phase_name((action_phase)p) : "", width,
                shown_name(r->instances[i]), s.n);
            if (s.n == 0) {
                put(out, " %10s %10s %10s %7s\n", "-", "-", "-", "-");
                continue;
            }
            put(out, " %10.4f %10.4f %10.4f", s.p50, s.p90, s.p99);
            if (base.n && base.p50 > 0)
                put(out, " %7.2f\n", s.p50 / base.p50);
            else
                put(out, " %7s\n", "-");
        }
    }
    pthread_mutex_lock(&r->lock);
    text_list(out, "mismatches", &r->mismatches, r->counts.mismatched, max_listed, width);
    text_list(out, "failures", &r->failures, r->counts.failed, max_listed, width);
    pthread_mutex_unlock(&r->lock);
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_str(gmb_buf *out, const char *s)
{
    gmb_buf_put(out, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            gmb_buf_put(out, esc, 2);
            p++;
        } else if (ch < 0x20) {
            put(out, "\\u%04x", ch);
            p++;
        } else if (ch < 0x80) {
            gmb_buf_put(out, p, 1);
            p++;
        } else {
            size_t len = ch >= 0xf0 && ch < 0xf5 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
            size_t ok = len;
            for (size_t i = 1; i < len && ok; i++)
                if ((p[i] & 0xc0) != 0x80)
                    ok = 0;
            if (ok) {
                gmb_buf_put(out, p, len);
                p += len;
            } else {
                gmb_buf_put(out, "\\ufffd", 6);
                p++;
            }
        }
    }
    gmb_buf_put(out, "\"", 1);
}

static void json_digest(gmb_buf *out, const rev2_digest *d)
{
    char ds[REV2_DIGEST_STR_LEN];
    json_str(out, rev2_digest_str(d, ds));
}

static void json_comparison(gmb_buf *out, const action_comparison *c)
{
    put(out, "{\"action\": ");
    json_digest(out, &c->action);
    put(out, ", \"executed\": ");
    json_digest(out, &c->executed);
    put(out, ", \"verdict\": \"%s\"", action_verdict_name(c->verdict));
    if (c->verdict == ACTION_FAILED) {
        put(out, ", \"errors\": [");
        bool first = true;
        for (size_t i = 0; i < c->n_runs; i++) {
            if (!c->errors[i])
                continue;
            put(out, "%s{\"instance\": ", first ? "" : ", ");
            json_str(out, c->instances[i]);
            put(out, ", \"code\": \"%s\", \"message\": ", rev2_code_name(c->error_codes[i]));
            json_str(out, c->errors[i]);
            put(out, "}");
            first = false;
        }
        put(out, "]}");
        return;
    }
    put(out, ", \"differences\": [");
    for (size_t d = 0; d < c->n_differences; d++) {
        put(out, "%s{\"what\": ", d ? ", " : "");
        json_str(out, c->differences[d].what);
        put(out, ", \"values\": {");
        for (size_t i = 0; i < c->n_runs; i++) {
            put(out, "%s", i ? ", " : "");
            json_str(out, c->instances[i]);
            put(out, ": ");
            json_str(out, c->differences[d].values[i]);
        }
        put(out, "}}");
    }
    put(out, "]}");
}

static void json_list(gmb_buf *out, const kept_list *k)
{
    put(out, "[");
    for (size_t i = 0; i < k->n; i++) {
        put(out, "%s\n    ", i ? "," : "");
        json_comparison(out, kept_at(k, i));
    }
    put(out, "%s]", k->n ? "\n  " : "");
}

static void json_stats(gmb_buf *out, const action_phase_stats *s)
{
    put(out, "{\"n\": %zu, \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f}", s->n, s->p50, s->p90, s->p99);
}

static void json_ratio(gmb_buf *out, double a, double b)
{
    if (b > 0)
        put(out, "%.4f", a / b);
    else
        put(out, "null");
}

void action_report_json(action_report *r, gmb_buf *out)
{
    action_report_counts c;
    action_report_counts_get(r, &c);
    put(out, "{\n  \"instances\": [");
    for (size_t i = 0; i < r->n; i++) {
        put(out, "%s", i ? ", " : "");
        json_str(out, r->instances[i]);
    }
    put(out, "],\n  \"actions\": %zu, \"matched\": %zu, \"mismatched\": %zu, \"failed\": %zu,\n", c.actions, c.matched,
        c.mismatched, c.failed);
    put(out, "  \"per_instance\": [");
    for (size_t i = 0; i < r->n; i++) {
        action_instance_counts ic;
        action_report_instance_counts(r, i, &ic);
        put(out, "%s\n    {\"instance\": ", i ? "," : "");
        json_str(out, r->instances[i]);
        put(out, ", \"runs\": %zu, \"failed\": %zu, \"cached\": %zu, \"nonzero_exit\": %zu,\n", ic.runs, ic.failed,
            ic.cached, ic.nonzero_exit);
        put(out, "     \"phases_s\": {");
        for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
            action_phase_stats s;
            action_report_phase(r, i, (action_phase)p, &s);
            put(out, "%s\"%s\": ", p ? ", " : "", action_phase_name((action_phase)p));
            json_stats(out, &s);
        }
        put(out, "},\n     \"ratio_to_first\": {");
        for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
            action_phase_stats s, base;
            action_report_phase(r, i, (action_phase)p, &s);
            action_report_phase(r, 0, (action_phase)p, &base);
            put(out, "%s\"%s\": {\"p50\": ", p ? ", " : "", action_phase_name((action_phase)p));
            json_ratio(out, s.p50, s.n ? base.p50 : 0);
            put(out, ", \"p90\": ");
            json_ratio(out, s.p90, s.n ? base.p90 : 0);
            put(out, ", \"p99\": ");
            json_ratio(out, s.p99, s.n ? base.p99 : 0);
            put(out, "}");
        }
        put(out, "}}");
    }
    put(out, "\n  ],\n  \"mismatches\": ");
    pthread_mutex_lock(&r->lock);
    json_list(out, &r->mismatches);
    put(out, ",\n  \"failures\": ");
    json_list(out, &r->failures);
    pthread_mutex_unlock(&r->lock);
    put(out, "\n}\n");
}
