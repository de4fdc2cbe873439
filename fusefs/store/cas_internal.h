/* cas_internal: what the store's files share: cas_store.c (open, scan,
 * stats), cas_write.c (puts, writers, install), cas_space.c (eviction,
 * free disk space), cas_pin.c, cas_fetch.c and cas_blob.c. */
#ifndef CAS_INTERNAL_H
#define CAS_INTERNAL_H

#include <pthread.h>

#include "cas_index.h"
#include "cas_store.h"

/* One remote fetch of one blob, shared by every reader of it. */
typedef struct cas_flight {
    cas_store *store;
    rev2_digest digest;
    char *instance;
    char *tmp_path; /* the file being filled, in tmp/ */
    int fd;         /* read-write on tmp_path; readers pread it */
    int open_error; /* errno of the open that failed (fd < 0) */
    /* Progress, under `lock` (not the store's: readers waiting here must
     * not slow down everything else). Lock order: store, then flight. */
    pthread_mutex_t lock;
    uint64_t available;             /* bytes [0, available) are written */
    uint64_t next_wake;             /* the smallest end a waiting reader needs */
    bool done;                      /* finished: verified and in blobs/, or failed */
    int error;                      /* 0 or -EIO once done */
    pthread_cond_t progress;        /* signalled once `next_wake` bytes have arrived, and at the end */
    int refs;                       /* the fetch itself + open handles; under the store lock */
    rev2_hasher *hasher;            /* ByteStream fetches: the verifier thread hashes what arrived */
    uint64_t hashed;                /* bytes fed to the hasher (verifier thread only) */
    const uint8_t *map;             /* read-only mapping of the whole file, for hashing in place */
    bool stream_ended;              /* the ByteStream call is over (under verify_lock) */
    char *stream_error;             /* why it failed, or NULL */
    struct cas_flight *verify_next; /* in the store's verify list */
    int64_t started_ms;
} cas_flight;

struct cas_store {
    cas_store_options opts;
    char *dir, *blobs_dir, *tmp_dir;
    int lock_fd; /* holds cache.dir/lock (cas_lock.c) */
    rev2_client *remote;
    pthread_mutex_t lock; /* guards index, flights, stats */
    pthread_cond_t idle;  /* signalled when flights_running drops */
    cas_index index;
    int flights_running;
    cas_store_stats stats;
    uint64_t tmp_counter;
    uint64_t min_free;       /* the low-water mark in force (bytes; 0: none) */
    int64_t space_warned_ms; /* when the low-water warning was last logged */
    int64_t space_read_ms;   /* when statvfs was last read (cas_make_room_locked) */
    bool space_short;        /* then: below the low-water mark even after evicting */

    /* The verifier thread hashes streamed blobs as they land, so the gRPC
     * thread only writes them and goes back for more. */
    pthread_t verifier;
    pthread_mutex_t verify_lock; /* guards verify_list, stream_ended/error, verifier_stop */
    pthread_cond_t verify_cond;
    cas_flight *verify_list;
    bool verifier_stop;
};

/* Takes cache.dir's lock (cas_lock.c) for as long as the returned fd is
 * open; -1 with *err ("in use by another gomabarn (pid N)") if another
 * process holds it. */
int cas_dir_lock(const char *dir, char **err);

/* "<blobs_dir>/ab/<hash>-<size>" (malloc'd). */
char *cas_blob_file(const cas_store *s, const rev2_digest *d);
/* A fresh path in tmp/ (malloc'd). */
char *cas_tmp_file(cas_store *s);
/* With the lock held: evicts (unpinned, oldest first) until the blobs'
 * disk space fits under max_bytes and the file system has min_free_bytes
 * free. */
void cas_evict_locked(cas_store *s);
/* With the lock held: makes room for `want` more bytes on disk: evicts
 * until the file system has min_free_bytes + want free. With disk_full
 * (a write just failed with ENOSPC/EDQUOT, which statvfs may not show:
 * quotas), evicts at least `want` whatever statvfs says, and timed pins
 * give way if nothing else is left. Returns the bytes evicted. */
uint64_t cas_make_room_locked(cas_store *s, uint64_t want, bool disk_full);
/* Sets the index's block size and the low-water mark from the file
 * system of s->dir (at open). */
void cas_space_init(cas_store *s);
/* For a write that failed with rc: true if it is worth trying again
 * (ENOSPC/EDQUOT, tries left, and eviction freed something). Takes the
 * lock; counts retries and failures. */
bool cas_retry_after_full(cas_store *s, int rc, uint64_t want, int *tries);
/* Writes all of [p, p+n) at `off`, retrying short writes. 0 or -errno. */
int cas_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* Hashes a file and compares; true if it matches. */
bool cas_file_matches(const char *path, const rev2_digest *d);

/* With the lock held: creates the flight of an entry in state
 * CAS_FETCHING, after making room on disk for the whole blob; the flight
 * holds one ref for the fetch itself. Its writes, like local ones, evict
 * and try again when they meet a full disk. */
cas_flight *cas_fetch_start_locked(cas_store *s, cas_entry *e, const char *instance);
/* Without the lock: issues the remote calls. Separate because a call
 * refused at once (shutdown) completes inside this, taking the lock. */
void cas_fetch_run(cas_flight *f);
/* Drops a ref; the last one frees the flight (lock held). */
void cas_flight_unref_locked(cas_flight *f);
/* The verifier thread's body (started by cas_store_open). */
void *cas_verifier_main(void *store);

#endif
