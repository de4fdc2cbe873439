/* config: gomabarn's configuration, declared once as a schema.
 *
 * config_schema.c lists every key with its type, default and one-line
 * meaning; the loader reads a libconfig file, rejects unknown keys and
 * wrong types with "file:line: message", and fills gmb_config. The same
 * table prints `gomabarn config-keys` and docs/configuration.md. */
#ifndef GMB_CONFIG_H
#define GMB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A list of strings from a libconfig array: ["a", "b"]. */
typedef struct {
    char **items;
    size_t n;
} gmb_strlist;

typedef struct {
    /* buildbarn: the REv2 endpoint */
    char *bb_target;
    char *bb_instance_name;
    bool bb_tls;
    char *bb_tls_ca_file;
    char *bb_tls_cert_file;
    char *bb_tls_key_file;
    char *bb_tls_server_name;
    char *bb_token_file;
    int64_t bb_threads;
    int64_t bb_call_timeout_ms;
    int64_t bb_execute_timeout_ms;
    int64_t bb_max_batch_bytes;
    int64_t bb_bytestream_chunk_bytes;
    int64_t bb_retry_max_attempts;
    int64_t bb_retry_initial_backoff_ms;
    int64_t bb_retry_max_backoff_ms;
    int64_t bb_known_blobs_max;
    int64_t bb_known_blobs_ttl_s;
    char *bb_scheduler_target;
    /* platform: Action.platform of every action */
    char *platform_os_family;
    char *platform_container_image;
    /* exec: how goma requests become REv2 actions */
    char *exec_root;
    int64_t exec_timeout_s;
    gmb_strlist exec_env_allow;
    char *exec_path;
    char *exec_shell;
    int64_t exec_max_outputs;
    int64_t exec_max_output_bytes;
    int64_t exec_max_blob_memory_bytes;
    int64_t exec_max_queued_s;
    int64_t exec_max_silent_s;
    char *exec_action_log;
    char *exec_fallback_instance;
    int64_t exec_pool_probe_interval_s;
    /* routing: which instance name runs a request */
    gmb_strlist routing_rules;
    bool routing_allow_header;
    /* shadow: the same actions run on a second instance name, compared */
    int64_t shadow_max_queued;
    int64_t shadow_max_in_flight;
    int64_t shadow_keep;
    /* cache: the local content store */
    char *cache_dir;
    int64_t cache_max_bytes;
    int64_t cache_fetch_timeout_ms;
    int64_t cache_min_free_bytes;
    int64_t cache_pin_timeout_s;
    /* mount: the FUSE view */
    bool mount_enabled;
    char *mount_path;
    int64_t mount_threads;
    int64_t mount_entry_timeout_s;
    bool mount_allow_other;
    bool mount_passthrough;
    /* http: the goma-facing server */
    char *http_listen;
    int64_t http_port;
    char *http_path_prefix;
    int64_t http_max_body_bytes;
    int64_t http_threads;
    /* goma: the goma file service */
    bool goma_share_through_buildbarn;
    int64_t goma_share_queue_max;
    int64_t goma_share_wait_ms;
    int64_t goma_share_lookup_timeout_ms;
    /* auth: who may use the gateway */
    char *auth_mode;
    char *auth_token_file;
    /* log */
    char *log_level;
} gmb_config;

typedef enum { GMB_CFG_STRING, GMB_CFG_INT, GMB_CFG_BOOL, GMB_CFG_LIST } gmb_config_type;

typedef struct {
    const char *path; /* "buildbarn.target" */
    gmb_config_type type;
    size_t offset;            /* of the field in gmb_config */
    const char *default_text; /* as written in a config file; lists: items joined by '|' */
    int64_t min, max;         /* for integers */
    const char *meaning;
} gmb_config_key;

extern const gmb_config_key gmb_config_schema[];
extern const size_t gmb_config_schema_len;

/* Every key at its default. */
void gmb_config_defaults(gmb_config *c);
/* Loads `path` over the defaults. 0, or -1 with a malloc'd message that
 * starts with "file:line:" when a line is known. */
int gmb_config_load(const char *path, gmb_config *c, char **err);
/* Checks relations between keys (TLS files only with tls, ...). */
int gmb_config_validate(const gmb_config *c, const char *path, char **err);
void gmb_config_free(gmb_config *c);
/* Prints the schema as a Markdown table. */
void gmb_config_print_schema(FILE *out);

#endif
