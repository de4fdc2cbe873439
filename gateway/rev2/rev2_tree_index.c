#include "rev2_tree_index.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static int compare_digests(const rev2_digest *a, const rev2_digest *b)
{
    int c = strcmp(a->hash, b->hash);
    return c ? c : (a->size > b->size) - (a->size < b->size);
}

/* qsort has no context argument: the digests being sorted are passed
 * through this thread-local pointer. */
static _Thread_local const rev2_digest *sorting;

static int compare_positions(const void *a, const void *b)
{
    return compare_digests(&sorting[*(const size_t *)a], &sorting[*(const size_t *)b]);
}

void rev2_tree_index_init(rev2_tree_index *ix, const Rev2Tree *tree)
{
    ix->tree = tree;
    ix->digests = gmb_calloc(tree->n_children + 1, sizeof *ix->digests);
    ix->order = gmb_calloc(tree->n_children + 1, sizeof *ix->order);
    for (size_t i = 0; i < tree->n_children; i++) {
        size_t len;
        uint8_t *enc = REV2_PACK(tree->children[i], &len);
        rev2_digest_of_bytes(enc, len, &ix->digests[i]);
        free(enc);
        ix->order[i] = i;
    }
    sorting = ix->digests;
    qsort(ix->order, tree->n_children, sizeof *ix->order, compare_positions);
    sorting = NULL;
}

ssize_t rev2_tree_index_position(const rev2_tree_index *ix, const rev2_digest *d)
{
    size_t lo = 0, hi = ix->tree->n_children;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_digests(&ix->digests[ix->order[mid]], d);
        if (c == 0)
            return (ssize_t)ix->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const Rev2Directory *rev2_tree_index_find(const rev2_tree_index *ix, const rev2_digest *d)
{
    ssize_t i = rev2_tree_index_position(ix, d);
    return i < 0 ? NULL : ix->tree->children[i];
}

void rev2_tree_index_free(rev2_tree_index *ix)
{
    free(ix->digests);
    free(ix->order);
    ix->digests = NULL;
    ix->order = NULL;
}
