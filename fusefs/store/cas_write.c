/* cas_write: local writes into the store: whole blobs (cas_store_put),
 * files (cas_store_put_file) and blobs written in pieces (cas_writer).
 * Every write goes to a file in tmp/, is hashed on the way, and enters
 * blobs/ by rename; a full disk makes room and tries again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cas_internal.h"
#include "errmsg.h"
#include "log.h"
#include "mem.h"

struct cas_writer {
    cas_store *store;
    char *tmp;      /* the file in tmp/ */
    int fd;         /* on tmp */
    rev2_hasher *h; /* of everything written */
    int64_t expect; /* the announced size, or -1 */
    uint64_t written;
    int error; /* the first failure: the writer is dead */
};

int cas_pwrite_all(int fd, const void *data, size_t n, off_t off)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

bool cas_store_could_hold(cas_store *s, int64_t size)
{
    return size >= 0 && cas_index_disk_of(&s->index, size) <= s->opts.max_bytes;
}

/* -EFBIG (logged once here: an errno has no words) if a blob of `size`
 * bytes could never fit; 0 otherwise. */
static int refuse_too_large(cas_store *s, uint64_t size, const rev2_digest *d)
{
    uint64_t disk = cas_index_disk_of(&s->index, (int64_t)size);
    if (disk <= s->opts.max_bytes)
        return 0;
    char ds[REV2_DIGEST_STR_LEN];
    GMB_WARN("cas", "refusing %s%s%llu bytes: larger than the whole content store (cache.max_bytes = %llu)",
             d ? rev2_digest_str(d, ds) : "a blob", d ? ", " : " of ", (unsigned long long)size,
             (unsigned long long)s->opts.max_bytes);
    pthread_mutex_lock(&s->lock);
    s->stats.too_large++;
    pthread_mutex_unlock(&s->lock);
    return -EFBIG;
}

/* Ahead of a write of `size` bytes: the low-water mark, so a large write
 * does not run into a full disk. */
static void make_room(cas_store *s, uint64_t size)
{
    if (!s->min_free)
        return;
    pthread_mutex_lock(&s->lock);
    cas_make_room_locked(s, cas_index_disk_of(&s->index, (int64_t)size), false);
    pthread_mutex_unlock(&s->lock);
}

static int open_tmp(cas_store *s, char **path)
{
    int tries = 0;
    for (;;) {
        *path = cas_tmp_file(s);
        int fd = open(*path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0)
            return fd;
        int rc = -errno;
        free(*path);
        *path = NULL;
        if (!cas_retry_after_full(s, rc, s->index.block, &tries))
            return rc;
    }
}

static int write_retrying(cas_store *s, int fd, const void *data, size_t len, off_t off)
{
    int tries = 0, rc;
    while ((rc = cas_pwrite_all(fd, data, len, off)) < 0 &&
           cas_retry_after_full(s, rc, cas_index_disk_of(&s->index, (int64_t)len), &tries))
        ;
    return rc;
}

/* Moves a complete, verified temporary file into blobs/ and indexes it.
 * The new blob is not evicted for its own sake: a put that succeeded
 * leaves it present (the next eviction may take it). */
static int install(cas_store *s, const char *tmp, const rev2_digest *d)
{
    char *final = cas_blob_file(s, d);
    char *sub = gmb_format("%s/%.2s", s->blobs_dir, d->hash);
    int tries = 0, rc;
    do {
        rc = mkdir(sub, 0755) < 0 && errno != EEXIST ? -errno : 0;
        if (rc == 0 && rename(tmp, final) < 0)
            rc = -errno;
    } while (rc < 0 && cas_retry_after_full(s, rc, s->index.block, &tries));
    free(sub);
    free(final);
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, d);
    if (!e)
        e = cas_index_add(&s->index, d, CAS_PRESENT);
    else if (e->state == CAS_PRESENT)
        cas_index_touch(&s->index, e);
    else /* arriving: these bytes, checked here, are there now; the fetch,
          * detached, goes on for the readers that joined it alone */
        cas_index_mark_present(&s->index, e);
    e->verified = true;
    e->pins++;
    cas_evict_locked(s);
    e->pins--;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int cas_store_put(cas_store *s, const rev2_digest *d, const void *data, size_t len)
{
    rev2_digest got;
    rev2_digest_of_bytes(data, len, &got);
    if (!rev2_digest_equal(&got, d))
        return -EINVAL;
    if (cas_store_contains(s, d))
        return 0;
    int rc = refuse_too_large(s, len, d);
    if (rc < 0)
        return rc;
    make_room(s, len);
    char *tmp = NULL;
    int fd = open_tmp(s, &tmp);
    rc = fd < 0 ? fd : write_retrying(s, fd, data, len, 0);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0)
        rc = install(s, tmp, d);
    else if (tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- Writers ---- */

cas_writer *cas_writer_new(cas_store *s, int64_t size, int *error)
{
    int rc = size >= 0 ? refuse_too_large(s, (uint64_t)size, NULL) : 0;
    if (rc < 0) {
        *error = rc;
        return NULL;
    }
    make_room(s, size > 0 ? (uint64_t)size : 0);
    cas_writer *w = gmb_calloc(1, sizeof *w);
    w->store = s;
    w->expect = size;
    w->fd = open_tmp(s, &w->tmp);
    if (w->fd < 0) {
        *error = w->fd;
        free(w);
        return NULL;
    }
    w->h = rev2_hasher_new();
    return w;
}

int cas_writer_write(cas_writer *w, const void *data, size_t len)
{
    if (w->error)
        return w->error;
    uint64_t end = w->written + len;
    if (w->expect >= 0 && end > (uint64_t)w->expect)
        w->error = -EINVAL; /* more than announced */
    else if (w->expect < 0)
        w->error = refuse_too_large(w->store, end, NULL);
    if (!w->error)
        w->error = write_retrying(w->store, w->fd, data, len, (off_t)w->written);
    if (w->error)
        return w->error;
    rev2_hasher_update(w->h, data, len);
    w->written = end;
    return 0;
}

void cas_writer_abort(cas_writer *w)
{
    if (!w)
        return;
    if (w->h) {
        rev2_digest scratch;
        rev2_hasher_finish(w->h, &scratch);
    }
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    free(w->tmp);
    free(w);
}

int cas_writer_finish(cas_writer *w, rev2_digest *out)
{
    int rc = w->error;
    if (rc == 0 && w->expect >= 0 && w->written != (uint64_t)w->expect)
        rc = -EINVAL; /* fewer than announced */
    if (rc == 0 && close(w->fd) < 0)
        rc = -errno;
    else if (rc == 0)
        w->fd = -1;
    if (rc < 0) {
        cas_writer_abort(w);
        return rc;
    }
    rev2_hasher_finish(w->h, out);
    if (cas_store_contains(w->store, out))
        unlink(w->tmp);
    else
        rc = install(w->store, w->tmp, out);
    free(w->tmp);
    free(w);
    return rc;
}

int cas_store_put_file(cas_store *s, const char *path, rev2_digest *out)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int rc = 0;
    cas_writer *w = cas_writer_new(s, -1, &rc);
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = w ? gmb_malloc(CHUNK) : NULL;
    while (w && rc == 0) {
        ssize_t n = read(in, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        rc = cas_writer_write(w, buf, (size_t)n);
    }
    free(buf);
    close(in);
    if (w && rc == 0)
        return cas_writer_finish(w, out);
    cas_writer_abort(w);
    return rc;
}
