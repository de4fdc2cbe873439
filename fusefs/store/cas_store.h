/* cas_store: gomabarn's one local content store.
 *
 * Blobs by REv2 digest in a directory on disk, bounded in disk space
 * (blocks, not content bytes: 100,000 blobs of 100 bytes take 400 MB),
 * evicted least recently used first. The goma file service puts client uploads
 * here; the FUSE view and the exec pipeline read from here; a blob that is
 * not here is fetched from Buildbarn's CAS on first read. Knows nothing
 * about goma.
 *
 * On disk:  <dir>/blobs/<first two hex digits>/<hash>-<size>   complete, verified
 *           <dir>/tmp/                                       writes in progress
 *           <dir>/lock      held (flock) by the one process using <dir>
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
 * Space. Eviction keeps the blobs' disk space under max_bytes and, on the
 * directory's file system, min_free_bytes free (checked with statvfs
 * after each new blob and before each fetch). A write that fails with
 * ENOSPC or EDQUOT evicts and tries again (a few times) before it fails.
 * A blob that could never fit (larger than max_bytes) is refused at put
 * time with -EFBIG, instead of evicting everything else for it.
 *
 * Pins. Eviction skips a pinned blob: an open handle pins its blob until
 * closed; a cas_pin pins a set of blobs until released or until its
 * timeout passes (so a client that never comes back cannot pin forever).
 * Pins may hold the store over max_bytes for that long; they do not hold
 * against a disk that is actually full: there, timed pins give way too.
 *
 * Errors are -errno (docs/hacking.md, shape (c)), and say whose fault:
 * cas_error_is_client. Thread-safe. */
#ifndef CAS_STORE_H
#define CAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rev2_client.h"

/* min_free_bytes: the smaller of 1 GiB and 5% of the file system. */
#define CAS_MIN_FREE_AUTO (-1)
#define CAS_MIN_FREE_AUTO_CAP ((int64_t)1 << 30)
/* pin_timeout_ms when 0. */
#define CAS_PIN_TIMEOUT_DEFAULT_MS (10 * 60 * 1000)

typedef struct {
    const char *dir;          /* created if missing */
    uint64_t max_bytes;       /* eviction keeps the blobs' disk space (blocks) under this */
    int64_t fetch_timeout_ms; /* a remote read that takes longer fails with EIO (0: none) */
    int64_t min_free_bytes;   /* free space eviction keeps on dir's file system; 0: none; CAS_MIN_FREE_AUTO */
    int64_t pin_timeout_ms;   /* longest a cas_pin holds (0: CAS_PIN_TIMEOUT_DEFAULT_MS) */
} cas_store_options;

typedef struct cas_store cas_store;
typedef struct cas_blob cas_blob;
typedef struct cas_pin cas_pin;
typedef struct cas_writer cas_writer;

typedef struct {
    uint64_t blobs;           /* in the index */
    uint64_t bytes;           /* content bytes: the sum of their sizes */
    uint64_t disk_bytes;      /* disk space they take (sizes rounded up to blocks): what max_bytes bounds */
    uint64_t max_bytes;       /* the limit on disk_bytes */
    uint64_t min_free_bytes;  /* the low-water mark of free disk space in force (0: none) */
    uint64_t timed_pins;      /* cas_pin sets not yet released (some may have expired) */
    uint64_t hits;            /* opens served from disk */
    uint64_t misses;          /* opens that needed a fetch */
    uint64_t fetches;         /* remote fetches started (one per missing blob, however many readers) */
    uint64_t fetch_bytes;     /* bytes fetched */
    uint64_t fetch_failures;  /* fetches that failed or arrived corrupt */
    uint64_t evictions;       /* all of them, including: */
    uint64_t space_evictions; /* for free disk space: the low-water mark, ENOSPC, EDQUOT */
    uint64_t pins_broken;     /* timed-pinned blobs evicted because the disk was full */
    uint64_t write_retries;   /* writes tried again after ENOSPC/EDQUOT and eviction */
    uint64_t write_failures;  /* writes that failed anyway (disk full with nothing to evict, I/O) */
    uint64_t too_large;       /* puts refused with -EFBIG: larger than max_bytes */
    uint64_t corrupt;         /* blobs found on disk not matching their digest */
} cas_store_stats;

/* `remote` may be NULL (no fetching: a miss is ENOENT). The store keeps
 * the pointer; the client must outlive the store. NULL with *err, also
 * when another store (this process or another) has the directory open:
 * "cache.dir X is in use by another gomabarn (pid N); ...". */
cas_store *cas_store_open(const cas_store_options *o, rev2_client *remote, char **err);
/* That message if a store has `dir` open now, else NULL (malloc'd). */
char *cas_store_dir_in_use(const char *dir);
void cas_store_stats_get(cas_store *s, cas_store_stats *out);
/* The client the store fetches through (NULL if none). */
rev2_client *cas_store_remote(cas_store *s);
/* Waits for fetches in flight, then frees the index (the disk stays). */
void cas_store_close(cas_store *s);
/* What is wrong with these options for real work, in plain words, one
 * warning per line (malloc'd), or NULL: max_bytes under 1 GiB (a
 * compiler toolchain does not fit), the file system smaller than
 * max_bytes plus min_free_bytes. For `gomabarn serve`'s log and `check`. */
char *cas_store_options_warnings(const cas_store_options *o);

/* ---- Errors ---- */
/* The store's errors are -errno. Whose fault is it?
 *   -EINVAL  the bytes do not match their digest: the client's (a corrupt
 *            or lying request); answer it as a bad request
 *   -ENOENT  not in the store (and no remote): ask the client for it
 *   else     the server's: -ENOSPC/-EDQUOT (disk full even after
 *            evicting), -EFBIG (larger than cache.max_bytes: will not fit
 *            until the configuration changes), -EIO, -EMFILE...; never
 *            the client's fault, so never a BAD_REQUEST answer.
 * cas_error_is_client is true only for -EINVAL. */
bool cas_error_is_client(int error);
/* A short phrase for an error, naming the config key to change where one
 * helps ("no space left on the cache.dir file system, even after
 * evicting"); static. */
const char *cas_error_words(int error);

/* ---- Writing ---- */
/* Stores bytes under their digest. 0 if stored (or already present);
 * -EINVAL if they do not match it, -EFBIG if larger than the store,
 * -ENOSPC/-EDQUOT if the disk stays full after evicting, other -errno. */
int cas_store_put(cas_store *s, const rev2_digest *d, const void *data, size_t len);
/* Copies a local file in, returning its digest. 0 or -errno (as above). */
int cas_store_put_file(cas_store *s, const char *path, rev2_digest *out);

/* A blob written piece by piece without holding it in memory (a file
 * assembled from chunks): the bytes go to a file in tmp/ and are hashed
 * as they come; finishing installs it under the digest they hash to.
 * `size` is the length to expect, or -1 if unknown. NULL with -errno in
 * *error: -EFBIG at once if `size` is larger than the store. */
cas_writer *cas_writer_new(cas_store *s, int64_t size, int *error);
/* Appends. 0 or -errno (-EFBIG past `size` or past the store's size,
 * -ENOSPC/-EDQUOT after evicting). After an error only abort is left. */
int cas_writer_write(cas_writer *w, const void *data, size_t len);
/* Checks the length against `size`, installs the blob (its digest in
 * *out) and frees the writer, also on failure. 0 or -errno. */
int cas_writer_finish(cas_writer *w, rev2_digest *out);
/* Discards what was written and frees the writer (NULL is fine). */
void cas_writer_abort(cas_writer *w);

/* ---- Pinning ---- */
/* Pins the present ones of n digests against eviction until
 * cas_pin_release, or until timeout_ms pass (<= 0: the store's
 * pin_timeout_ms), whichever comes first. Digests not in the store are
 * skipped and counted in *missing (if not NULL): the caller knows at once
 * which inputs it must ask for, and those it has stay. Pins on one blob
 * add up; releasing one set leaves the others. Never NULL (all missing
 * still gives a set, to release). Blobs pinned are not evicted for
 * max_bytes nor for min_free_bytes; a write that finds the disk full may
 * evict them (a broken pin costs a re-upload, a full disk fails all).
 * Cheap: one lookup per digest under the store's lock, no I/O. */
cas_pin *cas_store_pin(cas_store *s, const rev2_digest *d, size_t n, int64_t timeout_ms, size_t *missing);
/* cas_store_pin, but a digest that a fetch in flight is bringing (for
 * another request) is waited for before it counts as missing: a blob on
 * its way is not missing. Each wait is bounded by fetch_timeout_ms; no
 * fetch is started. Blocks only when something is arriving. */
cas_pin *cas_store_pin_arriving(cas_store *s, const rev2_digest *d, size_t n, int64_t timeout_ms, size_t *missing);
/* Waits for the fetch in flight of d, if there is one (at most
 * fetch_timeout_ms); never starts one. true if d is then in the store. */
bool cas_store_await(cas_store *s, const rev2_digest *d);
/* Releases a set (NULL is fine); the store may evict at once what no
 * longer holds it over its limit. Safe after the pin expired. */
void cas_pin_release(cas_pin *p);
/* How many of its digests the set pinned (those present when pinned). */
size_t cas_pin_count(const cas_pin *p);
bool cas_store_contains(cas_store *s, const rev2_digest *d);
/* Whether a blob of `size` bytes could fit at all (its disk blocks within
 * max_bytes); one that could not is refused with -EFBIG when written. */
bool cas_store_could_hold(cas_store *s, int64_t size);
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
/* The verified file when the blob was on disk at open, else -1 (still
 * arriving); valid while the handle is open. */
int cas_blob_file_fd(const cas_blob *b);
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
