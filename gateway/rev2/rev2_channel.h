/* rev2_channel: one gRPC channel to one Buildbarn endpoint, shared by all
 * calls to it, with the credentials from configuration.
 *
 * Plain text, or TLS with an optional CA bundle and an optional client
 * certificate and key for mutual TLS. PEM files are read and checked with
 * OpenSSL first, so a wrong path or a key that does not parse is reported
 * in plain words at start-up rather than as a failed handshake later. An
 * optional bearer token is sent as "authorization: Bearer <token>" on
 * every call. */
#ifndef REV2_CHANNEL_H
#define REV2_CHANNEL_H

#include <stddef.h>

#include "rev2_engine.h"

typedef struct {
    const char *target;          /* "host:port", "dns:///host:port", "unix:/path" */
    int use_tls;                 /* 0: plain text */
    const char *tls_ca_file;     /* PEM roots; NULL: system roots */
    const char *tls_cert_file;   /* PEM client chain, for mTLS; NULL: none */
    const char *tls_key_file;    /* PEM client key, for mTLS */
    const char *tls_server_name; /* override the name checked in the server cert */
    const char *bearer_token;    /* NULL or "": none */
    size_t max_message_bytes;    /* largest response we accept (0: 64 MiB) */
} rev2_channel_options;

typedef struct rev2_channel rev2_channel;

/* NULL on failure with a malloc'd explanation in *err. */
rev2_channel *rev2_channel_new(rev2_engine *engine, const rev2_channel_options *opts, char **err);
rev2_engine *rev2_channel_engine(rev2_channel *ch);
struct grpc_channel *rev2_channel_grpc(rev2_channel *ch);
const char *rev2_channel_target(rev2_channel *ch);
/* The metadata every call carries (authorization, request metadata). */
size_t rev2_channel_metadata(rev2_channel *ch, const void **md_array);
/* Destroy after rev2_engine_shutdown(): no call may still use it. */
void rev2_channel_free(rev2_channel *ch);

/* Reads a whole small file (a PEM, a token) into a malloc'd NUL-terminated
 * string with trailing whitespace removed. NULL with *err on failure. */
char *rev2_read_small_file(const char *path, const char *what, char **err);

#endif
