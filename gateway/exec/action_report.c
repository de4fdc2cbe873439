/* action_report: verdicts and phase durations of many actions collected,
 * and their percentiles (action_compare.h). */
#include <stdlib.h>
#include <string.h>

#include "action_report_internal.h"
#include "mem.h"

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

const action_comparison *action_kept_at(const kept_list *k, size_t i)
{
    return &k->items[k->max && k->n == k->max ? (k->next + i) % k->max : i];
}

static void kept_free(kept_list *k)
{
    for (size_t i = 0; i < k->n; i++)
        action_comparison_free(&k->items[i]);
    free(k->items);
}

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
        if (runs[i].cached) /* its metadata is the old execution's, counted again on every hit */
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
