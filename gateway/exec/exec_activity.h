/* exec_activity: one log line a minute that says what Exec did.
 *
 * A build sends thousands of Execs a minute, most of them action-cache
 * hits: a line each would bury the log (and cost the hit path a write),
 * so a hit is logged at debug level only, and this module counts every
 * answer and, at most once per EXEC_ACTIVITY_PERIOD_MS, logs the counts
 * since its last line at info level. No thread of its own: the answer that
 * finds the period over writes the line (one of them, by compare-and-swap),
 * and exec_activity_flush writes what is left at shutdown. A quiet gateway
 * therefore writes nothing. */
#ifndef EXEC_ACTIVITY_H
#define EXEC_ACTIVITY_H

#include <stdbool.h>
#include <stdint.h>

#define EXEC_ACTIVITY_PERIOD_MS (60 * 1000)

typedef struct {
    _Atomic uint64_t hits, executed, missing, failed, bad;
    _Atomic int64_t since_ms; /* when the counts began */
} exec_activity;

void exec_activity_init(exec_activity *a, int64_t now_ms);
/* One answer: state "done" (a hit when cache_hit), "missing", "failed" or
 * "bad"; other states are not answers and are ignored. */
void exec_activity_note(exec_activity *a, const char *state, bool cache_hit, int64_t now_ms);
/* Logs the counts since the last line, if any. */
void exec_activity_flush(exec_activity *a, int64_t now_ms);

#endif
