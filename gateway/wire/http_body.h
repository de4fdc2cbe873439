/* http_body: the three request-body encodings goma clients send, and the
 * one we answer with.
 *   gzip     a normal gzip stream (the client's default from the start)
 *   deflate  goma's form: a zlib stream with its 2-byte header removed,
 *            i.e. raw deflate followed by the 4-byte Adler-32 (ignored);
 *            a complete zlib stream is accepted too
 *   identity plain bytes (no Content-Encoding)
 * Every decoded body is bounded by the buffer's limit: a zip bomb ends as
 * HTTP_BODY_TOO_BIG, not as memory exhaustion. */
#ifndef HTTP_BODY_H
#define HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum {
    HTTP_BODY_OK = 0,
    HTTP_BODY_UNSUPPORTED = 1, /* an encoding we do not speak */
    HTTP_BODY_CORRUPT = 2,     /* not valid gzip/deflate */
    HTTP_BODY_TOO_BIG = 3,     /* decoded body over the limit */
} http_body_result;

/* Decodes `in` per the Content-Encoding header value (NULL or "" for
 * identity) into `out` (whose max is the limit). *why gets a static text. */
http_body_result http_body_decode(const char *content_encoding, const uint8_t *in, size_t len, gmb_buf *out,
                                  const char **why);
/* gzip-compresses `in` into `out`. 0 or -1. */
int http_body_gzip(const uint8_t *in, size_t len, gmb_buf *out);
/* True if an Accept-Encoding header value accepts gzip. */
int http_accepts_gzip(const char *accept_encoding);

#endif
