/* rev2_upload: puts many blobs into the CAS, choosing per blob between a
 * BatchUpdateBlobs call (small blobs, grouped under max_batch_bytes) and a
 * ByteStream Write (large ones), with a bounded number of calls at once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rev2_cas_internal.h"
#include "rev2_client_internal.h"
#include "mem.h"

/* Calls one upload keeps in flight; enough to fill a loopback link. */
#define UPLOAD_PARALLEL_CALLS 8
/* Per-entry framing inside a BatchUpdateBlobsRequest (digest, tags). */
#define BATCH_ENTRY_OVERHEAD 100

typedef struct {
    size_t first, count; /* a run of `order` that forms one batch; count 0: ByteStream */
} upload_task;

typedef struct upload_job {
    rev2_client *client;
    char *instance;
    rev2_blob *blobs;
    size_t n;
    size_t *order; /* blob indices: batched ones grouped, then large ones */
    upload_task *tasks;
    size_t n_tasks;

    pthread_mutex_t lock;
    size_t next_task;
    size_t running; /* tasks started and not yet done */
    size_t pumps;   /* threads inside pump(): the job must outlive them */
    bool finished;
    rev2_error *first_err;
    rev2_done_cb cb;
    void *user;
} upload_job;

typedef struct {
    upload_job *job;
    uint8_t **owned; /* file contents read for this batch */
    size_t n_owned;
} task_ctx;

static void pump(upload_job *j);

static void job_free(upload_job *j)
{
    free(j->instance);
    free(j->blobs);
    free(j->order);
    free(j->tasks);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void task_done(void *user, rev2_error *err)
{
    task_ctx *t = user;
    upload_job *j = t->job;
    for (size_t i = 0; i < t->n_owned; i++)
        free(t->owned[i]);
    free(t->owned);
    free(t);

    pthread_mutex_lock(&j->lock);
    if (err && !j->first_err)
        j->first_err = err;
    else
        rev2_error_free(err);
    j->running--;
    j->pumps++; /* taken under the same lock so nobody frees j in between */
    pthread_mutex_unlock(&j->lock);
    pump(j);
}

/* Reads a small file-backed blob into memory and checks its digest. */
static uint8_t *load_small(const rev2_blob *b, rev2_error **err)
{
    int fd = open(b->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = rev2_error_new(REV2_FAILED_PRECONDITION, "cannot open %s: %s", b->path, strerror(errno));
        return NULL;
    }
    uint8_t *data = gmb_malloc((size_t)b->digest.size + 1);
    ssize_t got = 0;
    while (got < b->digest.size) {
        ssize_t n = pread(fd, data + got, (size_t)(b->digest.size - got), got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += n;
    }
    close(fd);
    rev2_digest actual;
    rev2_digest_of_bytes(data, (size_t)got, &actual);
    if (!rev2_digest_equal(&actual, &b->digest)) {
        char ws[REV2_DIGEST_STR_LEN], gs[REV2_DIGEST_STR_LEN];
        *err = rev2_error_new(REV2_DATA_LOSS, "%s should be %s but is %s", b->path, rev2_digest_str(&b->digest, ws),
                              rev2_digest_str(&actual, gs));
        free(data);
        return NULL;
    }
    return data;
}

static void start_task(upload_job *j, const upload_task *task)
{
    task_ctx *t = gmb_calloc(1, sizeof *t);
    t->job = j;
    if (task->count == 0) {
        rev2_bytestream_write(j->client, j->instance, &j->blobs[j->order[task->first]], task_done, t);
        return;
    }
    rev2_digest *digests = gmb_calloc(task->count, sizeof *digests);
    const uint8_t **datas = gmb_calloc(task->count, sizeof *datas);
    t->owned = gmb_calloc(task->count, sizeof *t->owned);
    for (size_t k = 0; k < task->count; k++) {
        const rev2_blob *b = &j->blobs[j->order[task->first + k]];
        digests[k] = b->digest;
        datas[k] = b->data;
        if (!b->data) {
            rev2_error *err = NULL;
            uint8_t *loaded = load_small(b, &err);
            if (!loaded) {
                free(digests);
                free(datas);
                task_done(t, err);
                return;
            }
            t->owned[t->n_owned++] = loaded;
            datas[k] = loaded;
        }
    }
    rev2_batch_update(j->client, j->instance, digests, datas, task->count, task_done, t);
    free(digests);
    free(datas);
}

/* Starts tasks until UPLOAD_PARALLEL_CALLS run or none are left, and
 * reports the job once nothing runs and nothing is left. The caller has
 * already counted itself in j->pumps. */
static void pump(upload_job *j)
{
    pthread_mutex_lock(&j->lock);
    while (!j->first_err && j->next_task < j->n_tasks && j->running < UPLOAD_PARALLEL_CALLS) {
        const upload_task *task = &j->tasks[j->next_task++];
        j->running++;
        pthread_mutex_unlock(&j->lock);
        start_task(j, task);
        pthread_mutex_lock(&j->lock);
    }
    j->pumps--;
    bool report = !j->finished && j->running == 0 && j->pumps == 0 && (j->next_task == j->n_tasks || j->first_err);
    if (report)
        j->finished = true;
    pthread_mutex_unlock(&j->lock);
    if (report) {
        j->cb(j->user, j->first_err);
        job_free(j);
    }
}

void rev2_upload(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n, rev2_done_cb cb, void *user)
{
    if (n == 0) {
        cb(user, NULL);
        return;
    }
    upload_job *j = gmb_calloc(1, sizeof *j);
    j->client = c;
    j->instance = gmb_strdup(rev2_client_instance(c, instance));
    j->blobs = gmb_malloc(n * sizeof *blobs);
    j->order = gmb_malloc(n * sizeof *j->order);
    j->tasks = gmb_calloc(n, sizeof *j->tasks);
    memcpy(j->blobs, blobs, n * sizeof *blobs);
    j->n = n;
    j->cb = cb;
    j->user = user;
    pthread_mutex_init(&j->lock, NULL);

    /* Greedy grouping in request order: a batch closes when the next blob
     * would push it past the limit. */
    size_t limit = rev2_client_options_of(c)->max_batch_bytes;
    size_t n_order = 0, batch_bytes = 0;
    upload_task *open = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t cost = (size_t)blobs[i].digest.size + BATCH_ENTRY_OVERHEAD;
        if (cost > limit)
            continue;
        if (!open || batch_bytes + cost > limit) {
            open = &j->tasks[j->n_tasks++];
            open->first = n_order;
            batch_bytes = 0;
        }
        j->order[n_order++] = i;
        open->count++;
        batch_bytes += cost;
    }
    for (size_t i = 0; i < n; i++) {
        if ((size_t)blobs[i].digest.size + BATCH_ENTRY_OVERHEAD <= limit)
            continue;
        j->tasks[j->n_tasks++] = (upload_task){.first = n_order, .count = 0};
        j->order[n_order++] = i;
    }
    j->pumps = 1;
    pump(j);
}

/* ---- FindMissingBlobs, then upload what is missing ---- */

typedef struct {
    rev2_client *client;
    char *instance;
    rev2_blob *blobs;
    size_t n;
    size_t *uploaded;
    rev2_done_cb cb;
    void *user;
    rev2_blob *to_send;
} missing_job;

static void missing_uploaded(void *user, rev2_error *err)
{
    missing_job *m = user;
    m->cb(m->user, err);
    free(m->to_send);
    free(m->blobs);
    free(m->instance);
    free(m);
}

static void missing_found(void *user, rev2_error *err, rev2_digest *missing, size_t n_missing)
{
    missing_job *m = user;
    if (err) {
        free(missing);
        missing_uploaded(m, err);
        return;
    }
    m->to_send = gmb_calloc(n_missing + 1, sizeof *m->to_send);
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        for (size_t x = 0; x < n_missing; x++) {
            if (rev2_digest_equal(&m->blobs[i].digest, &missing[x])) {
                m->to_send[k++] = m->blobs[i];
                missing[x].size = -1; /* send each digest once */
                break;
            }
        }
    }
    free(missing);
    if (m->uploaded)
        *m->uploaded = k;
    rev2_upload(m->client, m->instance, m->to_send, k, missing_uploaded, m);
}

void rev2_upload_missing(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n, size_t *uploaded,
                         rev2_done_cb cb, void *user)
{
    missing_job *m = gmb_calloc(1, sizeof *m);
    m->client = c;
    m->instance = gmb_strdup(rev2_client_instance(c, instance));
    m->blobs = gmb_malloc((n + 1) * sizeof *blobs);
    memcpy(m->blobs, blobs, n * sizeof *blobs);
    m->n = n;
    m->uploaded = uploaded;
    m->cb = cb;
    m->user = user;
    rev2_digest *digests = gmb_malloc((n + 1) * sizeof *digests);
    for (size_t i = 0; i < n; i++)
        digests[i] = blobs[i].digest;
    rev2_find_missing(c, m->instance, digests, n, missing_found, m);
    free(digests);
}
