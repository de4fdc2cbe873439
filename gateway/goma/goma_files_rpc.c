/* goma's StoreFile and LookupFile requests: the request message in, the
 * answer message out (goma_files_store_file, goma_files_lookup_file), and
 * the HTTP handlers that call them. The file index is goma_files.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "goma_files_internal.h"
#include "log.h"
#include "mem.h"
#include "pb_reader.h"

/* Calls fn for the raw bytes of every field-1 value of a message (the
 * repeated FileBlob of StoreFileReq), without re-serializing anything. */
static int each_field1(const uint8_t *p, size_t len, void (*fn)(void *, const uint8_t *, size_t), void *arg)
{
    pb_reader r;
    pb_field f;
    int rc;
    pb_reader_init(&r, p, len);
    while ((rc = pb_reader_next(&r, &f)) > 0)
        if (f.number == 1 && f.wire == PB_BYTES)
            fn(arg, f.data, f.len);
    return rc;
}

typedef struct {
    goma_files *files;
    uint64_t id;
    char **keys;
    size_t n;
    goma_share_answer *answer; /* NULL: not shared, or no wait */
} store_ctx;

static void store_one(void *arg, const uint8_t *blob, size_t len)
{
    store_ctx *c = arg;
    char key[65];
    const char *why = NULL;
    c->keys = gmb_realloc(c->keys, (c->n + 1) * sizeof *c->keys);
    if (goma_files_store_blob(c->files, blob, len, key, &why, c->answer) == 0) {
        c->keys[c->n++] = gmb_strdup(key);
    } else {
        /* goma's answer for a refused blob: an empty key in its slot. */
        GMB_WARN("goma", "#%llu StoreFile: blob %zu refused: %s", (unsigned long long)c->id, c->n, why);
        c->keys[c->n++] = gmb_strdup("");
    }
}

int goma_files_store_file(goma_files *f, const uint8_t *req, size_t len, uint64_t id, goma_share_answer *wait,
                          gmb_buf *resp, const char **why)
{
    /* Decode once to refuse garbage; the blobs are then taken from the
     * raw bytes so each keeps the exact encoding it was hashed in. */
    DevtoolsGoma__StoreFileReq *m = devtools_goma__store_file_req__unpack(NULL, len, req);
    store_ctx c = {f, id, NULL, 0, wait};
    int rc = 0;
    if (!m || each_field1(req, len, store_one, &c) < 0) {
        *why = "StoreFile body is not a StoreFileReq";
        rc = -1;
    } else {
        DevtoolsGoma__StoreFileResp out = DEVTOOLS_GOMA__STORE_FILE_RESP__INIT;
        out.n_hash_key = c.n;
        out.hash_key = c.keys;
        size_t n = devtools_goma__store_file_resp__get_packed_size(&out);
        uint8_t *bytes = gmb_malloc(n + 1);
        devtools_goma__store_file_resp__pack(&out, bytes);
        gmb_buf_put(resp, bytes, n);
        free(bytes);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.keys[i]);
    free(c.keys);
    if (m)
        devtools_goma__store_file_req__free_unpacked(m, NULL);
    return rc;
}

/* The length of a key's FileBlob, from the index or, for a blob stored
 * before a restart, from the store (then indexed again); -1 if unknown. */
static int64_t stored_blob_len(goma_files *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    goma_file_entry *e = rev2_hash_is_valid(key) ? goma_files_find_locked(f, key) : NULL;
    int64_t blob_len = e ? e->blob_len : -1;
    f->stats.lookups++;
    pthread_mutex_unlock(&f->lock);
    uint8_t *bytes = NULL;
    rev2_digest d;
    if (blob_len < 0 && cas_store_find_hash(f->store, key, &d) && cas_store_read_all(f->store, NULL, &d, &bytes) == 0) {
        char again[65];
        const char *why;
        if (goma_files_store(f, bytes, (size_t)d.size, again, &why) == 0)
            blob_len = d.size;
        free(bytes);
    }
    return blob_len;
}

/* Appends one LookupFileResp.blob (field 2) holding `blob` verbatim. */
static void put_blob_field(gmb_buf *out, const uint8_t *blob, size_t len)
{
    uint8_t hdr[11];
    size_t h = 0;
    hdr[h++] = 0x12;
    for (uint64_t v = (uint64_t)len;; v >>= 7) {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    gmb_buf_put(out, hdr, h);
    gmb_buf_put(out, blob, len);
}

int goma_files_lookup_file(goma_files *f, const uint8_t *req, size_t len, gmb_buf *resp, const char **why)
{
    DevtoolsGoma__LookupFileReq *m = devtools_goma__lookup_file_req__unpack(NULL, len, req);
    if (!m) {
        *why = "LookupFile body is not a LookupFileReq";
        return -1;
    }
    /* LookupFileResp is "repeated FileBlob blob = 2": written by hand so
     * every stored blob goes back in its original bytes. An unknown key
     * gets a FILE_UNSPECIFIED placeholder (blob_type present, as goma's
     * client requires): tag 0x12, length 2, then 08 00. */
    /* Keys stored through another gateway: found in one parallel round. */
    goma_files_prefetch(f, (const char *const *)m->hash_key, m->n_hash_key, false);
    for (size_t i = 0; i < m->n_hash_key; i++) {
        const char *key = m->hash_key[i];
        int64_t blob_len = stored_blob_len(f, key);
        uint8_t *bytes = NULL;
        rev2_digest d;
        if (blob_len >= 0 && rev2_digest_set(&d, key, blob_len) &&
            cas_store_read_all(f->store, NULL, &d, &bytes) == 0) {
            put_blob_field(resp, bytes, (size_t)blob_len);
            goma_files_release_served_chunk(f, key);
        } else {
            static const uint8_t unknown[] = {0x12, 0x02, 0x08, 0x00};
            gmb_buf_put(resp, unknown, sizeof unknown);
            pthread_mutex_lock(&f->lock);
            f->stats.lookup_misses++;
            pthread_mutex_unlock(&f->lock);
        }
        free(bytes);
    }
    devtools_goma__lookup_file_req__free_unpacked(m, NULL);
    return 0;
}

/* ---- HTTP ---- */

/* 200 with the answer, or 400 with the reason; through the share (when
 * its files are to reach Buildbarn first) with `wait`. */
static void respond(goma_files *f, http_request *r, goma_share_answer *wait, int rc, const gmb_buf *resp,
                    const char *why)
{
    char *msg = rc < 0 ? gmb_format("gomabarn: %s\n", why) : NULL;
    int status = rc < 0 ? 400 : 200;
    const char *type = rc < 0 ? "text/plain; charset=utf-8" : "binary/x-protocol-buffer";
    const void *body = rc < 0 ? (const void *)msg : resp->data ? (const void *)resp->data : "";
    size_t len = rc < 0 ? strlen(msg) : resp->len;
    if (wait)
        goma_share_answer_send(f->share, wait, status, type, body, len);
    else
        http_respond(r, status, type, body, len);
    free(msg);
}

static void on_store_file(http_request *r, void *user)
{
    goma_files *f = user;
    size_t len;
    const uint8_t *body = http_request_body(r, &len);
    goma_share_answer *wait = f->share ? goma_share_answer_new(f->share, r) : NULL;
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int rc = goma_files_store_file(f, body, len, http_request_id(r), wait, &resp, &why);
    respond(f, r, wait, rc, &resp, why);
    gmb_buf_free(&resp);
}

typedef struct {
    goma_files *files;
    http_request *req;
} lookup_job;

static void lookup_file(void *arg)
{
    lookup_job *job = arg;
    size_t len;
    const uint8_t *body = http_request_body(job->req, &len);
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int rc = goma_files_lookup_file(job->files, body, len, &resp, &why);
    respond(job->files, job->req, NULL, rc, &resp, why);
    gmb_buf_free(&resp);
    free(job);
}

static void on_lookup_file(http_request *r, void *user)
{
    goma_files *f = user;
    lookup_job *job = gmb_malloc(sizeof *job);
    *job = (lookup_job){f, r};
    work_pool_run(f->lookups, lookup_file, job);
}

/* LookupFile is rare (a client fetching an output's chunks) and mostly
 * reads the local disk: two threads. */
#define LOOKUP_THREADS 2

void goma_files_routes(goma_files *f, http_server *http, const char *prefix)
{
    if (!f->lookups)
        f->lookups = work_pool_new(LOOKUP_THREADS);
    char path[512];
    snprintf(path, sizeof path, "%s/s", prefix);
    http_server_route(http, path, "POST", false, on_store_file, f);
    snprintf(path, sizeof path, "%s/l", prefix);
    http_server_route(http, path, "POST", false, on_lookup_file, f);
}

void goma_files_routes_stop(goma_files *f)
{
    if (!f) /* a gateway that stopped before it had its files */
        return;
    work_pool_free(f->lookups);
    f->lookups = NULL;
}
