/* cas_store: gomabarn's one local content store.
 *
 * Blobs by REv2 digest in a directory on disk, bounded in bytes, evicted
 * least recently used first. The goma file service puts client uploads
 * here; the FUSE view and the exec pipeline read from here; a blob that is
 * not here is fetched from Buildbarn's CAS on first read. Knows nothing
 * about goma.
 *
 * On disk:  <dir>/blobs/<first two hex digits>/<hash>-<size>   complete, verified
 *           <dir>/tmp/                                       writes in progress
 * A blob enters blobs/ only by rename(2) after its bytes matched its
 * digest, so a crash leaves at most junk in tmp/ (cleared at open). The
 * index is rebuilt by scanning blobs/ at open; a blob found there is
 * re-hashed the first time it is read after a restart, and a mismatch
 * (disk corruption, tampering) deletes it and fetches it again.
 *
 * Reads that miss: concurrent readers of one blob share one fetch
 * (single flight). Small blobs come by BatchReadBlobs and are verified
 * before their first byte is served. Large ones stream by ByteStream
 * into a temporary file; readers are served each range as soon as it has
 * arrived, and the whole blob is verified when the stream ends: a
 * mismatch discards it, fails reads with EIO and is logged. Nothing
 * unverified ever enters blobs/.
 *
 * Thread-safe. Handles pin their blob against eviction until closed. */
#ifndef CAS_STORE_H
#define CAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rev2_client.h"

typedef struct {
    const char *dir;          /* created if missing */
    uint64_t max_bytes;       /* eviction keeps the blobs under this */
    int64_t fetch_timeout_ms; /* a remote read that takes longer fails with EIO (0: none) */
} cas_store_options;

typedef struct cas_store cas_store;
typedef struct cas_blob cas_blob;

typedef struct {
    uint64_t blobs;          /* in the index */
    uint64_t bytes;          /* their total size */
    uint64_t hits;           /* opens served from disk */
    uint64_t misses;         /* opens that needed a fetch */
    uint64_t fetches;        /* remote fetches started (one per missing blob, however many readers) */
    uint64_t fetch_bytes;    /* bytes fetched */
    uint64_t fetch_failures; /* fetches that failed or arrived corrupt */
    uint64_t evictions;
    uint64_t corrupt; /* blobs found on disk not matching their digest */
} cas_store_stats;

/* `remote` may be NULL (no fetching: a miss is ENOENT). The store keeps
 * the pointer; the client must outlive the store. NULL with *err. */
cas_store *cas_store_open(const cas_store_options *o, rev2_client *remote, char **err);
void cas_store_stats_get(cas_store *s, cas_store_stats *out);
/* The client the store fetches through (NULL if none). */
rev2_client *cas_store_remote(cas_store *s);
/* Waits for fetches in flight, then frees the index (the disk stays). */
void cas_store_close(cas_store *s);

/* ---- Writing ---- */
/* Stores bytes under their digest; -EINVAL if they do not match it. 0 if
 * stored (or already present). */
int cas_store_put(cas_store *s, const rev2_digest *d, const void *data, size_t len);
/* Copies a local file in, returning its digest. 0 or -errno. */
int cas_store_put_file(cas_store *s, const char *path, rev2_digest *out);
bool cas_store_contains(cas_store *s, const rev2_digest *d);
/* Finds a stored blob by hash alone (any size): for callers that know
 * only a hash, such as goma keys after a restart. */
bool cas_store_find_hash(cas_store *s, const char *hash, rev2_digest *out);

/* ---- Reading ---- */
/* Opens a blob for reading, starting a fetch from `instance` (NULL: the
 * client's default) if it is not on disk. Never blocks on the network.
 * NULL with -errno in *error: ENOENT (not on disk and no remote). */
cas_blob *cas_store_open_blob(cas_store *s, const char *instance, const rev2_digest *d, int *error);
/* Reads up to len bytes at off, waiting for a fetch to bring them. Returns
 * the count (0 at the end), or -EIO when the fetch failed, timed out or
 * the blob is corrupt. */
ssize_t cas_blob_pread(cas_blob *b, void *buf, size_t len, off_t off);
/* Waits for [off, off + *len) (clamped to the blob's end in *len) and
 * returns a file descriptor holding those bytes at their own offsets,
 * for splice(2); valid while the handle is open. -EIO like pread. */
int cas_blob_ready_fd(cas_blob *b, off_t off, size_t *len);
/* Waits until the whole blob is on disk and verified; 0 or -EIO. */
int cas_blob_wait(cas_blob *b);
/* The verified file's path, once cas_blob_wait returned 0 (for splice or
 * handing to other code); valid while the handle is open. */
const char *cas_blob_path(cas_blob *b);
const rev2_digest *cas_blob_digest(const cas_blob *b);
void cas_blob_close(cas_blob *b);

/* A whole blob into memory (small blobs: protos, Trees). 0 or -errno. */
int cas_store_read_all(cas_store *s, const char *instance, const rev2_digest *d, uint8_t **data);

#endif
