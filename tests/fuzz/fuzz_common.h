/* fuzz_common: what every libFuzzer target in tests/fuzz shares.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput (and, where it
 * needs state, LLVMFuzzerInitialize). Inputs that carry several parts are
 * cut with a cursor: big-endian length prefixes clamped to what is left,
 * so every mutation of a prefix still yields a usable input. A property a
 * header promises and the input breaks is reported with FUZZ_CHECK, which
 * aborts: libFuzzer keeps the input as a crash. */
#ifndef GMB_FUZZ_COMMON_H
#define GMB_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

/* A broken promise of the code under test: print it and abort. */
#define FUZZ_CHECK(cond, ...)                                                             \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* The input, consumed from the front. */
typedef struct {
    const uint8_t *p;
    size_t left;
} fuzz_cursor;

static inline void fuzz_cursor_init(fuzz_cursor *c, const uint8_t *data, size_t len)
{
    c->p = data;
    c->left = data ? len : 0;
}

static inline uint8_t fuzz_u8(fuzz_cursor *c)
{
    if (c->left == 0)
        return 0;
    c->left--;
    return *c->p++;
}

static inline uint32_t fuzz_be(fuzz_cursor *c, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | fuzz_u8(c);
    return v;
}

/* The next `bytes`-byte big-endian length, then that many bytes (fewer
 * if the input ends first). *len may be 0 and *out NULL. */
static inline void fuzz_slice(fuzz_cursor *c, int bytes, const uint8_t **out, size_t *len)
{
    size_t n = fuzz_be(c, bytes);
    if (n > c->left)
        n = c->left;
    *out = n ? c->p : NULL;
    *len = n;
    c->p += n;
    c->left -= n;
}

/* What is left, as a malloc'd NUL-terminated copy (NULs inside stay). */
static inline char *fuzz_rest_string(fuzz_cursor *c, size_t *len)
{
    char *s = gmb_malloc(c->left + 1);
    if (c->left)
        memcpy(s, c->p, c->left);
    s[c->left] = '\0';
    if (len)
        *len = c->left;
    c->p += c->left;
    c->left = 0;
    return s;
}

/* GMB_FUZZ_KNOWN_BUGS=skip: inputs that only hit a bug already reported
 * (tests/fuzz/crashes/, tests/fuzz/README.md) are skipped or bounded, so a
 * long run can look for the next one. Off by default. */
static inline bool fuzz_skip_known_bugs(void)
{
    static int skip = -1;
    if (skip < 0)
        skip = getenv("GMB_FUZZ_KNOWN_BUGS") && strcmp(getenv("GMB_FUZZ_KNOWN_BUGS"), "skip") == 0;
    return skip;
}

/* Log lines cost more than most inputs: off unless GOMABARN_LOG_LEVEL
 * asks for them (one level above ERROR silences everything). */
static inline void fuzz_quiet_logs(void)
{
    if (getenv("GOMABARN_LOG_LEVEL"))
        gmb_log_set_level(-1);
    else
        gmb_log_set_level(GMB_LOG_ERROR + 1);
}

#endif
