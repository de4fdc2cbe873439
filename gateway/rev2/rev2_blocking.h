/* rev2_blocking: thin blocking wrappers over rev2_client for tools and
 * tests. Each starts the asynchronous operation and waits for its
 * callback. Never call them from an engine thread (a callback). Each
 * returns NULL on success or an error the caller frees; results are the
 * caller's to free as rev2_client.h says. */
#ifndef REV2_BLOCKING_H
#define REV2_BLOCKING_H

#include "buf.h"
#include "rev2_client.h"

rev2_error *rev2_get_capabilities_sync(rev2_client *c, const char *instance, Rev2ServerCapabilities **caps);
rev2_error *rev2_find_missing_sync(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                                   rev2_digest **missing, size_t *n_missing);
rev2_error *rev2_upload_sync(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n);
rev2_error *rev2_upload_missing_sync(rev2_client *c, const char *instance, const rev2_blob *blobs, size_t n,
                                     size_t *uploaded);
rev2_error *rev2_batch_read_sync(rev2_client *c, const char *instance, const rev2_digest *digests, size_t n,
                                 rev2_read_result **results);
/* Reads [offset, offset+limit) (limit 0: to the end) into `out`. */
rev2_error *rev2_bytestream_read_sync(rev2_client *c, const char *instance, const rev2_digest *d, int64_t offset,
                                      int64_t limit, gmb_buf *out);
rev2_error *rev2_bytestream_write_sync(rev2_client *c, const char *instance, const rev2_blob *blob);
/* A whole blob by whichever call fits its size, digest checked. */
rev2_error *rev2_read_blob_sync(rev2_client *c, const char *instance, const rev2_digest *d, gmb_buf *out);
rev2_error *rev2_get_action_result_sync(rev2_client *c, const char *instance, const rev2_digest *action,
                                        bool inline_outputs, Rev2ActionResult **result);
/* *response may be set even when an error is returned (for its logs).
 * progress (may be NULL) runs on an engine thread at each stage change. */
rev2_error *rev2_execute_sync(rev2_client *c, const char *instance, const rev2_digest *action,
                              const rev2_execute_options *opts, rev2_progress_cb progress, void *progress_user,
                              Rev2ExecuteResponse **response);

#endif
