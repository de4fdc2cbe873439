/* metrics (goma/metrics.h): counters and labelled histograms in the
 * Prometheus text format, as /metrics serves them. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static char *rendered(metrics *m, gmb_buf *b)
{
    gmb_buf_init(b, GMB_BUF_UNLIMITED);
    metrics_render(m, b);
    gmb_buf_put(b, "", 1);
    return (char *)b->data;
}

static void histograms_render_per_label_set(void)
{
    metrics *m = metrics_new();
    metrics_family(m, "t_phase_seconds", "histogram", "Phases.");
    metrics_observe(m, "t_phase_seconds", "instance=\"fuse\",phase=\"queued\"", 0.004);
    metrics_observe(m, "t_phase_seconds", "instance=\"fuse\",phase=\"queued\"", 0.2);
    metrics_observe(m, "t_phase_seconds", "instance=\"hardlinking\",phase=\"queued\"", 1000);
    metrics_observe_exec(m, 0.03);
    gmb_buf b;
    const char *t = rendered(m, &b);
    CHECK(strstr(t, "# TYPE t_phase_seconds histogram\n"));
    CHECK(strstr(t, "t_phase_seconds_bucket{instance=\"fuse\",phase=\"queued\",le=\"0.005\"} 1\n"));
    CHECK(strstr(t, "t_phase_seconds_bucket{instance=\"fuse\",phase=\"queued\",le=\"0.25\"} 2\n"));
    CHECK(strstr(t, "t_phase_seconds_bucket{instance=\"fuse\",phase=\"queued\",le=\"+Inf\"} 2\n"));
    CHECK(strstr(t, "t_phase_seconds_count{instance=\"fuse\",phase=\"queued\"} 2\n"));
    CHECK(strstr(t, "t_phase_seconds_sum{instance=\"fuse\",phase=\"queued\"} 0.204000\n"));
    /* Past the last bucket: only +Inf counts it. */
    CHECK(strstr(t, "t_phase_seconds_bucket{instance=\"hardlinking\",phase=\"queued\",le=\"300\"} 0\n"));
    CHECK(strstr(t, "t_phase_seconds_bucket{instance=\"hardlinking\",phase=\"queued\",le=\"+Inf\"} 1\n"));
    /* The Exec histogram has no labels. */
    CHECK(strstr(t, "gomabarn_exec_duration_seconds_bucket{le=\"0.05\"} 1\n"));
    CHECK(strstr(t, "gomabarn_exec_duration_seconds_count 1\n"));
    /* One family's series together: fuse before hardlinking, both after the TYPE line. */
    const char *type = strstr(t, "# TYPE t_phase_seconds"), *f = strstr(t, "instance=\"fuse\""),
               *h = strstr(t, "instance=\"hardlinking\"");
    CHECK(type && f && h && type < f && f < h);
    gmb_buf_free(&b);
    metrics_free(m);
}

static void label_values_are_escaped(void)
{
    char out[32];
    metrics_label_value(out, sizeof out, "a\"b\\c\nd");
    CHECK_STR(out, "a\\\"b\\\\c\\nd");
    metrics_label_value(out, 6, "abcdefgh"); /* cut to fit, NUL-terminated */
    CHECK(strlen(out) < 6);
}

int main(void)
{
    RUN(histograms_render_per_label_set);
    RUN(label_values_are_escaped);
    return CHECK_REPORT();
}
