/* The requests/ table of the view: names made safe, newest target wins,
 * bounded with the oldest forgotten first, symlink targets per instance. */
#include <stdlib.h>

#include "check.h"
#include "view_requests.h"

static rev2_digest digest_of(const char *text)
{
    rev2_digest d;
    rev2_digest_of_bytes(text, strlen(text), &d);
    return d;
}

static void names_are_made_safe(void)
{
    char *n = view_request_file_name("host:123/45");
    CHECK_STR(n, "host:123_45");
    free(n);
    n = view_request_file_name("a\nb");
    CHECK_STR(n, "a_b");
    free(n);
    CHECK(view_request_file_name("") == NULL);
    CHECK(view_request_file_name(".") == NULL);
    CHECK(view_request_file_name("..") == NULL);
    CHECK(view_request_file_name(NULL) == NULL);
    char long_id[400];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    n = view_request_file_name(long_id);
    CHECK_INT(strlen(n), 200);
    free(n);
}

static void targets_name_the_instance(void)
{
    rev2_digest d = digest_of("action");
    char want[200];
    view_request r = {"x", "hardlinking", d};
    char *t = view_request_target(&r);
    snprintf(want, sizeof want, "../by-instance/hardlinking/%s-%lld", d.hash, (long long)d.size);
    CHECK_STR(t, want);
    free(t);
    r.instance = "";
    t = view_request_target(&r);
    snprintf(want, sizeof want, "../by-instance/%s-%lld", d.hash, (long long)d.size);
    CHECK_STR(t, want);
    free(t);
}

static void retried_request_points_at_its_newest_action(void)
{
    view_requests *t = view_requests_new(4);
    rev2_digest a = digest_of("a"), b = digest_of("b");
    view_requests_put(t, "r1", "fuse", &a);
    view_requests_put(t, "r1", "hardlinking", &b);
    view_request got;
    CHECK(view_requests_find(t, "r1", &got));
    CHECK_STR(got.instance, "hardlinking");
    CHECK(rev2_digest_equal(&got.action, &b));
    view_request_clear(&got);
    view_request *all;
    CHECK_INT(view_requests_list(t, &all), 1);
    view_request_clear(&all[0]);
    free(all);
    view_requests_free(t);
}

static void oldest_names_are_forgotten(void)
{
    view_requests *t = view_requests_new(3);
    rev2_digest d = digest_of("x");
    const char *names[] = {"r0", "r1", "r2", "r3", "r4"};
    for (int i = 0; i < 5; i++)
        view_requests_put(t, names[i], "", &d);
    view_request got;
    CHECK(!view_requests_find(t, "r0", &got));
    CHECK(!view_requests_find(t, "r1", &got));
    for (int i = 2; i < 5; i++) {
        CHECK(view_requests_find(t, names[i], &got));
        view_request_clear(&got);
    }
    view_request *all;
    size_t n = view_requests_list(t, &all);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(all[i].name, names[i + 2]); /* oldest first */
        view_request_clear(&all[i]);
    }
    free(all);
    /* The slots are reused: many more names stay bounded and findable. */
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "n%d", i);
        view_requests_put(t, name, "fuse", &d);
    }
    CHECK(view_requests_find(t, "n999", &got));
    view_request_clear(&got);
    CHECK(!view_requests_find(t, "n996", &got));
    n = view_requests_list(t, &all);
    CHECK_INT(n, 3);
    for (size_t i = 0; i < n; i++)
        view_request_clear(&all[i]);
    free(all);
    view_requests_free(t);
}

int main(void)
{
    RUN(names_are_made_safe);
    RUN(targets_name_the_instance);
    RUN(retried_request_points_at_its_newest_action);
    RUN(oldest_names_are_forgotten);
    return CHECK_REPORT();
}
