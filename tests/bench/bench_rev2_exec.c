/* bench_rev2_exec: per-action times of a small compile on each instance
 * name, through gomabarn's REv2 client against the local Buildbarn.
 *
 *   bench_rev2_exec [RUNS] [INSTANCE...]   (default 20 runs; hardlinking fuse)
 *
 * Each run compiles a distinct hello.c (a counter in a comment) so no run
 * is a cache hit; then one more Execute of the last action measures the
 * cache-hit path. Prints medians and p90 of the end-to-end time and of
 * Buildbarn's own phases (ExecutedActionMetadata), and the ratio of the
 * pools' medians. Times are from one run on a noisy machine: compare
 * within a run, not across runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rev2_action.h"
#include "rev2_blocking.h"
#include "rev2_tree.h"

static const rev2_property platform[] = {
    {"OSFamily", "linux"},
    {"container-image", "docker://ghcr.io/catthehacker/ubuntu:act-22.04@sha256:"
                        "dd7654ffb01d5b7b54b23b9ce928a1f7f2d08c7b3d7e320b6574b55d7ccde78b"},
};

typedef struct {
    double total, queued, fetch, execute, upload;
} sample;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static double ms(const GpbTimestamp *a, const GpbTimestamp *b)
{
    return (a && b) ? (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0 : 0;
}

/* Builds and uploads one compile action; returns its digest. */
static bool make_action(rev2_client *c, const char *instance, int n, uint64_t nonce, rev2_digest *action)
{
    char src[256];
    snprintf(src, sizeof src, "/* run %d of %llu */\nint answer(void) { return %d; }\n", n, (unsigned long long)nonce,
             n);
    rev2_digest sd;
    rev2_digest_of_bytes(src, strlen(src), &sd);
    rev2_tree *t = rev2_tree_new();
    char *err = NULL;
    rev2_tree_add_file(t, "src/answer.c", &sd, false, &err);
    rev2_tree_add_dir(t, "out", &err);
    rev2_digest root;
    rev2_tree_finish(t, &root);
    const char *args[] = {"/usr/bin/cc", "-O2", "-c", "src/answer.c", "-o", "out/answer.o"};
    const char *outs[] = {"out/answer.o"};
    rev2_property env[] = {{"PATH", "/usr/bin:/bin"}};
    rev2_action_spec spec = {.arguments = args,
                             .n_arguments = 6,
                             .environment = env,
                             .n_environment = 1,
                             .output_paths = outs,
                             .n_output_paths = 1,
                             .platform = platform,
                             .n_platform = 2,
                             .input_root = root};
    rev2_built_action b;
    if (rev2_action_build(&spec, &b, &err) < 0)
        return false;
    const rev2_blob *dirs;
    size_t nd = rev2_tree_directory_blobs(t, &dirs);
    rev2_blob blobs[8];
    rev2_action_blobs(&b, blobs);
    size_t nb = 2;
    for (size_t i = 0; i < nd; i++)
        blobs[nb++] = dirs[i];
    blobs[nb++] = (rev2_blob){.digest = sd, .data = (const uint8_t *)src};
    rev2_error *e = rev2_upload_missing_sync(c, instance, blobs, nb, NULL);
    *action = b.action_digest;
    rev2_built_action_free(&b);
    rev2_tree_free(t);
    if (e) {
        fprintf(stderr, "upload: %s\n", e->message);
        rev2_error_free(e);
        return false;
    }
    return true;
}

static double bench_instance(rev2_client *c, const char *instance, int runs, uint64_t nonce)
{
    sample *s = calloc((size_t)runs, sizeof *s);
    double *v = calloc((size_t)runs, sizeof *v);
    int ok = 0;
    rev2_digest last = {0};
    for (int i = 0; i < runs; i++) {
        rev2_digest action;
        if (!make_action(c, instance, i, nonce, &action))
            continue;
        Rev2ExecuteResponse *resp = NULL;
        int64_t t0 = rev2_now_ms();
        rev2_error *e = rev2_execute_sync(c, instance, &action, NULL, NULL, NULL, &resp);
        double total = (double)(rev2_now_ms() - t0);
        if (e || !resp || !resp->result || resp->result->exit_code != 0) {
            fprintf(stderr, "%s run %d failed: %s\n", instance, i, e ? e->message : "non-zero exit");
        } else {
            const Rev2ExecMetadata *m = resp->result->execution_metadata;
            s[ok++] = (sample){total, m ? ms(m->queued_timestamp, m->worker_start_timestamp) : 0,
                               m ? ms(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp) : 0,
                               m ? ms(m->execution_start_timestamp, m->execution_completed_timestamp) : 0,
                               m ? ms(m->output_upload_start_timestamp, m->output_upload_completed_timestamp) : 0};
            last = action;
        }
        rev2_error_free(e);
        rev2_msg_free(resp);
    }
    double median_total = 0;
    if (ok > 0) {
#define STAT(field, label)                                                \
    do {                                                                  \
        for (int i = 0; i < ok; i++)                                      \
            v[i] = s[i].field;                                            \
        double p50 = pct(v, ok, 0.5), p90 = pct(v, ok, 0.9);              \
        printf("  %-10s p50 %7.1f ms   p90 %7.1f ms\n", label, p50, p90); \
        if (strcmp(label, "end-to-end") == 0)                             \
            median_total = p50;                                           \
    } while (0)
        printf("%s: %d of %d uncached compiles succeeded\n", instance, ok, runs);
        STAT(total, "end-to-end");
        STAT(queued, "queued");
        STAT(fetch, "fetch");
        STAT(execute, "execute");
        STAT(upload, "upload");
        /* The cache-hit path: GetActionResult answers before Execute. */
        for (int i = 0; i < ok; i++) {
            Rev2ExecuteResponse *resp = NULL;
            int64_t t0 = rev2_now_us();
            rev2_error *e = rev2_execute_sync(c, instance, &last, NULL, NULL, NULL, &resp);
            v[i] = (double)(rev2_now_us() - t0) / 1000.0;
            if (e || !resp || !resp->cached_result)
                v[i] = 1e9;
            rev2_error_free(e);
            rev2_msg_free(resp);
        }
        printf("  %-10s p50 %7.2f ms   p90 %7.2f ms\n", "cache hit", pct(v, ok, 0.5), pct(v, ok, 0.9));
    }
    free(s);
    free(v);
    return median_total;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    const char *defaults[] = {"hardlinking", "fuse"};
    const char **instances = argc > 2 ? (const char **)argv + 2 : defaults;
    int n_instances = argc > 2 ? argc - 2 : 2;
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980";
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    if (!c) {
        fprintf(stderr, "bench_rev2_exec: %s\n", err);
        return 1;
    }
    uint64_t nonce = (uint64_t)rev2_now_us();
    double medians[16] = {0};
    for (int i = 0; i < n_instances && i < 16; i++)
        medians[i] = bench_instance(c, instances[i], runs, nonce);
    if (n_instances >= 2 && medians[0] > 0)
        printf("ratio %s/%s of end-to-end medians: %.2f\n", instances[1], instances[0], medians[1] / medians[0]);
    rev2_client_free(c);
    return 0;
}
