/* The content store on a disk that really fills up: a 64 MiB tmpfs
 * mounted for the test (root needed) is cache.dir. The store fills it by
 * itself (max_bytes far above the disk), then a file outside the store
 * takes the space; in both cases a put that hits ENOSPC evicts older
 * blobs and goes on. With nothing left to evict the put fails with
 * -ENOSPC at once. A low-water mark (min_free_bytes) keeps free space
 * ahead of the writes, so they never hit ENOSPC at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../unit/check.h"
#include "cas_store.h"
#include "errmsg.h"

#define MIB (1u << 20)

static char mnt[] = "/tmp/gmb-cas-full-XXXXXX";
static uint8_t blob[MIB];

/* A 1 MiB blob, different for every n. */
static rev2_digest make_blob(int n)
{
    memset(blob, 'a' + n % 26, sizeof blob);
    snprintf((char *)blob, 32, "blob %d", n);
    rev2_digest d;
    rev2_digest_of_bytes(blob, sizeof blob, &d);
    return d;
}

static int put_blob(cas_store *s, int n, rev2_digest *out)
{
    rev2_digest d = make_blob(n);
    if (out)
        *out = d;
    return cas_store_put(s, &d, blob, sizeof blob);
}

static uint64_t fs_free(void)
{
    struct statvfs v;
    return statvfs(mnt, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : 0;
}

static cas_store *open_store(const char *name, int64_t min_free)
{
    char *dir = gmb_format("%s/%s", mnt, name);
    cas_store_options o = {.dir = dir, .max_bytes = (uint64_t)1 << 30, .min_free_bytes = min_free};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", dir, err);
    free(dir);
    return s;
}

static void remove_store(const char *name)
{
    char *rm = gmb_format("rm -rf '%s/%s'", mnt, name);
    if (system(rm) != 0)
        fprintf(stderr, "%s failed\n", rm);
    free(rm);
}

/* Appends 1 MiB pieces to a file outside the store until `bytes` are
 * written or the disk is full; returns what was written. */
static uint64_t grow_outside(int fd, uint64_t bytes)
{
    static uint8_t junk[MIB];
    uint64_t done = 0;
    while (done < bytes) {
        ssize_t w = write(fd, junk, sizeof junk);
        if (w <= 0)
            break;
        done += (uint64_t)w;
    }
    return done;
}

static void store_fills_the_disk_itself(void)
{
    /* max_bytes is 1 GiB on a 64 MiB disk: only ENOSPC stops it. */
    cas_store *s = open_store("self", 0);
    int failed = 0;
    rev2_digest last[5];
    for (int i = 0; i < 120; i++) {
        rev2_digest d;
        int rc = put_blob(s, i, &d);
        failed += rc != 0;
        if (rc != 0)
            fprintf(stderr, "put %d: %s\n", i, strerror(-rc));
        last[i % 5] = d;
    }
    CHECK_INT(failed, 0);
    for (int i = 0; i < 5; i++)
        CHECK(cas_store_contains(s, &last[i]));
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK(st.write_retries > 0);
    CHECK(st.space_evictions > 0);
    CHECK(st.disk_bytes <= 64 * MIB);
    CHECK_INT(st.write_failures, 0);
    cas_store_close(s);
    remove_store("self");
}

static void outside_file_takes_the_space(void)
{
    char *path = gmb_format("%s/outside-file", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_INT(grow_outside(fd, 30 * MIB), 30 * MIB);
    cas_store *s = open_store("shared", 0);
    for (int i = 0; i < 20; i++)
        CHECK_INT(put_blob(s, 1000 + i, NULL), 0);
    /* All of them held by a timed pin (goma chunks waiting): a full
     * disk breaks those too rather than failing every write. */
    rev2_digest pinned[20];
    for (int i = 0; i < 20; i++)
        pinned[i] = make_blob(1000 + i);
    cas_pin *pin = cas_store_pin(s, pinned, 20, 60000, NULL);
    CHECK_INT(cas_pin_count(pin), 20);
    /* Another program fills the disk to the last byte. */
    grow_outside(fd, 64 * MIB);
    CHECK(fs_free() < MIB);
    /* Every put still succeeds, by evicting older blobs. */
    int failed = 0;
    for (int i = 0; i < 30; i++) {
        rev2_digest d;
        int rc = put_blob(s, 2000 + i, &d);
        failed += rc != 0 || !cas_store_contains(s, &d);
    }
    CHECK_INT(failed, 0);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK(st.write_retries > 0);
    CHECK(st.pins_broken > 0);
    cas_pin_release(pin);
    /* Everything left open (pinned by handles, an upload in progress) and
     * the disk full: the put fails at once with ENOSPC, the server's
     * error, not the client's. */
    cas_blob *open_handles[64];
    size_t n_open = 0;
    for (int i = 0; i < 50 && n_open < 64; i++) {
        rev2_digest d = make_blob(i < 20 ? 1000 + i : 2000 + i - 20);
        int error = 0;
        cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
        if (h)
            open_handles[n_open++] = h;
    }
    grow_outside(fd, 64 * MIB);
    int rc = put_blob(s, 3000, NULL);
    CHECK_INT(rc, -ENOSPC);
    CHECK(!cas_error_is_client(rc));
    /* Closed again: the next put makes room and succeeds. */
    for (size_t i = 0; i < n_open; i++)
        cas_blob_close(open_handles[i]);
    CHECK_INT(put_blob(s, 3001, NULL), 0);
    cas_store_close(s);
    close(fd);
    unlink(path);
    free(path);
    remove_store("shared");
}

static void low_water_mark_keeps_ahead(void)
{
    /* Keep 16 MiB free: puts evict before the disk fills, no write
     * ever meets ENOSPC, and other programs keep their space. */
    cas_store *s = open_store("lowwater", 16 * MIB);
    uint64_t lowest = UINT64_MAX;
    int failed = 0;
    for (int i = 0; i < 100; i++) {
        failed += put_blob(s, 4000 + i, NULL) != 0;
        uint64_t f = fs_free();
        lowest = f < lowest ? f : lowest;
    }
    CHECK_INT(failed, 0);
    CHECK(lowest >= 15 * MIB);
    if (lowest < 15 * MIB)
        fprintf(stderr, "free space fell to %llu\n", (unsigned long long)lowest);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.write_retries, 0);
    CHECK(st.space_evictions > 0);
    CHECK_INT(st.min_free_bytes, 16 * MIB);
    /* Another program takes space below the mark: the store gives its
     * own back on the next put. */
    char *path = gmb_format("%s/outside-file", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    grow_outside(fd, fs_free() - 4 * MIB);
    CHECK_INT(put_blob(s, 5000, NULL), 0);
    CHECK(fs_free() >= 15 * MIB);
    close(fd);
    unlink(path);
    free(path);
    cas_store_close(s);
    remove_store("lowwater");
}

int main(void)
{
    if (!mkdtemp(mnt))
        return 2;
    if (mount("gomabarn-test", mnt, "tmpfs", 0, "size=64m") < 0) {
        fprintf(stderr, "cannot mount a tmpfs at %s (%s): this test needs root\n", mnt, strerror(errno));
        rmdir(mnt);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(store_fills_the_disk_itself);
    RUN(outside_file_takes_the_space);
    RUN(low_water_mark_keeps_ahead);
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return CHECK_REPORT();
}
