/* metrics: counters, gauges and duration histograms, rendered in the
 * Prometheus text format for /metrics. Thread-safe; a counter is created
 * on first use from its full name with labels, e.g.
 *   metrics_add(m, "gomabarn_http_requests_total{endpoint=\"e\",code=\"200\"}", 1)
 * a histogram series from its family and labels, e.g.
 *   metrics_observe(m, "gomabarn_worker_phase_seconds", "instance=\"fuse\",phase=\"queued\"", 0.2)
 * Families are declared once with their help text. */
#ifndef GMB_METRICS_H
#define GMB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct metrics metrics;

/* The series of Exec errors by reason (a printf format taking the
 * reason): written by the pipeline, read back by the status page. */
#define GMB_EXEC_ERRORS_SERIES "gomabarn_exec_errors_total{reason=\"%s\"}"

metrics *metrics_new(void);
void metrics_free(metrics *m);
/* Declares a family: name (no labels), "counter", "gauge" or "histogram",
 * help text. */
void metrics_family(metrics *m, const char *name, const char *type, const char *help);
void metrics_add(metrics *m, const char *series, int64_t delta);
void metrics_set(metrics *m, const char *series, int64_t value);
int64_t metrics_get(metrics *m, const char *series);
/* One observation, in seconds, of histogram family `name` with `labels`
 * ("" for none; label values escaped by the caller, see
 * metrics_label_value). Buckets from 5 ms to 300 s. */
void metrics_observe(metrics *m, const char *name, const char *labels, double seconds);
/* The Exec latency histogram, gomabarn_exec_duration_seconds. */
void metrics_observe_exec(metrics *m, double seconds);
/* `v` escaped for a label value (\\, \", \n), cut to fit `size`. */
void metrics_label_value(char *out, size_t size, const char *v);
/* Appends everything in Prometheus text format. */
void metrics_render(metrics *m, gmb_buf *out);

#endif
