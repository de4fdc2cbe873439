#include "rev2_channel.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "rev2_proto.h"
#include "mem.h"

#ifndef GOMABARN_VERSION
#define GOMABARN_VERSION "dev"
#endif

struct rev2_channel {
    rev2_engine *engine;
    grpc_channel *channel;
    char *target;
    char *auth_value;          /* "Bearer <token>" */
    uint8_t *request_metadata; /* serialized RequestMetadata */
    size_t request_metadata_len;
    grpc_metadata md[2];
    size_t n_md;
};

char *rev2_read_small_file(const char *path, const char *what, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = gmb_format("cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *s = gmb_malloc(cap);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            if (cap >= (1u << 24)) {
                fclose(f);
                free(s);
                *err = gmb_format("%s %s is larger than 16 MiB", what, path);
                return NULL;
            }
            cap *= 2;
            s = gmb_realloc(s, cap);
        }
    }
    fclose(f);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    s[len] = '\0';
    return s;
}

/* Parses every certificate (or the key) in a PEM file with OpenSSL so a
 * broken file is named at start-up. Returns the file's text. */
static char *read_pem(const char *path, const char *what, int is_key, char **err)
{
    char *text = rev2_read_small_file(path, what, err);
    if (!text)
        return NULL;
    BIO *bio = BIO_new_mem_buf(text, -1);
    int ok;
    if (is_key) {
        EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        ok = key != NULL;
        EVP_PKEY_free(key);
    } else {
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        ok = cert != NULL;
        X509_free(cert);
    }
    BIO_free(bio);
    if (!ok) {
        char why[256];
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        ERR_clear_error();
        *err =
            gmb_format("%s %s is not a PEM %s (OpenSSL: %s)", what, path, is_key ? "private key" : "certificate", why);
        free(text);
        return NULL;
    }
    return text;
}

static grpc_channel_credentials *make_credentials(const rev2_channel_options *o, char **err)
{
    if (!o->use_tls)
        return grpc_insecure_credentials_create();
    char *roots = NULL, *cert = NULL, *key = NULL;
    if (o->tls_ca_file && *o->tls_ca_file && !(roots = read_pem(o->tls_ca_file, "TLS CA file", 0, err)))
        return NULL;
    bool has_cert = o->tls_cert_file && *o->tls_cert_file;
    bool has_key = o->tls_key_file && *o->tls_key_file;
    if (has_cert != has_key) {
        *err = gmb_format("TLS client authentication needs both a certificate and a key (got only the %s)",
                          has_cert ? "certificate" : "key");
        free(roots);
        return NULL;
    }
    if (has_cert && (!(cert = read_pem(o->tls_cert_file, "TLS certificate file", 0, err)) ||
                     !(key = read_pem(o->tls_key_file, "TLS key file", 1, err)))) {
        free(roots);
        free(cert);
        return NULL;
    }
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    grpc_channel_credentials *creds = grpc_ssl_credentials_create(roots, has_cert ? &pair : NULL, NULL, NULL);
    free(roots);
    free(cert);
    free(key);
    if (!creds)
        *err = gmb_format("gRPC refused the TLS settings");
    return creds;
}

static void build_request_metadata(rev2_channel *ch)
{
    Build__Bazel__Remote__Execution__V2__ToolDetails tool = BUILD__BAZEL__REMOTE__EXECUTION__V2__TOOL_DETAILS__INIT;
    tool.tool_name = "gomabarn";
    tool.tool_version = GOMABARN_VERSION;
    Build__Bazel__Remote__Execution__V2__RequestMetadata rm =
        BUILD__BAZEL__REMOTE__EXECUTION__V2__REQUEST_METADATA__INIT;
    rm.tool_details = &tool;
    ch->request_metadata = REV2_PACK(&rm, &ch->request_metadata_len);
}

rev2_channel *rev2_channel_new(rev2_engine *engine, const rev2_channel_options *o, char **err)
{
    *err = NULL;
    if (!o->target || !*o->target) {
        *err = gmb_format("no Buildbarn target configured (expected host:port)");
        return NULL;
    }
    grpc_channel_credentials *creds = make_credentials(o, err);
    if (!creds)
        return NULL;

    rev2_channel *ch = gmb_calloc(1, sizeof *ch);
    ch->engine = engine;
    ch->target = gmb_strdup(o->target);

    int max_msg = (int)(o->max_message_bytes ? o->max_message_bytes : 64u << 20);
    grpc_arg args[4];
    size_t n_args = 0;
    args[n_args].type = GRPC_ARG_INTEGER;
    args[n_args].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[n_args++].value.integer = max_msg;
    args[n_args].type = GRPC_ARG_INTEGER;
    args[n_args].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[n_args++].value.integer = max_msg;
    args[n_args].type = GRPC_ARG_STRING;
    args[n_args].key = GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[n_args++].value.string = "gomabarn/" GOMABARN_VERSION;
    if (o->use_tls && o->tls_server_name && *o->tls_server_name) {
        args[n_args].type = GRPC_ARG_STRING;
        args[n_args].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[n_args++].value.string = (char *)o->tls_server_name;
    }
    grpc_channel_args cargs = {.num_args = n_args, .args = args};
    ch->channel = grpc_channel_create(o->target, creds, &cargs);
    grpc_channel_credentials_release(creds);

    /* Header values are ref-counted copies, never static slices of our
     * buffers: channels to one target share a transport, and its HPACK
     * table keeps the slices it has seen after this channel is gone. */
    build_request_metadata(ch);
    ch->md[ch->n_md].key = grpc_slice_from_static_string("build.bazel.remote.execution.v2.requestmetadata-bin");
    ch->md[ch->n_md++].value =
        grpc_slice_from_copied_buffer((const char *)ch->request_metadata, ch->request_metadata_len);
    if (o->bearer_token && *o->bearer_token) {
        ch->auth_value = gmb_format("Bearer %s", o->bearer_token);
        ch->md[ch->n_md].key = grpc_slice_from_static_string("authorization");
        ch->md[ch->n_md++].value = grpc_slice_from_copied_string(ch->auth_value);
    }
    GMB_INFO("rev2", "channel to %s (%s%s)", o->target, o->use_tls ? "TLS" : "plain text",
             ch->auth_value ? ", bearer token" : "");
    return ch;
}

rev2_engine *rev2_channel_engine(rev2_channel *ch)
{
    return ch->engine;
}

grpc_channel *rev2_channel_grpc(rev2_channel *ch)
{
    return ch->channel;
}

const char *rev2_channel_target(rev2_channel *ch)
{
    return ch->target;
}

size_t rev2_channel_metadata(rev2_channel *ch, const void **md_array)
{
    *md_array = ch->md;
    return ch->n_md;
}

void rev2_channel_free(rev2_channel *ch)
{
    if (!ch)
        return;
    grpc_channel_destroy(ch->channel);
    for (size_t i = 0; i < ch->n_md; i++)
        grpc_slice_unref(ch->md[i].value);
    free(ch->target);
    free(ch->auth_value);
    free(ch->request_metadata);
    free(ch);
}
