/* cas_index: the in-memory index of cas_store: which blobs exist, in what
 * state, in least-recently-used order, and how many bytes they hold.
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
    struct cas_flight *flight;       /* while CAS_FETCHING */
    struct cas_entry *chain;         /* next in the hash bucket */
    struct cas_entry *newer, *older; /* LRU list, CAS_PRESENT only */
} cas_entry;

typedef struct {
    cas_entry **buckets;
    uint64_t n_buckets; /* a power of two */
    uint64_t count;
    uint64_t bytes; /* sum of CAS_PRESENT sizes */
    cas_entry *newest, *oldest;
} cas_index;

void cas_index_init(cas_index *ix);
void cas_index_free(cas_index *ix); /* frees entries too */

cas_entry *cas_index_find(cas_index *ix, const rev2_digest *d);
/* Adds a new entry (the digest must not be present). */
cas_entry *cas_index_add(cas_index *ix, const rev2_digest *d, cas_entry_state state);
/* Unlinks and frees an entry. */
void cas_index_remove(cas_index *ix, cas_entry *e);

/* CAS_FETCHING -> CAS_PRESENT: counted, and made the newest. */
void cas_index_mark_present(cas_index *ix, cas_entry *e);
/* A read: the entry becomes the newest. */
void cas_index_touch(cas_index *ix, cas_entry *e);
/* The oldest unpinned present entry, or NULL. */
cas_entry *cas_index_eviction_candidate(cas_index *ix);

#endif
