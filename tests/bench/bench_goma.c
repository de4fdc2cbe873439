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

#include "bench_goma_req.h"
#include "rev2_blocking.h"

static int port;

static uint8_t *make_req(const char *source, size_t *len)
{
    char *args[] = {"gcc", "-c", "b.c", "-o", "b.o"};
    return bench_exec_req("b.c", source, args, 5, "b.o", len);
}

static DevtoolsGoma__ExecResp *exec(const uint8_t *req, size_t len)
{
    return bench_exec(port, req, len);
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
    double v50 = bench_pct(via, N, 0.5), v99 = bench_pct(via, N, 0.99), d50 = bench_pct(direct, N, 0.5),
           d99 = bench_pct(direct, N, 0.99);
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
