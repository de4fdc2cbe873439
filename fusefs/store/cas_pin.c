/* cas_pin: sets of blobs pinned against eviction for a while. A set
 * remembers each entry's id, not a pointer: an entry evicted after its
 * pin expired may be freed, or replaced by a twin that others pin. */
#include <stdlib.h>

#include "cas_internal.h"
#include "mem.h"

typedef struct {
    rev2_digest digest;
    uint64_t id;
} pinned_entry;

struct cas_pin {
    cas_store *store;
    size_t n;
    pinned_entry items[];
};

cas_pin *cas_store_pin(cas_store *s, const rev2_digest *d, size_t n, int64_t timeout_ms, size_t *missing)
{
    cas_pin *p = gmb_malloc(sizeof *p + n * sizeof p->items[0]);
    p->store = s;
    p->n = 0;
    if (timeout_ms <= 0)
        timeout_ms = s->opts.pin_timeout_ms;
    int64_t until = rev2_now_ms() + timeout_ms;
    size_t absent = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        cas_entry *e = cas_index_find(&s->index, &d[i]);
        if (!e || e->state != CAS_PRESENT) {
            absent++;
            continue;
        }
        if (e->timed_pins == 0 || until > e->pinned_until_ms)
            e->pinned_until_ms = until;
        e->timed_pins++;
        p->items[p->n++] = (pinned_entry){d[i], e->id};
    }
    s->stats.timed_pins++;
    pthread_mutex_unlock(&s->lock);
    if (missing)
        *missing = absent;
    return p;
}

cas_pin *cas_store_pin_arriving(cas_store *s, const rev2_digest *d, size_t n, int64_t timeout_ms, size_t *missing)
{
    size_t absent = 0;
    cas_pin *p = cas_store_pin(s, d, n, timeout_ms, &absent);
    if (absent == 0) {
        if (missing)
            *missing = 0;
        return p;
    }
    /* Waits for those arriving (a fetch that ended since the pin counts
     * too: the second pin finds it), then pins the whole set again before
     * the first set goes, so no blob is left unpinned in between. */
    for (size_t i = 0; i < n; i++)
        cas_store_await(s, &d[i]);
    cas_pin *again = cas_store_pin(s, d, n, timeout_ms, missing);
    cas_pin_release(p);
    return again;
}

void cas_pin_release(cas_pin *p)
{
    if (!p)
        return;
    cas_store *s = p->store;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < p->n; i++) {
        cas_entry *e = cas_index_find(&s->index, &p->items[i].digest);
        if (e && e->id == p->items[i].id && e->timed_pins > 0)
            e->timed_pins--;
    }
    s->stats.timed_pins--;
    cas_evict_locked(s); /* the pins may have been all that kept the store over its limit */
    pthread_mutex_unlock(&s->lock);
    free(p);
}

size_t cas_pin_count(const cas_pin *p)
{
    return p ? p->n : 0;
}
