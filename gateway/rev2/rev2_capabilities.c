/* Capabilities: what a Buildbarn instance supports (`gomabarn check`). */
#include <stdlib.h>

#include "rev2_client_internal.h"
#include "rev2_unary.h"
#include "mem.h"

typedef struct {
    rev2_capabilities_cb cb;
    void *user;
} caps_call;

static void caps_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    caps_call *cc = user;
    Rev2ServerCapabilities *caps = NULL;
    if (!err) {
        caps = build__bazel__remote__execution__v2__server_capabilities__unpack(NULL, len, resp);
        if (!caps)
            err = rev2_error_new(REV2_INTERNAL, "undecodable ServerCapabilities (%zu bytes)", len);
    }
    cc->cb(cc->user, err, caps);
    free(cc);
}

void rev2_get_capabilities(rev2_client *c, const char *instance, rev2_capabilities_cb cb, void *user)
{
    Rev2GetCapabilitiesRequest req = BUILD__BAZEL__REMOTE__EXECUTION__V2__GET_CAPABILITIES_REQUEST__INIT;
    req.instance_name = (char *)rev2_client_instance(c, instance);
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    caps_call *cc = gmb_malloc(sizeof *cc);
    cc->cb = cb;
    cc->user = user;
    rev2_unary(c, REV2_METHOD_CAPS, bytes, len, caps_done, cc);
}
