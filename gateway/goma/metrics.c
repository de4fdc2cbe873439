#include "metrics.h"
#include "mem.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *name; /* with labels */
    int64_t value;
    struct series *next;
} series;

typedef struct family {
    char *name, *type, *help;
    struct family *next;
} family;

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct histogram {
    char *name, *labels;
    uint64_t counts[N_BUCKETS + 1]; /* per bucket, the last one +Inf; not cumulative */
    double sum;
    uint64_t count;
    struct histogram *next;
} histogram;

struct metrics {
    pthread_mutex_t lock;
    series *series;
    family *families;
    histogram *histograms; /* in (name, labels) order */
};

#define EXEC_HISTOGRAM "gomabarn_exec_duration_seconds"

metrics *metrics_new(void)
{
    metrics *m = gmb_calloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    metrics_family(m, EXEC_HISTOGRAM, "histogram", "Exec requests from arrival to answer.");
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    for (series *s = m->series, *n; s; s = n) {
        n = s->next;
        free(s->name);
        free(s);
    }
    for (histogram *h = m->histograms, *n; h; h = n) {
        n = h->next;
        free(h->name);
        free(h->labels);
        free(h);
    }
    for (family *f = m->families, *n; f; f = n) {
        n = f->next;
        free(f->name);
        free(f->type);
        free(f->help);
        free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_family(metrics *m, const char *name, const char *type, const char *help)
{
    family *f = gmb_calloc(1, sizeof *f);
    f->name = gmb_strdup(name);
    f->type = gmb_strdup(type);
    f->help = gmb_strdup(help);
    pthread_mutex_lock(&m->lock);
    family **p = &m->families;
    while (*p)
        p = &(*p)->next;
    *p = f;
    pthread_mutex_unlock(&m->lock);
}

static series *find_locked(metrics *m, const char *name)
{
    for (series *s = m->series; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    series *s = gmb_calloc(1, sizeof *s);
    s->name = gmb_strdup(name);
    /* Kept in name order so one family's series render together. */
    series **p = &m->series;
    while (*p && strcmp((*p)->name, name) < 0)
        p = &(*p)->next;
    s->next = *p;
    *p = s;
    return s;
}

void metrics_add(metrics *m, const char *name, int64_t delta)
{
    pthread_mutex_lock(&m->lock);
    find_locked(m, name)->value += delta;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set(metrics *m, const char *name, int64_t value)
{
    pthread_mutex_lock(&m->lock);
    find_locked(m, name)->value = value;
    pthread_mutex_unlock(&m->lock);
}

int64_t metrics_get(metrics *m, const char *name)
{
    pthread_mutex_lock(&m->lock);
    int64_t v = find_locked(m, name)->value;
    pthread_mutex_unlock(&m->lock);
    return v;
}

static histogram *histogram_locked(metrics *m, const char *name, const char *labels)
{
    histogram **p = &m->histograms;
    for (; *p; p = &(*p)->next) {
        int c = strcmp((*p)->name, name);
        if (c == 0)
            c = strcmp((*p)->labels, labels);
        if (c == 0)
            return *p;
        if (c > 0)
            break;
    }
    histogram *h = gmb_calloc(1, sizeof *h);
    h->name = gmb_strdup(name);
    h->labels = gmb_strdup(labels);
    h->next = *p;
    *p = h;
    return h;
}

void metrics_observe(metrics *m, const char *name, const char *labels, double seconds)
{
    size_t i = 0;
    while (i < N_BUCKETS && seconds > buckets[i])
        i++;
    pthread_mutex_lock(&m->lock);
    histogram *h = histogram_locked(m, name, labels ? labels : "");
    h->counts[i]++;
    h->sum += seconds;
    h->count++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_observe_exec(metrics *m, double seconds)
{
    metrics_observe(m, EXEC_HISTOGRAM, "", seconds);
}

void metrics_label_value(char *out, size_t size, const char *v)
{
    size_t k = 0;
    for (; *v && k + 3 < size; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[k++] = '\\';
            out[k++] = *v == '\n' ? 'n' : *v;
        } else {
            out[k++] = *v;
        }
    }
    if (size)
        out[k] = '\0';
}

static void line(gmb_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(gmb_buf *out, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    gmb_buf_put(out, buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void render_histogram(gmb_buf *out, const histogram *h)
{
    const char *sep = *h->labels ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < N_BUCKETS)
            line(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", h->name, h->labels, sep, buckets[i], (unsigned long long)cum);
        else
            line(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", h->name, h->labels, sep, (unsigned long long)cum);
    }
    const char *open = *h->labels ? "{" : "", *close = *h->labels ? "}" : "";
    line(out, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", h->name, open, h->labels, close, h->sum, h->name, open,
         h->labels, close, (unsigned long long)h->count);
}

void metrics_render(metrics *m, gmb_buf *out)
{
    pthread_mutex_lock(&m->lock);
    for (family *f = m->families; f; f = f->next) {
        line(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
        if (strcmp(f->type, "histogram") == 0) {
            for (histogram *h = m->histograms; h; h = h->next)
                if (strcmp(h->name, f->name) == 0)
                    render_histogram(out, h);
            continue;
        }
        size_t n = strlen(f->name);
        for (series *s = m->series; s; s = s->next)
            if (strncmp(s->name, f->name, n) == 0 && (s->name[n] == '\0' || s->name[n] == '{'))
                line(out, "%s %lld\n", s->name, (long long)s->value);
    }
    pthread_mutex_unlock(&m->lock);
}
