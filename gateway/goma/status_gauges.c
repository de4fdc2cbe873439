#include "status_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "budget.h"
#include "mem.h"
#include "rev2_pool_health.h"

static void refresh_pool_gauges(status_page *s);

/* One sample a minute at most, so the ring spans the last
 * EVICTION_SAMPLES minutes or more. */
static void sample_evictions(status_page *s, int64_t evictions)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&s->evicted_lock);
    size_t newest = 0;
    for (size_t i = 1; i < EVICTION_SAMPLES; i++)
        if (s->evicted[i].t > s->evicted[newest].t)
            newest = i;
    if (!s->evicted[newest].t || now - s->evicted[newest].t >= 60) {
        size_t slot = s->evicted[newest].t ? (newest + 1) % EVICTION_SAMPLES : 0;
        s->evicted[slot].t = now;
        s->evicted[slot].evictions = evictions;
    }
    pthread_mutex_unlock(&s->evicted_lock);
}

double status_eviction_rate(status_page *s)
{
    time_t now = time(NULL);
    cas_store_stats st;
    cas_store_stats_get(s->store, &st);
    /* Against the oldest sample a minute old or more; else since start. */
    time_t t0 = s->started;
    int64_t e0 = 0;
    bool found = false;
    pthread_mutex_lock(&s->evicted_lock);
    for (size_t i = 0; i < EVICTION_SAMPLES; i++)
        if (s->evicted[i].t && now - s->evicted[i].t >= 60 && (!found || s->evicted[i].t < t0)) {
            t0 = s->evicted[i].t;
            e0 = s->evicted[i].evictions;
            found = true;
        }
    pthread_mutex_unlock(&s->evicted_lock);
    double minutes = (double)(now - t0) / 60.0;
    return minutes > 0 ? (double)((int64_t)st.evictions - e0) / minutes : 0;
}

void status_refresh_gauges(status_page *s)
{
    rev2_client_stats cs;
    rev2_client_stats_get(s->client, &cs);
    metrics_set(s->metrics, "gomabarn_buildbarn_bytes_up_total", (int64_t)cs.bytes_up);
    metrics_set(s->metrics, "gomabarn_buildbarn_bytes_down_total", (int64_t)cs.bytes_down);
    metrics_set(s->metrics, "gomabarn_buildbarn_calls_total", (int64_t)cs.calls);
    metrics_set(s->metrics, "gomabarn_buildbarn_retries_total", (int64_t)cs.retries);
    metrics_set(s->metrics, "gomabarn_buildbarn_find_missing_calls_total", (int64_t)cs.find_missing_calls);
    metrics_set(s->metrics, "gomabarn_buildbarn_find_missing_avoided_total", (int64_t)cs.find_missing_avoided);
    metrics_set(s->metrics, "gomabarn_buildbarn_blobs_known_present_total", (int64_t)cs.blobs_known_present);
    metrics_set(s->metrics, "gomabarn_buildbarn_uploads_joined_total", (int64_t)cs.uploads_joined);
    metrics_set(s->metrics, "gomabarn_exec_input_bytes_read_total", (int64_t)cs.file_bytes_read);
    metrics_set(s->metrics, "gomabarn_buildbarn_requeued_total", (int64_t)cs.requeued);
    metrics_set(s->metrics, "gomabarn_buildbarn_reattaches_total", (int64_t)cs.reattaches);
    metrics_set(s->metrics, "gomabarn_buildbarn_queue_timeouts_total", (int64_t)cs.queue_timeouts);
    metrics_set(s->metrics, "gomabarn_buildbarn_workers_lost_total", (int64_t)cs.workers_lost);
    if (s->pools)
        refresh_pool_gauges(s);
    cas_store_stats st;
    cas_store_stats_get(s->store, &st);
    metrics_set(s->metrics, "gomabarn_cache_blobs", (int64_t)st.blobs);
    metrics_set(s->metrics, "gomabarn_cache_bytes", (int64_t)st.bytes);
    metrics_set(s->metrics, "gomabarn_cache_disk_bytes", (int64_t)st.disk_bytes);
    metrics_set(s->metrics, "gomabarn_cache_hits_total", (int64_t)st.hits);
    metrics_set(s->metrics, "gomabarn_cache_fetches_total", (int64_t)st.fetches);
    metrics_set(s->metrics, "gomabarn_cache_evictions_total", (int64_t)st.evictions);
    sample_evictions(s, (int64_t)st.evictions);
    metrics_set(s->metrics, "gomabarn_cache_pins", (int64_t)st.timed_pins);
    goma_files_stats fs;
    goma_files_stats_get(s->files, &fs);
    metrics_set(s->metrics, "gomabarn_files_stored_total", (int64_t)fs.stored);
    metrics_set(s->metrics, "gomabarn_files_refused_total", (int64_t)fs.refused);
    uint64_t served, in_flight;
    http_server_counts(s->http, &served, &in_flight);
    metrics_set(s->metrics, "gomabarn_http_in_flight", (int64_t)in_flight);
    if (s->budget) {
        gmb_budget_stats bs;
        gmb_budget_stats_get(s->budget, &bs);
        metrics_set(s->metrics, "gomabarn_blob_memory_bytes", (int64_t)bs.in_use);
        metrics_set(s->metrics, "gomabarn_blob_memory_peak_bytes", (int64_t)bs.peak);
        metrics_set(s->metrics, "gomabarn_blob_memory_limit_bytes", (int64_t)bs.max);
        metrics_set(s->metrics, "gomabarn_blob_memory_waits_total", (int64_t)bs.waits);
        metrics_set(s->metrics, "gomabarn_blob_memory_waiting", (int64_t)bs.waiting);
    }
}

#define MAX_SHOWN_POOLS 64

static void refresh_pool_gauges(status_page *s)
{
    rev2_pool_state *st = gmb_calloc(MAX_SHOWN_POOLS, sizeof *st);
    size_t n = rev2_pool_health_list(s->pools, st, MAX_SHOWN_POOLS);
    for (size_t i = 0; i < n; i++) {
        char label[300], series[400];
        metrics_label_value(label, sizeof label, st[i].instance);
        if (st[i].known) {
            snprintf(series, sizeof series, "gomabarn_pool_up{instance=\"%s\"}", label);
            metrics_set(s->metrics, series, st[i].up);
        }
        if (st[i].workers >= 0) {
            snprintf(series, sizeof series, "gomabarn_pool_workers{instance=\"%s\"}", label);
            metrics_set(s->metrics, series, st[i].workers);
        }
        if (st[i].silent_workers >= 0) {
            snprintf(series, sizeof series, "gomabarn_pool_silent_workers{instance=\"%s\"}", label);
            metrics_set(s->metrics, series, st[i].silent_workers);
        }
        snprintf(series, sizeof series, "gomabarn_pool_refused_total{instance=\"%s\"}", label);
        metrics_set(s->metrics, series, (int64_t)st[i].refused);
    }
    free(st);
}

void status_declare_families(metrics *m)
{
    static const char *const families[][3] = {
        {"gomabarn_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code."},
        {"gomabarn_http_in_flight", "gauge", "HTTP requests being handled."},
        {"gomabarn_exec_requests_total", "counter", "Exec requests by outcome (done, missing, failed, bad)."},
        {"gomabarn_exec_in_flight", "gauge", "Exec requests not answered yet."},
        {"gomabarn_exec_cache_hits_total", "counter", "Exec requests answered from Buildbarn's action cache."},
        {"gomabarn_exec_prepared_total", "counter",
         "Exec requests prepared up to the action-cache lookup, by thread: on=\"http\" (every input held here, "
         "no hand-over) or on=\"pool\" (an input to fetch or store first, or a body over 1 MiB)."},
        {"gomabarn_exec_missing_input_rounds_total", "counter", "Exec answers asking the client for missing inputs."},
        {"gomabarn_exec_errors_total", "counter",
         "Exec requests answered with an error (outcome failed or bad), by reason: the status page's reasons."},
        {"gomabarn_exec_input_files_opened_total", "counter",
         "Input files opened in the content store to upload them (only after an action-cache miss)."},
        {"gomabarn_exec_missing_blobs_healed_total", "counter",
         "Blobs Buildbarn lost before its worker fetched them, uploaded again (then executed once more)."},
        {"gomabarn_buildbarn_calls_total", "counter", "gRPC calls to Buildbarn."},
        {"gomabarn_buildbarn_retries_total", "counter", "Calls retried after UNAVAILABLE or RESOURCE_EXHAUSTED."},
        {"gomabarn_buildbarn_bytes_up_total", "counter", "Blob bytes uploaded to Buildbarn."},
        {"gomabarn_buildbarn_bytes_down_total", "counter", "Blob bytes downloaded from Buildbarn."},
        {"gomabarn_buildbarn_find_missing_calls_total", "counter",
         "FindMissingBlobs calls made before uploading an action's blobs."},
        {"gomabarn_buildbarn_find_missing_avoided_total", "counter",
         "FindMissingBlobs calls not made: every blob was known present (buildbarn.known_blobs_*)."},
        {"gomabarn_buildbarn_blobs_known_present_total", "counter",
         "Blobs not asked about because they were known present in Buildbarn's CAS."},
        {"gomabarn_buildbarn_uploads_joined_total", "counter",
         "Blobs not uploaded because another request's upload in flight was sending them."},
        {"gomabarn_exec_input_bytes_read_total", "counter",
         "Bytes of input files read from the content store to upload them (only after an action-cache miss)."},
        {"gomabarn_cache_blobs", "gauge", "Blobs in the local content store."},
        {"gomabarn_cache_bytes", "gauge", "Content bytes in the local content store (the sum of blob sizes)."},
        {"gomabarn_cache_disk_bytes", "gauge",
         "Disk space the local content store's blobs take (sizes rounded up to blocks): what cache.max_bytes bounds."},
        {"gomabarn_cache_hits_total", "counter", "Content store reads served from disk."},
        {"gomabarn_cache_fetches_total", "counter", "Content store fetches from Buildbarn (one per missing blob)."},
        {"gomabarn_cache_evictions_total", "counter", "Blobs evicted from the content store."},
        {"gomabarn_cache_pins", "gauge",
         "Pin sets holding blobs in the content store (goma chunks awaiting their FILE_META, inputs of Execs)."},
        {"gomabarn_files_stored_total", "counter", "goma FileBlobs stored (StoreFile and embedded inputs)."},
        {"gomabarn_files_refused_total", "counter", "goma FileBlobs refused for breaking goma's rules."},
        {"gomabarn_blob_memory_bytes", "gauge",
         "Blob bytes held in memory now (upload buffers, outputs being answered; exec.max_blob_memory_bytes)."},
        {"gomabarn_blob_memory_peak_bytes", "gauge", "Most blob bytes held in memory at once since start."},
        {"gomabarn_blob_memory_limit_bytes", "gauge", "exec.max_blob_memory_bytes."},
        {"gomabarn_blob_memory_waits_total", "counter", "Times a request waited for blob memory (back-pressure)."},
        {"gomabarn_blob_memory_waiting", "gauge", "Requests waiting for blob memory now."},
        {"gomabarn_buildbarn_requeued_total", "counter",
         "Actions Buildbarn queued again because their worker disappeared."},
        {"gomabarn_buildbarn_queue_timeouts_total", "counter",
         "Actions given up after waiting QUEUED past exec.max_queued_s."},
        {"gomabarn_buildbarn_workers_lost_total", "counter",
         "Actions given up while executing because their worker stopped synchronizing with the scheduler "
         "(buildbarn.scheduler_target)."},
        {"gomabarn_buildbarn_reattaches_total", "counter",
         "WaitExecution calls: an Execute stream ended before its action (broken, silent, requeued) and was "
         "followed up."},
        {"gomabarn_pool_up", "gauge", "1 if the worker pool (instance name) is up, 0 if known down."},
        {"gomabarn_pool_workers", "gauge", "Workers the scheduler lists for the pool (buildbarn.scheduler_target)."},
        {"gomabarn_pool_silent_workers", "gauge",
         "Of the pool's workers, those listed with the same timeout 15 s apart: stopped synchronizing with the "
         "scheduler."},
        {"gomabarn_pool_refused_total", "counter", "Requests answered at once because their pool was down."},
        {"gomabarn_exec_fallbacks_total", "counter",
         "Actions run on exec.fallback_instance because their own pool was down or had no workers."},
        {"gomabarn_exec_tried_again_total", "counter",
         "Actions run once more on their pool because Buildbarn said their worker disappeared."},
        {"gomabarn_exec_fallbacks_skipped_total", "counter",
         "Actions not moved to exec.fallback_instance because their client had closed its connection."},
        {"gomabarn_exec_pool_down_answers_total", "counter",
         "Exec requests answered at once because their pool was down (all pools)."},
        {"gomabarn_exec_outputs_via_view_total", "counter", "Exec output files read back through the FUSE view."},
    };
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        metrics_family(m, families[i][0], families[i][1], families[i][2]);
}
