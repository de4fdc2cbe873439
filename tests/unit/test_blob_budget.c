/* The blob memory budget (base/budget.h) and the record of blobs known
 * present in the CAS (rev2/rev2_known_blobs.h): the two pieces that keep
 * Exec by reference bounded and free of repeated checks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "budget.h"
#include "check.h"
#include "rev2_engine.h"
#include "rev2_known_blobs.h"

static void digest_n(rev2_digest *d, unsigned n)
{
    char text[32];
    snprintf(text, sizeof text, "%u", n);
    rev2_digest_of_bytes(text, strlen(text), d);
}

static void take_and_give_within_the_cap(void)
{
    gmb_budget *b = gmb_budget_new(100);
    CHECK(gmb_budget_take(b, 60, 10));
    CHECK(gmb_budget_take(b, 40, 10));
    gmb_budget_stats st;
    gmb_budget_stats_get(b, &st);
    CHECK_INT(st.in_use, 100);
    CHECK_INT(st.peak, 100);
    CHECK(!gmb_budget_take(b, 1, 50)); /* full: waits, then times out */
    gmb_budget_stats_get(b, &st);
    CHECK_INT(st.waits, 1);
    CHECK_INT(st.waiting, 0);
    gmb_budget_give(b, 60);
    gmb_budget_give(b, 40);
    /* More than the whole cap counts as the cap, once nothing else is held. */
    CHECK(gmb_budget_take(b, 1000, 10));
    gmb_budget_stats_get(b, &st);
    CHECK_INT(st.in_use, 100);
    gmb_budget_give(b, 1000);
    gmb_budget_stats_get(b, &st);
    CHECK_INT(st.in_use, 0);
    gmb_budget_free(b);
}

typedef struct {
    gmb_budget *b;
    bool got;
} taker;

static void *take_blocking(void *arg)
{
    taker *t = arg;
    t->got = gmb_budget_take(t->b, 80, 5000);
    return NULL;
}

static int granted_calls;
static void on_granted(void *arg)
{
    (void)arg;
    granted_calls++;
}

static void waiters_are_served_in_order_when_bytes_come_back(void)
{
    gmb_budget *b = gmb_budget_new(100);
    CHECK(gmb_budget_take(b, 90, 10));
    taker t = {b, false};
    pthread_t th;
    pthread_create(&th, NULL, take_blocking, &t);
    gmb_budget_stats st;
    for (int i = 0; i < 200; i++) { /* until the thread waits */
        gmb_budget_stats_get(b, &st);
        if (st.waiting == 1)
            break;
        usleep(5000);
    }
    CHECK_INT(st.waiting, 1);
    /* A queued take behind the blocked one: not granted before it. */
    CHECK(!gmb_budget_take_or_queue(b, 10, on_granted, NULL));
    gmb_budget_give(b, 90);
    pthread_join(th, NULL);
    CHECK(t.got);
    CHECK_INT(granted_calls, 1); /* 80 + 10 fit together */
    gmb_budget_stats_get(b, &st);
    CHECK_INT(st.in_use, 90);
    gmb_budget_give(b, 80);
    gmb_budget_give(b, 10);
    gmb_budget_free(b);
}

static void known_blobs_remember_per_instance_and_forget(void)
{
    rev2_known_blobs *k = rev2_known_blobs_new(1000, 60000);
    rev2_digest a, other;
    digest_n(&a, 1);
    digest_n(&other, 2);
    CHECK(!rev2_known_blobs_has(k, "fuse", &a));
    rev2_known_blobs_add(k, "fuse", &a);
    CHECK(rev2_known_blobs_has(k, "fuse", &a));
    CHECK(!rev2_known_blobs_has(k, "hardlinking", &a)); /* another instance's CAS may differ */
    CHECK(!rev2_known_blobs_has(k, "fuse", &other));
    rev2_digest same_hash_other_size = a;
    same_hash_other_size.size++;
    CHECK(!rev2_known_blobs_has(k, "fuse", &same_hash_other_size));
    rev2_known_blobs_forget(k, "fuse", &a);
    CHECK(!rev2_known_blobs_has(k, "fuse", &a));
    rev2_known_blobs_free(k);
}

static void known_blobs_expire_and_stay_bounded(void)
{
    rev2_known_blobs *k = rev2_known_blobs_new(100, 30);
    rev2_digest a;
    digest_n(&a, 7);
    rev2_known_blobs_add(k, "", &a);
    CHECK(rev2_known_blobs_has(k, "", &a));
    usleep(60 * 1000);
    CHECK(!rev2_known_blobs_has(k, "", &a));
    rev2_known_blobs_free(k);

    /* 10,000 adds into a record of 100: the newest are kept, old ones go. */
    k = rev2_known_blobs_new(100, 60000);
    for (unsigned i = 0; i < 10000; i++) {
        rev2_digest d;
        digest_n(&d, 1000 + i);
        rev2_known_blobs_add(k, "", &d);
    }
    rev2_digest newest, oldest;
    digest_n(&newest, 1000 + 9999);
    digest_n(&oldest, 1000);
    CHECK(rev2_known_blobs_has(k, "", &newest));
    CHECK(!rev2_known_blobs_has(k, "", &oldest));
    int kept = 0;
    for (unsigned i = 0; i < 10000; i++) {
        rev2_digest d;
        digest_n(&d, 1000 + i);
        kept += rev2_known_blobs_has(k, "", &d);
    }
    CHECK(kept <= 128); /* two generations of at most 64 */
    CHECK(kept >= 32);
    rev2_known_blobs_free(k);

    k = rev2_known_blobs_new(0, 60000); /* off */
    rev2_known_blobs_add(k, "", &a);
    CHECK(!rev2_known_blobs_has(k, "", &a));
    rev2_known_blobs_free(k);
}

static int waited_ok, waited_failed;
static void on_upload_done(void *user, bool ok)
{
    (void)user;
    if (ok)
        waited_ok++;
    else
        waited_failed++;
}

static void one_upload_per_blob_others_wait(void)
{
    rev2_known_blobs *k = rev2_known_blobs_new(1000, 60000);
    rev2_digest a;
    digest_n(&a, 42);
    CHECK(rev2_known_blobs_claim(k, "fuse", &a, on_upload_done, NULL));
    CHECK(!rev2_known_blobs_claim(k, "fuse", &a, on_upload_done, NULL));
    CHECK(!rev2_known_blobs_claim(k, "fuse", &a, on_upload_done, NULL));
    CHECK(rev2_known_blobs_claim(k, "hardlinking", &a, on_upload_done, NULL)); /* another CAS */
    CHECK_INT(waited_ok, 0);
    rev2_known_blobs_release(k, "fuse", &a, true);
    CHECK_INT(waited_ok, 2);
    CHECK(rev2_known_blobs_has(k, "fuse", &a));
    rev2_known_blobs_release(k, "hardlinking", &a, false);
    CHECK(!rev2_known_blobs_has(k, "hardlinking", &a));
    /* A failed upload tells its waiters, and the next claim is free. */
    CHECK(rev2_known_blobs_claim(k, "hardlinking", &a, on_upload_done, NULL));
    CHECK(!rev2_known_blobs_claim(k, "hardlinking", &a, on_upload_done, NULL));
    rev2_known_blobs_release(k, "hardlinking", &a, false);
    CHECK_INT(waited_failed, 1);
    CHECK(rev2_known_blobs_claim(k, "hardlinking", &a, on_upload_done, NULL));
    rev2_known_blobs_release(k, "hardlinking", &a, true);
    rev2_known_blobs_free(k);
}

int main(void)
{
    RUN(take_and_give_within_the_cap);
    RUN(waiters_are_served_in_order_when_bytes_come_back);
    RUN(known_blobs_remember_per_instance_and_forget);
    RUN(known_blobs_expire_and_stay_bounded);
    RUN(one_upload_per_blob_others_wait);
    return CHECK_REPORT();
}
