/* Every configuration key gomabarn knows, with its default and meaning. */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define K(path, type, field, def, lo, hi, meaning)                    \
    {                                                                 \
        path, type, offsetof(gmb_config, field), def, lo, hi, meaning \
    }

const gmb_config_key gmb_config_schema[] = {
    K("buildbarn.target", GMB_CFG_STRING, bb_target, "127.0.0.1:8980", 0, 0,
      "gRPC target of Buildbarn's frontend (bb_storage): host:port, dns:///host:port or unix:/path"),
    K("buildbarn.instance_name", GMB_CFG_STRING, bb_instance_name, "hardlinking", 0, 0,
      "default REv2 instance name; \"\" is valid and stays empty (never \".\")"),
    K("buildbarn.tls", GMB_CFG_BOOL, bb_tls, "false", 0, 0, "connect with TLS"),
    K("buildbarn.tls_ca_file", GMB_CFG_STRING, bb_tls_ca_file, "", 0, 0,
      "PEM file of CA certificates to trust; empty: the system's"),
    K("buildbarn.tls_cert_file", GMB_CFG_STRING, bb_tls_cert_file, "", 0, 0,
      "PEM client certificate chain for mutual TLS"),
    K("buildbarn.tls_key_file", GMB_CFG_STRING, bb_tls_key_file, "", 0, 0, "PEM private key of tls_cert_file"),
    K("buildbarn.tls_server_name", GMB_CFG_STRING, bb_tls_server_name, "", 0, 0,
      "name to expect in the server certificate when it differs from the target host"),
    K("buildbarn.token_file", GMB_CFG_STRING, bb_token_file, "", 0, 0,
      "file holding a bearer token sent as \"authorization: Bearer <token>\"; empty: none"),
    K("buildbarn.threads", GMB_CFG_INT, bb_threads, "2", 1, 64,
      "threads that drive gRPC completions (calls in flight need no thread each)"),
    K("buildbarn.call_timeout_ms", GMB_CFG_INT, bb_call_timeout_ms, "60000", 100, 86400000,
      "deadline of every call except Execute"),
    K("buildbarn.execute_timeout_ms", GMB_CFG_INT, bb_execute_timeout_ms, "900000", 1000, 86400000,
      "deadline of an Execute (or WaitExecution) stream"),
    K("buildbarn.max_batch_bytes", GMB_CFG_INT, bb_max_batch_bytes, "2031616", 1024, 1073741824,
      "largest BatchUpdateBlobs/BatchReadBlobs request; bigger blobs go through ByteStream (Buildbarn advertises no "
      "limit, its default message limit is 2 MiB)"),
    K("buildbarn.bytestream_chunk_bytes", GMB_CFG_INT, bb_bytestream_chunk_bytes, "1048576", 1024, 16777216,
      "size of each ByteStream Write message"),
    K("buildbarn.retry.max_attempts", GMB_CFG_INT, bb_retry_max_attempts, "5", 1, 100,
      "tries per call on UNAVAILABLE or RESOURCE_EXHAUSTED"),
    K("buildbarn.retry.initial_backoff_ms", GMB_CFG_INT, bb_retry_initial_backoff_ms, "100", 1, 600000,
      "pause before the first retry; doubles each time, with jitter"),
    K("buildbarn.retry.max_backoff_ms", GMB_CFG_INT, bb_retry_max_backoff_ms, "5000", 1, 600000,
      "longest pause between retries"),
    K("buildbarn.known_blobs_max", GMB_CFG_INT, bb_known_blobs_max, "100000", 0, 100000000,
      "blobs remembered as present in Buildbarn's CAS per gateway (about 40 bytes each), so a hot toolchain is not "
      "checked with FindMissingBlobs on every action-cache miss; 0: ask every time"),
    K("buildbarn.known_blobs_ttl_s", GMB_CFG_INT, bb_known_blobs_ttl_s, "600", 0, 86400,
      "for how long a blob is remembered as present; a blob Buildbarn evicted sooner costs one failed Execute and "
      "an upload"),
    K("buildbarn.scheduler_target", GMB_CFG_STRING, bb_scheduler_target, "", 0, 0,
      "gRPC target of bb_scheduler's BuildQueueState service (buildQueueStateGrpcServers, e.g. 127.0.0.1:8984); "
      "polled every 5 s for the workers of each pool, so a pool whose workers are all gone is known at once, and "
      "for each worker's last word: an action on a worker silent for 15 s (killed, cut off) is given up and a pool "
      "whose every worker is silent is down, a minute before Buildbarn would notice; "
      "empty: pool health comes from Exec answers only"),
    K("platform.os_family", GMB_CFG_STRING, platform_os_family, "linux", 0, 0,
      "OSFamily platform property; REv2 and Buildbarn's workers use lowercase \"linux\"; empty: not sent"),
    K("platform.container_image", GMB_CFG_STRING, platform_container_image, "", 0, 0,
      "container-image platform property; empty: not sent (Buildbarn's reference workers advertise one)"),
    K("exec.root", GMB_CFG_STRING, exec_root, "", 0, 0,
      "client directory used as the input root of every action (inputs outside it are refused); empty: the longest "
      "common directory of cwd, inputs and outputs"),
    K("exec.timeout_s", GMB_CFG_INT, exec_timeout_s, "900", 1, 86400,
      "Action.timeout: the worker stops a command running longer"),
    K("exec.env_allow", GMB_CFG_LIST, exec_env_allow, "LANG|LANGUAGE|LC_*|SOURCE_DATE_EPOCH|TZ", 0, 0,
      "client environment variables an action gets (a trailing * matches a prefix); the rest are dropped, so they do "
      "not split the action cache"),
    K("exec.path", GMB_CFG_STRING, exec_path, "/usr/local/bin:/usr/bin:/bin", 0, 0,
      "PATH of every action (the client's PATH names client directories); empty: none"),
    K("exec.shell", GMB_CFG_STRING, exec_shell, "/bin/sh", 0, 0,
      "POSIX shell on the workers that runs a GCC or clang compile whose arguments name client paths under the input "
      "root (absolute sources, -I directories) or ask for debug info: it puts in the worker's directory for them and "
      "maps it back to the client's with -ffile-prefix-map, so objects match a local compile; empty: arguments run "
      "as sent"),
    K("exec.max_outputs", GMB_CFG_INT, exec_max_outputs, "100000", 1, 100000000,
      "most output files, symlinks and directories one answer may carry (output directories expanded); past it the "
      "request fails with an error naming the action"),
    K("exec.max_output_bytes", GMB_CFG_INT, exec_max_output_bytes, "17179869184L", 1, INT64_MAX,
      "most bytes of output files one answer may carry; past it the request fails with an error naming the action"),
    K("exec.action_log", GMB_CFG_STRING, exec_action_log, "", 0, 0,
      "file to which every Exec that reached Buildbarn appends \"<unix time> <instance> <action digest> <outcome>\" "
      "(for gomabarn replay --actions; rotated to FILE.1 past 64 MiB); empty: none"),
    K("exec.max_queued_s", GMB_CFG_INT, exec_max_queued_s, "60", 0, 86400,
      "longest an action may wait QUEUED for a worker (counted again when Buildbarn requeues it after its worker "
      "disappeared); past it the request fails at once with a retryable error naming the pool, and the pool is "
      "marked down; 0: wait as long as Buildbarn does (its platformQueueWithNoWorkersTimeout, 900 s in its "
      "reference deployment)"),
    K("exec.max_silent_s", GMB_CFG_INT, exec_max_silent_s, "180", 0, 86400,
      "longest time an action's Execute stream may go without a word from Buildbarn (it updates running actions "
      "at least once a minute): then it is asked again, and after a second such time the client gets a retryable "
      "error and compiles locally; 0: no limit but buildbarn.execute_timeout_ms"),
    K("exec.fallback_instance", GMB_CFG_STRING, exec_fallback_instance, "", 0, 0,
      "an instance name (worker pool) to run an action on, once, when its own pool has no workers, is known "
      "down or let it wait QUEUED past exec.max_queued_s; \"\": none, the client gets a retryable error and "
      "compiles locally"),
    K("exec.pool_probe_interval_s", GMB_CFG_INT, exec_pool_probe_interval_s, "10", 1, 3600,
      "while a pool is down, requests to it that miss the action cache are answered at once, except one per this "
      "interval, which tries the pool again"),
    K("exec.max_blob_memory_bytes", GMB_CFG_INT, exec_max_blob_memory_bytes, "134217728", 4194304, INT64_MAX,
      "blob bytes the gateway holds in memory at once across all requests (upload buffers read from files, outputs "
      "read back for answers); past it requests wait their turn (up to 5 minutes, then fail) instead of growing "
      "the heap; one request larger than this runs alone"),
    K("routing.rules", GMB_CFG_LIST, routing_rules, "", 0, 0,
      "rules \"KEY=PATTERN ... -> INSTANCE [shadow INSTANCE2 [PCT%]]\" tried in order, the first whose every "
      "condition matches picks the instance name (\"\" allowed); KEY is compiler (command_spec.name), target "
      "(command_spec.target) or dimension (one of RequesterInfo.dimensions); PATTERN may end in *; no match: "
      "buildbarn.instance_name. With shadow, PCT% of the requests (default 100%) also run on INSTANCE2, cache "
      "bypassed, and are compared (the /compare page, gomabarn compare)"),
    K("routing.allow_header", GMB_CFG_BOOL, routing_allow_header, "true", 0, 0,
      "an X-Gomabarn-Instance request header overrides the routing, and X-Gomabarn-Shadow (\"INSTANCE [PCT%]\") "
      "shadows the request (for experiments)"),
    K("shadow.max_queued", GMB_CFG_INT, shadow_max_queued, "1000", 0, 1000000,
      "shadow executions waiting to run; more are dropped (counted in gomabarn_shadow_dropped_total), so a slow "
      "shadow pool never delays or grows the gateway"),
    K("shadow.max_in_flight", GMB_CFG_INT, shadow_max_in_flight, "4", 1, 256,
      "shadow executions running at once (each holds a thread of its own while it runs)"),
    K("shadow.keep", GMB_CFG_INT, shadow_keep, "10000", 1, 10000000,
      "finished shadow comparisons kept in memory for the /compare page and gomabarn compare (the newest)"),
    K("cache.dir", GMB_CFG_STRING, cache_dir, "/var/cache/gomabarn/cas", 0, 0,
      "directory of the local content store (blobs by digest; survives restarts)"),
    K("cache.max_bytes", GMB_CFG_INT, cache_max_bytes, "10737418240L", 1048576, INT64_MAX,
      "disk space (file system blocks, not content bytes) the content store may take; least recently used blobs "
      "are evicted beyond it; under 1 GiB a compiler toolchain does not fit, and a blob larger than it is refused"),
    K("cache.fetch_timeout_ms", GMB_CFG_INT, cache_fetch_timeout_ms, "60000", 100, 86400000,
      "a read waiting longer than this for bytes from Buildbarn fails with EIO (never hangs)"),
    K("cache.min_free_bytes", GMB_CFG_INT, cache_min_free_bytes, "-1", -1, INT64_MAX,
      "free space the content store keeps on cache.dir's file system, evicting blobs for it (a write that finds "
      "the disk full evicts and tries again anyway); -1: the smaller of 1 GiB and 5% of the file system; 0: none"),
    K("cache.pin_timeout_s", GMB_CFG_INT, cache_pin_timeout_s, "600", 1, 86400,
      "longest a pin holds blobs against eviction: goma chunks stored before the FILE_META that names them, the "
      "inputs of an Exec being built; a client that never comes back cannot pin them forever"),
    K("mount.enabled", GMB_CFG_BOOL, mount_enabled, "false", 0, 0,
      "gomabarn serve mounts the view and reads Exec outputs back through it (in-process when FUSE is unavailable)"),
    K("mount.path", GMB_CFG_STRING, mount_path, "/tmp/gomabarn-mnt", 0, 0,
      "where the FUSE view is mounted (created if missing; a dead mount there is cleaned)"),
    K("mount.threads", GMB_CFG_INT, mount_threads, "16", 1, 256,
      "FUSE worker threads at most (a read waiting on Buildbarn holds one)"),
    K("mount.entry_timeout_s", GMB_CFG_INT, mount_entry_timeout_s, "3600", 1, 31536000,
      "how long the kernel caches names and attributes (content never changes)"),
    K("mount.allow_other", GMB_CFG_BOOL, mount_allow_other, "true", 0, 0,
      "let users other than the mounting one read the view"),
    K("mount.passthrough", GMB_CFG_BOOL, mount_passthrough, "true", 0, 0,
      "let the kernel read blobs already in cache.dir itself (FUSE passthrough: Linux >= 6.9, run as root); "
      "reads of blobs still arriving from Buildbarn go through gomabarn either way"),
    K("http.listen", GMB_CFG_STRING, http_listen, "127.0.0.1", 0, 0,
      "address the goma HTTP server listens on (IPv4 or IPv6 literal)"),
    K("http.port", GMB_CFG_INT, http_port, "5050", 0, 65535,
      "port of the goma HTTP server (goma clients: GOMA_SERVER_PORT); 0 picks a free one"),
    K("http.path_prefix", GMB_CFG_STRING, http_path_prefix, "/cxx-compiler-service", 0, 0,
      "path prefix of the goma endpoints (goma clients: GOMA_URL_PATH_PREFIX)"),
    K("http.max_body_bytes", GMB_CFG_INT, http_max_body_bytes, "67108864", 1024, 4294967296LL,
      "largest request body, before and after decompression; larger gets HTTP 413"),
    K("http.threads", GMB_CFG_INT, http_threads, "4", 1, 64,
      "HTTP polling threads (requests waiting on Buildbarn hold none)"),
    K("goma.share_through_buildbarn", GMB_CFG_BOOL, goma_share_through_buildbarn, "true", 0, 0,
      "gateways behind one load balancer share goma files through Buildbarn alone: each stored FileBlob (and a "
      "FILE's content) goes to the CAS with its key in the action cache, and a key not stored here is looked up "
      "there before it is reported missing (needs action-cache writes allowed for buildbarn.instance_name)"),
    K("goma.share_queue_max", GMB_CFG_INT, goma_share_queue_max, "10000", 1, 10000000,
      "goma files waiting to go to Buildbarn at most (about 200 bytes each); past it more are not shared (counted)"),
    K("goma.share_wait_ms", GMB_CFG_INT, goma_share_wait_ms, "5000", 0, 60000,
      "longest a StoreFile answer waits for its files to reach Buildbarn (so the Exec that follows finds them "
      "through any gateway); past it the answer goes and the upload goes on; 0: answer at once"),
    K("goma.share_lookup_timeout_ms", GMB_CFG_INT, goma_share_lookup_timeout_ms, "5000", 100, 600000,
      "longest wait for Buildbarn to say whether it holds keys this gateway lacks (one round of GetActionResult "
      "calls per request, then the files' fetch); past it they are reported missing"),
    K("auth.mode", GMB_CFG_STRING, auth_mode, "none", 0, 0,
      "\"none\", or \"tokens\": clients must send a bearer token listed in auth.token_file"),
    K("auth.token_file", GMB_CFG_STRING, auth_token_file, "", 0, 0,
      "file of accepted tokens, one per line: \"<token> [user name]\" ('#' starts a comment)"),
    K("log.level", GMB_CFG_STRING, log_level, "info", 0, 0, "debug, info, warn or error"),
};

const size_t gmb_config_schema_len = sizeof gmb_config_schema / sizeof gmb_config_schema[0];
