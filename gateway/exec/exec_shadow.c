#include "exec_shadow.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_rerun.h"
#include "log.h"
#include "mem.h"
#include "worker_phases.h"

/* A shadow waiting in the queue. */
typedef struct shadow_job {
    rev2_digest action;
    char *instance; /* the shadow's */
    action_run primary;
    struct shadow_job *next;
} shadow_job;

/* One finished comparison, kept in the ring. */
typedef struct {
    time_t finished;
    rev2_digest action, executed;
    action_run runs[2]; /* primary, shadow */
    bool used;
} shadow_record;

struct exec_shadow {
    rev2_client *client;
    metrics *metrics;
    gmb_view *view;
    exec_shadow_options opts;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    shadow_job *head, *tail;
    size_t queued, running;
    bool stopping;
    pthread_t *threads;
    size_t n_threads;
    shadow_record *ring; /* opts.keep records; next is the oldest once full */
    size_t next;
    exec_shadow_stats stats;
};

#define COUNTER_PREFIX "gomabarn_shadow_"

void exec_shadow_declare_metrics(metrics *m)
{
    static const char *const families[][2] = {
        {COUNTER_PREFIX "submitted_total", "Execs offered for shadow execution on a second instance name."},
        {COUNTER_PREFIX "dropped_total", "Shadows dropped because the shadow queue was full (shadow.max_queued)."},
        {COUNTER_PREFIX "matched_total", "Shadowed actions whose outputs, exit code, stdout and stderr matched."},
        {COUNTER_PREFIX "mismatched_total", "Shadowed actions with a differing output, exit code, stdout or stderr."},
        {COUNTER_PREFIX "failed_total", "Shadowed actions that failed on either instance name."},
    };
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        metrics_family(m, families[i][0], "counter", families[i][1]);
    metrics_family(m, COUNTER_PREFIX "queued", "gauge", "Shadows waiting to run.");
    metrics_family(m, COUNTER_PREFIX "running", "gauge", "Shadows running now.");
}

/* counter{primary="..",shadow=".."} += 1 */
static void count(exec_shadow *s, const char *name, const char *primary, const char *shadow)
{
    if (!s->metrics)
        return;
    char a[EXEC_SHADOW_NAME_MAX], b[EXEC_SHADOW_NAME_MAX], series[2 * EXEC_SHADOW_NAME_MAX + 64];
    metrics_label_value(a, sizeof a, primary);
    metrics_label_value(b, sizeof b, shadow);
    snprintf(series, sizeof series, COUNTER_PREFIX "%s{primary=\"%s\",shadow=\"%s\"}", name, a, b);
    metrics_add(s->metrics, series, 1);
}

static void gauges_locked(exec_shadow *s)
{
    if (!s->metrics)
        return;
    metrics_set(s->metrics, COUNTER_PREFIX "queued", (int64_t)s->queued);
    metrics_set(s->metrics, COUNTER_PREFIX "running", (int64_t)s->running);
}

static void record_free(shadow_record *r)
{
    if (!r->used)
        return;
    action_run_free(&r->runs[0]);
    action_run_free(&r->runs[1]);
    r->used = false;
}

/* Keeps a finished comparison (takes both runs). */
static void keep(exec_shadow *s, const rev2_digest *action, const rev2_digest *executed, action_run runs[2])
{
    pthread_mutex_lock(&s->lock);
    shadow_record *r = &s->ring[s->next];
    s->next = (s->next + 1) % s->opts.keep;
    record_free(r);
    *r = (shadow_record){.finished = time(NULL), .action = *action, .executed = *executed, .used = true};
    r->runs[0] = runs[0];
    r->runs[1] = runs[1];
    pthread_mutex_unlock(&s->lock);
}

/* Runs one shadow (on a shadow thread) and keeps its comparison. */
static void run_shadow(exec_shadow *s, shadow_job *j)
{
    action_run runs[2];
    runs[0] = j->primary;
    const char *primary = runs[0].instance, *shadow = j->instance;
    const char *sources[2] = {primary, shadow}, *targets[1] = {shadow};
    action_rerun_options o = {.bypass_cache = true, .max_queued_ms = s->opts.max_queued_ms};
    rev2_digest executed = j->action;
    Rev2ActionResult *result = NULL;
    action_rerun(s->client, &j->action, sources, 2, targets, 1, &o, &runs[1], &executed, &result);
    if (s->view && result)
        view_action_result(s->view, shadow, &executed, result);
    rev2_msg_free(result);
    worker_phases_observe(s->metrics, &runs[1]);

    action_comparison c;
    action_compare(&j->action, &executed, runs, 2, &c);
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&j->action, ds);
    pthread_mutex_lock(&s->lock);
    if (c.verdict == ACTION_MATCH)
        s->stats.matched++;
    else if (c.verdict == ACTION_MISMATCH)
        s->stats.mismatched++;
    else
        s->stats.failed++;
    pthread_mutex_unlock(&s->lock);
    if (c.verdict == ACTION_MISMATCH)
        GMB_WARN("shadow", "action %s differs between \"%s\" and \"%s\" (%s); see by-instance/ in the mount", ds,
                 primary, shadow, c.n_differences ? c.differences[0].what : "?");
    else if (c.verdict == ACTION_FAILED)
        GMB_INFO("shadow", "action %s on \"%s\": %s", ds, shadow,
                 c.errors[1] ? c.errors[1] : (c.errors[0] ? c.errors[0] : "failed"));
    count(s,
          c.verdict == ACTION_MATCH      ? "matched_total"
          : c.verdict == ACTION_MISMATCH ? "mismatched_total"
                                         : "failed_total",
          primary, shadow);
    action_comparison_free(&c);
    keep(s, &j->action, &executed, runs);
}

static void *shadow_thread(void *arg)
{
    exec_shadow *s = arg;
    pthread_setname_np(pthread_self(), "gmb-shadow");
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->stopping)
            break;
        shadow_job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        s->running++;
        gauges_locked(s);
        pthread_mutex_unlock(&s->lock);
        run_shadow(s, j);
        free(j->instance);
        free(j);
        pthread_mutex_lock(&s->lock);
        s->running--;
        gauges_locked(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

exec_shadow *exec_shadow_new(rev2_client *client, const exec_shadow_options *o, metrics *m, gmb_view *view)
{
    exec_shadow *s = gmb_calloc(1, sizeof *s);
    s->client = client;
    s->metrics = m;
    s->view = view;
    s->opts = *o;
    if (s->opts.keep == 0)
        s->opts.keep = 1;
    if (s->opts.max_in_flight < 1)
        s->opts.max_in_flight = 1;
    s->ring = gmb_calloc(s->opts.keep, sizeof *s->ring);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->threads = gmb_calloc((size_t)s->opts.max_in_flight, sizeof *s->threads);
    for (int i = 0; i < s->opts.max_in_flight; i++) {
        if (pthread_create(&s->threads[s->n_threads], NULL, shadow_thread, s) != 0) {
            GMB_WARN("shadow", "could start only %zu of %d shadow threads", s->n_threads, s->opts.max_in_flight);
            break;
        }
        s->n_threads++;
    }
    return s;
}

void exec_shadow_free(exec_shadow *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    /* A shadow may wait on an Execute for up to buildbarn.execute_timeout_ms:
     * stopping the client ends that wait now. */
    rev2_client_stop(s->client);
    for (size_t i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    for (shadow_job *j = s->head, *n; j; j = n) {
        n = j->next;
        action_run_free(&j->primary);
        free(j->instance);
        free(j);
    }
    for (size_t i = 0; i < s->opts.keep; i++)
        record_free(&s->ring[i]);
    free(s->ring);
    free(s->threads);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}

bool exec_shadow_submit(exec_shadow *s, const rev2_digest *action, const char *shadow_instance, action_run *primary)
{
    pthread_mutex_lock(&s->lock);
    s->stats.submitted++;
    bool full = s->stopping || s->n_threads == 0 || s->queued >= s->opts.max_queued;
    if (full)
        s->stats.dropped++;
    pthread_mutex_unlock(&s->lock);
    count(s, "submitted_total", primary->instance, shadow_instance);
    if (full) {
        count(s, "dropped_total", primary->instance, shadow_instance);
        action_run_free(primary);
        memset(primary, 0, sizeof *primary);
        return false;
    }
    shadow_job *j = gmb_calloc(1, sizeof *j);
    j->action = *action;
    j->instance = gmb_strdup(shadow_instance);
    j->primary = *primary;
    memset(primary, 0, sizeof *primary);
    pthread_mutex_lock(&s->lock);
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    gauges_locked(s);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return true;
}

void exec_shadow_stats_get(exec_shadow *s, exec_shadow_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->queued = s->queued;
    out->running = s->running;
    pthread_mutex_unlock(&s->lock);
}

/* Oldest first, so pairs come out in first-seen order. */
static shadow_record *record_at(exec_shadow *s, size_t i)
{
    return &s->ring[(s->next + i) % s->opts.keep];
}

size_t exec_shadow_pairs(exec_shadow *s, exec_shadow_pair *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->opts.keep; i++) {
        const shadow_record *r = record_at(s, i);
        if (!r->used)
            continue;
        size_t k = 0;
        while (k < n &&
               (strcmp(out[k].primary, r->runs[0].instance) != 0 || strcmp(out[k].shadow, r->runs[1].instance) != 0))
            k++;
        if (k == n) {
            if (n == max)
                continue;
            snprintf(out[n].primary, sizeof out[n].primary, "%s", r->runs[0].instance);
            snprintf(out[n].shadow, sizeof out[n].shadow, "%s", r->runs[1].instance);
            out[n++].kept = 0;
        }
        out[k].kept++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

action_report *exec_shadow_report(exec_shadow *s, const char *primary, const char *shadow, time_t since)
{
    const char *names[2] = {primary, shadow};
    action_report *report = action_report_new(names, 2, NULL);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->opts.keep; i++) {
        const shadow_record *r = record_at(s, i);
        if (r->used && r->finished >= since && strcmp(r->runs[0].instance, primary) == 0 &&
            strcmp(r->runs[1].instance, shadow) == 0)
            action_report_add(report, &r->action, &r->executed, r->runs);
    }
    pthread_mutex_unlock(&s->lock);
    return report;
}

size_t exec_shadow_each_differing(exec_shadow *s, const char *primary, const char *shadow, time_t since, size_t max,
                                  exec_shadow_differing_fn fn, void *user)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = s->opts.keep; i-- > 0;) {
        const shadow_record *r = record_at(s, i);
        if (!r->used || r->finished < since || strcmp(r->runs[0].instance, primary) != 0 ||
            strcmp(r->runs[1].instance, shadow) != 0)
            continue;
        action_comparison c;
        action_compare(&r->action, &r->executed, r->runs, 2, &c);
        if (c.verdict != ACTION_MATCH && n++ < max)
            fn(user, r->finished, &c);
        action_comparison_free(&c);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}
