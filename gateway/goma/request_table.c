/* The recent Exec requests: the table under the front page, filterable by
 * state and instance name with plain links and a GET form, and the page
 * of one request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "html.h"
#include "mem.h"
#include "status_internal.h"

#define SHOWN_REQUESTS 100

static const char *const states[] = {"running", "done", "missing", "failed", "bad"};

static bool wanted(const request_entry *q, const char *state, const char *instance)
{
    return (!state || strcmp(q->state, state) == 0) && (!instance || strcmp(q->instance, instance) == 0);
}

/* The filter form: a state menu, an instance menu of the names seen. */
static void put_filters(gmb_buf *b, const request_entry *all, size_t n, const char *state, const char *instance)
{
    html_put(b, "<form method=\"get\" action=\"/\" id=\"request-filter\">state <select name=\"state\">"
                "<option value=\"\">any</option>");
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        html_put(b, "<option%s>%s</option>", state && strcmp(state, states[i]) == 0 ? " selected" : "", states[i]);
    html_put(b, "</select> instance name <select name=\"instance\"><option value=\"\">any</option>");
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(all[k].instance, all[i].instance) == 0;
        if (seen)
            continue;
        char *e = html_escape(*all[i].instance ? all[i].instance : "\"\"");
        html_put(b, "<option value=\"%s\"%s>%s</option>", e,
                 instance && strcmp(instance, all[i].instance) == 0 ? " selected" : "", e);
        free(e);
    }
    html_put(b, "</select> <button>show</button> <a href=\"/\">all</a></form>");
}

static void put_row(gmb_buf *b, const request_entry *q)
{
    char when[32], took[32], code[16] = "-";
    struct tm tm;
    gmtime_r(&q->started, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    html_ms(took, sizeof took, q->duration_ms);
    if (q->exit_code >= 0) /* -1: no result (yet) */
        snprintf(code, sizeof code, "%d", q->exit_code);
    char *inst = html_escape(q->instance), *usr = html_escape(q->user), *er = html_escape(q->error),
         *rq = html_escape(q->requester);
    html_put(b,
             "<tr><td><a href=\"/request/%llu\">%llu</a></td><td>%s</td><td class=\"%s\">%s</td><td class=\"num\">%s"
             "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.120s</td></tr>",
             (unsigned long long)q->id, (unsigned long long)q->id, when, q->state, q->state, took,
             *inst ? inst : "\"\"", q->cache_hit ? "hit" : "", code, usr, rq, er);
    free(inst);
    free(usr);
    free(er);
    free(rq);
}

/* A query argument; NULL when absent or empty, and the empty instance
 * name written as two quotes. */
static const char *filter_arg(http_request *r, const char *name)
{
    const char *v = http_request_query(r, name);
    if (!v || !*v)
        return NULL;
    return strcmp(v, "\"\"") == 0 ? "" : v;
}

void status_request_table(status_page *s, http_request *r, gmb_buf *b)
{
    const char *state = filter_arg(r, "state"), *instance = filter_arg(r, "instance");
    size_t kept = request_log_capacity(s->log);
    request_entry *all = gmb_calloc(kept, sizeof *all);
    size_t n = request_log_recent(s->log, all, kept);
    html_put(b, "<h2 id=\"requests\">Recent Exec requests</h2>");
    put_filters(b, all, n, state, instance);
    html_put(b, "<table id=\"request-table\"><tr><th>#</th><th>started (UTC)</th><th>state</th><th>took</th>"
                "<th>instance</th><th>cache</th><th>exit</th><th>user</th><th>compiler_proxy id</th><th>error</th>"
                "</tr>");
    size_t shown = 0, matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (!wanted(&all[i], state, instance))
            continue;
        matched++;
        if (shown < SHOWN_REQUESTS) {
            put_row(b, &all[i]);
            shown++;
        }
    }
    html_put(b, "</table><p>%zu of the last %zu requests kept match; %zu shown.</p>", matched, n, shown);
    free(all);
}

void status_request_page(http_request *r, void *user)
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
         *wk = html_escape(q.worker), *rq = html_escape(q.requester), *why = html_escape(q.reason);
    html_put(&b,
             "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>gomabarn request %llu</title>%s</head><body>"
             "<h1>Exec request %llu</h1><table>",
             (unsigned long long)q.id, html_style, (unsigned long long)q.id);
    html_put(&b, "<tr><th>state</th><td class=\"%s\">%s</td></tr>", q.state, q.state);
    html_put(&b, "<tr><th>requester</th><td>%s (%s)</td></tr>", rq, usr);
    html_put(&b, "<tr><th>instance name</th><td>%s%s</td></tr>", inst,
             q.fell_back ? " (exec.fallback_instance: its own pool was down)" : "");
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
    html_put(&b, "<tr><th>reason</th><td>%s</td></tr>", why);
    html_put(&b, "<tr><th>error</th><td>%s</td></tr></table><p><a href=\"/\">back</a></p></body></html>\n", er);
    free(inst);
    free(usr);
    free(er);
    free(wk);
    free(rq);
    free(why);
    http_respond(r, 200, "text/html; charset=utf-8", b.data, b.len);
    gmb_buf_free(&b);
}
