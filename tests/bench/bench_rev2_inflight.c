/* bench_rev2_inflight: many Executes in flight at once through one
 * rev2_client, to show that calls waiting on Buildbarn hold no thread.
 *
 *   bench_rev2_inflight [COUNT] [INSTANCE]   (default 1000 on hardlinking)
 *
 * COUNT distinct trivial actions (/bin/true, a salt each) are uploaded,
 * then all submitted at once with the cache lookup skipped; most wait in
 * Buildbarn's queue. Prints the process's thread count and resident
 * memory while they are in flight, the peak RSS, and the throughput. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rev2_action.h"
#include "rev2_blocking.h"

static const rev2_property platform[] = {
    {"OSFamily", "linux"},
    {"container-image", "docker://ghcr.io/catthehacker/ubuntu:act-22.04@sha256:"
                        "dd7654ffb01d5b7b54b23b9ce928a1f7f2d08c7b3d7e320b6574b55d7ccde78b"},
};

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, failed, max_in_flight, in_flight;
} tally;

static long status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

static void on_done(void *user, rev2_error *err, Rev2ExecuteResponse *resp)
{
    tally *t = user;
    pthread_mutex_lock(&t->lock);
    if (err || !resp || !resp->result || resp->result->exit_code != 0) {
        if (t->failed++ < 3)
            fprintf(stderr, "failed: %s\n", err ? err->message : "exit code");
    }
    t->done++;
    t->in_flight--;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    rev2_error_free(err);
    rev2_msg_free(resp);
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 1000;
    const char *instance = argc > 2 ? argv[2] : "hardlinking";
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980";
    o.execute_timeout_ms = 600000;
    char *err = NULL;
    long threads_before = status_field("Threads");
    rev2_client *c = rev2_client_new(&o, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    long threads_idle = status_field("Threads");

    /* Distinct actions: one Command, an empty input root, a salt each. */
    rev2_built_action *built = calloc((size_t)count, sizeof *built);
    rev2_blob *blobs = calloc((size_t)count * 2, sizeof *blobs);
    const char *args[] = {"/bin/true"};
    uint64_t nonce = (uint64_t)rev2_now_us();
    for (int i = 0; i < count; i++) {
        uint64_t salt[2] = {nonce, (uint64_t)i};
        rev2_action_spec spec = {.arguments = args,
                                 .n_arguments = 1,
                                 .platform = platform,
                                 .n_platform = 2,
                                 .input_root = rev2_empty_digest,
                                 .salt = (const uint8_t *)salt,
                                 .salt_len = sizeof salt};
        if (rev2_action_build(&spec, &built[i], &err) < 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        rev2_action_blobs(&built[i], &blobs[2 * i]);
    }
    rev2_blob empty = {.digest = rev2_empty_digest, .data = (const uint8_t *)""};
    rev2_error *e = rev2_upload_missing_sync(c, instance, blobs, (size_t)count * 2, NULL);
    if (!e)
        e = rev2_upload_missing_sync(c, instance, &empty, 1, NULL);
    if (e) {
        fprintf(stderr, "upload: %s\n", e->message);
        return 1;
    }

    tally t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
    rev2_execute_options eo = {.skip_cache_lookup = true};
    int64_t t0 = rev2_now_ms();
    for (int i = 0; i < count; i++) {
        pthread_mutex_lock(&t.lock);
        t.in_flight++;
        if (t.in_flight > t.max_in_flight)
            t.max_in_flight = t.in_flight;
        pthread_mutex_unlock(&t.lock);
        rev2_execute(c, instance, &built[i].action_digest, &eo, NULL, on_done, &t);
    }
    int64_t submitted = rev2_now_ms() - t0;
    long threads_busy = status_field("Threads"), rss_busy = status_field("VmRSS");
    int in_flight_at_sample;
    pthread_mutex_lock(&t.lock);
    in_flight_at_sample = t.in_flight;
    while (t.done < count)
        pthread_cond_wait(&t.cond, &t.lock);
    pthread_mutex_unlock(&t.lock);
    int64_t total = rev2_now_ms() - t0;

    printf("%d Executes on \"%s\": submitted in %lld ms, all done in %lld ms (%.0f actions/s), %d failed\n", count,
           instance, (long long)submitted, (long long)total, count * 1000.0 / (double)(total ? total : 1), t.failed);
    printf("in flight when sampled: %d; threads: %ld before the client, %ld idle, %ld with them in flight\n",
           in_flight_at_sample, threads_before, threads_idle, threads_busy);
    printf("resident memory with them in flight: %.1f MiB; peak (VmHWM): %.1f MiB\n", rss_busy / 1024.0,
           status_field("VmHWM") / 1024.0);
    rev2_client_free(c);
    for (int i = 0; i < count; i++)
        rev2_built_action_free(&built[i]);
    free(built);
    free(blobs);
    return t.failed ? 1 : 0;
}
