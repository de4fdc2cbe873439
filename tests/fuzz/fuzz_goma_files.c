/* fuzz_goma_files: goma's StoreFile and LookupFile requests
 * (goma_files_store_file, goma_files_lookup_file in
 * gateway/goma/goma_files.h), as the HTTP handlers call them once the body
 * is decoded, over a content store in a temporary directory.
 *
 * Input: requests one after the other, each
 *   one kind byte (odd: LookupFileReq; 2: a chunked file, below; other
 *   even: StoreFileReq),
 *   a 3-byte big-endian length, then that many bytes,
 * all answered by one goma_files (a fresh index per input).
 *
 * A chunked file is what the client sends for a file over 2 MiB, which no
 * input under 64 KiB could hold: the bytes are a flags byte and a tail T.
 * Two StoreFile requests are made of them, as the client sends them: a
 * FILE_CHUNK of 2 MiB (every byte flags >> 4) at offset 0 and one of T at
 * 2 MiB, then the FILE_META naming both (swapped with flags & 1) with
 * file_size 2 MiB + |T| (less 1 with flags & 2, more 1 with flags & 4).
 * Each costs megabytes of hashing and disk, where any other request costs
 * kilobytes: so one input in 16 runs it (chosen by a hash of the input, so
 * a replay does the same), once at most, and the others skip it.
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
 *     FILE_UNSPECIFIED placeholder or bytes whose SHA-256 is the key;
 *   - a chunked file resolves exactly when its FILE_META is right (not
 *     swapped, its size not off by one), to the digest of its chunks'
 *     contents joined.
 *
 * The store lives for the run (like a gateway's cache) and is emptied
 * once it holds 16 MiB, so runs stay fast and the disk does not fill; it
 * is removed at exit. */
#include "fuzz_store.h"

#include "goma/goma_data.pb-c.h"
#include "goma_files.h"
#include "goma_wire.h"
#include "pb_reader.h"
#include "rev2_proto.h"

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
    size_t n;
    uint8_t *bytes = REV2_PACK(&req, &n);
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

/* One StoreFileReq holding `blobs`; every one must be taken. The 2 MiB
 * chunk is not looked up again (store_file's checks): too slow for a
 * fuzzer, and the same code as for a small blob. */
static void store_blobs(goma_files *f, DevtoolsGoma__FileBlob **blobs, size_t n)
{
    DevtoolsGoma__StoreFileReq req = DEVTOOLS_GOMA__STORE_FILE_REQ__INIT;
    req.n_blob = n;
    req.blob = blobs;
    size_t len;
    uint8_t *bytes = REV2_PACK(&req, &len);
    gmb_buf resp;
    gmb_buf_init(&resp, GMB_BUF_UNLIMITED);
    const char *why = NULL;
    FUZZ_CHECK(goma_files_store_file(f, bytes, len, 1, NULL, &resp, &why) == 0, "StoreFile refused: %s", why);
    DevtoolsGoma__StoreFileResp *out = devtools_goma__store_file_resp__unpack(NULL, resp.len, resp.data);
    FUZZ_CHECK(out && out->n_hash_key == n, "not one key per blob");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(out->hash_key[i][0], "a well-formed blob refused");
    devtools_goma__store_file_resp__free_unpacked(out, NULL);
    gmb_buf_free(&resp);
    free(bytes);
}

static void key_of_blob(const DevtoolsGoma__FileBlob *b, char key[65])
{
    size_t len;
    uint8_t *bytes = REV2_PACK(b, &len);
    rev2_digest d;
    rev2_digest_of_bytes(bytes, len, &d);
    memcpy(key, d.hash, 65);
    free(bytes);
}

static void chunked_file(goma_files *f, const uint8_t *body, size_t len)
{
    uint8_t flags = len ? body[0] : 0;
    const uint8_t *tail = len ? body + 1 : (const uint8_t *)"";
    size_t n_tail = len ? len - 1 : 0;
    uint8_t *joined = gmb_malloc(GOMA_CHUNK_BYTES + n_tail + 1);
    memset(joined, flags >> 4, GOMA_CHUNK_BYTES);
    memcpy(joined + GOMA_CHUNK_BYTES, tail, n_tail);
    DevtoolsGoma__FileBlob chunk[2], meta;
    for (int i = 0; i < 2; i++) {
        devtools_goma__file_blob__init(&chunk[i]);
        chunk[i].blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
        chunk[i].has_offset = chunk[i].has_content = true;
        chunk[i].offset = i ? (int64_t)GOMA_CHUNK_BYTES : 0;
        chunk[i].content.data = i ? joined + GOMA_CHUNK_BYTES : joined;
        chunk[i].content.len = i ? n_tail : GOMA_CHUNK_BYTES;
    }
    DevtoolsGoma__FileBlob *chunks[2] = {&chunk[0], &chunk[1]};
    store_blobs(f, chunks, 2);
    char keys[2][65], meta_key[65];
    key_of_blob(&chunk[0], keys[flags & 1]);
    key_of_blob(&chunk[1], keys[!(flags & 1)]);
    char *key_list[2] = {keys[0], keys[1]};
    devtools_goma__file_blob__init(&meta);
    meta.blob_type = DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META;
    meta.has_file_size = true;
    meta.file_size = (int64_t)(GOMA_CHUNK_BYTES + n_tail) - !!(flags & 2) + !!(flags & 4);
    meta.n_hash_key = 2;
    meta.hash_key = key_list;
    DevtoolsGoma__FileBlob *metas[1] = {&meta};
    store_blobs(f, metas, 1);
    key_of_blob(&meta, meta_key);

    rev2_digest content, want;
    cas_pin *pin = NULL;
    int rc = goma_files_resolve(f, meta_key, &content, &pin);
    bool right = !(flags & 1) && !(flags & 2) == !(flags & 4); /* -1 and +1 cancel out */
    FUZZ_CHECK(rc == (right ? 1 : 0), "a %s FILE_META resolves with %d", right ? "right" : "wrong", rc);
    if (rc == 1) {
        rev2_digest_of_bytes(joined, GOMA_CHUNK_BYTES + n_tail, &want);
        FUZZ_CHECK(rev2_digest_equal(&content, &want), "the chunks joined are not the file");
        FUZZ_CHECK(cas_store_contains(fuzz_store, &content), "the file joined is not in the store");
    }
    cas_pin_release(pin);
    free(joined);
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
    int chunked = 0;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    bool chunked_turn = h % 16 == 0;
    while (c.left > 0) {
        uint8_t kind = fuzz_u8(&c);
        const uint8_t *body;
        size_t len;
        fuzz_slice(&c, 3, &body, &len);
        if (!body)
            body = (const uint8_t *)""; /* an HTTP body is never NULL */
        if (kind & 1)
            lookup_file(f, body, len);
        else if (kind == 2 && chunked_turn && !chunked++)
            chunked_file(f, body, len);
        else
            store_file(f, body, len);
    }
    goma_files_free(f);
    return 0;
}
