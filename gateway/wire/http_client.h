/* http_client: the few lines of HTTP/1.1 gomabarn-cc and `gomabarn compare`
 * need: one request per connection, gzip request bodies, gzip or plain
 * responses. Every wait
 * (connect, send, each recv) goes through the target's waiter, so one
 * deadline covers the whole exchange and a local racer can end it. */
#ifndef HTTP_CLIENT_H
#define HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Waits until `fd` is ready for `events` (POLLIN/POLLOUT): 0, or -1 with a
 * static reason in *why (the deadline passed, the local compile won). */
typedef int (*http_client_wait_fn)(void *user, int fd, short events, const char **why);

typedef struct {
    const char *host; /* IPv4 literal or name */
    int port;
    const char *authorization; /* full header value or NULL */
    const char *instance;      /* X-Gomabarn-Instance or NULL */
    http_client_wait_fn wait;  /* every wait on the socket goes here */
    void *wait_user;
    int timeout_s; /* without `wait`: the whole exchange's deadline (default 300 s) */
} http_client_target;

/* POSTs `body` (gzip-compressed on the way) to `path`. Returns the HTTP
 * status with the decoded response body in `out`, or -1 with a static
 * reason in *why (cannot connect, connection closed, deadline, ...). */
int http_client_post(const http_client_target *t, const char *path, const uint8_t *body, size_t len, gmb_buf *out,
                     const char **why);

/* GETs `path` (with its query string): as http_client_post. */
int http_client_get(const http_client_target *t, const char *path, gmb_buf *out, const char **why);

#endif
