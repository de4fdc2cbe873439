/* metrics: counters, gauges and one latency histogram, rendered in the
 * Prometheus text format for /metrics. Thread-safe; a counter is created
 * on first use from its full name with labels, e.g.
 *   metrics_add(m, "gomabarn_http_requests_total{endpoint=\"e\",code=\"200\"}", 1)
 * Families are declared once with their help text. */
#ifndef GMB_METRICS_H
#define GMB_METRICS_H

#include <stdint.h>

#include "buf.h"

typedef struct metrics metrics;

metrics *metrics_new(void);
void metrics_free(metrics *m);
/* Declares a family: name (no labels), "counter" or "gauge", help text. */
void metrics_family(metrics *m, const char *name, const char *type, const char *help);
void metrics_add(metrics *m, const char *series, int64_t delta);
void metrics_set(metrics *m, const char *series, int64_t value);
int64_t metrics_get(metrics *m, const char *series);
/* The Exec latency histogram (seconds). */
void metrics_observe_exec(metrics *m, double seconds);
/* Appends everything in Prometheus text format. */
void metrics_render(metrics *m, gmb_buf *out);

#endif
