/* rev2_tree_index: finds the Directories of a received REv2 Tree by
 * digest. A Tree lists its children without names; a Directory entry
 * names a child by the digest of its serialization, so each child is
 * serialized and hashed once here. */
#ifndef REV2_TREE_INDEX_H
#define REV2_TREE_INDEX_H

#include "rev2_proto.h"

typedef struct {
    const Rev2Tree *tree;   /* not owned */
    rev2_digest *digests;   /* digests[i] names tree->children[i] */
} rev2_tree_index;

void rev2_tree_index_init(rev2_tree_index *ix, const Rev2Tree *tree);
/* The child named by `d`, or NULL. */
const Rev2Directory *rev2_tree_index_find(const rev2_tree_index *ix, const rev2_digest *d);
void rev2_tree_index_free(rev2_tree_index *ix);

#endif
