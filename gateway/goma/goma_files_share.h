/* goma_files_share: goma files shared between gateways through Buildbarn.
 *
 * Several gateways behind one load balancer, each with its own disk, must
 * know each other's goma keys. A goma key K is the SHA-256 of a FileBlob,
 * so the FileBlob is the CAS blob (K, length); what another gateway lacks
 * is the length (and the kind). That goes into Buildbarn's action cache,
 * under an Action digest derived from the key (goma_share_action_digest):
 * an ActionResult with one output file named after the blob type whose
 * digest is (K, length), and for a FILE a second one, "content", the
 * digest of the file's bytes. Both blobs go to the CAS first, then the
 * entry: an entry never names a blob not uploaded, and Buildbarn's
 * completeness checking drops entries whose blobs it evicted.
 *
 * Upload side: goma_share_put queues a stored blob; worker threads upload
 * batches (FindMissingBlobs first) and write the entries. The queue is
 * bounded (goma.share_queue_max): past it a file is not shared, counted.
 * A StoreFile answer waits for its own files to be up, at most
 * goma.share_wait_ms (goma_share_answer_*), because the client's next
 * request, the Exec naming them, may reach another gateway.
 *
 * Lookup side: goma_share_find asks the action cache for many keys at
 * once (one parallel round, bounded by goma.share_lookup_timeout_ms);
 * answers "not there" are remembered a few seconds (a fixed-size table)
 * so a key nobody has costs one GetActionResult per few seconds, not one
 * per request. Everything uses buildbarn.instance_name. Thread-safe. */
#ifndef GOMA_FILES_SHARE_H
#define GOMA_FILES_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cas_store.h"
#include "http_server.h"
#include "metrics.h"

typedef struct goma_share goma_share;

typedef struct {
    rev2_client *client; /* the store's: both use its default instance name */
    cas_store *store;
    size_t queue_max;          /* files waiting to go up at most */
    int64_t wait_ms;           /* longest a StoreFile answer waits (0: none) */
    int64_t lookup_timeout_ms; /* longest goma_share_find waits */
    metrics *metrics;          /* NULL: none */
    /* Called (no lock held) with the key of each file whose upload
     * failed, so its owner lets the next StoreFile of it try again. */
    void (*not_shared)(void *user, const char *key);
    void *user;
} goma_share_options;

goma_share *goma_share_new(const goma_share_options *o);
/* Waits for the workers to upload what is queued, GOMA_SHARE_DRAIN_MS at
 * most: a stopping gateway's build goes on through the other gateways,
 * which would ask again for each file left behind. Call it before the
 * REv2 client stops (a stopped client fails every upload). */
void goma_share_drain(goma_share *s);
/* Sends the answers still waiting, drops the queue (logged) and waits
 * for the batches being uploaded. */
void goma_share_free(goma_share *s);

/* The action-cache key of goma key `key`: the digest of the bytes
 * "gomabarn-file-key:" + key, a blob nobody needs to store. */
void goma_share_action_digest(const char *key, rev2_digest *out);

/* ---- Upload ---- */
typedef struct goma_share_answer goma_share_answer;
/* An answer to send once the files put with it are up. */
goma_share_answer *goma_share_answer_new(goma_share *s, http_request *r);
/* Queues a stored FileBlob (K, blob_len) of goma type `type`, and for a
 * FILE its content digest. `a` may be NULL. false: the queue is full and
 * the file is not shared (counted). */
bool goma_share_put(goma_share *s, const char *key, int64_t blob_len, int type, const rev2_digest *content,
                    goma_share_answer *a);
/* Hands the answer over (body copied): sent when the files put with it
 * are up, or after wait_ms, or at once when none is waiting. */
void goma_share_answer_send(goma_share *s, goma_share_answer *a, int status, const char *content_type, const void *body,
                            size_t len);

/* ---- Lookup ---- */
typedef struct {
    const char *key; /* in */
    bool found;
    int64_t blob_len;
    int type;            /* DevtoolsGoma__FileBlob__BlobType */
    rev2_digest content; /* a FILE's, when has_content */
    bool has_content;
} goma_share_hit;
/* Looks the keys up in parallel; returns how many were found. */
size_t goma_share_find(goma_share *s, goma_share_hit *hits, size_t n);

#endif
