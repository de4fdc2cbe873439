#include "cas_index.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static uint64_t digest_hash(const rev2_digest *d)
{
    return XXH3_64bits_withSeed(d->hash, REV2_HASH_HEX_LEN, (uint64_t)d->size);
}

void cas_index_init(cas_index *ix)
{
    memset(ix, 0, sizeof *ix);
    ix->n_buckets = 1024;
    ix->buckets = gmb_calloc(ix->n_buckets, sizeof *ix->buckets);
    ix->block = 4096;
    ix->max_disk = UINT64_MAX;
}

uint64_t cas_index_disk_of(const cas_index *ix, int64_t size)
{
    uint64_t n = size > 0 ? (uint64_t)size : 0;
    uint64_t blocks = n / ix->block + (n % ix->block != 0);
    return (blocks ? blocks : 1) * ix->block;
}

void cas_index_free(cas_index *ix)
{
    for (uint64_t i = 0; i < ix->n_buckets; i++) {
        cas_entry *e = ix->buckets[i];
        while (e) {
            cas_entry *next = e->chain;
            free(e);
            e = next;
        }
    }
    free(ix->buckets);
    memset(ix, 0, sizeof *ix);
}

cas_entry *cas_index_find(cas_index *ix, const rev2_digest *d)
{
    uint64_t h = digest_hash(d);
    for (cas_entry *e = ix->buckets[h & (ix->n_buckets - 1)]; e; e = e->chain)
        if (e->hash == h && rev2_digest_equal(&e->digest, d))
            return e;
    return NULL;
}

static void grow(cas_index *ix)
{
    uint64_t n = ix->n_buckets * 2;
    cas_entry **b = gmb_calloc(n, sizeof *b);
    for (uint64_t i = 0; i < ix->n_buckets; i++) {
        cas_entry *e = ix->buckets[i];
        while (e) {
            cas_entry *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(ix->buckets);
    ix->buckets = b;
    ix->n_buckets = n;
}

static void lru_unlink(cas_index *ix, cas_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else if (ix->newest == e)
        ix->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else if (ix->oldest == e)
        ix->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_oldest(cas_index *ix, cas_entry *e)
{
    e->newer = ix->oldest;
    e->older = NULL;
    if (ix->oldest)
        ix->oldest->older = e;
    ix->oldest = e;
    if (!ix->newest)
        ix->newest = e;
}

static void lru_push_newest(cas_index *ix, cas_entry *e)
{
    e->older = ix->newest;
    e->newer = NULL;
    if (ix->newest)
        ix->newest->newer = e;
    ix->newest = e;
    if (!ix->oldest)
        ix->oldest = e;
}

cas_entry *cas_index_add(cas_index *ix, const rev2_digest *d, cas_entry_state state)
{
    if (ix->count >= ix->n_buckets)
        grow(ix);
    cas_entry *e = gmb_calloc(1, sizeof *e);
    e->digest = *d;
    e->hash = digest_hash(d);
    e->state = CAS_FETCHING;
    e->id = ++ix->next_id;
    e->disk = cas_index_disk_of(ix, d->size);
    uint64_t slot = e->hash & (ix->n_buckets - 1);
    e->chain = ix->buckets[slot];
    ix->buckets[slot] = e;
    ix->count++;
    if (state == CAS_PRESENT)
        cas_index_mark_present(ix, e);
    return e;
}

void cas_index_remove(cas_index *ix, cas_entry *e)
{
    if (e->state == CAS_PRESENT) {
        lru_unlink(ix, e);
        ix->bytes -= (uint64_t)e->digest.size;
        ix->disk_bytes -= e->disk;
    }
    cas_entry **p = &ix->buckets[e->hash & (ix->n_buckets - 1)];
    while (*p && *p != e)
        p = &(*p)->chain;
    if (*p)
        *p = e->chain;
    ix->count--;
    free(e);
}

void cas_index_mark_present(cas_index *ix, cas_entry *e)
{
    if (e->state == CAS_PRESENT)
        return;
    e->state = CAS_PRESENT;
    e->flight = NULL;
    ix->bytes += (uint64_t)e->digest.size;
    ix->disk_bytes += e->disk;
    if (e->disk > ix->max_disk)
        lru_push_oldest(ix, e);
    else
        lru_push_newest(ix, e);
}

void cas_index_touch(cas_index *ix, cas_entry *e)
{
    if (e->state != CAS_PRESENT || ix->newest == e || e->disk > ix->max_disk)
        return;
    lru_unlink(ix, e);
    lru_push_newest(ix, e);
}

bool cas_index_is_pinned(const cas_entry *e, int64_t now_ms, bool break_timed)
{
    return e->pins > 0 || (!break_timed && e->timed_pins > 0 && now_ms < e->pinned_until_ms);
}

cas_entry *cas_index_eviction_candidate(cas_index *ix, int64_t now_ms, bool break_timed)
{
    for (cas_entry *e = ix->oldest; e; e = e->newer)
        if (!cas_index_is_pinned(e, now_ms, break_timed))
            return e;
    return NULL;
}
