#include "budget.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "mem.h"

typedef struct waiter {
    uint64_t n;
    bool granted;
    pthread_cond_t *wake;       /* a blocked take; or */
    void (*granted_cb)(void *); /* a queued one */
    void *arg;
    struct waiter *next;
} waiter;

struct gmb_budget {
    pthread_mutex_t lock;
    gmb_budget_stats st;
    waiter *head, *tail; /* first come, first served */
};

gmb_budget *gmb_budget_new(uint64_t max_bytes)
{
    gmb_budget *b = gmb_calloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->st.max = max_bytes;
    return b;
}

void gmb_budget_free(gmb_budget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static uint64_t clamp(const gmb_budget *b, uint64_t n)
{
    return b->st.max && n > b->st.max ? b->st.max : n;
}

/* Whether n fits now, with nobody waiting ahead of it. */
static bool fits_locked(const gmb_budget *b, uint64_t n)
{
    return b->st.max == 0 || b->st.in_use + n <= b->st.max;
}

static void grant_locked(gmb_budget *b, uint64_t n)
{
    b->st.in_use += n;
    if (b->st.in_use > b->st.peak)
        b->st.peak = b->st.in_use;
}

static void enqueue_locked(gmb_budget *b, waiter *w)
{
    if (b->tail)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
    b->st.waits++;
    b->st.waiting++;
}

static void unlink_locked(gmb_budget *b, waiter *w)
{
    waiter **p = &b->head, *prev = NULL;
    while (*p && *p != w) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p)
        return;
    *p = w->next;
    if (b->tail == w)
        b->tail = prev;
    b->st.waiting--;
}

bool gmb_budget_take(gmb_budget *b, uint64_t n, int64_t timeout_ms)
{
    n = clamp(b, n);
    pthread_mutex_lock(&b->lock);
    if (!b->head && fits_locked(b, n)) {
        grant_locked(b, n);
        pthread_mutex_unlock(&b->lock);
        return true;
    }
    pthread_cond_t wake;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    waiter w = {.n = n, .wake = &wake};
    enqueue_locked(b, &w);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (!w.granted && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&wake, &b->lock, &until);
    if (!w.granted)
        unlink_locked(b, &w);
    bool granted = w.granted;
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&wake);
    /* A waiter leaving may let the next one in. */
    if (!granted)
        gmb_budget_give(b, 0);
    return granted;
}

bool gmb_budget_take_or_queue(gmb_budget *b, uint64_t n, void (*granted)(void *arg), void *arg)
{
    n = clamp(b, n);
    pthread_mutex_lock(&b->lock);
    if (!b->head && fits_locked(b, n)) {
        grant_locked(b, n);
        pthread_mutex_unlock(&b->lock);
        return true;
    }
    waiter *w = gmb_calloc(1, sizeof *w);
    w->n = n;
    w->granted_cb = granted;
    w->arg = arg;
    enqueue_locked(b, w);
    pthread_mutex_unlock(&b->lock);
    return false;
}

void gmb_budget_give(gmb_budget *b, uint64_t n)
{
    n = clamp(b, n);
    waiter *ready = NULL, **ready_tail = &ready;
    pthread_mutex_lock(&b->lock);
    b->st.in_use -= n;
    while (b->head && fits_locked(b, b->head->n)) {
        waiter *w = b->head;
        b->head = w->next;
        if (!b->head)
            b->tail = NULL;
        b->st.waiting--;
        grant_locked(b, w->n);
        w->granted = true;
        if (w->wake) {
            pthread_cond_signal(w->wake);
        } else {
            w->next = NULL;
            *ready_tail = w;
            ready_tail = &w->next;
        }
    }
    pthread_mutex_unlock(&b->lock);
    while (ready) { /* outside the lock: a callback may take or give */
        waiter *w = ready;
        ready = w->next;
        w->granted_cb(w->arg);
        free(w);
    }
}

void gmb_budget_stats_get(gmb_budget *b, gmb_budget_stats *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->st;
    pthread_mutex_unlock(&b->lock);
}
