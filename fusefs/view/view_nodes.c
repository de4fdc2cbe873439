#include "view_nodes.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ROOT_INO 1

void view_table_init(view_table *t)
{
    t->n_buckets = 4096;
    t->count = 0;
    t->buckets = gmb_calloc(t->n_buckets, sizeof *t->buckets);
}

void view_tree_unref(view_tree *tree)
{
    if (!tree || --tree->refs > 0)
        return;
    rev2_msg_free(tree->msg);
    rev2_tree_index_free(&tree->index);
    free(tree);
}

static void node_free(view_node *n)
{
    free(n->key);
    free(n->instance);
    free(n->target);
    free(n->name);
    rev2_msg_free(n->owned_listing);
    for (size_t i = 0; i < n->n_retired; i++)
        rev2_msg_free(n->retired[i]);
    free(n->retired);
    view_tree_unref(n->tree);
    free(n);
}

void view_table_free(view_table *t)
{
    for (uint64_t i = 0; i < t->n_buckets; i++) {
        view_node *n = t->buckets[i];
        while (n) {
            view_node *next = n->next;
            node_free(n);
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

view_node *view_table_get(view_table *t, uint64_t ino)
{
    for (view_node *n = t->buckets[ino & (t->n_buckets - 1)]; n; n = n->next)
        if (n->ino == ino)
            return n;
    return NULL;
}

static void grow(view_table *t)
{
    uint64_t nb = t->n_buckets * 2;
    view_node **b = gmb_calloc(nb, sizeof *b);
    for (uint64_t i = 0; i < t->n_buckets; i++) {
        view_node *n = t->buckets[i];
        while (n) {
            view_node *next = n->next;
            n->next = b[n->ino & (nb - 1)];
            b[n->ino & (nb - 1)] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
}

view_node *view_table_intern(view_table *t, const char *key, void (*init)(view_node *, void *), void *arg)
{
    /* The root is inode 1 by FUSE's rules; everything else hashes its key,
     * stepping past the (astronomically rare) collision with another key. */
    uint64_t ino = strcmp(key, "/") == 0 ? ROOT_INO : XXH3_64bits(key, strlen(key));
    for (;;) {
        if (ino <= ROOT_INO && strcmp(key, "/") != 0) {
            ino = ROOT_INO + 1;
            continue;
        }
        view_node *n = view_table_get(t, ino);
        if (!n)
            break;
        if (strcmp(n->key, key) == 0)
            return n;
        ino++;
    }
    if (t->count >= t->n_buckets)
        grow(t);
    view_node *n = gmb_calloc(1, sizeof *n);
    n->ino = ino;
    n->key = gmb_strdup(key);
    init(n, arg);
    view_node **slot = &t->buckets[ino & (t->n_buckets - 1)];
    n->next = *slot;
    *slot = n;
    t->count++;
    return n;
}

void view_table_forget(view_table *t, uint64_t ino, uint64_t count)
{
    view_node **p = &t->buckets[ino & (t->n_buckets - 1)];
    while (*p && (*p)->ino != ino)
        p = &(*p)->next;
    view_node *n = *p;
    if (!n)
        return;
    n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
    if (n->nlookup > 0 || n->fixed)
        return;
    *p = n->next;
    t->count--;
    node_free(n);
}
