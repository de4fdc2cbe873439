#include "exec_inputs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "rev2_digest.h"
#include "log.h"

/* Directories a plain request finds on the worker itself. */
static const char *const system_dirs[] = {"/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/etc/"};

char *exec_path_normalize(const char *abs)
{
    if (abs[0] != '/')
        return NULL;
    size_t n = strlen(abs);
    char *out = malloc(n + 2);
    if (!out)
        abort();
    size_t len = 0;
    const char *p = abs;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t sl = (size_t)(p - seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.'))
            continue;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (len == 0) {
                free(out);
                return NULL;
            }
            while (len > 0 && out[len - 1] != '/')
                len--;
            len--; /* the '/' itself */
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, seg, sl);
        len += sl;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

static char *absolute(const char *cwd, const char *name)
{
    char *joined = name[0] == '/' ? strdup(name) : gmb_format("%s/%s", cwd, name);
    char *norm = exec_path_normalize(joined);
    free(joined);
    return norm;
}

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

static char *parent_of(const char *abs)
{
    const char *slash = strrchr(abs, '/');
    return slash == abs ? strdup("/") : strndup(abs, (size_t)(slash - abs));
}

/* Content of one input as a stored file: embedded, or known by key.
 * 1 when found, 0 when missing (the client is to upload it), -1 with *err
 * for an embedded blob that is not what its hash_key says or breaks goma's
 * blob rules: a corrupt request, refused before anything is stored. */
static int resolve(goma_files *files, const DevtoolsGoma__ExecReq__Input *in, rev2_digest *d, char **err)
{
    if (in->content) {
        /* protobuf-c packs fields in number order, as goma's client does,
         * so the bytes and with them the key come out the same. */
        size_t n = devtools_goma__file_blob__get_packed_size(in->content);
        uint8_t *bytes = malloc(n + 1);
        if (!bytes)
            abort();
        devtools_goma__file_blob__pack(in->content, bytes);
        rev2_digest self;
        rev2_digest_of_bytes(bytes, n, &self);
        if (!in->hash_key || strcasecmp(self.hash, in->hash_key) != 0) {
            free(bytes);
            return gmb_fail(err, "input \"%s\": the embedded content does not match its hash key "
                                 "(the FileBlob hashes to %.16s..., hash_key says %.16s...)",
                            in->filename, self.hash, in->hash_key ? in->hash_key : "(none)");
        }
        char key[65];
        const char *why = NULL;
        int rc = goma_files_store(files, bytes, n, key, &why);
        free(bytes);
        if (rc < 0)
            return gmb_fail(err, "input \"%s\": the embedded FileBlob is refused: %s", in->filename, why);
    }
    return goma_files_file_digest(files, in->hash_key, d) ? 1 : 0;
}

int exec_inputs_build(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req, exec_inputs *out,
                      char **err)
{
    memset(out, 0, sizeof *out);
    if (!req->cwd || req->cwd[0] != '/')
        return gmb_fail(err, "ExecReq.cwd must be an absolute path (got \"%s\")", req->cwd ? req->cwd : "");
    char *cwd = exec_path_normalize(req->cwd);
    char **abs = calloc(req->n_input + 1, sizeof *abs);
    rev2_digest *digests = calloc(req->n_input + 1, sizeof *digests);
    out->missing = calloc(req->n_input + 1, sizeof *out->missing);
    if (!cwd || !abs || !digests || !out->missing)
        abort();
    char *root = strdup(cwd);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < req->n_input; i++) {
        const DevtoolsGoma__ExecReq__Input *in = req->input[i];
        if (!in->filename || !*in->filename) {
            rc = gmb_fail(err, "input %zu has no filename", i);
            break;
        }
        abs[i] = absolute(cwd, in->filename);
        if (!abs[i]) {
            rc = gmb_fail(err, "input \"%s\" climbs above \"/\"", in->filename);
            break;
        }
        if (is_system(abs[i])) {
            out->n_skipped++;
            free(abs[i]);
            abs[i] = NULL;
            continue;
        }
        int found = resolve(files, in, &digests[i], err);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (found == 0) {
            out->missing[out->n_missing++] = strdup(in->filename);
            continue;
        }
        char *dir = parent_of(abs[i]);
        common_dir(root, dir);
        free(dir);
        out->n_inputs++;
    }
    for (size_t i = 0; rc == 0 && i < req->n_expected_output_files; i++) {
        char *o = absolute(cwd, req->expected_output_files[i]);
        if (!o) {
            rc = gmb_fail(err, "output \"%s\" climbs above \"/\"", req->expected_output_files[i]);
            break;
        }
        char *dir = parent_of(o);
        common_dir(root, dir);
        free(dir);
        free(o);
    }
    if (rc == 0 && out->n_missing == 0 && strcmp(root, "/") == 0 && out->n_inputs > 0)
        rc = gmb_fail(err, "the inputs span the whole file system (their common directory is \"/\"); "
                           "an input root cannot cover the worker's system directories");
    if (rc == 0 && out->n_missing == 0) {
        out->tree = rev2_tree_new();
        out->blobs = calloc(out->n_inputs + 1, sizeof *out->blobs);
        size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
        for (size_t i = 0; rc == 0 && i < req->n_input; i++) {
            if (!abs[i])
                continue;
            const char *rel = abs[i] + rl + 1;
            if (rev2_tree_add_file(out->tree, rel, &digests[i], false, err) < 0) {
                rc = -1;
                break;
            }
            uint8_t *data = NULL;
            if (cas_store_read_all(store, NULL, &digests[i], &data) < 0) {
                rc = gmb_fail(err, "input \"%s\" vanished from the content store", req->input[i]->filename);
                break;
            }
            out->blobs[out->n_blobs++] = (rev2_blob){.digest = digests[i], .data = data};
        }
        out->working_dir = strdup(cwd + rl + (cwd[rl] == '/' ? 1 : 0));
        /* Output parents exist before the compiler runs. */
        for (size_t i = 0; rc == 0 && i < req->n_expected_output_files; i++) {
            char *o = absolute(cwd, req->expected_output_files[i]);
            char *dir = parent_of(o);
            if (strlen(dir) > rl)
                rc = rev2_tree_add_dir(out->tree, dir + rl + 1, err);
            free(dir);
            free(o);
        }
        if (rc == 0 && *out->working_dir)
            rc = rev2_tree_add_dir(out->tree, out->working_dir, err);
        if (rc == 0)
            rev2_tree_finish(out->tree, &out->root);
    }
    out->root_path = root;
    for (size_t i = 0; i < req->n_input; i++)
        free(abs[i]);
    free(abs);
    free(digests);
    free(cwd);
    return rc;
}

void exec_inputs_free(exec_inputs *in)
{
    rev2_tree_free(in->tree);
    for (size_t i = 0; i < in->n_blobs; i++)
        free((void *)in->blobs[i].data);
    free(in->blobs);
    for (size_t i = 0; i < in->n_missing; i++)
        free(in->missing[i]);
    free(in->missing);
    free(in->root_path);
    free(in->working_dir);
    memset(in, 0, sizeof *in);
}
