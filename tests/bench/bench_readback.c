/* bench_readback: what reading Exec outputs back through the FUSE view
 * costs, against reading them from the store in-process (driven by
 * bench_readback.sh, which starts one gateway of each kind on the same
 * Buildbarn).
 *   bench_readback VIEW_PORT INPROC_PORT
 * Every measured Exec is an action-cache hit, so the difference between
 * the two gateways is the read-back alone:
 *   cold  the gateway has never held the output: it is fetched from
 *         Buildbarn (the action was run through the other gateway);
 *   warm  the output is in the gateway's store (and, through the view,
 *         in the kernel's page cache).
 * Outputs of 4 KiB, 1 MiB and 8 MiB (the last one goes back to the client
 * as FILE_META plus chunks). Medians of one run, one machine.
 * The target lines compare the largest output's Exec times: in-process
 * time over mount time, so 1.0 means the mount costs nothing (cold: the
 * in-process gateway reads the fetched store file; warm: the store file
 * it already holds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_goma_req.h"
#include "rev2_engine.h"

enum { COLD = 15, WARM = 100 };

static int64_t output_size(const DevtoolsGoma__ExecResp *r)
{
    if (!r || !r->result || r->result->exit_status != 0 || r->result->n_output != 1)
        return -1;
    const DevtoolsGoma__FileBlob *b = r->result->output[0]->blob;
    return b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE ? (int64_t)b->content.len : b->file_size;
}

/* Runs an Exec; its time in ms, or -1 if the answer is not `size` bytes
 * of output (as a cache hit when `want_hit`). */
static double timed_exec(int port, const uint8_t *req, size_t len, int64_t size, bool want_hit)
{
    int64_t t0 = rev2_now_us();
    DevtoolsGoma__ExecResp *r = bench_exec(port, req, len);
    double ms = (double)(rev2_now_us() - t0) / 1000.0;
    bool ok = output_size(r) == size && (!want_hit || (r->has_cache_hit && r->cache_hit));
    if (r)
        devtools_goma__exec_resp__free_unpacked(r, NULL);
    return ok ? ms : -1;
}

static uint8_t *make_req(int64_t size, const char *tag, int i, size_t *len)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "head -c %lld /dev/urandom >out.bin # %s %d %lld", (long long)size, tag, i,
             (long long)rev2_now_us());
    char *args[] = {"sh", "-c", cmd};
    return bench_exec_req("in.txt", "readback bench\n", args, 3, "out.bin", len);
}

/* K distinct actions, run once through `prime_port`, then timed as cache
 * hits through `port` (outputs cold there). Median ms, or -1. */
static double cold_median(int prime_port, int port, int64_t size, const char *tag, uint8_t **keep, size_t *keep_len)
{
    double ms[COLD];
    for (int i = 0; i < COLD; i++) {
        size_t len;
        uint8_t *req = make_req(size, tag, i, &len);
        if (timed_exec(prime_port, req, len, size, false) < 0 || (ms[i] = timed_exec(port, req, len, size, true)) < 0) {
            fprintf(stderr, "bench_readback: %s exec %d failed\n", tag, i);
            free(req);
            return -1;
        }
        if (i == 0) {
            *keep = req;
            *keep_len = len;
        } else {
            free(req);
        }
    }
    return bench_pct(ms, COLD, 0.5);
}

static double warm_median(int port, const uint8_t *req, size_t len, int64_t size)
{
    double ms[WARM];
    for (int i = 0; i < WARM; i++)
        if ((ms[i] = timed_exec(port, req, len, size, true)) < 0)
            return -1;
    return bench_pct(ms, WARM, 0.5);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_readback VIEW_PORT INPROC_PORT\n");
        return 2;
    }
    int view = atoi(argv[1]), inproc = atoi(argv[2]);
    const int64_t sizes[] = {4096, 1 << 20, 8 << 20};
    printf("== outputs read back through the mount vs in-process (Exec = action-cache hit; median ms)\n");
    printf("  %-8s %-5s %10s %10s %10s %7s\n", "output", "", "mount", "in-proc", "added", "ratio");
    int rc = 0;
    double last_cold_v = -1, last_cold_i = -1, last_warm_v = -1, last_warm_i = -1;
    size_t n_sizes = sizeof sizes / sizeof *sizes;
    for (size_t s = 0; s < n_sizes; s++) {
        int64_t size = sizes[s];
        uint8_t *req_v = NULL, *req_i = NULL;
        size_t len_v = 0, len_i = 0;
        /* Cold on the view gateway: actions primed through the in-process
         * one, and the other way round. */
        double cold_v = cold_median(inproc, view, size, "v", &req_v, &len_v);
        double cold_i = cold_median(view, inproc, size, "i", &req_i, &len_i);
        /* Warm: one action both gateways now hold. */
        double warm_v = cold_v < 0 ? -1 : warm_median(view, req_v, len_v, size);
        double warm_i = cold_v < 0 ? -1 : warm_median(inproc, req_v, len_v, size);
        free(req_v);
        free(req_i);
        if (cold_v < 0 || cold_i < 0 || warm_v < 0 || warm_i < 0) {
            rc = 1;
            continue;
        }
        char label[32];
        snprintf(label, sizeof label, "%lld KiB", (long long)(size / 1024));
        printf("  %-8s %-5s %10.3f %10.3f %10.3f %7.2f\n", label, "cold", cold_v, cold_i, cold_v - cold_i,
               cold_v / cold_i);
        printf("  %-8s %-5s %10.3f %10.3f %10.3f %7.2f\n", "", "warm", warm_v, warm_i, warm_v - warm_i,
               warm_v / warm_i);
        if (s == n_sizes - 1) {
            last_cold_v = cold_v;
            last_cold_i = cold_i;
            last_warm_v = warm_v;
            last_warm_i = warm_i;
        }
    }
    if (last_cold_v > 0 && last_warm_v > 0) {
        double mib = (double)sizes[n_sizes - 1] / (1 << 20);
        printf("== %.0f MiB output, Exec throughput (MiB/s, from the medians above)\n", mib);
        printf("  cold  mount %8.1f  in-process %8.1f\n", mib * 1000 / last_cold_v, mib * 1000 / last_cold_i);
        printf("  warm  mount %8.1f  in-process %8.1f\n", mib * 1000 / last_warm_v, mib * 1000 / last_warm_i);
        double cold_ratio = last_cold_i / last_cold_v, warm_ratio = last_warm_i / last_warm_v;
        printf("target fuse_cold_read_ratio: %.2f (goal >= 0.9) %s\n", cold_ratio, cold_ratio >= 0.9 ? "PASS" : "FAIL");
        printf("target fuse_warm_read_ratio: %.2f (goal >= 0.9) %s\n", warm_ratio, warm_ratio >= 0.9 ? "PASS" : "FAIL");
    }
    return rc;
}
