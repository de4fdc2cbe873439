/* cas_index: the in-memory index of cas_store: which blobs exist, in what
 * state, in least-recently-used order, what they pin, and how many bytes
 * they hold, as content and as disk blocks.
 * Not thread-safe by itself: cas_store holds its lock around every call. */
#ifndef CAS_INDEX_H
#define CAS_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "rev2_digest.h"

struct cas_flight;

typedef enum {
    CAS_PRESENT,  /* verified file in blobs/ */
    CAS_FETCHING, /* a flight is bringing it; not counted in bytes yet */
} cas_entry_state;

typedef struct cas_entry {
    rev2_digest digest;
    uint64_t hash; /* of the digest, for the table */
    cas_entry_state state;
    bool verified;                   /* bytes checked since this process started */
    int pins;                        /* open handles; pinned entries are never evicted */
    int timed_pins;                  /* live cas_pin sets naming it (cas_pin.c) */
    int64_t pinned_until_ms;         /* while timed_pins > 0: they hold until then */
    uint64_t id;                     /* unique in this index: a pin finds its own entry, not a later twin */
    uint64_t disk;                   /* disk space it takes (cas_index_disk_of its size) */
    int64_t mtime_set_ms;            /* when this process last set its file's mtime (cas_blob.c) */
    struct cas_flight *flight;       /* while CAS_FETCHING */
    struct cas_entry *chain;         /* next in the hash bucket */
    struct cas_entry *newer, *older; /* LRU list, CAS_PRESENT only */
} cas_entry;

typedef struct {
    cas_entry **buckets;
    uint64_t n_buckets; /* a power of two */
    uint64_t count;
    uint64_t bytes;      /* sum of CAS_PRESENT sizes (content) */
    uint64_t disk_bytes; /* sum of their disk space (blocks): what max_bytes bounds */
    uint64_t block;      /* the file system's block size (4096 until told) */
    uint64_t max_disk;   /* an entry taking more can never fit: it goes oldest, evicted first */
    uint64_t next_id;
    cas_entry *newest, *oldest;
} cas_index;

void cas_index_init(cas_index *ix);
/* Disk space a blob of `size` bytes takes: rounded up to the block, at
 * least one block (a small file still costs a block, and an inode). */
uint64_t cas_index_disk_of(const cas_index *ix, int64_t size);
void cas_index_free(cas_index *ix); /* frees entries too */

cas_entry *cas_index_find(cas_index *ix, const rev2_digest *d);
/* Adds a new entry (the digest must not be present). */
cas_entry *cas_index_add(cas_index *ix, const rev2_digest *d, cas_entry_state state);
/* Unlinks and frees an entry. */
void cas_index_remove(cas_index *ix, cas_entry *e);

/* CAS_FETCHING -> CAS_PRESENT: counted, and made the newest (the oldest
 * if it is larger than max_disk: it goes first, nothing else for it). */
void cas_index_mark_present(cas_index *ix, cas_entry *e);
/* A read: the entry becomes the newest. */
void cas_index_touch(cas_index *ix, cas_entry *e);
/* True if eviction must skip it at `now_ms`: an open handle, or a timed
 * pin not yet expired (unless break_timed: the disk is full). */
bool cas_index_is_pinned(const cas_entry *e, int64_t now_ms, bool break_timed);
/* The oldest present entry not pinned at `now_ms`, or NULL. */
cas_entry *cas_index_eviction_candidate(cas_index *ix, int64_t now_ms, bool break_timed);

#endif
