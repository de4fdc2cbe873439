/* http_server: the goma-facing HTTP/1.1 server, on libmicrohttpd.
 *
 * It reads the whole request body (bounded by max_body_bytes: 413 past
 * it), decodes gzip / goma's raw deflate / plain bodies, checks the
 * bearer token, and hands the request to the handler registered for its
 * path and method. Unknown paths get 404, wrong methods 405, undecodable
 * bodies 400 and bad tokens 401 (the only use of 401; 302 and 403 are
 * never sent, because goma's client pauses for minutes on them).
 *
 * A handler answers with http_respond(), at once or later from any thread:
 * until then the connection is suspended and holds no thread, so slow
 * Executes cost a struct each, not a thread each (a request outlives its
 * connection until its handler has answered). Every 200 carries
 * "Accept-Encoding: gzip, deflate" (goma's client keeps compressing its
 * requests only when the server says so); bodies are gzipped when the
 * request accepts gzip. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "metrics.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

typedef struct {
    const char *listen_address; /* "127.0.0.1", "0.0.0.0", "::1" */
    int port;                   /* 0: any free port (see http_server_port) */
    size_t max_body_bytes;
    int threads;          /* polling threads; do not grow with requests */
    const gmb_auth *auth; /* kept; must outlive the server */
    metrics *metrics;     /* optional: requests counted by endpoint and code */
} http_server_options;

typedef void (*http_handler)(http_request *req, void *user);

/* The request, valid until the handler calls http_respond. */
const char *http_request_path(const http_request *r);
const char *http_request_method(const http_request *r);
const uint8_t *http_request_body(const http_request *r, size_t *len); /* decoded */
/* For a handler done with the body before it answers (decoded it): the
 * memory goes back while the request waits. */
void http_request_drop_body(http_request *r);
/* True once the client has closed its connection while the request waits
 * for its handler's answer (the client compiled locally, gave up, or was
 * killed): nobody will read the answer, so work done only for it can
 * stop. False while the request is not waiting (being read or answered),
 * or when unknown. A client that only shuts down its sending side after
 * the request counts as gone too (no HTTP client we know of does that).
 * Any thread; a poll() of the socket. */
bool http_request_client_gone(http_request *r);
const char *http_request_user(const http_request *r); /* from auth */
const char *http_request_header(const http_request *r, const char *name);
/* A query-string argument, decoded (?since=3600 -> "3600"); NULL if absent. */
const char *http_request_query(const http_request *r, const char *name);
uint64_t http_request_id(const http_request *r); /* for logs */

/* Exactly once per request, from any thread. The body is copied. */
void http_respond(http_request *r, int status, const char *content_type, const void *body, size_t len);

http_server *http_server_new(const http_server_options *o, char **err);
/* Routes `path` (exact, query string ignored; a trailing "*" matches any
 * rest, e.g. "/request/" followed by "*") for `methods` ("GET,POST").
 * Register before http_server_start. public: no token needed (/healthz). */
void http_server_route(http_server *s, const char *path, const char *methods, bool public_route, http_handler h,
                       void *user);
int http_server_start(http_server *s, char **err);
int http_server_port(const http_server *s);
/* Requests answered, by status class, and in flight. */
void http_server_counts(http_server *s, uint64_t *served, uint64_t *in_flight);
/* Stops the server, in this order: new connections are refused, requests
 * in flight get a few seconds (3) to be answered by their handlers, those
 * still waiting are answered 503 "shutting down" (goma's client retries a
 * 5xx) and their answers a few seconds (2) to be sent, then the polling
 * threads stop. Requests arriving meanwhile on open connections are
 * answered 503 too, with "Connection: close". A handler may still call
 * http_respond afterwards on a request it holds (nothing is sent; the
 * request is freed then), but must not start new ones. Idempotent. */
void http_server_shutdown(http_server *s);
/* Shuts down (if not yet) and frees. */
void http_server_free(http_server *s);

#endif
