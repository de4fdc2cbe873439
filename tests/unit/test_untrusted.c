/* Regression tests for what fuzzing found in bytes from Buildbarn and
 * clients (issue 17). The reproducers are files in tests/data/untrusted/,
 * written by make_reproducers.py with an encoder independent of ours:
 * - a Directory without a digest crashed the view when listed;
 * - Tree names ".." and "" escaped an output directory;
 * - a Tree of 2^40 paths (41 Directories) was walked path by path;
 * - a second finished Operation leaked the first one's error;
 * - empty bodies did pointer arithmetic on NULL. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cas_store.h"
#include "check.h"
#include "errmsg.h"
#include "pb_reader.h"
#include "rev2_exec_stream.h"
#include "rev2_output_list.h"
#include "view_internal.h"

static uint8_t *read_reproducer(const char *name, size_t *len)
{
    char *path = gmb_format("%s/%s", GMB_UNTRUSTED_DATA, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        exit(2);
    }
    uint8_t *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    free(path);
    return data;
}

/* ---- The view ---- */

static void listing_a_directory_without_digests_is_an_error_not_a_crash(void)
{
    char dir[] = "/tmp/gmb-untrusted-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *store_dir = gmb_format("%s/store", dir);
    cas_store_options so = {.dir = store_dir, .max_bytes = 1 << 20};
    char *err = NULL;
    cas_store *store = cas_store_open(&so, NULL, &err);
    CHECK(store != NULL);
    size_t len;
    uint8_t *blob = read_reproducer("directory_without_digest.bin", &len);
    CHECK_INT(len, 2);
    rev2_digest d;
    rev2_digest_of_bytes(blob, len, &d);
    CHECK_INT(cas_store_put(store, &d, blob, len), 0);

    view_options vo = {.mountpoint = dir};
    gmb_view *v = view_create(store, &vo, &err);
    CHECK(v != NULL);
    const char *path[] = {"cas", "blobs", "sha256", "directory"};
    uint64_t ino = 1; /* FUSE_ROOT_ID */
    for (size_t i = 0; i < 4; i++) {
        view_node *n = NULL;
        CHECK_INT(view_lookup(v, ino, path[i], &n), 0);
        ino = n ? n->ino : 0;
    }
    char name[REV2_DIGEST_STR_LEN];
    snprintf(name, sizeof name, "%s-%lld", d.hash, (long long)d.size);
    view_node *n = NULL;
    CHECK_INT(view_lookup(v, ino, name, &n), 0);
    view_entry *entries = NULL;
    size_t count = 99;
    CHECK_INT(view_list(v, n->ino, &entries, &count), -EIO);
    CHECK_INT(count, 0);
    view_node *child = NULL;
    CHECK(view_lookup(v, n->ino, "", &child) != 0);
    view_destroy(v);
    cas_store_close(store);
    free(blob);
    free(store_dir);
    char *rm = gmb_format("rm -rf %s", dir);
    CHECK_INT(system(rm), 0);
    free(rm);
}

/* ---- Output names and Trees ---- */

typedef struct {
    uint8_t *bytes;
    size_t len;
} tree_file;

static Rev2Tree *tree_from_file(void *user, const rev2_digest *d, char **err)
{
    tree_file *t = user;
    Rev2Tree *tree = build__bazel__remote__execution__v2__tree__unpack(NULL, t->len, t->bytes);
    if (!tree)
        gmb_fail(err, "not a Tree");
    return tree;
}

/* An ActionResult with one output directory "out" whose Tree is `file`. */
static int list_tree(const char *file, const rev2_output_limits *lim, rev2_output_list *out, char **err)
{
    tree_file t;
    t.bytes = read_reproducer(file, &t.len);
    rev2_digest td;
    rev2_digest_of_bytes(t.bytes, t.len, &td);
    Rev2Digest tdp;
    rev2_digest_to_proto(&td, &tdp);
    Rev2OutputDirectory od = BUILD__BAZEL__REMOTE__EXECUTION__V2__OUTPUT_DIRECTORY__INIT;
    od.path = "out";
    od.tree_digest = &tdp;
    Rev2OutputDirectory *ods[] = {&od};
    Rev2ActionResult r = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_RESULT__INIT;
    r.n_output_directories = 1;
    r.output_directories = ods;
    const char *declared[] = {"out"};
    int rc = rev2_output_list_build(&r, declared, 1, lim, tree_from_file, &t, out, err);
    free(t.bytes);
    return rc;
}

static const rev2_output_limits defaults = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, REV2_OUTPUT_DEFAULT_MAX_BYTES, 0};

static void tree_names_cannot_escape(void)
{
    rev2_output_list l;
    char *err = NULL;
    CHECK_INT(list_tree("tree_dotdot.bin", &defaults, &l, &err), -1);
    CHECK_CONTAINS(err, "\"..\" is not a single path component");
    CHECK_INT(l.n, 0);
    free(err);
    err = NULL;
    CHECK_INT(list_tree("tree_empty_name.bin", &defaults, &l, &err), -1);
    CHECK_CONTAINS(err, "the name \"\" is not a single path component");
    free(err);
}

static void a_dag_is_walked_once_per_directory(void)
{
    rev2_output_list l;
    char *err = NULL;
    /* 12 levels of two names for the next Directory: 2^12 files, 2^13 - 2
     * directories below out/, and out/ itself. */
    CHECK_INT(list_tree("tree_dag12.bin", &defaults, &l, &err), 0);
    CHECK_INT(l.n, 4096 + 8190 + 1);
    CHECK_INT(l.file_bytes, 4096 * 5);
    size_t files = 0;
    for (size_t i = 0; i < l.n; i++)
        files += l.items[i].kind == REV2_OUTPUT_FILE;
    CHECK_INT(files, 4096);
    CHECK_STR(l.items[0].path, "out");
    rev2_output_list_free(&l);
    /* 2^40 paths: refused from the counts of 41 Directories, before any
     * path is made (walked path by path this never finished). */
    CHECK_INT(list_tree("tree_dag40.bin", &defaults, &l, &err), -1);
    CHECK_CONTAINS(err, "more than 100000 outputs");
    free(err);
    err = NULL;
    rev2_output_limits few_bytes = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, 1000, 0};
    CHECK_INT(list_tree("tree_dag12.bin", &few_bytes, &l, &err), -1);
    CHECK_CONTAINS(err, "more than 1000 bytes");
    free(err);
    err = NULL;
    /* Paths are counted too (found by fuzz_output_list: deep Trees of long
     * names made gigabytes of path strings within the output limit). The
     * 12-level Tree's 12,286 paths below out/ take 323,582 bytes. */
    rev2_output_limits short_paths = {REV2_OUTPUT_DEFAULT_MAX_OUTPUTS, REV2_OUTPUT_DEFAULT_MAX_BYTES, 323581};
    CHECK_INT(list_tree("tree_dag12.bin", &short_paths, &l, &err), -1);
    CHECK_CONTAINS(err, "its paths would take more than 323581 bytes");
    free(err);
    err = NULL;
    short_paths.max_path_bytes = 323582;
    CHECK_INT(list_tree("tree_dag12.bin", &short_paths, &l, &err), 0);
    size_t sum = 0;
    for (size_t i = 1; i < l.n; i++)
        sum += strlen(l.items[i].path);
    CHECK_INT(sum, 323582);
    rev2_output_list_free(&l);
}

static Rev2OutputFile *output_file(const char *path, const char *content)
{
    /* Test-lifetime storage: a Rev2Digest points into its rev2_digest. */
    static rev2_digest digests[32];
    static Rev2Digest protos[32];
    static Rev2OutputFile files[32];
    static int next;
    if (next == 32)
        abort();
    rev2_digest_of_bytes(content, strlen(content), &digests[next]);
    Rev2OutputFile *f = &files[next];
    build__bazel__remote__execution__v2__output_file__init(f);
    rev2_digest_to_proto(&digests[next], &protos[next]);
    f->path = (char *)path;
    f->digest = &protos[next];
    next++;
    return f;
}

static int list_files(Rev2OutputFile **files, size_t n, const char *const *declared, size_t n_declared,
                      rev2_output_list *l, char **err)
{
    Rev2ActionResult r = BUILD__BAZEL__REMOTE__EXECUTION__V2__ACTION_RESULT__INIT;
    r.n_output_files = n;
    r.output_files = files;
    return rev2_output_list_build(&r, declared, n_declared, &defaults, tree_from_file, NULL, l, err);
}

static void output_paths_are_checked(void)
{
    rev2_output_list l;
    char *err = NULL;
    const char *declared[] = {"a.o", "obj", "../up.o"};
    const char *bad[] = {"/etc/passwd", "obj/../../x", "obj//x", "obj/./x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Rev2OutputFile *f[] = {output_file(bad[i], "x")};
        CHECK_INT(list_files(f, 1, declared, 3, &l, &err), -1);
        CHECK_CONTAINS(err, "is not a relative path of plain names");
        free(err);
        err = NULL;
    }
    Rev2OutputFile *undeclared[] = {output_file("b.o", "x")};
    CHECK_INT(list_files(undeclared, 1, declared, 3, &l, &err), -1);
    CHECK_CONTAINS(err, "\"b.o\" is not among the outputs the action declared");
    free(err);
    err = NULL;
    /* Exactly as declared may climb (the client asked for it); below a
     * declared directory is fine; the same file twice is listed once. */
    Rev2OutputFile *ok[] = {output_file("../up.o", "u"), output_file("obj/x.o", "x"), output_file("a.o", "a"),
                            output_file("obj/x.o", "x")};
    CHECK_INT(list_files(ok, 4, declared, 3, &l, &err), 0);
    CHECK_INT(l.n, 3);
    CHECK_INT(l.file_bytes, 3);
    rev2_output_list_free(&l);
    Rev2OutputFile *clash[] = {output_file("a.o", "a"), output_file("a.o", "b")};
    CHECK_INT(list_files(clash, 2, declared, 3, &l, &err), -1);
    CHECK_CONTAINS(err, "\"a.o\" is reported twice with different contents");
    free(err);
}

static void names_and_paths(void)
{
    CHECK(rev2_name_is_valid("a.o"));
    CHECK(rev2_name_is_valid("..."));
    CHECK(!rev2_name_is_valid(""));
    CHECK(!rev2_name_is_valid("."));
    CHECK(!rev2_name_is_valid(".."));
    CHECK(!rev2_name_is_valid("a/b"));
    CHECK(!rev2_name_is_valid(NULL));
    CHECK(rev2_output_path_is_valid("a/b/c"));
    CHECK(!rev2_output_path_is_valid("a/"));
    CHECK(!rev2_output_path_is_valid("/a"));
    CHECK(!rev2_output_path_is_valid("a/../b"));
}

/* ---- The Execute stream ---- */

static void a_second_finished_operation_replaces_the_first(void)
{
    size_t len;
    uint8_t *data = read_reproducer("two_failed_operations.bin", &len);
    rev2_exec_stream s;
    rev2_exec_stream_init(&s);
    size_t off = 0, n = 0;
    while (off + 4 <= len) {
        size_t m = (size_t)data[off] << 24 | (size_t)data[off + 1] << 16 | (size_t)data[off + 2] << 8 | data[off + 3];
        rev2_exec_stream_feed(&s, data + off + 4, m);
        off += 4 + m;
        n++;
    }
    CHECK_INT(n, 2);
    CHECK(s.done);
    CHECK_STR(s.operation_name, "operations/x");
    rev2_error *e = rev2_exec_stream_outcome(&s);
    CHECK(e != NULL);
    CHECK_INT(e ? e->code : -1, REV2_FAILED_PRECONDITION);
    rev2_error_free(e);
    rev2_exec_stream_clear(&s); /* LeakSanitizer: nothing of the first is left */
    free(data);
}

/* ---- Empty inputs ---- */

static void empty_inputs_do_no_null_arithmetic(void)
{
    pb_reader r;
    pb_field f;
    pb_reader_init(&r, NULL, 0);
    CHECK_INT(pb_reader_next(&r, &f), 0);
    const uint8_t truncated[] = {0x0a, 0x05, 'a'};
    pb_reader_init(&r, truncated, sizeof truncated);
    CHECK_INT(pb_reader_next(&r, &f), -1);
    const uint8_t group[] = {0x0b};
    pb_reader_init(&r, group, sizeof group);
    CHECK_INT(pb_reader_next(&r, &f), -1);
    const uint8_t two[] = {0x08, 0x96, 0x01, 0x52, 0x01, 'x'};
    pb_reader_init(&r, two, sizeof two);
    CHECK_INT(pb_reader_next(&r, &f), 1);
    CHECK_INT(f.number, 1);
    CHECK_INT(f.varint, 150);
    CHECK_INT(pb_reader_next(&r, &f), 1);
    CHECK_INT(f.number, 10);
    CHECK_INT(f.len, 1);
    CHECK_INT(pb_reader_next(&r, &f), 0);

    gmb_buf b;
    gmb_buf_init(&b, 16);
    gmb_buf_result why;
    uint8_t *p = gmb_buf_reserve(&b, 0, &why);
    CHECK(p != NULL);
    CHECK_INT(why, GMB_BUF_OK);
    gmb_buf_free(&b);
}

int main(void)
{
    RUN(listing_a_directory_without_digests_is_an_error_not_a_crash);
    RUN(tree_names_cannot_escape);
    RUN(a_dag_is_walked_once_per_directory);
    RUN(output_paths_are_checked);
    RUN(names_and_paths);
    RUN(a_second_finished_operation_replaces_the_first);
    RUN(empty_inputs_do_no_null_arithmetic);
    return CHECK_REPORT();
}
