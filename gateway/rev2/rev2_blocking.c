#include "rev2_blocking.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One waiter per blocking call: the callback fills it and signals. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rev2_error *err;
    void *result;
    size_t n;
    gmb_buf *out; /* bytestream reads append here */
    bool overflow;
    rev2_progress_cb progress; /* Execute stage changes, passed through */
    void *progress_user;
} waiter;

static void waiter_init(waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
}

static rev2_error *waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    return w->err;
}

static void waiter_signal(waiter *w, rev2_error *err, void *result, size_t n)
{
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->result = result;
    w->n = n;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void done_cb(void *user, rev2_error *err)
{
    waiter_signal(user, err, NULL, 0);
}

static void caps_cb(void *user, rev2_error *err, Rev2ServerCapabilities *caps)
{
    waiter_signal(user, err, caps, 0);
}

rev2_error *rev2_get_capabilities_sync(rev2_client *c, const char *instance, Rev2ServerCapabilities **caps)
{
    waiter w;
    waiter_init(&w);
    rev2_get_capabilities(c, instance, caps_cb, &w);
    rev2_error *err = waiter_wait(&w);
    *caps = w.result;
    return err;
}

static void fmb_cb(void *user, rev2_error *err, rev2_digest *missing, size_t n)
{
    waiter_signal(user, err, missing, n);
}

rev2_error *rev2_find_missing_sync(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                                   rev2_digest **missing, size_t *n_missing)
{
    waiter w;
    waiter_init(&w);
    rev2_find_missing(c, instance, digests, n, fmb_cb, &w);
    rev2_error *err = waiter_wait(&w);
    *missing = w.result;
    *n_missing = w.n;
    return err;
}

rev2_error *rev2_upload_sync(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n)
{
    waiter w;
    waiter_init(&w);
    rev2_upload(c, instance, blobs, n, done_cb, &w);
    return waiter_wait(&w);
}

rev2_error *rev2_upload_missing_sync(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n,
                                     size_t *uploaded)
{
    waiter w;
    waiter_init(&w);
    rev2_upload_missing(c, instance, blobs, n, uploaded, done_cb, &w);
    return waiter_wait(&w);
}

static void brb_cb(void *user, rev2_error *err, rev2_read_result *results, size_t n)
{
    waiter_signal(user, err, results, n);
}

rev2_error *rev2_batch_read_sync(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                                 rev2_read_result **results)
{
    waiter w;
    waiter_init(&w);
    rev2_batch_read(c, instance, digests, n, brb_cb, &w);
    rev2_error *err = waiter_wait(&w);
    *results = w.result;
    return err;
}

static bool append_cb(void *user, const uint8_t *data, size_t len)
{
    waiter *w = user;
    if (gmb_buf_append(w->out, data, len) != GMB_BUF_OK) {
        w->overflow = true;
        return false;
    }
    return true;
}

rev2_error *rev2_bytestream_read_sync(rev2_client *c, const char *instance, const rev2_digest *d, int64_t offset,
                                      int64_t limit, gmb_buf *out)
{
    waiter w;
    waiter_init(&w);
    w.out = out;
    rev2_bytestream_read(c, instance, d, offset, limit, append_cb, done_cb, &w);
    rev2_error *err = waiter_wait(&w);
    if (!err && w.overflow)
        err = rev2_error_new(REV2_RESOURCE_EXHAUSTED, "blob larger than the buffer's %zu-byte limit", out->max);
    return err;
}

rev2_error *rev2_bytestream_write_sync(rev2_client *c, const char *instance, const rev2_blob *blob)
{
    waiter w;
    waiter_init(&w);
    rev2_bytestream_write(c, instance, blob, done_cb, &w);
    return waiter_wait(&w);
}

rev2_error *rev2_read_blob_sync(rev2_client *c, const char *instance, const rev2_digest *d, gmb_buf *out)
{
    if ((size_t)d->size + 100 > rev2_client_options_of(c)->max_batch_bytes) {
        size_t before = out->len;
        rev2_error *err = rev2_bytestream_read_sync(c, instance, d, 0, 0, out);
        if (err)
            return err;
        rev2_digest got;
        rev2_digest_of_bytes(out->data + before, out->len - before, &got);
        if (!rev2_digest_equal(&got, d)) {
            char ws[REV2_DIGEST_STR_LEN], gs[REV2_DIGEST_STR_LEN];
            return rev2_error_new(REV2_DATA_LOSS, "blob %s arrived as %s", rev2_digest_str(d, ws),
                                  rev2_digest_str(&got, gs));
        }
        return NULL;
    }
    rev2_read_result *r = NULL;
    rev2_error *err = rev2_batch_read_sync(c, instance, d, 1, &r);
    if (!err && r[0].err) {
        err = r[0].err;
        r[0].err = NULL;
    }
    if (!err && gmb_buf_append(out, r[0].data, (size_t)d->size) != GMB_BUF_OK)
        err = rev2_error_new(REV2_RESOURCE_EXHAUSTED, "blob larger than the buffer's limit");
    rev2_read_results_free(r, err && !r ? 0 : 1);
    return err;
}

static void gar_cb(void *user, rev2_error *err, Rev2ActionResult *result)
{
    waiter_signal(user, err, result, 0);
}

rev2_error *rev2_get_action_result_sync(rev2_client *c, const char *instance, const rev2_digest *action,
                                        bool inline_outputs, Rev2ActionResult **result)
{
    waiter w;
    waiter_init(&w);
    rev2_get_action_result(c, instance, action, inline_outputs, gar_cb, &w);
    rev2_error *err = waiter_wait(&w);
    *result = w.result;
    return err;
}

static void exec_cb(void *user, rev2_error *err, Rev2ExecuteResponse *response)
{
    waiter_signal(user, err, response, 0);
}

static void progress_cb(void *user, int stage, const char *operation)
{
    waiter *w = user;
    if (w->progress)
        w->progress(w->progress_user, stage, operation);
}

rev2_error *rev2_execute_sync(rev2_client *c, const char *instance, const rev2_digest *action,
                              const rev2_execute_options *opts, rev2_progress_cb progress, void *progress_user,
                              Rev2ExecuteResponse **response)
{
    waiter w;
    waiter_init(&w);
    w.progress = progress;
    w.progress_user = progress_user;
    rev2_execute(c, instance, action, opts, progress_cb, exec_cb, &w);
    rev2_error *err = waiter_wait(&w);
    *response = w.result;
    return err;
}
