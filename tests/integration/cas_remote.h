/* cas_remote: what the content-store tests against the real Buildbarn
 * share: a REv2 client for instance argv[1] on the cluster at
 * GMB_BB_TARGET (default 127.0.0.1:8980), and blobs whose content is this
 * run's alone, uploaded there (not to any store), so every read of them
 * through a store is a real fetch. */
#ifndef GMB_CAS_REMOTE_H
#define GMB_CAS_REMOTE_H

#include <stdlib.h>
#include <unistd.h>

#include "../unit/check.h"
#include "rev2_blocking.h"

static const char *instance;
static rev2_client *client;
static uint64_t nonce;

/* A client on `target` for `instance`; exits 2 if it cannot be made. */
static rev2_client *make_client(const char *target, int attempts)
{
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = target;
    o.instance_name = instance;
    o.max_attempts = attempts;
    o.initial_backoff_ms = 10;
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return c;
}

/* Sets instance, this run's nonce and the client. */
static void cas_remote_start(const char *name)
{
    instance = name;
    nonce = (uint64_t)rev2_now_us() ^ ((uint64_t)getpid() << 32);
    client = make_client(getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980", 5);
}

/* n bytes of content unique to this run and `tag`, uploaded to Buildbarn;
 * their digest in *d. The caller frees them. */
static uint8_t *remote_blob(size_t n, int tag, rev2_digest *d)
{
    uint8_t *data = malloc(n);
    uint64_t x = nonce ^ ((uint64_t)tag << 40);
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        data[i] = (uint8_t)(x >> 33);
    }
    rev2_digest_of_bytes(data, n, d);
    rev2_blob b = {.digest = *d, .data = data};
    rev2_error *e = rev2_upload_sync(client, NULL, &b, 1);
    CHECK(e == NULL);
    rev2_error_free(e);
    return data;
}

#endif
