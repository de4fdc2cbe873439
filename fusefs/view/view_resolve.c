/* view_resolve: what each kind of node contains. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "rev2_engine.h"
#include "rev2_output_list.h"
#include "view_action.h"
#include "view_internal.h"
#include "mem.h"

/* Instance name components Buildbarn reserves (besides "blobs", which
 * ends the instance name here). */
static const char *const reserved_components[] = {
    "uploads", "actions", "actionResults", "operations", "capabilities", "compressed-blobs",
};

static const char *const cas_kind_names[] = {"file", "executable", "directory", "tree"};

/* ---- Node construction: init callbacks for view_table_intern ---- */

typedef struct {
    view_kind kind;
    const char *instance;
    rev2_digest digest;
    bool executable;
    view_cas_kind cas_kind;
    const char *target;
    const char *name;
    bool short_lived;
    view_tree *tree;
    const Rev2Directory *listing;
} node_spec;

static void init_node(view_node *n, void *arg)
{
    const node_spec *s = arg;
    n->kind = s->kind;
    n->instance = gmb_strdup(s->instance ? s->instance : "");
    n->digest = s->digest;
    n->executable = s->executable;
    n->cas_kind = s->cas_kind;
    n->target = s->target ? gmb_strdup(s->target) : NULL;
    n->name = s->name ? gmb_strdup(s->name) : NULL;
    n->short_lived = s->short_lived;
    if (s->tree) {
        n->tree = s->tree;
        s->tree->refs++;
        n->listing = s->listing;
    }
}

static view_node *intern(gmb_view *v, const char *key, const node_spec *spec)
{
    return view_table_intern(&v->table, key, init_node, (void *)spec);
}

static view_node *intern_file(gmb_view *v, const char *instance, const rev2_digest *d, bool exec)
{
    char *key = gmb_format("F|%s|%s-%lld|%d", instance, d->hash, (long long)d->size, exec);
    node_spec s = {.kind = VN_FILE, .instance = instance, .digest = *d, .executable = exec};
    view_node *n = intern(v, key, &s);
    free(key);
    return n;
}

/* ---- Listings of Directory and Tree nodes (may fetch) ---- */

static view_tree *load_tree(cas_store *store, const char *instance, const rev2_digest *d)
{
    uint8_t *bytes = NULL;
    if (cas_store_read_all(store, instance, d, &bytes) < 0)
        return NULL;
    Rev2Tree *msg = build__bazel__remote__execution__v2__tree__unpack(NULL, (size_t)d->size, bytes);
    free(bytes);
    if (!msg || !msg->root) {
        rev2_msg_free(msg);
        return NULL;
    }
    view_tree *t = gmb_calloc(1, sizeof *t);
    t->refs = 1;
    t->msg = msg;
    rev2_tree_index_init(&t->index, msg);
    return t;
}

/* An action listed without a result may have one now. */
#define ACTION_RELIST_MS 1000

static bool action_listing_stale(gmb_view *v, const view_node *n)
{
    if (n->kind != VN_ACTION || !n->awaiting_result)
        return false;
    return view_results_has(v->results, n->instance, &n->digest) || rev2_now_ms() - n->built_ms >= ACTION_RELIST_MS;
}

static void retire_listing(view_node *n)
{
    n->retired = gmb_realloc(n->retired, (n->n_retired + 1) * sizeof *n->retired);
    n->retired[n->n_retired++] = n->owned_listing;
    n->owned_listing = NULL;
    n->listing = NULL;
}

/* A Directory from the CAS is listed only when its names are plain and
 * unique and its entries have digests (rev2_directory_check): anyone may
 * write the CAS, and a listing is what the kernel and every reader trust. */
static bool listable(const Rev2Directory *d, const char *what, const char *ds)
{
    char *why = NULL;
    if (!d) {
        GMB_ERROR("view", "cannot list %s %s: it has no root Directory", what, ds);
        return false;
    }
    if (rev2_directory_check(d, &why) < 0) {
        GMB_ERROR("view", "refusing to list %s %s: %s", what, ds, why);
        free(why);
        return false;
    }
    return true;
}

/* Makes sure a DIR, TREE or ACTION node has its listing. Lock held on
 * entry and exit; released while fetching. */
static int load_listing(gmb_view *v, view_node *n)
{
    if (n->listing && !action_listing_stale(v, n))
        return 0;
    if (n->listing)
        retire_listing(n);
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&n->digest, ds);
    if (n->kind == VN_DIR && n->tree) {
        const Rev2Directory *d = rev2_tree_index_find(&n->tree->index, &n->digest);
        if (!d) {
            GMB_ERROR("view", "Directory %s is missing from its Tree", ds);
            return -EIO;
        }
        if (!listable(d, "Directory", ds))
            return -EIO;
        n->listing = d;
        return 0;
    }
    char *instance = gmb_strdup(n->instance);
    rev2_digest digest = n->digest;
    view_kind kind = n->kind;
    Rev2ActionResult *known = kind == VN_ACTION ? view_results_get(v->results, instance, &digest) : NULL;
    pthread_mutex_unlock(&v->lock);

    view_tree *tree = NULL;
    Rev2Directory *dir = NULL;
    bool built = true, has_result = true;
    if (kind == VN_ACTION) {
        /* An action's directory is made of blobs put into the store. */
        char *why = NULL;
        rev2_digest action = digest;
        built = view_action_build(v->store, instance, &action, known, &digest, &has_result, &why) == 0;
        if (!built) {
            GMB_ERROR("view", "action %s on instance \"%s\": %s", ds, instance, why);
            free(why);
        }
        rev2_msg_free(known);
    }
    if (kind == VN_TREE) {
        tree = load_tree(v->store, instance, &digest);
    } else if (built) {
        uint8_t *bytes = NULL;
        if (cas_store_read_all(v->store, instance, &digest, &bytes) == 0)
            dir = build__bazel__remote__execution__v2__directory__unpack(NULL, (size_t)digest.size, bytes);
        free(bytes);
    }
    free(instance);

    pthread_mutex_lock(&v->lock);
    if (!tree && !dir) {
        if (built)
            GMB_ERROR("view", "cannot list %s %s: not fetched or not decodable",
                      kind == VN_TREE     ? "Tree"
                      : kind == VN_ACTION ? "the directory of action"
                                          : "Directory",
                      ds);
        return -EIO;
    }
    const Rev2Directory *listing = tree ? tree->msg->root : dir;
    if (!listable(listing,
                  kind == VN_TREE     ? "Tree"
                  : kind == VN_ACTION ? "the directory of action"
                                      : "Directory",
                  ds)) {
        view_tree_unref(tree);
        rev2_msg_free(dir);
        return -EIO;
    }
    if (n->listing) { /* another thread got there first */
        view_tree_unref(tree);
        rev2_msg_free(dir);
        return 0;
    }
    if (kind == VN_ACTION) {
        /* Until it has a result, the kernel must not cache its listing or
         * the names it lacks (output/, result.json...). */
        n->awaiting_result = !has_result;
        n->short_lived = !has_result;
        n->built_ms = rev2_now_ms();
    }
    if (tree) {
        n->tree = tree;
        n->listing = tree->msg->root;
    } else {
        n->owned_listing = dir;
        n->listing = dir;
    }
    return 0;
}

/* The child `name` of a loaded DIR/TREE listing, interned. */
static view_node *directory_child(gmb_view *v, view_node *parent, const char *name)
{
    const Rev2Directory *d = parent->listing;
    rev2_digest dg;
    for (size_t i = 0; i < d->n_files; i++)
        if (strcmp(d->files[i]->name, name) == 0 && rev2_digest_from_proto(d->files[i]->digest, &dg))
            return intern_file(v, parent->instance, &dg, d->files[i]->is_executable);
    for (size_t i = 0; i < d->n_directories; i++) {
        if (strcmp(d->directories[i]->name, name) != 0 || !rev2_digest_from_proto(d->directories[i]->digest, &dg))
            continue;
        /* Directories are per path (keyed by their parent) so the kernel
         * never sees one directory under two names. */
        char *key = gmb_format("D|%llx|%s|%s-%lld", (unsigned long long)parent->ino, name, dg.hash, (long long)dg.size);
        node_spec s = {.kind = VN_DIR, .instance = parent->instance, .digest = dg, .tree = parent->tree};
        view_node *n = intern(v, key, &s);
        free(key);
        return n;
    }
    for (size_t i = 0; i < d->n_symlinks; i++) {
        if (strcmp(d->symlinks[i]->name, name) != 0)
            continue;
        char *key = gmb_format("L|%llx|%s", (unsigned long long)parent->ino, name);
        node_spec s = {.kind = VN_SYMLINK, .instance = parent->instance, .target = d->symlinks[i]->target};
        view_node *n = intern(v, key, &s);
        free(key);
        return n;
    }
    return NULL;
}

/* ---- The cas/ path ---- */

static view_node *cas_child(gmb_view *v, view_node *parent, const char *name, int *err)
{
    const char *inst = parent->instance;
    char *key = NULL;
    node_spec s = {.instance = inst};
    switch (parent->kind) {
    case VN_CAS:
    case VN_CAS_PREFIX:
        if (strcmp(name, "blobs") == 0) {
            s.kind = VN_CAS_BLOBS;
            key = gmb_format("B|%s", inst);
            break;
        }
        for (size_t i = 0; i < sizeof reserved_components / sizeof *reserved_components; i++)
            if (strcmp(name, reserved_components[i]) == 0)
                return NULL;
        s.kind = VN_CAS_PREFIX;
        char *longer = *inst ? gmb_format("%s/%s", inst, name) : gmb_strdup(name);
        key = gmb_format("P|%s", longer);
        s.instance = longer;
        view_node *n = intern(v, key, &s);
        free(longer);
        free(key);
        return n;
    case VN_CAS_BLOBS:
        if (strcmp(name, "sha256") != 0)
            return NULL;
        s.kind = VN_CAS_DIGEST_FN;
        key = gmb_format("S|%s", inst);
        break;
    case VN_CAS_DIGEST_FN:
        for (int k = 0; k < 4; k++) {
            if (strcmp(name, cas_kind_names[k]) == 0) {
                s.kind = VN_CAS_KIND;
                s.cas_kind = (view_cas_kind)k;
                key = gmb_format("K|%s|%d", inst, k);
            }
        }
        if (!key)
            return NULL;
        break;
    case VN_CAS_KIND: {
        rev2_digest d;
        /* bb_clientd's names: <hash>-<size>. */
        if (!strchr(name, '-') || !rev2_digest_parse(name, &d)) {
            *err = -ENOENT;
            return NULL;
        }
        switch (parent->cas_kind) {
        case CAS_KIND_FILE:
        case CAS_KIND_EXECUTABLE:
            return intern_file(v, inst, &d, parent->cas_kind == CAS_KIND_EXECUTABLE);
        case CAS_KIND_DIRECTORY:
            s.kind = VN_DIR;
            key = gmb_format("D|cas|%s|%s", inst, name);
            break;
        case CAS_KIND_TREE:
            s.kind = VN_TREE;
            key = gmb_format("T|%s|%s", inst, name);
            break;
        }
        s.digest = d;
        break;
    }
    default:
        return NULL;
    }
    view_node *n = intern(v, key, &s);
    free(key);
    return n;
}

static const char *default_instance(gmb_view *v)
{
    rev2_client *remote = cas_store_remote(v->store);
    return remote ? rev2_client_default_instance(remote) : "";
}

/* An action digest in bb_clientd's file-name form: <hash>-<size>. */
static bool action_name(const char *name, rev2_digest *d)
{
    return strlen(name) > REV2_HASH_HEX_LEN && name[REV2_HASH_HEX_LEN] == '-' && rev2_digest_parse(name, d);
}

static view_node *action_node(gmb_view *v, const char *instance, const rev2_digest *d)
{
    char *key = gmb_format("A|%s|%s-%lld", instance, d->hash, (long long)d->size);
    node_spec s = {.kind = VN_ACTION, .instance = instance, .digest = *d};
    view_node *n = intern(v, key, &s);
    free(key);
    return n;
}

static view_node *actions_child(gmb_view *v, view_node *parent, const char *name)
{
    rev2_digest d;
    if (parent->kind == VN_ACTIONS)
        return action_name(name, &d) ? action_node(v, parent->instance, &d) : NULL;
    /* by-instance/<hash>-<size> is the action on the empty instance name. */
    if ((parent->kind == VN_BY_INSTANCE_PREFIX || parent->kind == VN_BY_INSTANCE) && action_name(name, &d))
        return action_node(v, parent->instance, &d);
    /* by-instance/<components...>: every other name extends the instance name. */
    char *instance = *parent->instance ? gmb_format("%s/%s", parent->instance, name) : gmb_strdup(name);
    char *key = gmb_format("I|%s", instance);
    node_spec s = {.kind = VN_BY_INSTANCE_PREFIX, .instance = instance};
    view_node *n = intern(v, key, &s);
    free(key);
    free(instance);
    return n;
}

/* requests/<name>: a symlink to the action, keyed by its target so a
 * name re-pointed by a retried request gets a new inode. */
static view_node *request_node(gmb_view *v, const view_request *r)
{
    char *target = view_request_target(r);
    char *key = gmb_format("R|%s|%s", r->name, target);
    node_spec s = {.kind = VN_SYMLINK, .instance = r->instance, .target = target, .name = r->name, .short_lived = true};
    view_node *n = intern(v, key, &s);
    free(key);
    free(target);
    return n;
}

static view_node *requests_child(gmb_view *v, const char *name)
{
    view_request r;
    if (!view_requests_find(v->requests, name, &r))
        return NULL;
    view_node *n = request_node(v, &r);
    view_request_clear(&r);
    return n;
}

static view_node *root_child(gmb_view *v, const char *name)
{
    node_spec s = {.instance = ""};
    if (strcmp(name, "cas") == 0) {
        s.kind = VN_CAS;
        return intern(v, "C", &s);
    }
    if (strcmp(name, "actions") == 0) {
        s.kind = VN_ACTIONS;
        s.instance = default_instance(v);
        return intern(v, "X", &s);
    }
    if (strcmp(name, "by-instance") == 0) {
        s.kind = VN_BY_INSTANCE;
        return intern(v, "Y", &s);
    }
    if (strcmp(name, "requests") == 0) {
        s.kind = VN_REQUESTS;
        s.short_lived = true;
        return intern(v, "Q", &s);
    }
    return NULL;
}

int view_lookup(gmb_view *v, uint64_t parent_ino, const char *name, view_node **child)
{
    pthread_mutex_lock(&v->lock);
    view_node *parent = view_table_get(&v->table, parent_ino);
    view_node *n = NULL;
    int err = -ENOENT;
    if (!parent) {
        err = -ESTALE;
    } else if (parent->kind == VN_ROOT) {
        n = root_child(v, name);
    } else if (parent->kind == VN_ACTIONS || parent->kind == VN_BY_INSTANCE || parent->kind == VN_BY_INSTANCE_PREFIX) {
        n = actions_child(v, parent, name);
    } else if (parent->kind == VN_REQUESTS) {
        n = requests_child(v, name);
    } else if (parent->kind == VN_DIR || parent->kind == VN_TREE || parent->kind == VN_ACTION) {
        err = load_listing(v, parent);
        n = err == 0 ? directory_child(v, parent, name) : NULL;
        if (err == 0)
            err = -ENOENT;
    } else if (parent->kind == VN_FILE || parent->kind == VN_SYMLINK) {
        err = -ENOTDIR;
    } else {
        n = cas_child(v, parent, name, &err);
    }
    if (n) {
        n->nlookup++;
        *child = n;
        err = 0;
    }
    pthread_mutex_unlock(&v->lock);
    return err;
}

static void add_entry(view_entry **list, size_t *n, size_t *cap, const char *name, view_node *node)
{
    if (!node) /* listings are checked first; this only guards against a slip */
        return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = gmb_realloc(*list, *cap * sizeof **list);
    }
    node->nlookup++; /* held for the caller until view_release_entries */
    (*list)[(*n)++] = (view_entry){name, node};
}

void view_release_entries(gmb_view *v, view_entry *entries, size_t n)
{
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < n; i++)
        view_table_forget(&v->table, entries[i].node->ino, 1);
    pthread_mutex_unlock(&v->lock);
    free(entries);
}

int view_list(gmb_view *v, uint64_t ino, view_entry **entries, size_t *count)
{
    *entries = NULL;
    *count = 0;
    size_t cap = 0;
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, ino);
    int err = 0;
    if (!n) {
        err = -ESTALE;
    } else if (n->kind == VN_ROOT) {
        static const char *const top[] = {"actions", "by-instance", "cas", "requests"};
        for (size_t i = 0; i < sizeof top / sizeof *top; i++)
            add_entry(entries, count, &cap, top[i], root_child(v, top[i]));
    } else if (n->kind == VN_REQUESTS) {
        view_request *reqs;
        size_t n_reqs = view_requests_list(v->requests, &reqs);
        for (size_t i = 0; i < n_reqs; i++) {
            view_node *link = request_node(v, &reqs[i]);
            add_entry(entries, count, &cap, link->name, link);
            view_request_clear(&reqs[i]);
        }
        free(reqs);
    } else if (n->kind == VN_CAS_DIGEST_FN) {
        for (int k = 0; k < 4; k++) {
            int e2 = 0;
            add_entry(entries, count, &cap, cas_kind_names[k], cas_child(v, n, cas_kind_names[k], &e2));
        }
    } else if (n->kind == VN_DIR || n->kind == VN_TREE || n->kind == VN_ACTION) {
        err = load_listing(v, n);
        const Rev2Directory *d = err == 0 ? n->listing : NULL;
        for (size_t i = 0; d && i < d->n_directories; i++)
            add_entry(entries, count, &cap, d->directories[i]->name, directory_child(v, n, d->directories[i]->name));
        for (size_t i = 0; d && i < d->n_files; i++)
            add_entry(entries, count, &cap, d->files[i]->name, directory_child(v, n, d->files[i]->name));
        for (size_t i = 0; d && i < d->n_symlinks; i++)
            add_entry(entries, count, &cap, d->symlinks[i]->name, directory_child(v, n, d->symlinks[i]->name));
    } else if (n->kind == VN_FILE || n->kind == VN_SYMLINK) {
        err = -ENOTDIR;
    }
    /* cas/, instance prefixes, blobs/, <kind>/, actions/ and by-instance/
     * list as empty: their names are looked up exactly (as in bb_clientd). */
    pthread_mutex_unlock(&v->lock);
    if (err) {
        view_release_entries(v, *entries, *count);
        *entries = NULL;
        *count = 0;
    }
    return err;
}

/* Entries of requests/ come and go; the kernel asks again after this. */
#define SHORT_LIVED_TIMEOUT_S 1.0

double view_entry_timeout(const gmb_view *v, const view_node *n)
{
    return n->short_lived ? SHORT_LIVED_TIMEOUT_S : v->opts.entry_timeout_s;
}

double view_negative_timeout(gmb_view *v, uint64_t parent)
{
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, parent);
    double t = n && n->short_lived ? 0 : v->opts.entry_timeout_s;
    pthread_mutex_unlock(&v->lock);
    return t;
}

void view_action_result(gmb_view *v, const char *instance, const rev2_digest *action, const Rev2ActionResult *result)
{
    pthread_mutex_lock(&v->lock);
    view_results_put(v->results, instance, action, result);
    pthread_mutex_unlock(&v->lock);
}

void view_name_request(gmb_view *v, const char *request_id, const char *instance, const rev2_digest *action)
{
    char *name = view_request_file_name(request_id);
    if (name)
        view_requests_put(v->requests, name, instance, action);
    free(name);
}

void view_stat(const gmb_view *v, const view_node *n, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = n->ino;
    st->st_uid = v->uid;
    st->st_gid = v->gid;
    st->st_atim = st->st_mtim = st->st_ctim = v->born;
    st->st_blksize = 1 << 17;
    switch (n->kind) {
    case VN_FILE:
        st->st_mode = S_IFREG | (n->executable ? 0555 : 0444);
        st->st_nlink = 1;
        st->st_size = n->digest.size;
        st->st_blocks = (n->digest.size + 511) / 512;
        break;
    case VN_SYMLINK:
        st->st_mode = S_IFLNK | 0777;
        st->st_nlink = 1;
        st->st_size = (off_t)strlen(n->target);
        break;
    default:
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        break;
    }
}
