/* action_report_render: an action_report as a text table or as JSON
 * (action_compare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action_report_internal.h"
#include "errmsg.h"
#include "html.h"
#include "mem.h"

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
            html_put(out, "  action %s%s on %s", as, ran, shown_name(c->instances[i]));
            for (size_t j = i + 1; j < c->n_runs; j++)
                if (c->errors[j] && strcmp(c->errors[i], c->errors[j]) == 0)
                    html_put(out, ", %s", shown_name(c->instances[j]));
            html_put(out, ": %s\n", c->errors[i]);
        }
    } else {
        html_put(out, "  action %s%s\n", as, ran);
        for (size_t d = 0; d < c->n_differences; d++) {
            html_put(out, "    %s differs:\n", c->differences[d].what);
            for (size_t i = 0; i < c->n_runs; i++)
                html_put(out, "      %-*s %s\n", width, shown_name(c->instances[i]), c->differences[d].values[i]);
        }
    }
    free(ran);
}

static void text_list(gmb_buf *out, const char *title, const kept_list *k, size_t counted, size_t max_listed, int width)
{
    if (counted == 0)
        return;
    html_put(out, "\n%s (%zu):\n", title, counted);
    size_t shown = max_listed && k->n > max_listed ? max_listed : k->n;
    for (size_t i = 0; i < shown; i++)
        text_list_comparison(out, action_kept_at(k, k->n - shown + i), width);
    if (counted > shown)
        html_put(out, "  ... %zu more not listed%s\n", counted - shown,
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
    html_put(out, "%zu action%s on ", c.actions, c.actions == 1 ? "" : "s");
    for (size_t i = 0; i < r->n; i++)
        html_put(out, "%s%s", i ? ", " : "", shown_name(r->instances[i]));
    html_put(out, ": %zu matched, %zu mismatched, %zu failed\n\n", c.matched, c.mismatched, c.failed);

    html_put(out, "%-*s %8s %8s %8s %13s\n", width, "instance", "runs", "failed", "cached", "nonzero exit");
    for (size_t i = 0; i < r->n; i++) {
        action_instance_counts ic;
        action_report_instance_counts(r, i, &ic);
        html_put(out, "%-*s %8zu %8zu %8zu %13zu\n", width, shown_name(r->instances[i]), ic.runs, ic.failed, ic.cached,
                 ic.nonzero_exit);
    }

    html_put(out, "\nworker phases in seconds (ratio: p50 / p50 on %s)\n", r->n ? shown_name(r->instances[0]) : "-");
    html_put(out, "%-14s %-*s %7s %10s %10s %10s %7s\n", "phase", width, "instance", "n", "p50", "p90", "p99", "ratio");
    for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
        action_phase_stats base;
        action_report_phase(r, 0, (action_phase)p, &base);
        for (size_t i = 0; i < r->n; i++) {
            action_phase_stats s;
            action_report_phase(r, i, (action_phase)p, &s);
            html_put(out, "%-14s %-*s %7zu", i == 0 ? action_phase_name((action_phase)p) : "", width,
                     shown_name(r->instances[i]), s.n);
            if (s.n == 0) {
                html_put(out, " %10s %10s %10s %7s\n", "-", "-", "-", "-");
                continue;
            }
            html_put(out, " %10.4f %10.4f %10.4f", s.p50, s.p90, s.p99);
            if (base.n && base.p50 > 0)
                html_put(out, " %7.2f\n", s.p50 / base.p50);
            else
                html_put(out, " %7s\n", "-");
        }
    }
    pthread_mutex_lock(&r->lock);
    text_list(out, "mismatches", &r->mismatches, r->counts.mismatched, max_listed, width);
    text_list(out, "failures", &r->failures, r->counts.failed, max_listed, width);
    pthread_mutex_unlock(&r->lock);
}

static void json_digest(gmb_buf *out, const rev2_digest *d)
{
    char ds[REV2_DIGEST_STR_LEN];
    html_json_str(out, rev2_digest_str(d, ds));
}

static void json_comparison(gmb_buf *out, const action_comparison *c)
{
    html_put(out, "{\"action\": ");
    json_digest(out, &c->action);
    html_put(out, ", \"executed\": ");
    json_digest(out, &c->executed);
    html_put(out, ", \"verdict\": \"%s\"", action_verdict_name(c->verdict));
    if (c->verdict == ACTION_FAILED) {
        html_put(out, ", \"errors\": [");
        bool first = true;
        for (size_t i = 0; i < c->n_runs; i++) {
            if (!c->errors[i])
                continue;
            html_put(out, "%s{\"instance\": ", first ? "" : ", ");
            html_json_str(out, c->instances[i]);
            html_put(out, ", \"code\": \"%s\", \"message\": ", rev2_code_name(c->error_codes[i]));
            html_json_str(out, c->errors[i]);
            html_put(out, "}");
            first = false;
        }
        html_put(out, "]}");
        return;
    }
    html_put(out, ", \"differences\": [");
    for (size_t d = 0; d < c->n_differences; d++) {
        html_put(out, "%s{\"what\": ", d ? ", " : "");
        html_json_str(out, c->differences[d].what);
        html_put(out, ", \"values\": {");
        for (size_t i = 0; i < c->n_runs; i++) {
            html_put(out, "%s", i ? ", " : "");
            html_json_str(out, c->instances[i]);
            html_put(out, ": ");
            html_json_str(out, c->differences[d].values[i]);
        }
        html_put(out, "}}");
    }
    html_put(out, "]}");
}

static void json_list(gmb_buf *out, const kept_list *k)
{
    html_put(out, "[");
    for (size_t i = 0; i < k->n; i++) {
        html_put(out, "%s\n    ", i ? "," : "");
        json_comparison(out, action_kept_at(k, i));
    }
    html_put(out, "%s]", k->n ? "\n  " : "");
}

static void json_stats(gmb_buf *out, const action_phase_stats *s)
{
    html_put(out, "{\"n\": %zu, \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f}", s->n, s->p50, s->p90, s->p99);
}

static void json_ratio(gmb_buf *out, double a, double b)
{
    if (b > 0)
        html_put(out, "%.4f", a / b);
    else
        html_put(out, "null");
}

void action_report_json(action_report *r, gmb_buf *out)
{
    action_report_counts c;
    action_report_counts_get(r, &c);
    html_put(out, "{\n  \"instances\": [");
    for (size_t i = 0; i < r->n; i++) {
        html_put(out, "%s", i ? ", " : "");
        html_json_str(out, r->instances[i]);
    }
    html_put(out, "],\n  \"actions\": %zu, \"matched\": %zu, \"mismatched\": %zu, \"failed\": %zu,\n", c.actions,
             c.matched, c.mismatched, c.failed);
    html_put(out, "  \"per_instance\": [");
    for (size_t i = 0; i < r->n; i++) {
        action_instance_counts ic;
        action_report_instance_counts(r, i, &ic);
        html_put(out, "%s\n    {\"instance\": ", i ? "," : "");
        html_json_str(out, r->instances[i]);
        html_put(out, ", \"runs\": %zu, \"failed\": %zu, \"cached\": %zu, \"nonzero_exit\": %zu,\n", ic.runs, ic.failed,
                 ic.cached, ic.nonzero_exit);
        html_put(out, "     \"phases_s\": {");
        for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
            action_phase_stats s;
            action_report_phase(r, i, (action_phase)p, &s);
            html_put(out, "%s\"%s\": ", p ? ", " : "", action_phase_name((action_phase)p));
            json_stats(out, &s);
        }
        html_put(out, "},\n     \"ratio_to_first\": {");
        for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
            action_phase_stats s, base;
            action_report_phase(r, i, (action_phase)p, &s);
            action_report_phase(r, 0, (action_phase)p, &base);
            html_put(out, "%s\"%s\": {\"p50\": ", p ? ", " : "", action_phase_name((action_phase)p));
            json_ratio(out, s.p50, s.n ? base.p50 : 0);
            html_put(out, ", \"p90\": ");
            json_ratio(out, s.p90, s.n ? base.p90 : 0);
            html_put(out, ", \"p99\": ");
            json_ratio(out, s.p99, s.n ? base.p99 : 0);
            html_put(out, "}");
        }
        html_put(out, "}}");
    }
    html_put(out, "\n  ],\n  \"mismatches\": ");
    pthread_mutex_lock(&r->lock);
    json_list(out, &r->mismatches);
    html_put(out, ",\n  \"failures\": ");
    json_list(out, &r->failures);
    pthread_mutex_unlock(&r->lock);
    html_put(out, "\n}\n");
}
