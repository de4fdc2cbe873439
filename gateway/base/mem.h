/* mem: the one way gomabarn allocates memory.
 *
 * Every allocation goes through these wrappers, which never return NULL:
 * on exhaustion they print what was asked for and abort, as Redis's
 * zmalloc and git's xmalloc do. A gateway that cannot allocate a few
 * hundred bytes cannot answer anyone usefully, and one rule is easier to
 * keep than 300 hand-written checks. Memory that grows with untrusted
 * input is bounded before it is allocated (gmb_buf's max, config limits),
 * never by hoping malloc fails. Release with free(). */
#ifndef GMB_MEM_H
#define GMB_MEM_H

#include <stddef.h>

void *gmb_malloc(size_t size) __attribute__((malloc, returns_nonnull));
void *gmb_calloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *gmb_realloc(void *p, size_t size) __attribute__((returns_nonnull));
char *gmb_strdup(const char *s) __attribute__((malloc, returns_nonnull));
char *gmb_strndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
void *gmb_memdup(const void *p, size_t size) __attribute__((malloc, returns_nonnull));

/* Called with the size that failed; prints and aborts. */
void gmb_out_of_memory(size_t size) __attribute__((noreturn));

/* Tunes glibc's allocator for streams of short-lived buffers (once, at
 * start, before threads). See mem.c for the figures. */
void gmb_mem_tune_for_streams(void);

#endif
