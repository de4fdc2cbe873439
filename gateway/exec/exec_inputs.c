#include "exec_inputs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "exec_paths.h"
#include "rev2_digest.h"
#include "log.h"
#include "mem.h"

/* Directories a plain request finds on the worker itself. */
static const char *const system_dirs[] = {"/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/etc/"};

static bool is_system(const char *abs)
{
    for (size_t i = 0; i < sizeof system_dirs / sizeof *system_dirs; i++)
        if (strncmp(abs, system_dirs[i], strlen(system_dirs[i])) == 0)
            return true;
    return false;
}

/* Shortens `root` (an absolute directory) to also cover `dir`. */
static void common_dir(char *root, const char *dir)
{
    size_t i = 0, last = 0;
    while (root[i] && root[i] == dir[i]) {
        if (root[i] == '/')
            last = i;
        i++;
    }
    if (root[i] == '\0' && (dir[i] == '/' || dir[i] == '\0'))
        return; /* dir is root or below it */
    root[last ? last : 1] = '\0';
}

/* Content of one input as a stored file: embedded, or known by key,
 * pinned in the store (*pin) until the Exec no longer needs it.
 * 1 when found, 0 when missing (the client is to upload it); -EINVAL with
 * *err for an embedded blob that is not what its hash_key says or breaks
 * goma's blob rules (a corrupt request, refused before anything is
 * stored); another -errno with *err when the store failed (the server's
 * fault: disk full, a file larger than cache.max_bytes, I/O). */
static int resolve(goma_files *files, const DevtoolsGoma__ExecReq__Input *in, bool quick, rev2_digest *d, cas_pin **pin,
                   char **err)
{
    if (in->content) {
        /* protobuf-c packs fields in number order, as goma's client does,
         * so the bytes and with them the key come out the same. */
        size_t n = devtools_goma__file_blob__get_packed_size(in->content);
        uint8_t *bytes = gmb_malloc(n + 1);
        devtools_goma__file_blob__pack(in->content, bytes);
        rev2_digest self;
        rev2_digest_of_bytes(bytes, n, &self);
        if (!in->hash_key || strcasecmp(self.hash, in->hash_key) != 0) {
            free(bytes);
            gmb_fail(err,
                     "input \"%s\": the embedded content does not match its hash key "
                     "(the FileBlob hashes to %.16s..., hash_key says %.16s...)",
                     in->filename, self.hash, in->hash_key ? in->hash_key : "(none)");
            return -EINVAL;
        }
        /* Checked, and held here already: not stored again (a client that
         * embeds its source in every request, hit or not, would pay for
         * an unpack, four more hashes and the store's lookups each time). */
        if (quick ? goma_files_indexed_content(files, self.hash, d)
                  : goma_files_resolve_held(files, self.hash, d, pin)) {
            free(bytes);
            return 1;
        }
        if (quick) { /* storing it writes to disk */
            free(bytes);
            return -EWOULDBLOCK;
        }
        char key[65];
        const char *why = NULL;
        int rc = goma_files_store(files, bytes, n, key, &why);
        free(bytes);
        if (rc < 0) {
            gmb_fail(err,
                     cas_error_is_client(rc) ? "input \"%s\": the embedded FileBlob is refused: %s"
                                             : "input \"%s\": the gateway cannot store the embedded FileBlob: %s",
                     in->filename, why);
            return rc;
        }
    }
    if (quick) /* anything but a key held here may read the disk or ask Buildbarn; pinned later, all at once */
        return goma_files_indexed_content(files, in->hash_key, d) ? 1 : -EWOULDBLOCK;
    int rc = goma_files_resolve(files, in->hash_key, d, pin);
    if (rc < 0)
        gmb_fail(err, "input \"%s\" (key %.16s...): the gateway's content store failed: %s", in->filename, in->hash_key,
                 cas_error_words(rc));
    /* A store error on a key is never the client's, whatever its code. */
    return rc == -EINVAL ? -EIO : rc;
}

/* One input on its way into the tree. */
typedef struct {
    char *abs; /* client path, absolute and normalized; NULL: left out */
    rev2_digest digest;
    bool toolchain; /* named by a toolchain spec, or a system file of a toolchain request */
    bool executable;
} staged_input;

/* The index of the spec for client path `abs`, or n_toolchain_specs. */
static size_t spec_index(const DevtoolsGoma__ExecReq *req, char **spec_abs, const char *abs)
{
    size_t i = 0;
    while (i < req->n_toolchain_specs && !(spec_abs[i] && strcmp(spec_abs[i], abs) == 0))
        i++;
    return i;
}

/* The spec for client path `abs`, or NULL. */
static const DevtoolsGoma__ToolchainSpec *spec_for(const DevtoolsGoma__ExecReq *req, char **spec_abs, const char *abs)
{
    size_t i = spec_index(req, spec_abs, abs);
    return i < req->n_toolchain_specs ? req->toolchain_specs[i] : NULL;
}

static bool is_symlink_spec(const DevtoolsGoma__ToolchainSpec *s)
{
    return s->symlink_path && *s->symlink_path;
}

/* The client path of the binary the first spec leads to through the
 * symlink specs (gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12): GCC finds
 * its prefix from the resolved driver. malloc'd, NULL on a bad link. */
static char *resolved_driver(const DevtoolsGoma__ExecReq *req, char **spec_abs)
{
    char *path = gmb_strdup(spec_abs[0]);
    for (size_t hops = 0; path && hops < req->n_toolchain_specs; hops++) {
        const DevtoolsGoma__ToolchainSpec *s = spec_for(req, spec_abs, path);
        if (!s || !is_symlink_spec(s))
            break;
        char *dir = exec_path_parent(path);
        free(path);
        path = exec_path_absolute(dir, s->symlink_path);
        free(dir);
    }
    return path;
}

/* True for a compiler GCC's own rules apply to: goma's client names gcc
 * drivers "gcc" or "g++" (gomabarn-cc: the basename, e.g. "cc"). clang
 * reads COMPILER_PATH too, but as -B prefixes searched before its own
 * directories, which would let worker files shadow a shipped clang's. */
static bool is_gcc_driver(const DevtoolsGoma__ExecReq *req)
{
    const char *name = req->command_spec ? req->command_spec->name : NULL;
    return name && *name && !strstr(name, "clang");
}

/* Toolchain specs: their files must be among the inputs with the content
 * the spec names (spec_input[i]: the input of spec i, or n_input); symlink
 * specs become symlinks. After the inputs are placed. 0 or -1 with *err. */
static int stage_toolchain(const DevtoolsGoma__ExecReq *req, char **spec_abs, const size_t *spec_input,
                           const staged_input *st, const char *root, exec_inputs *out, char **err)
{
    for (size_t i = 0; i < req->n_toolchain_specs; i++) {
        const DevtoolsGoma__ToolchainSpec *s = req->toolchain_specs[i];
        char *placed = exec_path_place(root, spec_abs[i]);
        int rc = 0;
        if (is_symlink_spec(s)) {
            char *target = exec_path_symlink_target(root, spec_abs[i], s->symlink_path);
            rc = target
                     ? rev2_tree_add_symlink(out->tree, placed, target, err)
                     : gmb_fail(err, "toolchain symlink \"%s\" -> \"%s\" climbs above \"/\"", s->path, s->symlink_path);
            free(target);
        } else {
            size_t k = spec_input[i];
            /* Not indexed: a spec named twice (resolve_input marks the
             * first), or an input missing indeed. */
            for (size_t j = 0; k == req->n_input && j < req->n_input; j++)
                if (st[j].abs && strcmp(st[j].abs, spec_abs[i]) == 0)
                    k = j;
            if (k == req->n_input)
                rc = gmb_fail(err, "toolchain file \"%s\" is in toolchain_specs but not among the inputs", s->path);
            else if ((s->hash && *s->hash && strcasecmp(s->hash, st[k].digest.hash) != 0) ||
                     (s->has_size && s->size != st[k].digest.size))
                rc = gmb_fail(err,
                              "toolchain file \"%s\": toolchain_specs says sha256 %.16s... size %lld, the input "
                              "holds %.16s... size %lld",
                              s->path, s->hash ? s->hash : "", (long long)s->size, st[k].digest.hash,
                              (long long)st[k].digest.size);
        }
        free(placed);
        if (rc < 0)
            return -1;
        out->n_toolchain++;
    }
    /* argv[0]: the first spec, as the worker finds it from the working directory. */
    char *first = exec_path_place(root, spec_abs[0]);
    char *rel = exec_path_relative(out->working_dir, first);
    out->argv0 = strchr(rel, '/') ? gmb_strdup(rel) : gmb_format("./%s", rel);
    /* A gcc driver moved under .gomabarn-toolchain/ looks for cc1 and the
     * other subprograms only next to itself, where a system gcc's client
     * shipped nothing: COMPILER_PATH adds the worker's directories after
     * its own (exec_path_gcc_compiler_path). */
    if (is_gcc_driver(req) && strncmp(first, EXEC_TOOLCHAIN_DIR "/", sizeof EXEC_TOOLCHAIN_DIR) == 0) {
        char *driver = resolved_driver(req, spec_abs);
        if (driver)
            out->compiler_path = exec_path_gcc_compiler_path(driver);
        free(driver);
    }
    free(rel);
    free(first);
    return 0;
}

/* Expected output files, then expected output directories. */
static size_t n_outputs(const DevtoolsGoma__ExecReq *req)
{
    return req->n_expected_output_files + req->n_expected_output_dirs;
}

static const char *output_path(const DevtoolsGoma__ExecReq *req, size_t i)
{
    return i < req->n_expected_output_files ? req->expected_output_files[i]
                                            : req->expected_output_dirs[i - req->n_expected_output_files];
}

/* What the steps of exec_inputs_build share. */
typedef struct {
    goma_files *files;
    cas_store *store;
    const DevtoolsGoma__ExecReq *req;
    bool toolchain;     /* a toolchain_included request */
    bool fixed_root;    /* exec.root is configured */
    bool quick;         /* exec_inputs_build_quick: nothing that may wait */
    bool would_wait;    /* quick, and an input needs more */
    char *cwd;          /* normalized */
    char *root;         /* the input root so far; NULL: a bad exec.root */
    staged_input *st;   /* one per req->input */
    int server_error;   /* the store's -errno, when it failed (0: none) */
    char **spec_abs;    /* one per toolchain spec: its client path, absolute */
    size_t *spec_input; /* one per toolchain spec: the input it names, or n_input */
    exec_inputs *out;
} inputs_build;

static int resolve_specs(inputs_build *b, char **err)
{
    const DevtoolsGoma__ExecReq *req = b->req;
    for (size_t i = 0; b->toolchain && i < req->n_toolchain_specs; i++) {
        const char *path = req->toolchain_specs[i]->path;
        if (!path || !*path || !(b->spec_abs[i] = exec_path_absolute(b->cwd, path)))
            return gmb_fail(err, "toolchain spec %zu has a bad path \"%s\"", i, path ? path : "");
    }
    return 0;
}

/* Input i: its digest (or missing), and whether it widens the root. */
static int resolve_input(inputs_build *b, size_t i, char **err)
{
    const DevtoolsGoma__ExecReq__Input *in = b->req->input[i];
    exec_inputs *out = b->out;
    if (!in->filename || !*in->filename)
        return gmb_fail(err, "input %zu has no filename", i);
    char *abs = exec_path_absolute(b->cwd, in->filename);
    if (!abs)
        return gmb_fail(err, "input \"%s\" climbs above \"/\"", in->filename);
    size_t si = b->toolchain ? spec_index(b->req, b->spec_abs, abs) : b->req->n_toolchain_specs;
    const DevtoolsGoma__ToolchainSpec *spec = si < b->req->n_toolchain_specs ? b->req->toolchain_specs[si] : NULL;
    if (spec && is_symlink_spec(spec)) {
        free(abs); /* the link itself is staged from its spec */
        return 0;
    }
    bool system = is_system(abs);
    if (system && !b->toolchain) {
        /* Plain requests run the worker's own compiler and headers. */
        out->n_skipped++;
        free(abs);
        return 0;
    }
    if (spec && spec->has_size && !cas_store_could_hold(b->store, spec->size)) {
        /* Said now, before the client is asked for it: otherwise every
         * compile sends the file (cc1: 33 MB) only to have it refused. */
        gmb_fail(err, "input \"%s\" (a toolchain file of %lld bytes): the gateway's content store failed: %s",
                 in->filename, (long long)spec->size, cas_error_words(-EFBIG));
        b->server_error = -EFBIG;
        free(abs);
        return -1;
    }
    staged_input *st = &b->st[i];
    cas_pin *pin = NULL;
    int found = resolve(b->files, in, b->quick, &st->digest, &pin, err);
    if (found == -EWOULDBLOCK) {
        free(abs);
        b->would_wait = true;
        return -1;
    }
    if (found <= 0) {
        free(abs);
        if (found == 0)
            out->missing[out->n_missing++] = gmb_strdup(in->filename);
        if (found < 0 && !cas_error_is_client(found))
            b->server_error = found;
        return found < 0 ? -1 : 0;
    }
    if (pin)
        out->pins[out->n_pins++] = pin;
    st->abs = abs;
    if (spec && b->spec_input[si] == b->req->n_input)
        b->spec_input[si] = i; /* the first input of that path, as the worker sees it */
    st->toolchain = spec || system;
    st->executable = spec && spec->has_is_executable && spec->is_executable;
    if (!st->toolchain) {
        if (b->fixed_root && !exec_path_is_below(abs, b->root))
            return gmb_fail(err, "input \"%s\" is outside the configured exec.root \"%s\"", in->filename, b->root);
        char *dir = exec_path_parent(abs);
        common_dir(b->root, dir);
        free(dir);
    }
    out->n_inputs++;
    return 0;
}

/* The outputs' directories widen the root too. */
static int place_outputs(inputs_build *b, char **err)
{
    const DevtoolsGoma__ExecReq *req = b->req;
    for (size_t i = 0; i < n_outputs(req); i++) {
        char *o = exec_path_absolute(b->cwd, output_path(req, i));
        if (!o)
            return gmb_fail(err, "output \"%s\" climbs above \"/\"", output_path(req, i));
        if (b->fixed_root && !exec_path_is_below(o, b->root)) {
            free(o);
            return gmb_fail(err, "output \"%s\" is outside the configured exec.root \"%s\"", output_path(req, i),
                            b->root);
        }
        char *dir = exec_path_parent(o);
        common_dir(b->root, dir);
        free(dir);
        free(o);
    }
    return 0;
}

/* quick: every content the request names pinned in one call (one lock
 * and one allocation, not one per input: a compile names hundreds). A
 * content evicted since it was looked up makes it wait for the slow
 * build, which stores it again. */
static int pin_all_at_once(inputs_build *b)
{
    const DevtoolsGoma__ExecReq *req = b->req;
    rev2_digest *contents = gmb_malloc((req->n_input + 1) * sizeof *contents);
    size_t n = 0, missing = 0;
    for (size_t i = 0; i < req->n_input; i++)
        if (b->st[i].abs)
            contents[n++] = b->st[i].digest;
    cas_pin *pin = cas_store_pin(b->store, contents, n, 0, &missing);
    free(contents);
    if (missing) {
        cas_pin_release(pin);
        b->would_wait = true;
        return -1;
    }
    b->out->pins[b->out->n_pins++] = pin;
    return 0;
}

/* The input tree: files by digest, toolchain specs, output parents, the
 * working directory. */
static int build_tree(inputs_build *b, char **err)
{
    const DevtoolsGoma__ExecReq *req = b->req;
    exec_inputs *out = b->out;
    const char *root = b->root, *cwd = b->cwd;
    out->tree = rev2_tree_new();
    out->blobs = gmb_calloc(out->n_inputs + 1, sizeof *out->blobs);
    size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
    out->working_dir = gmb_strdup(cwd + rl + (cwd[rl] == '/' ? 1 : 0));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < req->n_input; i++) {
        staged_input *st = &b->st[i];
        if (!st->abs)
            continue;
        char *placed = exec_path_place(root, st->abs);
        out->n_relocated += strncmp(placed, EXEC_TOOLCHAIN_DIR "/", sizeof EXEC_TOOLCHAIN_DIR) == 0;
        rc = rev2_tree_add_file(out->tree, placed, &st->digest, st->executable, err);
        free(placed);
        /* By reference: no byte is read here. A cache hit needs none;
         * a miss uploads from the store's file (exec_pipeline.c). */
        if (rc == 0 && !b->quick && !cas_store_contains(b->store, &st->digest)) {
            /* Pinned: only a full disk breaks a pin (quick: all pinned just now, pin_all_at_once). */
            rc = gmb_fail(err, "input \"%s\" vanished from the gateway's content store (the cache.dir disk is full?)",
                          req->input[i]->filename);
            b->server_error = -EIO;
        }
        if (rc == 0)
            out->blobs[out->n_blobs++] = (rev2_blob){.digest = st->digest};
    }
    if (rc == 0 && b->toolchain)
        rc = stage_toolchain(req, b->spec_abs, b->spec_input, b->st, root, out, err);
    /* Output parents exist before the compiler runs, and so do output
     * directories themselves (javac -d fails on a missing one). */
    for (size_t i = 0; rc == 0 && i < n_outputs(req); i++) {
        char *o = exec_path_absolute(cwd, output_path(req, i));
        char *dir = i < req->n_expected_output_files ? exec_path_parent(o) : gmb_strdup(o);
        if (strlen(dir) > rl)
            rc = rev2_tree_add_dir(out->tree, dir + rl + 1, err);
        free(dir);
        free(o);
    }
    if (rc == 0 && *out->working_dir)
        rc = rev2_tree_add_dir(out->tree, out->working_dir, err);
    if (rc == 0)
        rev2_tree_finish(out->tree, &out->root);
    return rc;
}

/* Keys sent hash-only that another gateway stored: looked up in
 * Buildbarn all at once, not one round trip per input (goma_files.h).
 * A plain request's system files are left out: the worker's own are used,
 * nobody stores them, and asking would cost a GetActionResult for each
 * (60-90 per compile) every few seconds. */
static void prefetch_shared(goma_files *files, const DevtoolsGoma__ExecReq *req, bool toolchain)
{
    const char **keys = gmb_calloc(req->n_input + 1, sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < req->n_input; i++) {
        const DevtoolsGoma__ExecReq__Input *in = req->input[i];
        if (in->content || !in->hash_key || !in->filename)
            continue;
        char *abs = toolchain ? NULL : exec_path_absolute(req->cwd, in->filename);
        if (toolchain || (abs && !is_system(abs)))
            keys[n++] = in->hash_key;
        free(abs);
    }
    goma_files_prefetch(files, keys, n, true);
    free(keys);
}

static int build(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req, const char *exec_root,
                 bool quick, exec_inputs *out, char **err)
{
    memset(out, 0, sizeof *out);
    if (!req->cwd || req->cwd[0] != '/') {
        gmb_fail(err, "ExecReq.cwd must be an absolute path (got \"%s\")", req->cwd ? req->cwd : "");
        return -EINVAL;
    }
    inputs_build b = {.files = files, .store = store, .req = req, .quick = quick, .out = out};
    b.toolchain = req->has_toolchain_included && req->toolchain_included;
    if (b.toolchain && req->n_toolchain_specs == 0) {
        gmb_fail(err, "toolchain_included is set but toolchain_specs is empty (the first spec names the compiler)");
        return -EINVAL;
    }
    if (!quick) /* quick: every key is held here, or it waits for the slow build */
        prefetch_shared(files, req, b.toolchain);
    b.cwd = exec_path_normalize(req->cwd);
    b.st = gmb_calloc(req->n_input + 1, sizeof *b.st);
    b.spec_abs = gmb_calloc(req->n_toolchain_specs + 1, sizeof *b.spec_abs);
    b.spec_input = gmb_malloc((req->n_toolchain_specs + 1) * sizeof *b.spec_input);
    for (size_t i = 0; i < req->n_toolchain_specs; i++)
        b.spec_input[i] = req->n_input;
    out->missing = gmb_calloc(req->n_input + 1, sizeof *out->missing);
    out->pins = gmb_calloc(req->n_input + 1, sizeof *out->pins);
    b.fixed_root = exec_root && *exec_root;
    b.root = b.fixed_root ? exec_path_normalize(exec_root) : gmb_strdup(b.cwd);
    int rc = 0;
    if (!b.root)
        rc = gmb_fail(err, "exec.root \"%s\" is not an absolute directory", exec_root);
    else if (b.fixed_root && !exec_path_is_below(b.cwd, b.root))
        rc = gmb_fail(err, "the request's cwd \"%s\" is outside the configured exec.root \"%s\"", b.cwd, b.root);
    if (rc == 0)
        rc = resolve_specs(&b, err);
    /* Resolve every input; ordinary ones (not toolchain, not system) and
     * the outputs decide the root. */
    for (size_t i = 0; rc == 0 && i < req->n_input; i++)
        rc = resolve_input(&b, i, err);
    if (rc == 0)
        rc = place_outputs(&b, err);
    if (rc == 0 && out->n_missing == 0 && strcmp(b.root, "/") == 0 && out->n_inputs > 0)
        rc = gmb_fail(err, "the inputs span the whole file system (their common directory is \"/\"); "
                           "an input root cannot cover the worker's system directories");
    if (rc == 0 && out->n_missing == 0 && quick)
        rc = pin_all_at_once(&b);
    if (rc == 0 && out->n_missing == 0)
        rc = build_tree(&b, err);
    out->root_path = b.root ? b.root : gmb_strdup("/");
    for (size_t i = 0; i < req->n_input; i++)
        free(b.st[i].abs);
    free(b.st);
    for (size_t i = 0; i < req->n_toolchain_specs; i++)
        free(b.spec_abs[i]);
    free(b.spec_abs);
    free(b.spec_input);
    free(b.cwd);
    if (rc < 0)
        exec_inputs_release_pins(out); /* nothing will use them */
    if (rc < 0 && b.would_wait) {
        exec_inputs_free(out); /* nothing to keep: the slow build starts over */
        return -EWOULDBLOCK;   /* the first input that needs more stopped it: *err was not set */
    }
    return rc == 0 ? 0 : b.server_error ? b.server_error : -EINVAL;
}

int exec_inputs_build(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req, const char *exec_root,
                      exec_inputs *out, char **err)
{
    return build(files, store, req, exec_root, false, out, err);
}

int exec_inputs_build_quick(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req,
                            const char *exec_root, exec_inputs *out, char **err)
{
    return build(files, store, req, exec_root, true, out, err);
}

void exec_inputs_release_pins(exec_inputs *in)
{
    for (size_t i = 0; i < in->n_pins; i++)
        cas_pin_release(in->pins[i]);
    in->n_pins = 0;
}

void exec_inputs_free(exec_inputs *in)
{
    exec_inputs_release_pins(in);
    free(in->pins);
    rev2_tree_free(in->tree);
    for (size_t i = 0; i < in->n_blobs; i++)
        free((void *)in->blobs[i].data);
    free(in->blobs);
    for (size_t i = 0; i < in->n_missing; i++)
        free(in->missing[i]);
    free(in->missing);
    free(in->root_path);
    free(in->working_dir);
    free(in->argv0);
    free(in->compiler_path);
    memset(in, 0, sizeof *in);
}
