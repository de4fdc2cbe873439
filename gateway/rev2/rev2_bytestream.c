/* rev2_bytestream: ByteStream Read (resumable) and Write (chunked). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "errmsg.h"
#include "log.h"
#include "pb_reader.h"
#include "rev2_client_internal.h"
#include "rev2_retry.h"
#include "rev2_rpc.h"
#include "mem.h"

/* ---- Read ---- */

typedef struct {
    rev2_client *client;
    char *instance;
    rev2_digest digest;
    int64_t next_offset; /* first byte not yet delivered */
    int64_t end;         /* one past the last byte wanted */
    int attempt;
    bool stopped; /* the reader said stop, or we reached `end` */
    rev2_data_cb on_data;
    rev2_done_cb on_done;
    void *user;
} bs_read;

static void read_attempt(bs_read *r);

static bool read_next_request(void *user, gmb_buf *out, bool *last, char **why)
{
    bs_read *r = user;
    Google__Bytestream__ReadRequest req = GOOGLE__BYTESTREAM__READ_REQUEST__INIT;
    req.resource_name = rev2_resource_read(r->instance, &r->digest);
    req.read_offset = r->next_offset;
    req.read_limit = 0; /* Buildbarn refuses a non-zero limit: we stop ourselves */
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    free(req.resource_name);
    gmb_buf_result rc = gmb_buf_append(out, bytes, len);
    free(bytes);
    *last = true;
    if (rc != GMB_BUF_OK)
        *why = gmb_strdup("ReadRequest too large");
    return rc == GMB_BUF_OK;
}

/* ReadResponse is one bytes field (data = 10). Finding it in place spares
 * a copy of every 64 KiB chunk; fields we do not know are skipped. */
static bool read_response_data(const uint8_t *p, size_t len, const uint8_t **data, size_t *n)
{
    pb_reader r;
    pb_field f;
    int rc;
    *data = NULL;
    *n = 0;
    pb_reader_init(&r, p, len);
    while ((rc = pb_reader_next(&r, &f)) > 0) {
        if (f.number == 10 && f.wire == PB_BYTES) {
            *data = f.data;
            *n = f.len;
        }
    }
    return rc == 0;
}

static bool read_on_message(void *user, const uint8_t *msg, size_t len)
{
    bs_read *r = user;
    const uint8_t *data;
    size_t n;
    if (!read_response_data(msg, len, &data, &n))
        return false; /* ends the call as OK; read_on_done sees the short count */
    if ((int64_t)n > r->end - r->next_offset)
        n = (size_t)(r->end - r->next_offset);
    bool keep = true;
    if (n > 0) {
        REV2_STAT_ADD(r->client, bytes_down, n);
        keep = r->on_data(r->user, data, n);
        r->next_offset += (int64_t)n;
    }
    if (!keep || r->next_offset >= r->end) {
        r->stopped = true;
        return false;
    }
    return true;
}

static void read_finish(bs_read *r, rev2_error *err)
{
    r->on_done(r->user, err);
    free(r->instance);
    free(r);
}

static void read_retry_timer(void *arg, bool cancelled)
{
    bs_read *r = arg;
    if (cancelled)
        read_finish(r, rev2_error_new(REV2_CANCELLED, "ByteStream read: shutting down"));
    else
        read_attempt(r);
}

static void read_on_done(void *user, rev2_error *err)
{
    bs_read *r = user;
    char ds[REV2_DIGEST_STR_LEN];
    if (!err && !r->stopped && r->next_offset < r->end)
        err = rev2_error_new(REV2_DATA_LOSS, "ByteStream read of %s ended at byte %lld of %lld",
                             rev2_digest_str(&r->digest, ds), (long long)r->next_offset, (long long)r->end);
    char what[160], next_step[64];
    snprintf(what, sizeof what, "ByteStream read of %s", rev2_digest_str(&r->digest, ds));
    snprintf(next_step, sizeof next_step, "resuming at byte %lld", (long long)r->next_offset);
    if (rev2_retry_later(r->client, err, err && rev2_code_is_retryable(err->code) && !r->stopped, false, &r->attempt,
                         what, next_step, read_retry_timer, r))
        return;
    if (err)
        rev2_error_prefix(err, "ByteStream read of %s", rev2_digest_str(&r->digest, ds));
    read_finish(r, err);
}

static const rev2_rpc_handlers read_handlers = {
    .next_request = read_next_request,
    .on_message = read_on_message,
    .on_done = read_on_done,
};

static void read_attempt(bs_read *r)
{
    REV2_STAT_ADD(r->client, calls, 1);
    rev2_rpc_start(rev2_client_channel(r->client), REV2_METHOD_BS "Read",
                   rev2_client_options_of(r->client)->call_timeout_ms, &read_handlers, r);
}

void rev2_bytestream_read(rev2_client *c, const char *instance, const rev2_digest *d, int64_t offset, int64_t limit,
                          rev2_data_cb on_data, rev2_done_cb on_done, void *user)
{
    if (offset < 0 || offset > d->size || limit < 0) {
        on_done(user, rev2_error_new(REV2_OUT_OF_RANGE, "ByteStream read range %lld+%lld outside a %lld-byte blob",
                                     (long long)offset, (long long)limit, (long long)d->size));
        return;
    }
    bs_read *r = gmb_calloc(1, sizeof *r);
    r->client = c;
    r->instance = gmb_strdup(rev2_client_instance(c, instance));
    r->digest = *d;
    r->next_offset = offset;
    r->end = (limit == 0 || limit > d->size - offset) ? d->size : offset + limit;
    r->attempt = 1;
    r->on_data = on_data;
    r->on_done = on_done;
    r->user = user;
    if (r->next_offset >= r->end) {
        /* Nothing to read (an empty blob, or an offset at the end). */
        read_finish(r, NULL);
        return;
    }
    read_attempt(r);
}

/* ---- Write ---- */

typedef struct {
    rev2_client *client;
    char *instance;
    rev2_blob blob;
    char *path;          /* our copy of blob.path */
    int fd;              /* open while writing from a file */
    int64_t offset;      /* next byte to send */
    rev2_hasher *hasher; /* checks a file's bytes against its digest as they go */
    int attempt;
    int64_t committed;
    rev2_done_cb cb;
    void *user;
    uint8_t *chunk;
    uint64_t held; /* bytes of the client's blob budget this write holds */
} bs_write;

static void write_attempt(bs_write *w);

static bool write_next_request(void *user, gmb_buf *out, bool *last, char **why)
{
    bs_write *w = user;
    size_t chunk_max = rev2_client_options_of(w->client)->bytestream_chunk_bytes;
    int64_t left = w->blob.digest.size - w->offset;
    size_t n = left < (int64_t)chunk_max ? (size_t)left : chunk_max;

    Google__Bytestream__WriteRequest req = GOOGLE__BYTESTREAM__WRITE_REQUEST__INIT;
    /* Only the first message names the resource; a new UUID per attempt. */
    char *resource = NULL;
    if (w->offset == 0) {
        char uuid[37];
        rev2_uuid4(uuid);
        resource = rev2_resource_write(w->instance, uuid, &w->blob.digest);
        req.resource_name = resource;
    }
    req.write_offset = w->offset;
    const uint8_t *data = w->blob.data ? w->blob.data + w->offset : NULL;
    if (!w->blob.data && n > 0) {
        ssize_t got = pread(w->fd, w->chunk, n, w->offset);
        if (got != (ssize_t)n) {
            *why = gmb_format("reading %s at %lld: %s", w->path, (long long)w->offset,
                              got < 0 ? strerror(errno) : "file is shorter than its digest says");
            free(resource);
            return false;
        }
        data = w->chunk;
        REV2_STAT_ADD(w->client, file_bytes_read, n);
        rev2_hasher_update(w->hasher, data, n);
    }
    req.data.data = (uint8_t *)data;
    req.data.len = n;
    w->offset += (int64_t)n;
    req.finish_write = w->offset == w->blob.digest.size;
    if (req.finish_write && w->hasher) {
        rev2_digest got;
        rev2_hasher_finish(w->hasher, &got);
        w->hasher = NULL;
        if (!rev2_digest_equal(&got, &w->blob.digest)) {
            char gs[REV2_DIGEST_STR_LEN];
            *why = gmb_format("%s changed: its bytes now hash to %s", w->path, rev2_digest_str(&got, gs));
            free(resource);
            return false;
        }
    }
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    free(resource);
    gmb_buf_result put = gmb_buf_append(out, bytes, len);
    free(bytes);
    *last = req.finish_write;
    if (put != GMB_BUF_OK) {
        *why = gmb_format("WriteRequest of %zu bytes is larger than a call may send", len);
        return false;
    }
    return true;
}

static bool write_on_message(void *user, const uint8_t *data, size_t len)
{
    bs_write *w = user;
    Google__Bytestream__WriteResponse *resp = google__bytestream__write_response__unpack(NULL, len, data);
    if (resp) {
        w->committed = resp->committed_size;
        rev2_msg_free(resp);
    }
    return true;
}

static void write_close_file(bs_write *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->hasher) {
        rev2_digest scratch;
        rev2_hasher_finish(w->hasher, &scratch);
        w->hasher = NULL;
    }
}

static void write_finish(bs_write *w, rev2_error *err)
{
    write_close_file(w);
    if (!err)
        REV2_STAT_ADD(w->client, bytes_up, (uint64_t)w->blob.digest.size);
    w->cb(w->user, err);
    free(w->chunk);
    if (w->held)
        gmb_budget_give(rev2_client_options_of(w->client)->blob_budget, w->held);
    free(w->path);
    free(w->instance);
    free(w);
}

static void write_retry_timer(void *arg, bool cancelled)
{
    bs_write *w = arg;
    if (cancelled)
        write_finish(w, rev2_error_new(REV2_CANCELLED, "ByteStream write: shutting down"));
    else
        write_attempt(w);
}

static void write_on_done(void *user, rev2_error *err)
{
    bs_write *w = user;
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&w->blob.digest, ds);
    /* A server that already holds the blob may end early with the full
     * size committed: that is success too. */
    if (!err && w->committed != w->blob.digest.size)
        err = rev2_error_new(REV2_DATA_LOSS, "server committed %lld of %lld bytes", (long long)w->committed,
                             (long long)w->blob.digest.size);
    char what[160];
    snprintf(what, sizeof what, "ByteStream write of %s", ds);
    if (rev2_retry_later(w->client, err, err && rev2_code_is_retryable(err->code), false, &w->attempt, what,
                         "restarting from byte 0", write_retry_timer, w))
        return;
    if (err)
        rev2_error_prefix(err, "ByteStream write of %s", ds);
    write_finish(w, err);
}

static const rev2_rpc_handlers write_handlers = {
    .next_request = write_next_request,
    .on_message = write_on_message,
    .on_done = write_on_done,
};

static void write_attempt(bs_write *w)
{
    /* Buildbarn cannot resume a write: every attempt starts from 0. */
    w->offset = 0;
    w->committed = -1;
    if (!w->blob.data) {
        write_close_file(w);
        w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
        if (w->fd < 0) {
            write_finish(w, rev2_error_new(REV2_FAILED_PRECONDITION, "cannot open %s: %s", w->path, strerror(errno)));
            return;
        }
        w->hasher = rev2_hasher_new();
    }
    REV2_STAT_ADD(w->client, calls, 1);
    rev2_rpc_start(rev2_client_channel(w->client), REV2_METHOD_BS "Write",
                   rev2_client_options_of(w->client)->call_timeout_ms, &write_handlers, w);
}

/* The budget has room for this write's buffers. */
static void write_granted(void *arg)
{
    bs_write *w = arg;
    w->chunk = gmb_malloc(rev2_client_options_of(w->client)->bytestream_chunk_bytes);
    write_attempt(w);
}

void rev2_bytestream_write(rev2_client *c, const char *instance, const rev2_blob *blob, rev2_done_cb cb, void *user)
{
    bs_write *w = gmb_calloc(1, sizeof *w);
    w->client = c;
    w->instance = gmb_strdup(rev2_client_instance(c, instance));
    w->blob = *blob;
    w->fd = -1;
    if (!blob->data) {
        w->path = gmb_strdup(blob->path ? blob->path : "");
        w->blob.path = w->path;
    }
    w->attempt = 1;
    w->cb = cb;
    w->user = user;
    gmb_budget *budget = rev2_client_options_of(c)->blob_budget;
    if (blob->data) {
        write_attempt(w);
        return;
    }
    /* A file goes up through the chunk buffer, its packed request and the
     * call's send buffer: about three chunks in memory. */
    uint64_t chunk = rev2_client_options_of(c)->bytestream_chunk_bytes;
    uint64_t size = (uint64_t)blob->digest.size;
    w->held = budget ? 3 * (size < chunk ? size : chunk) : 0;
    if (!budget || gmb_budget_take_or_queue(budget, w->held, write_granted, w))
        write_granted(w);
}
