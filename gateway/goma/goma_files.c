#include "goma_files.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "buf.h"
#include "goma/goma_data.pb-c.h"
#include "goma_wire.h"
#include "log.h"
#include "pb_reader.h"
#include "mem.h"

typedef struct entry {
    char key[65];
    int64_t blob_len;    /* length of the serialized FileBlob */
    int type;            /* DevtoolsGoma__FileBlob__BlobType */
    rev2_digest content; /* FILE, FILE_CHUNK, and FILE_META once assembled */
    bool has_content;
    struct entry *next;
} entry;

struct goma_files {
    cas_store *store;
    pthread_mutex_t lock;
    entry **buckets;
    size_t n_buckets, count;
    goma_files_stats stats;
};

static uint64_t key_hash(const char *key)
{
    return XXH3_64bits(key, 64);
}

goma_files *goma_files_new(cas_store *store)
{
    goma_files *f = gmb_calloc(1, sizeof *f);
    f->store = store;
    pthread_mutex_init(&f->lock, NULL);
    f->n_buckets = 4096;
    f->buckets = gmb_calloc(f->n_buckets, sizeof *f->buckets);
    return f;
}

void goma_files_free(goma_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_buckets; i++)
        for (entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(f->buckets);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static entry *find_locked(goma_files *f, const char *key)
{
    for (entry *e = f->buckets[key_hash(key) & (f->n_buckets - 1)]; e; e = e->next)
        if (memcmp(e->key, key, 64) == 0)
            return e;
    return NULL;
}

static void grow_locked(goma_files *f)
{
    size_t n = f->n_buckets * 2;
    entry **b = gmb_calloc(n, sizeof *b);
    for (size_t i = 0; i < f->n_buckets; i++)
        for (entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t slot = key_hash(e->key) & (n - 1);
            e->next = b[slot];
            b[slot] = e;
        }
    free(f->buckets);
    f->buckets = b;
    f->n_buckets = n;
}

/* goma's validity rules for a blob (see the header). */
static const char *invalid(const DevtoolsGoma__FileBlob *b)
{
    switch (b->blob_type) {
    case DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE:
        if (!b->has_content)
            return "FILE blob without content";
        if (!b->has_file_size || (int64_t)b->content.len != b->file_size)
            return "FILE blob whose content length differs from its file_size";
        if (b->has_offset || b->n_hash_key)
            return "FILE blob with an offset or hash keys";
        return NULL;
    case DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META:
        if (b->n_hash_key < 2)
            return "FILE_META blob with fewer than 2 chunk keys";
        if (b->has_content)
            return "FILE_META blob with content";
        for (size_t i = 0; i < b->n_hash_key; i++)
            if (!rev2_hash_is_valid(b->hash_key[i]))
                return "FILE_META blob with a malformed chunk key";
        return NULL;
    case DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK:
        if (!b->has_offset || !b->has_content)
            return "FILE_CHUNK blob without offset or content";
        if (b->n_hash_key)
            return "FILE_CHUNK blob with hash keys";
        if (b->offset < 0 || b->offset % GOMA_CHUNK_BYTES != 0 || b->content.len > GOMA_CHUNK_BYTES)
            return "FILE_CHUNK blob whose offset or size breaks the 2 MiB chunk layout";
        return NULL;
    case DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_REF:
        if (b->n_hash_key != 1 || !rev2_hash_is_valid(b->hash_key[0]))
            return "FILE_REF blob without exactly one valid key";
        return NULL;
    default:
        return "blob of no known type";
    }
}

int goma_files_store(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why)
{
    DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, len, bytes);
    if (!b) {
        *why = "not a FileBlob";
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return -1;
    }
    if ((*why = invalid(b)) != NULL) {
        devtools_goma__file_blob__free_unpacked(b, NULL);
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return -1;
    }
    /* The key is the SHA-256 of these very bytes: the blob is its own
     * content-addressed object. */
    rev2_digest self;
    rev2_digest_of_bytes(bytes, len, &self);
    memcpy(key, self.hash, 65);
    entry e = {.blob_len = (int64_t)len, .type = (int)b->blob_type};
    memcpy(e.key, self.hash, 65);
    if (b->has_content) {
        rev2_digest_of_bytes(b->content.data, b->content.len, &e.content);
        e.has_content = true;
    }
    int rc = cas_store_put(f->store, &self, bytes, len);
    /* The content itself too, so Buildbarn uploads and the FUSE view find it. */
    if (rc == 0 && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE)
        rc = cas_store_put(f->store, &e.content, b->content.data, b->content.len);
    devtools_goma__file_blob__free_unpacked(b, NULL);
    if (rc < 0) {
        *why = "the content store refused it (disk full?)";
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return -1;
    }
    pthread_mutex_lock(&f->lock);
    if (!find_locked(f, key)) {
        if (f->count >= f->n_buckets)
            grow_locked(f);
        entry *n = gmb_malloc(sizeof *n);
        *n = e;
        size_t slot = key_hash(key) & (f->n_buckets - 1);
        n->next = f->buckets[slot];
        f->buckets[slot] = n;
        f->count++;
    }
    f->stats.stored++;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

/* The stored bytes of a key's FileBlob, decoded (NULL if unknown). */
static DevtoolsGoma__FileBlob *load_blob(goma_files *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    entry *e = find_locked(f, key);
    int64_t len = e ? e->blob_len : -1;
    pthread_mutex_unlock(&f->lock);
    rev2_digest d;
    if (len < 0 ? !cas_store_find_hash(f->store, key, &d) : !rev2_digest_set(&d, key, len))
        return NULL;
    uint8_t *bytes = NULL;
    if (cas_store_read_all(f->store, NULL, &d, &bytes) < 0)
        return NULL;
    DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, (size_t)d.size, bytes);
    if (b && len < 0) { /* known to the store from before a restart: index it */
        char again[65];
        const char *why;
        goma_files_store(f, bytes, (size_t)d.size, again, &why);
    }
    free(bytes);
    return b;
}

/* Joins a FILE_META's chunks into one stored file. */
static bool assemble(goma_files *f, const DevtoolsGoma__FileBlob *meta, rev2_digest *out)
{
    if (!meta->has_file_size || meta->file_size < 0 ||
        (uint64_t)meta->file_size > (uint64_t)meta->n_hash_key * GOMA_CHUNK_BYTES)
        return false;
    size_t size = (size_t)meta->file_size;
    uint8_t *data = gmb_malloc(size + 1);
    size_t have = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < meta->n_hash_key; i++) {
        DevtoolsGoma__FileBlob *c = load_blob(f, meta->hash_key[i]);
        ok = c && c->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK && c->has_offset &&
             (uint64_t)c->offset == (uint64_t)i * GOMA_CHUNK_BYTES && have == (size_t)c->offset &&
             c->content.len <= size - have;
        if (ok) {
            memcpy(data + have, c->content.data, c->content.len);
            have += c->content.len;
        }
        if (c)
            devtools_goma__file_blob__free_unpacked(c, NULL);
    }
    ok = ok && have == size;
    if (ok) {
        rev2_digest_of_bytes(data, size, out);
        ok = cas_store_put(f->store, out, data, size) == 0;
    }
    free(data);
    return ok;
}

bool goma_files_file_digest(goma_files *f, const char *key, rev2_digest *content)
{
    if (!rev2_hash_is_valid(key))
        return false;
    pthread_mutex_lock(&f->lock);
    entry *e = find_locked(f, key);
    bool known = e && e->has_content &&
                 (e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE ||
                  e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META);
    if (known)
        *content = e->content;
    pthread_mutex_unlock(&f->lock);
    if (known)
        return true;
    DevtoolsGoma__FileBlob *b = load_blob(f, key);
    bool ok = false;
    if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE && b->has_content) {
        rev2_digest_of_bytes(b->content.data, b->content.len, content);
        ok = true;
    } else if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META && assemble(f, b, content)) {
        pthread_mutex_lock(&f->lock);
        entry *m = find_locked(f, key);
        if (m) { /* assembled once; remembered */
            m->content = *content;
            m->has_content = true;
        }
        pthread_mutex_unlock(&f->lock);
        ok = true;
    }
    if (b)
        devtools_goma__file_blob__free_unpacked(b, NULL);
    return ok;
}

void goma_files_stats_get(goma_files *f, goma_files_stats *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->stats;
    pthread_mutex_unlock(&f->lock);
}

/* ---- HTTP handlers ---- */

/* Calls fn for the raw bytes of every field-1 value of a message (the
 * repeated FileBlob of StoreFileReq), without re-serializing anything. */
static int each_field1(const uint8_t *p, size_t len, void (*fn)(void *, const uint8_t *, size_t), void *arg)
{
    pb_reader r;
    pb_field f;
    int rc;
    pb_reader_init(&r, p, len);
    while ((rc = pb_reader_next(&r, &f)) > 0)
        if (f.number == 1 && f.wire == PB_BYTES)
            fn(arg, f.data, f.len);
    return rc;
}

typedef struct {
    goma_files *files;
    http_request *req;
    char **keys;
    size_t n;
} store_ctx;

static void store_one(void *arg, const uint8_t *blob, size_t len)
{
    store_ctx *c = arg;
    char key[65];
    const char *why = NULL;
    c->keys = gmb_realloc(c->keys, (c->n + 1) * sizeof *c->keys);
    if (goma_files_store(c->files, blob, len, key, &why) == 0) {
        c->keys[c->n++] = gmb_strdup(key);
    } else {
        /* goma's answer for a refused blob: an empty key in its slot. */
        GMB_WARN("goma", "#%llu StoreFile: blob %zu refused: %s", (unsigned long long)http_request_id(c->req), c->n,
                 why);
        c->keys[c->n++] = gmb_strdup("");
    }
}

static void on_store_file(http_request *r, void *user)
{
    goma_files *f = user;
    size_t len;
    const uint8_t *body = http_request_body(r, &len);
    /* Decode once to refuse garbage with 400; the blobs are then taken
     * from the raw bytes so each keeps the exact encoding it was hashed in. */
    DevtoolsGoma__StoreFileReq *req = devtools_goma__store_file_req__unpack(NULL, len, body);
    store_ctx c = {f, r, NULL, 0};
    if (!req || each_field1(body, len, store_one, &c) < 0) {
        const char *msg = "gomabarn: StoreFile body is not a StoreFileReq\n";
        http_respond(r, 400, "text/plain; charset=utf-8", msg, strlen(msg));
    } else {
        DevtoolsGoma__StoreFileResp resp = DEVTOOLS_GOMA__STORE_FILE_RESP__INIT;
        resp.n_hash_key = c.n;
        resp.hash_key = c.keys;
        size_t n = devtools_goma__store_file_resp__get_packed_size(&resp);
        uint8_t *out = gmb_malloc(n + 1);
        devtools_goma__store_file_resp__pack(&resp, out);
        http_respond(r, 200, "binary/x-protocol-buffer", out, n);
        free(out);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.keys[i]);
    free(c.keys);
    if (req)
        devtools_goma__store_file_req__free_unpacked(req, NULL);
}

static void on_lookup_file(http_request *r, void *user)
{
    goma_files *f = user;
    size_t len;
    const uint8_t *body = http_request_body(r, &len);
    DevtoolsGoma__LookupFileReq *req = devtools_goma__lookup_file_req__unpack(NULL, len, body);
    if (!req) {
        const char *msg = "gomabarn: LookupFile body is not a LookupFileReq\n";
        http_respond(r, 400, "text/plain; charset=utf-8", msg, strlen(msg));
        return;
    }
    /* LookupFileResp is "repeated FileBlob blob = 2": written by hand so
     * every stored blob goes back in its original bytes. An unknown key
     * gets a FILE_UNSPECIFIED placeholder (blob_type present, as goma's
     * client requires): tag 0x12, length 2, then 08 00. */
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    for (size_t i = 0; i < req->n_hash_key; i++) {
        const char *key = req->hash_key[i];
        pthread_mutex_lock(&f->lock);
        entry *e = rev2_hash_is_valid(key) ? find_locked(f, key) : NULL;
        int64_t blob_len = e ? e->blob_len : -1;
        f->stats.lookups++;
        pthread_mutex_unlock(&f->lock);
        uint8_t *bytes = NULL;
        rev2_digest d;
        /* Not indexed (stored before a restart)? The store still has it. */
        if (blob_len < 0 && cas_store_find_hash(f->store, key, &d) &&
            cas_store_read_all(f->store, NULL, &d, &bytes) == 0) {
            char again[65];
            const char *why;
            if (goma_files_store(f, bytes, (size_t)d.size, again, &why) == 0)
                blob_len = d.size;
            free(bytes);
            bytes = NULL;
        }
        if (blob_len >= 0 && rev2_digest_set(&d, key, blob_len) &&
            cas_store_read_all(f->store, NULL, &d, &bytes) == 0) {
            uint8_t hdr[11];
            size_t h = 0;
            hdr[h++] = 0x12;
            for (uint64_t v = (uint64_t)blob_len;; v >>= 7) {
                hdr[h++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
                if (v < 0x80)
                    break;
            }
            gmb_buf_put(&out, hdr, h);
            gmb_buf_put(&out, bytes, (size_t)blob_len);
        } else {
            static const uint8_t unknown[] = {0x12, 0x02, 0x08, 0x00};
            gmb_buf_put(&out, unknown, sizeof unknown);
            pthread_mutex_lock(&f->lock);
            f->stats.lookup_misses++;
            pthread_mutex_unlock(&f->lock);
        }
        free(bytes);
    }
    http_respond(r, 200, "binary/x-protocol-buffer", out.data, out.len);
    gmb_buf_free(&out);
    devtools_goma__lookup_file_req__free_unpacked(req, NULL);
}

void goma_files_routes(goma_files *f, http_server *http, const char *prefix)
{
    char path[512];
    snprintf(path, sizeof path, "%s/s", prefix);
    http_server_route(http, path, "POST", false, on_store_file, f);
    snprintf(path, sizeof path, "%s/l", prefix);
    http_server_route(http, path, "POST", false, on_lookup_file, f);
}
