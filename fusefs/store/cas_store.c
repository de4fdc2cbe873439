/* cas_store: opening (scan), stats, closing. Local writes are in
 * cas_write.c, eviction and free space in cas_space.c, pins in cas_pin.c,
 * fetching in cas_fetch.c, reading handles in cas_blob.c. */
#include "cas_store.h"

#include <dirent.h>
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

char *cas_blob_file(const cas_store *s, const rev2_digest *d)
{
    return gmb_format("%s/%.2s/%s-%lld", s->blobs_dir, d->hash, d->hash, (long long)d->size);
}

char *cas_tmp_file(cas_store *s)
{
    uint64_t n = __atomic_fetch_add(&s->tmp_counter, 1, __ATOMIC_RELAXED);
    return gmb_format("%s/%d-%llu", s->tmp_dir, (int)getpid(), (unsigned long long)n);
}

bool cas_file_matches(const char *path, const rev2_digest *d)
{
    rev2_digest got;
    return rev2_digest_of_file(path, &got) == 0 && rev2_digest_equal(&got, d);
}

bool cas_store_find_hash(cas_store *s, const char *hash, rev2_digest *out)
{
    if (!rev2_hash_is_valid(hash))
        return false;
    /* The size is in the file name: blobs/<ab>/<hash>-<size>. */
    char *sub = gmb_format("%s/%.2s", s->blobs_dir, hash);
    DIR *d = opendir(sub);
    free(sub);
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d)))
        found = strncmp(e->d_name, hash, REV2_HASH_HEX_LEN) == 0 && rev2_digest_parse(e->d_name, out) &&
                cas_store_contains(s, out);
    if (d)
        closedir(d);
    return found;
}

static int make_dir(const char *path, char **err)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return gmb_fail(err, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

/* Files left in tmp/ by a crash are incomplete by definition. */
static void clear_tmp(cas_store *s)
{
    DIR *d = opendir(s->tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = gmb_format("%s/%s", s->tmp_dir, e->d_name);
        removed += unlink(p) == 0;
        free(p);
    }
    closedir(d);
    if (removed)
        GMB_INFO("cas", "removed %d unfinished files from %s", removed, s->tmp_dir);
}

typedef struct {
    rev2_digest digest;
    struct timespec mtime;
} scanned;

static int older_first(const void *a, const void *b)
{
    const struct timespec *x = &((const scanned *)a)->mtime, *y = &((const scanned *)b)->mtime;
    if (x->tv_sec != y->tv_sec)
        return x->tv_sec < y->tv_sec ? -1 : 1;
    return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* Rebuilds the index from blobs/, oldest first so LRU order survives a
 * restart (a read refreshes a blob's mtime). */
static void scan(cas_store *s)
{
    scanned *found = NULL;
    size_t n = 0, cap = 0, junk = 0;
    DIR *top = opendir(s->blobs_dir);
    struct dirent *sub;
    while (top && (sub = readdir(top))) {
        if (sub->d_name[0] == '.')
            continue;
        char *subdir = gmb_format("%s/%s", s->blobs_dir, sub->d_name);
        DIR *d = opendir(subdir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char *p = gmb_format("%s/%s", subdir, e->d_name);
            rev2_digest dg;
            struct stat st;
            if (!rev2_digest_parse(e->d_name, &dg) || strncmp(dg.hash, sub->d_name, 2) != 0 || stat(p, &st) < 0 ||
                !S_ISREG(st.st_mode) || st.st_size != dg.size) {
                unlink(p); /* not ours, or visibly damaged */
                junk++;
            } else {
                if (n == cap) {
                    cap = cap ? cap * 2 : 256;
                    found = gmb_realloc(found, cap * sizeof *found);
                }
                found[n++] = (scanned){dg, st.st_mtim};
            }
            free(p);
        }
        if (d)
            closedir(d);
        free(subdir);
    }
    if (top)
        closedir(top);
    if (n > 1)
        qsort(found, n, sizeof *found, older_first);
    for (size_t i = 0; i < n; i++)
        cas_index_add(&s->index, &found[i].digest, CAS_PRESENT); /* unverified until read */
    free(found);
    s->stats.blobs = s->index.count;
    GMB_INFO("cas", "%s: %zu blobs, %llu bytes of content taking %llu bytes of disk (cache.max_bytes %llu)%s", s->dir,
             n, (unsigned long long)s->index.bytes, (unsigned long long)s->index.disk_bytes,
             (unsigned long long)s->opts.max_bytes, junk ? " (removed damaged files)" : "");
}

cas_store *cas_store_open(const cas_store_options *o, rev2_client *remote, char **err)
{
    if (!o->dir || !*o->dir) {
        gmb_fail(err, "no cache directory configured");
        return NULL;
    }
    cas_store *s = gmb_calloc(1, sizeof *s);
    s->opts = *o;
    s->dir = gmb_strdup(o->dir);
    s->opts.dir = s->dir;
    if (s->opts.pin_timeout_ms <= 0)
        s->opts.pin_timeout_ms = CAS_PIN_TIMEOUT_DEFAULT_MS;
    s->blobs_dir = gmb_format("%s/blobs", s->dir);
    s->tmp_dir = gmb_format("%s/tmp", s->dir);
    s->remote = remote;
    s->lock_fd = -1;
    /* The lock before anything in the directory is touched (tmp/ cleared,
     * blobs/ scanned): those belong to the holder. */
    if (make_dir(s->dir, err) < 0 || (s->lock_fd = cas_dir_lock(s->dir, err)) < 0 || make_dir(s->blobs_dir, err) < 0 ||
        make_dir(s->tmp_dir, err) < 0) {
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        free(s->dir);
        free(s->blobs_dir);
        free(s->tmp_dir);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_mutex_init(&s->verify_lock, NULL);
    pthread_cond_init(&s->verify_cond, NULL);
    pthread_create(&s->verifier, NULL, cas_verifier_main, s);
    cas_index_init(&s->index);
    cas_space_init(s); /* block size first: scan counts the blobs' disk space */
    clear_tmp(s);
    scan(s);
    pthread_mutex_lock(&s->lock);
    cas_evict_locked(s); /* the limit may have shrunk since the last run */
    pthread_mutex_unlock(&s->lock);
    return s;
}

void cas_store_stats_get(cas_store *s, cas_store_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    out->blobs = s->index.count;
    out->bytes = s->index.bytes;
    out->disk_bytes = s->index.disk_bytes;
    pthread_mutex_unlock(&s->lock);
}

rev2_client *cas_store_remote(cas_store *s)
{
    return s->remote;
}

void cas_store_close(cas_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    while (s->flights_running > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
    /* Only now: the verifier finishes streamed flights. */
    pthread_mutex_lock(&s->verify_lock);
    s->verifier_stop = true;
    pthread_cond_signal(&s->verify_cond);
    pthread_mutex_unlock(&s->verify_lock);
    pthread_join(s->verifier, NULL);
    pthread_mutex_destroy(&s->verify_lock);
    pthread_cond_destroy(&s->verify_cond);
    cas_index_free(&s->index);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->idle);
    close(s->lock_fd); /* the directory is free for the next gateway */
    free(s->dir);
    free(s->blobs_dir);
    free(s->tmp_dir);
    free(s);
}

bool cas_store_contains(cas_store *s, const rev2_digest *d)
{
    pthread_mutex_lock(&s->lock);
    cas_entry *e = cas_index_find(&s->index, d);
    bool present = e && e->state == CAS_PRESENT;
    pthread_mutex_unlock(&s->lock);
    return present;
}
