/* REv2 client error paths that need no Buildbarn: back-off, error
 * details, an endpoint where nothing listens (UNAVAILABLE after the
 * configured retries) and a peer that accepts TCP but never answers
 * (deadline, and cancellation at shutdown), and a peer that resets every
 * stream with RST_STREAM CANCEL. The silent peer is a bare listening
 * socket, the resetting one a few lines of HTTP/2 framing, not fake REv2
 * servers: Buildbarn cannot be made to hang or reset like this on purpose
 * (it reset 33 of 500 Execute streams once under the benchmark's load). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "rev2_blocking.h"
#include "rev2_retry.h"

static void backoff_grows_with_jitter_and_cap(void)
{
    for (int i = 0; i < 50; i++) {
        int64_t first = rev2_backoff_ms(1, 100, 5000);
        CHECK(first >= 50 && first <= 100);
        int64_t third = rev2_backoff_ms(3, 100, 5000);
        CHECK(third >= 200 && third <= 400);
        int64_t capped = rev2_backoff_ms(30, 100, 5000);
        CHECK(capped >= 2500 && capped <= 5000);
    }
}

static void precondition_failure_details_parsed(void)
{
    /* Built with protobuf-c here; tests/python checks the same parse on
     * bytes from Python's protobuf. */
    Google__Rpc__PreconditionFailure__Violation v1 = GOOGLE__RPC__PRECONDITION_FAILURE__VIOLATION__INIT;
    v1.type = "MISSING";
    v1.subject = "blobs/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3";
    Google__Rpc__PreconditionFailure__Violation v2 = GOOGLE__RPC__PRECONDITION_FAILURE__VIOLATION__INIT;
    v2.type = "OTHER";
    v2.subject = "blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0";
    Google__Rpc__PreconditionFailure__Violation *vs[] = {&v1, &v2};
    Google__Rpc__PreconditionFailure pf = GOOGLE__RPC__PRECONDITION_FAILURE__INIT;
    pf.n_violations = 2;
    pf.violations = vs;
    size_t pf_len;
    uint8_t *pf_bytes = REV2_PACK(&pf, &pf_len);
    GpbAny any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "type.googleapis.com/google.rpc.PreconditionFailure";
    any.value.data = pf_bytes;
    any.value.len = pf_len;
    GpbAny *details[] = {&any};
    RpcStatus st = GOOGLE__RPC__STATUS__INIT;
    st.code = REV2_FAILED_PRECONDITION;
    st.message = "Blob not found";
    st.n_details = 1;
    st.details = details;
    size_t len;
    uint8_t *bytes = REV2_PACK(&st, &len);
    rev2_error *e = rev2_error_from_status_bytes(bytes, len);
    CHECK(e != NULL);
    CHECK_INT(e->code, REV2_FAILED_PRECONDITION);
    CHECK_STR(e->message, "Blob not found");
    CHECK_INT(e->n_missing, 1);
    CHECK_STR(e->missing[0].hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(e->missing[0].size, 3);
    rev2_error *copy = rev2_error_copy(e);
    rev2_error_prefix(copy, "uploading %s", "x");
    CHECK_STR(copy->message, "uploading x: Blob not found");
    CHECK_INT(copy->n_missing, 1);
    rev2_error_free(copy);
    rev2_error_free(e);
    free(bytes);
    st.code = 0;
    bytes = REV2_PACK(&st, &len);
    CHECK(rev2_error_from_status_bytes(bytes, len) == NULL);
    free(bytes);
    free(pf_bytes);
    e = rev2_error_from_status_bytes((const uint8_t *)"\xff\xff", 2);
    CHECK(e && e->code == REV2_INTERNAL);
    rev2_error_free(e);
    rev2_error *nw = rev2_error_new(REV2_UNAVAILABLE, "No workers exist for instance name prefix \"x\" platform {}");
    CHECK(rev2_error_is_no_workers(nw));
    rev2_error_free(nw);
}

/* A TCP port with nothing listening on it. */
static int unused_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static rev2_client *client_for(const char *target, int attempts, int64_t timeout_ms)
{
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = target;
    o.instance_name = "hardlinking";
    o.max_attempts = attempts;
    o.initial_backoff_ms = 10;
    o.max_backoff_ms = 20;
    o.call_timeout_ms = timeout_ms;
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    CHECK(c != NULL);
    free(err);
    return c;
}

static void unreachable_is_unavailable_after_retries(void)
{
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", unused_port());
    rev2_client *c = client_for(target, 3, 5000);
    int64_t t0 = rev2_now_ms();
    rev2_digest *missing = NULL;
    size_t n_missing = 0;
    rev2_error *e = rev2_find_missing_sync(c, NULL, &rev2_empty_digest, 1, &missing, &n_missing);
    int64_t took = rev2_now_ms() - t0;
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(e->code, REV2_UNAVAILABLE);
        CHECK_CONTAINS(e->message, "after 3 attempts");
        fprintf(stderr, "  unreachable: %s (%lld ms)\n", e->message, (long long)took);
    }
    rev2_error_free(e);
    free(missing);
    rev2_client_stats s;
    rev2_client_stats_get(c, &s);
    CHECK_INT(s.calls, 3);
    CHECK_INT(s.retries, 2);
    rev2_client_free(c);
}

/* Accepts connections and never says a word. */
static int silent_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 16);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return s;
}

static void silent_peer_hits_the_deadline(void)
{
    int port;
    int s = silent_listener(&port);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    rev2_client *c = client_for(target, 1, 300);
    Rev2ActionResult *r = NULL;
    int64_t t0 = rev2_now_ms();
    rev2_error *e = rev2_get_action_result_sync(c, NULL, &rev2_empty_digest, false, &r);
    int64_t took = rev2_now_ms() - t0;
    CHECK(e != NULL);
    if (e)
        CHECK(e->code == REV2_DEADLINE_EXCEEDED || e->code == REV2_UNAVAILABLE);
    CHECK(took < 3000);
    fprintf(stderr, "  silent peer: %s %s after %lld ms\n", e ? rev2_code_name(e->code) : "OK", e ? e->message : "",
            (long long)took);
    rev2_error_free(e);
    rev2_client_free(c);
    close(s);
}

typedef struct {
    pthread_mutex_t lock;
    int done;
    int cancelled;
} exec_count;

static void count_exec(void *user, rev2_error *err, Rev2ExecuteResponse *resp)
{
    exec_count *n = user;
    pthread_mutex_lock(&n->lock);
    n->done++;
    if (err && err->code == REV2_CANCELLED)
        n->cancelled++;
    pthread_mutex_unlock(&n->lock);
    rev2_error_free(err);
    rev2_msg_free(resp);
}

static void shutdown_cancels_calls_in_flight(void)
{
    int port;
    int s = silent_listener(&port);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    rev2_client *c = client_for(target, 5, 60000);
    exec_count n = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    for (int i = 0; i < 100; i++)
        rev2_execute(c, "fuse", &rev2_empty_digest, NULL, NULL, count_exec, &n);
    usleep(200 * 1000);
    CHECK_INT(n.done, 0); /* all still waiting on the silent peer */
    int64_t t0 = rev2_now_ms();
    rev2_client_free(c);
    int64_t took = rev2_now_ms() - t0;
    CHECK_INT(n.done, 100);
    CHECK_INT(n.cancelled, 100);
    CHECK(took < 5000);
    fprintf(stderr, "  shutdown with 100 Executes in flight took %lld ms\n", (long long)took);
    close(s);
}

/* ---- A peer that resets every stream (RST_STREAM, error code 8: CANCEL) ---- */

typedef struct {
    int listener;
    int streams_reset;
} resetting_peer;

static bool read_full(int fd, uint8_t *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void send_frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *payload, uint32_t len)
{
    uint8_t h[9] = {(uint8_t)(len >> 16),    (uint8_t)(len >> 8),     (uint8_t)len,           type,           flags,
                    (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream};
    if (write(fd, h, sizeof h) != (ssize_t)sizeof h || (len && write(fd, payload, len) != (ssize_t)len))
        return; /* the client went away: the test sees it */
}

/* One connection: the preface, our SETTINGS, then every HEADERS frame
 * that opens a stream is answered with RST_STREAM CANCEL. */
static void *reset_streams(void *arg)
{
    resetting_peer *p = arg;
    int fd = accept(p->listener, NULL, NULL);
    uint8_t preface[24], h[9], payload[16384];
    if (fd < 0 || !read_full(fd, preface, sizeof preface))
        return NULL;
    send_frame(fd, 4 /* SETTINGS */, 0, 0, NULL, 0);
    while (read_full(fd, h, sizeof h)) {
        uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
        uint32_t stream = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffff;
        if (len > sizeof payload || !read_full(fd, payload, len))
            break;
        if (h[3] == 4 && !(h[4] & 1)) /* their SETTINGS: acknowledged */
            send_frame(fd, 4, 1, 0, NULL, 0);
        if (h[3] == 1 /* HEADERS */) {
            static const uint8_t cancel[4] = {0, 0, 0, 8};
            send_frame(fd, 3 /* RST_STREAM */, 0, stream, cancel, 4);
            __atomic_add_fetch(&p->streams_reset, 1, __ATOMIC_RELAXED);
        }
    }
    close(fd);
    return NULL;
}

static void server_reset_is_retried_then_unavailable(void)
{
    int port;
    resetting_peer p = {.listener = silent_listener(&port)};
    pthread_t t;
    pthread_create(&t, NULL, reset_streams, &p);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    rev2_client *c = client_for(target, 3, 5000);
    Rev2ActionResult *r = NULL;
    rev2_error *e = rev2_get_action_result_sync(c, NULL, &rev2_empty_digest, false, &r);
    CHECK(e != NULL);
    if (e) {
        /* Not CANCELLED (that would mean we cancelled it, and it would not be tried again). */
        CHECK_INT(e->code, REV2_UNAVAILABLE);
        CHECK_CONTAINS(e->message, "Buildbarn dropped the call");
        CHECK_CONTAINS(e->message, "after 3 attempts");
        fprintf(stderr, "  resetting peer: %s\n", e->message);
    }
    CHECK_INT(__atomic_load_n(&p.streams_reset, __ATOMIC_RELAXED), 3);
    rev2_error_free(e);
    rev2_client_free(c);
    shutdown(p.listener, SHUT_RDWR);
    close(p.listener);
    pthread_join(t, NULL);
}

int main(void)
{
    RUN(backoff_grows_with_jitter_and_cap);
    RUN(precondition_failure_details_parsed);
    RUN(unreachable_is_unavailable_after_retries);
    RUN(silent_peer_hits_the_deadline);
    RUN(shutdown_cancels_calls_in_flight);
    RUN(server_reset_is_retried_then_unavailable);
    return CHECK_REPORT();
}
