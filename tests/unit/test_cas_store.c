/* The local content store without a remote: writes, digests checked,
 * LRU eviction (pins respected), restart keeps the cache and its order,
 * crash leftovers and corrupted files are cleaned up. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cas_store.h"
#include "check.h"
#include "errmsg.h"

static char dir[] = "/tmp/gmb-cas-XXXXXX";

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
    cas_store_options o = {.dir = sub, .max_bytes = 3000, .fetch_timeout_ms = 1000};
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
    /* Over the limit with everything pinned: the store keeps going. */
    cas_blob *ha[3] = {hc, cas_store_open_blob(s, NULL, &de, &error), cas_store_open_blob(s, NULL, &dg, &error)};
    CHECK_INT(cas_store_put(s, &db, b, 1000), 0);
    cas_store_stats_get(s, &st);
    CHECK_INT(st.bytes, 3000); /* b itself was the only unpinned blob */
    for (int i = 0; i < 3; i++)
        cas_blob_close(ha[i]);
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

    s = open_store(600); /* room for one: the oldest (y) goes */
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

int main(void)
{
    if (!mkdtemp(dir))
        return 2;
    RUN(put_and_read);
    RUN(put_file_copies_and_hashes);
    RUN(lru_eviction_respects_pins);
    RUN(restart_keeps_blobs_and_order);
    RUN(corrupted_file_is_detected);
    char *rm = gmb_format("rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    return CHECK_REPORT();
}
