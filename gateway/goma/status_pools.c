/* The front page's Buildbarn parts: reachability in one line, the worker
 * pools, and the instance names requests went to, each with its pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_log.h"
#include "html.h"
#include "mem.h"
#include "rev2_pool_health.h"
#include "status_internal.h"

#define MAX_SHOWN_POOLS 64

static const char *pool_class(const rev2_pool_state *p)
{
    return !p->known ? "" : p->up ? "done" : "failed";
}

static const char *pool_word(const rev2_pool_state *p)
{
    return !p->known ? "unknown" : p->up ? "up" : "DOWN";
}

static size_t list_pools(status_page *s, rev2_pool_state *st)
{
    return s->pools ? rev2_pool_health_list(s->pools, st, MAX_SHOWN_POOLS) : 0;
}

void status_put_buildbarn_line(gmb_buf *b, status_page *s, const rev2_error *err)
{
    rev2_pool_state *st = gmb_calloc(MAX_SHOWN_POOLS, sizeof *st);
    size_t n = list_pools(s, st), down = 0;
    for (size_t i = 0; i < n; i++)
        down += st[i].known && !st[i].up;
    char *e = err ? html_escape(err->message) : NULL;
    html_put(b, "<p id=\"buildbarn\">Buildbarn: <b class=\"%s\">%s%s</b>", err ? "failed" : "done",
             err ? "UNREACHABLE or refusing: " : "reachable (GetCapabilities answered)", e ? e : "");
    if (n)
        html_put(b, "; worker pools: <b class=\"%s\">%zu of %zu down</b>", down ? "failed" : "done", down, n);
    html_put(b, "</p>");
    free(e);
    free(st);
}

/* The worker pools: up or down, since when, why, workers per the scheduler
 * (and how many of them stopped synchronizing with it). */
void status_put_pools(gmb_buf *b, status_page *s)
{
    if (!s->pools)
        return;
    rev2_pool_state *st = gmb_calloc(MAX_SHOWN_POOLS, sizeof *st);
    size_t n = list_pools(s, st);
    html_put(b, "<h2>Worker pools</h2><p>scheduler (BuildQueueState): %s</p>",
             rev2_pool_health_scheduler_reachable(s->pools) ? "answering" : "not watched or not answering");
    html_put(b, "<table id=\"pools\"><tr><th>instance name</th><th>state</th><th>for</th><th>workers</th>"
                "<th>answered at once</th><th>why</th></tr>");
    for (size_t i = 0; i < n; i++) {
        char *name = html_escape(st[i].instance), *why = html_escape(st[i].reason);
        char workers[48] = "?", age[32];
        if (st[i].workers >= 0 && st[i].silent_workers > 0)
            snprintf(workers, sizeof workers, "%d (%d silent)", st[i].workers, st[i].silent_workers);
        else if (st[i].workers >= 0)
            snprintf(workers, sizeof workers, "%d", st[i].workers);
        html_age(age, sizeof age, (long long)st[i].since_s);
        html_put(b,
                 "<tr><td>\"%s\"</td><td class=\"%s\">%s</td><td>%s</td><td class=\"num\">%s</td><td class=\"num\">"
                 "%llu</td><td>%s</td></tr>",
                 name, pool_class(&st[i]), pool_word(&st[i]), age, workers, (unsigned long long)st[i].refused, why);
        free(name);
        free(why);
    }
    html_put(b, "</table>");
    free(st);
}

static void instance_row(gmb_buf *b, const char *name, const build_count *c, const rev2_pool_state *pool)
{
    static const build_count none;
    if (!c)
        c = &none;
    char *e = html_escape(name);
    html_put(b, "<tr><td>\"%s\"</td><td class=\"%s\">%s</td>", e, pool ? pool_class(pool) : "",
             pool ? pool_word(pool) : "not watched");
    status_put_count_cells(b, c);
    html_put(b, "</tr>");
    free(e);
}

/* Every instance name requests went to since start, then the pools known
 * that none went to. */
void status_put_instances(gmb_buf *b, status_page *s)
{
    build_summary *all = gmb_malloc(sizeof *all);
    build_log_everything(request_log_builds(s->log), all);
    rev2_pool_state *st = gmb_calloc(MAX_SHOWN_POOLS, sizeof *st);
    size_t n = list_pools(s, st);
    html_put(b, "<h2>By instance name (since start)</h2><table id=\"instances\"><tr><th>instance name</th>"
                "<th>pool</th><th>requests</th><th>hits</th><th>executed</th><th>missing-input rounds</th>"
                "<th>failed</th><th>bad</th><th>ran here as the fallback</th></tr>");
    bool *listed = gmb_calloc(n + 1, sizeof *listed);
    for (size_t i = 0; i < all->n_instances; i++) {
        const rev2_pool_state *pool = NULL;
        for (size_t k = 0; k < n && !pool; k++)
            if (strcmp(st[k].instance, all->instances[i].name) == 0) {
                pool = &st[k];
                listed[k] = true;
            }
        instance_row(b, all->instances[i].name, &all->instances[i], pool);
    }
    for (size_t k = 0; k < n; k++)
        if (!listed[k])
            instance_row(b, st[k].instance, NULL, &st[k]);
    html_put(b, "</table>");
    free(listed);
    free(st);
    free(all);
}
