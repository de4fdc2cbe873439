/* fuzz_view: what the two view targets share: one content store and one
 * view for the whole run (no remote: a blob not put there is simply
 * missing; nothing is mounted), and a walk that does what a reader of the
 * mount does: lookup, getattr, readdir, forget.
 *
 * The store is fuzz_store.h's; blobs put by earlier inputs stay until evicted, like a long-running
 * gateway's cache. Every node reference an input takes is given back, so
 * afterwards the view holds only its root again (checked: a node kept
 * alive is a leak the kernel's forgets could never free). Creating a view
 * per input would cost more than the input: its requests/ table alone is
 * 10,000 slots. */
#ifndef GMB_FUZZ_VIEW_H
#define GMB_FUZZ_VIEW_H

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_store.h"
#include "view_internal.h"

#define FUZZ_VIEW_ROOT 1 /* FUSE_ROOT_ID */

static gmb_view *fuzz_view;

/* Runs before the store's own removal (atexit's order). */
static void fuzz_view_cleanup(void)
{
    view_destroy(fuzz_view);
    fuzz_view = NULL;
}

static void fuzz_view_init(const char *name)
{
    fuzz_store_init(name);
    atexit(fuzz_view_cleanup);
}

/* The view for this input: the run's one view, holding only its root. */
static gmb_view *fuzz_view_get(void)
{
    if (!fuzz_view) {
        view_options vo = {.mountpoint = fuzz_store_dir};
        char *err = NULL;
        fuzz_view = view_create(fuzz_store, &vo, &err);
        FUZZ_CHECK(fuzz_view != NULL, "view_create: %s", err);
    }
    return fuzz_view;
}

/* After an input: every node but the root is gone again. */
static void fuzz_view_done(gmb_view *v)
{
    pthread_mutex_lock(&v->lock);
    uint64_t count = v->table.count;
    pthread_mutex_unlock(&v->lock);
    FUZZ_CHECK(count == 1, "%llu nodes outlive the references to them", (unsigned long long)count);
}

/* Puts bytes into the store under their digest. */
static void fuzz_put(const void *data, size_t len, rev2_digest *d)
{
    rev2_digest_of_bytes(data ? data : "", len, d);
    int rc = cas_store_put(fuzz_store, d, data ? data : "", len);
    FUZZ_CHECK(rc == 0, "cas_store_put: %s", strerror(-rc));
}

static void fuzz_put_message(const ProtobufCMessage *m, rev2_digest *d)
{
    size_t len;
    uint8_t *bytes = rev2_pack(m, &len);
    fuzz_put(bytes, len, d);
    free(bytes);
}

/* What the kernel does when it drops an inode. */
static void fuzz_forget(gmb_view *v, uint64_t ino)
{
    pthread_mutex_lock(&v->lock);
    view_table_forget(&v->table, ino, 1);
    pthread_mutex_unlock(&v->lock);
}

static void fuzz_getattr(gmb_view *v, const view_node *n)
{
    struct stat st;
    view_stat(v, n, &st);
    FUZZ_CHECK(st.st_ino == n->ino, "getattr: inode %llu for node %llu", (unsigned long long)st.st_ino,
               (unsigned long long)n->ino);
    FUZZ_CHECK(view_entry_timeout(v, n) >= 0, "negative entry timeout");
    if (S_ISLNK(st.st_mode))
        FUZZ_CHECK(n->target && (off_t)strlen(n->target) == st.st_size, "a symlink's size is not its target's");
    if (S_ISREG(st.st_mode))
        FUZZ_CHECK(st.st_size >= 0, "a file of negative size");
}

/* Looks `path` up component by component from the root; the node of the
 * last one with every reference but that one given back, or NULL (then
 * nothing is held). */
static view_node *fuzz_lookup_path(gmb_view *v, const char *const *path, size_t n)
{
    uint64_t ino = FUZZ_VIEW_ROOT;
    view_node *node = NULL;
    uint64_t held[32];
    size_t n_held = 0;
    for (size_t i = 0; i < n && n_held < 32; i++) {
        node = NULL;
        if (view_lookup(v, ino, path[i], &node) != 0 || !node) {
            node = NULL;
            break;
        }
        held[n_held++] = node->ino;
        ino = node->ino;
    }
    /* Keep the last reference (if the walk got there), give back the rest. */
    size_t keep = node ? 1 : 0;
    for (size_t i = 0; i + keep < n_held; i++)
        fuzz_forget(v, held[i]);
    return node;
}

static bool is_directory(const view_node *n)
{
    return n->kind != VN_FILE && n->kind != VN_SYMLINK;
}

/* readdir of `ino`, then lookup/getattr/walk of what it lists, down to
 * `depth` more levels; every reference taken is given back. Returns the
 * number of nodes visited (bounded by `budget`). */
static size_t fuzz_walk(gmb_view *v, uint64_t ino, int depth, size_t budget)
{
    view_entry *entries = NULL;
    size_t n = 0, visited = 0;
    int rc = view_list(v, ino, &entries, &n);
    FUZZ_CHECK(rc == 0 || rc == -EIO || rc == -ENOTDIR || rc == -ESTALE, "view_list: %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(n == 0 && entries == NULL, "a failed listing returns entries");
        return 0;
    }
    for (size_t i = 0; i < n && visited < budget; i++) {
        FUZZ_CHECK(entries[i].name && entries[i].node, "entry %zu incomplete", i);
        fuzz_getattr(v, entries[i].node);
        visited++;
        /* A name listed is a name found, and finds the same node. */
        view_node *child = NULL;
        rc = view_lookup(v, ino, entries[i].name, &child);
        FUZZ_CHECK(rc == 0 && child == entries[i].node, "listed \"%s\" but lookup gives %d", entries[i].name, rc);
        if (depth > 0 && is_directory(child))
            visited += fuzz_walk(v, child->ino, depth - 1, budget - visited);
        fuzz_forget(v, child->ino);
    }
    /* Names a reader may try that must not be found (or crash). */
    static const char *const odd[] = {"", ".", "..", "no-such-name"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        view_node *child = NULL;
        if (view_lookup(v, ino, odd[i], &child) == 0) {
            FUZZ_CHECK(strcmp(odd[i], "no-such-name") == 0, "\"%s\" found in a listed directory", odd[i]);
            fuzz_forget(v, child->ino);
        }
    }
    if (n > 0) {
        char *sub = gmb_format("%s/x", entries[0].name);
        view_node *child = NULL;
        FUZZ_CHECK(view_lookup(v, ino, sub, &child) != 0, "\"%s\" found: names have no '/'", sub);
        free(sub);
    }
    view_release_entries(v, entries, n);
    return visited;
}

#endif
