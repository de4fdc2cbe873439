/* The REv2 client against a real Buildbarn (tests/buildbarn/start.sh),
 * on the instance name given as argv[1]:
 *   - capabilities;
 *   - hello.c compiled remotely, hello.o equal byte for byte to a local
 *     compile, then the same action again answered from the cache;
 *   - a blob larger than the batch limit through ByteStream Write, read
 *     back whole and in part;
 *   - an action whose input is absent from the CAS: FAILED_PRECONDITION
 *     with that digest parsed as missing;
 *   - an instance name no worker serves: a readable "no workers" error.
 * Worker name and queue/fetch/execute/upload times go to the log. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/check.h"
#include "rev2_action.h"
#include "rev2_blocking.h"
#include "rev2_tree.h"

static const char *instance;
static rev2_client *client;
static uint8_t salt[16]; /* makes this run's actions new to the cache */

/* What both pools of tests/buildbarn advertise (Buildbarn matches the
 * whole set exactly). */
static const rev2_property platform[] = {
    {"OSFamily", "linux"},
    {"container-image", "docker://ghcr.io/catthehacker/ubuntu:act-22.04@sha256:"
                        "dd7654ffb01d5b7b54b23b9ce928a1f7f2d08c7b3d7e320b6574b55d7ccde78b"},
};

static const char hello_c[] = "#include <stdio.h>\n"
                              "int main(void) { puts(\"hello from gomabarn\"); return 0; }\n";

static rev2_client *make_client(int attempts)
{
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980";
    o.instance_name = instance;
    o.max_attempts = attempts;
    o.execute_timeout_ms = 120000;
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    if (!c) {
        fprintf(stderr, "cannot create client: %s\n", err);
        exit(1);
    }
    return c;
}

static void report(const char *what, rev2_error *e)
{
    if (e)
        fprintf(stderr, "  %s: %s %s\n", what, rev2_code_name(e->code), e->message);
}

static void capabilities(void)
{
    Rev2ServerCapabilities *caps = NULL;
    rev2_error *e = rev2_get_capabilities_sync(client, NULL, &caps);
    report("GetCapabilities", e);
    CHECK(e == NULL);
    if (!caps)
        return;
    CHECK(caps->cache_capabilities != NULL);
    bool sha256 = false;
    for (size_t i = 0; caps->cache_capabilities && i < caps->cache_capabilities->n_digest_functions; i++)
        sha256 |= caps->cache_capabilities->digest_functions[i] ==
                  BUILD__BAZEL__REMOTE__EXECUTION__V2__DIGEST_FUNCTION__VALUE__SHA256;
    CHECK(sha256);
    fprintf(stderr, "  capabilities: max_batch_total_size_bytes=%lld exec_enabled=%d api %d.%d\n",
            caps->cache_capabilities ? (long long)caps->cache_capabilities->max_batch_total_size_bytes : -1LL,
            caps->execution_capabilities ? caps->execution_capabilities->exec_enabled : -1,
            caps->high_api_version ? caps->high_api_version->major : -1,
            caps->high_api_version ? caps->high_api_version->minor : -1);
    rev2_msg_free(caps);
}

/* Compiles hello.c here, in a fresh directory, exactly as the action does. */
static uint8_t *compile_locally(size_t *len)
{
    char dir[] = "/tmp/gmb-local-XXXXXX";
    if (!mkdtemp(dir))
        return NULL;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && cat > hello.c && /usr/bin/cc -c hello.c -o hello.o", dir);
    FILE *p = popen(cmd, "w");
    fwrite(hello_c, 1, strlen(hello_c), p);
    if (pclose(p) != 0)
        return NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/hello.o", dir);
    FILE *f = fopen(path, "rb");
    uint8_t *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
    return data;
}

static double span(const GpbTimestamp *a, const GpbTimestamp *b)
{
    if (!a || !b)
        return -1;
    return (rev2_timestamp_seconds(b) - rev2_timestamp_seconds(a)) * 1000.0;
}

static void print_metadata(const char *label, const Rev2ActionResult *r)
{
    const Rev2ExecMetadata *m = r->execution_metadata;
    if (!m) {
        fprintf(stderr, "  %s: no ExecutedActionMetadata\n", label);
        return;
    }
    fprintf(stderr, "  %s: worker=%s queued=%.1fms fetch=%.1fms execute=%.1fms upload=%.1fms\n", label,
            m->worker ? m->worker : "?", span(m->queued_timestamp, m->worker_start_timestamp),
            span(m->input_fetch_start_timestamp, m->input_fetch_completed_timestamp),
            span(m->execution_start_timestamp, m->execution_completed_timestamp),
            span(m->output_upload_start_timestamp, m->output_upload_completed_timestamp));
}

/* Builds the action that compiles `source` as hello.c and uploads it;
 * with upload_source false the source itself is left out of the CAS. */
static bool prepare_action(const char *source, bool upload_source, rev2_built_action *built, rev2_digest *src_digest)
{
    rev2_digest_of_bytes(source, strlen(source), src_digest);
    rev2_tree *t = rev2_tree_new();
    char *err = NULL;
    CHECK_INT(rev2_tree_add_file(t, "hello.c", src_digest, false, &err), 0);
    rev2_digest root;
    rev2_tree_finish(t, &root);

    const char *args[] = {"/usr/bin/cc", "-c", "hello.c", "-o", "hello.o"};
    const char *outs[] = {"hello.o"};
    rev2_property env[] = {{"PATH", "/usr/bin:/bin"}};
    rev2_action_spec spec = {
        .arguments = args,
        .n_arguments = 5,
        .environment = env,
        .n_environment = 1,
        .output_paths = outs,
        .n_output_paths = 1,
        .platform = platform,
        .n_platform = 2,
        .input_root = root,
        .timeout_ms = 60000,
        .salt = salt,
        .salt_len = sizeof salt,
    };
    if (rev2_action_build(&spec, built, &err) < 0) {
        fprintf(stderr, "  %s\n", err);
        CHECK(0);
        rev2_tree_free(t);
        return false;
    }
    const rev2_blob *dirs;
    size_t n_dirs = rev2_tree_directory_blobs(t, &dirs);
    rev2_blob blobs[8];
    size_t n = 0;
    rev2_action_blobs(built, blobs);
    n = 2;
    for (size_t i = 0; i < n_dirs && n < 7; i++)
        blobs[n++] = dirs[i];
    if (upload_source)
        blobs[n++] = (rev2_blob){.digest = *src_digest, .data = (const uint8_t *)source};
    size_t uploaded = 0;
    rev2_error *e = rev2_upload_missing_sync(client, NULL, blobs, n, &uploaded);
    report("upload", e);
    CHECK(e == NULL);
    fprintf(stderr, "  uploaded %zu of %zu blobs (the rest were present)\n", uploaded, n);
    rev2_error_free(e);
    rev2_tree_free(t);
    return e == NULL;
}

static void compile_hello_and_hit_cache(void)
{
    size_t local_len = 0;
    uint8_t *local = compile_locally(&local_len);
    CHECK(local != NULL && local_len > 0);

    rev2_built_action built;
    rev2_digest src;
    if (!prepare_action(hello_c, true, &built, &src)) {
        free(local);
        return;
    }
    char ds[REV2_DIGEST_STR_LEN];
    fprintf(stderr, "  action %s\n", rev2_digest_str(&built.action_digest, ds));

    /* New to the cache (the salt is this run's). */
    Rev2ActionResult *ar = NULL;
    rev2_error *e = rev2_get_action_result_sync(client, NULL, &built.action_digest, false, &ar);
    CHECK(e != NULL && e->code == REV2_NOT_FOUND);
    rev2_error_free(e);
    rev2_msg_free(ar);

    Rev2ExecuteResponse *resp = NULL;
    int64_t t0 = rev2_now_ms();
    e = rev2_execute_sync(client, NULL, &built.action_digest, NULL, NULL, NULL, &resp);
    int64_t took = rev2_now_ms() - t0;
    report("Execute", e);
    CHECK(e == NULL);
    if (!e && resp && resp->result) {
        const Rev2ActionResult *r = resp->result;
        CHECK_INT(r->exit_code, 0);
        CHECK(!resp->cached_result);
        CHECK_INT(r->n_output_files, 1);
        fprintf(stderr, "  first Execute: %lld ms end to end, cached_result=%d\n", (long long)took,
                resp->cached_result);
        print_metadata("first run", r);
        if (r->n_output_files == 1) {
            CHECK_STR(r->output_files[0]->path, "hello.o");
            rev2_digest od;
            CHECK(rev2_digest_from_proto(r->output_files[0]->digest, &od));
            gmb_buf out;
            gmb_buf_init(&out, 16u << 20);
            rev2_error *re = rev2_read_blob_sync(client, NULL, &od, &out);
            report("read hello.o", re);
            CHECK(re == NULL);
            CHECK_INT(out.len, (long long)local_len);
            CHECK(out.len == local_len && memcmp(out.data, local, local_len) == 0);
            fprintf(stderr, "  hello.o: %zu bytes, %s local compile\n", out.len,
                    out.len == local_len && memcmp(out.data, local, local_len) == 0 ? "identical to"
                                                                                    : "DIFFERENT from");
            rev2_error_free(re);
            gmb_buf_free(&out);
        }
    }
    rev2_error_free(e);
    rev2_msg_free(resp);

    /* The same action again: served from the action cache. */
    resp = NULL;
    t0 = rev2_now_ms();
    e = rev2_execute_sync(client, NULL, &built.action_digest, NULL, NULL, NULL, &resp);
    took = rev2_now_ms() - t0;
    report("second Execute", e);
    CHECK(e == NULL);
    if (resp) {
        CHECK(resp->cached_result);
        fprintf(stderr, "  second Execute: %lld ms, cached_result=%d\n", (long long)took, resp->cached_result);
    }
    rev2_error_free(e);
    rev2_msg_free(resp);

    /* And GetActionResult now finds it too. */
    ar = NULL;
    e = rev2_get_action_result_sync(client, NULL, &built.action_digest, true, &ar);
    report("GetActionResult", e);
    CHECK(e == NULL && ar && ar->exit_code == 0 && ar->n_output_files == 1);
    rev2_error_free(e);
    rev2_msg_free(ar);
    rev2_built_action_free(&built);
    free(local);
}

static void large_blob_through_bytestream(void)
{
    size_t n = 5u * 1024 * 1024 + 12345; /* > the 2 MiB batch limit */
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)((i * 2654435761u) >> 13) ^ salt[i % sizeof salt];
    rev2_blob blob = {.data = data};
    rev2_digest_of_bytes(data, n, &blob.digest);

    rev2_client_stats before, after;
    rev2_client_stats_get(client, &before);
    rev2_error *e = rev2_upload_sync(client, NULL, &blob, 1);
    report("ByteStream write", e);
    CHECK(e == NULL);
    rev2_error_free(e);
    rev2_client_stats_get(client, &after);
    CHECK_INT(after.bytes_up - before.bytes_up, (long long)n);

    rev2_digest *missing = NULL;
    size_t n_missing = 99;
    e = rev2_find_missing_sync(client, NULL, &blob.digest, 1, &missing, &n_missing);
    CHECK(e == NULL);
    CHECK_INT(n_missing, 0);
    free(missing);
    rev2_error_free(e);

    gmb_buf out;
    gmb_buf_init(&out, 64u << 20);
    e = rev2_read_blob_sync(client, NULL, &blob.digest, &out);
    report("ByteStream read", e);
    CHECK(e == NULL);
    CHECK(out.len == n && memcmp(out.data, data, n) == 0);
    rev2_error_free(e);

    /* A ranged read stops on our side (Buildbarn refuses read_limit). */
    gmb_buf_reset(&out);
    e = rev2_bytestream_read_sync(client, NULL, &blob.digest, 3000000, 100000, &out);
    CHECK(e == NULL);
    CHECK(out.len == 100000 && memcmp(out.data, data + 3000000, 100000) == 0);
    rev2_error_free(e);
    gmb_buf_free(&out);
    fprintf(stderr, "  %zu-byte blob written and read back through ByteStream\n", n);
    free(data);
}

static void missing_input_is_reported(void)
{
    char source[128];
    snprintf(source, sizeof source, "int never_uploaded_%02x%02x%02x%02x;\n", salt[0], salt[1], salt[2], salt[3]);
    rev2_built_action built;
    rev2_digest src;
    if (!prepare_action(source, false, &built, &src))
        return;
    Rev2ExecuteResponse *resp = NULL;
    rev2_error *e = rev2_execute_sync(client, NULL, &built.action_digest, NULL, NULL, NULL, &resp);
    report("Execute with a missing input", e);
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(e->code, REV2_FAILED_PRECONDITION);
        bool found = false;
        for (size_t i = 0; i < e->n_missing; i++)
            found |= rev2_digest_equal(&e->missing[i], &src);
        CHECK(found);
    }
    rev2_error_free(e);
    rev2_msg_free(resp);
    rev2_built_action_free(&built);
}

static void unknown_instance_says_no_workers(void)
{
    rev2_client *c = make_client(1);
    rev2_built_action built;
    rev2_digest src;
    rev2_client *saved = client;
    client = c;
    bool ok = prepare_action(hello_c, true, &built, &src);
    client = saved;
    if (!ok) {
        rev2_client_free(c);
        return;
    }
    Rev2ExecuteResponse *resp = NULL;
    rev2_error *e = rev2_execute_sync(c, "no-such-pool", &built.action_digest, NULL, NULL, NULL, &resp);
    report("Execute on instance \"no-such-pool\"", e);
    CHECK(e != NULL);
    CHECK(rev2_error_is_no_workers(e));
    rev2_error_free(e);
    rev2_msg_free(resp);
    rev2_built_action_free(&built);
    rev2_client_free(c);
}

/* The empty instance name is valid: CAS calls work with it, and the
 * scheduler's "no workers" answer names the prefix "" (goma's own proxy
 * turned "" into "." on the way). */
static void empty_instance_name_stays_empty(void)
{
    char text[64];
    snprintf(text, sizeof text, "empty instance %02x%02x%02x%02x", salt[0], salt[1], salt[2], salt[3]);
    size_t n = 3u * 1024 * 1024; /* through ByteStream: resource "uploads/..." with no prefix */
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)text[i % strlen(text)];
    rev2_blob blob = {.data = data};
    rev2_digest_of_bytes(data, n, &blob.digest);
    rev2_error *e = rev2_upload_sync(client, "", &blob, 1);
    report("upload with instance \"\"", e);
    CHECK(e == NULL);
    rev2_error_free(e);
    gmb_buf out;
    gmb_buf_init(&out, 8u << 20);
    e = rev2_read_blob_sync(client, "", &blob.digest, &out);
    CHECK(e == NULL);
    CHECK(out.len == n && memcmp(out.data, data, n) == 0);
    rev2_error_free(e);
    gmb_buf_free(&out);
    free(data);

    rev2_client *c = make_client(1);
    rev2_built_action built;
    rev2_digest src;
    rev2_client *saved = client;
    client = c;
    bool ok = prepare_action(hello_c, true, &built, &src);
    client = saved;
    if (ok) {
        Rev2ExecuteResponse *resp = NULL;
        e = rev2_execute_sync(c, "", &built.action_digest, NULL, NULL, NULL, &resp);
        report("Execute with instance \"\"", e);
        CHECK(e != NULL);
        CHECK(rev2_error_is_no_workers(e));
        CHECK_CONTAINS(e ? e->message : NULL, "instance name prefix \"\" platform");
        rev2_error_free(e);
        rev2_msg_free(resp);
        rev2_built_action_free(&built);
    }
    rev2_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_rev2_buildbarn INSTANCE_NAME\n");
        return 2;
    }
    instance = argv[1];
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(salt, 1, sizeof salt, r) != sizeof salt)
        return 2;
    fclose(r);
    fprintf(stderr, "instance name \"%s\"\n", instance);
    client = make_client(5);
    RUN(capabilities);
    RUN(compile_hello_and_hit_cache);
    RUN(large_blob_through_bytestream);
    RUN(missing_input_is_reported);
    RUN(unknown_instance_says_no_workers);
    RUN(empty_instance_name_stays_empty);
    rev2_client_stats s;
    rev2_client_stats_get(client, &s);
    fprintf(stderr, "client: %llu calls, %llu retries, %llu bytes up, %llu bytes down\n", (unsigned long long)s.calls,
            (unsigned long long)s.retries, (unsigned long long)s.bytes_up, (unsigned long long)s.bytes_down);
    rev2_client_free(client);
    return CHECK_REPORT();
}
