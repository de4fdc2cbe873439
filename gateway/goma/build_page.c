/* The per-build summary, for build engineers:
 *   /builds[?format=json]            the builds kept (build_log.h)
 *   /build[?prefix=KEY|?since=SECONDS][&format=json]
 *                                    one build: the last one, the one with
 *                                    that compiler_proxy id prefix, or the
 *                                    recent requests of a time window
 * Counts by outcome, the reasons the client compiles locally, the
 * instance name (pool) each request ran on, and its requests still kept
 * in the request log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_log.h"
#include "html.h"
#include "mem.h"
#include "status_internal.h"

#define LISTED_REQUESTS 100

static void respond_text(http_request *r, int code, const char *text)
{
    http_respond(r, code, "text/plain; charset=utf-8", text, strlen(text));
}

static bool want_json(http_request *r, bool *bad)
{
    const char *f = http_request_query(r, "format");
    *bad = f && strcmp(f, "json") != 0 && strcmp(f, "html") != 0;
    return f && strcmp(f, "json") == 0;
}

static void put_time(gmb_buf *b, time_t t)
{
    char when[32];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    html_put(b, "%s", when);
}

/* ---- JSON ------------------------------------------------------------------ */

static void json_count(gmb_buf *b, const char *name_key, const build_count *c)
{
    html_put(b, "{");
    if (name_key) {
        html_put(b, "\"%s\": ", name_key);
        html_json_str(b, c->name);
        html_put(b, ", ");
    }
    html_put(b,
             "\"requests\": %llu, \"hits\": %llu, \"executed\": %llu, \"missing_input_rounds\": %llu, \"failed\": "
             "%llu, \"bad\": %llu, \"ran_as_fallback\": %llu}",
             (unsigned long long)c->requests, (unsigned long long)c->hits, (unsigned long long)c->executed,
             (unsigned long long)c->missing, (unsigned long long)c->failed, (unsigned long long)c->bad,
             (unsigned long long)c->fell_back);
}

static void json_summary(gmb_buf *b, const build_summary *s)
{
    html_put(b, "{\"prefix\": ");
    html_json_str(b, s->key);
    html_put(b, ", \"first\": %lld, \"last\": %lld, \"exit_nonzero\": %llu, \"totals\": ", (long long)s->first,
             (long long)s->last, (unsigned long long)s->exit_nonzero);
    json_count(b, NULL, &s->all);
    html_put(b, ",\n \"local_fallback_reasons\": [");
    for (size_t i = 0; i < s->n_reasons; i++) {
        html_put(b, "%s", i ? ", " : "");
        json_count(b, "reason", &s->reasons[i]);
    }
    html_put(b, "],\n \"instances\": [");
    for (size_t i = 0; i < s->n_instances; i++) {
        html_put(b, "%s", i ? ", " : "");
        json_count(b, "instance", &s->instances[i]);
    }
    html_put(b, "]}");
}

static void json_request(gmb_buf *b, const request_entry *q)
{
    html_put(b, "{\"id\": %llu, \"compiler_proxy_id\": ", (unsigned long long)q->id);
    html_json_str(b, q->requester);
    html_put(b, ", \"state\": \"%s\", \"instance\": ", q->state);
    html_json_str(b, q->instance);
    html_put(b,
             ", \"cache_hit\": %s, \"exit_code\": %d, \"fell_back\": %s, \"reason\": ", q->cache_hit ? "true" : "false",
             q->exit_code, q->fell_back ? "true" : "false");
    html_json_str(b, q->reason);
    html_put(b, "}");
}

/* ---- HTML ------------------------------------------------------------------ */

static void head(gmb_buf *b, const char *title)
{
    char *t = html_escape(title);
    html_put(b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn: %s</title>%s</head><body>", t,
             html_style);
    free(t);
}

void status_put_count_cells(gmb_buf *b, const build_count *c)
{
    html_put(b,
             "<td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu"
             "</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>",
             (unsigned long long)c->requests, (unsigned long long)c->hits, (unsigned long long)c->executed,
             (unsigned long long)c->missing, (unsigned long long)c->failed, (unsigned long long)c->bad,
             (unsigned long long)c->fell_back);
}

static const char count_heads[] = "<th>requests</th><th>hits</th><th>executed (misses)</th><th>missing-input "
                                  "rounds</th><th>failed</th><th>bad</th><th>ran on the fallback pool</th>";

static void html_summary(gmb_buf *b, const build_summary *s)
{
    if (!s->first) {
        html_put(b, "<p>No request finished then.</p>");
        return;
    }
    html_put(b, "<p>From ");
    put_time(b, s->first);
    html_put(b, " to ");
    put_time(b, s->last);
    html_put(b, " UTC.</p><table id=\"build-totals\"><tr>%s</tr><tr>", count_heads);
    status_put_count_cells(b, &s->all);
    html_put(b, "</tr></table>");
    html_put(b, "<h2>Compiled locally, and why</h2><p>The goma client compiles locally after a bad request (at "
                "once), after a failed answer (once its retries fail too), and after a compile that failed "
                "remotely (with GOMA_FALLBACK, the default).</p>");
    if (!s->n_reasons)
        html_put(b, "<p>None.</p>");
    else
        html_put(b, "<table id=\"build-reasons\"><tr><th>reason</th><th>failed</th><th>bad</th><th>compile "
                    "failed</th></tr>");
    for (size_t i = 0; i < s->n_reasons; i++) {
        const build_count *c = &s->reasons[i];
        char *why = html_escape(c->name);
        html_put(b,
                 "<tr><td>%s</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td><td class=\"num\">%llu"
                 "</td></tr>",
                 why, (unsigned long long)c->failed, (unsigned long long)c->bad,
                 (unsigned long long)(c->hits + c->executed));
        free(why);
    }
    if (s->n_reasons)
        html_put(b, "</table>");
    html_put(b, "<h2>Where the actions ran</h2><table id=\"build-instances\"><tr><th>instance name</th>%s</tr>",
             count_heads);
    for (size_t i = 0; i < s->n_instances; i++) {
        char *e = html_escape(s->instances[i].name);
        html_put(b, "<tr><td>\"%s\"</td>", e);
        status_put_count_cells(b, &s->instances[i]);
        html_put(b, "</tr>");
        free(e);
    }
    html_put(b, "</table>");
}

static void html_request(gmb_buf *b, const request_entry *q)
{
    char *rq = html_escape(q->requester), *inst = html_escape(q->instance), *why = html_escape(q->reason);
    char code[16] = "-"; /* -1: no result */
    if (q->exit_code >= 0)
        snprintf(code, sizeof code, "%d", q->exit_code);
    html_put(b,
             "<tr><td><a href=\"/request/%llu\">%llu</a></td><td>%s</td><td class=\"%s\">%s</td><td>\"%s\"%s</td>"
             "<td>%s</td><td class=\"num\">%s</td><td>%s</td></tr>",
             (unsigned long long)q->id, (unsigned long long)q->id, rq, q->state, q->state, inst,
             q->fell_back ? " (fallback)" : "", q->cache_hit ? "hit" : "", code, why);
    free(rq);
    free(inst);
    free(why);
}

/* ---- The pages ------------------------------------------------------------- */

static bool in_build(const request_entry *q, const char *prefix, time_t since)
{
    if (!request_entry_finished(q))
        return false;
    if (prefix) {
        char key[128];
        build_key_of(q->requester, key, sizeof key);
        return strcmp(key, prefix) == 0;
    }
    return q->started >= since;
}

/* The build's requests still kept: listed, and (for a window) counted. */
static void requests_of(status_page *s, const char *prefix, time_t since, build_summary *count, gmb_buf *b, bool json)
{
    size_t kept = request_log_capacity(s->log);
    request_entry *all = gmb_calloc(kept, sizeof *all);
    size_t n = request_log_recent(s->log, all, kept), listed = 0;
    for (size_t i = n; i-- > 0;) /* oldest first, as they happened */
        if (count && in_build(&all[i], prefix, since))
            build_summary_add(count, all[i].started, &all[i]);
    html_put(b, json ? ",\n\"recent_requests\": ["
                     : "<h2>Its requests still in the request log</h2><table "
                       "id=\"build-requests\"><tr><th>#</th><th>compiler_proxy id</th>"
                       "<th>state</th><th>instance</th><th>cache</th><th>exit</th><th>"
                       "reason</th></tr>");
    for (size_t i = 0; i < n && listed < LISTED_REQUESTS; i++) {
        if (!in_build(&all[i], prefix, since))
            continue;
        if (json)
            html_put(b, "%s", listed ? ",\n " : "");
        (json ? json_request : html_request)(b, &all[i]);
        listed++;
    }
    html_put(b, json ? "]" : "</table>");
    free(all);
}

void status_build_page(http_request *r, void *user)
{
    status_page *s = user;
    bool bad_format, json = want_json(r, &bad_format);
    const char *prefix = http_request_query(r, "prefix"), *since_text = http_request_query(r, "since");
    char *end = NULL;
    long long since_s = since_text ? strtoll(since_text, &end, 10) : 0;
    if (bad_format || (prefix && since_text) || (since_text && (!*since_text || *end || since_s <= 0))) {
        respond_text(r, 400,
                     "gomabarn: /build takes prefix=COMPILER_PROXY_ID_PREFIX or since=SECONDS (not both), "
                     "and format=json\n");
        return;
    }
    build_summary *sum = gmb_calloc(1, sizeof *sum);
    bool window = since_text != NULL;
    if (!window && !prefix && build_log_list(request_log_builds(s->log), sum, 1))
        prefix = sum->key; /* the last build */
    if (!window && (!prefix || !build_log_get(request_log_builds(s->log), prefix, sum))) {
        respond_text(r, 404,
                     prefix
                         ? "gomabarn: no build with that compiler_proxy id prefix among the builds kept (see /builds)\n"
                         : "gomabarn: no Exec request has finished yet, so there is no build to show\n");
        free(sum);
        return;
    }
    time_t since = window ? time(NULL) - (time_t)since_s : 0;
    gmb_buf b, list;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    gmb_buf_init(&list, GMB_BUF_UNLIMITED);
    requests_of(s, window ? NULL : prefix, since, window ? sum : NULL, &list, json);
    if (json) {
        json_summary(&b, sum);
        b.len--; /* the summary's closing brace: the requests go inside */
        html_put(&b, "%.*s}\n", (int)list.len, (const char *)list.data);
    } else {
        char *k = html_escape(*sum->key ? sum->key : "(no compiler_proxy id)");
        head(&b, "build");
        if (window)
            html_put(&b,
                     "<h1>The last %lld s</h1><p>Counted from the requests still in the request log (the last "
                     "%zu).</p>",
                     since_s, request_log_capacity(s->log));
        else
            html_put(&b, "<h1>Build <code>%s</code></h1>", k);
        free(k);
        html_summary(&b, sum);
        gmb_buf_put(&b, list.data, list.len);
        html_put(&b, "<p><a href=\"/builds\">all builds</a> &middot; <a href=\"/\">status</a></p></body></html>\n");
    }
    http_respond(r, 200, json ? "application/json" : "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    gmb_buf_free(&list);
    free(sum);
}

void status_builds_page(http_request *r, void *user)
{
    status_page *s = user;
    bool bad_format, json = want_json(r, &bad_format);
    if (bad_format) {
        respond_text(r, 400, "gomabarn: /builds takes format=json\n");
        return;
    }
    build_summary *builds = gmb_calloc(BUILD_LOG_MAX, sizeof *builds);
    size_t n = build_log_list(request_log_builds(s->log), builds, BUILD_LOG_MAX);
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    if (json) {
        html_put(&b, "{\"builds\": [");
        for (size_t i = 0; i < n; i++) {
            html_put(&b, "%s", i ? ",\n" : "");
            json_summary(&b, &builds[i]);
        }
        html_put(&b, "]}\n");
    } else {
        head(&b, "builds");
        html_put(&b,
                 "<h1>Builds</h1><p>A build is one compiler_proxy run: the requests whose ids share what comes "
                 "before the last '/'. The last %d are kept, the most recently active first.</p>"
                 "<table id=\"builds\"><tr><th>build</th><th>last request (UTC)</th>%s</tr>",
                 BUILD_LOG_MAX, count_heads);
        for (size_t i = 0; i < n; i++) {
            char *k = html_escape(*builds[i].key ? builds[i].key : "(no compiler_proxy id)"),
                 *q = html_query_value(builds[i].key);
            html_put(&b, "<tr><td><a href=\"/build?prefix=%s\">%s</a></td><td>", q, k);
            put_time(&b, builds[i].last);
            html_put(&b, "</td>");
            status_put_count_cells(&b, &builds[i].all);
            html_put(&b, "</tr>");
            free(k);
            free(q);
        }
        html_put(&b, "</table><p><a href=\"/build?since=3600\">the last hour</a> &middot; <a href=\"/builds?format=json"
                     "\">as JSON</a> &middot; <a href=\"/\">status</a></p></body></html>\n");
    }
    http_respond(r, 200, json ? "application/json" : "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
    free(builds);
}
