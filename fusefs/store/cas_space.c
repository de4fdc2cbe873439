/* cas_space: how much of its disk the store takes. Eviction for
 * max_bytes (counted in disk blocks), for free space on the file system
 * (the low-water mark, and writes that failed with ENOSPC/EDQUOT), and the
 * warnings about options that cannot work. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cas_internal.h"
#include "errmsg.h"
#include "log.h"
#include "mem.h"

/* Writes that fail for a full disk are tried this often after evicting. */
#define WRITE_TRIES 3
/* The low-water warning is logged at most this often. */
#define SPACE_WARN_EVERY_MS 60000
/* How long a free-space reading stands for the checks after a handle is
 * closed or pins let go (statvfs there cost two system calls per cache
 * hit); making room for a write always reads afresh, and a store that was
 * short of space reads again at once. */
#define SPACE_FRESH_MS 1000

static bool fs_space(const char *dir, uint64_t *total, uint64_t *avail, uint64_t *block)
{
    struct statvfs v;
    if (statvfs(dir, &v) < 0)
        return false;
    uint64_t unit = v.f_frsize ? v.f_frsize : v.f_bsize;
    *total = (uint64_t)v.f_blocks * unit;
    *avail = (uint64_t)v.f_bavail * unit;
    *block = unit;
    return true;
}

static uint64_t low_water(int64_t option, uint64_t fs_total)
{
    if (option == CAS_MIN_FREE_AUTO) {
        uint64_t part = fs_total / 20;
        return part < (uint64_t)CAS_MIN_FREE_AUTO_CAP ? part : (uint64_t)CAS_MIN_FREE_AUTO_CAP;
    }
    return option > 0 ? (uint64_t)option : 0;
}

void cas_space_init(cas_store *s)
{
    uint64_t total = 0, avail = 0, block = 0;
    bool known = fs_space(s->dir, &total, &avail, &block);
    if (known && block >= 512 && block <= (1u << 20))
        s->index.block = block;
    s->min_free = low_water(s->opts.min_free_bytes, known ? total : 0);
    s->index.max_disk = s->opts.max_bytes;
    s->stats.max_bytes = s->opts.max_bytes;
    s->stats.min_free_bytes = s->min_free;
}

/* Deletes one blob and its entry; returns the disk space it took. */
static uint64_t evict_one_locked(cas_store *s, cas_entry *e, int64_t now, bool for_space)
{
    uint64_t disk = e->disk;
    if (cas_index_is_pinned(e, now, false))
        s->stats.pins_broken++;
    char *p = cas_blob_file(s, &e->digest);
    unlink(p);
    free(p);
    cas_index_remove(&s->index, e);
    s->stats.evictions++;
    s->stats.space_evictions += for_space;
    return disk;
}

void cas_evict_locked(cas_store *s)
{
    int64_t now = rev2_now_ms();
    while (s->index.disk_bytes > s->opts.max_bytes) {
        cas_entry *e = cas_index_eviction_candidate(&s->index, now, false);
        if (!e)
            break; /* everything left is in use */
        evict_one_locked(s, e, now, false);
    }
    if (s->min_free && (s->space_short || now - s->space_read_ms >= SPACE_FRESH_MS))
        cas_make_room_locked(s, 0, false);
}

static void warn_space_locked(cas_store *s, uint64_t avail, uint64_t want, uint64_t need, uint64_t freed,
                              bool disk_full)
{
    int64_t now = rev2_now_ms();
    if (s->space_warned_ms && now - s->space_warned_ms < SPACE_WARN_EVERY_MS)
        return;
    s->space_warned_ms = now;
    GMB_WARN("cas",
             "%s: %s (%llu bytes free, %llu wanted for writing, cache.min_free_bytes keeps %llu): evicted %llu "
             "bytes of blobs%s; blobs left: %llu bytes on disk",
             s->dir, disk_full ? "a write failed for a full disk" : "making room on its file system",
             (unsigned long long)avail, (unsigned long long)want, (unsigned long long)s->min_free,
             (unsigned long long)freed,
             freed < need ? ", and nothing else can go (pinned or empty): free space on that file system or "
                            "lower cache.max_bytes"
                          : "",
             (unsigned long long)s->index.disk_bytes);
}

uint64_t cas_make_room_locked(cas_store *s, uint64_t want, bool disk_full)
{
    uint64_t total, avail = 0, block, need = 0;
    int64_t now = rev2_now_ms();
    if (fs_space(s->dir, &total, &avail, &block) && avail < s->min_free + want)
        need = s->min_free + want - avail;
    if (disk_full && need < want)
        need = want; /* a quota, or space statvfs does not see */
    s->space_read_ms = now;
    s->space_short = need > 0;
    if (need == 0)
        return 0;
    uint64_t freed = 0;
    while (freed < need) {
        cas_entry *e = cas_index_eviction_candidate(&s->index, now, false);
        if (!e && disk_full)
            e = cas_index_eviction_candidate(&s->index, now, true);
        if (!e)
            break;
        freed += evict_one_locked(s, e, now, true);
    }
    s->space_short = freed < need;
    warn_space_locked(s, avail, want, need, freed, disk_full);
    return freed;
}

bool cas_retry_after_full(cas_store *s, int rc, uint64_t want, int *tries)
{
    bool full = rc == -ENOSPC || rc == -EDQUOT;
    pthread_mutex_lock(&s->lock);
    bool again = full && *tries < WRITE_TRIES;
    if (again) {
        (*tries)++;
        /* Some slack for directory blocks and inodes, more each time. */
        again = cas_make_room_locked(s, want + ((uint64_t)*tries << 20), true) > 0;
    }
    if (again)
        s->stats.write_retries++;
    else
        s->stats.write_failures++;
    pthread_mutex_unlock(&s->lock);
    return again;
}

/* "20 MiB" */
static const char *human(uint64_t b, char out[32])
{
    static const char *unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return out;
}

static void add_line(char **all, char *line)
{
    char *joined = *all ? gmb_format("%s\n%s", *all, line) : gmb_strdup(line);
    free(*all);
    free(line);
    *all = joined;
}

char *cas_store_options_warnings(const cas_store_options *o)
{
    char *all = NULL;
    char a[32], b[32], c[32];
    const uint64_t gib = (uint64_t)1 << 30;
    if (o->max_bytes < gib)
        add_line(&all, gmb_format("cache.max_bytes is %s, under 1 GiB: a typical compiler toolchain does not fit in "
                                  "the local content store (gcc's cc1 alone is about 30 MB, a whole toolchain "
                                  "several hundred MB), so toolchain_included compiles cannot run remotely and are "
                                  "built locally, and any one file larger than %s is refused. Set cache.max_bytes to "
                                  "1 GiB or more (the default is 10 GiB)",
                                  human(o->max_bytes, a), a));
    uint64_t total, avail, block;
    if (!o->dir || !fs_space(o->dir, &total, &avail, &block))
        return all;
    uint64_t min_free = low_water(o->min_free_bytes, total);
    if (total < o->max_bytes + min_free)
        add_line(&all, gmb_format("cache.dir %s is on a file system of %s, smaller than cache.max_bytes (%s) plus "
                                  "the free space cache.min_free_bytes keeps (%s): the store will stay smaller than "
                                  "cache.max_bytes, evicting to keep that space free",
                                  o->dir, human(total, a), human(o->max_bytes, b), human(min_free, c)));
    else if (avail < min_free)
        add_line(&all, gmb_format("cache.dir %s has %s free, less than cache.min_free_bytes keeps (%s): the store "
                                  "evicts its blobs to give the space back until other files free some",
                                  o->dir, human(avail, a), human(min_free, b)));
    return all;
}

bool cas_error_is_client(int error)
{
    return error == -EINVAL;
}

const char *cas_error_words(int error)
{
    switch (error) {
    case 0:
        return "no error";
    case -EINVAL:
        return "the bytes do not match their digest";
    case -ENOENT:
        return "not in the content store";
    case -ENOSPC:
        return "no space left on the cache.dir file system, even after evicting";
    case -EDQUOT:
        return "the disk quota of cache.dir is exhausted, even after evicting";
    case -EFBIG:
        return "larger than the whole content store (cache.max_bytes)";
    case -EIO:
        return "I/O error in the content store (see the gateway's log)";
    default:
        return "the content store cannot write it (see the gateway's log)";
    }
}
