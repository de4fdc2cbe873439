/* The upload side of sharing (goma_files_share.h): a bounded queue of
 * stored files, and worker threads that upload them in batches, blobs
 * first (FindMissingBlobs, then the missing ones), then their entries in
 * the action cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "goma_files_share_internal.h"
#include "log.h"
#include "mem.h"
#include "rev2_blocking.h"

#define BATCH_ITEMS 64
#define BATCH_BYTES ((int64_t)16 << 20)

bool goma_share_put(goma_share *s, const char *key, int64_t blob_len, int type, const rev2_digest *content,
                    goma_share_answer *a)
{
    pthread_mutex_lock(&s->lock);
    if (s->stop || s->queued >= s->o.queue_max) {
        goma_share_count(s, "gomabarn_files_share_dropped_total{reason=\"queue_full\"}", 1);
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    goma_share_item *it = gmb_calloc(1, sizeof *it);
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
    /* Stored here: not worth asking Buildbarn about any more. */
    goma_share_negative_slot(s, key)->until_ms = 0;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* Up to BATCH_ITEMS items (BATCH_BYTES) off the queue; NULL when stopping. */
static goma_share_item *pop_batch(goma_share *s, size_t *n)
{
    pthread_mutex_lock(&s->lock);
    while (!s->head && !s->stop)
        pthread_cond_wait(&s->work, &s->lock);
    goma_share_item *first = s->stop ? NULL : s->head, *last = NULL;
    int64_t bytes = 0;
    *n = 0;
    for (goma_share_item *it = first; it && *n < BATCH_ITEMS && (*n == 0 || bytes < BATCH_BYTES); it = it->next) {
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
        s->uploading += *n;
    }
    if (s->o.metrics)
        metrics_set(s->o.metrics, "gomabarn_files_share_queue", (int64_t)s->queued);
    pthread_mutex_unlock(&s->lock);
    return first;
}

/* The key's action-cache entry (see the header). */
/* The protos point into `blob` and `it`: both must outlive r. */
static void entry_of(const goma_share_item *it, rev2_digest *blob, Rev2ActionResult *r, Rev2OutputFile *files,
                     Rev2OutputFile **ptrs, Rev2Digest *digests)
{
    build__bazel__remote__execution__v2__action_result__init(r);
    size_t n = 0;
    rev2_digest_set(blob, it->key, it->blob_len);
    build__bazel__remote__execution__v2__output_file__init(&files[n]);
    files[n].path = (char *)goma_share_type_names[(size_t)it->type < GOMA_SHARE_N_TYPES ? it->type : 0];
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

/* Writes the entries of ok[i] items, all at once; errs[i] per goma_share_item. */
static void write_entries(goma_share *s, goma_share_item **its, size_t n, rev2_error **errs)
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

static void upload_batch(goma_share *s, goma_share_item *first, size_t n)
{
    goma_share_item **its = gmb_calloc(n, sizeof *its);
    bool *ok = gmb_calloc(n, sizeof *ok);
    cas_blob **handles = gmb_calloc(2 * n, sizeof *handles);
    rev2_blob *blobs = gmb_calloc(2 * n, sizeof *blobs);
    rev2_error **errs = gmb_calloc(n, sizeof *errs);
    size_t nb = 0, i = 0;
    for (goma_share_item *it = first; it; it = it->next, i++) {
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
    goma_share_item **good = gmb_calloc(n, sizeof *good);
    size_t *good_at = gmb_calloc(n, sizeof *good_at), n_good = 0;
    for (i = 0; i < n && !up; i++)
        if (ok[i]) {
            good_at[n_good] = i;
            good[n_good++] = its[i];
        }
    if (n_good)
        write_entries(s, good, n_good, errs);
    for (i = 0; i < nb; i++)
        cas_blob_close(handles[i]);
    size_t shared = 0;
    const char *why = up ? up->message : NULL;
    bool *up_there = gmb_calloc(n, sizeof *up_there);
    for (i = 0; i < n_good; i++) {
        shared += errs[i] == NULL;
        if (errs[i] && !why)
            why = errs[i]->message;
        up_there[good_at[i]] = errs[i] == NULL;
    }
    size_t failed = n - shared; /* with the items never uploaded */
    if (failed)
        GMB_WARN("goma", "%zu of %zu goma files not shared through Buildbarn: %s", failed, n,
                 why ? why : "they left the content store before their upload");
    goma_share_outgoing *outs = gmb_calloc(n, sizeof *outs);
    pthread_mutex_lock(&s->lock);
    goma_share_count(s, "gomabarn_files_shared_total", shared);
    goma_share_count(s, "gomabarn_files_share_dropped_total{reason=\"failed\"}", failed);
    for (i = 0; i < n; i++)
        if (its[i]->answer)
            goma_share_file_done_locked(s, its[i]->answer, &outs[i]);
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < n; i++) {
        goma_share_send_out(&outs[i]);
        if (!up_there[i] && s->o.not_shared)
            s->o.not_shared(s->o.user, its[i]->key);
        rev2_error_free(errs[i]);
        free(its[i]);
    }
    free(up_there);
    free(good_at);
    rev2_error_free(up);
    free(outs);
    free(good);
    free(errs);
    free(blobs);
    free(handles);
    free(ok);
    free(its);
}

void *goma_share_work_main(void *arg)
{
    goma_share *s = arg;
    pthread_setname_np(pthread_self(), "gmb-share");
    size_t n;
    goma_share_item *batch;
    while ((batch = pop_batch(s, &n)) != NULL) {
        upload_batch(s, batch, n);
        pthread_mutex_lock(&s->lock);
        s->uploading -= n;
        if (!s->head && s->uploading == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}
