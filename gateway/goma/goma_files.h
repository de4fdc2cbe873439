/* goma_files: goma's file service on the shared content store.
 *
 * A goma hash key is the SHA-256 of a serialized FileBlob, so a FileBlob's
 * bytes, exactly as the client sent them, are a content-addressed blob
 * whose REv2 digest is (key, length): StoreFile puts them into cas_store
 * under that digest, and LookupFile returns them verbatim. The file index
 * keeps, per key, that length and what the blob holds (a whole file's
 * content digest, or a chunk, or a chunk list), so the exec pipeline can
 * turn keys into REv2 input digests. Blobs that break goma's rules are
 * refused and nothing is stored:
 *   FILE:       content present, its length == file_size, no offset, no keys
 *   FILE_META:  at least 2 chunk keys, no content
 *   FILE_CHUNK: offset and content present, no keys, offset a multiple of
 *               2 MiB, content at most 2 MiB
 *   FILE_REF:   exactly one key
 *
 * Chunks arrive before the FILE_META that names them, each StoreFile on
 * its own, and a small store would evict the first while the last
 * arrive. So each FILE_CHUNK is pinned in the store from its StoreFile
 * until a FILE_META assembled from it (or a LookupFile served it, for an
 * output), or until cache.pin_timeout_s passes. A FILE_META is assembled
 * by streaming its chunks into the store: one chunk in memory at a time.
 *
 * Errors from the store are -errno (cas_store.h, "Errors"): -EINVAL is
 * the client's fault, anything else the server's. */
#ifndef GOMA_FILES_H
#define GOMA_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cas_store.h"
#include "goma_files_share.h"
#include "http_server.h"

typedef struct goma_files goma_files;

goma_files *goma_files_new(cas_store *store);
/* Releases its pins in the store: call it before cas_store_close. */
void goma_files_free(goma_files *f);
/* Registers <prefix>/s and <prefix>/l: goma_files_store_file and
 * goma_files_lookup_file over HTTP (200 with the answer, or 400 with the
 * reason in words). LookupFile runs on threads of its own: looking keys
 * up in Buildbarn and fetching blobs would hold an HTTP thread, and with
 * it every connection that thread serves. */
void goma_files_routes(goma_files *f, http_server *http, const char *prefix);
/* Finishes the LookupFiles under way and stops their threads: after the
 * HTTP server's shutdown (nothing new comes), before it is freed (they
 * answer into it). goma_files_free does it too, if not done. NULL is fine. */
void goma_files_routes_stop(goma_files *f);

/* ---- goma's StoreFile and LookupFile, without HTTP ----
 * `req` is the request message as it comes out of the HTTP body's
 * decoding (gzip or deflate undone; these messages carry no groups). The
 * answer message is appended to `resp`, a buffer made with
 * GMB_BUF_UNLIMITED: its size follows the blobs stored, each bounded by
 * http.max_body_bytes when it came in. Both return 0, or -1 with *why
 * (static, plain words) when the bytes are not that request. */
/* Stores every FileBlob of a StoreFileReq (goma_files_store's rules) and
 * answers a StoreFileResp: one key per blob, in order, and an empty key
 * for a blob refused (logged with request number `id`). With sharing on,
 * each blob is queued with `wait` (goma_share_answer_new; NULL: none) so
 * the HTTP answer can wait for the uploads. */
int goma_files_store_file(goma_files *f, const uint8_t *req, size_t len, uint64_t id, goma_share_answer *wait,
                          gmb_buf *resp, const char **why);
/* Answers a LookupFileReq with a LookupFileResp: per key, in order, the
 * FileBlob in the bytes it was stored in, or a FILE_UNSPECIFIED blob for
 * a key not stored. Serving an output's chunk releases its pin. */
int goma_files_lookup_file(goma_files *f, const uint8_t *req, size_t len, gmb_buf *resp, const char **why);

/* Stores one FileBlob given as its serialized bytes. 0 with the key
 * (65 bytes with NUL), or -errno with a static reason: -EINVAL for a blob
 * that breaks goma's rules (the client's fault); a store failure
 * otherwise (-ENOSPC, -EDQUOT, -EFBIG, -EIO: the server's). */
int goma_files_store(goma_files *f, const uint8_t *blob, size_t len, char key[65], const char **why);
/* What a key holds, for the exec pipeline: the REv2 digest of the whole
 * file's content, for a FILE, or for a FILE_META whose chunks are all
 * stored (assembled into the store once, then remembered; assembled again
 * if the store evicted the result since). Checked present in the store;
 * with `pin`, also pinned there (*pin, to cas_pin_release once the Exec
 * no longer needs it; NULL unless 1 is returned), so nothing evicts it in
 * between. Returns
 *   1       *content is set (and *pin);
 *   0       the key, or one of its chunks, is not stored, or the chunks do
 *           not add up: report the input missing (the chunks present stay
 *           pinned for the client's next round);
 *   -errno  the store failed: -EFBIG (the file is larger than
 *           cache.max_bytes), -ENOSPC/-EDQUOT, -EIO. The server's fault. */
int goma_files_resolve(goma_files *f, const char *key, rev2_digest *content, cas_pin **pin);
/* goma_files_resolve's fast half: 1 with the content pinned when the key
 * is indexed and its content still stored (or arriving: a fetch in
 * flight is waited for), else 0 (nothing is read, assembled or looked up
 * in Buildbarn). */
int goma_files_resolve_held(goma_files *f, const char *key, rev2_digest *content, cas_pin **pin);
/* Only the index: true with the content's digest when the key is known
 * with its content, pinning nothing (the caller pins all of a request's
 * contents at once, and finds then whether one has left the store). */
bool goma_files_indexed_content(goma_files *f, const char *key, rev2_digest *content);

/* Shares stored files with the other gateways on the same Buildbarn and
 * finds theirs (goma_files_share.h); once, before serving. */
void goma_files_share_start(goma_files *f, const goma_share_options *o);
/* When stopping, after the last StoreFile and before Buildbarn's calls
 * end: uploads what is still queued (goma_share_drain). No-op unless shared. */
void goma_files_share_drain(goma_files *f);
/* Looks keys this gateway does not hold up in Buildbarn, all in one
 * round, and fetches what a request will read: for `contents` (an Exec)
 * a FILE's content, else the FileBlobs; a FILE_META's chunks too. Keys
 * found are then served as if stored here. No-op unless shared. */
void goma_files_prefetch(goma_files *f, const char *const *keys, size_t n, bool contents);

typedef struct {
    uint64_t stored, refused, lookups, lookup_misses;
} goma_files_stats;
void goma_files_stats_get(goma_files *f, goma_files_stats *out);

#endif
