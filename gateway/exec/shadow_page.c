#include "shadow_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errmsg.h"
#include "html.h"
#include "mem.h"
#include "svg_chart.h"

struct shadow_page {
    exec_shadow *shadow;
    char *mount_path; /* "" when not mounted */
};

#define MAX_PAIRS 64
#define MAX_LISTED 50 /* mismatches and failures listed on a page */

shadow_page *shadow_page_new(exec_shadow *s, const char *mount_path)
{
    shadow_page *p = gmb_calloc(1, sizeof *p);
    p->shadow = s;
    p->mount_path = gmb_strdup(mount_path ? mount_path : "");
    return p;
}

void shadow_page_free(shadow_page *p)
{
    if (!p)
        return;
    free(p->mount_path);
    free(p);
}

/* ---- Query arguments ----------------------------------------------------- */

/* The instance name argument: "" written as two quotes. NULL if absent. */
static const char *instance_arg(http_request *r, const char *name)
{
    const char *v = http_request_query(r, name);
    return v && strcmp(v, "\"\"") == 0 ? "" : v;
}

/* since=SECONDS as a unix time; 0 (everything kept) when absent. -1 when
 * it is not a number of seconds. */
static time_t since_arg(http_request *r)
{
    const char *v = http_request_query(r, "since");
    if (!v || !*v)
        return 0;
    char *end = NULL;
    long long s = strtoll(v, &end, 10);
    if (*end || s < 0)
        return -1;
    time_t now = time(NULL);
    return s >= now ? 0 : now - (time_t)s;
}

static void respond_text(http_request *r, int code, const char *text)
{
    http_respond(r, code, "text/plain; charset=utf-8", text, strlen(text));
}

static const char *shown(const char *instance)
{
    return *instance ? instance : "\"\"";
}

/* ---- /compare ------------------------------------------------------------- */

static void on_index(http_request *r, void *user)
{
    shadow_page *p = user;
    exec_shadow_stats st;
    exec_shadow_stats_get(p->shadow, &st);
    exec_shadow_pair *pairs = gmb_calloc(MAX_PAIRS, sizeof *pairs);
    size_t n = exec_shadow_pairs(p->shadow, pairs, MAX_PAIRS);
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    html_put(&b,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn: shadow comparisons</title>%s"
             "</head><body><h1>Shadow comparisons</h1>",
             html_style);
    html_put(&b,
             "<p>%llu offered, %llu dropped (queue full), %llu matched, %llu mismatched, %llu failed; %zu queued, "
             "%zu running.</p>",
             (unsigned long long)st.submitted, (unsigned long long)st.dropped, (unsigned long long)st.matched,
             (unsigned long long)st.mismatched, (unsigned long long)st.failed, st.queued, st.running);
    if (n == 0)
        html_put(&b, "<p>No shadowed action has finished yet. Shadow a share of requests with a routing rule "
                     "(<code>compiler=gcc* -&gt; hardlinking shadow fuse 10%%</code>) or the "
                     "<code>X-Gomabarn-Shadow</code> request header.</p>");
    else
        html_put(&b, "<table><tr><th>primary</th><th>shadow</th><th>comparisons kept</th><th></th></tr>");
    for (size_t i = 0; i < n; i++) {
        char *a = html_escape(shown(pairs[i].primary)), *s = html_escape(shown(pairs[i].shadow));
        char *qa = html_query_value(shown(pairs[i].primary)), *qs = html_query_value(shown(pairs[i].shadow));
        html_put(&b,
                 "<tr><td>%s</td><td>%s</td><td class=\"num\">%zu</td><td><a href=\"/compare/pair?primary=%s&amp;"
                 "shadow=%s\">compare</a> (<a href=\"/compare/pair?primary=%s&amp;shadow=%s&amp;since=3600\">last "
                 "hour</a>)</td></tr>",
                 a, s, pairs[i].kept, qa, qs, qa, qs);
        free(a);
        free(s);
        free(qa);
        free(qs);
    }
    if (n)
        html_put(&b, "</table>");
    html_put(&b, "<p><a href=\"/compare/report\">as text</a> &middot; <a href=\"/compare/report?format=json\">as "
                 "JSON</a> &middot; <a href=\"/\">status</a></p></body></html>\n");
    http_respond(r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    free(pairs);
}

/* ---- /compare/pair -------------------------------------------------------- */

static const char *const colour[2] = {"#3b6fb6", "#d9653b"};

/* One row per phase, each on its own scale (phases differ by orders of
 * magnitude): a bar to p50, a line on to p90, a tick at p99. */
static void put_chart(gmb_buf *b, action_report *rep)
{
    const int label_w = 110, plot_w = 460, row_h = 44, bar_h = 12, top = 24;
    int height = top + ACTION_PHASE_COUNT * row_h + 10;
    svg_open(b, label_w + plot_w + 120, height, "phase-chart", "worker phase durations on both pools");
    for (int i = 0; i < 2; i++)
        svg_legend(b, label_w + i * 200, 15, colour[i], shown(action_report_instance(rep, (size_t)i)));
    html_put(b, "<text x=\"%d\" y=\"15\" fill=\"#666\">bar: p50, line: p90, tick: p99</text>", label_w + 400);
    for (int ph = 0; ph < ACTION_PHASE_COUNT; ph++) {
        action_phase_stats st[2];
        double scale = 0;
        for (int i = 0; i < 2; i++) {
            action_report_phase(rep, (size_t)i, (action_phase)ph, &st[i]);
            if (st[i].p99 > scale)
                scale = st[i].p99;
        }
        int y = top + ph * row_h;
        html_put(b, "<text x=\"0\" y=\"%d\">%s</text>", y + bar_h + 6, action_phase_name((action_phase)ph));
        for (int i = 0; i < 2; i++) {
            int yb = y + i * (bar_h + 4);
            if (st[i].n == 0 || scale <= 0) {
                html_put(b, "<text x=\"%d\" y=\"%d\" fill=\"#999\">no samples</text>", label_w, yb + bar_h - 2);
                continue;
            }
            double k = plot_w / scale;
            int x50 = (int)(st[i].p50 * k), x90 = (int)(st[i].p90 * k), x99 = (int)(st[i].p99 * k);
            html_put(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", label_w, yb,
                     x50 > 1 ? x50 : 1, bar_h, colour[i]);
            html_put(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>",
                     label_w + x50, yb + bar_h / 2, label_w + x90, yb + bar_h / 2, colour[i]);
            html_put(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>",
                     label_w + x99, yb, label_w + x99, yb + bar_h, colour[i]);
            html_put(b, "<text x=\"%d\" y=\"%d\">%.3f s</text>", label_w + plot_w + 8, yb + bar_h - 2, st[i].p50);
        }
    }
    svg_close(b);
}

static void put_phase_table(gmb_buf *b, action_report *rep)
{
    char *a = html_escape(shown(action_report_instance(rep, 0))),
         *s = html_escape(shown(action_report_instance(rep, 1)));
    html_put(b,
             "<table><tr><th>phase</th><th>%s p50</th><th>p90</th><th>p99</th><th>%s p50</th><th>p90</th>"
             "<th>p99</th><th>p50 ratio</th><th>samples</th></tr>",
             a, s);
    free(a);
    free(s);
    for (int ph = 0; ph < ACTION_PHASE_COUNT; ph++) {
        action_phase_stats st[2];
        action_report_phase(rep, 0, (action_phase)ph, &st[0]);
        action_report_phase(rep, 1, (action_phase)ph, &st[1]);
        html_put(b, "<tr><td>%s</td>", action_phase_name((action_phase)ph));
        for (int i = 0; i < 2; i++)
            if (st[i].n)
                html_put(b, "<td class=\"num\">%.4f</td><td class=\"num\">%.4f</td><td class=\"num\">%.4f</td>",
                         st[i].p50, st[i].p90, st[i].p99);
            else
                html_put(b, "<td>-</td><td>-</td><td>-</td>");
        if (st[0].n && st[1].n && st[0].p50 > 0)
            html_put(b, "<td class=\"num\">%.2f</td>", st[1].p50 / st[0].p50);
        else
            html_put(b, "<td>-</td>");
        html_put(b, "<td class=\"num\">%zu / %zu</td></tr>", st[0].n, st[1].n);
    }
    html_put(b, "</table>");
}

typedef struct {
    gmb_buf *b;
    const char *mount;
} listing;

/* <mount>/by-instance/<instance>/<hash>-<size>/output (as the view names it). */
static char *view_path(const char *mount, const char *instance, const rev2_digest *d)
{
    return gmb_format("%s/by-instance/%s%s%s-%lld/output", *mount ? mount : "<mount>", instance, *instance ? "/" : "",
                      d->hash, (long long)d->size);
}

static void put_differing(void *user, time_t finished, const action_comparison *c)
{
    listing *l = user;
    char when[32], ds[REV2_DIGEST_STR_LEN];
    struct tm tm;
    gmtime_r(&finished, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    html_put(l->b, "<tr><td>%s</td><td class=\"%s\">%s</td><td><code>%s</code></td><td>", when,
             c->verdict == ACTION_FAILED ? "failed" : "missing", action_verdict_name(c->verdict),
             rev2_digest_str(&c->action, ds));
    if (c->verdict == ACTION_FAILED) {
        for (size_t i = 0; i < c->n_runs; i++) {
            if (!c->errors[i])
                continue;
            char *who = html_escape(shown(c->instances[i])), *why = html_escape(c->errors[i]);
            html_put(l->b, "on %s: %s<br>", who, why);
            free(who);
            free(why);
        }
    } else {
        for (size_t d = 0; d < c->n_differences; d++) {
            char *what = html_escape(c->differences[d].what);
            html_put(l->b, "%s:<br>", what);
            free(what);
            for (size_t i = 0; i < c->n_runs; i++) {
                char *who = html_escape(shown(c->instances[i])), *v = html_escape(c->differences[d].values[i]);
                html_put(l->b, "&nbsp;&nbsp;%s <code>%s</code><br>", who, v);
                free(who);
                free(v);
            }
        }
    }
    /* The primary ran the action; the shadow its do_not_cache twin. */
    html_put(l->b, "</td><td>");
    for (size_t i = 0; i < c->n_runs && i < 2; i++) {
        char *path = view_path(l->mount, c->instances[i], i == 0 ? &c->action : &c->executed);
        char *e = html_escape(path);
        html_put(l->b, "<code>%s</code><br>", e);
        free(e);
        free(path);
    }
    html_put(l->b, "</td></tr>");
}

static void on_pair(http_request *r, void *user)
{
    shadow_page *p = user;
    const char *a = instance_arg(r, "primary"), *s = instance_arg(r, "shadow");
    time_t since = since_arg(r);
    if (!a || !s || since < 0) {
        respond_text(r, 400,
                     "gomabarn: /compare/pair needs primary=INSTANCE and shadow=INSTANCE (\"\" for the empty name), "
                     "and since=SECONDS if any\n");
        return;
    }
    action_report *rep = exec_shadow_report(p->shadow, a, s, since);
    action_report_counts c;
    action_report_counts_get(rep, &c);
    char *ea = html_escape(shown(a)), *es = html_escape(shown(s));
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    html_put(&b,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn: %s vs %s</title>%s</head><body>"
             "<h1>%s vs %s</h1>",
             ea, es, html_style, ea, es);
    html_put(&b, "<p>%s: %zu actions, %zu matched, <span class=\"%s\">%zu mismatched</span>, %zu failed.</p>",
             since ? "Finished since the time asked" : "All comparisons kept", c.actions, c.matched,
             c.mismatched ? "failed" : "done", c.mismatched, c.failed);
    html_put(&b, "<h2>Worker phases (seconds)</h2>");
    put_phase_table(&b, rep);
    html_put(&b, "<p>");
    put_chart(&b, rep);
    html_put(&b, "</p><h2>Mismatches and failures</h2>");
    html_put(&b,
             "<table><tr><th>finished (UTC)</th><th>verdict</th><th>action</th><th>what</th><th>outputs under "
             "the mount (%s, then %s)</th></tr>",
             ea, es);
    listing l = {&b, p->mount_path};
    size_t n = exec_shadow_each_differing(p->shadow, a, s, since, MAX_LISTED, put_differing, &l);
    html_put(&b, "</table>");
    if (n > MAX_LISTED)
        html_put(&b, "<p>%zu more not listed (all are in <code>gomabarn compare --json</code>).</p>", n - MAX_LISTED);
    else if (n == 0)
        html_put(&b, "<p>None.</p>");
    html_put(&b, "<p><a href=\"/compare\">all pairs</a></p></body></html>\n");
    http_respond(r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    free(ea);
    free(es);
    action_report_free(rep);
}

/* ---- /compare/report ------------------------------------------------------ */

static void on_report(http_request *r, void *user)
{
    shadow_page *p = user;
    const char *a = instance_arg(r, "primary"), *s = instance_arg(r, "shadow"),
               *format = http_request_query(r, "format");
    time_t since = since_arg(r);
    bool json = format && strcmp(format, "json") == 0;
    if (since < 0 || (!a) != (!s) || (format && !json && strcmp(format, "text") != 0)) {
        respond_text(r, 400,
                     "gomabarn: /compare/report takes primary=INSTANCE and shadow=INSTANCE together, since=SECONDS "
                     "and format=text|json\n");
        return;
    }
    exec_shadow_pair *pairs = gmb_calloc(MAX_PAIRS, sizeof *pairs);
    size_t n = 1;
    if (a) {
        snprintf(pairs[0].primary, sizeof pairs[0].primary, "%s", a);
        snprintf(pairs[0].shadow, sizeof pairs[0].shadow, "%s", s);
    } else {
        n = exec_shadow_pairs(p->shadow, pairs, MAX_PAIRS);
    }
    /* The totals come first, on one line, so `gomabarn compare` can read
     * its exit status off it without parsing the rest. */
    action_report **reps = gmb_calloc(n ? n : 1, sizeof *reps);
    action_report_counts total = {0};
    for (size_t i = 0; i < n; i++) {
        reps[i] = exec_shadow_report(p->shadow, pairs[i].primary, pairs[i].shadow, since);
        action_report_counts c;
        action_report_counts_get(reps[i], &c);
        total.actions += c.actions;
        total.matched += c.matched;
        total.mismatched += c.mismatched;
        total.failed += c.failed;
    }
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    if (json) {
        html_put(&b, "{\"actions\": %zu, \"matched\": %zu, \"mismatched\": %zu, \"failed\": %zu, \"since_s\": ",
                 total.actions, total.matched, total.mismatched, total.failed);
        if (since)
            html_put(&b, "%lld", (long long)(time(NULL) - since));
        else
            html_put(&b, "null");
        html_put(&b, ",\n\"pairs\": [");
    } else {
        html_put(&b, "%zu shadowed actions in %zu instance pairs: %zu matched, %zu mismatched, %zu failed\n",
                 total.actions, n, total.matched, total.mismatched, total.failed);
    }
    for (size_t i = 0; i < n; i++) {
        if (json) {
            html_put(&b, "%s", i ? ", " : "");
            action_report_json(reps[i], &b);
        } else {
            html_put(&b, "\n== %s vs %s ==\n", shown(pairs[i].primary), shown(pairs[i].shadow));
            action_report_text(reps[i], 20, &b);
        }
        action_report_free(reps[i]);
    }
    if (json)
        html_put(&b, "]}\n");
    http_respond(r, 200, json ? "application/json" : "text/plain; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    free(reps);
    free(pairs);
}

void shadow_page_routes(shadow_page *p, http_server *http)
{
    http_server_route(http, "/compare", "GET", true, on_index, p);
    http_server_route(http, "/compare/pair", "GET", true, on_pair, p);
    http_server_route(http, "/compare/report", "GET", true, on_report, p);
}
