#include "rev2_proto.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

uint8_t *rev2_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *out = gmb_malloc(n ? n : 1);
    *len = protobuf_c_message_pack(msg, out);
    return out;
}

void rev2_digest_to_proto(const rev2_digest *d, Rev2Digest *out)
{
    build__bazel__remote__execution__v2__digest__init(out);
    out->hash = (char *)d->hash;
    out->size_bytes = d->size;
}

bool rev2_digest_from_proto(const Rev2Digest *in, rev2_digest *out)
{
    return in && rev2_digest_set(out, in->hash, in->size_bytes);
}

bool rev2_any_is(const GpbAny *any, const char *full_name)
{
    if (!any || !any->type_url)
        return false;
    /* Any type URLs end in "/<full name>"; the host part is not ours to judge. */
    const char *slash = strrchr(any->type_url, '/');
    const char *name = slash ? slash + 1 : any->type_url;
    return strcmp(name, full_name) == 0;
}

double rev2_timestamp_seconds(const GpbTimestamp *ts)
{
    if (!ts)
        return 0;
    return (double)ts->seconds + (double)ts->nanos / 1e9;
}

void rev2_digest_list_init(rev2_digest_list *l, const rev2_digest *digests, size_t n)
{
    l->protos = gmb_calloc(n + 1, sizeof *l->protos);
    l->ptrs = gmb_calloc(n + 1, sizeof *l->ptrs);
    for (size_t i = 0; i < n; i++) {
        rev2_digest_to_proto(&digests[i], &l->protos[i]);
        l->ptrs[i] = &l->protos[i];
    }
    l->n = n;
}

void rev2_digest_list_free(rev2_digest_list *l)
{
    free(l->protos);
    free(l->ptrs);
    l->protos = NULL;
    l->ptrs = NULL;
}
