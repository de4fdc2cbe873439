#include "rev2_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "rev2_proto.h"
#include "mem.h"

rev2_error *rev2_error_new(int code, const char *fmt, ...)
{
    rev2_error *e = gmb_calloc(1, sizeof *e);
    e->code = code == REV2_OK ? REV2_UNKNOWN : code;
    va_list ap;
    va_start(ap, fmt);
    e->message = gmb_vformat(fmt, ap);
    va_end(ap);
    return e;
}

static void add_missing(rev2_error *e, const char *subject)
{
    /* subject is "blobs/<hash>/<size>"; tolerate an instance prefix too. */
    const char *p = strstr(subject, "blobs/");
    rev2_digest d;
    if (!p || !rev2_digest_parse(p + strlen("blobs/"), &d))
        return;
    rev2_digest *grown = gmb_realloc(e->missing, (e->n_missing + 1) * sizeof *grown);
    e->missing = grown;
    e->missing[e->n_missing++] = d;
}

rev2_error *rev2_error_from_status_msg(const void *msg)
{
    const RpcStatus *st = msg;
    if (!st || st->code == REV2_OK)
        return NULL;
    rev2_error *e = rev2_error_new(st->code, "%s", st->message ? st->message : "");
    for (size_t i = 0; i < st->n_details; i++) {
        const GpbAny *any = st->details[i];
        if (!rev2_any_is(any, "google.rpc.PreconditionFailure"))
            continue;
        Google__Rpc__PreconditionFailure *pf =
            google__rpc__precondition_failure__unpack(NULL, any->value.len, any->value.data);
        if (!pf)
            continue;
        for (size_t v = 0; v < pf->n_violations; v++) {
            const Google__Rpc__PreconditionFailure__Violation *viol = pf->violations[v];
            if (viol->type && strcmp(viol->type, "MISSING") == 0 && viol->subject)
                add_missing(e, viol->subject);
        }
        google__rpc__precondition_failure__free_unpacked(pf, NULL);
    }
    return e;
}

rev2_error *rev2_error_from_status_bytes(const uint8_t *data, size_t len)
{
    RpcStatus *st = google__rpc__status__unpack(NULL, len, data);
    if (!st)
        return rev2_error_new(REV2_INTERNAL, "undecodable google.rpc.Status (%zu bytes)", len);
    rev2_error *e = rev2_error_from_status_msg(st);
    google__rpc__status__free_unpacked(st, NULL);
    return e;
}

rev2_error *rev2_error_copy(const rev2_error *src)
{
    rev2_error *e = rev2_error_new(src->code, "%s", src->message);
    if (src->n_missing) {
        e->missing = gmb_malloc(src->n_missing * sizeof *e->missing);
        memcpy(e->missing, src->missing, src->n_missing * sizeof *e->missing);
        e->n_missing = src->n_missing;
    }
    return e;
}

void rev2_error_prefix(rev2_error *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *prefix = gmb_vformat(fmt, ap);
    va_end(ap);
    size_t n = strlen(prefix) + 2 + strlen(e->message) + 1;
    char *joined = gmb_malloc(n);
    snprintf(joined, n, "%s: %s", prefix, e->message);
    free(prefix);
    free(e->message);
    e->message = joined;
}

void rev2_error_free(rev2_error *e)
{
    if (!e)
        return;
    free(e->message);
    free(e->missing);
    free(e);
}

const char *rev2_code_name(int code)
{
    static const char *const names[] = {
        "OK",        "CANCELLED",       "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS",  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED",   "OUT_OF_RANGE",    "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
        "DATA_LOSS", "UNAUTHENTICATED",
    };
    if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
        return "UNKNOWN_CODE";
    return names[code];
}

bool rev2_code_is_retryable(int code)
{
    return code == REV2_UNAVAILABLE || code == REV2_RESOURCE_EXHAUSTED;
}

bool rev2_error_is_queue_timeout(const rev2_error *e)
{
    return e && e->code == REV2_UNAVAILABLE && strstr(e->message, "no worker of the pool took it") != NULL;
}

bool rev2_error_is_worker_lost(const rev2_error *e)
{
    return e && e->code == REV2_UNAVAILABLE && strstr(e->message, "the worker executing it was lost") != NULL;
}

bool rev2_error_is_worker_disappeared(const rev2_error *e)
{
    return e && e->code == REV2_UNAVAILABLE && strstr(e->message, "disappeared while task was executing") != NULL;
}

bool rev2_error_is_no_workers(const rev2_error *e)
{
    return e && strstr(e->message, "No workers exist for instance name prefix") != NULL;
}
