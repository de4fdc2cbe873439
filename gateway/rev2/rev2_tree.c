#include "arena.h"
#include "digest_set.h"
#include "errmsg.h"
#include "rev2_tree.h"
#include "rev2_dir_encode.h"
#include "mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { NODE_DIR, NODE_FILE, NODE_SYMLINK, NODE_DIR_DIGEST } node_kind;

typedef struct tnode {
    char *name;
    node_kind kind;
    rev2_digest digest; /* files: content; dirs: Directory message (after finish, or given) */
    bool executable;
    char *target; /* symlinks */
    struct tnode **children;
    size_t n_children, cap_children;
    /* Past CHILD_INDEX_FROM children, an open-addressing index of them by
     * name (child number + 1; 0 is empty): a toolchain request puts
     * hundreds of headers in one directory, and a linear search for each
     * made building the tree quadratic. Only while adding: finish sorts. */
    uint32_t *index;
    size_t index_cap; /* a power of two, over twice n_children */
} tnode;

#define CHILD_INDEX_FROM 16

struct rev2_tree {
    tnode root;
    /* Nodes, names and child arrays: a request's tree is built and
     * dropped in one go, and one malloc each was a good part of it. */
    gmb_arena *arena;
    digest_set blob_digests; /* of blobs, to keep each once */
    bool finished;
    rev2_blob *blobs; /* distinct Directory messages */
    uint8_t **blob_data;
    size_t n_blobs, cap_blobs;
    size_t files, symlinks, dirs;
};

bool rev2_path_split(const char *path, char ***parts_out, size_t *n_out, char **err)
{
    *parts_out = NULL;
    *n_out = 0;
    if (!path || path[0] == '/') {
        gmb_fail(err, "path \"%s\" is absolute; input paths must be relative to the input root", path ? path : "");
        return false;
    }
    /* One allocation: the pointer array, then a copy of the path cut into
     * components in place (an input tree splits every input's path). A
     * path of L bytes has at most L / 2 + 1 components. */
    size_t len = strlen(path), max = len / 2 + 1;
    char **parts = gmb_malloc(max * sizeof *parts + len + 1);
    char *copy = memcpy((char *)(parts + max), path, len + 1);
    size_t n = 0;
    for (char *p = copy; *p;) {
        char *slash = strchr(p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen(p);
        if (clen == 2 && p[0] == '.' && p[1] == '.') {
            free(parts);
            gmb_fail(err, "path \"%s\" climbs out with \"..\"", path);
            return false;
        }
        if (!(clen == 0 || (clen == 1 && p[0] == '.')))
            parts[n++] = p;
        p += clen;
        if (*p == '/')
            *p++ = '\0';
    }
    *parts_out = parts;
    *n_out = n;
    return true;
}

void rev2_path_parts_free(char **parts, size_t n)
{
    (void)n; /* the components live in the same block */
    free(parts);
}

rev2_tree *rev2_tree_new(void)
{
    rev2_tree *t = gmb_calloc(1, sizeof *t);
    t->arena = gmb_arena_new();
    t->root.kind = NODE_DIR;
    t->root.name = gmb_arena_strdup(t->arena, "");
    return t;
}

/* FNV-1a: names are short, and this is only an index's hash. */
static size_t name_hash(const char *name)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)h;
}

static tnode *find_child(tnode *dir, const char *name)
{
    if (!dir->index) {
        for (size_t i = 0; i < dir->n_children; i++)
            if (strcmp(dir->children[i]->name, name) == 0)
                return dir->children[i];
        return NULL;
    }
    size_t mask = dir->index_cap - 1;
    for (size_t at = name_hash(name) & mask; dir->index[at]; at = (at + 1) & mask) {
        tnode *c = dir->children[dir->index[at] - 1];
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static void index_child(tnode *dir, size_t i)
{
    size_t mask = dir->index_cap - 1, at = name_hash(dir->children[i]->name) & mask;
    while (dir->index[at])
        at = (at + 1) & mask;
    dir->index[at] = (uint32_t)(i + 1);
}

/* After a child is added: the index made, grown or given the child. */
static void update_index(rev2_tree *t, tnode *dir)
{
    if (dir->n_children < CHILD_INDEX_FROM)
        return;
    if (dir->index && dir->n_children * 2 < dir->index_cap) {
        index_child(dir, dir->n_children - 1);
        return;
    }
    /* The old index stays in the arena until the tree goes. */
    dir->index_cap = dir->index_cap ? dir->index_cap * 2 : 64;
    dir->index = gmb_arena_calloc(t->arena, dir->index_cap * sizeof *dir->index);
    for (size_t i = 0; i < dir->n_children; i++)
        index_child(dir, i);
}

static tnode *add_child(rev2_tree *t, tnode *dir, const char *name, node_kind kind)
{
    if (dir->n_children == dir->cap_children) {
        /* The old array stays in its chunk until the tree goes. */
        size_t cap = dir->cap_children ? dir->cap_children * 2 : 4;
        tnode **grown = gmb_arena_calloc(t->arena, cap * sizeof *grown);
        if (dir->n_children)
            memcpy(grown, dir->children, dir->n_children * sizeof *grown);
        dir->children = grown;
        dir->cap_children = cap;
    }
    tnode *n = gmb_arena_calloc(t->arena, sizeof *n);
    n->name = gmb_arena_strdup(t->arena, name);
    n->kind = kind;
    dir->children[dir->n_children++] = n;
    update_index(t, dir);
    return n;
}

/* Walks to the parent of the last component, creating directories. */
static tnode *walk_parents(rev2_tree *t, const char *path, char **parts, size_t n, char **err)
{
    tnode *dir = &t->root;
    for (size_t i = 0; i + 1 < n; i++) {
        tnode *c = find_child(dir, parts[i]);
        if (!c) {
            c = add_child(t, dir, parts[i], NODE_DIR);
        } else if (c->kind != NODE_DIR) {
            gmb_fail(err, "\"%s\": \"%s\" is a %s", path, parts[i],
                     c->kind == NODE_FILE      ? "file, not a directory"
                     : c->kind == NODE_SYMLINK ? "symlink, not a directory"
                                               : "directory given by digest, closed to additions");
            return NULL;
        }
        dir = c;
    }
    return dir;
}

static int add_entry(rev2_tree *t, const char *path, node_kind kind, const rev2_digest *d, bool executable,
                     const char *target, char **err)
{
    if (t->finished)
        return gmb_fail(err, "tree already finished");
    char **parts;
    size_t n;
    if (!rev2_path_split(path, &parts, &n, err))
        return -1;
    if (n == 0) {
        rev2_path_parts_free(parts, n);
        if (kind == NODE_DIR)
            return 0; /* the root itself */
        return gmb_fail(err, "empty path for a %s", kind == NODE_FILE ? "file" : "symlink");
    }
    int rc = 0;
    tnode *dir = walk_parents(t, path, parts, n, err);
    if (!dir) {
        rc = -1;
        goto out;
    }
    tnode *existing = find_child(dir, parts[n - 1]);
    if (existing) {
        bool same = existing->kind == kind &&
                    (kind == NODE_DIR ||
                     ((kind == NODE_FILE || kind == NODE_DIR_DIGEST) && rev2_digest_equal(&existing->digest, d) &&
                      existing->executable == executable) ||
                     (kind == NODE_SYMLINK && strcmp(existing->target, target) == 0));
        if (!same)
            rc = gmb_fail(err, "\"%s\" is given twice with different contents", path);
        goto out;
    }
    tnode *node = add_child(t, dir, parts[n - 1], kind);
    if (kind == NODE_FILE || kind == NODE_DIR_DIGEST) {
        node->digest = *d;
        node->executable = executable;
    } else if (kind == NODE_SYMLINK) {
        node->target = gmb_arena_strdup(t->arena, target);
    }
out:
    rev2_path_parts_free(parts, n);
    return rc;
}

int rev2_tree_add_file(rev2_tree *t, const char *path, const rev2_digest *d, bool executable, char **err)
{
    return add_entry(t, path, NODE_FILE, d, executable, NULL, err);
}

int rev2_tree_add_symlink(rev2_tree *t, const char *path, const char *target, char **err)
{
    return add_entry(t, path, NODE_SYMLINK, NULL, false, target, err);
}

int rev2_tree_add_dir(rev2_tree *t, const char *path, char **err)
{
    return add_entry(t, path, NODE_DIR, NULL, false, NULL, err);
}

int rev2_tree_add_dir_digest(rev2_tree *t, const char *path, const rev2_digest *d, char **err)
{
    return add_entry(t, path, NODE_DIR_DIGEST, d, false, NULL, err);
}

int rev2_tree_add_local(rev2_tree *t, const char *local, const char *rel, rev2_tree_file_cb on_file, void *user,
                        char **err)
{
    struct stat st;
    if (lstat(local, &st) < 0)
        return gmb_fail(err, "cannot stat %s: %s", local, strerror(errno));
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(local, target, sizeof target - 1);
        if (n < 0)
            return gmb_fail(err, "cannot read link %s: %s", local, strerror(errno));
        target[n] = '\0';
        return rev2_tree_add_symlink(t, rel, target, err);
    }
    if (S_ISREG(st.st_mode)) {
        rev2_digest dg;
        int hr = rev2_digest_of_file(local, &dg);
        if (hr < 0)
            return gmb_fail(err, "cannot read %s: %s", local, strerror(-hr));
        if (rev2_tree_add_file(t, rel, &dg, (st.st_mode & S_IXUSR) != 0, err) < 0)
            return -1;
        if (on_file)
            on_file(user, local, &dg);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return gmb_fail(err, "%s is neither a file, a directory nor a symlink", local);

    DIR *d = opendir(local);
    if (!d)
        return gmb_fail(err, "cannot list %s: %s", local, strerror(errno));
    int rc = rev2_tree_add_dir(t, rel, err);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *lpath = gmb_format("%s/%s", local, e->d_name);
        char *rpath = gmb_format("%s%s%s", rel, *rel ? "/" : "", e->d_name);
        rc = rev2_tree_add_local(t, lpath, rpath, on_file, user, err);
        free(lpath);
        free(rpath);
    }
    closedir(d);
    return rc;
}

int rev2_tree_add_local_dir(rev2_tree *t, const char *local_dir, char **err)
{
    return rev2_tree_add_local(t, local_dir, "", NULL, NULL, err);
}

static int by_name(const void *a, const void *b)
{
    /* REv2 sorts by name as byte strings (UTF-8 code unit order). */
    return strcmp((*(tnode *const *)a)->name, (*(tnode *const *)b)->name);
}

static void remember_blob(rev2_tree *t, uint8_t *data, const rev2_digest *d)
{
    if (!digest_set_add(&t->blob_digests, d)) { /* an identical subtree's */
        free(data);
        return;
    }
    if (t->n_blobs == t->cap_blobs) {
        t->cap_blobs = t->cap_blobs ? t->cap_blobs * 2 : 8;
        t->blobs = gmb_realloc(t->blobs, t->cap_blobs * sizeof *t->blobs);
        t->blob_data = gmb_realloc(t->blob_data, t->cap_blobs * sizeof *t->blob_data);
    }
    t->blob_data[t->n_blobs] = data;
    t->blobs[t->n_blobs] = (rev2_blob){.digest = *d, .data = data};
    t->n_blobs++;
}

/* Post-order: children's digests are known before their parent is built. */
static void finish_dir(rev2_tree *t, tnode *dir)
{
    if (dir->n_children > 1)
        qsort(dir->children, dir->n_children, sizeof *dir->children, by_name);
    dir->index = NULL; /* the order it numbered is gone */
    rev2_dir_entry *entries = gmb_arena_calloc(t->arena, (dir->n_children + 1) * sizeof *entries);
    for (size_t i = 0; i < dir->n_children; i++) {
        tnode *c = dir->children[i];
        rev2_dir_entry *e = &entries[i];
        e->name = c->name;
        if (c->kind == NODE_DIR)
            finish_dir(t, c);
        if (c->kind == NODE_DIR || c->kind == NODE_DIR_DIGEST) {
            e->kind = REV2_DIR_DIRECTORY;
            e->digest = &c->digest;
        } else if (c->kind == NODE_FILE) {
            e->kind = REV2_DIR_FILE;
            e->digest = &c->digest;
            e->executable = c->executable;
            t->files++;
        } else {
            e->kind = REV2_DIR_SYMLINK;
            e->target = c->target;
            t->symlinks++;
        }
    }
    size_t len;
    uint8_t *bytes = rev2_directory_encode(entries, dir->n_children, &len);
    rev2_digest_of_bytes(bytes, len, &dir->digest);
    remember_blob(t, bytes, &dir->digest);
    t->dirs++;
}

void rev2_tree_finish(rev2_tree *t, rev2_digest *root)
{
    if (!t->finished) {
        finish_dir(t, &t->root);
        t->finished = true;
        /* Post-order put the root last; callers expect it first. */
        for (size_t i = 0; i < t->n_blobs; i++) {
            if (rev2_digest_equal(&t->blobs[i].digest, &t->root.digest)) {
                rev2_blob b = t->blobs[i];
                uint8_t *d = t->blob_data[i];
                memmove(&t->blobs[1], &t->blobs[0], i * sizeof *t->blobs);
                memmove(&t->blob_data[1], &t->blob_data[0], i * sizeof *t->blob_data);
                t->blobs[0] = b;
                t->blob_data[0] = d;
                break;
            }
        }
    }
    *root = t->root.digest;
}

size_t rev2_tree_directory_blobs(const rev2_tree *t, const rev2_blob **blobs)
{
    *blobs = t->blobs;
    return t->n_blobs;
}

void rev2_tree_counts(const rev2_tree *t, size_t *files, size_t *symlinks, size_t *dirs)
{
    *files = t->files;
    *symlinks = t->symlinks;
    *dirs = t->dirs;
}

void rev2_tree_free(rev2_tree *t)
{
    if (!t)
        return;
    gmb_arena_free(t->arena);
    digest_set_free(&t->blob_digests);
    for (size_t i = 0; i < t->n_blobs; i++)
        free(t->blob_data[i]);
    free(t->blob_data);
    free(t->blobs);
    free(t);
}
