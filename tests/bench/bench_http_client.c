#include "bench_http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_body.h"
#include "mem.h"

#define MAX_HEAD_BYTES (64u << 10)
#define MAX_BODY_BYTES (1u << 30)

struct bench_http {
    char host[64];
    int port;
    int timeout_ms;
    bool keep_alive;
    int fd;            /* -1: not connected */
    uint64_t served;   /* answers on the current connection */
    uint64_t connects; /* connections opened */
    gmb_buf in;        /* bytes received and not consumed yet */
    char why[256];
    char extra[256]; /* more header lines, each ending in \r\n */
};

static int fail(bench_http *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(bench_http *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return -1;
}

bench_http *bench_http_new(const char *host, int port, int timeout_ms, bool keep_alive)
{
    bench_http *c = gmb_calloc(1, sizeof *c);
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->timeout_ms = timeout_ms;
    c->keep_alive = keep_alive;
    c->fd = -1;
    gmb_buf_init(&c->in, MAX_HEAD_BYTES + MAX_BODY_BYTES);
    return c;
}

void bench_http_set_header(bench_http *c, const char *name, const char *value)
{
    if (name)
        snprintf(c->extra, sizeof c->extra, "%s: %s\r\n", name, value);
    else
        c->extra[0] = '\0';
}

static void disconnect(bench_http *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->served = 0;
    gmb_buf_reset(&c->in);
}

void bench_http_free(bench_http *c)
{
    if (!c)
        return;
    disconnect(c);
    gmb_buf_free(&c->in);
    free(c);
}

const char *bench_http_error(const bench_http *c)
{
    return c->why;
}

uint64_t bench_http_connects(const bench_http *c)
{
    return c->connects;
}

/* Connects with a deadline (non-blocking connect + poll), then makes the
 * socket blocking with send and receive timeouts. 0 or -1. */
static int dial(bench_http *c)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    if (inet_pton(AF_INET, c->host, &addr.sin_addr) != 1)
        return fail(c, "%s is not an IPv4 address", c->host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(c, "socket: %s", strerror(errno));
    int e = 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r = poll(&p, 1, c->timeout_ms);
            socklen_t len = sizeof e;
            if (r == 0)
                e = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                e = errno;
        }
    }
    if (e != 0) {
        close(fd);
        return fail(c, "cannot connect to %s:%d: %s", c->host, c->port, strerror(e));
    }
    int flags = fcntl(fd, F_GETFL);
    struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
    int one = 1;
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        e = errno;
        close(fd);
        return fail(c, "setting up the socket: %s", strerror(e));
    }
    c->fd = fd;
    c->served = 0;
    c->connects++;
    gmb_buf_reset(&c->in);
    return 0;
}

/* 0, -1 (timeout or error, in why), or -2: the peer has closed. */
static int send_all(bench_http *c, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fail(c, "sending to %s:%d timed out after %d ms", c->host, c->port, c->timeout_ms);
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return -2;
        if (w <= 0)
            return fail(c, "sending to %s:%d: %s", c->host, c->port, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more into c->in. 1, 0 at the end of the stream, or -1. */
static int recv_some(bench_http *c)
{
    for (;;) {
        gmb_buf_result br;
        uint8_t *dst = gmb_buf_reserve(&c->in, 1 << 16, &br);
        if (!dst)
            return fail(c, "the answer is larger than %u bytes", MAX_BODY_BYTES);
        ssize_t r = recv(c->fd, dst, 1 << 16, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return fail(c, "no answer from %s:%d within %d ms", c->host, c->port, c->timeout_ms);
        if (r < 0 && errno == ECONNRESET)
            return 0;
        if (r < 0)
            return fail(c, "reading from %s:%d: %s", c->host, c->port, strerror(errno));
        gmb_buf_commit(&c->in, (size_t)r);
        return r > 0;
    }
}

static const uint8_t *find_head_end(const gmb_buf *b)
{
    for (size_t i = 0; i + 3 < b->len; i++)
        if (memcmp(b->data + i, "\r\n\r\n", 4) == 0)
            return b->data + i + 4;
    return NULL;
}

/* The value of header `name` in [head, end), copied into v; false if absent. */
static bool header(const char *head, const char *end, const char *name, char *v, size_t vn)
{
    size_t n = strlen(name);
    for (const char *h = strstr(head, "\r\n"); h && h + 2 < end; h = strstr(h + 2, "\r\n")) {
        const char *line = h + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *s = line + n + 1;
            while (*s == ' ' || *s == '\t')
                s++;
            size_t len = strcspn(s, "\r\n");
            if (len >= vn)
                len = vn - 1;
            memcpy(v, s, len);
            v[len] = '\0';
            return true;
        }
    }
    return false;
}

/* One answer off the connection. The status, or -1; *stale when the
 * connection had closed before any byte of it arrived. */
static int read_answer(bench_http *c, gmb_buf *out, bool *stale)
{
    *stale = false;
    const uint8_t *body;
    while (!(body = find_head_end(&c->in))) {
        if (c->in.len > MAX_HEAD_BYTES)
            return fail(c, "the answer's header is larger than %u bytes", MAX_HEAD_BYTES);
        int r = recv_some(c);
        if (r < 0)
            return -1;
        if (r == 0) {
            *stale = c->in.len == 0;
            return fail(c, "%s:%d closed the connection %s", c->host, c->port,
                        c->in.len ? "in the middle of its answer" : "before answering");
        }
    }
    size_t head_len = (size_t)(body - c->in.data);
    char *head = gmb_strndup((const char *)c->in.data, head_len);
    int status = 0;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        free(head);
        return fail(c, "the answer from %s:%d is not HTTP", c->host, c->port);
    }
    char v[64], enc[32] = "";
    const char *end = head + head_len;
    bool has_enc = header(head, end, "Content-Encoding", enc, sizeof enc);
    bool close_after = !c->keep_alive || (header(head, end, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0);
    bool chunked = header(head, end, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "identity") != 0;
    long long length = header(head, end, "Content-Length", v, sizeof v) ? strtoll(v, NULL, 10) : -1;
    free(head);
    if (chunked)
        return fail(c, "chunked answers are not supported");
    if (length < 0 || (unsigned long long)length > MAX_BODY_BYTES) {
        close_after = true; /* the body ends with the connection */
        int r;
        while ((r = recv_some(c)) > 0)
            ;
        if (r < 0)
            return -1;
        length = (long long)(c->in.len - head_len);
    }
    while (c->in.len - head_len < (size_t)length) {
        int r = recv_some(c);
        if (r <= 0)
            return r < 0 ? -1 : fail(c, "%s:%d closed the connection in the middle of its answer", c->host, c->port);
    }
    const char *dwhy = "";
    http_body_result br = http_body_decode(has_enc ? enc : NULL, c->in.data + head_len, (size_t)length, out, &dwhy);
    /* Keep what follows this answer (nothing, as we never pipeline). */
    size_t used = head_len + (size_t)length;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
    c->served++;
    if (close_after)
        disconnect(c);
    if (br != HTTP_BODY_OK)
        return fail(c, "the answer's body cannot be decoded: %s", dwhy);
    return status;
}

int bench_http_post(bench_http *c, const char *path, const uint8_t *body, size_t len, const char *content_encoding,
                    gmb_buf *out)
{
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: binary/x-protocol-buffer\r\n"
                      "Accept-Encoding: gzip\r\nContent-Length: %zu\r\n%s%s%s%s%s\r\n",
                      path, c->host, c->port, len, c->extra, content_encoding ? "Content-Encoding: " : "",
                      content_encoding ? content_encoding : "", content_encoding ? "\r\n" : "",
                      c->keep_alive ? "" : "Connection: close\r\n");
    if (hn < 0 || (size_t)hn >= sizeof head)
        return fail(c, "the request path is too long");
    gmb_buf req;
    gmb_buf_init(&req, GMB_BUF_UNLIMITED);
    gmb_buf_put(&req, head, (size_t)hn);
    gmb_buf_put(&req, body, len);
    int status = -1;
    /* A reused connection may have been closed by the server while idle:
     * then (and only then) try once more on a new one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && dial(c) < 0)
            break;
        bool reused = c->served > 0;
        size_t out_len = out->len;
        int sent = send_all(c, req.data, req.len);
        bool stale = false;
        if (sent == -1) {
            disconnect(c);
            break;
        }
        if (sent == 0) {
            status = read_answer(c, out, &stale);
            if (status >= 0)
                break;
        } else {
            stale = true;
            fail(c, "%s:%d closed the connection", c->host, c->port);
        }
        disconnect(c);
        out->len = out_len;
        if (!(stale && reused))
            break;
    }
    gmb_buf_free(&req);
    return status;
}
