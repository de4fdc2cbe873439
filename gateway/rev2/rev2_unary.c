/* rev2_unary: one request, one response, retried on transient errors. */
#include "rev2_unary.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rev2_client_internal.h"
#include "rev2_retry.h"
#include "rev2_rpc.h"
#include "mem.h"

typedef struct {
    rev2_client *client;
    const char *method; /* a string literal */
    uint8_t *request;
    size_t request_len;
    int attempt; /* 1-based */
    rev2_unary_cb cb;
    void *user;
    gmb_buf response;
    bool got_response;
} unary_call;

static void start_attempt(unary_call *u);

static bool unary_next_request(void *user, gmb_buf *out, bool *last, char **why)
{
    unary_call *u = user;
    *last = true;
    if (gmb_buf_append(out, u->request, u->request_len) != GMB_BUF_OK) {
        *why = gmb_strdup("request too large");
        return false;
    }
    return true;
}

static bool unary_on_message(void *user, const uint8_t *data, size_t len)
{
    unary_call *u = user;
    gmb_buf_reset(&u->response);
    gmb_buf_put(&u->response, data, len); /* gRPC bounds a message */
    u->got_response = true;
    return true;
}

static void finish(unary_call *u, rev2_error *err)
{
    if (!err && !u->got_response)
        err = rev2_error_new(REV2_INTERNAL, "%s returned no message", u->method);
    u->cb(u->user, err, err ? NULL : u->response.data, err ? 0 : u->response.len);
    gmb_buf_free(&u->response);
    free(u->request);
    free(u);
}

static void retry_timer(void *arg, bool cancelled)
{
    unary_call *u = arg;
    if (cancelled) {
        finish(u, rev2_error_new(REV2_CANCELLED, "%s: shutting down during retry back-off", u->method));
        return;
    }
    start_attempt(u);
}

static void unary_on_done(void *user, rev2_error *err)
{
    unary_call *u = user;
    u->got_response = u->got_response && !err;
    if (rev2_retry_later(u->client, err, err && rev2_code_is_retryable(err->code), false, &u->attempt, u->method,
                         "retrying", retry_timer, u))
        return;
    if (err && u->attempt > 1)
        rev2_error_prefix(err, "after %d attempts", u->attempt);
    finish(u, err);
}

static const rev2_rpc_handlers unary_handlers = {
    .next_request = unary_next_request,
    .on_message = unary_on_message,
    .on_done = unary_on_done,
};

static void start_attempt(unary_call *u)
{
    REV2_STAT_ADD(u->client, calls, 1);
    rev2_rpc_start(rev2_client_channel(u->client), u->method, rev2_client_options_of(u->client)->call_timeout_ms,
                   &unary_handlers, u);
}

void rev2_unary(rev2_client *c, const char *method, uint8_t *request, size_t request_len, rev2_unary_cb cb, void *user)
{
    unary_call *u = gmb_calloc(1, sizeof *u);
    u->client = c;
    u->method = method;
    u->request = request;
    u->request_len = request_len;
    u->attempt = 1;
    u->cb = cb;
    u->user = user;
    gmb_buf_init(&u->response, GMB_BUF_UNLIMITED);
    start_attempt(u);
}
