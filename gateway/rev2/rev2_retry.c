#include "rev2_retry.h"

#include <openssl/rand.h>

#include "log.h"
#include "rev2_client_internal.h"

int64_t rev2_backoff_ms(int attempt, int64_t initial_ms, int64_t max_ms)
{
    if (attempt < 1)
        attempt = 1;
    int64_t full = initial_ms;
    for (int i = 1; i < attempt && full < max_ms; i++)
        full *= 2;
    if (full > max_ms)
        full = max_ms;
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    int64_t half = full / 2;
    return half + (half > 0 ? (int64_t)(r % (uint64_t)(full - half + 1)) : 0);
}

bool rev2_retry_later(rev2_client *c, rev2_error *err, bool retryable, bool no_pause, int *attempt, const char *what,
                      const char *next_step, void (*fn)(void *, bool), void *arg)
{
    const rev2_client_options *o = rev2_client_options_of(c);
    if (!err || !retryable || *attempt >= o->max_attempts)
        return false;
    int64_t pause = no_pause ? 0 : rev2_backoff_ms(*attempt, o->initial_backoff_ms, o->max_backoff_ms);
    GMB_WARN("rev2", "%s failed (%s: %s); %s in %lld ms (attempt %d of %d)", what, rev2_code_name(err->code),
             err->message, next_step, (long long)pause, *attempt + 1, o->max_attempts);
    rev2_error_free(err);
    (*attempt)++;
    REV2_STAT_ADD(c, retries, 1);
    rev2_engine_after(rev2_client_engine(c), pause, fn, arg);
    return true;
}
