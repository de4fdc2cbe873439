/* The front page, /: what a person wants at a glance first (the last
 * minutes' rate, hit rate and latency, with a chart), then outcomes and
 * their reasons, instance names, the store, Buildbarn, the traffic, the
 * configuration, and the request table. Human units; every figure that
 * /metrics also has carries data-metric and data-value (the raw number),
 * so a test or a script can check one against the other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_log.h"
#include "html.h"
#include "mem.h"
#include "request_series.h"
#include "status_internal.h"
#include "svg_chart.h"

typedef struct {
    status_page *s;
    http_request *r;
} page_job;

typedef enum { AS_COUNT, AS_BYTES } unit_kind;

/* A table cell showing a /metrics series in human units. */
static void metric_cell(gmb_buf *b, status_page *s, const char *series, unit_kind unit)
{
    int64_t v = metrics_get(s->metrics, series);
    char shown[32];
    if (unit == AS_BYTES)
        html_bytes(shown, sizeof shown, (double)v);
    else
        snprintf(shown, sizeof shown, "%lld", (long long)v);
    char *name = html_escape(series);
    html_put(b, "<td class=\"num\" data-metric=\"%s\" data-value=\"%lld\">%s</td>", name, (long long)v, shown);
    free(name);
}

typedef struct {
    const char *what, *series;
    unit_kind unit;
} metric_row;

/* One table row per series: its name, its figure, and (blank) note cells. */
static void put_metric_rows(gmb_buf *b, status_page *s, const metric_row *rows, size_t n, const char *after)
{
    for (size_t i = 0; i < n; i++) {
        html_put(b, "<tr><th>%s</th>", rows[i].what);
        metric_cell(b, s, rows[i].series, rows[i].unit);
        html_put(b, "%s</tr>", after);
    }
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : -1;
}

/* ---- The last minutes ---------------------------------------------------- */

static void put_tile(gmb_buf *b, const char *id, const char *value, const char *label)
{
    html_put(b, "<div class=\"tile\" id=\"%s\"><b>%s</b><span>%s</span></div>", id, value, label);
}

/* Seconds the series' window covers: 15 minutes, or less just after start. */
static double window_s(status_page *s, time_t now)
{
    double w = (SERIES_MINUTES - 1) * 60 + (double)(now % 60) + 1, up = (double)(now - s->started) + 1;
    return up < w ? up : w;
}

static void put_tiles(gmb_buf *b, status_page *s, const series_point *t, time_t now)
{
    char v[80], p50[32], p90[32];
    html_put(b, "<div class=\"tiles\">");
    snprintf(v, sizeof v, "%.2f", (double)t->requests / window_s(s, now));
    put_tile(b, "tile-rate", v, "requests/s");
    double hit = ratio(t->hits, t->hits + t->executed);
    snprintf(v, sizeof v, hit < 0 ? "-" : "%.0f%%", hit);
    put_tile(b, "tile-hits", v, "cache hit rate (of the actions answered)");
    html_ms(p50, sizeof p50, t->p50_ms);
    html_ms(p90, sizeof p90, t->p90_ms);
    snprintf(v, sizeof v, "%s / %s", p50, p90);
    put_tile(b, "tile-latency", v, "p50 / p90 in the gateway");
    snprintf(v, sizeof v, "%llu", (unsigned long long)t->requests);
    put_tile(b, "tile-requests", v, "requests finished");
    snprintf(v, sizeof v, "%lld", (long long)metrics_get(s->metrics, "gomabarn_exec_in_flight"));
    put_tile(b, "tile-in-flight", v, "in flight now");
    html_put(b, "</div>");
}

static void put_charts(gmb_buf *b, const series_point *pt, time_t now, time_t started)
{
    double rate[SERIES_MINUTES], hits[SERIES_MINUTES], errs[SERIES_MINUTES], p50[SERIES_MINUTES], p90[SERIES_MINUTES],
        hit_rate[SERIES_MINUTES], slowest = 0;
    for (size_t i = 0; i < SERIES_MINUTES; i++) {
        double secs = i + 1 == SERIES_MINUTES ? (double)(now % 60) + 1 : 60; /* this minute so far */
        rate[i] = (double)pt[i].requests / secs;
        hits[i] = (double)pt[i].hits / secs;
        errs[i] = (double)(pt[i].failed + pt[i].bad) / secs;
        p50[i] = pt[i].p50_ms;
        p90[i] = pt[i].p90_ms;
        hit_rate[i] = ratio(pt[i].hits, pt[i].hits + pt[i].executed);
        if (pt[i].minute + 60 <= started) /* before the gateway ran: no figure, not zero */
            rate[i] = hits[i] = errs[i] = -1;
        if (p90[i] > slowest)
            slowest = p90[i];
    }
    bool in_s = slowest >= 2000; /* seconds read better than 5-digit ms */
    for (size_t i = 0; in_s && i < SERIES_MINUTES; i++) {
        p50[i] = p50[i] < 0 ? -1 : p50[i] / 1000;
        p90[i] = p90[i] < 0 ? -1 : p90[i] / 1000;
    }
    char first[16];
    struct tm tm;
    time_t t0 = pt[0].minute;
    gmtime_r(&t0, &tm);
    strftime(first, sizeof first, "%H:%M UTC", &tm);
    svg_series rs[] = {
        {"all", "#3b6fb6", rate, true}, {"cache hits", "#2a9d4b", hits, false}, {"errors", "#b00000", errs, false}};
    svg_series ls[] = {{"p50", "#3b6fb6", p50, false}, {"p90", "#d9653b", p90, false}};
    svg_series hs[] = {{"hit rate", "#2a9d4b", hit_rate, false}};
    svg_timeseries charts[] = {
        {"chart-rate", "Requests per second", "/s", rs, 3, SERIES_MINUTES, 0.1, first, "now"},
        {"chart-latency", "Latency in the gateway", in_s ? "s" : "ms", ls, 2, SERIES_MINUTES, in_s ? 1 : 10, first,
         "now"},
        {"chart-hit-rate", "Cache hit rate", "%", hs, 1, SERIES_MINUTES, 100, first, "now"},
    };
    html_put(b, "<div class=\"charts\">");
    for (size_t i = 0; i < sizeof charts / sizeof *charts; i++)
        svg_timeseries_draw(b, &charts[i]);
    html_put(b, "</div>");
}

/* ---- Outcomes ------------------------------------------------------------ */

static void put_reasons(gmb_buf *b, status_page *s, const build_summary *all, bool bad)
{
    for (size_t i = 0; i < all->n_reasons; i++) {
        const build_count *c = &all->reasons[i];
        uint64_t n = bad ? c->bad : c->failed;
        if (!n)
            continue;
        char *why = html_escape(c->name), series[160];
        snprintf(series, sizeof series, GMB_EXEC_ERRORS_SERIES, c->name);
        html_put(b, "<tr><td class=\"reason\">%s</td>", why);
        metric_cell(b, s, series, AS_COUNT);
        html_put(b, "<td></td><td></td></tr>");
        free(why);
    }
}

static void outcome_row(gmb_buf *b, status_page *s, const char *kind, const char *series, uint64_t recent,
                        const char *next)
{
    html_put(b, "<tr><td>%s</td>", kind);
    if (series) {
        metric_cell(b, s, series, AS_COUNT);
    } else {
        html_put(b, "<td></td>");
    }
    html_put(b, "<td class=\"num\">%llu</td><td>%s</td></tr>", (unsigned long long)recent, next);
}

static void put_outcomes(gmb_buf *b, status_page *s, const series_point *t)
{
    build_summary *all = gmb_malloc(sizeof *all);
    build_log_everything(request_log_builds(s->log), all);
    html_put(b,
             "<h2>Outcomes</h2><table id=\"outcomes\"><tr><th>outcome</th><th>since start</th>"
             "<th>last %d min</th><th>what the goma client does next</th></tr>",
             SERIES_MINUTES);
    outcome_row(b, s, "answered with a result", "gomabarn_exec_requests_total{outcome=\"done\"}", t->hits + t->executed,
                "uses it");
    outcome_row(b, s, "&nbsp;&nbsp;from the action cache (hit)", "gomabarn_exec_cache_hits_total", t->hits, "");
    html_put(b,
             "<tr><td>&nbsp;&nbsp;executed remotely (miss)</td><td class=\"num\">%llu</td><td class=\"num\">%llu"
             "</td><td></td></tr>",
             (unsigned long long)(metrics_get(s->metrics, "gomabarn_exec_requests_total{outcome=\"done\"}") -
                                  metrics_get(s->metrics, "gomabarn_exec_cache_hits_total")),
             (unsigned long long)t->executed);
    html_put(b,
             "<tr><td>&nbsp;&nbsp;of which the compile failed (exit status not 0)</td><td class=\"num\">%llu</td>"
             "<td></td><td>compiles it locally again (GOMA_FALLBACK)</td></tr>",
             (unsigned long long)all->exit_nonzero);
    outcome_row(b, s, "missing-input round", "gomabarn_exec_requests_total{outcome=\"missing\"}", t->missing,
                "uploads the files, asks again");
    outcome_row(b, s, "<span class=\"failed\">failed</span> (the gateway or Buildbarn)",
                "gomabarn_exec_requests_total{outcome=\"failed\"}", t->failed,
                "retries (4 times at most), then compiles locally");
    put_reasons(b, s, all, false);
    outcome_row(b, s, "<span class=\"bad\">bad request</span>", "gomabarn_exec_requests_total{outcome=\"bad\"}", t->bad,
                "compiles locally at once");
    put_reasons(b, s, all, true);
    html_put(b, "</table>");
    free(all);
}

/* ---- The store and the traffic ------------------------------------------ */

static void put_store(gmb_buf *b, status_page *s)
{
    int64_t used = metrics_get(s->metrics, "gomabarn_cache_disk_bytes");
    double pct = s->cache_max_bytes > 0 ? 100.0 * (double)used / (double)s->cache_max_bytes : 0;
    char max[32];
    html_bytes(max, sizeof max, (double)s->cache_max_bytes);
    html_put(b, "<h2>Content store</h2><table id=\"store\"><tr><th>disk used</th>");
    metric_cell(b, s, "gomabarn_cache_disk_bytes", AS_BYTES);
    html_put(b,
             "<td>of %s (cache.max_bytes): %.0f%% <span class=\"fill\"><div style=\"width:%.0f%%\"></div></span>"
             "</td></tr>",
             max, pct, pct > 100 ? 100 : pct);
    static const metric_row rows[] = {
        {"content (sum of blob sizes)", "gomabarn_cache_bytes", AS_BYTES},
        {"blobs", "gomabarn_cache_blobs", AS_COUNT},
        {"evicted since start", "gomabarn_cache_evictions_total", AS_COUNT},
        {"fetched from Buildbarn", "gomabarn_cache_fetches_total", AS_COUNT},
        {"reads served from disk", "gomabarn_cache_hits_total", AS_COUNT},
        {"blob memory in use (exec.max_blob_memory_bytes)", "gomabarn_blob_memory_bytes", AS_BYTES},
        {"blob memory at most", "gomabarn_blob_memory_peak_bytes", AS_BYTES},
    };
    put_metric_rows(b, s, rows, sizeof rows / sizeof *rows, "<td></td>");
    html_put(b,
             "<tr><th>eviction rate</th><td class=\"num\" id=\"eviction-rate\">%.1f/min</td><td>over the last "
             "minutes (since start at first)</td></tr></table>",
             status_eviction_rate(s));
}

static void put_traffic(gmb_buf *b, status_page *s)
{
    static const metric_row rows[] = {
        {"bytes uploaded to Buildbarn", "gomabarn_buildbarn_bytes_up_total", AS_BYTES},
        {"bytes downloaded from Buildbarn", "gomabarn_buildbarn_bytes_down_total", AS_BYTES},
        {"input bytes read to upload them", "gomabarn_exec_input_bytes_read_total", AS_BYTES},
        {"gRPC calls", "gomabarn_buildbarn_calls_total", AS_COUNT},
        {"calls retried", "gomabarn_buildbarn_retries_total", AS_COUNT},
        {"FindMissingBlobs calls avoided", "gomabarn_buildbarn_find_missing_avoided_total", AS_COUNT},
        {"uploads joined to another's", "gomabarn_buildbarn_uploads_joined_total", AS_COUNT},
        {"actions queued again (worker lost)", "gomabarn_buildbarn_requeued_total", AS_COUNT},
        {"actions given up in the queue", "gomabarn_buildbarn_queue_timeouts_total", AS_COUNT},
        {"actions given up (worker went silent)", "gomabarn_buildbarn_workers_lost_total", AS_COUNT},
        {"goma files stored", "gomabarn_files_stored_total", AS_COUNT},
        {"goma files refused", "gomabarn_files_refused_total", AS_COUNT},
        {"HTTP requests in flight", "gomabarn_http_in_flight", AS_COUNT},
    };
    html_put(b, "<h2>Traffic</h2><table id=\"traffic\">");
    put_metric_rows(b, s, rows, sizeof rows / sizeof *rows, "");
    html_put(b, "</table>");
}

/* The last builds, one line each, linking to their summaries. */
static void put_builds(gmb_buf *b, status_page *s)
{
    build_summary *builds = gmb_calloc(3, sizeof *builds);
    size_t n = build_log_list(request_log_builds(s->log), builds, 3);
    html_put(b, "<h2>Builds</h2>");
    if (!n)
        html_put(b, "<p>None yet.</p>");
    for (size_t i = 0; i < n; i++) {
        char *k = html_escape(*builds[i].key ? builds[i].key : "(no compiler_proxy id)"),
             *q = html_query_value(builds[i].key);
        const build_count *c = &builds[i].all;
        html_put(b,
                 "<p><a href=\"/build?prefix=%s\">%s</a>: %llu requests, %llu hits, %llu executed, %llu "
                 "missing-input rounds, %llu errors</p>",
                 q, k, (unsigned long long)c->requests, (unsigned long long)c->hits, (unsigned long long)c->executed,
                 (unsigned long long)c->missing, (unsigned long long)(c->failed + c->bad));
        free(k);
        free(q);
    }
    html_put(b, "<p><a href=\"/builds\">all builds kept</a></p>");
    free(builds);
}

/* ---- The page ------------------------------------------------------------ */

static void render(void *user, rev2_error *err, Rev2ServerCapabilities *caps)
{
    page_job *j = user;
    status_page *s = j->s;
    status_refresh_gauges(s);
    time_t now = time(NULL);
    series_point pt[SERIES_MINUTES], total;
    request_series_points(request_log_series(s->log), now, pt, SERIES_MINUTES);
    request_series_total(request_log_series(s->log), now, &total);
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    char up[32];
    html_age(up, sizeof up, (long long)(now - s->started));
    html_put(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn</title>%s</head><body>",
             html_style);
    html_put(&b,
             "<h1>gomabarn %s</h1><p id=\"uptime\">up %s &middot; <a href=\"#requests\">requests</a> &middot; "
             "<a href=\"/builds\">builds</a> &middot; <a href=\"/compare\">shadow comparisons</a> &middot; "
             "<a href=\"/metrics\">/metrics</a></p>",
             GOMABARN_VERSION, up);
    status_put_buildbarn_line(&b, s, err);
    html_put(&b, "<h2>Last %d minutes</h2>", SERIES_MINUTES);
    put_tiles(&b, s, &total, now);
    put_charts(&b, pt, now, s->started);
    put_outcomes(&b, s, &total);
    status_put_instances(&b, s);
    put_store(&b, s);
    put_builds(&b, s);
    status_put_pools(&b, s);
    put_traffic(&b, s);
    html_put(&b, "<h2>Configuration</h2>%s", s->summary);
    status_request_table(s, j->r, &b);
    html_put(&b, "</body></html>\n");
    http_respond(j->r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    rev2_error_free(err);
    rev2_msg_free(caps);
    free(j);
}

void status_front_page(http_request *r, void *user)
{
    page_job *j = gmb_malloc(sizeof *j);
    *j = (page_job){user, r};
    /* Reachability is asked now; the page is drawn when it answers. */
    rev2_get_capabilities(((status_page *)user)->client, NULL, render, j);
}
