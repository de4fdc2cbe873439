#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

/* Most requests fit in one or two chunks of this size. */
#define ARENA_CHUNK_BYTES 4096

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct gmb_arena {
    chunk *chunks; /* the newest first */
};

gmb_arena *gmb_arena_new(void)
{
    return gmb_calloc(1, sizeof(gmb_arena));
}

void *gmb_arena_alloc(gmb_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX - align)
        gmb_out_of_memory(size);
    size = (size + align - 1) & ~(align - 1);
    chunk *c = a->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK_BYTES ? size : ARENA_CHUNK_BYTES;
        c = gmb_malloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        if (cap == size && a->chunks) {
            /* A piece of its own: behind the current chunk, whose room stays in use. */
            c->next = a->chunks->next;
            a->chunks->next = c;
        } else {
            c->next = a->chunks;
            a->chunks = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

void *gmb_arena_calloc(gmb_arena *a, size_t size)
{
    return memset(gmb_arena_alloc(a, size), 0, size);
}

char *gmb_arena_strdup(gmb_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(gmb_arena_alloc(a, n), s, n);
}

void gmb_arena_free(gmb_arena *a)
{
    if (!a)
        return;
    while (a->chunks) {
        chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    free(a);
}
