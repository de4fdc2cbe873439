/* cc_http: the few lines of HTTP/1.1 gomabarn-cc needs: one POST per
 * connection, gzip request bodies, gzip or plain responses. */
#ifndef CC_HTTP_H
#define CC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct {
    const char *host; /* IPv4 literal or name */
    int port;
    const char *authorization; /* full header value or NULL */
    const char *instance;      /* X-Gomabarn-Instance or NULL */
    int timeout_s;
} cc_http_target;

/* POSTs `body` (gzip-compressed on the way) to `path`. Returns the HTTP
 * status with the decoded response body in `out`, or -1 with a static
 * reason in *why (cannot connect, broken response). */
int cc_http_post(const cc_http_target *t, const char *path, const uint8_t *body, size_t len, gmb_buf *out,
                 const char **why);

#endif
