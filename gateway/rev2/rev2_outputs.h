/* rev2_outputs: writes an ActionResult's outputs into a local directory:
 * files (executable bit kept), symlinks, and directories expanded from
 * their Tree messages. Every name is checked by rev2_output_list (plain
 * names, among the declared outputs), so nothing lands outside `dir`. Used by `gomabarn remote-run`; the exec pipeline reads
 * outputs through the FUSE view instead (fusefs/), falling back to this
 * in-process path when FUSE is unavailable. */
#ifndef REV2_OUTPUTS_H
#define REV2_OUTPUTS_H

#include "buf.h"
#include "rev2_client.h"

/* 0, or -1 with a malloc'd reason in *err. `dir` is where output paths
 * (relative to the working directory) are rooted; `declared` are the
 * action's output paths. */
int rev2_outputs_write(rev2_client *c, const char *instance, const Rev2ActionResult *r, const char *const *declared,
                       size_t n_declared, const char *dir, char **err);
/* stdout or stderr of an action: inline bytes, or fetched by digest. */
rev2_error *rev2_outputs_stream(rev2_client *c, const char *instance, const ProtobufCBinaryData *raw,
                                const Rev2Digest *digest, gmb_buf *out);

#endif
