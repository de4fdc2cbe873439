/* The local content store without a remote: writes, digests checked,
 * LRU eviction (pins respected), restart keeps the cache and its order,
 * crash leftovers and corrupted files are cleaned up; timed pins hold and
 * expire, max_bytes bounds disk blocks (many small blobs), a blob larger
 * than the store is refused, writers stream, errors say whose fault; one
 * store per directory at a time. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cas_store.h"
#include "check.h"
#include "errmsg.h"

static char dir[] = "/tmp/gmb-cas-XXXXXX";
static uint64_t blk; /* the file system's block: what a small blob costs */

static rev2_digest blob_of(char fill, size_t n, uint8_t **data)
{
    *data = malloc(n);
    memset(*data, fill, n);
    rev2_digest d;
    rev2_digest_of_bytes(*data, n, &d);
    return d;
}

static cas_store *open_store(uint64_t max_bytes)
{
    cas_store_options o = {.dir = dir, .max_bytes = max_bytes, .fetch_timeout_ms = 1000};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    if (!s)
        fprintf(stderr, "open: %s\n", err);
    return s;
}

static void put_and_read(void)
{
    cas_store *s = open_store(1 << 20);
    uint8_t *data;
    rev2_digest d = blob_of('a', 1000, &data);
    CHECK_INT(cas_store_put(s, &d, data, 1000), 0);
    CHECK(cas_store_contains(s, &d));
    uint8_t *back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &d, &back), 0);
    CHECK(back && memcmp(back, data, 1000) == 0);
    free(back);
    /* A ranged read and a read past the end. */
    int error = 0;
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    char buf[16];
    CHECK_INT(cas_blob_pread(h, buf, 16, 990), 10);
    CHECK_INT(cas_blob_pread(h, buf, 16, 1000), 0);
    CHECK(cas_blob_path(h) != NULL);
    cas_blob_close(h);
    /* Bytes that do not match the digest are refused and not stored. */
    data[0] = 'b';
    rev2_digest wrong = d;
    CHECK_INT(cas_store_put(s, &wrong, data, 1000), -EINVAL);
    rev2_digest other;
    rev2_digest_of_bytes(data, 1000, &other);
    CHECK(!cas_store_contains(s, &other));
    /* The empty blob is always there. */
    h = cas_store_open_blob(s, NULL, &rev2_empty_digest, &error);
    CHECK(h != NULL);
    CHECK_INT(cas_blob_pread(h, buf, 16, 0), 0);
    cas_blob_close(h);
    /* Unknown and no remote: ENOENT at once. */
    uint8_t *z;
    rev2_digest unknown = blob_of('z', 10, &z);
    CHECK(cas_store_open_blob(s, NULL, &unknown, &error) == NULL);
    CHECK_INT(error, -ENOENT);
    free(z);
    free(data);
    cas_store_close(s);
}

static void put_file_copies_and_hashes(void)
{
    cas_store *s = open_store(1 << 20);
    char *path = gmb_format("%s-input", dir);
    FILE *f = fopen(path, "w");
    fputs("int x;\n", f);
    fclose(f);
    rev2_digest d, want;
    rev2_digest_of_bytes("int x;\n", 7, &want);
    CHECK_INT(cas_store_put_file(s, path, &d), 0);
    CHECK(rev2_digest_equal(&d, &want));
    CHECK(cas_store_contains(s, &want));
    CHECK_INT(cas_store_put_file(s, "/nonexistent/x", &d), -ENOENT);
    unlink(path);
    free(path);
    cas_store_close(s);
}

static void lru_eviction_respects_pins(void)
{
    /* A directory of its own: no blobs from other tests. */
    char *sub = gmb_format("%s/lru", dir);
    cas_store_options o = {.dir = sub, .max_bytes = 3 * blk, .fetch_timeout_ms = 1000};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    uint8_t *a, *b, *c, *e, *g;
    rev2_digest da = blob_of('1', 1000, &a), db = blob_of('2', 1000, &b), dc = blob_of('3', 1000, &c),
                de = blob_of('4', 1000, &e), dg = blob_of('5', 1000, &g);
    cas_store_put(s, &da, a, 1000);
    cas_store_put(s, &db, b, 1000);
    cas_store_put(s, &dc, c, 1000);
    /* Reading a makes b the least recently used: adding e evicts b. */
    int error;
    cas_blob_close(cas_store_open_blob(s, NULL, &da, &error));
    cas_store_put(s, &de, e, 1000);
    CHECK(cas_store_contains(s, &da));
    CHECK(!cas_store_contains(s, &db));
    CHECK(cas_store_contains(s, &dc));
    CHECK(cas_store_contains(s, &de));
    /* Pin c, then read a and e so c is the oldest: adding g must evict a
     * (the oldest unpinned), not c. */
    cas_blob *hc = cas_store_open_blob(s, NULL, &dc, &error);
    cas_blob_close(cas_store_open_blob(s, NULL, &da, &error));
    cas_blob_close(cas_store_open_blob(s, NULL, &de, &error));
    cas_store_put(s, &dg, g, 1000);
    CHECK(cas_store_contains(s, &dc));
    CHECK(!cas_store_contains(s, &da));
    CHECK(cas_store_contains(s, &de));
    CHECK(cas_store_contains(s, &dg));
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.evictions, 2);
    CHECK_INT(st.bytes, 3000);
    CHECK_INT(st.disk_bytes, 3 * blk);
    /* Over the limit with everything pinned: the store keeps going, and
     * the put that succeeded leaves its blob there. */
    cas_blob *ha[3] = {hc, cas_store_open_blob(s, NULL, &de, &error), cas_store_open_blob(s, NULL, &dg, &error)};
    CHECK_INT(cas_store_put(s, &db, b, 1000), 0);
    CHECK(cas_store_contains(s, &db));
    cas_store_stats_get(s, &st);
    CHECK_INT(st.disk_bytes, 4 * blk);
    for (int i = 0; i < 3; i++)
        cas_blob_close(ha[i]);
    cas_store_stats_get(s, &st);
    CHECK_INT(st.disk_bytes, 3 * blk); /* back under the limit once unpinned */
    free(a), free(b), free(c), free(e), free(g);
    cas_store_close(s);
    free(sub);
}

static void restart_keeps_blobs_and_order(void)
{
    char *path;
    cas_store *s = open_store(1 << 20);
    uint8_t *x, *y;
    rev2_digest dx = blob_of('x', 500, &x), dy = blob_of('y', 500, &y);
    cas_store_put(s, &dx, x, 500);
    usleep(20000);
    cas_store_put(s, &dy, y, 500);
    usleep(20000);
    int error;
    cas_blob_close(cas_store_open_blob(s, NULL, &dx, &error)); /* x is now the newest */
    cas_store_close(s);

    /* A crash would leave half-written files here. */
    path = gmb_format("%s/tmp/leftover", dir);
    FILE *f = fopen(path, "w");
    fputs("half", f);
    fclose(f);
    /* And a stray file in blobs/ is not a blob. */
    char *stray = gmb_format("%s/blobs/zz", dir);
    mkdir(stray, 0755);
    char *stray_file = gmb_format("%s/not-a-blob", stray);
    f = fopen(stray_file, "w");
    fclose(f);

    s = open_store(blk + blk / 2); /* room for one: the oldest (y) goes */
    CHECK(cas_store_contains(s, &dx));
    CHECK(!cas_store_contains(s, &dy));
    CHECK(access(path, F_OK) != 0);
    CHECK(access(stray_file, F_OK) != 0);
    uint8_t *back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &dx, &back), 0);
    CHECK(back && memcmp(back, x, 500) == 0);
    free(back);
    cas_store_close(s);
    free(path), free(stray), free(stray_file), free(x), free(y);
}

static void corrupted_file_is_detected(void)
{
    cas_store *s = open_store(1 << 20);
    uint8_t *c;
    rev2_digest dc = blob_of('c', 4096, &c);
    cas_store_put(s, &dc, c, 4096);
    cas_store_close(s);
    /* Flip one byte on disk while the daemon is down. */
    char *p = gmb_format("%s/blobs/%.2s/%s-4096", dir, dc.hash, dc.hash);
    FILE *f = fopen(p, "r+");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 100, SEEK_SET);
        fputc('X', f);
        fclose(f);
    }
    s = open_store(1 << 20);
    CHECK(cas_store_contains(s, &dc)); /* known, not yet re-checked */
    int error = 0;
    cas_blob *h = cas_store_open_blob(s, NULL, &dc, &error);
    /* No remote to fetch a good copy from: the bad one is gone, not served. */
    CHECK(h == NULL);
    CHECK_INT(error, -ENOENT);
    CHECK(!cas_store_contains(s, &dc));
    CHECK(access(p, F_OK) != 0);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.corrupt, 1);
    cas_store_close(s);
    free(p);
    free(c);
}

static cas_store *open_sub(const char *name, uint64_t max_bytes, int64_t pin_timeout_ms)
{
    char *sub = gmb_format("%s/%s", dir, name);
    cas_store_options o = {
        .dir = sub, .max_bytes = max_bytes, .fetch_timeout_ms = 1000, .pin_timeout_ms = pin_timeout_ms};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, NULL, &err);
    if (!s)
        fprintf(stderr, "open: %s\n", err);
    free(sub);
    return s;
}

static void timed_pins_hold_and_expire(void)
{
    cas_store *s = open_sub("pins", 3 * blk, 400); /* pins hold 400 ms at most */
    uint8_t *a, *b, *c, *d, *e, *g;
    rev2_digest da = blob_of('a', 100, &a), db = blob_of('b', 100, &b), dc = blob_of('c', 100, &c),
                dd = blob_of('d', 100, &d), de = blob_of('e', 100, &e), dg = blob_of('g', 100, &g);
    cas_store_put(s, &da, a, 100);
    cas_store_put(s, &db, b, 100);
    cas_store_put(s, &dc, c, 100);
    /* a is the oldest but pinned (a goma chunk waiting for its FILE_META):
     * d evicts b instead. A digest not in the store is counted missing. */
    rev2_digest set[2] = {da, dg};
    size_t missing = 0;
    cas_pin *pa = cas_store_pin(s, set, 2, 0, &missing);
    CHECK_INT(missing, 1);
    CHECK_INT(cas_pin_count(pa), 1);
    cas_store_put(s, &dd, d, 100);
    CHECK(cas_store_contains(s, &da));
    CHECK(!cas_store_contains(s, &db));
    /* Two pins on c add up: releasing one leaves it pinned. */
    cas_pin *pc1 = cas_store_pin(s, &dc, 1, 10000, NULL), *pc2 = cas_store_pin(s, &dc, 1, 10000, NULL);
    cas_pin_release(pc1);
    cas_store_put(s, &de, e, 100); /* a and c pinned: d goes */
    CHECK(cas_store_contains(s, &da));
    CHECK(cas_store_contains(s, &dc));
    CHECK(!cas_store_contains(s, &dd));
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.timed_pins, 2);
    /* A client that never comes back: a's pin expires and a, the oldest,
     * goes next. Releasing the expired set afterwards is harmless. */
    usleep(500000);
    cas_store_put(s, &dg, g, 100);
    CHECK(!cas_store_contains(s, &da));
    CHECK(cas_store_contains(s, &dc)); /* its own pin said 10 s */
    cas_pin_release(pa);
    /* Released early: c is evictable at once, oldest first. */
    cas_pin_release(pc2);
    cas_store_put(s, &da, a, 100);
    CHECK(!cas_store_contains(s, &dc));
    CHECK(cas_store_contains(s, &de) && cas_store_contains(s, &dg) && cas_store_contains(s, &da));
    cas_store_stats_get(s, &st);
    CHECK_INT(st.timed_pins, 0);
    CHECK_INT(st.pins_broken, 0);
    free(a), free(b), free(c), free(d), free(e), free(g);
    cas_store_close(s);
}

/* st_blocks of every file under path, in bytes. */
static uint64_t disk_used(const char *path, uint64_t *files)
{
    uint64_t total = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = gmb_format("%s/%s", path, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            total += disk_used(p, files);
        else if (stat(p, &st) == 0) {
            total += (uint64_t)st.st_blocks * 512;
            (*files)++;
        }
        free(p);
    }
    if (d)
        closedir(d);
    return total;
}

static void many_small_blobs_stay_under_max_in_blocks(void)
{
    /* 1,000 blobs of 100 bytes: 100 KB of content, which counted as
     * bytes would fit, but each takes a block (4 MB in all). Under a
     * 256 KiB limit only 256 KiB / block of them stay. */
    const uint64_t max = 256 << 10;
    cas_store *s = open_sub("small", max, 0);
    for (int i = 0; i < 1000; i++) {
        char buf[100];
        memset(buf, 'x', sizeof buf);
        snprintf(buf, sizeof buf, "small blob %d", i);
        rev2_digest d;
        rev2_digest_of_bytes(buf, sizeof buf, &d);
        CHECK_INT(cas_store_put(s, &d, buf, sizeof buf), 0);
    }
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK(st.disk_bytes <= max);
    CHECK_INT(st.disk_bytes, st.blobs * blk);
    CHECK_INT(st.bytes, st.blobs * 100);
    CHECK_INT(st.max_bytes, max);
    CHECK_INT(st.blobs, max / blk);
    char *blobs = gmb_format("%s/small/blobs", dir);
    uint64_t files = 0, used = disk_used(blobs, &files);
    CHECK_INT(files, st.blobs);
    CHECK(used <= max); /* what the disk says, not what we count */
    if (used > max)
        fprintf(stderr, "st_blocks total %llu > %llu\n", (unsigned long long)used, (unsigned long long)max);
    free(blobs);
    cas_store_close(s);
}

static void blob_larger_than_store_is_refused(void)
{
    const uint64_t max = 64 << 10;
    cas_store *s = open_sub("large", max, 0);
    uint8_t *small, *big;
    rev2_digest ds = blob_of('s', 1000, &small), dbig = blob_of('B', 100 << 10, &big);
    CHECK_INT(cas_store_put(s, &ds, small, 1000), 0);
    /* Refused at once, with nothing else evicted for it. */
    CHECK_INT(cas_store_put(s, &dbig, big, 100 << 10), -EFBIG);
    CHECK(!cas_store_contains(s, &dbig));
    CHECK(cas_store_contains(s, &ds));
    int error = 0;
    CHECK(cas_writer_new(s, 100 << 10, &error) == NULL);
    CHECK_INT(error, -EFBIG);
    /* Size unknown up front: refused once the bytes pass the limit. */
    cas_writer *w = cas_writer_new(s, -1, &error);
    CHECK(w != NULL);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < (100 << 10); off += 16 << 10)
        rc = cas_writer_write(w, big + off, 16 << 10);
    CHECK_INT(rc, -EFBIG);
    cas_writer_abort(w);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.too_large, 3);
    CHECK_INT(st.evictions, 0);
    CHECK_INT(st.blobs, 1);
    CHECK(!cas_error_is_client(-EFBIG) && !cas_error_is_client(-ENOSPC) && cas_error_is_client(-EINVAL));
    CHECK(strstr(cas_error_words(-EFBIG), "cache.max_bytes") != NULL);
    CHECK(strstr(cas_error_words(-ENOSPC), "no space") != NULL);
    /* Warned about at start: a toolchain does not fit under 1 GiB. */
    cas_store_options o = {.dir = dir, .max_bytes = 20 << 20};
    char *warning = cas_store_options_warnings(&o);
    CHECK(warning && strstr(warning, "under 1 GiB") && strstr(warning, "toolchain"));
    free(warning);
    free(small), free(big);
    cas_store_close(s);
}

static void writer_streams_and_checks_its_size(void)
{
    cas_store *s = open_sub("writer", 1 << 20, 0);
    uint8_t *data;
    rev2_digest want = blob_of('w', 300000, &data);
    int error = 0;
    cas_writer *w = cas_writer_new(s, 300000, &error);
    for (size_t off = 0; off < 300000; off += 100000)
        CHECK_INT(cas_writer_write(w, data + off, 100000), 0);
    rev2_digest got;
    CHECK_INT(cas_writer_finish(w, &got), 0);
    CHECK(rev2_digest_equal(&got, &want));
    CHECK(cas_store_contains(s, &want));
    /* Fewer or more bytes than announced: refused, nothing stored. */
    w = cas_writer_new(s, 1000, &error);
    CHECK_INT(cas_writer_write(w, data, 500), 0);
    CHECK_INT(cas_writer_finish(w, &got), -EINVAL);
    w = cas_writer_new(s, 10, &error);
    CHECK_INT(cas_writer_write(w, data, 11), -EINVAL);
    cas_writer_abort(w);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.blobs, 1);
    char *tmp = gmb_format("%s/writer/tmp", dir);
    uint64_t files = 0;
    disk_used(tmp, &files);
    CHECK_INT(files, 0); /* nothing left behind */
    free(tmp);
    free(data);
    cas_store_close(s);
}

static void second_open_of_a_directory_fails(void)
{
    cas_store *s = open_store(1 << 20);
    CHECK(s != NULL);
    CHECK(cas_store_dir_in_use("/nonexistent/gmb-cas") == NULL);
    char *busy = cas_store_dir_in_use(dir);
    char *want = gmb_format("cache.dir %s is in use by another gomabarn (pid %ld); give each gateway its own cache.dir",
                            dir, (long)getpid());
    CHECK_STR(busy, want);
    free(busy);
    /* A second opener, even in this process, fails at once and says who. */
    cas_store_options o = {.dir = dir, .max_bytes = 1 << 20};
    char *err = NULL;
    cas_store *again = cas_store_open(&o, NULL, &err);
    CHECK(again == NULL);
    CHECK_STR(err, want);
    free(err);
    free(want);
    /* A blob the first store holds survives the second's attempt (it did
     * not scan, clear or evict). */
    uint8_t *data;
    rev2_digest d = blob_of('L', 100, &data);
    CHECK_INT(cas_store_put(s, &d, data, 100), 0);
    err = NULL;
    CHECK(cas_store_open(&o, NULL, &err) == NULL);
    free(err);
    CHECK(cas_store_contains(s, &d));
    cas_store_close(s);
    /* Closed: free for the next one, and nobody is said to hold it. */
    CHECK(cas_store_dir_in_use(dir) == NULL);
    s = open_store(1 << 20);
    CHECK(s != NULL);
    CHECK(s && cas_store_contains(s, &d));
    cas_store_close(s);
    free(data);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    struct statvfs v;
    blk = statvfs(dir, &v) == 0 && v.f_frsize ? v.f_frsize : 4096;
    RUN(put_and_read);
    RUN(put_file_copies_and_hashes);
    RUN(lru_eviction_respects_pins);
    RUN(restart_keeps_blobs_and_order);
    RUN(corrupted_file_is_detected);
    RUN(timed_pins_hold_and_expire);
    RUN(many_small_blobs_stay_under_max_in_blocks);
    RUN(blob_larger_than_store_is_refused);
    RUN(writer_streams_and_checks_its_size);
    RUN(second_open_of_a_directory_fails);
    char *rm = gmb_format("rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    return CHECK_REPORT();
}
