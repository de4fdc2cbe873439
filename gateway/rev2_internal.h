/* rev2_internal: what the rev2_*.c files share and nobody else needs. */
#ifndef REV2_INTERNAL_H
#define REV2_INTERNAL_H

#include <stddef.h>

#include "rev2_client.h"
#include "rev2_rpc.h"

#define REV2_METHOD_CAS "/build.bazel.remote.execution.v2.ContentAddressableStorage/"
#define REV2_METHOD_AC "/build.bazel.remote.execution.v2.ActionCache/"
#define REV2_METHOD_EXEC "/build.bazel.remote.execution.v2.Execution/"
#define REV2_METHOD_CAPS "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities"
#define REV2_METHOD_BS "/google.bytestream.ByteStream/"

rev2_channel *rev2_client_channel(rev2_client *c);
rev2_engine *rev2_client_engine(rev2_client *c);
/* The instance name an operation uses: `instance`, or the default. */
const char *rev2_client_instance(const rev2_client *c, const char *instance);

void rev2_stat_add(rev2_client *c, size_t field_offset, uint64_t n);
#define REV2_STAT_ADD(c, field, n) rev2_stat_add((c), offsetof(rev2_client_stats, field), (n))

/* The pause before retry number `attempt` (1 = first retry): exponential
 * from initial_ms, capped at max_ms, with "equal jitter" (between half and
 * all of it) so clients that failed together do not retry together. */
int64_t rev2_backoff_ms(int attempt, int64_t initial_ms, int64_t max_ms);

/* The retry decision every call type shares. When `err` may be retried
 * (`retryable`) and attempts remain, it logs "<what> failed (CODE: msg);
 * <next_step> in N ms", frees err, counts the retry, advances *attempt and
 * runs fn(arg, cancelled) after the back-off (at once when no_pause), then
 * returns true. Otherwise it returns false and leaves err to the caller. */
bool rev2_retry_later(rev2_client *c, rev2_error *err, bool retryable, bool no_pause, int *attempt,
                      const char *what, const char *next_step, void (*fn)(void *arg, bool cancelled),
                      void *arg);

/* A unary call with retries. `request` is owned by the call (freed at the
 * end). The response bytes are valid during the callback only. */
typedef void (*rev2_unary_cb)(void *user, rev2_error *err, const uint8_t *resp, size_t len);
void rev2_unary(rev2_client *c, const char *method, uint8_t *request, size_t request_len,
                rev2_unary_cb cb, void *user);

#endif
