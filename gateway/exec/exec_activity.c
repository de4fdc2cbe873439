#include "exec_activity.h"

#include <stdatomic.h>
#include <string.h>

#include "log.h"

void exec_activity_init(exec_activity *a, int64_t now_ms)
{
    atomic_init(&a->hits, 0);
    atomic_init(&a->executed, 0);
    atomic_init(&a->missing, 0);
    atomic_init(&a->failed, 0);
    atomic_init(&a->bad, 0);
    atomic_init(&a->since_ms, now_ms);
}

/* Takes the counts (each is zeroed as it is read: an answer counted
 * meanwhile lands in this line or the next, never in both). */
static void log_counts(exec_activity *a, int64_t since_ms, int64_t now_ms)
{
    uint64_t hits = atomic_exchange_explicit(&a->hits, 0, memory_order_relaxed);
    uint64_t executed = atomic_exchange_explicit(&a->executed, 0, memory_order_relaxed);
    uint64_t missing = atomic_exchange_explicit(&a->missing, 0, memory_order_relaxed);
    uint64_t failed = atomic_exchange_explicit(&a->failed, 0, memory_order_relaxed);
    uint64_t bad = atomic_exchange_explicit(&a->bad, 0, memory_order_relaxed);
    uint64_t all = hits + executed + missing + failed + bad;
    if (all == 0)
        return;
    GMB_INFO("exec",
             "last %.0f s: %llu answers: %llu action-cache hits, %llu executed, %llu missing-input rounds, %llu "
             "failed, %llu bad requests",
             (double)(now_ms - since_ms) / 1000.0, (unsigned long long)all, (unsigned long long)hits,
             (unsigned long long)executed, (unsigned long long)missing, (unsigned long long)failed,
             (unsigned long long)bad);
}

void exec_activity_note(exec_activity *a, const char *state, bool cache_hit, int64_t now_ms)
{
    _Atomic uint64_t *counter = strcmp(state, "done") == 0      ? (cache_hit ? &a->hits : &a->executed)
                                : strcmp(state, "missing") == 0 ? &a->missing
                                : strcmp(state, "failed") == 0  ? &a->failed
                                : strcmp(state, "bad") == 0     ? &a->bad
                                                                : NULL;
    if (!counter)
        return;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    int64_t since = atomic_load_explicit(&a->since_ms, memory_order_relaxed);
    /* One of the answers that find the period over writes the line. */
    if (now_ms - since >= EXEC_ACTIVITY_PERIOD_MS &&
        atomic_compare_exchange_strong_explicit(&a->since_ms, &since, now_ms, memory_order_relaxed,
                                                memory_order_relaxed))
        log_counts(a, since, now_ms);
}

void exec_activity_flush(exec_activity *a, int64_t now_ms)
{
    int64_t since = atomic_exchange_explicit(&a->since_ms, now_ms, memory_order_relaxed);
    log_counts(a, since, now_ms);
}
