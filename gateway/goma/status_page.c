#include "status_page.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "errmsg.h"
#include "html.h"
#include "rev2_pool_health.h"
#include "mem.h"

struct status_page {
    rev2_client *client;
    cas_store *store;
    goma_files *files;
    http_server *http;
    metrics *metrics;
    request_log *log;
    time_t started;
    char *summary;           /* the configuration, rendered once (no secrets) */
    gmb_budget *budget;      /* NULL: not shown */
    rev2_pool_health *pools; /* NULL: not shown */
};

static void refresh_pool_gauges(status_page *s);

/* Refreshes gauges from the parts that keep their own counters. */
static void refresh_gauges(status_page *s)
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
    metrics_set(s->metrics, "gomabarn_buildbarn_queue_timeouts_total", (int64_t)cs.queue_timeouts);
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

void status_page_watch_budget(status_page *s, struct gmb_budget *budget)
{
    s->budget = budget;
}

void status_page_watch_pools(status_page *s, struct rev2_pool_health *pools)
{
    s->pools = pools;
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
        snprintf(series, sizeof series, "gomabarn_pool_refused_total{instance=\"%s\"}", label);
        metrics_set(s->metrics, series, (int64_t)st[i].refused);
    }
    free(st);
}

static void on_metrics(http_request *r, void *user)
{
    status_page *s = user;
    refresh_gauges(s);
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    metrics_render(s->metrics, &out);
    http_respond(r, 200, "text/plain; version=0.0.4", out.data, out.len);
    gmb_buf_free(&out);
}

typedef struct {
    status_page *s;
    http_request *r;
} page_job;

/* The worker pools: up or down, since when, why, workers per the scheduler. */
static void put_pools(gmb_buf *b, rev2_pool_health *pools)
{
    rev2_pool_state *st = gmb_calloc(64, sizeof *st);
    size_t n = rev2_pool_health_list(pools, st, 64);
    html_put(b, "<h2>Worker pools</h2><p>scheduler (BuildQueueState): %s</p>",
             rev2_pool_health_scheduler_reachable(pools) ? "answering" : "not watched or not answering");
    html_put(b, "<table><tr><th>instance name</th><th>state</th><th>for</th><th>workers</th><th>answered at once</th>"
                "<th>why</th></tr>");
    for (size_t i = 0; i < n; i++) {
        char *name = html_escape(st[i].instance), *why = html_escape(st[i].reason);
        char workers[16] = "?";
        if (st[i].workers >= 0)
            snprintf(workers, sizeof workers, "%d", st[i].workers);
        html_put(b,
                 "<tr><td>\"%s\"</td><td class=\"%s\">%s</td><td>%lld s</td><td>%s</td><td>%llu</td><td>%s</td></tr>",
                 name,
                 !st[i].known ? ""
                 : st[i].up   ? "done"
                              : "failed",
                 !st[i].known ? "unknown"
                 : st[i].up   ? "up"
                              : "DOWN",
                 (long long)st[i].since_s, workers, (unsigned long long)st[i].refused, why);
        free(name);
        free(why);
    }
    html_put(b, "</table>");
    free(st);
}

static void render_index(void *user, rev2_error *err, Rev2ServerCapabilities *caps)
{
    page_job *j = user;
    status_page *s = j->s;
    refresh_gauges(s);
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    html_put(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn</title>%s</head><body>",
             html_style);
    html_put(&b, "<h1>gomabarn %s</h1><p>up %lld s</p>", GOMABARN_VERSION, (long long)(time(NULL) - s->started));
    char *e = err ? html_escape(err->message) : NULL;
    html_put(&b, "<h2>Buildbarn</h2><p class=\"%s\">%s%s</p>", err ? "failed" : "done",
             err ? "UNREACHABLE or refusing: " : "reachable (GetCapabilities answered)", e ? e : "");
    free(e);
    if (s->pools)
        put_pools(&b, s->pools);
    html_put(&b, "<h2>Configuration</h2>%s", s->summary);
    html_put(&b, "<h2>Figures</h2><table><tr><th>series</th><th>value</th></tr>");
    static const char *const shown[] = {"gomabarn_exec_in_flight",
                                        "gomabarn_exec_cache_hits_total",
                                        "gomabarn_exec_missing_input_rounds_total",
                                        "gomabarn_cache_blobs",
                                        "gomabarn_cache_bytes",
                                        "gomabarn_cache_fetches_total",
                                        "gomabarn_buildbarn_bytes_up_total",
                                        "gomabarn_exec_input_bytes_read_total",
                                        "gomabarn_buildbarn_find_missing_avoided_total",
                                        "gomabarn_buildbarn_bytes_down_total",
                                        "gomabarn_buildbarn_retries_total",
                                        "gomabarn_files_stored_total",
                                        "gomabarn_http_in_flight",
                                        "gomabarn_blob_memory_bytes",
                                        "gomabarn_blob_memory_peak_bytes"};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        html_put(&b, "<tr><td>%s</td><td>%lld</td></tr>", shown[i], (long long)metrics_get(s->metrics, shown[i]));
    html_put(&b,
             "</table><p><a href=\"/metrics\">/metrics</a> &middot; <a href=\"/compare\">shadow comparisons</a></p>");
    html_put(&b, "<h2>Recent Exec requests</h2><table><tr><th>#</th><th>started</th><th>state</th><th>ms</th>"
                 "<th>instance</th><th>cache</th><th>exit</th><th>user</th><th>error</th></tr>");
    request_entry *recent = gmb_calloc(100, sizeof *recent);
    size_t n = request_log_recent(s->log, recent, 100);
    for (size_t i = 0; i < n; i++) {
        request_entry *q = &recent[i];
        char when[32];
        struct tm tm;
        gmtime_r(&q->started, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        char *inst = html_escape(q->instance), *usr = html_escape(q->user), *er = html_escape(q->error);
        html_put(&b,
                 "<tr><td><a href=\"/request/%llu\">%llu</a></td><td>%s</td><td class=\"%s\">%s</td><td>%.0f</td>"
                 "<td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%.120s</td></tr>",
                 (unsigned long long)q->id, (unsigned long long)q->id, when, q->state, q->state, q->duration_ms, inst,
                 q->cache_hit ? "hit" : "", q->exit_code, usr, er);
        free(inst);
        free(usr);
        free(er);
    }
    free(recent);
    html_put(&b, "</table></body></html>\n");
    http_respond(j->r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    rev2_error_free(err);
    rev2_msg_free(caps);
    free(j);
}

static void on_index(http_request *r, void *user)
{
    page_job *j = gmb_malloc(sizeof *j);
    *j = (page_job){user, r};
    /* Reachability is asked now; the page is rendered when it answers. */
    rev2_get_capabilities(((status_page *)user)->client, NULL, render_index, j);
}

static void on_request_page(http_request *r, void *user)
{
    status_page *s = user;
    const char *id_text = http_request_path(r) + strlen("/request/");
    request_entry q;
    if (!request_log_get(s->log, strtoull(id_text, NULL, 10), &q)) {
        const char *msg = "gomabarn: no such request in the recent log\n";
        http_respond(r, 404, "text/plain; charset=utf-8", msg, strlen(msg));
        return;
    }
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    char *inst = html_escape(q.instance), *usr = html_escape(q.user), *er = html_escape(q.error),
         *wk = html_escape(q.worker), *rq = html_escape(q.requester);
    html_put(&b,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn request %llu</title>%s</head><body>"
             "<h1>Exec request %llu</h1><table>",
             (unsigned long long)q.id, html_style, (unsigned long long)q.id);
    html_put(&b, "<tr><th>state</th><td class=\"%s\">%s</td></tr>", q.state, q.state);
    html_put(&b, "<tr><th>requester</th><td>%s (%s)</td></tr>", rq, usr);
    html_put(&b, "<tr><th>instance name</th><td>%s</td></tr>", inst);
    html_put(&b, "<tr><th>action digest</th><td>%s</td></tr>", q.action);
    html_put(&b, "<tr><th>inputs</th><td>%zu (%zu missing)</td></tr><tr><th>outputs</th><td>%zu</td></tr>", q.n_inputs,
             q.n_missing, q.n_outputs);
    html_put(&b, "<tr><th>cache</th><td>%s</td></tr><tr><th>exit status</th><td>%d</td></tr>",
             q.cache_hit ? "hit" : "miss", q.exit_code);
    html_put(&b, "<tr><th>worker</th><td>%s</td></tr>", wk);
    html_put(&b,
             "<tr><th>queued</th><td>%.1f ms</td></tr><tr><th>input fetch</th><td>%.1f ms</td></tr>"
             "<tr><th>execution</th><td>%.1f ms</td></tr><tr><th>output upload</th><td>%.1f ms</td></tr>"
             "<tr><th>total in gomabarn</th><td>%.1f ms</td></tr>",
             q.queued_ms, q.fetch_ms, q.execute_ms, q.upload_ms, q.duration_ms);
    html_put(&b, "<tr><th>error</th><td>%s</td></tr></table><p><a href=\"/\">back</a></p></body></html>\n", er);
    free(inst);
    free(usr);
    free(er);
    free(wk);
    free(rq);
    http_respond(r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
}

status_page *status_page_new(const gmb_config *cfg, rev2_client *client, cas_store *store, goma_files *files,
                             http_server *http, metrics *m, request_log *log)
{
    status_page *s = gmb_calloc(1, sizeof *s);
    *s = (status_page){client, store, files, http, m, log, time(NULL), NULL, NULL, NULL};
    char *target = html_escape(cfg->bb_target), *inst = html_escape(cfg->bb_instance_name),
         *img = html_escape(cfg->platform_container_image), *dir = html_escape(cfg->cache_dir),
         *prefix = html_escape(cfg->http_path_prefix);
    s->summary = gmb_format(
        "<table><tr><th>Buildbarn</th><td>%s (%s%s)</td></tr><tr><th>default instance name</th><td>\"%s\"</td></tr>"
        "<tr><th>platform</th><td>OSFamily=%s%s%s</td></tr><tr><th>cache</th><td>%s (max %lld bytes)</td></tr>"
        "<tr><th>goma endpoints</th><td>%s/ (auth %s)</td></tr><tr><th>outputs read</th><td>%s</td></tr></table>",
        target, cfg->bb_tls ? "TLS" : "plain text", *cfg->bb_token_file ? ", bearer token" : "", inst,
        cfg->platform_os_family, *img ? ", container-image=" : "", img, dir, (long long)cfg->cache_max_bytes, prefix,
        cfg->auth_mode,
        cfg->mount_enabled ? "through the FUSE view at mount.path (in-process if it could not mount)" : "in-process");
    free(target);
    free(inst);
    free(img);
    free(dir);
    free(prefix);
    static const char *const families[][3] = {
        {"gomabarn_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code."},
        {"gomabarn_http_in_flight", "gauge", "HTTP requests being handled."},
        {"gomabarn_exec_requests_total", "counter", "Exec requests by outcome (done, missing, failed, bad)."},
        {"gomabarn_exec_in_flight", "gauge", "Exec requests not answered yet."},
        {"gomabarn_exec_cache_hits_total", "counter", "Exec requests answered from Buildbarn's action cache."},
        {"gomabarn_exec_missing_input_rounds_total", "counter", "Exec answers asking the client for missing inputs."},
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
        {"gomabarn_pool_up", "gauge", "1 if the worker pool (instance name) is up, 0 if known down."},
        {"gomabarn_pool_workers", "gauge", "Workers the scheduler lists for the pool (buildbarn.scheduler_target)."},
        {"gomabarn_pool_refused_total", "counter", "Requests answered at once because their pool was down."},
        {"gomabarn_exec_fallbacks_total", "counter",
         "Actions run on exec.fallback_instance because their own pool was down or had no workers."},
        {"gomabarn_exec_pool_down_answers_total", "counter",
         "Exec requests answered at once because their pool was down (all pools)."},
        {"gomabarn_exec_outputs_via_view_total", "counter", "Exec output files read back through the FUSE view."},
    };
    for (size_t i = 0; i < sizeof families / sizeof *families; i++)
        metrics_family(m, families[i][0], families[i][1], families[i][2]);
    return s;
}

void status_page_routes(status_page *s, http_server *http)
{
    http_server_route(http, "/", "GET", true, on_index, s);
    http_server_route(http, "/request/*", "GET", true, on_request_page, s);
    http_server_route(http, "/metrics", "GET", true, on_metrics, s);
}

void status_page_free(status_page *s)
{
    if (!s)
        return;
    free(s->summary);
    free(s);
}
