/* rev2_output_list: an ActionResult's outputs as one checked, flat list.
 *
 * ActionResults, Trees and Directories come from Buildbarn's CAS and
 * action cache, which any client of the cluster may write, so their names
 * are untrusted. This is the one place they are checked, for every
 * consumer (goma answers, remote-run, the view's listings):
 * - every name is one path component: not empty, not "." or "..", no "/";
 *   output paths are relative, with no empty, "." or ".." component
 *   (unless the path is exactly one the action declared);
 * - names within a Directory are unique, and every file and directory
 *   entry has a valid digest;
 * - no output lies outside the outputs the action declared (when given);
 * - a path named twice must name the same thing (overlapping declared
 *   outputs report a file once per path that covers it: it is listed once).
 *
 * A Tree is a DAG (one Directory may be the child of many), so it is
 * walked by digest: each distinct Directory is checked and counted once,
 * the total number of outputs and bytes is known before anything is
 * expanded, and an answer over the limits is an error, not a stall. */
#ifndef REV2_OUTPUT_LIST_H
#define REV2_OUTPUT_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rev2_proto.h"

typedef enum { REV2_OUTPUT_FILE, REV2_OUTPUT_SYMLINK, REV2_OUTPUT_DIRECTORY } rev2_output_kind;

typedef struct {
    char *path; /* relative to the working directory, checked */
    rev2_output_kind kind;
    rev2_digest digest;                  /* FILE */
    bool executable;                     /* FILE */
    const ProtobufCBinaryData *contents; /* FILE: inline bytes, or NULL; points into the ActionResult */
    char *target;                        /* SYMLINK */
} rev2_output;

typedef struct {
    rev2_output *items;
    size_t n;
    uint64_t file_bytes; /* sum of the files' sizes */
} rev2_output_list;

typedef struct {
    size_t max_outputs;      /* files, symlinks and directories, after expansion */
    uint64_t max_bytes;      /* sum of file sizes */
    uint64_t max_path_bytes; /* sum of the expanded paths' lengths (0: the default) */
} rev2_output_limits;

/* Defaults for callers without a configuration (tests, tools). */
#define REV2_OUTPUT_DEFAULT_MAX_OUTPUTS ((size_t)100000)
#define REV2_OUTPUT_DEFAULT_MAX_BYTES ((uint64_t)16 << 30)
/* Deep Trees with long names make long paths: 100,000 of them at 4 KiB
 * would be 400 MB of names alone. */
#define REV2_OUTPUT_DEFAULT_MAX_PATH_BYTES ((uint64_t)64 << 20)

/* Fetches and decodes the Tree an output directory names: a heap Tree
 * (freed with rev2_msg_free), or NULL with a malloc'd reason. */
typedef Rev2Tree *(*rev2_tree_fetch_fn)(void *user, const rev2_digest *tree_digest, char **err);

/* Fills `out` (free with rev2_output_list_free). `declared` lists the
 * output paths the action declared (files and directories alike); an
 * output outside all of them is refused. n_declared == 0 skips that check.
 * 0, or -1 with a malloc'd reason naming the offending name. */
int rev2_output_list_build(const Rev2ActionResult *r, const char *const *declared, size_t n_declared,
                           const rev2_output_limits *limits, rev2_tree_fetch_fn fetch, void *fetch_user,
                           rev2_output_list *out, char **err);
void rev2_output_list_free(rev2_output_list *l);

/* One path component as Buildbarn may name a Directory entry. */
bool rev2_name_is_valid(const char *name);
/* A relative output path: components separated by single slashes, each valid. */
bool rev2_output_path_is_valid(const char *path);
/* The rules above for one Directory (names, uniqueness, digests); used by
 * the view before it lists a Directory. 0, or -1 with a malloc'd reason. */
int rev2_directory_check(const Rev2Directory *d, char **err);

#endif
