/* The worker table of rev2_worker_watch: which workers are silent, from
 * what successive ListWorkers rounds list (times given, not waited). */
#include <stdlib.h>

#include "check.h"
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
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), REV2_WORKER_SILENT_MS - 1, &quiet));
    CHECK_INT(quiet, REV2_WORKER_SILENT_MS - 1);
    round_of(t, "hardlinking", &w, 1, 10000); /* listed again, same timeout: the silence goes on */
    CHECK(rev2_worker_silent(entry(t, "thread=0"), REV2_WORKER_SILENT_MS, &quiet));
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
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), 20000, NULL));
    CHECK(rev2_worker_silent(entry(t, "thread=0"), 12000 + REV2_WORKER_SILENT_MS, NULL));
    w.timeout_ns = 5; /* nanoseconds count too */
    round_of(t, "p", &w, 1, 26000);
    CHECK(!rev2_worker_silent(entry(t, "thread=0"), 27000, NULL));
    rev2_worker_table_free(t);
}

static void a_worker_inside_synchronize_is_never_silent(void)
{
    rev2_worker_table *t = rev2_worker_table_new();
    rev2_worker_seen idle = worker("thread=1", false, 0, "");
    round_of(t, "p", &idle, 1, 0);
    round_of(t, "p", &idle, 1, 60000);
    CHECK(!rev2_worker_silent(entry(t, "thread=1"), 120000, NULL));
    /* It left the call (killed: the scheduler ended it): its timeout shows, and the silence starts then. */
    rev2_worker_seen gone = worker("thread=1", true, 500, "");
    round_of(t, "p", &gone, 1, 130000);
    CHECK(!rev2_worker_silent(entry(t, "thread=1"), 130000 + REV2_WORKER_SILENT_MS - 1, NULL));
    CHECK(rev2_worker_silent(entry(t, "thread=1"), 130000 + REV2_WORKER_SILENT_MS, NULL));
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
    rev2_worker_table_free(t);
}

int main(void)
{
    RUN(a_timeout_that_stays_put_is_silence);
    RUN(a_timeout_that_moves_is_a_worker_talking);
    RUN(a_worker_inside_synchronize_is_never_silent);
    RUN(workers_not_listed_are_forgotten_and_ids_are_per_queue);
    RUN(the_table_is_bounded);
    return CHECK_REPORT();
}
