/* fuzz_goma_files: goma's StoreFile and LookupFile requests
 * (goma_files_store_file, goma_files_lookup_file in
 * gateway/goma/goma_files.h), as the HTTP handlers call them once the body
 * is decoded, over a content store in a temporary directory.
 *
 * Input: requests one after the other, each
 *   one kind byte (even: StoreFileReq, odd: LookupFileReq),
 *   a 3-byte big-endian length, then that many bytes of the request,
 * all answered by one goma_files (a fresh index per input).
 *
 * Checked beyond "no crash":
 *   - a request is refused (with a reason) exactly when protobuf-c cannot
 *     decode it as that message;
 *   - a StoreFile answer is a StoreFileResp with one key per FileBlob of
 *     the request, each empty (refused) or the SHA-256 of that blob's raw
 *     bytes; every key stored then comes back from a LookupFile in exactly
 *     those bytes, and resolves (goma_files_resolve) to content that is in
 *     the store, pinned, and for a FILE is the digest of its content;
 *   - a LookupFile answer has one blob per key asked, each the
 *     FILE_UNSPECIFIED placeholder or bytes whose SHA-256 is the key.
 *
 * The store lives for the run (like a gateway's cache) and is emptied
 * once it holds 16 MiB, so runs stay fast and the disk does not fill; it
 * is removed at exit. */
#include "fuzz_store.h"

#include "goma/goma_data.pb-c.h"
#include "goma_files.h"
#include "pb_reader.h"

#define RESET_BYTES ((uint64_t)16 << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_store_init("goma-files");
    return 0;
}

/* The raw bytes of every field-`number` value of a message, in order. */
typedef struct {
    const uint8_t *data[4096];
    size_t len[4096];
    size_t n;
    bool truncated; /* more than fit: the rest not checked */
} fields;

static void collect(const uint8_t *p, size_t len, uint64_t number, fields *out)
{
    pb_reader r;
    pb_field f;
    out->n = 0;
    out->truncated = false;
    pb_reader_init(&r, p, len);
    while (pb_reader_next(&r, &f) > 0)
        if (f.number == number && f.wire == PB_BYTES) {
            if (out->n == 4096) {
                out->truncated = true;
                return;
            }
            out->data[out->n] = f.data;
            out->len[out->n++] = f.len;
        }
}

static bool is_key_of(const char *key, const uint8_t *blob, size_t len)
{
    rev2_digest d;
    rev2_digest_of_bytes(blob ? (const void *)blob : "", len, &d);
    return strcmp(key, d.hash) == 0;
}

/* What a key resolves to is in the store, and pinned there. */
static void check_resolves(goma_files *f, const char *key, const uint8_t *blob, size_t len)
{
    rev2_digest content;
    cas_pin *pin = NULL;
    int rc = goma_files_resolve(f, key, &content, &pin);
    FUZZ_CHECK(rc <= 1, "goma_files_resolve returned %d", rc);
    FUZZ_CHECK((rc == 1) == (pin != NULL), "a pin without content, or content without a pin");
    if (rc != 1)
        return;
    FUZZ_CHECK(cas_store_contains(fuzz_store, &content), "resolved content is not in the store");
    DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, len, blob);
    if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE)
        FUZZ_CHECK(is_key_of(content.hash, b->content.data, b->content.len),
                   "a FILE resolves to something else than its content");
    if (b)
        devtools_goma__file_blob__free_unpacked(b, NULL);
    cas_pin_release(pin);
}

/* The blobs stored come back verbatim from a LookupFile. */
static void look_up_stored(goma_files *f, char **keys, const fields *blobs)
{
    DevtoolsGoma__LookupFileReq req = DEVTOOLS_GOMA__LOOKUP_FILE_REQ__INIT;
    req.hash_key = gmb_calloc(blobs->n + 1, sizeof *req.hash_key);
    size_t *which = gmb_calloc(blobs->n + 1, sizeof *which);
    for (size_t i = 0; i < blobs->n; i++)
        if (keys[i][0]) {
            which[req.n_hash_key] = i;
            req.hash_key[req.n_hash_key++] = keys[i];
        }
    size_t n = devtools_goma__lookup_file_req__get_packed_size(&req);
    uint8_t *bytes = gmb_malloc(n + 1);
    devtools_goma__lookup_file_req__pack(&req, bytes);
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    FUZZ_CHECK(goma_files_lookup_file(f, bytes, n, &resp, &why) == 0, "our own LookupFileReq refused: %s", why);
    static fields got;
    collect(resp.data, resp.len, 2, &got);
    FUZZ_CHECK(got.n == req.n_hash_key, "%zu keys stored, %zu blobs looked up", req.n_hash_key, got.n);
    for (size_t k = 0; k < got.n; k++) {
        size_t i = which[k];
        FUZZ_CHECK(got.len[k] == blobs->len[i] &&
                       (got.len[k] == 0 || memcmp(got.data[k], blobs->data[i], got.len[k]) == 0),
                   "blob %zu does not come back in the bytes it was stored in", i);
        check_resolves(f, keys[i], blobs->data[i], blobs->len[i]);
    }
    gmb_buf_free(&resp);
    free(bytes);
    free(which);
    free(req.hash_key);
}

static void store_file(goma_files *f, const uint8_t *body, size_t len)
{
    DevtoolsGoma__StoreFileReq *m = devtools_goma__store_file_req__unpack(NULL, len, body);
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int rc = goma_files_store_file(f, body, len, 1, NULL, &resp, &why);
    FUZZ_CHECK((rc == 0) == (m != NULL), "StoreFile %s a body protobuf-c %s", rc == 0 ? "took" : "refused",
               m ? "decodes" : "does not decode");
    FUZZ_CHECK(rc == 0 || (why && *why), "refused without a reason");
    if (rc == 0) {
        static fields blobs;
        collect(body, len, 1, &blobs);
        DevtoolsGoma__StoreFileResp *out = devtools_goma__store_file_resp__unpack(NULL, resp.len, resp.data);
        FUZZ_CHECK(out != NULL, "the answer is not a StoreFileResp");
        FUZZ_CHECK(blobs.truncated || out->n_hash_key == blobs.n, "%zu blobs, %zu keys", blobs.n, out->n_hash_key);
        for (size_t i = 0; i < blobs.n; i++)
            FUZZ_CHECK(!out->hash_key[i][0] || is_key_of(out->hash_key[i], blobs.data[i], blobs.len[i]),
                       "key %zu is not the hash of its blob", i);
        if (!blobs.truncated)
            look_up_stored(f, out->hash_key, &blobs);
        devtools_goma__store_file_resp__free_unpacked(out, NULL);
    }
    if (m)
        devtools_goma__store_file_req__free_unpacked(m, NULL);
    gmb_buf_free(&resp);
}

static void lookup_file(goma_files *f, const uint8_t *body, size_t len)
{
    DevtoolsGoma__LookupFileReq *m = devtools_goma__lookup_file_req__unpack(NULL, len, body);
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    int rc = goma_files_lookup_file(f, body, len, &resp, &why);
    FUZZ_CHECK((rc == 0) == (m != NULL), "LookupFile %s a body protobuf-c %s", rc == 0 ? "took" : "refused",
               m ? "decodes" : "does not decode");
    FUZZ_CHECK(rc == 0 || (why && *why), "refused without a reason");
    if (rc == 0) {
        static fields got;
        collect(resp.data, resp.len, 2, &got);
        FUZZ_CHECK(got.truncated || got.n == m->n_hash_key, "%zu keys, %zu blobs", m->n_hash_key, got.n);
        static const uint8_t unknown[] = {0x08, 0x00};
        for (size_t i = 0; i < got.n && i < m->n_hash_key; i++) {
            bool placeholder = got.len[i] == 2 && memcmp(got.data[i], unknown, 2) == 0;
            FUZZ_CHECK(placeholder || is_key_of(m->hash_key[i], got.data[i], got.len[i]),
                       "blob %zu is neither the placeholder nor the key's", i);
        }
    }
    if (m)
        devtools_goma__lookup_file_req__free_unpacked(m, NULL);
    gmb_buf_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cas_store_stats st;
    cas_store_stats_get(fuzz_store, &st);
    if (st.disk_bytes > RESET_BYTES)
        fuzz_store_reset();
    goma_files *f = goma_files_new(fuzz_store);
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    while (c.left > 0) {
        uint8_t kind = fuzz_u8(&c);
        const uint8_t *body;
        size_t len;
        fuzz_slice(&c, 3, &body, &len);
        if (!body)
            body = (const uint8_t *)""; /* an HTTP body is never NULL */
        if (kind & 1)
            lookup_file(f, body, len);
        else
            store_file(f, body, len);
    }
    goma_files_free(f);
    return 0;
}
