/* The Merkle tree builder and the Action/Command builder: the rules
 * Buildbarn enforces, checked on decoded messages. Byte-for-byte
 * agreement with an independent encoder is in tests/python/. */
#include <stdlib.h>

#include "check.h"
#include "rev2_action.h"
#include "rev2_dir_encode.h"
#include "rev2_proto.h"
#include "rev2_tree.h"

static rev2_digest digest_of(const char *s)
{
    rev2_digest d;
    rev2_digest_of_bytes(s, strlen(s), &d);
    return d;
}

static void empty_tree_is_empty_directory(void)
{
    rev2_tree *t = rev2_tree_new();
    rev2_digest root;
    rev2_tree_finish(t, &root);
    /* An empty Directory serializes to zero bytes. */
    CHECK(rev2_digest_equal(&root, &rev2_empty_digest));
    rev2_tree_free(t);
}

static void refuses_escapes_and_conflicts(void)
{
    rev2_tree *t = rev2_tree_new();
    rev2_digest d = digest_of("x");
    char *err = NULL;
    CHECK_INT(rev2_tree_add_file(t, "/etc/passwd", &d, false, &err), -1);
    CHECK_CONTAINS(err, "absolute");
    free(err);
    CHECK_INT(rev2_tree_add_file(t, "a/../../b", &d, false, &err), -1);
    CHECK_CONTAINS(err, "..");
    free(err);
    CHECK_INT(rev2_tree_add_file(t, "dir/file", &d, false, &err), 0);
    CHECK_INT(rev2_tree_add_file(t, "dir/file/under", &d, false, &err), -1);
    CHECK_CONTAINS(err, "not a directory");
    free(err);
    rev2_digest other = digest_of("y");
    CHECK_INT(rev2_tree_add_file(t, "dir/file", &other, false, &err), -1);
    CHECK_CONTAINS(err, "twice");
    free(err);
    /* The same entry twice is fine; "." and "//" are cleaned away. */
    CHECK_INT(rev2_tree_add_file(t, "./dir//file", &d, false, &err), 0);
    rev2_tree_free(t);
}

static void children_sorted_and_nested(void)
{
    rev2_tree *t = rev2_tree_new();
    rev2_digest a = digest_of("a"), b = digest_of("b");
    char *err = NULL;
    CHECK_INT(rev2_tree_add_file(t, "src/zeta.c", &a, false, &err), 0);
    CHECK_INT(rev2_tree_add_file(t, "src/Alpha.c", &b, false, &err), 0);
    CHECK_INT(rev2_tree_add_file(t, "bin/tool", &a, true, &err), 0);
    CHECK_INT(rev2_tree_add_symlink(t, "src/link", "zeta.c", &err), 0);
    CHECK_INT(rev2_tree_add_dir(t, "out/obj", &err), 0);
    rev2_digest root;
    rev2_tree_finish(t, &root);
    const rev2_blob *blobs;
    size_t n = rev2_tree_directory_blobs(t, &blobs);
    /* root, bin, src, out, out/obj (empty) */
    CHECK_INT(n, 5);
    CHECK(rev2_digest_equal(&blobs[0].digest, &root));
    Rev2Directory *dir =
        build__bazel__remote__execution__v2__directory__unpack(NULL, (size_t)blobs[0].digest.size, blobs[0].data);
    CHECK(dir != NULL);
    CHECK_INT(dir->n_directories, 3);
    CHECK_STR(dir->directories[0]->name, "bin");
    CHECK_STR(dir->directories[1]->name, "out");
    CHECK_STR(dir->directories[2]->name, "src");
    CHECK_INT(dir->n_files, 0);
    /* Find src and check byte order: "Alpha.c" < "zeta.c" (uppercase first). */
    rev2_digest src;
    CHECK(rev2_digest_from_proto(dir->directories[2]->digest, &src));
    for (size_t i = 0; i < n; i++) {
        if (!rev2_digest_equal(&blobs[i].digest, &src))
            continue;
        Rev2Directory *s =
            build__bazel__remote__execution__v2__directory__unpack(NULL, (size_t)blobs[i].digest.size, blobs[i].data);
        CHECK_INT(s->n_files, 2);
        CHECK_STR(s->files[0]->name, "Alpha.c");
        CHECK_STR(s->files[1]->name, "zeta.c");
        CHECK_INT(s->n_symlinks, 1);
        CHECK_STR(s->symlinks[0]->target, "zeta.c");
        rev2_msg_free(s);
    }
    rev2_msg_free(dir);
    size_t files, links, dirs;
    rev2_tree_counts(t, &files, &links, &dirs);
    CHECK_INT(files, 3);
    CHECK_INT(links, 1);
    CHECK_INT(dirs, 5);
    rev2_tree_free(t);
}

static void identical_subtrees_share_one_blob(void)
{
    rev2_tree *t = rev2_tree_new();
    rev2_digest a = digest_of("same");
    char *err = NULL;
    rev2_tree_add_file(t, "x/f", &a, false, &err);
    rev2_tree_add_file(t, "y/f", &a, false, &err);
    rev2_digest root;
    rev2_tree_finish(t, &root);
    const rev2_blob *blobs;
    CHECK_INT(rev2_tree_directory_blobs(t, &blobs), 2); /* root + one shared child */
    rev2_tree_free(t);
}

static void action_follows_rev2_2_3(void)
{
    const char *args[] = {"/usr/bin/cc", "-c", "hello.c", "-o", "out/hello.o"};
    const char *outs[] = {"out/hello.o", "out/hello.d", "out/hello.o"};
    rev2_property platform[] = {{"container-image", "docker://x"}, {"OSFamily", "linux"}, {"ISA", "x86-64"}};
    rev2_property env[] = {{"PATH", "/usr/bin:/bin"}, {"LANG", "C"}};
    rev2_action_spec spec = {
        .arguments = args,
        .n_arguments = 5,
        .environment = env,
        .n_environment = 2,
        .output_paths = outs,
        .n_output_paths = 3,
        .working_directory = "",
        .platform = platform,
        .n_platform = 3,
        .input_root = rev2_empty_digest,
        .timeout_ms = 90500,
    };
    rev2_built_action b;
    char *err = NULL;
    CHECK_INT(rev2_action_build(&spec, &b, &err), 0);
    Rev2Command *cmd = build__bazel__remote__execution__v2__command__unpack(NULL, b.command_len, b.command_bytes);
    Rev2Action *act = build__bazel__remote__execution__v2__action__unpack(NULL, b.action_len, b.action_bytes);
    CHECK(cmd && act);
    /* Outputs only in output_paths, sorted, duplicates dropped. */
    CHECK_INT(cmd->n_output_files, 0);
    CHECK_INT(cmd->n_output_directories, 0);
    CHECK_INT(cmd->n_output_paths, 2);
    CHECK_STR(cmd->output_paths[0], "out/hello.d");
    CHECK_STR(cmd->output_paths[1], "out/hello.o");
    CHECK_STR(cmd->environment_variables[0]->name, "LANG");
    /* Platform in the Action, sorted by name (byte order: uppercase first). */
    CHECK(act->platform != NULL);
    CHECK_INT(act->platform->n_properties, 3);
    CHECK_STR(act->platform->properties[0]->name, "ISA");
    CHECK_STR(act->platform->properties[1]->name, "OSFamily");
    CHECK_STR(act->platform->properties[1]->value, "linux");
    CHECK_STR(act->platform->properties[2]->name, "container-image");
    CHECK_INT(act->timeout->seconds, 90);
    CHECK_INT(act->timeout->nanos, 500000000);
    rev2_digest cd;
    CHECK(rev2_digest_from_proto(act->command_digest, &cd));
    CHECK(rev2_digest_equal(&cd, &b.command_digest));
    rev2_digest again;
    rev2_digest_of_bytes(b.action_bytes, b.action_len, &again);
    CHECK(rev2_digest_equal(&again, &b.action_digest));
    rev2_msg_free(cmd);
    rev2_msg_free(act);
    rev2_built_action_free(&b);
}

/* Past 16 children a directory finds them through an index: lookups,
 * duplicates and conflicts behave the same, and the order of adding does
 * not change the tree. */
static void large_directories_are_indexed(void)
{
    enum { N = 300 };
    rev2_digest d = digest_of("x"), other = digest_of("y");
    rev2_tree *forward = rev2_tree_new(), *scrambled = rev2_tree_new();
    char path[64], *err = NULL;
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof path, "big/f%03d", i);
        CHECK_INT(rev2_tree_add_file(forward, path, &d, false, &err), 0);
        snprintf(path, sizeof path, "big/f%03d", (i * 7) % N); /* 7 and 300 share no factor: each once */
        CHECK_INT(rev2_tree_add_file(scrambled, path, &d, false, &err), 0);
    }
    CHECK_INT(rev2_tree_add_file(forward, "big/sub/deep", &d, false, &err), 0);
    CHECK_INT(rev2_tree_add_file(scrambled, "big/sub/deep", &d, false, &err), 0);
    /* Found again through the index: the same entry is fine, another is not. */
    CHECK_INT(rev2_tree_add_file(scrambled, "big/f123", &d, false, &err), 0);
    CHECK_INT(rev2_tree_add_file(scrambled, "big/f123", &other, false, &err), -1);
    CHECK_CONTAINS(err, "given twice");
    free(err);
    CHECK_INT(rev2_tree_add_file(scrambled, "big/f005/under", &d, false, &err), -1);
    CHECK_CONTAINS(err, "not a directory");
    free(err);
    rev2_digest a, b;
    rev2_tree_finish(forward, &a);
    rev2_tree_finish(scrambled, &b);
    CHECK(rev2_digest_equal(&a, &b));
    size_t files, links, dirs;
    rev2_tree_counts(scrambled, &files, &links, &dirs);
    CHECK_INT((long long)files, N + 1);
    CHECK_INT((long long)dirs, 3);
    rev2_tree_free(forward);
    rev2_tree_free(scrambled);
}

/* The hand-written Directory encoder against protobuf-c's packer on the
 * same message: the edges are multi-byte lengths and varints, zero
 * values left out, and the order of the three lists. */
static void directory_encoding_is_protobuf_cs(void)
{
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    rev2_digest small = digest_of("x"), big = digest_of("y"), empty = rev2_empty_digest;
    big.size = 5000000000LL; /* past 32 bits */
    rev2_dir_entry entries[] = {
        {.kind = REV2_DIR_SYMLINK, .name = "a-link", .target = "../up/there"},
        {.kind = REV2_DIR_FILE, .name = "b", .digest = &small, .executable = true},
        {.kind = REV2_DIR_DIRECTORY, .name = "c-dir", .digest = &empty},
        {.kind = REV2_DIR_FILE, .name = "d-empty", .digest = &empty},
        {.kind = REV2_DIR_SYMLINK, .name = "e-dangling", .target = ""},
        {.kind = REV2_DIR_FILE, .name = long_name, .digest = &big},
        {.kind = REV2_DIR_DIRECTORY, .name = "\xc3\xa9t\xc3\xa9", .digest = &big},
    };
    size_t n = sizeof entries / sizeof *entries;
    for (size_t count = 0; count <= n; count++) {
        Rev2FileNode files[8], *fp[8];
        Rev2DirectoryNode dirs[8], *dp[8];
        Rev2SymlinkNode links[8], *sp[8];
        Rev2Digest digests[8];
        Rev2Directory msg = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIRECTORY__INIT;
        for (size_t i = 0; i < count; i++) {
            const rev2_dir_entry *e = &entries[i];
            if (e->kind == REV2_DIR_FILE) {
                build__bazel__remote__execution__v2__file_node__init(&files[msg.n_files]);
                files[msg.n_files].name = (char *)e->name;
                rev2_digest_to_proto(e->digest, &digests[i]);
                files[msg.n_files].digest = &digests[i];
                files[msg.n_files].is_executable = e->executable;
                fp[msg.n_files] = &files[msg.n_files];
                msg.n_files++;
            } else if (e->kind == REV2_DIR_DIRECTORY) {
                build__bazel__remote__execution__v2__directory_node__init(&dirs[msg.n_directories]);
                dirs[msg.n_directories].name = (char *)e->name;
                rev2_digest_to_proto(e->digest, &digests[i]);
                dirs[msg.n_directories].digest = &digests[i];
                dp[msg.n_directories] = &dirs[msg.n_directories];
                msg.n_directories++;
            } else {
                build__bazel__remote__execution__v2__symlink_node__init(&links[msg.n_symlinks]);
                links[msg.n_symlinks].name = (char *)e->name;
                links[msg.n_symlinks].target = (char *)e->target;
                sp[msg.n_symlinks] = &links[msg.n_symlinks];
                msg.n_symlinks++;
            }
        }
        msg.files = fp;
        msg.directories = dp;
        msg.symlinks = sp;
        size_t want_len, got_len;
        uint8_t *want = REV2_PACK(&msg, &want_len);
        uint8_t *got = rev2_directory_encode(entries, count, &got_len);
        CHECK_INT((long long)got_len, (long long)want_len);
        CHECK(got_len == want_len && memcmp(got, want, got_len) == 0);
        free(want);
        free(got);
    }
}

/* Output paths may climb with ".." from the working directory (a
 * compile's -o ../obj/a.o), never above the input root, and never to the
 * working directory or a directory holding it. */
static void action_checks_output_paths(void)
{
    const char *args[] = {"cc"};
    static const struct {
        const char *wd, *out;
        bool ok;
    } cases[] = {
        {"", "../escape.o", false},
        {"build", "../obj/a.o", true},
        {"build", "../../escape.o", false},
        {"a/b", "../../c/d.o", true},
        {"a/b", "../../a/b/x.o", true},
        {"a/b", "../../a", false}, /* holds the working directory */
        {"a/b", "..", false},
        {"a/b", "x/..", false}, /* the working directory itself */
        {"", "x/..", false},
        {"build", "./a.o", true}, /* "." and empty components are read as before */
        {"build", "obj//a.o", true},
        {"build", "/abs.o", false},
        {"build", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *outs[] = {cases[i].out};
        rev2_action_spec spec = {.arguments = args,
                                 .n_arguments = 1,
                                 .output_paths = outs,
                                 .n_output_paths = 1,
                                 .working_directory = cases[i].wd};
        rev2_built_action b;
        char *err = NULL;
        int rc = rev2_action_build(&spec, &b, &err);
        if (rc != (cases[i].ok ? 0 : -1))
            fprintf(stderr, "  output \"%s\" from \"%s\": %s\n", cases[i].out, cases[i].wd, err ? err : "accepted");
        CHECK_INT(rc, cases[i].ok ? 0 : -1);
        if (rc == 0)
            rev2_built_action_free(&b);
        free(err);
    }
    const char *outs[] = {"a.o"};
    rev2_action_spec spec = {.arguments = args, .n_arguments = 0, .output_paths = outs, .n_output_paths = 0};
    rev2_built_action b;
    char *err = NULL;
    CHECK_INT(rev2_action_build(&spec, &b, &err), -1);
    CHECK_CONTAINS(err, "program");
    free(err);
}

int main(void)
{
    RUN(empty_tree_is_empty_directory);
    RUN(refuses_escapes_and_conflicts);
    RUN(children_sorted_and_nested);
    RUN(identical_subtrees_share_one_blob);
    RUN(action_follows_rev2_2_3);
    RUN(action_checks_output_paths);
    RUN(directory_encoding_is_protobuf_cs);
    RUN(large_directories_are_indexed);
    return CHECK_REPORT();
}
