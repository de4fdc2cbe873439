/* rev2_cas: FindMissingBlobs, BatchUpdateBlobs and BatchReadBlobs. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rev2_cas_internal.h"
#include "rev2_client_internal.h"
#include "rev2_unary.h"
#include "mem.h"

/* ---- FindMissingBlobs ---- */

typedef struct {
    rev2_find_missing_cb cb;
    void *user;
} fmb_call;

static void fmb_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    fmb_call *f = user;
    rev2_digest *missing = NULL;
    size_t n_missing = 0;
    if (!err) {
        Rev2FindMissingBlobsResponse *r =
            build__bazel__remote__execution__v2__find_missing_blobs_response__unpack(NULL, len, resp);
        if (!r) {
            err = rev2_error_new(REV2_INTERNAL, "undecodable FindMissingBlobsResponse");
        } else {
            missing = gmb_calloc(r->n_missing_blob_digests + 1, sizeof *missing);
            for (size_t i = 0; i < r->n_missing_blob_digests; i++)
                if (rev2_digest_from_proto(r->missing_blob_digests[i], &missing[n_missing]))
                    n_missing++;
            rev2_msg_free(r);
        }
    }
    f->cb(f->user, err, missing, n_missing);
    free(f);
}

void rev2_find_missing(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                       rev2_find_missing_cb cb, void *user)
{
    Rev2FindMissingBlobsRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__FIND_MISSING_BLOBS_REQUEST__INIT;
    req.instance_name = (char *)rev2_client_instance(c, instance);
    rev2_digest_list list;
    rev2_digest_list_init(&list, digests, n);
    req.n_blob_digests = n;
    req.blob_digests = list.ptrs;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    rev2_digest_list_free(&list);
    fmb_call *f = gmb_malloc(sizeof *f);
    f->cb = cb;
    f->user = user;
    rev2_unary(c, REV2_METHOD_CAS "FindMissingBlobs", bytes, len, fmb_done, f);
}

/* ---- BatchUpdateBlobs ---- */

typedef struct {
    rev2_client *client;
    rev2_done_cb cb;
    void *user;
    uint64_t bytes;
} bub_call;

static void bub_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    bub_call *b = user;
    if (!err) {
        Rev2BatchUpdateBlobsResponse *r =
            build__bazel__remote__execution__v2__batch_update_blobs_response__unpack(NULL, len, resp);
        if (!r) {
            err = rev2_error_new(REV2_INTERNAL, "undecodable BatchUpdateBlobsResponse");
        } else {
            /* Per-blob failures: report the first, count the rest. */
            size_t failed = 0;
            for (size_t i = 0; i < r->n_responses; i++) {
                rev2_error *e = rev2_error_from_status_msg(r->responses[i]->status);
                if (!e)
                    continue;
                if (!err) {
                    err = e;
                    rev2_error_prefix(err, "uploading blob %s/%lld",
                                      r->responses[i]->digest ? r->responses[i]->digest->hash : "?",
                                      r->responses[i]->digest ? (long long)r->responses[i]->digest->size_bytes : -1LL);
                } else {
                    rev2_error_free(e);
                }
                failed++;
            }
            if (failed > 1)
                rev2_error_prefix(err, "%zu of %zu blobs failed", failed, r->n_responses);
            rev2_msg_free(r);
        }
    }
    if (!err)
        REV2_STAT_ADD(b->client, bytes_up, b->bytes);
    b->cb(b->user, err);
    free(b);
}

void rev2_batch_update(rev2_client *c, const char *instance, const rev2_digest *digests, const uint8_t *const *datas,
                       size_t n, rev2_done_cb cb, void *user)
{
    Rev2BatchUpdateBlobsRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_UPDATE_BLOBS_REQUEST__INIT;
    req.instance_name = (char *)rev2_client_instance(c, instance);
    Rev2BatchUpdateEntry *entries = gmb_calloc(n + 1, sizeof *entries);
    Rev2BatchUpdateEntry **ptrs = gmb_calloc(n + 1, sizeof *ptrs);
    Rev2Digest *protos = gmb_calloc(n + 1, sizeof *protos);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        build__bazel__remote__execution__v2__batch_update_blobs_request__request__init(&entries[i]);
        rev2_digest_to_proto(&digests[i], &protos[i]);
        entries[i].digest = &protos[i];
        entries[i].data.data = (uint8_t *)datas[i];
        entries[i].data.len = (size_t)digests[i].size;
        ptrs[i] = &entries[i];
        total += (uint64_t)digests[i].size;
    }
    req.n_requests = n;
    req.requests = ptrs;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    free(entries);
    free(ptrs);
    free(protos);
    bub_call *b = gmb_malloc(sizeof *b);
    *b = (bub_call){c, cb, user, total};
    rev2_unary(c, REV2_METHOD_CAS "BatchUpdateBlobs", bytes, len, bub_done, b);
}

/* ---- BatchReadBlobs ---- */

typedef struct {
    rev2_client *client;
    rev2_digest *wanted;
    size_t n;
    rev2_batch_read_cb cb;
    void *user;
} brb_call;

void rev2_read_results_free(rev2_read_result *r, size_t n)
{
    if (!r)
        return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].data);
        rev2_error_free(r[i].err);
    }
    free(r);
}

static void fill_result(rev2_read_result *slot,
                        const Build__Bazel__Remote__Execution__V2__BatchReadBlobsResponse__Response *e)
{
    rev2_error *st = rev2_error_from_status_msg(e->status);
    if (st) {
        slot->err = st;
        return;
    }
    rev2_digest got;
    rev2_digest_of_bytes(e->data.data, e->data.len, &got);
    if (!rev2_digest_equal(&got, &slot->digest)) {
        char want_s[REV2_DIGEST_STR_LEN], got_s[REV2_DIGEST_STR_LEN];
        slot->err = rev2_error_new(REV2_DATA_LOSS, "blob %s arrived with digest %s",
                                   rev2_digest_str(&slot->digest, want_s), rev2_digest_str(&got, got_s));
        return;
    }
    slot->data = gmb_malloc(e->data.len ? e->data.len : 1);
    if (e->data.len)
        memcpy(slot->data, e->data.data, e->data.len);
}

static void brb_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    brb_call *b = user;
    rev2_read_result *results = NULL;
    if (!err) {
        Rev2BatchReadBlobsResponse *r =
            build__bazel__remote__execution__v2__batch_read_blobs_response__unpack(NULL, len, resp);
        if (!r) {
            err = rev2_error_new(REV2_INTERNAL, "undecodable BatchReadBlobsResponse");
        } else {
            results = gmb_calloc(b->n + 1, sizeof *results);
            for (size_t i = 0; i < b->n; i++)
                results[i].digest = b->wanted[i];
            /* Responses may come in any order: match them by digest. */
            uint64_t bytes = 0;
            for (size_t j = 0; j < r->n_responses; j++) {
                rev2_digest d;
                if (!rev2_digest_from_proto(r->responses[j]->digest, &d))
                    continue;
                for (size_t i = 0; i < b->n; i++) {
                    if (results[i].data || results[i].err || !rev2_digest_equal(&d, &results[i].digest))
                        continue;
                    fill_result(&results[i], r->responses[j]);
                    bytes += r->responses[j]->data.len;
                    break;
                }
            }
            for (size_t i = 0; i < b->n; i++) {
                char s[REV2_DIGEST_STR_LEN];
                if (!results[i].data && !results[i].err)
                    results[i].err = rev2_error_new(REV2_NOT_FOUND, "blob %s absent from the BatchReadBlobs answer",
                                                    rev2_digest_str(&results[i].digest, s));
            }
            REV2_STAT_ADD(b->client, bytes_down, bytes);
            rev2_msg_free(r);
        }
    }
    b->cb(b->user, err, results, err ? 0 : b->n);
    free(b->wanted);
    free(b);
}

void rev2_batch_read(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n, rev2_batch_read_cb cb,
                     void *user)
{
    Rev2BatchReadBlobsRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__BATCH_READ_BLOBS_REQUEST__INIT;
    req.instance_name = (char *)rev2_client_instance(c, instance);
    rev2_digest_list list;
    rev2_digest_list_init(&list, digests, n);
    req.n_digests = n;
    req.digests = list.ptrs;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    rev2_digest_list_free(&list);
    brb_call *b = gmb_calloc(1, sizeof *b);
    b->client = c;
    b->n = n;
    b->wanted = gmb_malloc((n + 1) * sizeof *b->wanted);
    memcpy(b->wanted, digests, n * sizeof *digests);
    b->cb = cb;
    b->user = user;
    rev2_unary(c, REV2_METHOD_CAS "BatchReadBlobs", bytes, len, brb_done, b);
}
