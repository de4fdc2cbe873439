/* rev2_client_internal: what the call files (unary, CAS, ByteStream,
 * Execute) need of the client handle and nobody outside rev2/ uses. */
#ifndef REV2_CLIENT_INTERNAL_H
#define REV2_CLIENT_INTERNAL_H

#include <stddef.h>

#include "rev2_client.h"

#define REV2_METHOD_CAS "/build.bazel.remote.execution.v2.ContentAddressableStorage/"
#define REV2_METHOD_AC "/build.bazel.remote.execution.v2.ActionCache/"
#define REV2_METHOD_EXEC "/build.bazel.remote.execution.v2.Execution/"
#define REV2_METHOD_CAPS "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities"
#define REV2_METHOD_BS "/google.bytestream.ByteStream/"

rev2_channel *rev2_client_channel(rev2_client *c);
rev2_engine *rev2_client_engine(rev2_client *c);
/* What the CAS holds as far as this client knows (rev2_known_blobs.h). */
struct rev2_known_blobs *rev2_client_known(rev2_client *c);
/* The instance name an operation uses: `instance`, or the default. */
const char *rev2_client_instance(const rev2_client *c, const char *instance);

void rev2_stat_add(rev2_client *c, size_t field_offset, uint64_t n);
#define REV2_STAT_ADD(c, field, n) rev2_stat_add((c), offsetof(rev2_client_stats, field), (n))

#endif
