/* rev2_proto: short names for the protoc-c generated REv2 types, and the
 * few helpers every user of them needs (packing into a malloc'd buffer,
 * converting digests, Any type URLs). */
#ifndef REV2_PROTO_H
#define REV2_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build/bazel/remote/execution/v2/remote_execution.pb-c.h"
#include "google/bytestream/bytestream.pb-c.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "rev2_digest.h"

typedef Build__Bazel__Remote__Execution__V2__Digest Rev2Digest;
typedef Build__Bazel__Remote__Execution__V2__Action Rev2Action;
typedef Build__Bazel__Remote__Execution__V2__Command Rev2Command;
typedef Build__Bazel__Remote__Execution__V2__Command__EnvironmentVariable Rev2EnvVar;
typedef Build__Bazel__Remote__Execution__V2__Platform Rev2Platform;
typedef Build__Bazel__Remote__Execution__V2__Platform__Property Rev2PlatformProperty;
typedef Build__Bazel__Remote__Execution__V2__Directory Rev2Directory;
typedef Build__Bazel__Remote__Execution__V2__FileNode Rev2FileNode;
typedef Build__Bazel__Remote__Execution__V2__DirectoryNode Rev2DirectoryNode;
typedef Build__Bazel__Remote__Execution__V2__SymlinkNode Rev2SymlinkNode;
typedef Build__Bazel__Remote__Execution__V2__Tree Rev2Tree;
typedef Build__Bazel__Remote__Execution__V2__ActionResult Rev2ActionResult;
typedef Build__Bazel__Remote__Execution__V2__OutputFile Rev2OutputFile;
typedef Build__Bazel__Remote__Execution__V2__OutputDirectory Rev2OutputDirectory;
typedef Build__Bazel__Remote__Execution__V2__OutputSymlink Rev2OutputSymlink;
typedef Build__Bazel__Remote__Execution__V2__ExecutedActionMetadata Rev2ExecMetadata;
typedef Build__Bazel__Remote__Execution__V2__ExecuteRequest Rev2ExecuteRequest;
typedef Build__Bazel__Remote__Execution__V2__ExecuteResponse Rev2ExecuteResponse;
typedef Build__Bazel__Remote__Execution__V2__ExecuteOperationMetadata Rev2ExecuteOperationMetadata;
typedef Build__Bazel__Remote__Execution__V2__WaitExecutionRequest Rev2WaitExecutionRequest;
typedef Build__Bazel__Remote__Execution__V2__GetActionResultRequest Rev2GetActionResultRequest;
typedef Build__Bazel__Remote__Execution__V2__FindMissingBlobsRequest Rev2FindMissingBlobsRequest;
typedef Build__Bazel__Remote__Execution__V2__FindMissingBlobsResponse Rev2FindMissingBlobsResponse;
typedef Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsRequest Rev2BatchUpdateBlobsRequest;
typedef Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsRequest__Request Rev2BatchUpdateEntry;
typedef Build__Bazel__Remote__Execution__V2__BatchUpdateBlobsResponse Rev2BatchUpdateBlobsResponse;
typedef Build__Bazel__Remote__Execution__V2__BatchReadBlobsRequest Rev2BatchReadBlobsRequest;
typedef Build__Bazel__Remote__Execution__V2__BatchReadBlobsResponse Rev2BatchReadBlobsResponse;
typedef Build__Bazel__Remote__Execution__V2__GetCapabilitiesRequest Rev2GetCapabilitiesRequest;
typedef Build__Bazel__Remote__Execution__V2__ServerCapabilities Rev2ServerCapabilities;
typedef Google__Protobuf__Duration GpbDuration;
typedef Google__Protobuf__Timestamp GpbTimestamp;
typedef Google__Protobuf__Any GpbAny;
typedef Google__Rpc__Status RpcStatus;
typedef Google__Longrunning__Operation LroOperation;

#define REV2_PKG "build.bazel.remote.execution.v2."
#define REV2_ANY_PREFIX "type.googleapis.com/"

/* Packs any protobuf-c message into a malloc'd buffer. */
uint8_t *rev2_pack(const ProtobufCMessage *msg, size_t *len);
#define REV2_PACK(msgp, lenp) rev2_pack((const ProtobufCMessage *)(msgp), (lenp))

/* Frees a message decoded by protobuf-c (NULL is fine). */
#define rev2_msg_free(m)                                                     \
    do {                                                                     \
        if (m)                                                               \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL); \
    } while (0)

/* Points a Digest message at a rev2_digest (no copy: `d` must outlive it). */
void rev2_digest_to_proto(const rev2_digest *d, Rev2Digest *out);
/* False if the message holds no valid digest. */
bool rev2_digest_from_proto(const Rev2Digest *in, rev2_digest *out);

/* Repeated Digest fields built from an array of rev2_digest (pointing
 * into it: `digests` must outlive the list). */
typedef struct {
    Rev2Digest *protos;
    Rev2Digest **ptrs; /* what a repeated field wants */
    size_t n;
} rev2_digest_list;
void rev2_digest_list_init(rev2_digest_list *l, const rev2_digest *digests, size_t n);
void rev2_digest_list_free(rev2_digest_list *l);

/* True if `any` holds a message whose full name is `full_name`. */
bool rev2_any_is(const GpbAny *any, const char *full_name);

/* Seconds since the epoch as a double, 0 if the timestamp is absent. */
double rev2_timestamp_seconds(const GpbTimestamp *ts);

#endif
