/* The worker table of rev2_worker_watch and the pool judgement of
 * rev2_pool_health built on it: which workers are silent and which pools
 * are down, from what successive ListWorkers rounds list (times given, not
 * waited; no scheduler). */
#include <stdlib.h>

#include "check.h"
#include "rev2_pool_health.h"
#include "rev2_worker_watch.h"

static rev2_worker_seen worker(const char *id, bool has_timeout, int64_t timeout_s, const char *action)
{
    rev2_worker_seen w = {.id = (char *)id, .has_timeout = has_timeout, .timeout_s = timeout_s};
    snprintf(w.action_hash, sizeof w.action_hash, "%s", action);
    return w;
}

/* One round listing `n` workers under `prefix` at now_ms. */
static void round_of(rev2_worker_table *t, const char *prefix, const rev2_worker_seen *w, size_t n, int64_t now_ms)
{
    rev2_worker_table_begin(t);
    for (size_t i = 0; i < n; i++)
        rev2_worker_table_saw(t, prefix, &w[i], now_ms);
    rev2_worker_table_end(t);
}

static const rev2_worker_entry *entry(rev2_worker_table *t, const char *id)
{
    for (size_t i = 0; i < rev2_worker_table_count(t); i++)
        if (strcmp(rev2_worker_table_at(t, i)->id, id) == 0)
            return rev2_worker_table_at(t, i);
    return NULL;
}

static void a_timeout_that_stays_put_is_silence(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    rev2_worker_seen w = worker("thread=0", true, 1000, "abc");
    round_of(t, "hardlinking", &w, 1, 0);
    int64_t quiet;
    round_of(t, "hardlinking", &w, 1, REV2_WORKER_SILENT_MS - 1); /* listed again, same timeout */
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), &quiet));
    CHECK_INT(quiet, REV2_WORKER_SILENT_MS - 1);
    round_of(t, "hardlinking", &w, 1, REV2_WORKER_SILENT_MS); /* the same, 15 s after the first listing */
    CHECK(rev2_worker_silent(entry(t, "thread=0"), &quiet));
    CHECK_INT(quiet, REV2_WORKER_SILENT_MS);
    CHECK_STR(entry(t, "thread=0")->action_hash, "abc");
    CHECK_STR(entry(t, "thread=0")->prefix, "hardlinking");
    rev2_worker_table_free(t);
}

static void a_timeout_that_moves_is_a_worker_talking(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    rev2_worker_seen w = worker("thread=0", true, 1000, "abc");
    round_of(t, "p", &w, 1, 0);
    w.timeout_s = 1010; /* it synchronized: the scheduler moved its timeout on */
    round_of(t, "p", &w, 1, 12000);
    round_of(t, "p", &w, 1, 20000);
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), NULL));
    round_of(t, "p", &w, 1, 12000 + REV2_WORKER_SILENT_MS);
    CHECK(rev2_worker_silent(entry(t, "thread=0"), NULL));
    w.timeout_ns = 5; /* nanoseconds count too */
    round_of(t, "p", &w, 1, 28000);
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), NULL));
    rev2_worker_table_free(t);
}

static void a_worker_inside_synchronize_is_never_silent(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    rev2_worker_seen idle = worker("thread=1", false, 0, "");
    round_of(t, "p", &idle, 1, 0);
    round_of(t, "p", &idle, 1, 60000);
    CHECK(!rev2_worker_silent(entry(t, "thread=1"), NULL));
    /* It left the call (killed: the scheduler ended it): its timeout shows, and the silence starts then. */
    rev2_worker_seen gone = worker("thread=1", true, 500, "");
    round_of(t, "p", &gone, 1, 130000);
    round_of(t, "p", &gone, 1, 130000 + REV2_WORKER_SILENT_MS - 1);
    CHECK(!rev2_worker_silent(entry(t, "thread=1"), NULL));
    round_of(t, "p", &gone, 1, 130000 + REV2_WORKER_SILENT_MS);
    CHECK(rev2_worker_silent(entry(t, "thread=1"), NULL));
    rev2_worker_table_free(t);
}

static void workers_not_listed_are_forgotten_and_ids_are_per_queue(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    rev2_worker_seen two[2] = {worker("thread=0", true, 1, ""), worker("thread=1", true, 1, "")};
    rev2_worker_table_begin(t);
    rev2_worker_table_saw(t, "hardlinking", &two[0], 0);
    rev2_worker_table_saw(t, "hardlinking", &two[1], 0);
    rev2_worker_table_saw(t, "fuse", &two[0], 0); /* the same id in another queue: another worker */
    rev2_worker_table_end(t);
    CHECK_INT(rev2_worker_table_count(t), 3);
    round_of(t, "hardlinking", &two[1], 1, 1000); /* dropped by the scheduler: gone from the list */
    CHECK_INT(rev2_worker_table_count(t), 1);
    CHECK_STR(rev2_worker_table_at(t, 0)->id, "thread=1");
    rev2_worker_table_free(t);
}

static void the_table_is_bounded(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    char id[32];
    rev2_worker_table_begin(t);
    for (int i = 0; i < REV2_WORKERS_MAX + 10; i++) {
        snprintf(id, sizeof id, "thread=%d", i);
        rev2_worker_seen w = worker(id, true, 1, "");
        rev2_worker_table_saw(t, "p", &w, 0);
    }
    rev2_worker_table_end(t);
    CHECK_INT(rev2_worker_table_count(t), REV2_WORKERS_MAX);
    CHECK(rev2_worker_table_overflowed(t));
    rev2_worker_table_free(t);
}

/* ---- pools judged from the rounds ---- */

/* One round in which queue `prefix` lists the n workers `w`. */
static void pools_round(rev2_pool_health *h, const char *prefix, rev2_worker_seen *w, size_t n, int64_t now_ms)
{
    const char *prefixes[1] = {prefix};
    rev2_worker_seen *workers[1] = {w};
    size_t counts[1] = {n};
    rev2_pool_health_workers_round(h, 1, prefixes, workers, counts, now_ms);
}

static rev2_pool_state state_of(rev2_pool_health *h, const char *instance)
{
    rev2_pool_state s[8];
    size_t n = rev2_pool_health_list(h, s, 8);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].instance, instance) == 0)
            return s[i];
    rev2_pool_state none = {.known = false};
    return none;
}

static void a_pool_whose_every_worker_is_silent_is_down_until_one_talks(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "hardlinking");
    rev2_worker_seen w[2] = {worker("thread=0", true, 100, "abc"), worker("thread=1", true, 200, "")};
    char why[256] = "";
    pools_round(h, "hardlinking", w, 2, 0);
    pools_round(h, "hardlinking", w, 2, 10000);
    CHECK(state_of(h, "hardlinking").up);
    CHECK(!rev2_pool_health_action_lost(h, "hardlinking", "abc", why, sizeof why));
    pools_round(h, "hardlinking", w, 2, 15000);
    rev2_pool_state s = state_of(h, "hardlinking");
    CHECK(s.known && !s.up);
    CHECK_CONTAINS(s.reason, "heard nothing from its 2 workers for 15 s");
    CHECK_INT(s.silent_workers, 2);
    CHECK(rev2_pool_health_action_lost(h, "hardlinking", "abc", why, sizeof why));
    CHECK_CONTAINS(why, "worker {thread=0} has not synchronized with the scheduler for 15 s");
    CHECK(!rev2_pool_health_action_lost(h, "hardlinking", "another", NULL, 0));
    CHECK(!rev2_pool_health_action_lost(h, "fuse", "abc", NULL, 0)); /* another pool's action of that digest */
    CHECK(rev2_pool_health_action_lost(h, "hardlinking/sub", "abc", NULL, 0)); /* a prefix serves names below it */
    w[1].timeout_s = 210;                                                      /* one synchronizes again: up */
    pools_round(h, "hardlinking", w, 2, 20000);
    CHECK(state_of(h, "hardlinking").up);
    CHECK(rev2_pool_health_action_lost(h, "hardlinking", "abc", NULL, 0)); /* its own worker is still silent */
    rev2_pool_health_free(h);
}

static void one_silent_worker_leaves_its_pool_up(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "p");
    rev2_worker_seen w[2] = {worker("thread=0", true, 100, "abc"), worker("thread=1", false, 0, "")};
    CHECK_INT(state_of(h, "p").silent_workers, -1); /* not known before a round */
    pools_round(h, "p", w, 2, 0);
    CHECK_INT(state_of(h, "p").silent_workers, 0);
    pools_round(h, "p", w, 2, 30000);
    CHECK(state_of(h, "p").up);
    CHECK_INT(state_of(h, "p").silent_workers, 1);
    CHECK(rev2_pool_health_action_lost(h, "p", "abc", NULL, 0));
    rev2_pool_health_free(h);
}

static void a_worker_not_listed_lately_is_not_silent(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "p");
    rev2_worker_seen w = worker("thread=0", true, 100, "abc");
    pools_round(h, "p", &w, 1, 0);
    pools_round(h, "p", NULL, 0, 30000); /* its queue's ListWorkers failed: left out of the round */
    pools_round(h, "p", &w, 1, 31000);   /* listed again: 31 s apart, but only just seen again */
    CHECK(state_of(h, "p").up);
    CHECK(!rev2_pool_health_action_lost(h, "p", "abc", NULL, 0));
    rev2_pool_health_free(h);
}

static void the_longest_prefix_serving_a_pool_judges_it(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "hardlinking");
    rev2_pool_health_up(h, "fuse");
    rev2_worker_seen silent = worker("thread=0", true, 100, ""), alive = worker("thread=0", false, 0, "");
    const char *prefixes[2] = {"hardlinking", ""};
    rev2_worker_seen *workers[2] = {&silent, &alive};
    size_t counts[2] = {1, 1};
    rev2_pool_health_workers_round(h, 2, prefixes, workers, counts, 0);
    rev2_pool_health_workers_round(h, 2, prefixes, workers, counts, 16000);
    CHECK(!state_of(h, "hardlinking").up); /* its own queue's workers are all silent */
    CHECK(state_of(h, "fuse").up);         /* served by "" alone, whose worker is idle */
    rev2_pool_health_free(h);
}

static void a_newer_reason_is_not_undone_by_the_watch(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "p");
    rev2_worker_seen w = worker("thread=0", true, 100, "");
    pools_round(h, "p", &w, 1, 0);
    pools_round(h, "p", &w, 1, 15000);
    CHECK(!state_of(h, "p").up);
    rev2_pool_health_down(h, "p", "an action waited in its queue past exec.max_queued_s");
    w.timeout_s = 200; /* the worker talks again, but the queue timeout is the newer word */
    pools_round(h, "p", &w, 1, 16000);
    rev2_pool_state s = state_of(h, "p");
    CHECK(!s.up);
    CHECK_CONTAINS(s.reason, "exec.max_queued_s");
    rev2_pool_health_free(h);
}

static void an_overflowed_round_judges_no_pool(void)
{
    rev2_pool_health *h = rev2_pool_health_new(10000);
    rev2_pool_health_up(h, "p");
    size_t n = REV2_WORKERS_MAX + 1;
    rev2_worker_seen *w = calloc(n, sizeof *w);
    char(*ids)[32] = calloc(n, 32);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], 32, "thread=%zu", i);
        w[i] = worker(ids[i], true, 100, "");
    }
    pools_round(h, "p", w, n, 0);
    pools_round(h, "p", w, n, 20000);
    CHECK(state_of(h, "p").up);
    free(w);
    free(ids);
    rev2_pool_health_free(h);
}

int main(void)
{
    RUN(a_timeout_that_stays_put_is_silence);
    RUN(a_timeout_that_moves_is_a_worker_talking);
    RUN(a_worker_inside_synchronize_is_never_silent);
    RUN(workers_not_listed_are_forgotten_and_ids_are_per_queue);
    RUN(the_table_is_bounded);
    RUN(a_pool_whose_every_worker_is_silent_is_down_until_one_talks);
    RUN(one_silent_worker_leaves_its_pool_up);
    RUN(a_worker_not_listed_lately_is_not_silent);
    RUN(the_longest_prefix_serving_a_pool_judges_it);
    RUN(a_newer_reason_is_not_undone_by_the_watch);
    RUN(an_overflowed_round_judges_no_pool);
    return CHECK_REPORT();
}
