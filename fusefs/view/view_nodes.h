/* view_nodes: the nodes of the lazy CAS view and their inode numbers.
 *
 * Every node is identified by a key string naming what it is (a CAS blob
 * of some kind in some instance, a child of a directory...). Its inode
 * number is the xxhash of that key, so the same thing gets the same inode
 * in every mount and after every restart. The table maps inode -> node
 * and counts the kernel's lookups so `forget` can free nodes. Content is
 * immutable, so nodes never change once made; directory listings are
 * loaded once. Not thread-safe: view_fs.c holds the view lock. */
#ifndef VIEW_NODES_H
#define VIEW_NODES_H

#include <stdbool.h>
#include <stdint.h>

#include "rev2_proto.h"
#include "rev2_tree_index.h"

typedef enum {
    VN_ROOT,          /* the mount's top: cas/ ... */
    VN_CAS,           /* cas/: any instance name below, not listable */
    VN_CAS_PREFIX,    /* cas/<components>: more components, or blobs/ */
    VN_CAS_BLOBS,     /* .../blobs: sha256/ */
    VN_CAS_DIGEST_FN, /* .../blobs/sha256: file/ executable/ directory/ tree/ */
    VN_CAS_KIND,      /* .../sha256/<kind>: <hash>-<size> by exact name, not listable */
    VN_FILE,          /* a blob as a file */
    VN_DIR,           /* an REv2 Directory (from the CAS, or from inside a Tree) */
    VN_TREE,          /* an REv2 Tree: a directory showing its root */
    VN_SYMLINK,
    VN_ACTIONS,     /* actions/: <hash>-<size> of any action, default instance name */
    VN_BY_INSTANCE, /* by-instance/: <instance components>/<hash>-<size> */
    VN_BY_INSTANCE_PREFIX,
    VN_ACTION,   /* an action's directory (view_action.h); lists like a DIR */
    VN_REQUESTS, /* requests/: <request name> -> symlink to its action (view_requests.h) */
} view_kind;

typedef enum { CAS_KIND_FILE, CAS_KIND_EXECUTABLE, CAS_KIND_DIRECTORY, CAS_KIND_TREE } view_cas_kind;

/* A decoded Tree: its Directories by digest, shared by its nodes. */
typedef struct view_tree {
    int refs;
    Rev2Tree *msg;
    rev2_tree_index index;
} view_tree;

typedef struct view_node {
    uint64_t ino;
    uint64_t nlookup; /* kernel references; fixed nodes are never freed */
    bool fixed;
    char *key;
    view_kind kind;
    char *instance;     /* REv2 instance name for fetching ("" is valid) */
    rev2_digest digest; /* FILE: content; DIR: Directory; TREE: Tree */
    bool executable;
    view_cas_kind cas_kind;       /* VN_CAS_KIND */
    char *target;                 /* VN_SYMLINK */
    char *name;                   /* an entry of requests/: its name there */
    bool short_lived;             /* may change: requests/ and its entries (short kernel timeouts) */
    view_tree *tree;              /* DIR inside a Tree, and TREE once loaded */
    const Rev2Directory *listing; /* DIR/TREE once loaded */
    Rev2Directory *owned_listing; /* listing, when it is ours to free */
    /* VN_ACTION listed before its result existed: listed again (at most
     * once a second, or at once when the result is handed over). Listings
     * replaced are kept until the node goes: open directory handles may
     * still point into them. */
    bool awaiting_result;
    int64_t built_ms;
    Rev2Directory **retired;
    size_t n_retired;
    struct view_node *next; /* hash chain */
} view_node;

typedef struct {
    view_node **buckets;
    uint64_t n_buckets, count;
} view_table;

void view_table_init(view_table *t);
void view_table_free(view_table *t);
view_node *view_table_get(view_table *t, uint64_t ino);
/* The node for `key`, made by `init` if new (init fills kind and fields;
 * key is copied). The node's lookup count is not changed. */
view_node *view_table_intern(view_table *t, const char *key, void (*init)(view_node *n, void *arg), void *arg);
/* Drops n lookups; frees the node when none are left (not fixed ones). */
void view_table_forget(view_table *t, uint64_t ino, uint64_t n);

void view_tree_unref(view_tree *tree);

#endif
