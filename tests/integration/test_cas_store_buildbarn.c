/* cas_store reading through to a real Buildbarn (instance argv[1]):
 *   - a small blob (BatchReadBlobs) and a large one (ByteStream) equal to
 *     what was uploaded, ranges included;
 *   - 32 concurrent readers of one uncached blob cause exactly one fetch;
 *   - the first page of a 64 MiB blob is served before the blob is whole;
 *   - a blob Buildbarn lacks: EIO, logged, no hang, and the next open
 *     tries again;
 *   - a cached file corrupted while the daemon was down is detected and
 *     fetched again;
 *   - Buildbarn unreachable: EIO quickly. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cas_remote.h"
#include "cas_store.h"
#include "errmsg.h"

static char dir[] = "/tmp/gmb-cas-bb-XXXXXX";

static cas_store *open_store(rev2_client *remote, const char *sub)
{
    char *path = gmb_format("%s/%s", dir, sub);
    cas_store_options o = {.dir = path, .max_bytes = 1ull << 30, .fetch_timeout_ms = 20000};
    char *err = NULL;
    cas_store *s = cas_store_open(&o, remote, &err);
    if (!s)
        fprintf(stderr, "%s\n", err);
    free(path);
    return s;
}

static void small_and_large_equal_to_upload(void)
{
    cas_store *s = open_store(client, "a");
    rev2_digest ds, dl;
    uint8_t *small = remote_blob(3000, 1, &ds);
    uint8_t *large = remote_blob(20u << 20, 2, &dl);
    uint8_t *back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &ds, &back), 0);
    CHECK(back && memcmp(back, small, 3000) == 0);
    free(back);
    int error;
    cas_blob *h = cas_store_open_blob(s, NULL, &dl, &error);
    uint8_t *buf = malloc(1 << 20);
    /* Out of order ranges, then the tail. */
    CHECK_INT(cas_blob_pread(h, buf, 1 << 20, 7u << 20), 1 << 20);
    CHECK(memcmp(buf, large + (7u << 20), 1 << 20) == 0);
    CHECK_INT(cas_blob_pread(h, buf, 4096, 0), 4096);
    CHECK(memcmp(buf, large, 4096) == 0);
    CHECK_INT(cas_blob_pread(h, buf, 1 << 20, (20u << 20) - 100), 100);
    CHECK(memcmp(buf, large + (20u << 20) - 100, 100) == 0);
    CHECK_INT(cas_blob_wait(h), 0);
    cas_blob_close(h);
    CHECK(cas_store_contains(s, &dl));
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetches, 2);
    CHECK_INT(st.fetch_bytes, 3000 + (20u << 20));
    /* Now local: no more fetches. */
    CHECK_INT(cas_store_read_all(s, NULL, &dl, &back), 0);
    CHECK(back && memcmp(back, large, 20u << 20) == 0);
    free(back);
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetches, 2);
    CHECK(st.hits >= 1);
    free(buf);
    free(small);
    free(large);
    cas_store_close(s);
}

typedef struct {
    cas_store *store;
    const rev2_digest *digest;
    const uint8_t *expect;
    pthread_barrier_t *start;
    int ok;
} reader;

static void *read_whole(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(r->start);
    uint8_t *back = NULL;
    r->ok = cas_store_read_all(r->store, NULL, r->digest, &back) == 0 &&
            memcmp(back, r->expect, (size_t)r->digest->size) == 0;
    free(back);
    return NULL;
}

static void concurrent_readers_share_one_fetch(void)
{
    cas_store *s = open_store(client, "b");
    rev2_digest d;
    uint8_t *data = remote_blob(24u << 20, 3, &d);
    enum { N = 32 };
    pthread_t t[N];
    reader r[N];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    for (int i = 0; i < N; i++) {
        r[i] = (reader){s, &d, data, &start, 0};
        pthread_create(&t[i], NULL, read_whole, &r[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].ok;
    }
    pthread_barrier_destroy(&start);
    CHECK_INT(ok, N);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetches, 1);
    CHECK_INT(st.misses + st.hits, N);
    fprintf(stderr, "  %d readers: %llu fetch, %llu joined it, %llu read it from disk\n", N,
            (unsigned long long)st.fetches, (unsigned long long)st.misses, (unsigned long long)st.hits);
    free(data);
    cas_store_close(s);
}

static void first_page_before_the_whole_blob(void)
{
    cas_store *s = open_store(client, "c");
    rev2_digest d;
    uint8_t *data = remote_blob(64u << 20, 4, &d);
    int error;
    int64_t t0 = rev2_now_us();
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    uint8_t page[4096];
    CHECK_INT(cas_blob_pread(h, page, sizeof page, 0), 4096);
    int64_t first = rev2_now_us() - t0;
    bool whole_already = cas_store_contains(s, &d);
    CHECK(memcmp(page, data, sizeof page) == 0);
    CHECK_INT(cas_blob_wait(h), 0);
    int64_t all = rev2_now_us() - t0;
    CHECK(!whole_already); /* the first page did not wait for the blob */
    CHECK(first < all);
    fprintf(stderr, "  64 MiB blob: first 4 KiB after %.1f ms, whole and verified after %.1f ms\n", first / 1000.0,
            all / 1000.0);
    cas_blob_close(h);
    free(data);
    cas_store_close(s);
}

static void absent_blob_fails_with_eio(void)
{
    cas_store *s = open_store(client, "d");
    uint8_t junk[100];
    memset(junk, 0x5a, sizeof junk);
    memcpy(junk, &nonce, sizeof nonce);
    rev2_digest d;
    rev2_digest_of_bytes(junk, sizeof junk, &d); /* never uploaded */
    int error;
    int64_t t0 = rev2_now_ms();
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    CHECK(h != NULL);
    char buf[10];
    CHECK_INT(cas_blob_pread(h, buf, sizeof buf, 0), -EIO);
    CHECK(rev2_now_ms() - t0 < 5000);
    cas_blob_close(h);
    CHECK(!cas_store_contains(s, &d));
    /* Once it exists, the next open fetches it. */
    rev2_blob b = {.digest = d, .data = junk};
    rev2_error *e = rev2_upload_sync(client, NULL, &b, 1);
    rev2_error_free(e);
    uint8_t *back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &d, &back), 0);
    CHECK(back && memcmp(back, junk, sizeof junk) == 0);
    free(back);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetches, 2);
    CHECK_INT(st.fetch_failures, 1);
    cas_store_close(s);
}

static void corrupted_cache_file_is_fetched_again(void)
{
    cas_store *s = open_store(client, "e");
    rev2_digest d;
    uint8_t *data = remote_blob(5u << 20, 5, &d);
    uint8_t *back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &d, &back), 0);
    free(back);
    cas_store_close(s);
    char *p = gmb_format("%s/e/blobs/%.2s/%s-%lld", dir, d.hash, d.hash, (long long)d.size);
    FILE *f = fopen(p, "r+");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 4u << 20, SEEK_SET);
        fputc(~data[4u << 20], f);
        fclose(f);
    }
    free(p);
    s = open_store(client, "e"); /* the restart */
    back = NULL;
    CHECK_INT(cas_store_read_all(s, NULL, &d, &back), 0);
    CHECK(back && memcmp(back, data, d.size) == 0);
    free(back);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.corrupt, 1);
    CHECK_INT(st.fetches, 1);
    free(data);
    cas_store_close(s);
}

static void unreachable_buildbarn_is_eio_fast(void)
{
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(sock, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(sock, (struct sockaddr *)&a, &l);
    close(sock); /* nothing listens there now */
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(a.sin_port));
    rev2_client *down = make_client(target, 2);
    cas_store *s = open_store(down, "f");
    rev2_digest d;
    rev2_digest_of_bytes("anything", 8, &d);
    int error;
    int64_t t0 = rev2_now_ms();
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    char buf[8];
    CHECK_INT(cas_blob_pread(h, buf, sizeof buf, 0), -EIO);
    int64_t took = rev2_now_ms() - t0;
    CHECK(took < 3000);
    fprintf(stderr, "  Buildbarn down: EIO after %lld ms\n", (long long)took);
    cas_blob_close(h);
    cas_store_close(s);
    rev2_client_free(down);
}

/* Files under dir/sub/blobs and dir/sub/tmp. */
static int files_in_store(const char *sub)
{
    char *cmd = gmb_format("find %s/%s/blobs %s/%s/tmp -type f | wc -l", dir, sub, dir, sub);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (!p || fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    free(cmd);
    return n;
}

/* A blob a fetch is bringing is not missing: cas_store_pin counts it
 * missing, cas_store_pin_arriving waits for the fetch and pins it.
 * cas_store_await starts no fetch. */
static void a_blob_arriving_is_awaited_not_missing(void)
{
    cas_store *s = open_store(client, "g");
    rev2_digest d, nobody;
    free(remote_blob(32u << 20, 7, &d));
    free(remote_blob(1000, 8, &nobody));
    int error;
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    CHECK(h != NULL);
    CHECK(!cas_store_contains(s, &d)); /* 32 MiB cannot have arrived yet */
    size_t missing = 0;
    cas_pin *p = cas_store_pin(s, &d, 1, 0, &missing);
    CHECK_INT(missing, 1);
    cas_pin_release(p);
    p = cas_store_pin_arriving(s, &d, 1, 0, &missing);
    CHECK_INT(missing, 0);
    CHECK_INT(cas_pin_count(p), 1);
    cas_pin_release(p);
    cas_blob_close(h);
    CHECK(!cas_store_await(s, &nobody));
    p = cas_store_pin_arriving(s, &nobody, 1, 0, &missing);
    CHECK_INT(missing, 1);
    cas_pin_release(p);
    cas_store_stats st;
    cas_store_stats_get(s, &st);
    CHECK_INT(st.fetches, 1); /* only the one opened */
    cas_store_close(s);
}

/* The bytes of a blob being fetched, stored here meanwhile (as a second
 * request for a goma file found through another gateway does while the
 * first one's prefetch runs): present at once, pinnable without waiting;
 * the fetch goes on for the reader that joined it, which reads the right
 * bytes, and leaves no second file behind. */
static void a_put_during_a_fetch_is_present_at_once(void)
{
    cas_store *s = open_store(client, "h");
    rev2_digest d;
    uint8_t *data = remote_blob(32u << 20, 9, &d);
    int error;
    cas_blob *h = cas_store_open_blob(s, NULL, &d, &error);
    CHECK(h != NULL);
    CHECK(!cas_store_contains(s, &d));
    CHECK_INT(cas_store_put(s, &d, data, (size_t)d.size), 0);
    CHECK(cas_store_contains(s, &d));
    size_t missing = 1;
    cas_pin *p = cas_store_pin(s, &d, 1, 0, &missing);
    CHECK_INT(missing, 0);
    cas_pin_release(p);
    CHECK_INT(cas_blob_wait(h), 0);
    uint8_t *back = malloc((size_t)d.size);
    CHECK_INT(cas_blob_pread(h, back, (size_t)d.size, 0), (long long)d.size);
    CHECK(memcmp(back, data, (size_t)d.size) == 0);
    cas_blob_close(h);
    CHECK_INT(files_in_store("h"), 1);
    free(back);
    free(data);
    cas_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !mkdtemp(dir))
        return 2;
    cas_remote_start(argv[1]);
    RUN(small_and_large_equal_to_upload);
    RUN(concurrent_readers_share_one_fetch);
    RUN(first_page_before_the_whole_blob);
    RUN(absent_blob_fails_with_eio);
    RUN(corrupted_cache_file_is_fetched_again);
    RUN(unreachable_buildbarn_is_eio_fast);
    RUN(a_blob_arriving_is_awaited_not_missing);
    RUN(a_put_during_a_fetch_is_present_at_once);
    rev2_client_free(client);
    char *rm = gmb_format("rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(rm);
    return CHECK_REPORT();
}
