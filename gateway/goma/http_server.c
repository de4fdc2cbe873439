#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "http_body.h"
#include "log.h"
#include "mem.h"

/* Stopping (http_server_shutdown): requests get this long to be answered
 * by their handlers, the rest are answered 503, and those answers this
 * long to be sent, before the connections are closed. */
#define SHUTDOWN_GRACE_MS 3000
#define SHUTDOWN_DRAIN_MS 2000
#define SHUTTING_DOWN_TEXT \
    "gomabarn: the gateway is shutting down; try again (another gateway, or this one once restarted)\n"

typedef struct {
    char *path;
    char *methods;
    bool public_route;
    http_handler handler;
    void *user;
} route;

struct http_server {
    http_server_options opts;
    struct MHD_Daemon *daemon;
    MHD_socket listen_fd; /* from MHD_quiesce_daemon: closed after MHD_stop_daemon */
    route *routes;
    size_t n_routes;
    uint64_t next_id;
    uint64_t served, in_flight; /* atomics */
    pthread_mutex_t lock;       /* guards live, stopping */
    http_request *live;         /* every request between its first callback and its completion */
    bool stopping;              /* no request is handed to a handler any more; answers close the connection */
    bool stopped;
};

typedef struct {
    char *name, *value;
} header;

/* Two references: the connection's (dropped when MHD completes it) and the
 * answerer's (dropped by the one http_respond; by the completion if it was
 * never handed to anyone). So a handler that answers after the server
 * has answered 503 for it at shutdown, or after the connection is gone,
 * answers into a request that still exists, and nothing is sent. */
struct http_request {
    http_server *server;
    struct MHD_Connection *conn; /* valid while the connection is (never used by handlers' threads) */
    uint64_t id;
    char *method, *path;
    header *headers; /* copied: a handler may read them after the connection is gone */
    size_t n_headers;
    header *args; /* the query string's arguments, copied the same way */
    size_t n_args;
    gmb_buf raw;  /* body as received */
    gmb_buf body; /* decoded */
    bool too_big;
    bool dispatched; /* handed over: someone will call http_respond (connection thread only) */
    const char *user;
    int refs;                         /* atomic */
    struct http_request *prev, *next; /* in the server's live list */
    pthread_mutex_t lock;
    bool answered; /* a response exists (the handler's, or the server's 503 at shutdown) */
    bool ready;    /* a response is waiting to be queued */
    bool suspended;
    int fd; /* the connection's socket while suspended; -1 unknown */
    int status;
    struct MHD_Response *response;
};

const char *http_request_path(const http_request *r)
{
    return r->path;
}
const char *http_request_method(const http_request *r)
{
    return r->method;
}
const char *http_request_user(const http_request *r)
{
    return r->user;
}
uint64_t http_request_id(const http_request *r)
{
    return r->id;
}

const uint8_t *http_request_body(const http_request *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data;
}

void http_request_drop_body(http_request *r)
{
    gmb_buf_free(&r->body);
}

bool http_request_client_gone(http_request *r)
{
    bool gone = false;
    pthread_mutex_lock(&r->lock);
    /* While suspended, libmicrohttpd neither reads nor closes the socket,
     * and the answer unsuspends under this lock before resuming it: the
     * descriptor is still this request's. */
    if (r->suspended && r->fd >= 0) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLRDHUP};
        gone = poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
    }
    pthread_mutex_unlock(&r->lock);
    return gone;
}

const char *http_request_header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

const char *http_request_query(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_args; i++)
        if (strcmp(r->args[i].name, name) == 0)
            return r->args[i].value;
    return NULL;
}

/* Headers and query arguments are copied: a handler may answer after
 * the connection is gone. */
static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    http_request *r = cls;
    header **list = kind == MHD_GET_ARGUMENT_KIND ? &r->args : &r->headers;
    size_t *n = kind == MHD_GET_ARGUMENT_KIND ? &r->n_args : &r->n_headers;
    *list = gmb_realloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = (header){gmb_strdup(key), gmb_strdup(value ? value : "")};
    return MHD_YES;
}

static void request_unref(http_request *r)
{
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    if (r->response)
        MHD_destroy_response(r->response);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    for (size_t i = 0; i < r->n_args; i++) {
        free(r->args[i].name);
        free(r->args[i].value);
    }
    free(r->args);
    gmb_buf_free(&r->raw);
    gmb_buf_free(&r->body);
    pthread_mutex_destroy(&r->lock);
    free(r->method);
    free(r->path);
    free(r);
}

static struct MHD_Response *make_response(http_request *r, int status, const char *type, const void *body, size_t len,
                                          bool closing)
{
    gmb_buf gz;
    gmb_buf_init(&gz, GMB_BUF_UNLIMITED);
    bool gzipped = status == 200 && len > 0 && http_accepts_gzip(http_request_header(r, "Accept-Encoding")) &&
                   http_body_gzip(body, len, &gz) == 0;
    struct MHD_Response *resp = gzipped ? MHD_create_response_from_buffer(gz.len, gz.data, MHD_RESPMEM_MUST_COPY)
                                        : MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    gmb_buf_free(&gz);
    if (gzipped)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    /* Tells goma's client which request encodings we take (it switches to
     * the first it can produce, and stops compressing without this). */
    if (status == 200)
        MHD_add_response_header(resp, "Accept-Encoding", "gzip, deflate");
    if (closing) /* stopping: the client must not send more on this connection */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return resp;
}

/* With r->lock held: `resp` becomes the answer; true if the connection
 * must be resumed (by the caller, after unlocking) to send it. */
static bool set_answer_locked(http_request *r, int status, struct MHD_Response *resp)
{
    r->answered = true;
    r->status = status;
    r->response = resp;
    r->ready = true;
    bool resume = r->suspended;
    r->suspended = false;
    return resume;
}

void http_respond(http_request *r, int status, const char *type, const void *body, size_t len)
{
    /* Already answered 503 by a stopping server: r->server may be gone. */
    pthread_mutex_lock(&r->lock);
    bool late = r->answered;
    pthread_mutex_unlock(&r->lock);
    if (late) {
        request_unref(r);
        return;
    }
    struct MHD_Response *resp =
        make_response(r, status, type, body, len, __atomic_load_n(&r->server->stopping, __ATOMIC_ACQUIRE));
    pthread_mutex_lock(&r->lock);
    late = r->answered; /* the server may have answered meanwhile */
    bool resume = !late && set_answer_locked(r, status, resp);
    pthread_mutex_unlock(&r->lock);
    if (late)
        MHD_destroy_response(resp);
    if (resume)
        MHD_resume_connection(r->conn); /* MHD calls us back to queue it */
    request_unref(r);
}

static void respond_text(http_request *r, int status, const char *text)
{
    GMB_INFO("http", "#%llu %s %s -> %d %s", (unsigned long long)r->id, r->method, r->path, status, text);
    http_respond(r, status, "text/plain; charset=utf-8", text, strlen(text));
}

static const route *find_route(http_server *s, const char *path, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < s->n_routes; i++) {
        const char *rp = s->routes[i].path;
        size_t n = strlen(rp);
        bool match = n > 0 && rp[n - 1] == '*' ? strncmp(rp, path, n - 1) == 0 : strcmp(rp, path) == 0;
        if (match) {
            *path_known = true;
            return &s->routes[i];
        }
    }
    return NULL;
}

static bool method_allowed(const route *rt, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = rt->methods; (p = strstr(p, method)) != NULL; p += n)
        if ((p == rt->methods || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

/* Everything is in: check, decode and hand over. */
static void dispatch(http_server *s, http_request *r)
{
    bool known;
    const route *rt = find_route(s, r->path, &known);
    if (!rt) {
        respond_text(r, 404, "gomabarn: no such endpoint\n");
        return;
    }
    if (!method_allowed(rt, r->method)) {
        respond_text(r, 405, "gomabarn: method not allowed here\n");
        return;
    }
    if (!rt->public_route && !gmb_auth_check(s->opts.auth, http_request_header(r, "Authorization"), &r->user)) {
        respond_text(r, 401, "gomabarn: missing or unknown bearer token (see the gateway's auth.token_file)\n");
        return;
    }
    if (r->too_big) {
        respond_text(r, 413, "gomabarn: request body is larger than http.max_body_bytes\n");
        return;
    }
    const char *why;
    http_body_result br =
        http_body_decode(http_request_header(r, "Content-Encoding"), r->raw.data, r->raw.len, &r->body, &why);
    if (br != HTTP_BODY_OK) {
        char *msg = gmb_format("gomabarn: cannot decode the request body: %s\n", why);
        respond_text(r, br == HTTP_BODY_TOO_BIG ? 413 : 400, msg);
        free(msg);
        return;
    }
    gmb_buf_free(&r->raw);
    rt->handler(r, rt->user);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    http_server *s = cls;
    http_request *r = *con_cls;
    if (!r) {
        r = gmb_calloc(1, sizeof *r);
        r->server = s;
        r->conn = conn;
        r->id = __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED);
        r->method = gmb_strdup(method);
        r->path = gmb_strndup(url, strcspn(url, "?")); /* query strings are ignored */
        r->user = "anonymous";
        r->refs = 2; /* the connection's and the answerer's */
        MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_header, r);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_header, r);
        gmb_buf_init(&r->raw, s->opts.max_body_bytes);
        gmb_buf_init(&r->body, s->opts.max_body_bytes);
        pthread_mutex_init(&r->lock, NULL);
        *con_cls = r;
        __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&s->lock);
        r->next = s->live;
        if (s->live)
            s->live->prev = r;
        s->live = r;
        pthread_mutex_unlock(&s->lock);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Past the limit: keep reading (to answer 413 cleanly), keep nothing. */
        if (!r->too_big && gmb_buf_append(&r->raw, upload, *upload_size) != GMB_BUF_OK) {
            r->too_big = true;
            gmb_buf_free(&r->raw);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->dispatched) {
        r->dispatched = true;
        pthread_mutex_lock(&s->lock);
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stopping) /* a keep-alive connection's next request, or answered 503 already */
            respond_text(r, 503, SHUTTING_DOWN_TEXT);
        else
            dispatch(s, r);
    }
    pthread_mutex_lock(&r->lock);
    if (!r->ready) {
        /* The handler answers later: park the connection, free the thread. */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        r->fd = ci ? ci->connect_fd : -1;
        r->suspended = true;
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
    struct MHD_Response *resp = r->response;
    r->response = NULL;
    int status = r->status;
    pthread_mutex_unlock(&r->lock);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    http_server *s = cls;
    http_request *r = *con_cls;
    if (!r)
        return;
    pthread_mutex_lock(&s->lock);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&s->lock);
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->served, 1, __ATOMIC_RELAXED);
    if (s->opts.metrics && r->status) {
        /* The endpoint is the route's last path component ("e", "ping"...). */
        bool known;
        const route *rt = find_route(s, r->path, &known);
        const char *ep = "other";
        if (rt) {
            const char *slash = strrchr(rt->path, '/');
            ep = slash && slash[1] && slash[1] != '*' ? slash + 1 : (strcmp(rt->path, "/") == 0 ? "status" : "request");
        }
        char series[160];
        snprintf(series, sizeof series, "gomabarn_http_requests_total{endpoint=\"%s\",code=\"%d\"}", ep, r->status);
        metrics_add(s->opts.metrics, series, 1);
    }
    pthread_mutex_lock(&r->lock);
    r->conn = NULL;
    pthread_mutex_unlock(&r->lock);
    if (!r->dispatched)
        request_unref(r); /* nobody was given it to answer */
    request_unref(r);
    *con_cls = NULL;
    (void)conn;
    (void)why;
}

http_server *http_server_new(const http_server_options *o, char **err)
{
    if (!o->auth) {
        gmb_fail(err, "no auth configured");
        return NULL;
    }
    http_server *s = gmb_calloc(1, sizeof *s);
    s->listen_fd = MHD_INVALID_SOCKET;
    pthread_mutex_init(&s->lock, NULL);
    s->opts = *o;
    s->opts.listen_address = gmb_strdup(o->listen_address ? o->listen_address : "127.0.0.1");
    if (s->opts.threads < 1)
        s->opts.threads = 2;
    return s;
}

void http_server_route(http_server *s, const char *path, const char *methods, bool public_route, http_handler h,
                       void *user)
{
    s->routes = gmb_realloc(s->routes, (s->n_routes + 1) * sizeof *s->routes);
    s->routes[s->n_routes++] = (route){gmb_strdup(path), gmb_strdup(methods), public_route, h, user};
}

int http_server_start(http_server *s, char **err)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    bool v6 = strchr(s->opts.listen_address, ':') != NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)s->opts.port);
        if (inet_pton(AF_INET6, s->opts.listen_address, &a->sin6_addr) != 1)
            return gmb_fail(err, "http.listen \"%s\" is not an IP address", s->opts.listen_address);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)s->opts.port);
        if (inet_pton(AF_INET, s->opts.listen_address, &a->sin_addr) != 1)
            return gmb_fail(err, "http.listen \"%s\" is not an IP address", s->opts.listen_address);
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->opts.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->opts.threads,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 4096u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    if (!s->daemon)
        return gmb_fail(err, "cannot listen on %s:%d (in use, or not an address of this machine?)",
                        s->opts.listen_address, s->opts.port);
    GMB_INFO("http", "listening on %s:%d", s->opts.listen_address, http_server_port(s));
    return 0;
}

int http_server_port(const http_server *s)
{
    const union MHD_DaemonInfo *info = s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : s->opts.port;
}

void http_server_counts(http_server *s, uint64_t *served, uint64_t *in_flight)
{
    *served = __atomic_load_n(&s->served, __ATOMIC_RELAXED);
    *in_flight = __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits (bounded) until no request is in flight. */
static bool wait_idle(http_server *s, int64_t ms)
{
    int64_t until = now_ms() + ms;
    while (__atomic_load_n(&s->in_flight, __ATOMIC_RELAXED) > 0 && now_ms() < until) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED) == 0;
}

/* Answers 503 for every request not answered yet, and resumes those that
 * were suspended waiting for their handler. */
static int answer_the_rest(http_server *s)
{
    int n = 0;
    size_t n_resume = 0;
    struct MHD_Connection **resume = NULL;
    pthread_mutex_lock(&s->lock);
    for (http_request *r = s->live; r; r = r->next) {
        pthread_mutex_lock(&r->lock);
        if (!r->answered) {
            struct MHD_Response *resp = make_response(r, 503, "text/plain; charset=utf-8", SHUTTING_DOWN_TEXT,
                                                      strlen(SHUTTING_DOWN_TEXT), true);
            if (set_answer_locked(r, 503, resp)) {
                resume = gmb_realloc(resume, (n_resume + 1) * sizeof *resume);
                resume[n_resume++] = r->conn;
            }
            n++;
        }
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&s->lock);
    /* Outside our lock (MHD takes its own). Still suspended until resumed
     * here, so each connection is alive: nothing else resumes or closes it. */
    for (size_t i = 0; i < n_resume; i++)
        MHD_resume_connection(resume[i]);
    free(resume);
    return n;
}

void http_server_shutdown(http_server *s)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    if (!s->daemon)
        return;
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->lock);
    /* No new connections: refused at once (not left in the backlog), so a
     * client or load balancer goes elsewhere without waiting. The socket
     * itself is closed only after MHD_stop_daemon, as MHD requires. */
    s->listen_fd = MHD_quiesce_daemon(s->daemon);
    if (s->listen_fd != MHD_INVALID_SOCKET)
        shutdown(s->listen_fd, SHUT_RDWR);
    uint64_t waiting = __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED);
    if (waiting)
        GMB_INFO("http", "stopping: %llu requests in flight get %d s to finish", (unsigned long long)waiting,
                 SHUTDOWN_GRACE_MS / 1000);
    if (!wait_idle(s, SHUTDOWN_GRACE_MS)) {
        int n = answer_the_rest(s);
        if (n)
            GMB_WARN("http", "stopping: %d requests still waiting answered 503 (the gateway is shutting down)", n);
        if (!wait_idle(s, SHUTDOWN_DRAIN_MS))
            GMB_WARN("http", "stopping: %llu answers not sent within %d s; closing their connections",
                     (unsigned long long)__atomic_load_n(&s->in_flight, __ATOMIC_RELAXED), SHUTDOWN_DRAIN_MS / 1000);
    }
    /* Nothing is suspended now (libmicrohttpd aborts otherwise): every
     * request is answered and no new one reaches a handler. */
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->listen_fd != MHD_INVALID_SOCKET)
        close(s->listen_fd);
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    http_server_shutdown(s);
    pthread_mutex_destroy(&s->lock);
    for (size_t i = 0; i < s->n_routes; i++) {
        free(s->routes[i].path);
        free(s->routes[i].methods);
    }
    free(s->routes);
    free((char *)s->opts.listen_address);
    free(s);
}
