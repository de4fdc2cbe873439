/* rev2_unary: one request, one response, with retries. */
#ifndef REV2_UNARY_H
#define REV2_UNARY_H

#include <stddef.h>
#include <stdint.h>

#include "rev2_client.h"

/* A unary call with retries. `request` is owned by the call (freed at the
 * end). The response bytes are valid during the callback only. */
typedef void (*rev2_unary_cb)(void *user, rev2_error *err, const uint8_t *resp, size_t len);
void rev2_unary(rev2_client *c, const char *method, uint8_t *request, size_t request_len, rev2_unary_cb cb, void *user);

#endif
