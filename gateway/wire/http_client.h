/* cc_http: the few lines of HTTP/1.1 gomabarn-cc needs: one POST per
 * connection, gzip request bodies, gzip or plain responses. Every wait
 * (connect, send, each recv) goes through the target's waiter, so one
 * deadline covers the whole exchange and a local racer can end it. */
#ifndef CC_HTTP_H
#define CC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Waits until `fd` is ready for `events` (POLLIN/POLLOUT): 0, or -1 with a
 * static reason in *why (the deadline passed, the local compile won). */
typedef int (*cc_http_wait_fn)(void *user, int fd, short events, const char **why);

typedef struct {
    const char *host; /* IPv4 literal or name */
    int port;
    const char *authorization; /* full header value or NULL */
    const char *instance;      /* X-Gomabarn-Instance or NULL */
    cc_http_wait_fn wait;      /* every wait on the socket goes here */
    void *wait_user;
    int timeout_s; /* without `wait`: the whole exchange's deadline (default 300 s) */
} cc_http_target;

/* POSTs `body` (gzip-compressed on the way) to `path`. Returns the HTTP
 * status with the decoded response body in `out`, or -1 with a static
 * reason in *why (cannot connect, connection closed, deadline, ...). */
int cc_http_post(const cc_http_target *t, const char *path, const uint8_t *body, size_t len, gmb_buf *out,
                 const char **why);

#endif
