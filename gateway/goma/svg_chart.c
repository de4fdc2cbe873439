#include "svg_chart.h"

#include <math.h>
#include <stdlib.h>

#include "html.h"

void svg_open(gmb_buf *b, int width, int height, const char *id, const char *label)
{
    char *l = html_escape(label), *i = html_escape(id ? id : "");
    html_put(b,
             "<svg xmlns=\"http://www.w3.org/2000/svg\"%s%s%s width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
             "font-size=\"11\" role=\"img\" aria-label=\"%s\">",
             id ? " id=\"" : "", i, id ? "\"" : "", width, height, l);
    free(l);
    free(i);
}

void svg_close(gmb_buf *b)
{
    html_put(b, "</svg>");
}

void svg_legend(gmb_buf *b, int x, int y, const char *colour, const char *text)
{
    char *t = html_escape(text);
    html_put(b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>", x,
             y - 9, colour, x + 14, y, t);
    free(t);
}

/* The geometry shared by the parts of one time-series chart. */
typedef struct {
    int left, top, width, height; /* the plot area */
    double ymax;
    size_t n;
} frame;

static double x_of(const frame *f, size_t i, double within)
{
    return f->left + ((double)i + within) * f->width / (double)f->n;
}

static double y_of(const frame *f, double v)
{
    return f->top + f->height - v / f->ymax * f->height;
}

static void put_bars(gmb_buf *b, const frame *f, const svg_series *s)
{
    for (size_t i = 0; i < f->n; i++) {
        if (s->values[i] <= 0)
            continue;
        double y = y_of(f, s->values[i]);
        html_put(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" opacity=\"0.75\"/>",
                 x_of(f, i, 0.15), y, 0.7 * f->width / (double)f->n, f->top + f->height - y, s->colour);
    }
}

/* A polyline per run of points with values; a lone point is a dot. */
static void put_line(gmb_buf *b, const frame *f, const svg_series *s)
{
    size_t i = 0;
    while (i < f->n) {
        for (; i < f->n && s->values[i] < 0; i++)
            ;
        size_t start = i;
        for (; i < f->n && s->values[i] >= 0; i++)
            ;
        if (i - start == 1)
            html_put(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", x_of(f, start, 0.5),
                     y_of(f, s->values[start]), s->colour);
        if (i - start < 2)
            continue;
        html_put(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s->colour);
        for (size_t k = start; k < i; k++)
            html_put(b, "%.1f,%.1f ", x_of(f, k, 0.5), y_of(f, s->values[k]));
        html_put(b, "\"/>");
    }
}

static void put_axes(gmb_buf *b, const frame *f, const svg_timeseries *c)
{
    int bottom = f->top + f->height, right = f->left + f->width;
    html_put(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>", f->left, bottom, right, bottom);
    for (int k = 1; k <= 2; k++) {
        double v = f->ymax * k / 2, y = y_of(f, v);
        html_put(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", f->left, y, right, y);
        html_put(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#666\">%.3g %s</text>", f->left - 4, y + 4, v,
                 c->unit);
    }
    char *first = html_escape(c->first_label), *last = html_escape(c->last_label);
    html_put(b, "<text x=\"%d\" y=\"%d\" fill=\"#666\">%s</text>", f->left, bottom + 14, first);
    html_put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#666\">%s</text>", right, bottom + 14, last);
    free(first);
    free(last);
}

/* v rounded up to 1, 2 or 5 times a power of ten: axis marks read well. */
static double round_top(double v)
{
    double p = pow(10, floor(log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

void svg_timeseries_draw(gmb_buf *b, const svg_timeseries *c)
{
    frame f = {.left = 64, .top = 34, .width = 300, .height = 110, .ymax = c->min_top, .n = c->n_points};
    for (size_t s = 0; s < c->n_series; s++)
        for (size_t i = 0; i < c->n_points; i++)
            if (c->series[s].values[i] > f.ymax)
                f.ymax = c->series[s].values[i];
    f.ymax = round_top(f.ymax > 0 ? f.ymax : 1);
    svg_open(b, f.left + f.width + 12, f.top + f.height + 22, c->id, c->title);
    char *title = html_escape(c->title);
    html_put(b, "<text x=\"0\" y=\"12\" font-weight=\"bold\">%s</text>", title);
    free(title);
    for (size_t s = 0; s < c->n_series; s++)
        svg_legend(b, f.left + (int)s * 110, 27, c->series[s].colour, c->series[s].name);
    put_axes(b, &f, c);
    for (size_t s = 0; s < c->n_series && f.n; s++)
        (c->series[s].bars ? put_bars : put_line)(b, &f, &c->series[s]);
    svg_close(b);
}
