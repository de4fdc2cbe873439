/* cas_blob: reading handles on store blobs, on disk or still arriving. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas_internal.h"
#include "errmsg.h"
#include "log.h"
#include "mem.h"

struct cas_blob {
    cas_store *store;
    rev2_digest digest;
    int fd;             /* the verified file, when it was on disk at open */
    bool pinned;        /* holds a pin on its present entry */
    cas_flight *flight; /* otherwise: the fetch bringing it */
    char path[64];      /* /proc/self/fd/N, valid while open */
};

static cas_blob *new_handle(cas_store *s, const rev2_digest *d)
{
    cas_blob *h = gmb_calloc(1, sizeof *h);
    h->store = s;
    h->digest = *d;
    h->fd = -1;
    return h;
}

/* A blob found on disk that this process has not read yet is re-hashed
 * once: the disk may have rotted or been edited since it was verified. */
static bool verify_once(cas_store *s, const rev2_digest *d)
{
    char *p = cas_blob_file(s, d);
    bool ok = cas_file_matches(p, d);
    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, d);
    if (e && e->state == CAS_PRESENT) {
        if (ok) {
            e->verified = true;
        } else if (e->pins == 0) {
            char ds[REV2_DIGEST_STR_LEN];
            GMB_ERROR("cas", "%s in the cache does not match its digest: discarded, fetching again",
                      rev2_digest_str(d, ds));
            unlink(p);
            cas_index_remove(&s->index, e);
            s->stats.corrupt++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(p);
    return ok;
}

/* The file's mtime carries the LRU order across restarts; a minute's
 * precision is enough for that, so a blob read on every cache hit costs
 * no write to its inode each time. */
#define MTIME_EVERY_MS 60000

static void touch_file_locked(cas_entry *e, int fd)
{
    int64_t now = rev2_now_ms();
    if (e->mtime_set_ms && now - e->mtime_set_ms < MTIME_EVERY_MS)
        return;
    e->mtime_set_ms = now;
    futimens(fd, NULL);
}

cas_blob *cas_store_open_blob(cas_store *s, const char *instance, const rev2_digest *d, int *error)
{
    /* The empty blob needs no fetch. */
    if (d->size == 0 && rev2_digest_equal(d, &rev2_empty_digest) && !cas_store_contains(s, d))
        cas_store_put(s, d, "", 0);

    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, d);
    if (e && e->state == CAS_PRESENT && !e->verified) {
        pthread_mutex_unlock(&s->lock);
        verify_once(s, d);
        pthread_mutex_lock(&s->lock);
        e = cas_index_find(&s->index, d);
    }
    cas_blob *h = new_handle(s, d);
    if (e && e->state == CAS_PRESENT) {
        char *p = cas_blob_file(s, d);
        h->fd = open(p, O_RDONLY | O_CLOEXEC);
        if (h->fd >= 0) {
            e->pins++;
            h->pinned = true;
            cas_index_touch(&s->index, e);
            touch_file_locked(e, h->fd);
            s->stats.hits++;
            snprintf(h->path, sizeof h->path, "/proc/self/fd/%d", h->fd);
            pthread_mutex_unlock(&s->lock);
            free(p);
            return h;
        }
        /* Gone from under us (deleted by hand?): forget it and fetch. */
        GMB_WARN("cas", "%s vanished from the cache: %s", p, strerror(errno));
        free(p);
        cas_index_remove(&s->index, e);
        e = NULL;
    }
    if (e) { /* CAS_FETCHING: join the fetch in flight */
        h->flight = e->flight;
        h->flight->refs++;
        s->stats.misses++;
        pthread_mutex_unlock(&s->lock);
        return h;
    }
    if (!s->remote) {
        pthread_mutex_unlock(&s->lock);
        free(h);
        *error = -ENOENT;
        return NULL;
    }
    e = cas_index_add(&s->index, d, CAS_FETCHING);
    cas_flight *f = cas_fetch_start_locked(s, e, instance);
    f->refs++; /* this handle's */
    h->flight = f;
    s->stats.misses++;
    pthread_mutex_unlock(&s->lock);
    cas_fetch_run(f);
    return h;
}

bool cas_store_await(cas_store *s, const rev2_digest *d)
{
    cas_blob *h = NULL;
    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, d);
    if (e && e->state == CAS_FETCHING) { /* a handle on the flight, as a joining reader's */
        h = new_handle(s, d);
        h->flight = e->flight;
        h->flight->refs++;
    }
    pthread_mutex_unlock(&s->lock);
    if (h) {
        cas_blob_wait(h);
        cas_blob_close(h);
    }
    return cas_store_contains(s, d);
}

/* Waits until [0, end) has arrived or the fetch ended. Takes the
 * flight's lock (never the store's). */
static int wait_for(cas_blob *h, uint64_t end)
{
    cas_store *s = h->store;
    cas_flight *f = h->flight;
    pthread_mutex_lock(&f->lock);
    int64_t timeout = s->opts.fetch_timeout_ms;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout / 1000;
    until.tv_nsec += (timeout % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!f->done && f->available < end) {
        if (end < f->next_wake)
            f->next_wake = end;
        int rc = timeout > 0 ? pthread_cond_timedwait(&f->progress, &f->lock, &until)
                             : pthread_cond_wait(&f->progress, &f->lock);
        if (rc == ETIMEDOUT && !f->done && f->available < end) {
            uint64_t have = f->available;
            pthread_mutex_unlock(&f->lock);
            char ds[REV2_DIGEST_STR_LEN];
            GMB_ERROR("cas", "reading %s: bytes up to %llu did not arrive within %lld ms (have %llu)",
                      rev2_digest_str(&h->digest, ds), (unsigned long long)end, (long long)timeout,
                      (unsigned long long)have);
            return -EIO;
        }
    }
    int error = f->error;
    pthread_mutex_unlock(&f->lock);
    (void)s;
    return error;
}

ssize_t cas_blob_pread(cas_blob *h, void *buf, size_t len, off_t off)
{
    uint64_t size = (uint64_t)h->digest.size;
    if (off < 0)
        return -EINVAL;
    if ((uint64_t)off >= size || len == 0)
        return 0;
    if (len > size - (uint64_t)off)
        len = (size_t)(size - (uint64_t)off);
    int fd = h->fd;
    if (fd < 0) {
        int rc = wait_for(h, (uint64_t)off + len);
        if (rc < 0)
            return rc;
        fd = h->flight->fd;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int cas_blob_ready_fd(cas_blob *h, off_t off, size_t *len)
{
    uint64_t size = (uint64_t)h->digest.size;
    if (off < 0)
        return -EINVAL;
    if ((uint64_t)off >= size)
        *len = 0;
    else if (*len > size - (uint64_t)off)
        *len = (size_t)(size - (uint64_t)off);
    if (h->fd >= 0)
        return h->fd;
    if (*len > 0) {
        int rc = wait_for(h, (uint64_t)off + *len);
        if (rc < 0)
            return rc;
    }
    return h->flight->fd;
}

int cas_blob_file_fd(const cas_blob *h)
{
    return h->fd;
}

int cas_blob_wait(cas_blob *h)
{
    if (h->fd >= 0)
        return 0;
    /* size + 1 is never reached: this waits for the end and its check. */
    int rc = wait_for(h, (uint64_t)h->digest.size + 1);
    if (rc == 0)
        snprintf(h->path, sizeof h->path, "/proc/self/fd/%d", h->flight->fd);
    return rc;
}

const char *cas_blob_path(cas_blob *h)
{
    return h->path[0] ? h->path : NULL;
}

const rev2_digest *cas_blob_digest(const cas_blob *h)
{
    return &h->digest;
}

void cas_blob_close(cas_blob *h)
{
    if (!h)
        return;
    cas_store *s = h->store;
    pthread_mutex_lock(&s->lock);
    if (h->pinned) {
        cas_entry *e = cas_index_find(&s->index, &h->digest);
        if (e && e->state == CAS_PRESENT && e->pins > 0)
            e->pins--;
        cas_evict_locked(s); /* it may have been all that kept the store over its limit */
    }
    if (h->flight)
        cas_flight_unref_locked(h->flight);
    pthread_mutex_unlock(&s->lock);
    if (h->fd >= 0)
        close(h->fd);
    free(h);
}

int cas_store_read_all(cas_store *s, const char *instance, const rev2_digest *d, uint8_t **data)
{
    int error = 0;
    cas_blob *h = cas_store_open_blob(s, instance, d, &error);
    if (!h)
        return error;
    int rc = cas_blob_wait(h);
    uint8_t *buf = rc == 0 ? gmb_malloc((size_t)d->size + 1) : NULL;
    if (rc == 0) {
        ssize_t n = cas_blob_pread(h, buf, (size_t)d->size, 0);
        rc = n == d->size ? 0 : (n < 0 ? (int)n : -EIO);
    }
    cas_blob_close(h);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    return 0;
}
