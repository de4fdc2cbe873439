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

static const double exec_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define N_BUCKETS (sizeof exec_buckets / sizeof exec_buckets[0])

struct metrics {
    pthread_mutex_t lock;
    series *series;
    family *families;
    uint64_t exec_counts[N_BUCKETS + 1];
    double exec_sum;
    uint64_t exec_count;
};

metrics *metrics_new(void)
{
    metrics *m = gmb_calloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
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

void metrics_observe_exec(metrics *m, double seconds)
{
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < N_BUCKETS && seconds > exec_buckets[i])
        i++;
    m->exec_counts[i]++;
    m->exec_sum += seconds;
    m->exec_count++;
    pthread_mutex_unlock(&m->lock);
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

void metrics_render(metrics *m, gmb_buf *out)
{
    pthread_mutex_lock(&m->lock);
    for (family *f = m->families; f; f = f->next) {
        line(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
        size_t n = strlen(f->name);
        for (series *s = m->series; s; s = s->next)
            if (strncmp(s->name, f->name, n) == 0 && (s->name[n] == '\0' || s->name[n] == '{'))
                line(out, "%s %lld\n", s->name, (long long)s->value);
    }
    line(out, "# HELP gomabarn_exec_duration_seconds Exec requests from arrival to answer.\n"
              "# TYPE gomabarn_exec_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cum += m->exec_counts[i];
        if (i < N_BUCKETS)
            line(out, "gomabarn_exec_duration_seconds_bucket{le=\"%g\"} %llu\n", exec_buckets[i],
                 (unsigned long long)cum);
        else
            line(out, "gomabarn_exec_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    line(out, "gomabarn_exec_duration_seconds_sum %.6f\ngomabarn_exec_duration_seconds_count %llu\n", m->exec_sum,
         (unsigned long long)m->exec_count);
    pthread_mutex_unlock(&m->lock);
}
