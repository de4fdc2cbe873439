/* exec_inputs: an ExecReq's inputs as an REv2 input root.
 *
 * Each input is resolved to content in the store: its embedded FileBlob
 * (stored, so later hash-only references resolve), or a key StoreFile or
 * an earlier Exec stored (a FILE_META is assembled from its chunks). Keys
 * nobody has are reported as missing, with the filename exactly as the
 * client sent it. In a plain request, inputs under system directories
 * (/usr, /lib, ...) are left out: the worker's own compiler and headers
 * serve it. A toolchain_included request ships its compiler: the files
 * its toolchain_specs name (checked against the inputs' content, marked
 * executable as the specs say, symlink specs made symlinks) and its
 * system-directory inputs are staged, those outside the root under
 * .gomabarn-toolchain/ (exec_paths.h), and argv0 names the first spec;
 * a relocated GCC driver gets COMPILER_PATH (see compiler_path).
 * Resolved inputs stay pinned in the store (see pins).
 * The input root is exec.root when configured, else the longest common
 * directory of cwd, the other inputs and outputs; `..` escapes and a root of "/" are refused. The client's cwd is
 * only an anchor for relative names (it may be goma's fake
 * /this/path/is/set/by/goma). */
#ifndef EXEC_INPUTS_H
#define EXEC_INPUTS_H

#include "goma/goma_data.pb-c.h"
#include "goma_files.h"
#include "rev2_tree.h"

typedef struct {
    rev2_tree *tree; /* finished; its Directory blobs are to upload */
    rev2_digest root;
    char *root_path;   /* client-side absolute path of the root */
    char *working_dir; /* cwd relative to the root ("" for the root) */
    rev2_blob *blobs;  /* file contents to upload (data owned here) */
    size_t n_blobs;
    size_t n_inputs, n_skipped;
    char **missing; /* filenames as sent */
    size_t n_missing;
    /* toolchain_included requests: argv[0] is the first toolchain spec as
     * staged in the tree, relative to the working directory. */
    char *argv0;
    /* A relocated GCC driver (the first spec outside the root, a compiler
     * not named clang*): COMPILER_PATH for the action, so subprograms the
     * client did not ship (a system gcc's cc1, cc1plus) come from the
     * worker's directories for this driver (exec_path_gcc_compiler_path);
     * shipped ones still win. NULL otherwise. */
    char *compiler_path;
    /* The resolved inputs, pinned in the store from resolution on, so no
     * eviction takes them between the action-cache lookup and the upload:
     * exec_inputs_release_pins once a hit is answered or the files are
     * open for upload (exec_inputs_free releases them too). */
    cas_pin **pins;
    size_t n_pins;
    size_t n_toolchain; /* toolchain specs staged (files and links) */
    size_t n_relocated; /* inputs moved under .gomabarn-toolchain/ */
} exec_inputs;

/* `exec_root`: a fixed client directory for the root (NULL or "": the
 * common directory). 0; or -errno with a malloc'd reason in *err, whose
 * fault cas_error_is_client says: -EINVAL the client's (bad path, bad
 * root, a corrupt embedded blob, a toolchain spec that does not match its
 * input: answer BAD_REQUEST); any other the server's (the content store
 * failed: disk full, a file larger than cache.max_bytes, I/O: answer a
 * retryable error, never BAD_REQUEST). */
int exec_inputs_build(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req, const char *exec_root,
                      exec_inputs *out, char **err);
/* The same without waiting, for a thread that must not (the HTTP
 * server's): every input must be held here already, embedded ones
 * included, and nothing is asked of Buildbarn or written to disk. Else
 * -EWOULDBLOCK with nothing held, *out empty and no *err: call
 * exec_inputs_build. */
int exec_inputs_build_quick(goma_files *files, cas_store *store, const DevtoolsGoma__ExecReq *req,
                            const char *exec_root, exec_inputs *out, char **err);
/* Lets the inputs' pins go (the blobs stay until evicted). Idempotent. */
void exec_inputs_release_pins(exec_inputs *in);
void exec_inputs_free(exec_inputs *in);

#endif
