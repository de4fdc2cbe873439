/* fuzz_view_tree: the FUSE view (fusefs/view) over a Directory or Tree
 * from the CAS, without mounting: anyone may write Buildbarn's CAS, and
 * the view lists what it finds there.
 *
 * Input: one blob. It is put into the store and browsed as
 *   cas/blobs/sha256/directory/<hash>-<size>/
 *   cas/blobs/sha256/tree/<hash>-<size>/
 * (and under an instance name, cas/fuzz/blobs/...); when it decodes as a
 * Tree, its root and children are put into the store too (as a client
 * uploading an output directory would), and the root is also browsed as
 * a Directory, so subdirectories resolve through the store. Every level
 * is listed, looked up and stat'ed down to 4 levels. */
#include "fuzz_view.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_view_init("view-tree");
    return 0;
}

static void browse(gmb_view *v, const char *instance, const char *kind, const rev2_digest *d)
{
    char name[REV2_DIGEST_STR_LEN];
    snprintf(name, sizeof name, "%s-%lld", d->hash, (long long)d->size);
    const char *path[] = {"cas", instance, "blobs", "sha256", kind, name};
    const char *plain[] = {"cas", "blobs", "sha256", kind, name};
    view_node *n = instance ? fuzz_lookup_path(v, path, 6) : fuzz_lookup_path(v, plain, 5);
    FUZZ_CHECK(n != NULL, "%s/%s cannot be looked up", kind, name);
    fuzz_getattr(v, n);
    fuzz_walk(v, n->ino, 4, 2000);
    /* Listed twice: the second listing comes from the node, not the store. */
    fuzz_walk(v, n->ino, 0, 2000);
    fuzz_forget(v, n->ino);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rev2_digest d;
    fuzz_put(data, size, &d);
    Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, size, data);
    rev2_digest root;
    bool have_root = false;
    if (tree) {
        for (size_t i = 0; i < tree->n_children; i++) {
            rev2_digest child;
            fuzz_put_message((const ProtobufCMessage *)tree->children[i], &child);
        }
        if (tree->root) {
            fuzz_put_message((const ProtobufCMessage *)tree->root, &root);
            have_root = true;
        }
        rev2_msg_free(tree);
    }

    gmb_view *v = fuzz_view_get();
    browse(v, NULL, "directory", &d);
    browse(v, NULL, "tree", &d);
    browse(v, "fuzz", "tree", &d);
    if (have_root)
        browse(v, NULL, "directory", &root);
    fuzz_view_done(v);
    return 0;
}
