#include "rev2_tree_index.h"
#include "mem.h"

#include <stdlib.h>

void rev2_tree_index_init(rev2_tree_index *ix, const Rev2Tree *tree)
{
    ix->tree = tree;
    ix->digests = gmb_calloc(tree->n_children + 1, sizeof *ix->digests);
    for (size_t i = 0; i < tree->n_children; i++) {
        size_t len;
        uint8_t *enc = REV2_PACK(tree->children[i], &len);
        rev2_digest_of_bytes(enc, len, &ix->digests[i]);
        free(enc);
    }
}

const Rev2Directory *rev2_tree_index_find(const rev2_tree_index *ix, const rev2_digest *d)
{
    for (size_t i = 0; i < ix->tree->n_children; i++)
        if (rev2_digest_equal(&ix->digests[i], d))
            return ix->tree->children[i];
    return NULL;
}

void rev2_tree_index_free(rev2_tree_index *ix)
{
    free(ix->digests);
    ix->digests = NULL;
}
