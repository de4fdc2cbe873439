#include "cc_http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_body.h"

static int dial(const cc_http_target *t)
{
    char port[16];
    snprintf(port, sizeof port, "%d", t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(t->host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = t->timeout_s > 0 ? t->timeout_s : 300};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int cc_http_post(const cc_http_target *t, const char *path, const uint8_t *body, size_t len, gmb_buf *out,
                 const char **why)
{
    gmb_buf gz;
    gmb_buf_init(&gz, GMB_BUF_UNLIMITED);
    if (http_body_gzip(body, len, &gz) < 0) {
        *why = "cannot compress the request";
        gmb_buf_free(&gz);
        return -1;
    }
    int fd = dial(t);
    if (fd < 0) {
        *why = "cannot connect to the gateway";
        gmb_buf_free(&gz);
        return -1;
    }
    char head[2048];
    int n =
        snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: binary/x-protocol-buffer\r\n"
                 "Content-Encoding: gzip\r\nAccept-Encoding: gzip\r\nContent-Length: %zu\r\nConnection: close\r\n"
                 "%s%s%s%s%s%s\r\n",
                 path, t->host, t->port, gz.len, t->authorization ? "Authorization: " : "",
                 t->authorization ? t->authorization : "", t->authorization ? "\r\n" : "",
                 t->instance ? "X-Gomabarn-Instance: " : "", t->instance ? t->instance : "", t->instance ? "\r\n" : "");
    int rc = -1;
    gmb_buf resp;
    gmb_buf_init(&resp, 1u << 30);
    if (send_all(fd, head, (size_t)n) < 0 || send_all(fd, gz.data, gz.len) < 0) {
        *why = "the gateway closed the connection while we were sending";
        goto out;
    }
    for (;;) {
        gmb_buf_result br;
        uint8_t *dst = gmb_buf_reserve(&resp, 1 << 16, &br);
        if (!dst) {
            *why = "response too large";
            goto out;
        }
        ssize_t r = recv(fd, dst, 1 << 16, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *why = errno == EAGAIN ? "the gateway did not answer in time" : "broken connection";
            goto out;
        }
        if (r == 0)
            break;
        gmb_buf_commit(&resp, (size_t)r);
    }
    if (gmb_buf_append(&resp, "", 1) != GMB_BUF_OK) { /* for strstr; not counted below */
        *why = "the answer is larger than 1 GiB";
        goto out;
    }
    resp.len--;
    int status = 0;
    const char *end = resp.data ? strstr((const char *)resp.data, "\r\n\r\n") : NULL;
    if (!end || sscanf((const char *)resp.data, "HTTP/1.%*d %d", &status) != 1) {
        *why = "not an HTTP response";
        goto out;
    }
    const uint8_t *payload = (const uint8_t *)end + 4;
    size_t plen = resp.len - (size_t)(payload - resp.data);
    /* Only Content-Encoding matters to us (the connection closes at the end). */
    const char *enc = NULL;
    char encbuf[32] = "";
    for (const char *h = strstr((const char *)resp.data, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
        if (strncasecmp(h + 2, "Content-Encoding:", 17) == 0 && sscanf(h + 19, " %31[^\r\n ]", encbuf) == 1)
            enc = encbuf;
    const char *dwhy;
    if (http_body_decode(enc, payload, plen, out, &dwhy) != HTTP_BODY_OK) {
        *why = "undecodable response body";
        goto out;
    }
    rc = status;
out:
    close(fd);
    gmb_buf_free(&gz);
    gmb_buf_free(&resp);
    return rc;
}
