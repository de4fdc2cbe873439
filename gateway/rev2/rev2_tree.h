/* rev2_tree: builds an REv2 input root (a Merkle tree of Directory
 * messages) from a list of paths.
 *
 * Add files (by digest), symlinks and empty directories under relative
 * '/'-separated paths; parent directories appear by themselves. Finish
 * computes every Directory, children sorted by name as REv2 requires, and
 * the root digest. The serialized Directory messages are then available
 * as blobs to upload (each distinct one once). */
#ifndef REV2_TREE_H
#define REV2_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "rev2_client.h"

typedef struct rev2_tree rev2_tree;

rev2_tree *rev2_tree_new(void);
/* Each returns 0, or -1 with a malloc'd reason in *err: an absolute path,
 * a ".." component, a path that is both a file and a directory, or two
 * different entries at one path. "." and empty components are dropped. */
int rev2_tree_add_file(rev2_tree *t, const char *path, const rev2_digest *d, bool executable, char **err);
int rev2_tree_add_symlink(rev2_tree *t, const char *path, const char *target, char **err);
int rev2_tree_add_dir(rev2_tree *t, const char *path, char **err);
/* A whole directory known by the digest of its Directory message (its
 * contents are not added; nothing may be added below it). */
int rev2_tree_add_dir_digest(rev2_tree *t, const char *path, const rev2_digest *d, char **err);
/* Adds a local file, symlink or whole directory at `tree_path` ("" for
 * the root: a directory's contents then land at the top). Files are
 * hashed, symlinks kept as links, the executable bit taken from the
 * owner's x bit. on_file (optional) hears of every regular file added, so
 * the caller can upload it. */
typedef void (*rev2_tree_file_cb)(void *user, const char *local_path, const rev2_digest *d);
int rev2_tree_add_local(rev2_tree *t, const char *local_path, const char *tree_path, rev2_tree_file_cb on_file,
                        void *user, char **err);
/* rev2_tree_add_local(t, local_dir, "", NULL, NULL, err). */
int rev2_tree_add_local_dir(rev2_tree *t, const char *local_dir, char **err);

/* Computes the Directory messages and the root digest. After this the
 * tree accepts no more entries. */
void rev2_tree_finish(rev2_tree *t, rev2_digest *root);
/* The Directory blobs (data owned by the tree), root first. */
size_t rev2_tree_directory_blobs(const rev2_tree *t, const rev2_blob **blobs);
/* Number of files, symlinks and directories (root included). */
void rev2_tree_counts(const rev2_tree *t, size_t *files, size_t *symlinks, size_t *dirs);
void rev2_tree_free(rev2_tree *t);

/* Splits `path` into clean components; false with *err for a path
 * rev2_tree refuses. Returns the count in *n and the components in
 * *parts (one malloc'd block, free with rev2_path_parts_free). */
bool rev2_path_split(const char *path, char ***parts, size_t *n, char **err);
void rev2_path_parts_free(char **parts, size_t n);

#endif
