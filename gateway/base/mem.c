#include "mem.h"

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
