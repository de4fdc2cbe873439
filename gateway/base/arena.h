/* arena: memory handed out in pieces and given back all at once. For
 * things built and dropped as a whole, a request's decoded ExecReq or its
 * input tree: one malloc per piece (dozens per request) cost more than the
 * work done with them. Pieces are aligned for any type; a piece larger
 * than a chunk gets a chunk of its own. Not thread-safe. */
#ifndef GMB_ARENA_H
#define GMB_ARENA_H

#include <stddef.h>

typedef struct gmb_arena gmb_arena;

gmb_arena *gmb_arena_new(void);
void *gmb_arena_alloc(gmb_arena *a, size_t size);  /* not zeroed */
void *gmb_arena_calloc(gmb_arena *a, size_t size); /* zeroed */
char *gmb_arena_strdup(gmb_arena *a, const char *s);
void gmb_arena_free(gmb_arena *a); /* everything, the arena too; NULL is fine */

#endif
