/* svg_chart: the status pages' charts, drawn on the server as inline SVG
 * (no script, no font file: the browser's sans-serif). The frame, the
 * legend, and a chart of values over time; /compare/pair draws its phase
 * bars inside the same frame. */
#ifndef SVG_CHART_H
#define SVG_CHART_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Opens an <svg> element; label (escaped here) is what a screen reader
 * says, id (may be NULL) lets a test find it. */
void svg_open(gmb_buf *b, int width, int height, const char *id, const char *label);
void svg_close(gmb_buf *b);
/* A coloured square and its text (escaped here) at x, y (the baseline). */
void svg_legend(gmb_buf *b, int x, int y, const char *colour, const char *text);

/* One line or set of bars: values[i] < 0 is "no value" (a gap). */
typedef struct {
    const char *name;
    const char *colour;
    const double *values;
    bool bars;
} svg_series;

/* A chart of n points over time sharing one y scale from 0 to the
 * largest value (at least min_top): the series in order (bars first
 * looks best), the y axis' top and middle marked in `unit`, the x axis
 * labelled with first_label at the left and last_label at the right. */
typedef struct {
    const char *id, *title, *unit;
    const svg_series *series;
    size_t n_series, n_points;
    double min_top;
    const char *first_label, *last_label;
} svg_timeseries;

void svg_timeseries_draw(gmb_buf *b, const svg_timeseries *c);

#endif
