/* bench_exec_kinds: the gateway's Exec path for plain and toolchain_included
 * requests, side by side in one run (issue 13). Driven by
 * bench_exec_kinds.sh, which starts `gomabarn serve`.
 *
 *   bench_exec_kinds PORT SERVE_PID CONTAINER_IMAGE [INSTANCE]
 *
 * Like goma's compiler_proxy, every client keeps its HTTP connection
 * alive. The two kinds compile the same b.c; the toolchain_included one
 * also ships the machine's gcc driver, cc1 and as (cc_toolchain.h), stored
 * with StoreFile first so that its Execs carry hash keys only.
 *   1. each kind once (a miss Buildbarn runs), then once more (a hit);
 *   2. hit latency, 1 client: through gomabarn vs a direct GetActionResult;
 *   3. hit throughput at 1, 8 and 64 clients, the kinds alternating in
 *      8 slices of 0.5 s (the ratio target: the median of the 8
 *      toolchain/plain slice pairs); gateway CPU per hit (/proc/PID/stat)
 *      and the benchmark's own CPU (getrusage);
 *   4. 1,000 toolchain_included Execs in flight, half new sources (misses),
 *      half repeats (hits): gateway threads and peak RSS;
 *   5. cold misses (plain): gomabarn vs upload + Execute done directly
 *      (BENCH_COLD_N each way, 20 by default).
 * Prints the targets first, then the figures. Exit 0 even when a target
 * fails; 1 when the benchmark cannot run (why on stderr). */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_goma_req.h"
#include "errmsg.h"
#include "http_client.h"
#include "mem.h"
#include "rev2_action.h"
#include "rev2_blocking.h"
#include "rev2_tree.h"

#define TIMEOUT_MS (600 * 1000) /* every wait on the gateway */
#define LATENCY_N 500
#define THROUGHPUT_S 4.0
#define INFLIGHT 1000
/* Cold misses each way: BENCH_COLD_N, else 20 (at most 1,000). */
static int cold_n(void)
{
    int n = getenv("BENCH_COLD_N") ? atoi(getenv("BENCH_COLD_N")) : 20;
    return n < 1 ? 1 : n > 1000 ? 1000 : n;
}
#define COLD_N cold_n()
#define CWD "/tmp/gomabarn-bench"

static int port, serve_pid;
static const char *image, *instance = "hardlinking";
static char *args[] = {"gcc", "-c", "b.c", "-o", "b.o"};

typedef struct {
    const char *name;
    uint8_t *gz; /* the gzip'd ExecReq (a hit after setup) */
    size_t gz_len;
    rev2_digest action;
} kind;

/* ---- the gateway's process, and ours ---- */

/* utime + stime of pid, in ms. */
static double proc_cpu_ms(int pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the name may hold spaces */
    unsigned long long ut, st;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* A "Name: value" line of /proc/PID/status (kB for memory), or -1. */
static long proc_status(int pid, const char *name)
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

/* The names of pid's threads, counted ("4 MHD-worker, 23 gomabarn, ..."),
 * so a grown thread count says whose threads grew. */
static void thread_names(int pid, char *out, size_t cap)
{
    enum { MAX_NAMES = 32 };
    char names[MAX_NAMES][17];
    int counts[MAX_NAMES], n = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char comm_path[320], name[17] = "";
        snprintf(comm_path, sizeof comm_path, "/proc/%d/task/%s/comm", pid, de->d_name);
        FILE *f = fopen(comm_path, "r");
        if (!f)
            continue;
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
        int i = 0;
        while (i < n && strcmp(names[i], name) != 0)
            i++;
        if (i == n && n < MAX_NAMES) {
            snprintf(names[n], sizeof names[n], "%s", name);
            counts[n++] = 0;
        }
        if (i < n)
            counts[i]++;
    }
    if (d)
        closedir(d);
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%d %s", i ? ", " : "", counts[i], names[i]);
}

/* Resets VmHWM to the current RSS (Linux's clear_refs "5"); false if refused. */
static bool reset_peak_rss(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", pid);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static double own_cpu_ms(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
}

/* The benchmark cannot go on without its client threads (the others
 * would wait at a barrier for ever): exit. */
static void start_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    int e = pthread_create(t, attr, fn, arg);
    if (e != 0) {
        fprintf(stderr, "bench_exec_kinds: cannot start a client thread: %s\n", strerror(e));
        exit(1);
    }
}

static bool is_hit(const DevtoolsGoma__ExecResp *r)
{
    return r && r->has_cache_hit && r->cache_hit && r->result && r->result->exit_status == 0;
}

static void free_resp(DevtoolsGoma__ExecResp *r)
{
    if (r)
        devtools_goma__exec_resp__free_unpacked(r, NULL);
}

/* What went wrong with an Exec that should have compiled. */
static char *describe(const DevtoolsGoma__ExecResp *r, const char *why)
{
    if (!r)
        return gmb_format("no ExecResp: %s", why ? why : "?");
    if (r->n_missing_input)
        return gmb_format("%zu inputs missing (first %s)", r->n_missing_input, r->missing_input[0]);
    if (r->n_error_message)
        return gmb_format("error: %s", r->error_message[0]);
    if (!r->result)
        return gmb_strdup("no result");
    if (r->result->exit_status != 0)
        return gmb_format("exit %d: %.*s", r->result->exit_status,
                          (int)(r->result->stderr_buffer.len < 300 ? r->result->stderr_buffer.len : 300),
                          r->result->has_stderr_buffer ? (const char *)r->result->stderr_buffer.data : "");
    return gmb_strdup("not a cache hit");
}

static char *source_text(const char *tag, int i)
{
    return gmb_format("/* %s %d %lld */\nint bench_%d(void) { return %d; }\n", tag, i, (long long)rev2_now_us(), i, i);
}

/* ---- 1. setup ---- */

/* Runs the kind's request twice: the first compiles, the second must be a
 * hit. Sets k->action. false with the reason printed. */
static bool prime(bench_http *c, kind *k)
{
    const char *why = NULL;
    DevtoolsGoma__ExecResp *r = bench_exec_on(c, k->gz, k->gz_len, &why);
    if (!r || !r->result || r->result->exit_status != 0 || !r->cache_key) {
        char *d = describe(r, why);
        fprintf(stderr, "bench_exec_kinds: the first %s Exec failed: %s\n", k->name, d);
        free(d);
        free_resp(r);
        return false;
    }
    bool parsed = rev2_digest_parse(r->cache_key, &k->action);
    free_resp(r);
    r = bench_exec_on(c, k->gz, k->gz_len, &why);
    bool hit = is_hit(r);
    if (!parsed || !hit) {
        char *d = describe(r, why);
        fprintf(stderr, "bench_exec_kinds: the second %s Exec is no action-cache hit: %s%s\n", k->name, d,
                parsed ? "" : " (and its cache_key is no digest)");
        free(d);
    }
    free_resp(r);
    return parsed && hit;
}

/* ---- 2. hit latency ---- */

typedef struct {
    double via50, via99, direct50, direct99;
    int failed;
} latency;

static latency hit_latency(bench_http *c, rev2_client *rc, const kind *k)
{
    latency l = {0};
    double *via = gmb_calloc(LATENCY_N, sizeof *via), *direct = gmb_calloc(LATENCY_N, sizeof *direct);
    const char *why;
    for (int i = 0; i < 20; i++) /* warm up */
        free_resp(bench_exec_on(c, k->gz, k->gz_len, &why));
    /* Alternating, so both paths see the same moments of a noisy machine. */
    for (int i = 0; i < LATENCY_N; i++) {
        int64_t t0 = rev2_now_us();
        DevtoolsGoma__ExecResp *r = bench_exec_on(c, k->gz, k->gz_len, &why);
        via[i] = (double)(rev2_now_us() - t0) / 1000.0;
        l.failed += !is_hit(r);
        free_resp(r);
        Rev2ActionResult *ar = NULL;
        t0 = rev2_now_us();
        rev2_error *e = rev2_get_action_result_sync(rc, instance, &k->action, false, &ar);
        direct[i] = (double)(rev2_now_us() - t0) / 1000.0;
        l.failed += e != NULL;
        rev2_error_free(e);
        rev2_msg_free(ar);
    }
    l.via50 = bench_pct(via, LATENCY_N, 0.5);
    l.via99 = bench_pct(via, LATENCY_N, 0.99);
    l.direct50 = bench_pct(direct, LATENCY_N, 0.5);
    l.direct99 = bench_pct(direct, LATENCY_N, 0.99);
    free(via);
    free(direct);
    return l;
}

/* ---- 2b. the primary's latency with shadowing on ---- */

typedef struct {
    double plain50, shadowed50;
    int failed;
} shadow_latency;

/* The same hit, alternately plain and with X-Gomabarn-Shadow (every one
 * shadowed on the other pool): the shadows run meanwhile, so both kinds
 * see the same load, and the difference is what handing over costs. */
static shadow_latency shadow_added(const kind *k, const char *other)
{
    shadow_latency l = {0};
    bench_http *plain = bench_http_new("127.0.0.1", port, TIMEOUT_MS, true);
    bench_http *shadowed = bench_http_new("127.0.0.1", port, TIMEOUT_MS, true);
    bench_http_set_header(shadowed, "X-Gomabarn-Shadow", other);
    double *a = gmb_calloc(LATENCY_N, sizeof *a), *b = gmb_calloc(LATENCY_N, sizeof *b);
    const char *why;
    for (int i = 0; i < 20; i++) {
        free_resp(bench_exec_on(plain, k->gz, k->gz_len, &why));
        free_resp(bench_exec_on(shadowed, k->gz, k->gz_len, &why));
    }
    for (int i = 0; i < LATENCY_N; i++) {
        int64_t t0 = rev2_now_us();
        DevtoolsGoma__ExecResp *r = bench_exec_on(plain, k->gz, k->gz_len, &why);
        a[i] = (double)(rev2_now_us() - t0) / 1000.0;
        l.failed += !is_hit(r);
        free_resp(r);
        t0 = rev2_now_us();
        r = bench_exec_on(shadowed, k->gz, k->gz_len, &why);
        b[i] = (double)(rev2_now_us() - t0) / 1000.0;
        l.failed += !is_hit(r);
        free_resp(r);
    }
    l.plain50 = bench_pct(a, LATENCY_N, 0.5);
    l.shadowed50 = bench_pct(b, LATENCY_N, 0.5);
    free(a);
    free(b);
    bench_http_free(plain);
    bench_http_free(shadowed);
    return l;
}

/* The value of gauge `name` in a /metrics text ("name value" lines), or 0. */
static long long gauge_in(const gmb_buf *text, const char *name)
{
    size_t n = strlen(name);
    const char *end = (const char *)text->data + text->len;
    for (const char *l = (const char *)text->data; l && l < end;) {
        const char *eol = memchr(l, '\n', (size_t)(end - l));
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return strtoll(l + n + 1, NULL, 10);
        l = eol ? eol + 1 : NULL;
    }
    return 0;
}

/* Shadows still running after phase 2b would be counted as hit CPU in
 * phase 3: wait until the gateway has none queued or running (at most
 * 120 s; then say so, the CPU figures include them). */
static void wait_for_shadows(void)
{
    http_client_target t = {.host = "127.0.0.1", .port = port, .timeout_s = 10};
    int64_t deadline = rev2_now_us() + 120 * 1000000LL;
    gmb_buf text;
    gmb_buf_init(&text, 16 * 1024 * 1024);
    const char *why = NULL;
    while (rev2_now_us() < deadline) {
        gmb_buf_reset(&text);
        if (http_client_get(&t, "/metrics", &text, &why) != 200 ||
            gauge_in(&text, "gomabarn_shadow_queued") + gauge_in(&text, "gomabarn_shadow_running") <= 0) {
            gmb_buf_free(&text);
            return;
        }
        usleep(100 * 1000);
    }
    gmb_buf_free(&text);
    fprintf(stderr, "bench_exec_kinds: shadows still running after 120 s; phase 3's CPU includes them\n");
}

/* ---- 3. hit throughput ---- */

typedef struct {
    const kind *k;
    pthread_barrier_t *ready, *go;
    const int64_t *end_us;
    double *lat; /* ms per hit */
    size_t n, cap;
    long hits, failures;
    uint64_t connects;
} hammer_arg;

static void *hammer(void *arg)
{
    hammer_arg *w = arg;
    bench_http *c = bench_http_new("127.0.0.1", port, TIMEOUT_MS, true);
    const char *why;
    free_resp(bench_exec_on(c, w->k->gz, w->k->gz_len, &why)); /* connected, warm */
    pthread_barrier_wait(w->ready);
    pthread_barrier_wait(w->go);
    while (rev2_now_us() < *w->end_us) {
        int64_t t0 = rev2_now_us();
        DevtoolsGoma__ExecResp *r = bench_exec_on(c, w->k->gz, w->k->gz_len, &why);
        double ms = (double)(rev2_now_us() - t0) / 1000.0;
        if (is_hit(r)) {
            if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 1024;
                w->lat = gmb_realloc(w->lat, w->cap * sizeof *w->lat);
            }
            w->lat[w->n++] = ms;
            w->hits++;
        } else {
            w->failures++;
        }
        free_resp(r);
    }
    w->connects = bench_http_connects(c);
    bench_http_free(c);
    return NULL;
}

/* One kind at one level: what its slices add up to. */
typedef struct {
    int clients;
    double seconds, gw_cpu_ms, own_cpu_ms;
    long hits, failures;
    uint64_t connects;
    double *lat; /* every hit's ms */
    size_t n_lat;
    double slice_rps[16]; /* each slice's own rate */
    int n_slices;
} cell;

/* `clients` threads, one keep-alive connection each, hammer k for
 * `seconds`; adds to acc. Connecting and a first request happen before
 * the clock and the CPU counters start. */
static void throughput(const kind *k, int clients, double seconds, cell *acc)
{
    acc->clients = clients;
    pthread_t *t = gmb_calloc((size_t)clients, sizeof *t);
    hammer_arg *w = gmb_calloc((size_t)clients, sizeof *w);
    pthread_barrier_t ready, go;
    pthread_barrier_init(&ready, NULL, (unsigned)clients + 1);
    pthread_barrier_init(&go, NULL, (unsigned)clients + 1);
    int64_t end_us = INT64_MAX;
    for (int i = 0; i < clients; i++) {
        w[i] = (hammer_arg){.k = k, .ready = &ready, .go = &go, .end_us = &end_us};
        start_thread(&t[i], NULL, hammer, &w[i]);
    }
    pthread_barrier_wait(&ready);
    double gw0 = proc_cpu_ms(serve_pid), own0 = own_cpu_ms();
    int64_t t0 = rev2_now_us();
    end_us = t0 + (int64_t)(seconds * 1e6);
    pthread_barrier_wait(&go);
    long hits0 = acc->hits;
    for (int i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        acc->hits += w[i].hits;
        acc->failures += w[i].failures;
        acc->connects += w[i].connects;
    }
    double slice_s = (double)(rev2_now_us() - t0) / 1e6;
    acc->seconds += slice_s;
    if (acc->n_slices < (int)(sizeof acc->slice_rps / sizeof *acc->slice_rps) && slice_s > 0)
        acc->slice_rps[acc->n_slices++] = (double)(acc->hits - hits0) / slice_s;
    acc->gw_cpu_ms += proc_cpu_ms(serve_pid) - gw0;
    acc->own_cpu_ms += own_cpu_ms() - own0;
    for (int i = 0; i < clients; i++) {
        acc->lat = gmb_realloc(acc->lat, (acc->n_lat + w[i].n + 1) * sizeof *acc->lat);
        memcpy(acc->lat + acc->n_lat, w[i].lat, w[i].n * sizeof *acc->lat);
        acc->n_lat += w[i].n;
        free(w[i].lat);
    }
    pthread_barrier_destroy(&ready);
    pthread_barrier_destroy(&go);
    free(t);
    free(w);
}

static double cell_rps(const cell *c)
{
    return c->seconds > 0 ? (double)c->hits / c->seconds : 0;
}

/* ---- 4. 1,000 in flight ---- */

typedef struct {
    uint8_t *gz;
    size_t gz_len;
    bool fresh; /* a new source: a miss */
    pthread_barrier_t *go;
    atomic_int *done;
    bool ok;
    char *why;
} flight_arg;

static void *one_flight(void *arg)
{
    flight_arg *f = arg;
    bench_http *c = bench_http_new("127.0.0.1", port, TIMEOUT_MS, false);
    pthread_barrier_wait(f->go);
    const char *why = NULL;
    DevtoolsGoma__ExecResp *r = bench_exec_on(c, f->gz, f->gz_len, &why);
    f->ok = r && r->result && r->result->exit_status == 0 && (f->fresh || is_hit(r));
    if (!f->ok)
        f->why = describe(r, why);
    free_resp(r);
    bench_http_free(c);
    atomic_fetch_add(f->done, 1);
    return NULL;
}

typedef struct {
    long threads_idle, threads_max, rss_before_kb, hwm_lifetime_kb, hwm_kb, rss_max_kb;
    char names_idle[512], names_max[512]; /* whose threads, idle and at the most */
    bool hwm_reset;
    int ok_hits, ok_misses, failed;
    double seconds;
    char *first_error;
} flight_result;

static flight_result in_flight(const kind *tc, const bench_toolchain *t)
{
    flight_result res = {0};
    flight_arg *f = gmb_calloc(INFLIGHT, sizeof *f);
    pthread_t *th = gmb_calloc(INFLIGHT, sizeof *th);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, INFLIGHT + 1);
    atomic_int done = 0;
    for (int i = 0; i < INFLIGHT; i++) {
        f[i] = (flight_arg){.fresh = i % 2 == 0, .go = &go, .done = &done};
        if (f[i].fresh) {
            char *src = source_text("inflight", i);
            size_t len;
            uint8_t *req = bench_exec_req_toolchain("b.c", src, args, 5, "b.o", t, &len);
            f[i].gz = bench_gzip(req, len, &f[i].gz_len);
            free(req);
            free(src);
        } else {
            f[i].gz = tc->gz;
            f[i].gz_len = tc->gz_len;
        }
    }
    usleep(300 * 1000); /* let the connections of phase 3 go */
    res.threads_idle = proc_status(serve_pid, "Threads");
    thread_names(serve_pid, res.names_idle, sizeof res.names_idle);
    res.rss_before_kb = proc_status(serve_pid, "VmRSS");
    res.hwm_lifetime_kb = proc_status(serve_pid, "VmHWM");
    res.hwm_reset = reset_peak_rss(serve_pid);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    for (int i = 0; i < INFLIGHT; i++)
        start_thread(&th[i], &attr, one_flight, &f[i]);
    pthread_attr_destroy(&attr);
    int64_t t0 = rev2_now_us();
    pthread_barrier_wait(&go);
    while (atomic_load(&done) < INFLIGHT) {
        long n = proc_status(serve_pid, "Threads"), rss = proc_status(serve_pid, "VmRSS");
        if (n > res.threads_max) {
            res.threads_max = n;
            thread_names(serve_pid, res.names_max, sizeof res.names_max);
        }
        if (rss > res.rss_max_kb)
            res.rss_max_kb = rss;
        usleep(20 * 1000);
    }
    res.seconds = (double)(rev2_now_us() - t0) / 1e6;
    /* The kernel folds the current RSS into VmHWM only when it drops: take the larger. */
    res.hwm_kb = proc_status(serve_pid, "VmHWM");
    if (res.rss_max_kb > res.hwm_kb)
        res.hwm_kb = res.rss_max_kb;
    for (int i = 0; i < INFLIGHT; i++) {
        pthread_join(th[i], NULL);
        if (f[i].ok)
            f[i].fresh ? res.ok_misses++ : res.ok_hits++;
        else
            res.failed++;
        if (f[i].why && !res.first_error)
            res.first_error = f[i].why;
        else
            free(f[i].why);
        if (f[i].fresh)
            free(f[i].gz);
    }
    pthread_barrier_destroy(&go);
    free(f);
    free(th);
    return res;
}

/* ---- 5. cold misses ---- */

/* The plain compile of `src` submitted directly, shaped as the gateway
 * shapes it (root = cwd, PATH, platform): upload what is missing, then
 * Execute (whose cache lookup misses). ms, or -1 with the reason printed. */
static double direct_miss(rev2_client *rc, const char *src)
{
    static const rev2_property env[] = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    rev2_property platform[] = {{"OSFamily", "linux"}, {"container-image", image}};
    static const char *const outs[] = {"b.o"};
    int64_t t0 = rev2_now_us();
    rev2_digest sd;
    rev2_digest_of_bytes(src, strlen(src), &sd);
    rev2_tree *t = rev2_tree_new();
    char *err = NULL;
    rev2_tree_add_file(t, "b.c", &sd, false, &err);
    rev2_digest root;
    rev2_tree_finish(t, &root);
    rev2_action_spec spec = {.arguments = (const char *const *)args,
                             .n_arguments = 5,
                             .environment = env,
                             .n_environment = 1,
                             .output_paths = outs,
                             .n_output_paths = 1,
                             .platform = platform,
                             .n_platform = 2,
                             .input_root = root,
                             .timeout_ms = 900 * 1000};
    rev2_built_action b;
    if (rev2_action_build(&spec, &b, &err) < 0) {
        fprintf(stderr, "bench_exec_kinds: building the direct action: %s\n", err);
        free(err);
        rev2_tree_free(t);
        return -1;
    }
    const rev2_blob *dirs;
    size_t nd = rev2_tree_directory_blobs(t, &dirs);
    rev2_blob *blobs = gmb_calloc(nd + 3, sizeof *blobs);
    rev2_action_blobs(&b, blobs);
    memcpy(blobs + 2, dirs, nd * sizeof *blobs);
    blobs[nd + 2] = (rev2_blob){.digest = sd, .data = (const uint8_t *)src};
    rev2_error *e = rev2_upload_missing_sync(rc, instance, blobs, nd + 3, NULL);
    Rev2ExecuteResponse *resp = NULL;
    if (!e)
        e = rev2_execute_sync(rc, instance, &b.action_digest, NULL, NULL, NULL, &resp);
    double ms = (double)(rev2_now_us() - t0) / 1000.0;
    if (!e && (!resp || !resp->result || resp->result->exit_code != 0 || resp->cached_result)) {
        fprintf(stderr, "bench_exec_kinds: a direct miss %s\n",
                resp && resp->cached_result ? "was a cache hit" : "did not compile");
        ms = -1;
    }
    if (e) {
        fprintf(stderr, "bench_exec_kinds: a direct miss failed: %s\n", e->message);
        ms = -1;
    }
    rev2_error_free(e);
    rev2_msg_free(resp);
    free(blobs);
    rev2_built_action_free(&b);
    rev2_tree_free(t);
    return ms;
}

typedef struct {
    double via50, direct50, via25, via75, direct25, direct75;
    int n_via, n_direct;
} cold_result;

static cold_result cold_misses(bench_http *c, rev2_client *rc)
{
    cold_result res = {0};
    double via[1000], direct[1000];
    for (int i = 0; i < COLD_N; i++) { /* alternating, so drift hits both alike */
        char *src = source_text("cold-via", i);
        size_t len, gz_len;
        uint8_t *req = bench_exec_req("b.c", src, args, 5, "b.o", &len);
        uint8_t *gz = bench_gzip(req, len, &gz_len);
        const char *why = NULL;
        int64_t t0 = rev2_now_us();
        DevtoolsGoma__ExecResp *r = bench_exec_on(c, gz, gz_len, &why);
        double ms = (double)(rev2_now_us() - t0) / 1000.0;
        if (r && r->result && r->result->exit_status == 0 && !(r->has_cache_hit && r->cache_hit)) {
            via[res.n_via++] = ms;
        } else {
            char *d = describe(r, why);
            fprintf(stderr, "bench_exec_kinds: a cold miss through gomabarn failed: %s\n",
                    r && r->has_cache_hit && r->cache_hit ? "it was a cache hit" : d);
            free(d);
        }
        free_resp(r);
        free(gz);
        free(req);
        free(src);
        src = source_text("cold-direct", i);
        ms = direct_miss(rc, src);
        if (ms >= 0)
            direct[res.n_direct++] = ms;
        free(src);
    }
    res.via25 = bench_pct(via, (size_t)res.n_via, 0.25);
    res.via50 = bench_pct(via, (size_t)res.n_via, 0.5);
    res.via75 = bench_pct(via, (size_t)res.n_via, 0.75);
    res.direct25 = bench_pct(direct, (size_t)res.n_direct, 0.25);
    res.direct50 = bench_pct(direct, (size_t)res.n_direct, 0.5);
    res.direct75 = bench_pct(direct, (size_t)res.n_direct, 0.75);
    return res;
}

/* ---- report ---- */

static void target(const char *name, const char *value, const char *goal, bool pass)
{
    printf("target %s: %s (goal %s) %s\n", name, value, goal, pass ? "PASS" : "FAIL");
}

static void target_num(const char *name, double v, const char *unit, const char *goal, bool pass)
{
    char s[64];
    snprintf(s, sizeof s, "%.3f%s%s", v, *unit ? " " : "", unit);
    target(name, s, goal, pass);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_exec_kinds PORT SERVE_PID CONTAINER_IMAGE [INSTANCE]\n");
        return 2;
    }
    port = atoi(argv[1]);
    serve_pid = atoi(argv[2]);
    image = argv[3];
    if (argc > 4)
        instance = argv[4];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (proc_cpu_ms(serve_pid) < 0) {
        fprintf(stderr, "bench_exec_kinds: cannot read /proc/%d/stat: is the gateway running?\n", serve_pid);
        return 1;
    }
    char *err = NULL;
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980";
    rev2_client *rc = rev2_client_new(&o, &err);
    if (!rc) {
        fprintf(stderr, "bench_exec_kinds: %s\n", err);
        return 1;
    }
    bench_http *conn = bench_http_new("127.0.0.1", port, TIMEOUT_MS, true);

    /* 1. setup */
    fprintf(stderr, "bench_exec_kinds: setup (StoreFile of the toolchain, one miss and one hit per kind)\n");
    bench_toolchain *tools = bench_toolchain_load("gcc", &err);
    if (!tools || bench_toolchain_store(tools, conn, &err) < 0) {
        fprintf(stderr, "bench_exec_kinds: the toolchain: %s\n", err);
        return 1;
    }
    char *src = source_text("hits", 0);
    kind kinds[2] = {{.name = "plain"}, {.name = "toolchain"}};
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *req = i == 0 ? bench_exec_req("b.c", src, args, 5, "b.o", &len)
                              : bench_exec_req_toolchain("b.c", src, args, 5, "b.o", tools, &len);
        kinds[i].gz = bench_gzip(req, len, &kinds[i].gz_len);
        free(req);
        if (!prime(conn, &kinds[i]))
            return 1;
    }
    free(src);

    /* For a profiler: BENCH_PROFILE_KIND=plain|toolchain runs only that
     * kind's hits at BENCH_PROFILE_CLIENTS clients (64) for BENCH_PROFILE_S
     * seconds (10), saying on stderr when the window opens and closes, and
     * stops there. */
    const char *only = getenv("BENCH_PROFILE_KIND");
    if (only) {
        int i = strcmp(only, "toolchain") == 0;
        double secs = getenv("BENCH_PROFILE_S") ? atof(getenv("BENCH_PROFILE_S")) : 10;
        int clients = getenv("BENCH_PROFILE_CLIENTS") ? atoi(getenv("BENCH_PROFILE_CLIENTS")) : 64;
        clients = clients < 1 ? 1 : clients;
        cell c;
        memset(&c, 0, sizeof c);
        fprintf(stderr, "bench_exec_kinds: profile window opens: %s hits, %d clients, %.0f s\n", kinds[i].name, clients,
                secs);
        double cpu0 = proc_cpu_ms(serve_pid);
        throughput(&kinds[i], clients, secs, &c);
        double cpu = proc_cpu_ms(serve_pid) - cpu0;
        fprintf(stderr, "bench_exec_kinds: profile window closed\n");
        printf("%s hits at %d clients: %ld in %.0f s, gateway CPU %.3f ms/hit\n", kinds[i].name, clients, c.hits, secs,
               c.hits ? cpu / (double)c.hits : 0);
        return 0;
    }

    /* 2. hit latency */
    fprintf(stderr, "bench_exec_kinds: hit latency, %d sequential Execs per kind\n", LATENCY_N);
    latency lat[2];
    for (int i = 0; i < 2; i++)
        lat[i] = hit_latency(conn, rc, &kinds[i]);

    /* 2b. shadowing's cost on the primary path */
    const char *other = strcmp(instance, "fuse") == 0 ? "hardlinking" : "fuse";
    fprintf(stderr, "bench_exec_kinds: hit latency with every Exec shadowed on %s, %d each way\n", other, LATENCY_N);
    shadow_latency sl = shadow_added(&kinds[0], other);
    /* Let the shadows queued there drain before the throughput runs. */
    wait_for_shadows();

    /* 3. hit throughput, the kinds alternating in slices (the machine is shared and noisy) */
    enum { LEVELS = 3, SLICES = 8 };
    const int levels[LEVELS] = {1, 8, 64};
    cell lv[2][LEVELS];
    memset(lv, 0, sizeof lv);
    double idle0 = proc_cpu_ms(serve_pid);
    int64_t idle_t0 = rev2_now_us();
    usleep(1000 * 1000);
    double idle_cpu = (proc_cpu_ms(serve_pid) - idle0) / ((double)(rev2_now_us() - idle_t0) / 1e6);
    fprintf(stderr, "bench_exec_kinds: hit throughput at 1, 8, 64 clients, %.0f s per kind and level\n", THROUGHPUT_S);
    for (int l = 0; l < LEVELS; l++)
        for (int s = 0; s < SLICES; s++)
            for (int i = 0; i < 2; i++)
                throughput(&kinds[i], levels[l], THROUGHPUT_S / SLICES, &lv[i][l]);

    /* 4. in flight */
    fprintf(stderr, "bench_exec_kinds: %d toolchain_included Execs in flight\n", INFLIGHT);
    flight_result fl = in_flight(&kinds[1], tools);

    /* 5. cold misses */
    fprintf(stderr, "bench_exec_kinds: %d cold misses each way (plain)\n", COLD_N);
    cold_result cold = cold_misses(conn, rc);

    /* targets */
    char name[128], value[128], goal[64];
    /* The ratio of each slice to the plain slice just before it, and their
     * median: a burst of load from elsewhere on a shared machine then
     * spoils one pair, not the cell (the whole cells' ratio is printed
     * with the table). */
    double slice_ratio[LEVELS], slice_min[LEVELS], slice_max[LEVELS];
    for (int l = 0; l < LEVELS; l++) {
        double r[16];
        int n = 0;
        for (int s = 0; s < lv[0][l].n_slices && s < lv[1][l].n_slices; s++)
            if (lv[0][l].slice_rps[s] > 0)
                r[n++] = lv[1][l].slice_rps[s] / lv[0][l].slice_rps[s];
        slice_ratio[l] = bench_pct(r, (size_t)n, 0.5); /* sorts r */
        slice_min[l] = n ? r[0] : 0;
        slice_max[l] = n ? r[n - 1] : 0;
        snprintf(name, sizeof name, "toolchain/plain hit throughput ratio at %d client%s", levels[l],
                 levels[l] == 1 ? "" : "s");
        target_num(name, slice_ratio[l], "", ">= 0.9", slice_ratio[l] >= 0.9);
    }
    for (int i = 0; i < 2; i++) {
        double a50 = lat[i].via50 - lat[i].direct50, a99 = lat[i].via99 - lat[i].direct99;
        snprintf(name, sizeof name, "%s hit added latency p50", kinds[i].name);
        target_num(name, a50, "ms", "< 1 ms", a50 < 1.0);
        snprintf(name, sizeof name, "%s hit added latency p99", kinds[i].name);
        target_num(name, a99, "ms", "< 5 ms", a99 < 5.0);
    }
    printf("shadowing: plain hit p50 %.3f ms, shadowed hit p50 %.3f ms (%d failed)\n", sl.plain50, sl.shadowed50,
           sl.failed);
    double shadow_cost = sl.shadowed50 - sl.plain50;
    target_num("primary hit added latency p50 with shadowing on", shadow_cost, "ms", "< 0.2 ms",
               sl.failed == 0 && shadow_cost < 0.2);
    double cpu_per_hit[2];
    for (int i = 0; i < 2; i++) {
        double cpu = 0;
        long hits = 0;
        for (int l = 0; l < LEVELS; l++) {
            cpu += lv[i][l].gw_cpu_ms;
            hits += lv[i][l].hits;
        }
        cpu_per_hit[i] = hits ? cpu / (double)hits : 0;
        snprintf(name, sizeof name, "%s gateway CPU per hit", kinds[i].name);
        target_num(name, cpu_per_hit[i], "ms", "<= 0.25 ms", hits > 0 && cpu_per_hit[i] <= 0.25);
    }
    double peak_mib = fl.hwm_kb / 1024.0;
    snprintf(name, sizeof name, "%d-in-flight gateway peak RSS", INFLIGHT);
    target_num(name, peak_mib, "MiB", "< 200 MiB", fl.hwm_kb > 0 && peak_mib < 200);
    snprintf(name, sizeof name, "%d-in-flight gateway threads", INFLIGHT);
    snprintf(value, sizeof value, "%ld", fl.threads_max);
    snprintf(goal, sizeof goal, "<= %ld, the idle count", fl.threads_idle);
    target(name, value, goal, fl.threads_max <= fl.threads_idle);
    double cold_added = cold.via50 - cold.direct50;
    target_num("cold-miss added latency median (plain)", cold_added, "ms", "< 5 ms",
               cold.n_via > 0 && cold.n_direct > 0 && cold_added < 5.0);

    /* the figures */
    uint64_t tc_bytes;
    size_t tc_n = bench_toolchain_count(tools, &tc_bytes);
    printf("\n== setup: toolchain_included ships %zu entries, %.1f MiB, by hash key (StoreFile'd first):\n", tc_n,
           (double)tc_bytes / (1 << 20));
    for (size_t i = 0; i < tc_n; i++) {
        uint64_t sz;
        const char *p = bench_toolchain_path(tools, i, &sz);
        printf("     %s%s (%.1f MiB)\n", p, sz ? "" : " -> symlink", (double)sz / (1 << 20));
    }
    for (int i = 0; i < 2; i++)
        printf("  %s action %s/%lld\n", kinds[i].name, kinds[i].action.hash, (long long)kinds[i].action.size);
    printf("== hit latency, 1 client, keep-alive, %d sequential Execs per kind, alternating with a direct "
           "GetActionResult of the same action (ms)\n",
           LATENCY_N);
    printf("  %-10s %9s %9s %11s %11s %10s %10s %7s\n", "kind", "via p50", "via p99", "direct p50", "direct p99",
           "added p50", "added p99", "failed");
    for (int i = 0; i < 2; i++)
        printf("  %-10s %9.3f %9.3f %11.3f %11.3f %10.3f %10.3f %7d\n", kinds[i].name, lat[i].via50, lat[i].via99,
               lat[i].direct50, lat[i].direct99, lat[i].via50 - lat[i].direct50, lat[i].via99 - lat[i].direct99,
               lat[i].failed);
    printf("== hit throughput, one keep-alive connection per client, %.0f s per cell in %d slices alternating the "
           "kinds\n",
           THROUGHPUT_S, SLICES);
    printf("  %-10s %7s %9s %8s %14s %16s %9s %9s\n", "kind", "clients", "req/s", "p50 ms", "gw CPU ms/hit",
           "bench CPU ms/req", "failures", "connects");
    for (int l = 0; l < LEVELS; l++)
        for (int i = 0; i < 2; i++) {
            cell *r = &lv[i][l];
            printf("  %-10s %7d %9.0f %8.3f %14.3f %16.3f %9ld %9llu\n", kinds[i].name, r->clients, cell_rps(r),
                   bench_pct(r->lat, r->n_lat, 0.5), r->hits ? r->gw_cpu_ms / (double)r->hits : 0,
                   r->hits ? r->own_cpu_ms / (double)r->hits : 0, r->failures, (unsigned long long)r->connects);
            free(r->lat);
        }
    for (int l = 0; l < LEVELS; l++)
        printf("  toolchain/plain at %2d clients: whole cells %.3f; the %d slice pairs: median %.3f (the target), "
               "range %.3f-%.3f\n",
               levels[l], cell_rps(&lv[0][l]) > 0 ? cell_rps(&lv[1][l]) / cell_rps(&lv[0][l]) : 0, SLICES,
               slice_ratio[l], slice_min[l], slice_max[l]);
    printf("  (gateway CPU: /proc/%d/stat utime+stime, %ld ticks/s; idle it used %.1f ms/s, included above. bench "
           "CPU: getrusage, all its threads)\n",
           serve_pid, sysconf(_SC_CLK_TCK), idle_cpu);
    printf("== %d toolchain_included Execs in flight (%d new sources = misses, %d repeats = hits), %.1f s\n", INFLIGHT,
           INFLIGHT / 2, INFLIGHT / 2, fl.seconds);
    printf("  compiled: %d misses, %d hits; failed %d%s%s\n", fl.ok_misses, fl.ok_hits, fl.failed,
           fl.first_error ? "; first failure: " : "", fl.first_error ? fl.first_error : "");
    printf("  gateway threads: %ld idle, at most %ld in flight\n", fl.threads_idle, fl.threads_max);
    printf("    idle:      %s\n    at most:   %s\n", fl.names_idle, fl.names_max);
    printf("  RSS: gateway peak %.1f MiB while in flight (VmHWM%s, or a larger sampled VmRSS), %.1f MiB before; VmRSS "
           "sampled max %.1f MiB; "
           "lifetime peak before the phase %.1f MiB\n",
           fl.hwm_kb / 1024.0, fl.hwm_reset ? ", reset at the phase's start" : ", not resettable: lifetime peak",
           fl.rss_before_kb / 1024.0, fl.rss_max_kb / 1024.0, fl.hwm_lifetime_kb / 1024.0);
    printf("== cold miss, plain kind only, %d samples each way, alternating (ms)\n", COLD_N);
    printf("  through gomabarn: median %.1f, p25-p75 %.1f-%.1f (%d ok); direct upload + Execute: median %.1f, "
           "p25-p75 %.1f-%.1f (%d ok); added %.1f\n",
           cold.via50, cold.via25, cold.via75, cold.n_via, cold.direct50, cold.direct25, cold.direct75, cold.n_direct,
           cold_added);
    printf("  keep-alive connection of phases 1, 2 and 5: %llu connects\n",
           (unsigned long long)bench_http_connects(conn));

    free(fl.first_error);
    for (int i = 0; i < 2; i++)
        free(kinds[i].gz);
    bench_toolchain_free(tools);
    bench_http_free(conn);
    rev2_client_free(rc);
    return 0;
}
