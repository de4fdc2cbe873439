#include "rev2_worker_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "buildbarn/buildqueuestate/buildqueuestate.pb-c.h"
#include "mem.h"
#include "rev2_proto.h"
#include "rev2_unary.h"

/* ---- ListWorkers ---- */

typedef struct {
    rev2_workers_cb cb;
    void *user;
} workers_call;

static int by_key(const void *a, const void *b)
{
    const Buildbarn__Buildqueuestate__WorkerIdEntry *x = *(Buildbarn__Buildqueuestate__WorkerIdEntry *const *)a;
    const Buildbarn__Buildqueuestate__WorkerIdEntry *y = *(Buildbarn__Buildqueuestate__WorkerIdEntry *const *)b;
    return strcmp(x->key, y->key);
}

/* "key=value,..." sorted by key: the scheduler sends the map in no fixed order. */
static char *id_text(Buildbarn__Buildqueuestate__WorkerState *w)
{
    qsort(w->id, w->n_id, sizeof *w->id, by_key);
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    for (size_t i = 0; i < w->n_id; i++) {
        if (i)
            gmb_buf_put(&b, ",", 1);
        gmb_buf_put(&b, w->id[i]->key, strlen(w->id[i]->key));
        gmb_buf_put(&b, "=", 1);
        gmb_buf_put(&b, w->id[i]->value, strlen(w->id[i]->value));
    }
    gmb_buf_put(&b, "", 1);
    size_t n;
    return (char *)gmb_buf_take(&b, &n);
}

static void workers_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    workers_call *c = user;
    rev2_worker_seen *seen = NULL;
    size_t n = 0;
    if (!err) {
        Buildbarn__Buildqueuestate__ListWorkersResponse *r =
            buildbarn__buildqueuestate__list_workers_response__unpack(NULL, len, resp);
        if (!r) {
            err = rev2_error_new(REV2_INTERNAL, "undecodable ListWorkersResponse (%zu bytes)", len);
        } else {
            seen = gmb_calloc(r->n_workers + 1, sizeof *seen);
            for (size_t i = 0; i < r->n_workers; i++) {
                Buildbarn__Buildqueuestate__WorkerState *w = r->workers[i];
                rev2_worker_seen *s = &seen[n++];
                s->id = id_text(w);
                s->has_timeout = w->timeout != NULL;
                if (w->timeout) {
                    s->timeout_s = w->timeout->seconds;
                    s->timeout_ns = w->timeout->nanos;
                }
                const Rev2Digest *d = w->current_operation ? w->current_operation->action_digest : NULL;
                if (d && d->hash)
                    snprintf(s->action_hash, sizeof s->action_hash, "%s", d->hash);
            }
            buildbarn__buildqueuestate__list_workers_response__free_unpacked(r, NULL);
        }
    }
    c->cb(c->user, err, seen, n);
    free(c);
}

void rev2_list_workers(rev2_client *scheduler, uint8_t *request, size_t len, rev2_workers_cb cb, void *user)
{
    workers_call *c = gmb_malloc(sizeof *c);
    c->cb = cb;
    c->user = user;
    rev2_unary(scheduler, "/buildbarn.buildqueuestate.BuildQueueState/ListWorkers", request, len, workers_done, c);
}

void rev2_workers_seen_free(rev2_worker_seen *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i].id);
    free(w);
}

/* ---- the table ---- */

struct rev2_worker_table {
    rev2_worker_entry *e;
    size_t n;
    unsigned round;
    bool overflowed; /* this round listed more than REV2_WORKERS_MAX */
};

rev2_worker_table *rev2_worker_table_new(void)
{
    rev2_worker_table *t = gmb_calloc(1, sizeof *t);
    t->e = gmb_calloc(REV2_WORKERS_MAX, sizeof *t->e);
    return t;
}

void rev2_worker_table_free(rev2_worker_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].id);
    free(t->e);
    free(t);
}

void rev2_worker_table_begin(rev2_worker_table *t)
{
    t->round++;
    t->overflowed = false;
}

void rev2_worker_table_saw(rev2_worker_table *t, const char *prefix, const rev2_worker_seen *w, int64_t now_ms)
{
    rev2_worker_entry *e = NULL;
    for (size_t i = 0; i < t->n && !e; i++)
        if (strcmp(t->e[i].id, w->id) == 0 && strcmp(t->e[i].prefix, prefix) == 0)
            e = &t->e[i];
    if (!e) {
        if (t->n == REV2_WORKERS_MAX) {
            t->overflowed = true;
            return;
        }
        e = &t->e[t->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->prefix, sizeof e->prefix, "%s", prefix);
        e->id = gmb_strdup(w->id);
        e->same_since_ms = now_ms;
    } else if (e->has_timeout != w->has_timeout || e->timeout_s != w->timeout_s || e->timeout_ns != w->timeout_ns) {
        e->same_since_ms = now_ms; /* it synchronized since the last round */
    }
    e->has_timeout = w->has_timeout;
    e->timeout_s = w->timeout_s;
    e->timeout_ns = w->timeout_ns;
    snprintf(e->action_hash, sizeof e->action_hash, "%s", w->action_hash);
    e->listed_ms = now_ms;
    e->round = t->round;
}

void rev2_worker_table_end(rev2_worker_table *t)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].round == t->round)
            t->e[kept++] = t->e[i];
        else
            free(t->e[i].id);
    }
    t->n = kept;
}

bool rev2_worker_table_overflowed(const rev2_worker_table *t)
{
    return t->overflowed;
}

size_t rev2_worker_table_count(const rev2_worker_table *t)
{
    return t->n;
}

const rev2_worker_entry *rev2_worker_table_at(const rev2_worker_table *t, size_t i)
{
    return i < t->n ? &t->e[i] : NULL;
}

bool rev2_worker_silent(const rev2_worker_entry *e, int64_t *silent_ms)
{
    int64_t s = e->has_timeout ? e->listed_ms - e->same_since_ms : 0;
    if (silent_ms)
        *silent_ms = s;
    return e->has_timeout && s >= REV2_WORKER_SILENT_MS;
}
