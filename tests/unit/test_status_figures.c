/* The status pages' figures: the per-minute series (goma/request_series.h),
 * the per-build summaries (goma/build_log.h), the human units
 * (goma/html.h) and the time-series chart (goma/svg_chart.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_log.h"
#include "check.h"
#include "html.h"
#include "mem.h"
#include "request_log.h"
#include "request_series.h"
#include "svg_chart.h"

static request_entry entry(uint64_t id, const char *state, double ms, bool hit)
{
    request_entry e = {.id = id, .duration_ms = ms, .cache_hit = hit, .exit_code = 0};
    snprintf(e.state, sizeof e.state, "%s", state);
    snprintf(e.instance, sizeof e.instance, "hardlinking");
    return e;
}

static void series_counts_minutes_and_percentiles(void)
{
    request_series *s = request_series_new();
    time_t t0 = 1800000000 - 1800000000 % 60; /* a minute's start */
    for (int i = 1; i <= 100; i++) {
        request_entry e = entry((uint64_t)i, "done", i * 10.0, i % 4 == 0); /* 10 ms .. 1 s */
        request_series_add(s, t0 + 5, &e);
    }
    request_entry miss = entry(101, "missing", 1, false), bad = entry(102, "bad", 1, false);
    request_series_add(s, t0 + 65, &miss);
    request_series_add(s, t0 + 65, &bad);
    series_point pt[3];
    request_series_points(s, t0 + 70, pt, 3);
    CHECK_INT(pt[0].requests, 0); /* the minute before: nothing */
    CHECK_INT(pt[0].p50_ms, -1);
    CHECK_INT(pt[1].minute, t0);
    CHECK_INT(pt[1].requests, 100);
    CHECK_INT(pt[1].hits, 25);
    CHECK_INT(pt[1].executed, 75);
    /* Buckets are 20% wide: p50 of 10..1000 ms is 500 ms, read at most 20% high. */
    CHECK(pt[1].p50_ms >= 500 && pt[1].p50_ms <= 600);
    CHECK(pt[1].p90_ms >= 900 && pt[1].p90_ms <= 1080);
    CHECK_INT(pt[2].missing, 1);
    CHECK_INT(pt[2].bad, 1);
    series_point total;
    request_series_total(s, t0 + 70, &total);
    CHECK_INT(total.requests, 102);
    /* Fifteen minutes later the first minute has left the window, and its
     * slot is reused for the new minute without its old counts. */
    request_series_total(s, t0 + SERIES_MINUTES * 60 + 5, &total);
    CHECK_INT(total.requests, 2);
    request_series_add(s, t0 + SERIES_MINUTES * 60 + 5, &miss);
    request_series_points(s, t0 + SERIES_MINUTES * 60 + 5, pt, 1);
    CHECK_INT(pt[0].requests, 1);
    request_series_free(s);
}

static void builds_are_grouped_by_compiler_proxy_run(void)
{
    char key[128];
    build_key_of("me@host:8088/1712345678/42", key, sizeof key);
    CHECK_STR(key, "me@host:8088/1712345678");
    build_key_of("no-slash", key, sizeof key);
    CHECK_STR(key, "no-slash");
    build_log *b = build_log_new();
    request_entry e = entry(1, "done", 5, true);
    snprintf(e.requester, sizeof e.requester, "me@host:8088/100/1");
    build_log_add(b, 1000, &e);
    e = entry(2, "done", 5, false);
    e.exit_code = 1;
    snprintf(e.requester, sizeof e.requester, "me@host:8088/100/2");
    build_log_add(b, 1001, &e);
    e = entry(3, "failed", 5, false);
    snprintf(e.requester, sizeof e.requester, "me@host:8088/100/3");
    snprintf(e.reason, sizeof e.reason, "pool down");
    snprintf(e.instance, sizeof e.instance, "fuse");
    e.fell_back = true;
    build_log_add(b, 1002, &e);
    build_summary s;
    CHECK(build_log_get(b, "me@host:8088/100", &s));
    CHECK_INT(s.all.requests, 3);
    CHECK_INT(s.all.hits, 1);
    CHECK_INT(s.all.executed, 1);
    CHECK_INT(s.all.failed, 1);
    CHECK_INT(s.all.fell_back, 1);
    CHECK_INT(s.exit_nonzero, 1);
    CHECK_INT(s.n_instances, 2);
    CHECK_INT(s.n_reasons, 2);
    CHECK_STR(s.reasons[1].name, "pool down");
    CHECK_INT(s.first, 1000);
    CHECK_INT(s.last, 1002);
    /* More builds than kept: the least recently active one goes. */
    for (int i = 0; i < BUILD_LOG_MAX; i++) {
        request_entry o = entry(10 + (uint64_t)i, "done", 1, false);
        snprintf(o.requester, sizeof o.requester, "other@host:8088/%d/1", i);
        build_log_add(b, 2000 + i, &o);
    }
    CHECK(!build_log_get(b, "me@host:8088/100", &s));
    build_summary *list = gmb_calloc(BUILD_LOG_MAX, sizeof *list);
    CHECK_INT(build_log_list(b, list, BUILD_LOG_MAX), BUILD_LOG_MAX);
    CHECK_STR(list[0].key, "other@host:8088/15"); /* the most recent first */
    free(list);
    build_log_everything(b, &s);
    CHECK_INT(s.all.requests, 3 + BUILD_LOG_MAX);
    build_log_free(b);
}

static void human_units(void)
{
    char out[32];
    html_bytes(out, sizeof out, 109553602);
    CHECK_STR(out, "104.5 MiB");
    html_bytes(out, sizeof out, 512);
    CHECK_STR(out, "512 bytes");
    html_age(out, sizeof out, 1060);
    CHECK_STR(out, "17 min");
    html_age(out, sizeof out, 3 * 86400 + 7200);
    CHECK_STR(out, "3 days 2 h");
    html_ms(out, sizeof out, 850);
    CHECK_STR(out, "850 ms");
    html_ms(out, sizeof out, 1234);
    CHECK_STR(out, "1.23 s");
}

static void chart_draws_bars_lines_and_gaps(void)
{
    double rate[4] = {0, 2, 0, 3}, lat[4] = {-1, 10, -1, 12};
    svg_series s[] = {{"all", "#111", rate, true}, {"p50 <&>", "#222", lat, false}};
    svg_timeseries c = {"chart-x", "Title", "/s", s, 2, 4, 0.1, "12:00 UTC", "now"};
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    svg_timeseries_draw(&b, &c);
    gmb_buf_put(&b, "", 1);
    const char *t = (const char *)b.data;
    CHECK(strncmp(t, "<svg ", 5) == 0 && strstr(t, "</svg>"));
    CHECK_CONTAINS(t, "id=\"chart-x\"");
    CHECK_CONTAINS(t, "p50 &lt;&amp;&gt;"); /* legend text escaped */
    int bars = 0, dots = 0;
    for (const char *p = t; (p = strstr(p, "opacity=\"0.75\"")); p++)
        bars++;
    for (const char *p = t; (p = strstr(p, "<circle")); p++)
        dots++;
    CHECK_INT(bars, 2); /* zero values draw no bar */
    CHECK_INT(dots, 2); /* lone points between gaps are dots */
    CHECK(!strstr(t, "<polyline"));
    CHECK_CONTAINS(t, ">20 /s<"); /* the top (12) rounded up to a round number */
    gmb_buf_free(&b);
}

int main(void)
{
    RUN(series_counts_minutes_and_percentiles);
    RUN(builds_are_grouped_by_compiler_proxy_run);
    RUN(human_units);
    RUN(chart_draws_bars_lines_and_gaps);
    return CHECK_REPORT();
}
