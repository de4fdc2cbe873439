#include "build_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

struct build_log {
    pthread_mutex_t lock;
    build_summary builds[BUILD_LOG_MAX]; /* key[0] == 0 && !first: free */
    build_summary everything;
};

build_log *build_log_new(void)
{
    build_log *b = gmb_calloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    return b;
}

void build_log_free(build_log *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void build_key_of(const char *requester, char *out, size_t size)
{
    const char *slash = strrchr(requester, '/');
    size_t n = slash ? (size_t)(slash - requester) : strlen(requester);
    snprintf(out, size, "%.*s", (int)n, requester);
}

static void count(build_count *c, const request_entry *e)
{
    c->requests++;
    request_outcome_add(e, &c->hits, &c->executed, &c->missing, &c->bad, &c->failed);
    if (e->fell_back)
        c->fell_back++;
}

/* The row named `name`; the last row becomes "other" when all are taken. */
static build_count *row(build_count *rows, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    if (*n == BUILD_MAX_NAMES) {
        snprintf(rows[*n - 1].name, sizeof rows[*n - 1].name, "(other)");
        return &rows[*n - 1];
    }
    build_count *r = &rows[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* Why the client compiles this one locally, if it does; NULL if not. */
static const char *reason_of(const request_entry *e)
{
    if (strcmp(e->state, "failed") == 0 || strcmp(e->state, "bad") == 0)
        return *e->reason ? e->reason : e->state;
    if (strcmp(e->state, "done") == 0 && e->exit_code != 0)
        return "compile failed remotely (exit status not 0)";
    return NULL;
}

void build_summary_add(build_summary *s, time_t now, const request_entry *e)
{
    if (!s->first)
        s->first = now;
    s->last = now;
    count(&s->all, e);
    count(row(s->instances, &s->n_instances, e->instance), e);
    const char *why = reason_of(e);
    if (why)
        count(row(s->reasons, &s->n_reasons, why), e);
    if (strcmp(e->state, "done") == 0 && e->exit_code != 0)
        s->exit_nonzero++;
}

/* The build with key, or the least recently active one emptied for it. */
static build_summary *build_for(build_log *b, const char *key)
{
    build_summary *oldest = &b->builds[0];
    for (size_t i = 0; i < BUILD_LOG_MAX; i++) {
        build_summary *s = &b->builds[i];
        if (s->first && strcmp(s->key, key) == 0)
            return s;
        if (s->last < oldest->last)
            oldest = s;
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    return oldest;
}

void build_log_add(build_log *b, time_t now, const request_entry *e)
{
    char key[sizeof b->builds[0].key];
    build_key_of(e->requester, key, sizeof key);
    pthread_mutex_lock(&b->lock);
    build_summary_add(build_for(b, key), now, e);
    build_summary_add(&b->everything, now, e);
    pthread_mutex_unlock(&b->lock);
}

static int active_first(const void *x, const void *y)
{
    time_t a = ((const build_summary *)x)->last, c = ((const build_summary *)y)->last;
    return a < c ? 1 : a > c ? -1 : 0;
}

size_t build_log_list(build_log *b, build_summary *out, size_t max)
{
    build_summary *all = gmb_malloc(sizeof b->builds);
    size_t n = 0;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < BUILD_LOG_MAX; i++)
        if (b->builds[i].first)
            all[n++] = b->builds[i];
    pthread_mutex_unlock(&b->lock);
    qsort(all, n, sizeof *all, active_first);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

bool build_log_get(build_log *b, const char *key, build_summary *out)
{
    bool found = false;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < BUILD_LOG_MAX && !found; i++)
        if (b->builds[i].first && strcmp(b->builds[i].key, key) == 0) {
            *out = b->builds[i];
            found = true;
        }
    pthread_mutex_unlock(&b->lock);
    return found;
}

void build_log_everything(build_log *b, build_summary *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->everything;
    pthread_mutex_unlock(&b->lock);
}
