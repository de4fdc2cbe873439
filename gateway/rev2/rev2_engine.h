/* rev2_engine: the threads that drive every gRPC call.
 *
 * One gRPC completion queue, polled by a small fixed number of threads,
 * plus one timer thread for retry back-off. Asynchronous work completes
 * by callback on these threads, so a thousand calls in flight need no
 * thread each. Callbacks must not block: they start more work and return.
 *
 * Every tag placed on the queue is a rev2_tag whose `fn` is run with the
 * event's success flag. */
#ifndef REV2_ENGINE_H
#define REV2_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

struct grpc_completion_queue;

typedef struct rev2_engine rev2_engine;

typedef struct rev2_tag {
    void (*fn)(void *arg, bool ok); /* run on a completion thread */
    void *arg;
} rev2_tag;

/* Starts `threads` completion threads (at least 1) and the timer thread.
 * Calls grpc_init(); rev2_engine_free() calls grpc_shutdown(). */
rev2_engine *rev2_engine_new(int threads);
struct grpc_completion_queue *rev2_engine_cq(rev2_engine *e);

/* Runs fn(arg) on the timer thread after `delay_ms`. The callback must be
 * quick (typically: start a call). Pending timers run at shutdown with
 * `cancelled` true so their owners can clean up. */
void rev2_engine_after(rev2_engine *e, int64_t delay_ms, void (*fn)(void *arg, bool cancelled), void *arg);

/* Calls in flight register here so shutdown can cancel them and wait for
 * them to end. The node is embedded in the call's own struct. */
typedef struct rev2_live_call {
    void (*cancel)(void *arg); /* asks the call to end soon (grpc_call_cancel) */
    /* NULL, or asked every REV2_ENGINE_SWEEP_MS on the timer thread with
     * the engine's lock held (quick; no call into the engine): true ends
     * the call now (cancel). */
    bool (*give_up)(void *arg);
    void *arg;
    struct rev2_live_call *prev, *next;
} rev2_live_call;
#define REV2_ENGINE_SWEEP_MS 250
/* Returns false when the engine is shutting down: do not start the call. */
bool rev2_engine_call_started(rev2_engine *e, rev2_live_call *node);
void rev2_engine_call_finished(rev2_engine *e, rev2_live_call *node);
/* No more give_up questions for this call (before its owner may be freed:
 * once this returns, no sweep is asking). */
void rev2_engine_call_unwatch(rev2_engine *e, rev2_live_call *node);
int rev2_engine_calls_in_flight(rev2_engine *e);
bool rev2_engine_is_stopping(rev2_engine *e);

/* Stops accepting calls, fires pending timers as cancelled, cancels calls
 * in flight and waits until all of them have finished. Idempotent. */
void rev2_engine_shutdown(rev2_engine *e);
/* Shuts down (if not yet), stops the threads, destroys the queue.
 * Destroy channels between rev2_engine_shutdown and this. */
void rev2_engine_free(rev2_engine *e);

/* Milliseconds (microseconds) on the monotonic clock. */
int64_t rev2_now_ms(void);
int64_t rev2_now_us(void);

#endif
