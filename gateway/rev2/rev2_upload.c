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
#include "budget.h"
#include "mem.h"
#include "rev2_known_blobs.h"

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
    const upload_task *task;
    uint8_t **owned; /* file contents read for this batch */
    size_t n_owned;
    uint64_t held; /* bytes of the blob budget this batch holds */
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
    if (t->held)
        gmb_budget_give(rev2_client_options_of(j->client)->blob_budget, t->held);
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
static uint8_t *load_small(rev2_client *c, const rev2_blob *b, rev2_error **err)
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
    REV2_STAT_ADD(c, file_bytes_read, (uint64_t)got);
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

/* Reads the batch's file-backed blobs and sends the batch. */
static void send_batch(void *arg)
{
    task_ctx *t = arg;
    upload_job *j = t->job;
    const upload_task *task = t->task;
    rev2_digest *digests = gmb_calloc(task->count, sizeof *digests);
    const uint8_t **datas = gmb_calloc(task->count, sizeof *datas);
    t->owned = gmb_calloc(task->count, sizeof *t->owned);
    for (size_t k = 0; k < task->count; k++) {
        const rev2_blob *b = &j->blobs[j->order[task->first + k]];
        digests[k] = b->digest;
        datas[k] = b->data;
        if (!b->data) {
            rev2_error *err = NULL;
            uint8_t *loaded = load_small(j->client, b, &err);
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

static void start_task(upload_job *j, const upload_task *task)
{
    task_ctx *t = gmb_calloc(1, sizeof *t);
    t->job = j;
    t->task = task;
    if (task->count == 0) {
        rev2_bytestream_write(j->client, j->instance, &j->blobs[j->order[task->first]], task_done, t);
        return;
    }
    /* Bytes read from files live three times while the call runs: as
     * read, packed into the request, and in the call's send buffer. */
    gmb_budget *budget = rev2_client_options_of(j->client)->blob_budget;
    for (size_t k = 0; budget && k < task->count; k++) {
        const rev2_blob *b = &j->blobs[j->order[task->first + k]];
        if (!b->data)
            t->held += 3 * (uint64_t)b->digest.size;
    }
    if (!t->held || gmb_budget_take_or_queue(budget, t->held, send_batch, t))
        send_batch(t);
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
        if (!j->first_err)
            for (size_t i = 0; i < j->n; i++)
                rev2_known_blobs_add(rev2_client_known(j->client), j->instance, &j->blobs[i].digest);
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

/* ---- FindMissingBlobs, then upload what is missing ----
 * A missing_job ends when its own upload is done and every blob it waits
 * for (sent by another job) has arrived. */

typedef struct {
    rev2_client *client;
    char *instance;
    rev2_blob *blobs; /* deduplicated request */
    size_t n;
    size_t *uploaded;
    rev2_done_cb cb;
    void *user;
    rev2_blob *to_send; /* the ones this job claimed */
    size_t n_send;

    pthread_mutex_t lock;
    size_t pending; /* our upload (1) + blobs awaited from other jobs */
    rev2_error *err;
} missing_job;

static int digest_order(const void *a, const void *b)
{
    const rev2_digest *x = a, *y = b;
    int c = strcmp(x->hash, y->hash);
    return c ? c : (x->size > y->size) - (x->size < y->size);
}

static int blob_order(const void *a, const void *b)
{
    return digest_order(&((const rev2_blob *)a)->digest, &((const rev2_blob *)b)->digest);
}

static void missing_job_free(missing_job *m)
{
    free(m->to_send);
    free(m->blobs);
    free(m->instance);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* One part of the job ended (err is taken); the last one reports. */
static void missing_part_done(missing_job *m, rev2_error *err)
{
    pthread_mutex_lock(&m->lock);
    if (err && !m->err)
        m->err = err;
    else
        rev2_error_free(err);
    bool last = --m->pending == 0;
    pthread_mutex_unlock(&m->lock);
    if (!last)
        return;
    m->cb(m->user, m->err);
    missing_job_free(m);
}

static void awaited_blob_done(void *user, bool ok)
{
    missing_job *m = user;
    missing_part_done(
        m,
        ok ? NULL : rev2_error_new(REV2_UNAVAILABLE, "another request's upload of a shared input failed; try again"));
}

static void missing_uploaded(void *user, rev2_error *err)
{
    missing_job *m = user;
    rev2_known_blobs *known = rev2_client_known(m->client);
    for (size_t i = 0; i < m->n_send; i++)
        rev2_known_blobs_release(known, m->instance, &m->to_send[i].digest, err == NULL);
    missing_part_done(m, err);
}

static void missing_found(void *user, rev2_error *err, rev2_digest *missing, size_t n_missing)
{
    missing_job *m = user;
    if (err) {
        free(missing);
        missing_part_done(m, err);
        return;
    }
    rev2_known_blobs *known = rev2_client_known(m->client);
    qsort(missing, n_missing, sizeof *missing, digest_order);
    /* Present: remember. Missing: send it, or wait for whoever sends it. */
    m->to_send = gmb_calloc(n_missing + 1, sizeof *m->to_send);
    for (size_t i = 0; i < m->n; i++) {
        if (!bsearch(&m->blobs[i].digest, missing, n_missing, sizeof *missing, digest_order)) {
            rev2_known_blobs_add(known, m->instance, &m->blobs[i].digest);
            continue;
        }
        pthread_mutex_lock(&m->lock);
        m->pending++; /* before the claim: its waiter may run at once */
        pthread_mutex_unlock(&m->lock);
        if (rev2_known_blobs_claim(known, m->instance, &m->blobs[i].digest, awaited_blob_done, m)) {
            m->to_send[m->n_send++] = m->blobs[i];
            pthread_mutex_lock(&m->lock);
            m->pending--; /* ours: covered by the upload's own part */
            pthread_mutex_unlock(&m->lock);
        } else {
            REV2_STAT_ADD(m->client, uploads_joined, 1);
        }
    }
    free(missing);
    if (m->uploaded)
        *m->uploaded = m->n_send;
    rev2_upload(m->client, m->instance, m->to_send, m->n_send, missing_uploaded, m);
}

void rev2_upload_missing(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n, size_t *uploaded,
                         rev2_done_cb cb, void *user)
{
    missing_job *m = gmb_calloc(1, sizeof *m);
    m->client = c;
    m->instance = gmb_strdup(rev2_client_instance(c, instance));
    m->blobs = gmb_malloc((n + 1) * sizeof *blobs);
    m->uploaded = uploaded;
    m->cb = cb;
    m->user = user;
    m->pending = 1;
    pthread_mutex_init(&m->lock, NULL);
    if (uploaded)
        *uploaded = 0;
    /* Ask only about blobs not known present, each once (sorted, so
     * repeats sit side by side). */
    memcpy(m->blobs, blobs, n * sizeof *blobs);
    qsort(m->blobs, n, sizeof *m->blobs, blob_order);
    rev2_known_blobs *known = rev2_client_known(c);
    size_t n_known = 0;
    rev2_digest prev = {.size = -1};
    for (size_t i = 0; i < n; i++) {
        if (rev2_digest_equal(&prev, &m->blobs[i].digest))
            continue;
        prev = m->blobs[i].digest;
        if (rev2_known_blobs_has(known, m->instance, &m->blobs[i].digest)) {
            n_known++;
            continue;
        }
        m->blobs[m->n++] = m->blobs[i];
    }
    REV2_STAT_ADD(c, blobs_known_present, n_known);
    if (m->n == 0) {
        REV2_STAT_ADD(c, find_missing_avoided, 1);
        missing_part_done(m, NULL);
        return;
    }
    REV2_STAT_ADD(c, find_missing_calls, 1);
    rev2_digest *digests = gmb_malloc((m->n + 1) * sizeof *digests);
    for (size_t i = 0; i < m->n; i++)
        digests[i] = m->blobs[i].digest;
    rev2_find_missing(c, m->instance, digests, m->n, missing_found, m);
    free(digests);
}
