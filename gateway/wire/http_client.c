#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_body.h"

#define CLOSED_BEFORE_ANSWER "the gateway closed the connection before answering"
#define CLOSED_MID_ANSWER "the gateway closed the connection in the middle of its answer"

/* Reasons with a name or errno in them. gomabarn-cc is single-threaded and
 * prints a reason before the next request, so one buffer is enough. */
static char reason[256];

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* A connected non-blocking socket, or -1 with *why. */
static int dial(const http_client_target *t, const char **why)
{
    char port[16];
    snprintf(port, sizeof port, "%d", t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(t->host, port, &hints, &res);
    if (gai != 0) {
        snprintf(reason, sizeof reason, "cannot resolve the gateway's host %s: %s", t->host, gai_strerror(gai));
        *why = reason;
        return -1;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0 || set_nonblocking(fd) < 0) {
            last_errno = errno;
            if (fd >= 0)
                close(fd);
            fd = -1;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            int e = errno;
            if (e == EINPROGRESS) {
                if (t->wait(t->wait_user, fd, POLLOUT, why) < 0) { /* deadline or the local compile won */
                    close(fd);
                    freeaddrinfo(res);
                    return -1;
                }
                socklen_t len = sizeof e;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                    e = errno;
            }
            if (e != 0 && e != EINPROGRESS) {
                last_errno = e;
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(reason, sizeof reason, "cannot connect to the gateway at %s:%d: %s", t->host, t->port,
                 strerror(last_errno ? last_errno : ECONNREFUSED));
        *why = reason;
    }
    return fd;
}

/* 0, -1 with *why from the waiter, or -2: the peer closed or reset. */
static int send_all(const http_client_target *t, int fd, const void *p, size_t n, const char **why)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (t->wait(t->wait_user, fd, POLLOUT, why) < 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -2;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the gateway closes (we sent Connection: close). 0 at a clean
 * end, -1 with *why. */
static int recv_all(const http_client_target *t, int fd, gmb_buf *resp, const char **why)
{
    for (;;) {
        gmb_buf_result br;
        uint8_t *dst = gmb_buf_reserve(resp, 1 << 16, &br);
        if (!dst) {
            *why = "the gateway's answer is larger than 1 GiB";
            return -1;
        }
        ssize_t r = recv(fd, dst, 1 << 16, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (t->wait(t->wait_user, fd, POLLIN, why) < 0)
                return -1;
            continue;
        }
        if (r < 0 && errno != ECONNRESET) {
            snprintf(reason, sizeof reason, "reading the gateway's answer failed: %s", strerror(errno));
            *why = reason;
            return -1;
        }
        if (r <= 0) { /* closed, or reset (a killed gateway leaves our unread request behind: RST) */
            if (resp->len == 0) {
                *why = CLOSED_BEFORE_ANSWER;
                return -1;
            }
            return r == 0 ? 0 : (*why = CLOSED_MID_ANSWER, -1);
        }
        gmb_buf_commit(resp, (size_t)r);
    }
}

/* Splits an HTTP response into status, Content-Encoding and payload. */
static int parse_response(gmb_buf *resp, const char **enc, char encbuf[32], const uint8_t **payload, size_t *plen,
                          const char **why)
{
    if (gmb_buf_append(resp, "", 1) != GMB_BUF_OK) { /* for strstr; not counted below */
        *why = "the gateway's answer is larger than 1 GiB";
        return -1;
    }
    resp->len--;
    int status = 0;
    const char *head = (const char *)resp->data;
    const char *end = strstr(head, "\r\n\r\n");
    if (strncmp(head, "HTTP/1.", 7) != 0 || sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        *why = "the gateway's answer is not an HTTP response";
        return -1;
    }
    if (!end) {
        *why = CLOSED_MID_ANSWER;
        return -1;
    }
    *payload = (const uint8_t *)end + 4;
    *plen = resp->len - (size_t)(*payload - resp->data);
    *enc = NULL;
    long long content_length = -1;
    for (const char *h = strstr(head, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
        if (strncasecmp(h + 2, "Content-Encoding:", 17) == 0 && sscanf(h + 19, " %31[^\r\n ]", encbuf) == 1)
            *enc = encbuf;
        if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
            content_length = strtoll(h + 17, NULL, 10);
    }
    if (content_length >= 0 && (unsigned long long)content_length > *plen) {
        *why = CLOSED_MID_ANSWER;
        return -1;
    }
    if (content_length >= 0)
        *plen = (size_t)content_length;
    return status;
}

/* The waiter of a target without one: a deadline only. */
typedef struct {
    struct timespec deadline;
    int seconds;
} plain_wait;

static int wait_plain(void *user, int fd, short events, const char **why)
{
    plain_wait *w = user;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms =
            (long long)(w->deadline.tv_sec - now.tv_sec) * 1000 + (w->deadline.tv_nsec - now.tv_nsec) / 1000000;
        if (ms <= 0) {
            snprintf(reason, sizeof reason, "no answer from the gateway within %d s", w->seconds);
            *why = reason;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms > 1000000000 ? 1000000000 : (int)ms + 1);
        if (n > 0 || (n < 0 && errno != EINTR))
            return 0; /* ready, or let the socket call say what is wrong */
    }
}

/* Without the target's own waiter: one plain deadline for the exchange. */
static const http_client_target *with_plain_deadline(const http_client_target *t, http_client_target *copy,
                                                     plain_wait *pw)
{
    if (t->wait)
        return t;
    pw->seconds = t->timeout_s > 0 ? t->timeout_s : 300;
    clock_gettime(CLOCK_MONOTONIC, &pw->deadline);
    pw->deadline.tv_sec += pw->seconds;
    *copy = *t;
    copy->wait = wait_plain;
    copy->wait_user = pw;
    return copy;
}

/* The request line and headers (method, path, the target's headers and
 * `extra`), then `body`; the status with the decoded answer in `out`. */
static int exchange(const http_client_target *t, const char *method, const char *path, const char *extra,
                    const uint8_t *body, size_t len, gmb_buf *out, const char **why)
{
    int fd = dial(t, why);
    if (fd < 0)
        return -1;
    char head[2048];
    int n =
        snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAccept-Encoding: gzip\r\nConnection: close\r\n%s"
                 "%s%s%s%s%s%s\r\n",
                 method, path, t->host, t->port, extra, t->authorization ? "Authorization: " : "",
                 t->authorization ? t->authorization : "", t->authorization ? "\r\n" : "",
                 t->instance ? "X-Gomabarn-Instance: " : "", t->instance ? t->instance : "", t->instance ? "\r\n" : "");
    int rc = -1;
    gmb_buf resp;
    gmb_buf_init(&resp, 1u << 30);
    if (n < 0 || (size_t)n >= sizeof head) {
        *why = "the request's path or headers are too long";
        goto out;
    }
    int sent = send_all(t, fd, head, (size_t)n, why);
    if (sent == 0 && len)
        sent = send_all(t, fd, body, len, why);
    if (sent == -1)
        goto out;
    /* After a failed send the gateway may still have answered (a 413, say):
     * read what is there; nothing at all means it closed before answering. */
    if (recv_all(t, fd, &resp, why) < 0)
        goto out;
    const char *enc;
    char encbuf[32] = "";
    const uint8_t *payload;
    size_t plen;
    int status = parse_response(&resp, &enc, encbuf, &payload, &plen, why);
    if (status < 0)
        goto out;
    const char *dwhy;
    if (http_body_decode(enc, payload, plen, out, &dwhy) != HTTP_BODY_OK) {
        *why = "the gateway's answer has an undecodable body";
        goto out;
    }
    rc = status;
out:
    close(fd);
    gmb_buf_free(&resp);
    return rc;
}

int http_client_post(const http_client_target *t, const char *path, const uint8_t *body, size_t len, gmb_buf *out,
                     const char **why)
{
    plain_wait pw;
    http_client_target copy;
    t = with_plain_deadline(t, &copy, &pw);
    gmb_buf gz;
    gmb_buf_init(&gz, GMB_BUF_UNLIMITED);
    if (http_body_gzip(body, len, &gz) < 0) {
        *why = "cannot compress the request";
        gmb_buf_free(&gz);
        return -1;
    }
    char extra[160];
    snprintf(extra, sizeof extra,
             "Content-Type: binary/x-protocol-buffer\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n", gz.len);
    int rc = exchange(t, "POST", path, extra, gz.data, gz.len, out, why);
    gmb_buf_free(&gz);
    return rc;
}

int http_client_get(const http_client_target *t, const char *path, gmb_buf *out, const char **why)
{
    plain_wait pw;
    http_client_target copy;
    t = with_plain_deadline(t, &copy, &pw);
    return exchange(t, "GET", path, "", NULL, 0, out, why);
}
