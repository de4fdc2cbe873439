/* exec_result: an REv2 ActionResult as goma's ExecResult.
 * exit_status always set; stdout/stderr inline; each output file as a
 * FILE blob (content present even when empty) up to 2 MiB, or as a
 * FILE_META whose 2 MiB FILE_CHUNKs are stored in the file service so the
 * client fetches them with LookupFile; executable bits kept. Each file of
 * an output directory becomes an output named <dir>/<path> (goma has no
 * directories). Output file names are relative to the request's cwd (=
 * the working directory). */
#ifndef EXEC_RESULT_H
#define EXEC_RESULT_H

#include "goma/goma_data.pb-c.h"
#include "goma_files.h"
#include "rev2_output_list.h"

/* Fills a heap ExecResult (free with devtools_goma__exec_result__free_unpacked).
 * Blocks to fetch outputs: through the FUSE view mounted at `mount_path`
 * (cas/<instance>/blobs/sha256/{file,executable}/<hash>-<size>: the same
 * inode as the action's output/<path> there), or from the store
 * in-process when mount_path is NULL. Output names are checked by
 * rev2_output_list (relative, plain names, among `declared`, within
 * `limits`). NULL with a malloc'd reason naming the offending output. */
DevtoolsGoma__ExecResult *exec_result_from_rev2(goma_files *files, cas_store *store, const char *instance,
                                                const char *mount_path, const Rev2ActionResult *r,
                                                const char *const *declared, size_t n_declared,
                                                const rev2_output_limits *limits, char **err);

/* Bytes of memory building and sending the answer to r is expected to
 * hold (for the blob budget). Output directories' files are not known
 * before their Trees are read and are not counted. */
uint64_t exec_result_memory(const Rev2ActionResult *r);

#endif
