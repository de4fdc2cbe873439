#include "client_config.h"

#include <stdlib.h>

rev2_client *gmb_client_from_config(const gmb_config *cfg, char **err)
{
    return gmb_client_from_config_budget(cfg, NULL, err);
}

rev2_client *gmb_client_from_config_budget(const gmb_config *cfg, struct gmb_budget *budget, char **err)
{
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = cfg->bb_target;
    o.channel.use_tls = cfg->bb_tls;
    o.channel.tls_ca_file = cfg->bb_tls_ca_file;
    o.channel.tls_cert_file = cfg->bb_tls_cert_file;
    o.channel.tls_key_file = cfg->bb_tls_key_file;
    o.channel.tls_server_name = cfg->bb_tls_server_name;
    o.instance_name = cfg->bb_instance_name;
    o.threads = (int)cfg->bb_threads;
    o.call_timeout_ms = cfg->bb_call_timeout_ms;
    o.execute_timeout_ms = cfg->bb_execute_timeout_ms;
    o.max_batch_bytes = (size_t)cfg->bb_max_batch_bytes;
    o.bytestream_chunk_bytes = (size_t)cfg->bb_bytestream_chunk_bytes;
    o.max_attempts = (int)cfg->bb_retry_max_attempts;
    o.initial_backoff_ms = cfg->bb_retry_initial_backoff_ms;
    o.max_backoff_ms = cfg->bb_retry_max_backoff_ms;
    o.known_blobs_max = (size_t)cfg->bb_known_blobs_max;
    o.known_blobs_ttl_ms = cfg->bb_known_blobs_ttl_s * 1000;
    o.blob_budget = budget;
    char *token = NULL;
    if (*cfg->bb_token_file) {
        token = rev2_read_small_file(cfg->bb_token_file, "buildbarn.token_file", err);
        if (!token)
            return NULL;
        o.channel.bearer_token = token;
    }
    rev2_client *c = rev2_client_new(&o, err);
    free(token);
    return c;
}

cas_store_options gmb_store_options(const gmb_config *cfg)
{
    return (cas_store_options){.dir = cfg->cache_dir,
                               .max_bytes = (uint64_t)cfg->cache_max_bytes,
                               .fetch_timeout_ms = cfg->cache_fetch_timeout_ms,
                               .min_free_bytes = cfg->cache_min_free_bytes,
                               .pin_timeout_ms = cfg->cache_pin_timeout_s * 1000};
}

view_options gmb_view_options(const gmb_config *cfg, const char *mountpoint)
{
    return (view_options){.mountpoint = mountpoint ? mountpoint : cfg->mount_path,
                          .entry_timeout_s = (double)cfg->mount_entry_timeout_s,
                          .threads = (int)cfg->mount_threads,
                          .allow_other = cfg->mount_allow_other,
                          .passthrough = cfg->mount_passthrough};
}
