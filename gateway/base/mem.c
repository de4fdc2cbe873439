#include "mem.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gmb_out_of_memory(size_t size)
{
    /* No allocation here: stderr is unbuffered and fprintf of a number
     * does not need the heap. */
    fprintf(stderr, "gomabarn: out of memory (allocating %zu bytes); aborting\n", size);
    abort();
}

void *gmb_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        gmb_out_of_memory(size);
    return p;
}

void *gmb_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        count = size = 1;
    void *p = calloc(count, size);
    if (!p)
        gmb_out_of_memory(size > 0 && count > (size_t)-1 / size ? (size_t)-1 : count * size);
    return p;
}

void *gmb_realloc(void *old, size_t size)
{
    void *p = realloc(old, size ? size : 1);
    if (!p)
        gmb_out_of_memory(size);
    return p;
}

char *gmb_strdup(const char *s)
{
    return gmb_memdup(s, strlen(s) + 1);
}

char *gmb_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = gmb_malloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *gmb_memdup(const void *src, size_t size)
{
    void *p = gmb_malloc(size);
    if (size)
        memcpy(p, src, size);
    return p;
}

/* By default glibc hands a thread arena's free top back to the kernel once
 * it passes 128 KiB, and maps buffers over 128 KiB on their own. A stream
 * of 64 KiB gRPC messages then maps, faults in, zeroes and unmaps (with a
 * TLB shootdown on every core) the same pages over and over: a fifth of
 * the mount's CPU on a cold 256 MiB read. Keeping up to 8 MiB free per
 * arena, and buffers up to 1 MiB in the arenas, stops that; what is kept
 * stays bounded (glibc makes at most 8 arenas per core). */
void gmb_mem_tune_for_streams(void)
{
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}
