#include "rev2_output_list.h"

#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mem.h"
#include "rev2_tree_index.h"

/* Deeper than any real build output; keeps the recursion bounded. */
#define MAX_DEPTH 256

bool rev2_name_is_valid(const char *name)
{
    return name && *name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !strchr(name, '/');
}

bool rev2_output_path_is_valid(const char *path)
{
    if (!path || !*path || path[0] == '/')
        return false;
    for (const char *p = path;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rev2_directory_check(const Rev2Directory *d, char **err)
{
    size_t n = d->n_files + d->n_directories + d->n_symlinks;
    const char **names = gmb_calloc(n + 1, sizeof *names);
    size_t k = 0;
    rev2_digest dg;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d->n_files; i++) {
        names[k++] = d->files[i]->name;
        if (!rev2_digest_from_proto(d->files[i]->digest, &dg))
            rc = gmb_fail(err, "file \"%s\" has no valid digest", d->files[i]->name);
    }
    for (size_t i = 0; rc == 0 && i < d->n_directories; i++) {
        names[k++] = d->directories[i]->name;
        if (!rev2_digest_from_proto(d->directories[i]->digest, &dg))
            rc = gmb_fail(err, "directory \"%s\" has no valid digest", d->directories[i]->name);
    }
    for (size_t i = 0; rc == 0 && i < d->n_symlinks; i++)
        names[k++] = d->symlinks[i]->name;
    for (size_t i = 0; rc == 0 && i < k; i++)
        if (!rev2_name_is_valid(names[i]))
            rc = gmb_fail(err, "the name \"%s\" is not a single path component (empty, \".\", \"..\" or with \"/\")",
                          names[i] ? names[i] : "");
    if (rc == 0) {
        qsort(names, k, sizeof *names, compare_names);
        for (size_t i = 1; rc == 0 && i < k; i++)
            if (strcmp(names[i - 1], names[i]) == 0)
                rc = gmb_fail(err, "the name \"%s\" appears twice in one directory", names[i]);
    }
    free(names);
    return rc;
}

/* ---- The walk over one Tree ---- */

typedef struct {
    uint64_t outputs;  /* entries below (files, symlinks, directories), saturating */
    uint64_t bytes;    /* file bytes below, saturating */
    uint64_t suffixes; /* sum of "/<relative path>" lengths of the entries below */
    int state;         /* 0 unvisited, 1 being counted, 2 counted */
} dir_count;

typedef struct {
    const rev2_tree_index *ix;
    dir_count *counts; /* one per tree->children[i] */
    const char *top;   /* the output directory's path, for messages */
} tree_walk;

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Checks `d` and counts what lies below it, each distinct child once. */
static int count_dir(tree_walk *w, const Rev2Directory *d, int depth, dir_count *out, char **err)
{
    if (depth > MAX_DEPTH)
        return gmb_fail(err, "output directory %s nests deeper than %d levels", w->top, MAX_DEPTH);
    char *why = NULL;
    if (rev2_directory_check(d, &why) < 0) {
        gmb_fail(err, "output directory %s: %s", w->top, why);
        free(why);
        return -1;
    }
    out->outputs = d->n_files + d->n_symlinks + d->n_directories;
    out->bytes = 0;
    out->suffixes = 0;
    for (size_t i = 0; i < d->n_files; i++) {
        out->bytes = add_sat(out->bytes, (uint64_t)d->files[i]->digest->size_bytes);
        out->suffixes = add_sat(out->suffixes, strlen(d->files[i]->name) + 1);
    }
    for (size_t i = 0; i < d->n_symlinks; i++)
        out->suffixes = add_sat(out->suffixes, strlen(d->symlinks[i]->name) + 1);
    for (size_t i = 0; i < d->n_directories; i++) {
        rev2_digest dg;
        rev2_digest_from_proto(d->directories[i]->digest, &dg); /* checked above */
        ssize_t pos = rev2_tree_index_position(w->ix, &dg);
        if (pos < 0)
            return gmb_fail(err, "output directory %s: its Tree lacks the directory \"%s\"", w->top,
                            d->directories[i]->name);
        dir_count *c = &w->counts[pos];
        if (c->state == 1)
            return gmb_fail(err, "output directory %s: its Tree contains itself", w->top);
        if (c->state == 0) {
            c->state = 1;
            if (count_dir(w, w->ix->tree->children[pos], depth + 1, c, err) < 0)
                return -1;
            c->state = 2;
        }
        out->outputs = add_sat(out->outputs, c->outputs);
        out->bytes = add_sat(out->bytes, c->bytes);
        /* The directory's own entry, and its name in every path below it. */
        uint64_t name = strlen(d->directories[i]->name) + 1;
        out->suffixes = add_sat(out->suffixes, name);
        out->suffixes = add_sat(out->suffixes, c->outputs > UINT64_MAX / name ? UINT64_MAX : c->outputs * name);
        out->suffixes = add_sat(out->suffixes, c->suffixes);
    }
    return 0;
}

static rev2_output *push(rev2_output_list *l, size_t *cap)
{
    if (l->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        l->items = gmb_realloc(l->items, *cap * sizeof *l->items);
    }
    rev2_output *o = &l->items[l->n++];
    memset(o, 0, sizeof *o);
    return o;
}

/* Lists everything below `d` as <prefix>/<name>; counted (so bounded) before. */
static void expand_dir(const rev2_tree_index *ix, const Rev2Directory *d, const char *prefix, rev2_output_list *l,
                       size_t *cap)
{
    for (size_t i = 0; i < d->n_files; i++) {
        rev2_output *o = push(l, cap);
        o->kind = REV2_OUTPUT_FILE;
        o->path = gmb_format("%s/%s", prefix, d->files[i]->name);
        rev2_digest_from_proto(d->files[i]->digest, &o->digest);
        o->executable = d->files[i]->is_executable;
        l->file_bytes += (uint64_t)o->digest.size;
    }
    for (size_t i = 0; i < d->n_symlinks; i++) {
        rev2_output *o = push(l, cap);
        o->kind = REV2_OUTPUT_SYMLINK;
        o->path = gmb_format("%s/%s", prefix, d->symlinks[i]->name);
        o->target = gmb_strdup(d->symlinks[i]->target ? d->symlinks[i]->target : "");
    }
    for (size_t i = 0; i < d->n_directories; i++) {
        rev2_output *o = push(l, cap);
        o->kind = REV2_OUTPUT_DIRECTORY;
        o->path = gmb_format("%s/%s", prefix, d->directories[i]->name);
        rev2_digest dg;
        rev2_digest_from_proto(d->directories[i]->digest, &dg);
        expand_dir(ix, rev2_tree_index_find(ix, &dg), o->path, l, cap);
    }
}

static bool is_declared(const char *path, const char *const *declared, size_t n_declared)
{
    if (n_declared == 0)
        return true;
    for (size_t i = 0; i < n_declared; i++) {
        size_t n = strlen(declared[i]);
        if (strncmp(path, declared[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

/* A top-level output path: valid and declared. */
static int check_top(const char *what, const char *path, const char *const *declared, size_t n_declared, char **err)
{
    /* A path exactly as the action declared it is what its client asked
     * for (it may climb with ".." from the working directory); every other
     * path, and every name below an output directory, must be plain. */
    for (size_t i = 0; path && i < n_declared; i++)
        if (strcmp(path, declared[i]) == 0)
            return 0;
    if (!rev2_output_path_is_valid(path))
        return gmb_fail(err, "%s \"%s\" is not a relative path of plain names (empty, \".\", \"..\" or absolute)", what,
                        path ? path : "");
    if (!is_declared(path, declared, n_declared))
        return gmb_fail(err, "%s \"%s\" is not among the outputs the action declared", what, path);
    return 0;
}

static int over_limits(const rev2_output_limits *lim, uint64_t outputs, uint64_t bytes, char **err)
{
    if (outputs > lim->max_outputs)
        return gmb_fail(err, "the answer would carry more than %zu outputs (the limit)", lim->max_outputs);
    if (bytes > lim->max_bytes)
        return gmb_fail(err, "the answer would carry more than %llu bytes of outputs (the limit)",
                        (unsigned long long)lim->max_bytes);
    return 0;
}

static int add_directory(const Rev2OutputDirectory *od, const rev2_output_limits *lim, rev2_tree_fetch_fn fetch,
                         void *fetch_user, rev2_output_list *l, size_t *cap, char **err)
{
    rev2_digest td;
    if (!rev2_digest_from_proto(od->tree_digest, &td))
        return gmb_fail(err, "output directory %s has no valid tree digest", od->path);
    char *why = NULL;
    Rev2Tree *tree = fetch(fetch_user, &td, &why);
    if (!tree) {
        gmb_fail(err, "output directory %s: %s", od->path, why ? why : "its Tree cannot be fetched");
        free(why);
        return -1;
    }
    if (!tree->root) {
        rev2_msg_free(tree);
        return gmb_fail(err, "output directory %s: its Tree has no root", od->path);
    }
    rev2_tree_index ix;
    rev2_tree_index_init(&ix, tree);
    tree_walk w = {&ix, gmb_calloc(tree->n_children + 1, sizeof *w.counts), od->path};
    dir_count root = {0};
    int rc = count_dir(&w, tree->root, 0, &root, err);
    if (rc == 0)
        rc = over_limits(lim, add_sat(add_sat(l->n, 1), root.outputs), add_sat(l->file_bytes, root.bytes), err);
    uint64_t prefix = strlen(od->path);
    uint64_t max_path_bytes = lim->max_path_bytes ? lim->max_path_bytes : REV2_OUTPUT_DEFAULT_MAX_PATH_BYTES;
    uint64_t path_bytes =
        add_sat(root.suffixes, root.outputs > UINT64_MAX / (prefix + 1) ? UINT64_MAX : root.outputs * prefix);
    if (rc == 0 && path_bytes > max_path_bytes)
        rc = gmb_fail(err, "output directory %s: its paths would take more than %llu bytes (the limit)", od->path,
                      (unsigned long long)max_path_bytes);
    if (rc == 0) {
        rev2_output *o = push(l, cap);
        o->kind = REV2_OUTPUT_DIRECTORY;
        o->path = gmb_strdup(od->path);
        expand_dir(&ix, tree->root, od->path, l, cap);
    }
    free(w.counts);
    rev2_tree_index_free(&ix);
    rev2_msg_free(tree);
    return rc;
}

static bool same_output(const rev2_output *a, const rev2_output *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == REV2_OUTPUT_FILE)
        return rev2_digest_equal(&a->digest, &b->digest) && a->executable == b->executable;
    if (a->kind == REV2_OUTPUT_SYMLINK)
        return strcmp(a->target, b->target) == 0;
    return true;
}

static void output_clear(rev2_output *o)
{
    free(o->path);
    free(o->target);
}

static _Thread_local const rev2_output *sorting_outputs;

static int compare_by_path(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(sorting_outputs[i].path, sorting_outputs[j].path);
    return c ? c : (i > j) - (i < j); /* stable: the first report wins */
}

/* Overlapping declared outputs report one file under several of them:
 * keep the first report of each path, refuse a path that names two
 * different things. */
static int drop_duplicates(rev2_output_list *l, char **err)
{
    size_t *order = gmb_calloc(l->n + 1, sizeof *order);
    for (size_t i = 0; i < l->n; i++)
        order[i] = i;
    sorting_outputs = l->items;
    qsort(order, l->n, sizeof *order, compare_by_path);
    sorting_outputs = NULL;
    bool *drop = gmb_calloc(l->n + 1, sizeof *drop);
    int rc = 0;
    for (size_t k = 1; rc == 0 && k < l->n; k++) {
        const rev2_output *first = &l->items[order[k - 1]], *again = &l->items[order[k]];
        if (strcmp(first->path, again->path) != 0)
            continue;
        if (!same_output(first, again))
            rc = gmb_fail(err, "output \"%s\" is reported twice with different contents", again->path);
        drop[order[k]] = true;
        order[k] = order[k - 1]; /* compare later repeats with the first */
    }
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (drop[i]) {
            if (l->items[i].kind == REV2_OUTPUT_FILE)
                l->file_bytes -= (uint64_t)l->items[i].digest.size;
            output_clear(&l->items[i]);
        } else {
            l->items[kept++] = l->items[i];
        }
    }
    l->n = kept;
    free(drop);
    free(order);
    return rc;
}

int rev2_output_list_build(const Rev2ActionResult *r, const char *const *declared, size_t n_declared,
                           const rev2_output_limits *limits, rev2_tree_fetch_fn fetch, void *fetch_user,
                           rev2_output_list *out, char **err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int rc = over_limits(limits, r->n_output_files + r->n_output_symlinks, 0, err);
    for (size_t i = 0; rc == 0 && i < r->n_output_files; i++) {
        const Rev2OutputFile *f = r->output_files[i];
        rev2_digest d;
        rc = check_top("output file", f->path, declared, n_declared, err);
        if (rc == 0 && !rev2_digest_from_proto(f->digest, &d))
            rc = gmb_fail(err, "output file %s has no valid digest", f->path);
        if (rc == 0 &&
            (rc = over_limits(limits, add_sat(out->n, 1), add_sat(out->file_bytes, (uint64_t)d.size), err)) == 0) {
            rev2_output *o = push(out, &cap);
            o->kind = REV2_OUTPUT_FILE;
            o->path = gmb_strdup(f->path);
            o->digest = d;
            o->executable = f->is_executable;
            o->contents = f->contents.len == (size_t)d.size && d.size > 0 ? &f->contents : NULL;
            out->file_bytes += (uint64_t)d.size;
        }
    }
    for (size_t i = 0; rc == 0 && i < r->n_output_symlinks; i++) {
        const Rev2OutputSymlink *s = r->output_symlinks[i];
        rc = check_top("output symlink", s->path, declared, n_declared, err);
        if (rc == 0) {
            rev2_output *o = push(out, &cap);
            o->kind = REV2_OUTPUT_SYMLINK;
            o->path = gmb_strdup(s->path);
            o->target = gmb_strdup(s->target ? s->target : "");
        }
    }
    for (size_t i = 0; rc == 0 && i < r->n_output_directories; i++) {
        const Rev2OutputDirectory *od = r->output_directories[i];
        rc = check_top("output directory", od->path, declared, n_declared, err);
        if (rc == 0)
            rc = add_directory(od, limits, fetch, fetch_user, out, &cap, err);
    }
    if (rc == 0)
        rc = drop_duplicates(out, err);
    if (rc < 0)
        rev2_output_list_free(out);
    return rc;
}

void rev2_output_list_free(rev2_output_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        output_clear(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}
