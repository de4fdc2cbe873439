/* cas_fetch: brings a missing blob from Buildbarn into the store, once,
 * however many readers want it (one cas_flight per blob). Small blobs
 * come whole by BatchReadBlobs (checked before anyone reads them); large
 * ones stream by ByteStream into a temporary file that readers read as it
 * grows, and are checked when the stream ends. */
#include <pthread.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cas_internal.h"
#include "errmsg.h"
#include "log.h"
#include "mem.h"

/* Blobs up to this size (plus framing) go through BatchReadBlobs. */
#define BATCH_ENTRY_OVERHEAD 100
/* The verifier is woken once this much is waiting to be hashed (or the
 * stream has ended), not for every ByteStream message: it hashes at
 * several times the network's rate, so per-message wakeups would only
 * add context switches on the cores the stream and its readers need. */
#define VERIFY_BATCH ((uint64_t)1 << 20)

void cas_flight_unref_locked(cas_flight *f)
{
    if (--f->refs > 0)
        return;
    if (f->map)
        munmap((void *)f->map, (size_t)f->digest.size);
    if (f->fd >= 0)
        close(f->fd);
    if (f->hasher) {
        rev2_digest scratch;
        rev2_hasher_finish(f->hasher, &scratch);
    }
    pthread_cond_destroy(&f->progress);
    pthread_mutex_destroy(&f->lock);
    free(f->stream_error);
    free(f->tmp_path);
    free(f->instance);
    free(f);
}

/* The end of a fetch, good or bad. Takes the lock. */
static void finish(cas_flight *f, int error, const char *why)
{
    cas_store *s = f->store;
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&f->digest, ds);
    char *final = error ? NULL : cas_blob_file(s, &f->digest);
    pthread_mutex_lock(&s->lock);
    cas_entry *mine = cas_index_find(&s->index, &f->digest);
    bool detached = !mine || mine->flight != f;
    pthread_mutex_unlock(&s->lock);
    if (final && detached) {
        /* A put installed the blob meanwhile (or it was dropped): its
         * file is the one in place; ours is not needed there. */
        unlink(f->tmp_path);
        free(final);
        final = NULL;
    }
    if (final) {
        /* A new directory entry can need a block too: a full disk evicts
         * and tries again, as for local writes. */
        char *sub = gmb_format("%s/%.2s", s->blobs_dir, f->digest.hash);
        int tries = 0, rc;
        do {
            rc = mkdir(sub, 0755) < 0 && errno != EEXIST ? -errno : 0;
            if (rc == 0 && rename(f->tmp_path, final) < 0)
                rc = -errno;
        } while (rc < 0 && cas_retry_after_full(s, rc, s->index.block, &tries));
        free(sub);
        if (rc < 0) {
            error = -EIO;
            GMB_ERROR("cas", "fetched %s but cannot move it into the cache: %s", ds, strerror(-rc));
        }
    }
    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, &f->digest);
    if (!error) {
        if (e && e->flight == f) {
            cas_index_mark_present(&s->index, e);
            e->verified = true;
        }
        s->stats.fetch_bytes += (uint64_t)f->digest.size;
        GMB_DEBUG("cas", "fetched %s in %lld ms", ds, (long long)(rev2_now_ms() - f->started_ms));
    } else {
        unlink(f->tmp_path);
        if (e && e->flight == f)
            cas_index_remove(&s->index, e); /* the next open tries again */
        s->stats.fetch_failures++;
        GMB_ERROR("cas", "fetching %s from instance \"%s\" failed: %s", ds, f->instance, why ? why : "I/O error");
    }
    pthread_mutex_lock(&f->lock);
    f->done = true;
    f->error = error;
    pthread_cond_broadcast(&f->progress);
    pthread_mutex_unlock(&f->lock);
    s->flights_running--;
    pthread_cond_broadcast(&s->idle);
    if (!error)
        cas_evict_locked(s);
    cas_flight_unref_locked(f);
    pthread_mutex_unlock(&s->lock);
    free(final);
}

/* Writes fetched bytes; a full disk evicts older blobs and tries again
 * (cas_space.c). 0 or -errno. */
static int write_fetched(cas_flight *f, const uint8_t *data, size_t len, uint64_t off)
{
    cas_store *s = f->store;
    int tries = 0, rc;
    while ((rc = cas_pwrite_all(f->fd, data, len, (off_t)off)) < 0 &&
           cas_retry_after_full(s, rc, cas_index_disk_of(&s->index, (int64_t)len), &tries))
        ;
    return rc;
}

/* ---- Small blobs: one BatchReadBlobs ---- */

static void batch_done(void *user, rev2_error *err, rev2_read_result *results, size_t n)
{
    cas_flight *f = user;
    rev2_error *blob_err = !err && n == 1 ? results[0].err : NULL;
    int rc;
    if (err || blob_err) {
        /* The message names the cause: NOT_FOUND, DATA_LOSS (digest mismatch), UNAVAILABLE... */
        rev2_error *e = err ? err : blob_err;
        char *why = gmb_format("%s: %s", rev2_code_name(e->code), e->message);
        finish(f, -EIO, why);
        free(why);
    } else if ((rc = write_fetched(f, results[0].data, (size_t)f->digest.size, 0)) < 0) {
        finish(f, -EIO, strerror(-rc));
    } else {
        finish(f, 0, NULL);
    }
    rev2_error_free(err);
    rev2_read_results_free(results, n);
}

/* ---- Large blobs: ByteStream, served as it arrives ---- */

static bool stream_data(void *user, const uint8_t *data, size_t len)
{
    cas_flight *f = user;
    cas_store *s = f->store;
    /* Only this callback writes, in order, so no lock is needed for the
     * write itself; readers learn of it through `available`, and are woken
     * only once what they wait for is there (the kernel keeps several
     * read-ahead requests waiting at once). Hashing is the verifier's. */
    int rc = write_fetched(f, data, len, f->available);
    if (rc < 0) {
        /* The verdict names the cause, not only the short count. */
        pthread_mutex_lock(&s->verify_lock);
        if (!f->stream_error)
            f->stream_error = gmb_format("cannot write %s: %s", f->tmp_path, strerror(-rc));
        pthread_mutex_unlock(&s->verify_lock);
        return false;
    }
    pthread_mutex_lock(&f->lock);
    __atomic_store_n(&f->available, f->available + len, __ATOMIC_RELEASE);
    if (f->available >= f->next_wake) {
        f->next_wake = UINT64_MAX;
        pthread_cond_broadcast(&f->progress);
    }
    pthread_mutex_unlock(&f->lock);
    /* `hashed` only grows, so a stale value can only wake it early. */
    if (f->available - __atomic_load_n(&f->hashed, __ATOMIC_RELAXED) >= VERIFY_BATCH) {
        pthread_mutex_lock(&s->verify_lock);
        pthread_cond_signal(&s->verify_cond);
        pthread_mutex_unlock(&s->verify_lock);
    }
    return true;
}

static void stream_done(void *user, rev2_error *err)
{
    cas_flight *f = user;
    cas_store *s = f->store;
    pthread_mutex_lock(&s->verify_lock);
    f->stream_ended = true;
    if (err && !f->stream_error) /* a write that failed said so first */
        f->stream_error = gmb_format("%s: %s", rev2_code_name(err->code), err->message);
    pthread_cond_signal(&s->verify_cond);
    pthread_mutex_unlock(&s->verify_lock);
    rev2_error_free(err);
}

/* The verdict on a streamed blob, once it is all in and hashed. */
static void verify_and_finish(cas_flight *f)
{
    if (f->stream_error) {
        finish(f, -EIO, f->stream_error);
        return;
    }
    rev2_digest got;
    rev2_hasher_finish(f->hasher, &got);
    f->hasher = NULL;
    if (f->available != (uint64_t)f->digest.size || !rev2_digest_equal(&got, &f->digest)) {
        char gs[REV2_DIGEST_STR_LEN];
        char *why = gmb_format("the bytes received (%llu) hash to %s: discarded", (unsigned long long)f->available,
                               rev2_digest_str(&got, gs));
        finish(f, -EIO, why);
        free(why);
        return;
    }
    finish(f, 0, NULL);
}

void *cas_verifier_main(void *arg)
{
    cas_store *s = arg;
    pthread_setname_np(pthread_self(), "gmb-verify");
    enum { CHUNK = 4 << 20 };
    uint8_t *buf = gmb_malloc(CHUNK);
    pthread_mutex_lock(&s->verify_lock);
    for (;;) {
        /* A flight with a batch of bytes to hash, or one whose stream is
         * over (stream_data wakes us on the same condition). */
        cas_flight **pp = &s->verify_list, *f = NULL;
        for (; *pp; pp = &(*pp)->verify_next) {
            cas_flight *c = *pp;
            uint64_t avail = __atomic_load_n(&c->available, __ATOMIC_ACQUIRE);
            if (avail - c->hashed >= VERIFY_BATCH || c->stream_ended) {
                f = c;
                break;
            }
        }
        if (!f) {
            if (s->verifier_stop)
                break;
            pthread_cond_wait(&s->verify_cond, &s->verify_lock);
            continue;
        }
        uint64_t avail = __atomic_load_n(&f->available, __ATOMIC_ACQUIRE);
        if (f->stream_ended && (f->stream_error || f->hashed >= avail)) {
            *pp = f->verify_next; /* off the list, then the verdict */
            pthread_mutex_unlock(&s->verify_lock);
            verify_and_finish(f);
            pthread_mutex_lock(&s->verify_lock);
            continue;
        }
        pthread_mutex_unlock(&s->verify_lock);
        size_t want = avail - f->hashed > CHUNK ? CHUNK : (size_t)(avail - f->hashed);
        ssize_t n;
        if (f->map) { /* in place: the bytes are already in the page cache */
            rev2_hasher_update(f->hasher, f->map + f->hashed, want);
            __atomic_store_n(&f->hashed, f->hashed + want, __ATOMIC_RELAXED);
            n = (ssize_t)want;
        } else if ((n = pread(f->fd, buf, want, (off_t)f->hashed)) > 0) {
            rev2_hasher_update(f->hasher, buf, (size_t)n);
            __atomic_store_n(&f->hashed, f->hashed + (uint64_t)n, __ATOMIC_RELAXED);
        }
        pthread_mutex_lock(&s->verify_lock);
        if (n <= 0 && !f->stream_error)
            f->stream_error =
                gmb_format("cannot read back %s: %s", f->tmp_path, n < 0 ? strerror(errno) : "short file");
        if (n <= 0)
            f->stream_ended = true;
    }
    pthread_mutex_unlock(&s->verify_lock);
    free(buf);
    return NULL;
}

cas_flight *cas_fetch_start_locked(cas_store *s, cas_entry *e, const char *instance)
{
    /* The fetch writes the whole blob: room for it first (and the
     * low-water mark kept), so it does not run into a full disk. */
    cas_make_room_locked(s, cas_index_disk_of(&s->index, e->digest.size), false);
    cas_flight *f = gmb_calloc(1, sizeof *f);
    f->store = s;
    f->digest = e->digest;
    f->instance = gmb_strdup(instance ? instance : rev2_client_default_instance(s->remote));
    f->tmp_path = cas_tmp_file(s);
    f->fd = open(f->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    f->open_error = f->fd < 0 ? errno : 0;
    pthread_cond_init(&f->progress, NULL);
    pthread_mutex_init(&f->lock, NULL);
    f->next_wake = UINT64_MAX;
    f->refs = 1; /* the fetch's own */
    f->started_ms = rev2_now_ms();
    e->flight = f;
    s->flights_running++;
    s->stats.fetches++;
    return f;
}

void cas_fetch_run(cas_flight *f)
{
    cas_store *s = f->store;
    /* Opened under the store's lock, so retried here: no reader uses the
     * fd before bytes have arrived. */
    int tries = 0;
    while (f->fd < 0 && cas_retry_after_full(s, -f->open_error, s->index.block, &tries)) {
        f->fd = open(f->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        f->open_error = f->fd < 0 ? errno : 0;
    }
    if (f->fd < 0) {
        char *why = gmb_format("cannot create %s: %s", f->tmp_path, strerror(f->open_error));
        finish(f, -EIO, why);
        free(why);
        return;
    }
    size_t batch_limit = rev2_client_options_of(s->remote)->max_batch_bytes;
    if ((size_t)f->digest.size + BATCH_ENTRY_OVERHEAD <= batch_limit) {
        rev2_batch_read(s->remote, f->instance, &f->digest, 1, batch_done, f);
    } else {
        f->hasher = rev2_hasher_new();
        /* Full size up front, so the verifier can map it once and hash
         * in place; bytes are filled in as they arrive. */
        if (ftruncate(f->fd, (off_t)f->digest.size) == 0) {
            void *m = mmap(NULL, (size_t)f->digest.size, PROT_READ, MAP_SHARED, f->fd, 0);
            f->map = m == MAP_FAILED ? NULL : m;
        }
        pthread_mutex_lock(&s->verify_lock);
        f->verify_next = s->verify_list;
        s->verify_list = f;
        pthread_mutex_unlock(&s->verify_lock);
        rev2_bytestream_read(s->remote, f->instance, &f->digest, 0, 0, stream_data, stream_done, f);
    }
}
