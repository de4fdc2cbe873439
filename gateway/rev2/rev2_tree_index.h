/* rev2_tree_index: finds the Directories of a received REv2 Tree by
 * digest. A Tree lists its children without names; a Directory entry
 * names a child by the digest of its serialization, so each child is
 * serialized and hashed once here, and lookups are a binary search. */
#ifndef REV2_TREE_INDEX_H
#define REV2_TREE_INDEX_H

#include <sys/types.h>

#include "rev2_proto.h"

typedef struct {
    const Rev2Tree *tree; /* not owned */
    rev2_digest *digests; /* digests[i] names tree->children[i] */
    size_t *order;        /* child positions sorted by digest */
} rev2_tree_index;

void rev2_tree_index_init(rev2_tree_index *ix, const Rev2Tree *tree);
/* The child named by `d`, or NULL. */
const Rev2Directory *rev2_tree_index_find(const rev2_tree_index *ix, const rev2_digest *d);
/* Its position in tree->children, or -1. */
ssize_t rev2_tree_index_position(const rev2_tree_index *ix, const rev2_digest *d);
void rev2_tree_index_free(rev2_tree_index *ix);

#endif
