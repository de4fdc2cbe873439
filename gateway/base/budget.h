/* budget: one cap on the blob bytes the gateway holds in memory at once
 * (upload buffers, outputs read back for an answer), shared by every
 * request in flight. A request that does not fit waits, first come first
 * served, instead of growing the heap: back-pressure.
 *
 * A request for more than the whole cap waits until nothing else is held
 * and then counts as the whole cap. Thread-safe. */
#ifndef GMB_BUDGET_H
#define GMB_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gmb_budget gmb_budget;

/* max_bytes 0: no cap (every take succeeds at once; figures still kept). */
gmb_budget *gmb_budget_new(uint64_t max_bytes);
void gmb_budget_free(gmb_budget *b);

/* Blocks until n bytes fit or timeout_ms passes; false on timeout. */
bool gmb_budget_take(gmb_budget *b, uint64_t n, int64_t timeout_ms);
/* For callers that must not block (completion threads): true if granted
 * now; otherwise false, and granted(arg) runs once the bytes are granted,
 * on the thread that gave bytes back. */
bool gmb_budget_take_or_queue(gmb_budget *b, uint64_t n, void (*granted)(void *arg), void *arg);
/* Gives back what a take of n was granted. */
void gmb_budget_give(gmb_budget *b, uint64_t n);

typedef struct {
    uint64_t max;     /* the cap; 0: none */
    uint64_t in_use;  /* bytes granted and not given back */
    uint64_t peak;    /* most in_use ever */
    uint64_t waits;   /* takes that had to wait */
    uint64_t waiting; /* takes waiting now */
} gmb_budget_stats;
void gmb_budget_stats_get(gmb_budget *b, gmb_budget_stats *out);

#endif
