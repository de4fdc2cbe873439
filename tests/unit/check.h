/* check: the smallest test harness that reports what failed and where.
 * Each test binary ends with "N passed, N failed" and exits non-zero on
 * any failure, which is what ctest reads. */
#ifndef GMB_CHECK_H
#define GMB_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_passed_tests, check_failed_tests;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                                        \
    do {                                                                                                       \
        long long check_a = (long long)(a), check_b = (long long)(b);                                          \
        if (check_a != check_b) {                                                                              \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, check_a, #b, \
                    check_b);                                                                                  \
            check_failures++;                                                                                  \
        }                                                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *check_a = (a), *check_b = (b);                                              \
        if (!check_a || !check_b || strcmp(check_a, check_b) != 0) {                            \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    check_a ? check_a : "(null)", check_b ? check_b : "(null)");                \
            check_failures++;                                                                   \
        }                                                                                       \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                     \
    do {                                                                                     \
        const char *check_h = (haystack);                                                    \
        if (!check_h || !strstr(check_h, (needle))) {                                        \
            fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    check_h ? check_h : "(null)", (needle));                                 \
            check_failures++;                                                                \
        }                                                                                    \
    } while (0)

#define RUN(test)                                \
    do {                                         \
        int check_before = check_failures;       \
        test();                                  \
        if (check_failures == check_before) {    \
            check_passed_tests++;                \
            fprintf(stderr, "ok   %s\n", #test); \
        } else {                                 \
            check_failed_tests++;                \
            fprintf(stderr, "FAIL %s\n", #test); \
        }                                        \
    } while (0)

#define CHECK_REPORT() \
    (printf("%d passed, %d failed\n", check_passed_tests, check_failed_tests), check_failed_tests ? 1 : 0)

#endif
