#include "rev2_engine.h"

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "tsan.h"

typedef struct timer_entry {
    int64_t due_ms;
    void (*fn)(void *arg, bool cancelled);
    void *arg;
    struct timer_entry *next; /* list kept sorted by due_ms */
} timer_entry;

struct rev2_engine {
    grpc_completion_queue *cq;
    pthread_t *threads;
    int n_threads;

    pthread_t timer_thread;
    pthread_mutex_t lock; /* guards timers, stopping, calls_in_flight */
    pthread_cond_t cond;  /* the timer thread's: a new timer, stopping */
    /* Shutdown's: the last call finished. Apart from cond, so that a
     * finished call (thousands a second) does not wake the timer thread. */
    pthread_cond_t calls_done;
    timer_entry *timers;
    bool stopping;   /* no new calls; timers fire at once, cancelled */
    bool timer_done; /* timer thread has exited: run new timers inline */
    bool shut_down;
    int calls_in_flight;
    int calls_watched;     /* live calls with a give_up hook */
    int64_t next_sweep_ms; /* when the timer thread asks them next */
    rev2_live_call live;   /* sentinel of the list of calls in flight */
};

int64_t rev2_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rev2_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *completion_loop(void *arg)
{
    rev2_engine *e = arg;
    pthread_setname_np(pthread_self(), "gmb-grpc-cq"); /* in top -H and the benchmarks' thread lists */
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(e->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        rev2_tag *tag = ev.tag;
        GMB_HANDOFF_ACQUIRE(tag);
        tag->fn(tag->arg, ev.success != 0);
    }
}

/* Asks the watched calls whether to give up (rev2_live_call.give_up). */
static void sweep_locked(rev2_engine *e)
{
    for (rev2_live_call *c = e->live.next; c != &e->live; c = c->next)
        if (c->give_up && c->give_up(c->arg))
            c->cancel(c->arg);
}

static void wait_until_locked(rev2_engine *e, int64_t due_ms, int64_t now)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t wait = due_ms - now;
    until.tv_sec += wait / 1000;
    until.tv_nsec += (wait % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&e->cond, &e->lock, &until);
}

static void *timer_loop(void *arg)
{
    rev2_engine *e = arg;
    pthread_setname_np(pthread_self(), "gmb-rpc-timer");
    pthread_mutex_lock(&e->lock);
    for (;;) {
        if (e->stopping && !e->timers)
            break;
        int64_t now = rev2_now_ms();
        bool sweeping = e->calls_watched > 0 && !e->stopping;
        if (sweeping && e->next_sweep_ms <= now) {
            sweep_locked(e);
            e->next_sweep_ms = now + REV2_ENGINE_SWEEP_MS;
        }
        timer_entry *t = e->timers;
        int64_t due = t ? t->due_ms : INT64_MAX;
        if (sweeping && e->next_sweep_ms < due)
            due = e->next_sweep_ms;
        if (due == INT64_MAX) {
            pthread_cond_wait(&e->cond, &e->lock);
            continue;
        }
        if (!e->stopping && (!t || t->due_ms > now)) {
            if (due > now)
                wait_until_locked(e, due, now);
            continue;
        }
        e->timers = t->next;
        bool cancelled = e->stopping;
        pthread_mutex_unlock(&e->lock);
        t->fn(t->arg, cancelled);
        free(t);
        pthread_mutex_lock(&e->lock);
    }
    e->timer_done = true;
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

rev2_engine *rev2_engine_new(int threads)
{
    if (threads < 1)
        threads = 1;
    grpc_init();
    rev2_engine *e = gmb_calloc(1, sizeof *e);
    e->cq = grpc_completion_queue_create_for_next(NULL);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    pthread_cond_init(&e->calls_done, NULL);
    e->live.prev = e->live.next = &e->live;
    e->n_threads = threads;
    e->threads = gmb_calloc((size_t)threads, sizeof *e->threads);
    for (int i = 0; i < threads; i++)
        pthread_create(&e->threads[i], NULL, completion_loop, e);
    pthread_create(&e->timer_thread, NULL, timer_loop, e);
    return e;
}

grpc_completion_queue *rev2_engine_cq(rev2_engine *e)
{
    return e->cq;
}

void rev2_engine_after(rev2_engine *e, int64_t delay_ms, void (*fn)(void *, bool), void *arg)
{
    timer_entry *t = gmb_calloc(1, sizeof *t);
    t->due_ms = rev2_now_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&e->lock);
    if (e->timer_done) {
        /* Too late for the timer thread: report the cancellation now. */
        pthread_mutex_unlock(&e->lock);
        free(t);
        fn(arg, true);
        return;
    }
    timer_entry **pos = &e->timers;
    while (*pos && (*pos)->due_ms <= t->due_ms)
        pos = &(*pos)->next;
    t->next = *pos;
    *pos = t;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

bool rev2_engine_call_started(rev2_engine *e, rev2_live_call *node)
{
    pthread_mutex_lock(&e->lock);
    if (e->stopping) {
        pthread_mutex_unlock(&e->lock);
        return false;
    }
    e->calls_in_flight++;
    if (node->give_up && e->calls_watched++ == 0) {
        /* The timer thread may sleep without a deadline: it now has one. */
        e->next_sweep_ms = rev2_now_ms() + REV2_ENGINE_SWEEP_MS;
        pthread_cond_broadcast(&e->cond);
    }
    node->next = e->live.next;
    node->prev = &e->live;
    e->live.next->prev = node;
    e->live.next = node;
    pthread_mutex_unlock(&e->lock);
    return true;
}

void rev2_engine_call_finished(rev2_engine *e, rev2_live_call *node)
{
    pthread_mutex_lock(&e->lock);
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
    e->calls_in_flight--;
    if (node->give_up)
        e->calls_watched--;
    if (e->stopping && e->calls_in_flight == 0)
        pthread_cond_broadcast(&e->calls_done);
    pthread_mutex_unlock(&e->lock);
}

void rev2_engine_call_unwatch(rev2_engine *e, rev2_live_call *node)
{
    pthread_mutex_lock(&e->lock);
    if (node->give_up) {
        node->give_up = NULL;
        e->calls_watched--;
    }
    pthread_mutex_unlock(&e->lock);
}

int rev2_engine_calls_in_flight(rev2_engine *e)
{
    pthread_mutex_lock(&e->lock);
    int n = e->calls_in_flight;
    pthread_mutex_unlock(&e->lock);
    return n;
}

bool rev2_engine_is_stopping(rev2_engine *e)
{
    pthread_mutex_lock(&e->lock);
    bool s = e->stopping;
    pthread_mutex_unlock(&e->lock);
    return s;
}

void rev2_engine_shutdown(rev2_engine *e)
{
    pthread_mutex_lock(&e->lock);
    if (e->shut_down) {
        pthread_mutex_unlock(&e->lock);
        return;
    }
    e->stopping = true;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    /* Pending timers now fire as cancelled; their operations end. */
    pthread_join(e->timer_thread, NULL);

    pthread_mutex_lock(&e->lock);
    /* Cancelling under the lock is safe: grpc_call_cancel only queues the
     * cancellation; completions run on other threads and take the lock
     * only in rev2_engine_call_finished, after we wait below. */
    for (rev2_live_call *c = e->live.next; c != &e->live; c = c->next)
        c->cancel(c->arg);
    while (e->calls_in_flight > 0)
        pthread_cond_wait(&e->calls_done, &e->lock);
    e->shut_down = true;
    pthread_mutex_unlock(&e->lock);
}

void rev2_engine_free(rev2_engine *e)
{
    if (!e)
        return;
    rev2_engine_shutdown(e);
    grpc_completion_queue_shutdown(e->cq);
    for (int i = 0; i < e->n_threads; i++)
        pthread_join(e->threads[i], NULL);
    grpc_completion_queue_destroy(e->cq);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    pthread_cond_destroy(&e->calls_done);
    free(e->threads);
    free(e);
    grpc_shutdown();
}
