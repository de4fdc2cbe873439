/* fuzz_view_action: an action's directory in the view
 * (actions/<hash>-<size>/, fusefs/view/view_action.h) built from a fuzzed
 * Action, Command and ActionResult, as `gomabarn mount` shows any action
 * and as the gateway hands its results over.
 *
 * Input:
 *   1 byte   bit 0: hand the ActionResult over (view_action_result)
 *   4 bytes  big-endian length, then the Action
 *   4 bytes  length, then the Command (stored as given)
 *   4 bytes  length, then the ActionResult
 *   rest     Trees, each a 4-byte length and the Tree
 * The digests are rewired so everything is found: the Action names the
 * Command and, as its input root, the first Tree's root; output directory
 * i names Tree i % count. Then actions/<digest>/ (and by-instance/) is
 * listed and walked, and action.json, command.json and result.json are
 * read back from the store and must be valid JSON. */
#include "fuzz_json.h"
#include "fuzz_view.h"

#define MAX_TREES 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_view_init("view-action");
    return 0;
}

static void check_json_file(gmb_view *v, uint64_t action_ino, const char *name)
{
    view_node *n = NULL;
    if (view_lookup(v, action_ino, name, &n) != 0)
        return;
    FUZZ_CHECK(n->kind == VN_FILE, "%s is not a file", name);
    uint8_t *bytes = NULL;
    int rc = cas_store_read_all(fuzz_store, n->instance, &n->digest, &bytes);
    FUZZ_CHECK(rc == 0, "%s is listed but not in the store (%d)", name, rc);
    size_t at = 0;
    const char *why = json_check(bytes, (size_t)n->digest.size, false, &at);
    FUZZ_CHECK(why == NULL, "%s is not valid JSON: %s at byte %zu", name, why, at);
    free(bytes);
    fuzz_forget(v, n->ino);
}

static void browse(gmb_view *v, const char *top, const rev2_digest *a, bool check_files)
{
    char name[REV2_DIGEST_STR_LEN];
    snprintf(name, sizeof name, "%s-%lld", a->hash, (long long)a->size);
    const char *path[] = {top, name};
    view_node *n = fuzz_lookup_path(v, path, 2);
    FUZZ_CHECK(n != NULL, "%s/%s cannot be looked up", top, name);
    fuzz_getattr(v, n);
    fuzz_walk(v, n->ino, 6, 4000);
    if (check_files) {
        check_json_file(v, n->ino, "action.json");
        check_json_file(v, n->ino, "command.json");
        check_json_file(v, n->ino, "result.json");
    }
    fuzz_forget(v, n->ino);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    uint8_t flags = fuzz_u8(&c);
    const uint8_t *action_bytes, *command_bytes, *result_bytes;
    size_t action_len, command_len, result_len;
    fuzz_slice(&c, 4, &action_bytes, &action_len);
    fuzz_slice(&c, 4, &command_bytes, &command_len);
    fuzz_slice(&c, 4, &result_bytes, &result_len);
    rev2_digest tree_d[MAX_TREES];
    size_t n_trees = 0;
    rev2_digest input_root = rev2_empty_digest;
    while (c.left > 0 && n_trees < MAX_TREES) {
        const uint8_t *t;
        size_t len;
        fuzz_slice(&c, 4, &t, &len);
        fuzz_put(t, len, &tree_d[n_trees]);
        Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, len, t);
        if (tree) {
            rev2_digest child;
            for (size_t i = 0; i < tree->n_children; i++)
                fuzz_put_message((const ProtobufCMessage *)tree->children[i], &child);
            if (tree->root && n_trees == 0)
                fuzz_put_message((const ProtobufCMessage *)tree->root, &input_root);
            rev2_msg_free(tree);
        }
        n_trees++;
    }
    rev2_digest empty; /* the input root when there is no Tree: the empty Directory */
    fuzz_put("", 0, &empty);

    Rev2Action *a = build__bazel__remote__execution__v2__action__unpack(NULL, action_len, action_bytes);
    if (!a)
        return 0;
    rev2_digest command_d;
    fuzz_put(command_bytes, command_len, &command_d);
    /* Rewire the Action to what the input holds (pointers restored
     * before the message is freed). */
    Rev2Digest cmd_p, root_p;
    rev2_digest_to_proto(&command_d, &cmd_p);
    rev2_digest_to_proto(&input_root, &root_p);
    Rev2Digest *old_cmd = a->command_digest, *old_root = a->input_root_digest;
    a->command_digest = &cmd_p;
    a->input_root_digest = &root_p;
    rev2_digest action_d;
    fuzz_put_message((const ProtobufCMessage *)a, &action_d);
    a->command_digest = old_cmd;
    a->input_root_digest = old_root;
    rev2_msg_free(a);

    gmb_view *v = fuzz_view_get();
    /* Results handed over by earlier inputs are forgotten: each input
     * decides whether its action has one. */
    pthread_mutex_lock(&v->lock);
    view_results_free(v->results);
    v->results = view_results_new();
    pthread_mutex_unlock(&v->lock);
    Rev2ActionResult *r = NULL;
    if (flags & 1)
        r = build__bazel__remote__execution__v2__action_result__unpack(NULL, result_len, result_bytes);
    if (r) {
        Rev2Digest *tree_p = gmb_calloc(r->n_output_directories + 1, sizeof *tree_p);
        Rev2Digest **old = gmb_calloc(r->n_output_directories + 1, sizeof *old);
        for (size_t i = 0; i < r->n_output_directories; i++) {
            old[i] = r->output_directories[i]->tree_digest;
            if (n_trees) {
                rev2_digest_to_proto(&tree_d[i % n_trees], &tree_p[i]);
                r->output_directories[i]->tree_digest = &tree_p[i];
            }
        }
        view_action_result(v, "", &action_d, r);
        for (size_t i = 0; i < r->n_output_directories; i++)
            r->output_directories[i]->tree_digest = old[i];
        free(tree_p);
        free(old);
        rev2_msg_free(r);
    }
    browse(v, "actions", &action_d, true);
    browse(v, "by-instance", &action_d, false);
    fuzz_view_done(v);
    return 0;
}
