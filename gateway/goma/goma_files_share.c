#include "goma_files_share.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "errmsg.h"
#include "goma/goma_data.pb-c.h"
#include "log.h"
#include "mem.h"
#include "rev2_blocking.h"
#include "rev2_engine.h"

#define WORKERS 2
#define BATCH_ITEMS 64
#define BATCH_BYTES ((int64_t)16 << 20)
/* "Not in Buildbarn" is remembered this long, in a table of this many
 * slots (a new key takes its slot's place): bounded, and brief, since
 * another gateway may store the key any moment. */
#define NEGATIVE_TTL_MS 5000
#define NEGATIVE_SLOTS 16384

typedef struct item {
    char key[65];
    int64_t blob_len;
    int type;
    rev2_digest content;
    bool has_content;
    goma_share_answer *answer;
    struct item *next;
} item;

struct goma_share_answer {
    http_request *req;
    int status;
    const char *content_type;
    uint8_t *body;
    size_t len;
    size_t pending; /* its files not up yet */
    bool armed;     /* goma_share_answer_send was called */
    bool sent;
    int64_t deadline_ms;
    struct goma_share_answer *next; /* armed, waiting */
};

typedef struct {
    char key[64];
    int64_t until_ms;
} negative;

struct goma_share {
    goma_share_options o;
    pthread_mutex_t lock;
    pthread_cond_t work, sweep;
    item *head, *tail;
    size_t queued;
    bool stop;
    pthread_t workers[WORKERS], sweeper;
    goma_share_answer *waiting;
    negative *neg; /* NEGATIVE_SLOTS, under lock */
    goma_share_stats stats;
};

static const char *const type_names[] = {"FILE_UNSPECIFIED", "FILE", "FILE_META", "FILE_CHUNK", "FILE_REF"};
#define N_TYPES (sizeof type_names / sizeof *type_names)

void goma_share_action_digest(const char *key, rev2_digest *out)
{
    char text[96];
    int n = snprintf(text, sizeof text, "gomabarn-file-key:%.64s", key);
    rev2_digest_of_bytes(text, (size_t)n, out);
}

static void count(goma_share *s, const char *series, uint64_t *field, uint64_t n)
{
    *field += n; /* under s->lock */
    if (s->o.metrics && n)
        metrics_add(s->o.metrics, series, (int64_t)n);
}

/* ---- Answers ---- */

typedef struct {
    http_request *req;
    int status;
    const char *content_type;
    uint8_t *body;
    size_t len;
} outgoing;

/* Takes a's answer out to send (under lock); frees a once nothing refers
 * to it any more. */
static void take_locked(goma_share *s, goma_share_answer *a, outgoing *o)
{
    *o = (outgoing){a->req, a->status, a->content_type, a->body, a->len};
    a->body = NULL;
    a->sent = true;
    for (goma_share_answer **p = &s->waiting; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    if (a->pending == 0)
        free(a);
}

static void send_out(outgoing *o)
{
    if (!o->req)
        return;
    http_respond(o->req, o->status, o->content_type, o->body, o->len);
    free(o->body);
}

goma_share_answer *goma_share_answer_new(goma_share *s, http_request *r)
{
    (void)s;
    goma_share_answer *a = gmb_calloc(1, sizeof *a);
    a->req = r;
    return a;
}

void goma_share_answer_send(goma_share *s, goma_share_answer *a, int status, const char *content_type, const void *body,
                            size_t len)
{
    outgoing o = {0};
    pthread_mutex_lock(&s->lock);
    a->status = status;
    a->content_type = content_type;
    a->body = gmb_malloc(len + 1);
    memcpy(a->body, body, len);
    a->len = len;
    a->armed = true;
    a->deadline_ms = rev2_now_ms() + s->o.wait_ms;
    if (a->pending == 0 || s->o.wait_ms <= 0 || s->stop) {
        take_locked(s, a, &o);
    } else {
        a->next = s->waiting;
        s->waiting = a;
        pthread_cond_signal(&s->sweep);
    }
    pthread_mutex_unlock(&s->lock);
    send_out(&o);
}

/* One file of a's is up (or given up). */
static void file_done_locked(goma_share *s, goma_share_answer *a, outgoing *o)
{
    a->pending--;
    if (a->sent && a->pending == 0)
        free(a); /* sent at its deadline already */
    else if (a->armed && !a->sent && a->pending == 0)
        take_locked(s, a, o);
}

/* Sends the answers whose wait is over. */
static void *sweep_main(void *arg)
{
    goma_share *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop || s->waiting) {
        int64_t now = rev2_now_ms(), next = INT64_MAX;
        goma_share_answer *due = NULL;
        for (goma_share_answer *a = s->waiting; a && !due; a = a->next)
            if (s->stop || a->deadline_ms <= now)
                due = a;
            else if (a->deadline_ms < next)
                next = a->deadline_ms;
        if (due) {
            outgoing o;
            take_locked(s, due, &o);
            pthread_mutex_unlock(&s->lock);
            send_out(&o);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->stop)
            break;
        if (next == INT64_MAX) {
            pthread_cond_wait(&s->sweep, &s->lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = next - now;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&s->sweep, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- Upload ---- */

bool goma_share_put(goma_share *s, const char *key, int64_t blob_len, int type, const rev2_digest *content,
                    goma_share_answer *a)
{
    pthread_mutex_lock(&s->lock);
    if (s->stop || s->queued >= s->o.queue_max) {
        count(s, "gomabarn_files_share_dropped_total{reason=\"queue_full\"}", &s->stats.dropped_full, 1);
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    item *it = gmb_calloc(1, sizeof *it);
    memcpy(it->key, key, 64);
    it->blob_len = blob_len;
    it->type = type;
    if (content) {
        it->content = *content;
        it->has_content = true;
    }
    it->answer = a;
    if (a)
        a->pending++;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->queued++;
    s->stats.queued++;
    /* Stored here: not worth asking Buildbarn about any more. */
    s->neg[XXH3_64bits(key, 64) & (NEGATIVE_SLOTS - 1)].until_ms = 0;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* Up to BATCH_ITEMS items (BATCH_BYTES) off the queue; NULL when stopping. */
static item *pop_batch(goma_share *s, size_t *n)
{
    pthread_mutex_lock(&s->lock);
    while (!s->head && !s->stop)
        pthread_cond_wait(&s->work, &s->lock);
    item *first = s->stop ? NULL : s->head, *last = NULL;
    int64_t bytes = 0;
    *n = 0;
    for (item *it = first; it && *n < BATCH_ITEMS && (*n == 0 || bytes < BATCH_BYTES); it = it->next) {
        bytes += it->blob_len + (it->has_content ? it->content.size : 0);
        last = it;
        (*n)++;
    }
    if (last) {
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        s->queued -= *n;
    }
    if (s->o.metrics)
        metrics_set(s->o.metrics, "gomabarn_files_share_queue", (int64_t)s->queued);
    pthread_mutex_unlock(&s->lock);
    return first;
}

/* The key's action-cache entry (see the header). */
/* The protos point into `blob` and `it`: both must outlive r. */
static void entry_of(const item *it, rev2_digest *blob, Rev2ActionResult *r, Rev2OutputFile *files,
                     Rev2OutputFile **ptrs, Rev2Digest *digests)
{
    build__bazel__remote__execution__v2__action_result__init(r);
    size_t n = 0;
    rev2_digest_set(blob, it->key, it->blob_len);
    build__bazel__remote__execution__v2__output_file__init(&files[n]);
    files[n].path = (char *)type_names[(size_t)it->type < N_TYPES ? it->type : 0];
    rev2_digest_to_proto(blob, &digests[n]);
    files[n].digest = &digests[n];
    n++;
    if (it->has_content) {
        build__bazel__remote__execution__v2__output_file__init(&files[n]);
        files[n].path = "content";
        rev2_digest_to_proto(&it->content, &digests[n]);
        files[n].digest = &digests[n];
        n++;
    }
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &files[i];
    r->n_output_files = n;
    r->output_files = ptrs;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t left;
    rev2_error **errs;
} updates;

typedef struct {
    updates *u;
    size_t i;
} update_one;

static void updated(void *user, rev2_error *err)
{
    update_one *o = user;
    updates *u = o->u;
    pthread_mutex_lock(&u->lock);
    u->errs[o->i] = err;
    if (--u->left == 0)
        pthread_cond_signal(&u->cond);
    pthread_mutex_unlock(&u->lock);
    free(o);
}

/* Writes the entries of ok[i] items, all at once; errs[i] per item. */
static void write_entries(goma_share *s, item **its, size_t n, rev2_error **errs)
{
    updates u = {.left = n, .errs = errs};
    pthread_mutex_init(&u.lock, NULL);
    pthread_cond_init(&u.cond, NULL);
    for (size_t i = 0; i < n; i++) {
        Rev2ActionResult r;
        Rev2OutputFile files[2], *ptrs[2];
        Rev2Digest digests[2];
        rev2_digest blob;
        entry_of(its[i], &blob, &r, files, ptrs, digests);
        rev2_digest action;
        goma_share_action_digest(its[i]->key, &action);
        update_one *o = gmb_malloc(sizeof *o);
        *o = (update_one){&u, i};
        rev2_update_action_result(s->o.client, NULL, &action, &r, updated, o); /* r packed at once */
    }
    pthread_mutex_lock(&u.lock);
    while (u.left > 0) /* every call has the client's deadline */
        pthread_cond_wait(&u.cond, &u.lock);
    pthread_mutex_unlock(&u.lock);
    pthread_mutex_destroy(&u.lock);
    pthread_cond_destroy(&u.cond);
}

/* A stored blob opened for upload (the handle pins it); false if the
 * store lost it already. */
static bool open_local(goma_share *s, const rev2_digest *d, cas_blob **h, rev2_blob *b)
{
    int error = 0;
    if (!cas_store_contains(s->o.store, d)) /* never fetch back what is to go up */
        return false;
    *h = cas_store_open_blob(s->o.store, NULL, d, &error);
    if (!*h || cas_blob_wait(*h) != 0)
        return false;
    *b = (rev2_blob){.digest = *d, .path = cas_blob_path(*h)};
    return true;
}

static void upload_batch(goma_share *s, item *first, size_t n)
{
    item **its = gmb_calloc(n, sizeof *its);
    bool *ok = gmb_calloc(n, sizeof *ok);
    cas_blob **handles = gmb_calloc(2 * n, sizeof *handles);
    rev2_blob *blobs = gmb_calloc(2 * n, sizeof *blobs);
    rev2_error **errs = gmb_calloc(n, sizeof *errs);
    size_t nb = 0, i = 0;
    for (item *it = first; it; it = it->next, i++) {
        its[i] = it;
        rev2_digest blob;
        rev2_digest_set(&blob, it->key, it->blob_len);
        size_t mark = nb;
        ok[i] = open_local(s, &blob, &handles[nb], &blobs[nb]);
        nb += handles[nb] != NULL;
        if (ok[i] && it->has_content) {
            ok[i] = open_local(s, &it->content, &handles[nb], &blobs[nb]);
            nb += handles[nb] != NULL;
        }
        if (!ok[i]) /* its blobs need not go up */
            while (nb > mark)
                cas_blob_close(handles[--nb]);
    }
    rev2_error *up = nb ? rev2_upload_missing_sync(s->o.client, NULL, blobs, nb, NULL) : NULL;
    /* Only then the entries: none may name a blob not in the CAS. */
    item **good = gmb_calloc(n, sizeof *good);
    size_t n_good = 0;
    for (i = 0; i < n && !up; i++)
        if (ok[i])
            good[n_good++] = its[i];
    if (n_good)
        write_entries(s, good, n_good, errs);
    for (i = 0; i < nb; i++)
        cas_blob_close(handles[i]);
    size_t shared = 0, failed = 0;
    const char *why = up ? up->message : NULL;
    for (i = 0; i < n_good; i++) {
        shared += errs[i] == NULL;
        failed += errs[i] != NULL;
        if (errs[i] && !why)
            why = errs[i]->message;
    }
    failed = n - shared; /* with the items never uploaded */
    if (failed)
        GMB_WARN("goma", "%zu of %zu goma files not shared through Buildbarn: %s", failed, n,
                 why ? why : "they left the content store before their upload");
    outgoing *outs = gmb_calloc(n, sizeof *outs);
    pthread_mutex_lock(&s->lock);
    count(s, "gomabarn_files_shared_total", &s->stats.shared, shared);
    count(s, "gomabarn_files_share_dropped_total{reason=\"failed\"}", &s->stats.failed, failed);
    for (i = 0; i < n; i++)
        if (its[i]->answer)
            file_done_locked(s, its[i]->answer, &outs[i]);
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < n; i++) {
        send_out(&outs[i]);
        rev2_error_free(errs[i]);
        free(its[i]);
    }
    rev2_error_free(up);
    free(outs);
    free(good);
    free(errs);
    free(blobs);
    free(handles);
    free(ok);
    free(its);
}

static void *work_main(void *arg)
{
    goma_share *s = arg;
    size_t n;
    item *batch;
    while ((batch = pop_batch(s, &n)) != NULL)
        upload_batch(s, batch, n);
    return NULL;
}

/* ---- Lookup ---- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t left, refs;
    char (*keys)[65];      /* the keys asked, owned here: a late answer still reads them */
    goma_share_hit *found; /* copies, filled by the callbacks */
    bool *answered;        /* NOT_FOUND or found: worth remembering */
} lookups;

typedef struct {
    lookups *l;
    size_t i;
} lookup_one;

static void lookups_unref_locked(lookups *l, bool *last)
{
    *last = --l->refs == 0;
}

static void lookups_free(lookups *l)
{
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l->keys);
    free(l->found);
    free(l->answered);
    free(l);
}

/* The key's entry, checked: its blob must be the key itself. */
static void parse_entry(const char *key, const Rev2ActionResult *r, goma_share_hit *h)
{
    for (size_t i = 0; r && i < r->n_output_files; i++) {
        const Rev2OutputFile *f = r->output_files[i];
        rev2_digest d;
        if (!f->path || !f->digest || !rev2_digest_from_proto(f->digest, &d))
            continue;
        if (strcmp(f->path, "content") == 0) {
            h->content = d;
            h->has_content = true;
            continue;
        }
        for (size_t t = 1; t < N_TYPES; t++)
            if (strcmp(f->path, type_names[t]) == 0 && strncmp(d.hash, key, 64) == 0) {
                h->found = true;
                h->type = (int)t;
                h->blob_len = d.size;
            }
    }
    if (!h->found || h->type != DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE)
        h->has_content = false;
}

static void looked_up(void *user, rev2_error *err, Rev2ActionResult *result)
{
    lookup_one *o = user;
    lookups *l = o->l;
    goma_share_hit h = {0};
    if (!err)
        parse_entry(l->found[o->i].key, result, &h);
    pthread_mutex_lock(&l->lock);
    h.key = l->found[o->i].key;
    l->found[o->i] = h;
    l->answered[o->i] = !err || err->code == REV2_NOT_FOUND;
    bool last;
    if (--l->left == 0)
        pthread_cond_signal(&l->cond);
    lookups_unref_locked(l, &last);
    pthread_mutex_unlock(&l->lock);
    if (last)
        lookups_free(l);
    if (err && err->code != REV2_NOT_FOUND)
        GMB_DEBUG("goma", "looking a goma key up in Buildbarn's action cache: %s", err->message);
    rev2_error_free(err);
    rev2_msg_free(result);
    free(o);
}

size_t goma_share_find(goma_share *s, goma_share_hit *hits, size_t n)
{
    lookups *l = gmb_calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->found = gmb_calloc(n + 1, sizeof *l->found);
    l->answered = gmb_calloc(n + 1, sizeof *l->answered);
    size_t *which = gmb_calloc(n + 1, sizeof *which), asked = 0;
    int64_t now = rev2_now_ms();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        hits[i].found = false;
        negative *g = &s->neg[XXH3_64bits(hits[i].key, 64) & (NEGATIVE_SLOTS - 1)];
        if (memcmp(g->key, hits[i].key, 64) == 0 && g->until_ms > now) {
            s->stats.lookups_avoided++;
            continue;
        }
        which[asked++] = i;
    }
    pthread_mutex_unlock(&s->lock);
    l->left = asked;
    l->refs = asked + 1;
    l->keys = gmb_calloc(asked + 1, sizeof *l->keys);
    for (size_t k = 0; k < asked; k++) {
        memcpy(l->keys[k], hits[which[k]].key, 64);
        l->found[k].key = l->keys[k];
    }
    for (size_t k = 0; k < asked; k++) {
        rev2_digest action;
        goma_share_action_digest(l->keys[k], &action);
        lookup_one *o = gmb_malloc(sizeof *o);
        *o = (lookup_one){l, k};
        rev2_get_action_result(s->o.client, NULL, &action, false, looked_up, o);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s->o.lookup_timeout_ms / 1000;
    ts.tv_nsec += (s->o.lookup_timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    size_t hit = 0, missed = 0;
    pthread_mutex_lock(&l->lock);
    while (l->left > 0)
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) != 0)
            break;
    goma_share_hit *copy = gmb_calloc(asked + 1, sizeof *copy);
    bool *answered = gmb_calloc(asked + 1, sizeof *answered);
    memcpy(copy, l->found, asked * sizeof *copy);
    memcpy(answered, l->answered, asked * sizeof *answered);
    bool last;
    lookups_unref_locked(l, &last);
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_lock(&s->lock);
    for (size_t k = 0; k < asked; k++) {
        goma_share_hit *h = &hits[which[k]];
        const char *key = h->key;
        if (copy[k].found) {
            *h = copy[k];
            h->key = key;
            hit++;
            continue;
        }
        missed++;
        if (answered[k]) { /* a timeout or an error is not an answer */
            negative *g = &s->neg[XXH3_64bits(key, 64) & (NEGATIVE_SLOTS - 1)];
            memcpy(g->key, key, 64);
            g->until_ms = now + NEGATIVE_TTL_MS;
        }
    }
    count(s, "gomabarn_files_remote_hits_total", &s->stats.remote_hits, hit);
    count(s, "gomabarn_files_remote_misses_total", &s->stats.remote_misses, missed);
    pthread_mutex_unlock(&s->lock);
    if (last)
        lookups_free(l); /* else the last late answer frees it */
    free(copy);
    free(answered);
    free(which);
    return hit;
}

void goma_share_stats_get(goma_share *s, goma_share_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

/* ---- Life ---- */

goma_share *goma_share_new(const goma_share_options *o)
{
    goma_share *s = gmb_calloc(1, sizeof *s);
    s->o = *o;
    if (s->o.queue_max == 0)
        s->o.queue_max = 1;
    s->neg = gmb_calloc(NEGATIVE_SLOTS, sizeof *s->neg);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->sweep, NULL);
    if (o->metrics) {
        metrics_family(o->metrics, "gomabarn_files_shared_total", "counter",
                       "goma files uploaded to Buildbarn with their key in the action cache, for the other gateways "
                       "(goma.share_through_buildbarn).");
        metrics_family(o->metrics, "gomabarn_files_share_dropped_total", "counter",
                       "goma files not shared: the queue was full (goma.share_queue_max) or the upload failed.");
        metrics_family(o->metrics, "gomabarn_files_share_queue", "gauge", "goma files waiting to go to Buildbarn.");
        metrics_family(o->metrics, "gomabarn_files_remote_hits_total", "counter",
                       "goma keys not stored here found through Buildbarn (stored through another gateway).");
        metrics_family(o->metrics, "gomabarn_files_remote_misses_total", "counter",
                       "goma keys looked up in Buildbarn and not found there either.");
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&s->workers[i], NULL, work_main, s);
    pthread_create(&s->sweeper, NULL, sweep_main, s);
    return s;
}

void goma_share_free(goma_share *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->sweep);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(s->workers[i], NULL);
    pthread_join(s->sweeper, NULL); /* has sent every armed answer */
    size_t dropped = 0;
    for (item *it = s->head, *next; it; it = next) {
        next = it->next;
        outgoing o = {0};
        if (it->answer)
            file_done_locked(s, it->answer, &o); /* no thread left: no lock needed */
        send_out(&o);
        free(it);
        dropped++;
    }
    if (dropped)
        GMB_INFO("goma", "stopping: %zu goma files not shared through Buildbarn", dropped);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->sweep);
    pthread_mutex_destroy(&s->lock);
    free(s->neg);
    free(s);
}
