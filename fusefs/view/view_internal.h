/* view_internal: what view_resolve.c and view_fs.c share. */
#ifndef VIEW_INTERNAL_H
#define VIEW_INTERNAL_H

#include <pthread.h>
#include <sys/stat.h>

#include "view.h"
#include "view_nodes.h"
#include "view_requests.h"
#include "view_results.h"

typedef struct view_passthrough view_passthrough; /* view_passthrough.h */

struct gmb_view {
    view_options opts;
    char *mountpoint;
    cas_store *store;
    pthread_mutex_t lock; /* guards the table and listings */
    view_table table;
    view_requests *requests; /* requests/ (its own lock, taken after `lock`) */
    view_results *results;   /* results handed over by the gateway (under `lock`) */
    struct timespec born;    /* every node's times */
    uid_t uid;
    gid_t gid;
    struct fuse_session *session;
    bool mounted;
    view_passthrough *passthrough; /* kernel passthrough of blobs on disk */
};

/* An open file of the view. */
typedef struct {
    cas_blob *blob;
    bool passthrough; /* the kernel reads the store's file itself */
} view_file;

/* One entry of a directory listing. */
typedef struct {
    const char *name; /* valid while the parent node lives */
    view_node *node;  /* interned; lookup count not taken */
} view_entry;

/* Finds or makes the child `name` of node `parent` and takes one lookup
 * reference on it. May fetch (a Directory or Tree listing). 0 or -errno. */
int view_lookup(gmb_view *v, uint64_t parent, const char *name, view_node **child);
/* The listing of a directory node: children interned, each with one
 * lookup reference that the caller gives back (view_release_entries).
 * *entries is malloc'd. 0 or -errno (ENOTDIR, EIO). */
int view_list(gmb_view *v, uint64_t ino, view_entry **entries, size_t *n);
void view_release_entries(gmb_view *v, view_entry *entries, size_t n);
void view_stat(const gmb_view *v, const view_node *n, struct stat *st);
/* How long the kernel may keep what it learnt about node `ino`, or about
 * a name it did not find in it: long for content, short for requests/. */
double view_entry_timeout(const gmb_view *v, const view_node *n);
double view_negative_timeout(gmb_view *v, uint64_t parent);

#endif
