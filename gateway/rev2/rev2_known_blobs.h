/* rev2_known_blobs: which blobs Buildbarn holds, as far as this client
 * knows, per instance name, and which are being uploaded right now.
 *
 * A blob FindMissingBlobs called present, or that we uploaded, is
 * remembered for a while (ttl), so a hot toolchain is not checked again on
 * every action-cache miss. The record is bounded: two generations of a
 * fixed-size table; when the young one fills, the old one is dropped.
 * Buildbarn may still evict a blob we remember: an Execute then fails with
 * MISSING, rev2_execute forgets those digests, and the caller uploads them
 * again. Thread-safe. */
#ifndef REV2_KNOWN_BLOBS_H
#define REV2_KNOWN_BLOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_digest.h"

typedef struct rev2_known_blobs rev2_known_blobs;

/* max_entries 0 or ttl_ms 0: a record that remembers nothing. */
rev2_known_blobs *rev2_known_blobs_new(size_t max_entries, int64_t ttl_ms);
void rev2_known_blobs_free(rev2_known_blobs *k);

bool rev2_known_blobs_has(rev2_known_blobs *k, const char *instance, const rev2_digest *d);
void rev2_known_blobs_add(rev2_known_blobs *k, const char *instance, const rev2_digest *d);
void rev2_known_blobs_forget(rev2_known_blobs *k, const char *instance, const rev2_digest *d);

/* ---- Uploads in flight: one upload per blob, however many want it ----
 * rev2_known_blobs_claim: true if the caller now uploads d and must call
 * rev2_known_blobs_release when done; false if someone else is uploading
 * it: then `on_done(user, ok)` runs when that upload ends (from the
 * releasing thread). */
typedef void (*rev2_upload_waiter_cb)(void *user, bool ok);
bool rev2_known_blobs_claim(rev2_known_blobs *k, const char *instance, const rev2_digest *d,
                            rev2_upload_waiter_cb on_done, void *user);
/* Ends the claim: ok adds d to the record; waiters are called. */
void rev2_known_blobs_release(rev2_known_blobs *k, const char *instance, const rev2_digest *d, bool ok);

#endif
