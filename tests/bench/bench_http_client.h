/* bench_http_client: an HTTP/1.1 client for the goma benchmarks that can
 * keep its connection alive between requests, as goma's compiler_proxy
 * does. One connection per handle; a handle belongs to one thread.
 *
 * Every wait has the handle's timeout: connect (poll), each send and each
 * recv (SO_SNDTIMEO, SO_RCVTIMEO). A kept-alive connection the server has
 * closed in the meantime is reopened once, transparently; connects counts
 * them, so a benchmark can show that its connections stayed up. Answers
 * must carry a Content-Length or end with the connection (chunked answers
 * are refused: the gateway never sends them). */
#ifndef BENCH_HTTP_CLIENT_H
#define BENCH_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct bench_http bench_http;

/* A client of host:port (an IPv4 literal); it connects at the first post.
 * keep_alive false sends Connection: close and reconnects every time. */
bench_http *bench_http_new(const char *host, int port, int timeout_ms, bool keep_alive);
void bench_http_free(bench_http *c);

/* POSTs `body` (already encoded as `content_encoding`, NULL for none) to
 * `path`, accepting a gzip answer. The HTTP status with the decoded body
 * appended to `out`, or -1: bench_http_error says why. */
int bench_http_post(bench_http *c, const char *path, const uint8_t *body, size_t len, const char *content_encoding,
                    gmb_buf *out);
/* One more header on every request from now on ("X-Gomabarn-Shadow",
 * "fuse"); name NULL removes it. */
void bench_http_set_header(bench_http *c, const char *name, const char *value);
/* Why the last post failed (the handle's own buffer). */
const char *bench_http_error(const bench_http *c);
/* Connections opened so far. */
uint64_t bench_http_connects(const bench_http *c);

#endif
