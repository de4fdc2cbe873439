#include "rev2_client.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rev2_client_internal.h"
#include "rev2_known_blobs.h"

struct rev2_client {
    rev2_client_options opts; /* strings below are our own copies */
    rev2_engine *engine;
    rev2_channel *channel;
    char *instance;
    rev2_client_stats stats; /* updated with atomic adds */
    rev2_known_blobs *known;
};

void rev2_client_options_init(rev2_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->instance_name = "";
    o->threads = 2;
    o->call_timeout_ms = 60 * 1000;
    o->execute_timeout_ms = 15 * 60 * 1000;
    o->max_batch_bytes = (2u << 20) - (64u << 10);
    o->bytestream_chunk_bytes = 1u << 20;
    o->max_attempts = 5;
    o->initial_backoff_ms = 100;
    o->max_backoff_ms = 5000;
    o->known_blobs_max = 100000;
    o->known_blobs_ttl_ms = 10 * 60 * 1000;
}

rev2_client *rev2_client_new(const rev2_client_options *o, char **err)
{
    *err = NULL;
    rev2_client *c = gmb_calloc(1, sizeof *c);
    c->opts = *o;
    if (c->opts.max_attempts < 1)
        c->opts.max_attempts = 1;
    if (c->opts.bytestream_chunk_bytes == 0)
        c->opts.bytestream_chunk_bytes = 1u << 20;
    c->instance = gmb_strdup(o->instance_name ? o->instance_name : "");
    c->opts.instance_name = c->instance;
    c->engine = rev2_engine_new(o->threads);
    c->channel = rev2_channel_new(c->engine, &o->channel, err);
    if (!c->channel) {
        rev2_engine_free(c->engine);
        free(c->instance);
        free(c);
        return NULL;
    }
    c->known = rev2_known_blobs_new(o->known_blobs_max, o->known_blobs_ttl_ms);
    /* Channel options point into the caller's strings; we keep only what
     * the channel copied. */
    memset(&c->opts.channel, 0, sizeof c->opts.channel);
    return c;
}

const char *rev2_client_default_instance(const rev2_client *c)
{
    return c->instance;
}

const rev2_client_options *rev2_client_options_of(const rev2_client *c)
{
    return &c->opts;
}

void rev2_client_stats_get(rev2_client *c, rev2_client_stats *out)
{
    uint64_t *src = (uint64_t *)&c->stats, *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void rev2_stat_add(rev2_client *c, size_t field_offset, uint64_t n)
{
    uint64_t *field = (uint64_t *)((char *)&c->stats + field_offset);
    __atomic_fetch_add(field, n, __ATOMIC_RELAXED);
}

void rev2_client_shutdown(rev2_client *c)
{
    if (c)
        rev2_engine_shutdown(c->engine);
}

void rev2_client_free(rev2_client *c)
{
    if (!c)
        return;
    rev2_engine_shutdown(c->engine);
    rev2_channel_free(c->channel);
    rev2_engine_free(c->engine);
    rev2_known_blobs_free(c->known);
    free(c->instance);
    free(c);
}

rev2_known_blobs *rev2_client_known(rev2_client *c)
{
    return c->known;
}

rev2_channel *rev2_client_channel(rev2_client *c)
{
    return c->channel;
}

rev2_engine *rev2_client_engine(rev2_client *c)
{
    return c->engine;
}

const char *rev2_client_instance(const rev2_client *c, const char *instance)
{
    return instance ? instance : c->instance;
}
