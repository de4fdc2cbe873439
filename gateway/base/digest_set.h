/* digest_set: a set of REv2 digests (open addressing), for walking a
 * tree of blobs once each. */
#ifndef DIGEST_SET_H
#define DIGEST_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "rev2_digest.h"

typedef struct {
    rev2_digest *slots; /* an empty slot has hash[0] == '\0' */
    size_t cap, n;
} digest_set;

/* True if d was not in the set yet (it is now). Zero-initialize first. */
bool digest_set_add(digest_set *s, const rev2_digest *d);
void digest_set_free(digest_set *s);

#endif
