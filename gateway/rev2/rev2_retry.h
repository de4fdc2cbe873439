/* rev2_retry: the back-off and retry decision every call type shares. */
#ifndef REV2_RETRY_H
#define REV2_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "rev2_client.h"

/* The pause before retry number `attempt` (1 = first retry): exponential
 * from initial_ms, capped at max_ms, with "equal jitter" (between half and
 * all of it) so clients that failed together do not retry together. */
int64_t rev2_backoff_ms(int attempt, int64_t initial_ms, int64_t max_ms);

/* The retry decision every call type shares. When `err` may be retried
 * (`retryable`) and attempts remain, it logs "<what> failed (CODE: msg);
 * <next_step> in N ms", frees err, counts the retry, advances *attempt and
 * runs fn(arg, cancelled) after the back-off (at once when no_pause), then
 * returns true. Otherwise it returns false and leaves err to the caller. */
bool rev2_retry_later(rev2_client *c, rev2_error *err, bool retryable, bool no_pause, int *attempt, const char *what,
                      const char *next_step, void (*fn)(void *arg, bool cancelled), void *arg);

#endif
