/* Remote reads into a store whose disk is full (a 64 MiB tmpfs mounted
 * for the test: root needed), from the real Buildbarn (instance argv[1]).
 *   - The disk full to the last byte: a fetch (BatchReadBlobs and
 *     ByteStream) makes room for its blob by evicting older ones when it
 *     starts, and arrives whole.
 *   - Several fetches at once that each fit the free space but not
 *     together: the writes that meet ENOSPC evict and try again, and every
 *     blob arrives whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cas_remote.h"
#include "cas_store.h"
#include "errmsg.h"

#define MIB (1u << 20)

static char mnt[] = "/tmp/gmb-cas-fetch-full-XXXXXX";

static uint64_t fs_free(void)
{
    struct statvfs v;
    return statvfs(mnt, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : 0;
}

/* 1 MiB local blobs, `n` of them: what eviction can give back. */
static void fill_store(cas_store *s, int first, int n)
{
    static uint8_t blob[MIB];
    for (int i = first; i < first + n; i++) {
        memset(blob, 'a' + i % 26, sizeof blob);
        snprintf((char *)blob, 48, "local blob %d %llu", i, (unsigned long long)nonce);
        rev2_digest d;
        rev2_digest_of_bytes(blob, sizeof blob, &d);
        CHECK_INT(cas_store_put(s, &d, blob, sizeof blob), 0);
    }
}

/* Fills the disk with a file outside the store, then gives back `leave`
 * bytes of it. */
static void fill_disk(int fd, uint64_t leave)
{
    static uint8_t junk[MIB];
    while (write(fd, junk, sizeof junk) > 0)
        ;
    off_t end = lseek(fd, 0, SEEK_END);
    if (leave && ftruncate(fd, end > (off_t)leave ? end - (off_t)leave : 0) < 0)
        perror("ftruncate");
}

/* Opens every blob at once, then waits for each and compares its bytes. */
static int fetch_all(cas_store *s, rev2_digest *d, uint8_t **want, int n)
{
    cas_blob *h[16];
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int error = 0;
        h[i] = cas_store_open_blob(s, instance, &d[i], &error);
        CHECK(h[i] != NULL);
    }
    for (int i = 0; i < n; i++) {
        if (!h[i]) {
            bad++;
            continue;
        }
        int rc = cas_blob_wait(h[i]);
        uint8_t *got = malloc((size_t)d[i].size);
        ssize_t r = rc == 0 ? cas_blob_pread(h[i], got, (size_t)d[i].size, 0) : rc;
        if (r != d[i].size || memcmp(got, want[i], (size_t)d[i].size) != 0) {
            fprintf(stderr, "  blob %d (%lld bytes): %s\n", i, (long long)d[i].size,
                    r < 0 ? strerror((int)-r) : "wrong bytes");
            bad++;
        }
        free(got);
        cas_blob_close(h[i]);
    }
    return bad;
}

static cas_store *open_store(const char *name)
{
    char *dir = gmb_format("%s/%s", mnt, name);
    /* max_bytes far above the disk, no low-water mark: only ENOSPC and
     * the space a fetch needs make the store give anything back. */
    cas_store_options o = {.dir = dir, .max_bytes = 1ull << 30, .fetch_timeout_ms = 30000};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, client, &err);
    if (!s)
        fprintf(stderr, "open %s: %s\n", dir, err);
    free(dir);
    return s;
}

static void fetch_into_a_full_disk(void)
{
    cas_store *s = open_store("full");
    fill_store(s, 0, 24);
    char *path = gmb_format("%s/outside-file", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    fill_disk(fd, 0);
    CHECK(fs_free() < MIB);
    rev2_digest d[2];
    uint8_t *want[2] = {remote_blob(MIB + MIB / 2, 1, &d[0]), remote_blob(6 * MIB, 2, &d[1])};
    CHECK_INT(fetch_all(s, &d[0], &want[0], 1), 0); /* BatchReadBlobs */
    CHECK_INT(fetch_all(s, &d[1], &want[1], 1), 0); /* ByteStream */
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetch_failures, 0);
    CHECK(st.space_evictions >= 7);
    CHECK(cas_store_contains(s, &d[0]) && cas_store_contains(s, &d[1]));
    for (int i = 0; i < 2; i++)
        free(want[i]);
    cas_store_close(s);
    close(fd);
    unlink(path);
    free(path);
}

static void fetches_that_together_overflow(void)
{
    cas_store *s = open_store("together");
    fill_store(s, 100, 24);
    char *path = gmb_format("%s/outside-file", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    /* 3 MiB free: each blob fits when its fetch starts, so nothing is
     * evicted then; 14 MiB arrive. */
    fill_disk(fd, 3 * MIB);
    enum { N = 6 };
    rev2_digest d[N];
    uint8_t *want[N];
    for (int i = 0; i < N; i++)
        want[i] = remote_blob(i < 4 ? MIB + MIB / 2 : 4 * MIB, 10 + i, &d[i]);
    CHECK_INT(fetch_all(s, d, want, N), 0);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetch_failures, 0);
    CHECK(st.write_retries > 0);
    if (st.write_retries == 0)
        fprintf(stderr, "  no write met ENOSPC (free: %llu)\n", (unsigned long long)fs_free());
    for (int i = 0; i < N; i++) {
        CHECK(cas_store_contains(s, &d[i]));
        free(want[i]);
    }
    cas_store_close(s);
    close(fd);
    unlink(path);
    free(path);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !mkdtemp(mnt))
        return 2;
    if (mount("gomabarn-test", mnt, "tmpfs", 0, "size=64m") < 0) {
        fprintf(stderr, "cannot mount a tmpfs at %s (%s): this test needs root\n", mnt, strerror(errno));
        rmdir(mnt);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    cas_remote_start(argv[1]);
    RUN(fetch_into_a_full_disk);
    RUN(fetches_that_together_overflow);
    rev2_client_free(client);
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return CHECK_REPORT();
}
