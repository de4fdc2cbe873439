/* cas_internal: what cas_store.c, cas_fetch.c and cas_blob.c share. */
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
    rev2_client *remote;
    pthread_mutex_t lock; /* guards index, flights, stats */
    pthread_cond_t idle;  /* signalled when flights_running drops */
    cas_index index;
    int flights_running;
    cas_store_stats stats;
    uint64_t tmp_counter;

    /* The verifier thread hashes streamed blobs as they land, so the gRPC
     * thread only writes them and goes back for more. */
    pthread_t verifier;
    pthread_mutex_t verify_lock; /* guards verify_list, stream_ended/error, verifier_stop */
    pthread_cond_t verify_cond;
    cas_flight *verify_list;
    bool verifier_stop;
};

/* "<blobs_dir>/ab/<hash>-<size>" (malloc'd). */
char *cas_blob_file(const cas_store *s, const rev2_digest *d);
/* A fresh path in tmp/ (malloc'd). */
char *cas_tmp_file(cas_store *s);
/* With the lock held: evicts until the bytes fit under max_bytes. */
void cas_evict_locked(cas_store *s);
/* Writes all of [p, p+n) at `off`, retrying short writes. 0 or -errno. */
int cas_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* Hashes a file and compares; true if it matches. */
bool cas_file_matches(const char *path, const rev2_digest *d);

/* With the lock held: creates the flight of an entry in state
 * CAS_FETCHING; the flight holds one ref for the fetch itself. */
cas_flight *cas_fetch_start_locked(cas_store *s, cas_entry *e, const char *instance);
/* Without the lock: issues the remote calls. Separate because a call
 * refused at once (shutdown) completes inside this, taking the lock. */
void cas_fetch_run(cas_flight *f);
/* Drops a ref; the last one frees the flight (lock held). */
void cas_flight_unref_locked(cas_flight *f);
/* The verifier thread's body (started by cas_store_open). */
void *cas_verifier_main(void *store);

#endif
