/* rev2_ac_update: UpdateActionResult, for callers that keep their own
 * entries in the action cache (goma keys shared between gateways). */
#include <stdlib.h>

#include "rev2_client_internal.h"
#include "rev2_unary.h"
#include "mem.h"

typedef struct {
    rev2_done_cb cb;
    void *user;
} update_call;

static void update_done(void *user, rev2_error *err, const uint8_t *resp, size_t len)
{
    (void)resp;
    (void)len;
    update_call *u = user;
    u->cb(u->user, err);
    free(u);
}

void rev2_update_action_result(rev2_client *c, const char *instance, const rev2_digest *action,
                               const Rev2ActionResult *result, rev2_done_cb cb, void *user)
{
    Build__Bazel__Remote__Execution__V2__UpdateActionResultRequest req =
        BUILD__BAZEL__REMOTE__EXECUTION__V2__UPDATE_ACTION_RESULT_REQUEST__INIT;
    Rev2Digest d;
    rev2_digest_to_proto(action, &d);
    req.instance_name = (char *)rev2_client_instance(c, instance);
    req.action_digest = &d;
    req.action_result = (Rev2ActionResult *)result;
    req.digest_function = BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    update_call *u = gmb_malloc(sizeof *u);
    u->cb = cb;
    u->user = user;
    /* Idempotent (the same entry written again), so retried like the rest. */
    rev2_unary(c, REV2_METHOD_AC "UpdateActionResult", bytes, len, update_done, u);
}
