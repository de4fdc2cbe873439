/* rev2_cas_internal: the one-batch upload the uploader builds on. */
#ifndef REV2_CAS_INTERNAL_H
#define REV2_CAS_INTERNAL_H

#include "rev2_client.h"

/* One BatchUpdateBlobs call; datas[i] holds digests[i].size bytes and must
 * stay valid until cb runs (the request is encoded before this returns,
 * so in practice only until then). */
void rev2_batch_update(rev2_client *c, const char *instance, const rev2_digest *digests, const uint8_t *const *datas,
                       size_t n, rev2_done_cb cb, void *user);

#endif
