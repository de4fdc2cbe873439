/* auth: local authentication of goma clients, with no Google services.
 *   none    every request is accepted
 *   tokens  "Authorization: Bearer <token>" must carry a token listed in
 *           auth.token_file: one per line, "<token> [user name]", '#'
 *           comments. Tokens are compared as SHA-256 digests with a
 *           constant-time comparison, so neither their content nor their
 *           length leaks through timing. The user name goes to the logs.
 * A failed check is the one case for HTTP 401 (goma's client turns 401
 * into a long pause, so nothing else may use it). */
#ifndef GMB_AUTH_H
#define GMB_AUTH_H

#include <stdbool.h>

typedef struct gmb_auth gmb_auth;

/* mode "none" or "tokens". NULL with *err (unknown mode, unreadable or
 * empty token file, a line without a token). */
gmb_auth *gmb_auth_new(const char *mode, const char *token_file, char **err);
/* Checks an Authorization header value (may be NULL). On success sets
 * *user to a name for the logs (static or owned by the auth). */
bool gmb_auth_check(const gmb_auth *a, const char *authorization, const char **user);
bool gmb_auth_required(const gmb_auth *a);
int gmb_auth_token_count(const gmb_auth *a);
void gmb_auth_free(gmb_auth *a);

#endif
