/* bench_goma: the goma front end under load (driven by bench_goma.sh,
 * which starts `gomabarn serve`).
 *   bench_goma PORT SERVE_PID
 * 1. Added latency of an action-cache hit: the same ExecReq through
 *    gomabarn (goma protocol, HTTP) vs a direct REv2 GetActionResult of
 *    its action; p50, p99 and their difference.
 * 2. Throughput of cache hits with 1, 8 and 64 concurrent clients.
 * 3. 1,000 Execs in flight at once (distinct actions, so Buildbarn really
 *    runs them): the gateway's threads and peak RSS while they wait.
 * One run, one machine: compare within the run. Each request opens its own
 * connection (goma's client keeps them alive; so this overstates latency). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_http.h"
#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"
#include "rev2_blocking.h"

static int port;

static uint8_t *make_req(const char *source, size_t *len)
{
    DevtoolsGoma__FileBlob blob = DEVTOOLS_GOMA__FILE_BLOB__INIT;
    blob.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    blob.has_content = blob.has_file_size = true;
    blob.content.data = (uint8_t *)source;
    blob.content.len = strlen(source);
    blob.file_size = (int64_t)blob.content.len;
    size_t bl = devtools_goma__file_blob__get_packed_size(&blob);
    uint8_t *bb = malloc(bl);
    devtools_goma__file_blob__pack(&blob, bb);
    rev2_digest key;
    rev2_digest_of_bytes(bb, bl, &key);
    free(bb);
    DevtoolsGoma__ExecReq__Input in = DEVTOOLS_GOMA__EXEC_REQ__INPUT__INIT;
    in.filename = "b.c";
    in.hash_key = key.hash;
    in.content = &blob;
    DevtoolsGoma__ExecReq__Input *ins[] = {&in};
    DevtoolsGoma__CommandSpec spec = DEVTOOLS_GOMA__COMMAND_SPEC__INIT;
    spec.name = "gcc";
    char *args[] = {"gcc", "-c", "b.c", "-o", "b.o"};
    char *outs[] = {"b.o"};
    DevtoolsGoma__ExecReq req = DEVTOOLS_GOMA__EXEC_REQ__INIT;
    req.command_spec = &spec;
    req.n_arg = 5;
    req.arg = args;
    req.cwd = "/tmp/gomabarn-bench";
    req.n_input = 1;
    req.input = ins;
    req.n_expected_output_files = 1;
    req.expected_output_files = outs;
    size_t n = devtools_goma__exec_req__get_packed_size(&req);
    uint8_t *flat = malloc(n);
    devtools_goma__exec_req__pack(&req, flat);
    gmb_buf wire;
    gmb_buf_init(&wire, SIZE_MAX);
    const char *why;
    goma_messages_to_groups(GOMA_MSG_EXEC_REQ, flat, n, &wire, &why);
    free(flat);
    return gmb_buf_take(&wire, len);
}

/* Sends one ExecReq; returns its ExecResp (NULL on failure). */
static DevtoolsGoma__ExecResp *exec(const uint8_t *req, size_t len)
{
    cc_http_target t = {.host = "127.0.0.1", .port = port, .timeout_s = 600};
    gmb_buf out, flat;
    gmb_buf_init(&out, 64u << 20);
    gmb_buf_init(&flat, SIZE_MAX);
    const char *why;
    int status = cc_http_post(&t, "/cxx-compiler-service/e", req, len, &out, &why);
    DevtoolsGoma__ExecResp *resp = NULL;
    if (status == 200 && goma_groups_to_messages(GOMA_MSG_EXEC_RESP, out.data, out.len, &flat, &why) == 0)
        resp = devtools_goma__exec_resp__unpack(NULL, flat.len, flat.data);
    gmb_buf_free(&out);
    gmb_buf_free(&flat);
    return resp;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

static long proc_field(int pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

typedef struct {
    const uint8_t *req;
    size_t len;
    double seconds;
    long done;
    int ok;
} worker_arg;

static void *hammer(void *arg)
{
    worker_arg *w = arg;
    int64_t end = rev2_now_us() + (int64_t)(w->seconds * 1e6);
    while (rev2_now_us() < end) {
        DevtoolsGoma__ExecResp *r = exec(w->req, w->len);
        w->done += r && r->has_cache_hit && r->cache_hit;
        if (r)
            devtools_goma__exec_resp__free_unpacked(r, NULL);
    }
    return NULL;
}

static void *one_exec(void *arg)
{
    worker_arg *w = arg;
    DevtoolsGoma__ExecResp *r = exec(w->req, w->len);
    w->ok = r && r->result && r->result->exit_status == 0;
    if (r)
        devtools_goma__exec_resp__free_unpacked(r, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    port = atoi(argv[1]);
    int serve_pid = atoi(argv[2]);
    char source[256];
    snprintf(source, sizeof source, "int bench(void) { return %lld; }\n", (long long)rev2_now_us());
    size_t len;
    uint8_t *req = make_req(source, &len);
    DevtoolsGoma__ExecResp *first = exec(req, len);
    if (!first || !first->result || first->result->exit_status != 0 || !first->cache_key) {
        fprintf(stderr, "bench_goma: the first compile failed\n");
        return 1;
    }
    rev2_digest action;
    rev2_digest_parse(first->cache_key, &action);
    devtools_goma__exec_resp__free_unpacked(first, NULL);

    enum { N = 300 };
    double via[N], direct[N];
    for (int i = 0; i < N; i++) {
        int64_t t0 = rev2_now_us();
        DevtoolsGoma__ExecResp *r = exec(req, len);
        via[i] = (double)(rev2_now_us() - t0) / 1000.0;
        if (!r || !r->has_cache_hit || !r->cache_hit)
            via[i] = 1e9;
        if (r)
            devtools_goma__exec_resp__free_unpacked(r, NULL);
    }
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = "127.0.0.1:8980";
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    for (int i = 0; i < N; i++) {
        Rev2ActionResult *ar = NULL;
        int64_t t0 = rev2_now_us();
        rev2_error *e = rev2_get_action_result_sync(c, "hardlinking", &action, false, &ar);
        direct[i] = (double)(rev2_now_us() - t0) / 1000.0;
        rev2_error_free(e);
        rev2_msg_free(ar);
    }
    rev2_client_free(c);
    double v50 = pct(via, N, 0.5), v99 = pct(via, N, 0.99), d50 = pct(direct, N, 0.5), d99 = pct(direct, N, 0.99);
    printf("== action-cache hit, %d sequential requests\n", N);
    printf("  through gomabarn (goma/HTTP, new connection each)  p50 %.3f ms  p99 %.3f ms\n", v50, v99);
    printf("  direct REv2 GetActionResult                         p50 %.3f ms  p99 %.3f ms\n", d50, d99);
    printf("  added by gomabarn                                    p50 %.3f ms  p99 %.3f ms  (ratio p50 %.2f)\n",
           v50 - d50, v99 - d99, v50 / d50);

    printf("== throughput of cache hits (3 s each)\n");
    int levels[] = {1, 8, 64};
    for (int l = 0; l < 3; l++) {
        int k = levels[l];
        pthread_t *t = calloc((size_t)k, sizeof *t);
        worker_arg *w = calloc((size_t)k, sizeof *w);
        for (int i = 0; i < k; i++) {
            w[i] = (worker_arg){req, len, 3.0, 0, 0};
            pthread_create(&t[i], NULL, hammer, &w[i]);
        }
        long total = 0;
        for (int i = 0; i < k; i++) {
            pthread_join(t[i], NULL);
            total += w[i].done;
        }
        printf("  %2d clients: %6.0f requests/s\n", k, (double)total / 3.0);
        free(t);
        free(w);
    }

    enum { INFLIGHT = 1000 };
    printf("== %d Execs in flight (distinct actions)\n", INFLIGHT);
    long rss0 = proc_field(serve_pid, "VmRSS"), thr0 = proc_field(serve_pid, "Threads");
    pthread_t *t = calloc(INFLIGHT, sizeof *t);
    worker_arg *w = calloc(INFLIGHT, sizeof *w);
    uint8_t **reqs = calloc(INFLIGHT, sizeof *reqs);
    for (int i = 0; i < INFLIGHT; i++) {
        char src[128];
        snprintf(src, sizeof src, "int f%d(void) { return %lld; }\n", i, (long long)rev2_now_us());
        reqs[i] = make_req(src, &w[i].len);
        w[i].req = reqs[i];
    }
    int64_t t0 = rev2_now_ms();
    for (int i = 0; i < INFLIGHT; i++)
        pthread_create(&t[i], NULL, one_exec, &w[i]);
    long peak_threads = 0;
    for (int s = 0; s < 20; s++) { /* sample while they wait */
        usleep(100 * 1000);
        long th = proc_field(serve_pid, "Threads");
        if (th > peak_threads)
            peak_threads = th;
    }
    int ok = 0;
    for (int i = 0; i < INFLIGHT; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        free(reqs[i]);
    }
    printf("  %d of %d compiled in %lld ms\n", ok, INFLIGHT, (long long)(rev2_now_ms() - t0));
    printf("  gateway threads: %ld before, at most %ld while in flight\n", thr0, peak_threads);
    printf("  gateway RSS: %.1f MiB before, peak %.1f MiB (VmHWM)\n", rss0 / 1024.0,
           proc_field(serve_pid, "VmHWM") / 1024.0);
    free(t);
    free(w);
    free(reqs);
    free(req);
    return ok == INFLIGHT ? 0 : 1;
}
