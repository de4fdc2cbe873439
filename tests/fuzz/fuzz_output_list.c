/* fuzz_output_list: an ActionResult and its Trees turned into the checked
 * output list every consumer uses (gateway/rev2/rev2_output_list.h).
 *
 * Input:
 *   1 byte   limits and mode: bits 0-1 pick max_outputs (100000, 1000, 10,
 *            1), bits 2-3 max_bytes (16 GiB, 1 MiB, 100, 0), bit 4 set:
 *            no declared outputs (n_declared = 0, nothing is refused as
 *            undeclared)
 *   4 bytes  big-endian length, then the ActionResult
 *   2 bytes  big-endian length, then the declared output paths, one a line
 *   rest     Trees, each a 4-byte big-endian length and the Tree
 * The fetch callback returns the Tree whose SHA-256 is the digest asked
 * for, else Tree number (digest size % count), decoded; none if there are
 * no Trees. Checked on success: what the header promises (limits, one
 * entry per path, names plain unless declared, the byte count). */
#include "fuzz_common.h"

#include "rev2_output_list.h"

#define MAX_TREES 64

typedef struct {
    const uint8_t *data[MAX_TREES];
    size_t len[MAX_TREES];
    rev2_digest digest[MAX_TREES];
    size_t n;
} trees;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static Rev2Tree *fetch(void *user, const rev2_digest *d, char **err)
{
    trees *t = user;
    if (t->n == 0) {
        *err = gmb_strdup("no such Tree");
        return NULL;
    }
    size_t pick = (size_t)((uint64_t)d->size % t->n);
    for (size_t i = 0; i < t->n; i++)
        if (rev2_digest_equal(&t->digest[i], d))
            pick = i;
    Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, t->len[pick], t->data[pick]);
    if (!tree)
        *err = gmb_strdup("not a Tree");
    return tree;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A path is acceptable if it is a plain relative path, or a declared path
 * exactly, or a plain path below an exactly declared output directory. */
static bool path_acceptable(const char *path, char **declared, size_t n_declared)
{
    if (rev2_output_path_is_valid(path)) {
        if (n_declared == 0)
            return true;
        for (size_t i = 0; i < n_declared; i++) {
            size_t n = strlen(declared[i]);
            if (strncmp(path, declared[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
                return true;
        }
    }
    for (size_t i = 0; i < n_declared; i++) {
        size_t n = strlen(declared[i]);
        if (strcmp(path, declared[i]) == 0)
            return true;
        if (strncmp(path, declared[i], n) == 0 && path[n] == '/' && rev2_output_path_is_valid(path + n + 1))
            return true;
    }
    return false;
}

static void check_list(const rev2_output_list *l, const rev2_output_limits *lim, char **declared, size_t n_declared)
{
    FUZZ_CHECK(l->n <= lim->max_outputs, "%zu outputs, limit %zu", l->n, lim->max_outputs);
    FUZZ_CHECK(l->file_bytes <= lim->max_bytes, "%llu bytes, limit %llu", (unsigned long long)l->file_bytes,
               (unsigned long long)lim->max_bytes);
    uint64_t bytes = 0;
    char **paths = gmb_calloc(l->n + 1, sizeof *paths);
    for (size_t i = 0; i < l->n; i++) {
        const rev2_output *o = &l->items[i];
        FUZZ_CHECK(o->path != NULL, "output %zu has no path", i);
        FUZZ_CHECK(path_acceptable(o->path, declared, n_declared), "output path \"%s\" passed the checks", o->path);
        paths[i] = o->path;
        switch (o->kind) {
        case REV2_OUTPUT_FILE:
            FUZZ_CHECK(rev2_hash_is_valid(o->digest.hash) && o->digest.size >= 0, "file %s: bad digest", o->path);
            FUZZ_CHECK(!o->contents || o->contents->len == (size_t)o->digest.size, "file %s: inline bytes of %zu",
                       o->path, o->contents->len);
            bytes += (uint64_t)o->digest.size;
            break;
        case REV2_OUTPUT_SYMLINK:
            FUZZ_CHECK(o->target != NULL, "symlink %s without a target", o->path);
            break;
        case REV2_OUTPUT_DIRECTORY:
            break;
        default:
            FUZZ_CHECK(false, "output %s of kind %d", o->path, (int)o->kind);
        }
    }
    FUZZ_CHECK(bytes == l->file_bytes, "file_bytes %llu, the files add up to %llu", (unsigned long long)l->file_bytes,
               (unsigned long long)bytes);
    qsort(paths, l->n, sizeof *paths, compare_strings);
    for (size_t i = 1; i < l->n; i++)
        FUZZ_CHECK(strcmp(paths[i - 1], paths[i]) != 0, "\"%s\" is listed twice", paths[i]);
    free(paths);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_outputs[] = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, 1000, 10, 1};
    static const uint64_t max_bytes[] = {REV2_OUTPUT_DEFAULT_MAX_BYTES, 1 << 20, 100, 0};
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    uint8_t mode = fuzz_u8(&c);
    rev2_output_limits lim = {max_outputs[mode & 3], max_bytes[(mode >> 2) & 3], 0};
    /* Known bug (tests/fuzz/crashes/output_list): the limits bound the
     * count of outputs, not the bytes of their paths; 1,000 outputs keep
     * a hostile Tree's expansion within memory. */
    if (fuzz_skip_known_bugs() && lim.max_outputs > 1000)
        lim.max_outputs = 1000;
    const uint8_t *ar_bytes;
    size_t ar_len;
    fuzz_slice(&c, 4, &ar_bytes, &ar_len);
    const uint8_t *decl_bytes;
    size_t decl_len;
    fuzz_slice(&c, 2, &decl_bytes, &decl_len);
    trees t = {.n = 0};
    while (c.left > 0 && t.n < MAX_TREES) {
        fuzz_slice(&c, 4, &t.data[t.n], &t.len[t.n]);
        rev2_digest_of_bytes(t.data[t.n] ? t.data[t.n] : (const uint8_t *)"", t.len[t.n], &t.digest[t.n]);
        t.n++;
    }

    Rev2ActionResult *r = build__bazel__remote__execution__v2__action_result__unpack(NULL, ar_len, ar_bytes);
    if (!r)
        return 0;
    /* Declared paths: one a line (empty lines are paths too). */
    char *text = gmb_strndup((const char *)(decl_bytes ? decl_bytes : (const uint8_t *)""), decl_len);
    char **declared = NULL;
    size_t n_declared = 0;
    if (!(mode & 0x10) && decl_len > 0) {
        for (char *p = text;;) {
            declared = gmb_realloc(declared, (n_declared + 1) * sizeof *declared);
            declared[n_declared++] = p;
            char *nl = strchr(p, '\n');
            if (!nl)
                break;
            *nl = '\0';
            p = nl + 1;
        }
    }

    rev2_output_list l;
    char *err = NULL;
    int rc = rev2_output_list_build(r, (const char *const *)declared, n_declared, &lim, fetch, &t, &l, &err);
    if (rc == 0) {
        check_list(&l, &lim, declared, n_declared);
        rev2_output_list_free(&l);
    } else {
        FUZZ_CHECK(rc == -1 && err != NULL, "failure without a reason");
        FUZZ_CHECK(l.n == 0 && l.items == NULL, "a failed list keeps entries");
        free(err);
    }
    /* The single-component check used by the view, on every Directory. */
    for (size_t i = 0; i < t.n; i++) {
        Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, t.len[i], t.data[i]);
        if (!tree)
            continue;
        for (size_t k = 0; k <= tree->n_children; k++) {
            const Rev2Directory *d = k < tree->n_children ? tree->children[k] : tree->root;
            char *why = NULL;
            if (d && rev2_directory_check(d, &why) < 0)
                free(why);
        }
        rev2_msg_free(tree);
    }
    free(declared);
    free(text);
    rev2_msg_free(r);
    return 0;
}
