#include "goma_files.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "buf.h"
#include "goma/goma_data.pb-c.h"
#include "goma_files_share.h"
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
    cas_pin *pin; /* FILE_CHUNK: holds it in the store until a FILE_META used it (or the pin expires) */
    bool shared;  /* on its way to Buildbarn, or known from there (goma_files_share.h) */
    struct entry *next;
} entry;

struct goma_files {
    cas_store *store;
    pthread_mutex_t lock;
    entry **buckets;
    size_t n_buckets, count;
    goma_files_stats stats;
    goma_share *share; /* NULL: not shared */
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
    goma_share_free(f->share);
    for (size_t i = 0; i < f->n_buckets; i++)
        for (entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            cas_pin_release(e->pin);
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

/* A chunk is pinned from its StoreFile on: the client sends a file's
 * chunks first and the FILE_META naming them later (with the Exec), and
 * nothing says which chunks belong together until then. So every chunk
 * holds for cache.pin_timeout_s unless a FILE_META uses it sooner. The
 * pin is taken right after the put; if an eviction got in between, the
 * bytes are put once more. NULL if the store lost it twice. */
static cas_pin *pin_chunk(goma_files *f, const rev2_digest *d, const uint8_t *bytes, size_t len)
{
    for (int tries = 0; tries < 2; tries++) {
        size_t missing = 0;
        cas_pin *p = cas_store_pin(f->store, d, 1, 0, &missing);
        if (!missing)
            return p;
        cas_pin_release(p);
        if (cas_store_put(f->store, d, bytes, len) < 0)
            break;
    }
    return NULL;
}

/* Takes the chunk pins of a FILE_META's keys out of the index (the caller
 * releases them outside the lock), or refreshes them. */
static void chunk_pins(goma_files *f, const DevtoolsGoma__FileBlob *meta, bool refresh)
{
    cas_pin **old = gmb_calloc(meta->n_hash_key + 1, sizeof *old);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < meta->n_hash_key; i++) {
        entry *e = find_locked(f, meta->hash_key[i]);
        if (!e || e->type != DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK)
            continue;
        old[i] = e->pin;
        e->pin = NULL;
        if (refresh) {
            rev2_digest d;
            rev2_digest_set(&d, e->key, e->blob_len);
            e->pin = cas_store_pin(f->store, &d, 1, 0, NULL);
        }
    }
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < meta->n_hash_key; i++)
        cas_pin_release(old[i]);
    free(old);
}

void goma_files_share_start(goma_files *f, const goma_share_options *o)
{
    if (!f->share)
        f->share = goma_share_new(o);
}

/* Queues a newly stored blob for the other gateways (once per key). */
static void share_stored(goma_files *f, const entry *e, goma_share_answer *answer)
{
    pthread_mutex_lock(&f->lock);
    entry *have = find_locked(f, e->key);
    bool first = have && !have->shared;
    if (first)
        have->shared = true;
    pthread_mutex_unlock(&f->lock);
    bool file = e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    if (first && !goma_share_put(f->share, e->key, e->blob_len, e->type, file ? &e->content : NULL, answer)) {
        pthread_mutex_lock(&f->lock);
        if ((have = find_locked(f, e->key)) != NULL)
            have->shared = false; /* not queued: the next StoreFile tries again */
        pthread_mutex_unlock(&f->lock);
    }
}

static int store_blob(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why,
                      goma_share_answer *answer)
{
    DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, len, bytes);
    if (!b) {
        *why = "not a FileBlob";
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return -EINVAL;
    }
    if ((*why = invalid(b)) != NULL) {
        devtools_goma__file_blob__free_unpacked(b, NULL);
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return -EINVAL;
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
    bool chunk = b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK;
    devtools_goma__file_blob__free_unpacked(b, NULL);
    cas_pin *pin = rc == 0 && chunk ? pin_chunk(f, &self, bytes, len) : NULL;
    if (rc == 0 && chunk && !pin)
        rc = -EIO; /* evicted twice right after its put: cannot be */
    if (rc < 0) {
        *why = cas_error_words(rc);
        __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
        return rc;
    }
    pthread_mutex_lock(&f->lock);
    entry *have = find_locked(f, key);
    cas_pin *old = NULL;
    if (have) {
        old = have->pin; /* stored again: the pin starts over */
        have->pin = pin;
    } else {
        if (f->count >= f->n_buckets)
            grow_locked(f);
        entry *n = gmb_malloc(sizeof *n);
        *n = e;
        n->pin = pin;
        size_t slot = key_hash(key) & (f->n_buckets - 1);
        n->next = f->buckets[slot];
        f->buckets[slot] = n;
        f->count++;
    }
    f->stats.stored++;
    pthread_mutex_unlock(&f->lock);
    cas_pin_release(old);
    if (f->share)
        share_stored(f, &e, answer);
    return 0;
}

int goma_files_store(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why)
{
    return store_blob(f, bytes, len, key, why, NULL);
}

/* A key known from Buildbarn's action cache, indexed as if stored here;
 * its bytes come from the CAS when read. */
static void index_remote(goma_files *f, const goma_share_hit *h)
{
    pthread_mutex_lock(&f->lock);
    if (!find_locked(f, h->key)) {
        if (f->count >= f->n_buckets)
            grow_locked(f);
        entry *n = gmb_calloc(1, sizeof *n);
        memcpy(n->key, h->key, 64);
        n->blob_len = h->blob_len;
        n->type = h->type;
        n->content = h->content;
        n->has_content = h->has_content;
        n->shared = true;
        size_t slot = key_hash(n->key) & (f->n_buckets - 1);
        n->next = f->buckets[slot];
        f->buckets[slot] = n;
        f->count++;
    }
    pthread_mutex_unlock(&f->lock);
}

/* Fetches (in parallel, one wave of at most 64 at a time) the blobs
 * found remotely that the request will read: a FILE's content for an
 * Exec, else the FileBlob; a FILE_META's FileBlob, then its chunks. */
static void prefetch(goma_files *f, const char *const *keys, size_t n, bool contents, int depth);

static void fetch_found(goma_files *f, const goma_share_hit *hits, size_t n, bool contents, int depth)
{
    enum { WAVE = 64 };
    cas_blob *h[WAVE];
    const goma_share_hit *metas[WAVE];
    for (size_t start = 0; start < n; start += WAVE) {
        size_t nh = 0, nm = 0;
        for (size_t i = start; i < n && i < start + WAVE; i++) {
            if (!hits[i].found)
                continue;
            rev2_digest d;
            if (contents && hits[i].has_content)
                d = hits[i].content;
            else
                rev2_digest_set(&d, hits[i].key, hits[i].blob_len);
            int error = 0;
            if ((h[nh] = cas_store_open_blob(f->store, NULL, &d, &error)) != NULL)
                nh++;
            if (hits[i].type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META)
                metas[nm++] = &hits[i];
        }
        for (size_t i = 0; i < nh; i++) { /* each wait bounded by cache.fetch_timeout_ms */
            cas_blob_wait(h[i]);
            cas_blob_close(h[i]);
        }
        for (size_t i = 0; i < nm && depth == 0; i++) {
            rev2_digest d;
            uint8_t *bytes = NULL;
            rev2_digest_set(&d, metas[i]->key, metas[i]->blob_len);
            DevtoolsGoma__FileBlob *b = cas_store_read_all(f->store, NULL, &d, &bytes) == 0
                                            ? devtools_goma__file_blob__unpack(NULL, (size_t)d.size, bytes)
                                            : NULL;
            free(bytes);
            if (b && b->n_hash_key)
                prefetch(f, (const char *const *)b->hash_key, b->n_hash_key, false, depth + 1);
            if (b)
                devtools_goma__file_blob__free_unpacked(b, NULL);
        }
    }
}

static void prefetch(goma_files *f, const char *const *keys, size_t n, bool contents, int depth)
{
    if (!f->share || n == 0)
        return;
    goma_share_hit *hits = gmb_calloc(n, sizeof *hits);
    size_t asked = 0;
    rev2_digest local;
    for (size_t i = 0; i < n; i++) {
        const char *k = keys[i];
        if (!k || !rev2_hash_is_valid(k))
            continue;
        pthread_mutex_lock(&f->lock);
        bool known = find_locked(f, k) != NULL;
        pthread_mutex_unlock(&f->lock);
        bool dup = false;
        for (size_t j = 0; j < asked && !dup; j++)
            dup = strcmp(hits[j].key, k) == 0;
        if (!known && !dup && !cas_store_find_hash(f->store, k, &local))
            hits[asked++].key = k;
    }
    if (asked && goma_share_find(f->share, hits, asked) > 0) {
        for (size_t i = 0; i < asked; i++)
            if (hits[i].found)
                index_remote(f, &hits[i]);
        fetch_found(f, hits, asked, contents, depth);
    }
    free(hits);
}

void goma_files_prefetch(goma_files *f, const char *const *keys, size_t n, bool contents)
{
    prefetch(f, keys, n, contents, 0);
}

/* The store digest of a key's FileBlob: from the index, or found in the
 * store by hash (stored before a restart). false if unknown. */
static bool blob_digest(goma_files *f, const char *key, rev2_digest *d, bool *indexed)
{
    pthread_mutex_lock(&f->lock);
    entry *e = find_locked(f, key);
    int64_t len = e ? e->blob_len : -1;
    pthread_mutex_unlock(&f->lock);
    if (len < 0 && cas_store_find_hash(f->store, key, d)) {
        *indexed = false;
        return true;
    }
    if (len < 0 && f->share) {
        /* Stored through another gateway? (chunks of a FILE_META found
         * remotely are fetched ahead, with it: this is the fallback) */
        goma_files_prefetch(f, &key, 1, false);
        pthread_mutex_lock(&f->lock);
        e = find_locked(f, key);
        len = e ? e->blob_len : -1;
        pthread_mutex_unlock(&f->lock);
    }
    *indexed = len >= 0;
    return len >= 0 && rev2_digest_set(d, key, len);
}

/* The stored bytes of a key's FileBlob, decoded (NULL if unknown). */
static DevtoolsGoma__FileBlob *load_blob(goma_files *f, const char *key)
{
    rev2_digest d;
    bool indexed;
    if (!blob_digest(f, key, &d, &indexed))
        return NULL;
    int64_t len = indexed ? d.size : -1;
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

/* Pins every chunk of a FILE_META for the time of its assembly. false
 * (nothing pinned) if one is not in the store. */
static bool pin_all_chunks(goma_files *f, const DevtoolsGoma__FileBlob *meta, cas_pin **pin)
{
    rev2_digest *d = gmb_calloc(meta->n_hash_key, sizeof *d);
    bool indexed, known = true;
    for (size_t i = 0; known && i < meta->n_hash_key; i++)
        known = blob_digest(f, meta->hash_key[i], &d[i], &indexed);
    size_t missing = 1;
    *pin = known ? cas_store_pin(f->store, d, meta->n_hash_key, 0, &missing) : NULL;
    free(d);
    if (missing) {
        cas_pin_release(*pin);
        *pin = NULL;
    }
    return *pin != NULL;
}

/* Joins a FILE_META's chunks into one stored file, streamed into the
 * store and hashed on the way: one chunk in memory at a time, whatever
 * the file's size. 1 with *out, and *chunks pinning the chunks still (the
 * caller pins the file before it lets them go: with the store over its
 * limit, the new file would otherwise be the one unpinned blob to evict);
 * 0 if a chunk is missing or they do not add up; -errno if the store
 * failed (-EFBIG: the file cannot fit). */
static int assemble(goma_files *f, const DevtoolsGoma__FileBlob *meta, rev2_digest *out, cas_pin **chunks)
{
    *chunks = NULL;
    if (!meta->has_file_size || meta->file_size < 0 ||
        (uint64_t)meta->file_size > (uint64_t)meta->n_hash_key * GOMA_CHUNK_BYTES)
        return 0;
    cas_pin *pin;
    if (!pin_all_chunks(f, meta, &pin))
        return 0;
    uint64_t size = (uint64_t)meta->file_size, have = 0;
    int rc = 0;
    cas_writer *w = cas_writer_new(f->store, meta->file_size, &rc);
    bool ok = w != NULL;
    for (size_t i = 0; ok && i < meta->n_hash_key; i++) {
        DevtoolsGoma__FileBlob *c = load_blob(f, meta->hash_key[i]);
        ok = c && c->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_CHUNK && c->has_offset &&
             (uint64_t)c->offset == (uint64_t)i * GOMA_CHUNK_BYTES && have == (uint64_t)c->offset &&
             c->content.len <= size - have;
        if (ok) {
            rc = cas_writer_write(w, c->content.data, c->content.len);
            ok = rc == 0;
            have += c->content.len;
        }
        if (c)
            devtools_goma__file_blob__free_unpacked(c, NULL);
    }
    ok = ok && have == size;
    if (ok)
        rc = cas_writer_finish(w, out);
    else
        cas_writer_abort(w);
    if (ok && rc == 0) {
        *chunks = pin;
        return 1;
    }
    cas_pin_release(pin);
    return rc;
}

/* The content pinned; NULL if it is not in the store (evicted). */
static cas_pin *pin_content(goma_files *f, const rev2_digest *content)
{
    size_t missing = 0;
    cas_pin *p = cas_store_pin(f->store, content, 1, 0, &missing);
    if (missing) {
        cas_pin_release(p);
        p = NULL;
    }
    return p;
}

/* A FILE_META's content: assembled, pinned (*pin), remembered, and its
 * chunks let go. 1, 0 or -errno as goma_files_resolve. */
static int resolve_meta(goma_files *f, const char *key, const DevtoolsGoma__FileBlob *meta, rev2_digest *content,
                        cas_pin **pin)
{
    cas_pin *chunks = NULL;
    int rc = assemble(f, meta, content, &chunks);
    if (rc == 1 && !(*pin = pin_content(f, content)))
        rc = 0; /* cannot be: the chunks held the store, not the new file */
    if (rc == 1) {
        pthread_mutex_lock(&f->lock);
        entry *m = find_locked(f, key);
        if (m) { /* assembled once; remembered */
            m->content = *content;
            m->has_content = true;
        }
        pthread_mutex_unlock(&f->lock);
    }
    /* Used, or never usable: the chunks need not hold any longer. Still
     * waiting for some: those here hold on, for the client's next round. */
    if (rc == 1 || rc == -EFBIG)
        chunk_pins(f, meta, false);
    else if (rc == 0)
        chunk_pins(f, meta, true);
    cas_pin_release(chunks);
    return rc;
}

int goma_files_resolve(goma_files *f, const char *key, rev2_digest *content, cas_pin **pin)
{
    cas_pin *held = NULL;
    if (pin)
        *pin = NULL;
    if (!rev2_hash_is_valid(key))
        return 0;
    pthread_mutex_lock(&f->lock);
    entry *e = find_locked(f, key);
    bool known = e && e->has_content &&
                 (e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE ||
                  e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META);
    if (known)
        *content = e->content;
    pthread_mutex_unlock(&f->lock);
    /* Remembered, but the store may have evicted the content since: then
     * it is made again from the FileBlob (or the chunks). */
    int rc = known && (held = pin_content(f, content)) ? 1 : 0;
    DevtoolsGoma__FileBlob *b = rc ? NULL : load_blob(f, key);
    if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE && b->has_content) {
        rev2_digest_of_bytes(b->content.data, b->content.len, content);
        rc = cas_store_put(f->store, content, b->content.data, b->content.len);
        rc = rc < 0 ? rc : (held = pin_content(f, content)) != NULL;
    } else if (b && b->blob_type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META) {
        rc = resolve_meta(f, key, b, content, &held);
    }
    if (b)
        devtools_goma__file_blob__free_unpacked(b, NULL);
    if (pin)
        *pin = held;
    else
        cas_pin_release(held);
    return rc;
}

bool goma_files_file_digest(goma_files *f, const char *key, rev2_digest *content)
{
    return goma_files_resolve(f, key, content, NULL) == 1;
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
    goma_share_answer *answer; /* NULL: not shared, or no wait */
} store_ctx;

static void store_one(void *arg, const uint8_t *blob, size_t len)
{
    store_ctx *c = arg;
    char key[65];
    const char *why = NULL;
    c->keys = gmb_realloc(c->keys, (c->n + 1) * sizeof *c->keys);
    if (store_blob(c->files, blob, len, key, &why, c->answer) == 0) {
        c->keys[c->n++] = gmb_strdup(key);
    } else {
        /* goma's answer for a refused blob: an empty key in its slot. */
        GMB_WARN("goma", "#%llu StoreFile: blob %zu refused: %s", (unsigned long long)http_request_id(c->req), c->n,
                 why);
        c->keys[c->n++] = gmb_strdup("");
    }
}

/* Through the share when its files are to reach Buildbarn first. */
static void answer(store_ctx *c, int status, const char *type, const void *body, size_t len)
{
    if (c->answer)
        goma_share_answer_send(c->files->share, c->answer, status, type, body, len);
    else
        http_respond(c->req, status, type, body, len);
}

static void on_store_file(http_request *r, void *user)
{
    goma_files *f = user;
    size_t len;
    const uint8_t *body = http_request_body(r, &len);
    /* Decode once to refuse garbage with 400; the blobs are then taken
     * from the raw bytes so each keeps the exact encoding it was hashed in. */
    DevtoolsGoma__StoreFileReq *req = devtools_goma__store_file_req__unpack(NULL, len, body);
    store_ctx c = {f, r, NULL, 0, f->share ? goma_share_answer_new(f->share, r) : NULL};
    if (!req || each_field1(body, len, store_one, &c) < 0) {
        const char *msg = "gomabarn: StoreFile body is not a StoreFileReq\n";
        answer(&c, 400, "text/plain; charset=utf-8", msg, strlen(msg));
    } else {
        DevtoolsGoma__StoreFileResp resp = DEVTOOLS_GOMA__STORE_FILE_RESP__INIT;
        resp.n_hash_key = c.n;
        resp.hash_key = c.keys;
        size_t n = devtools_goma__store_file_resp__get_packed_size(&resp);
        uint8_t *out = gmb_malloc(n + 1);
        devtools_goma__store_file_resp__pack(&resp, out);
        answer(&c, 200, "binary/x-protocol-buffer", out, n);
        free(out);
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.keys[i]);
    free(c.keys);
    if (req)
        devtools_goma__store_file_req__free_unpacked(req, NULL);
}

/* An output's chunk, fetched by the client: it need not hold any more. */
static void release_served_chunk(goma_files *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    entry *e = find_locked(f, key);
    cas_pin *p = e ? e->pin : NULL;
    if (e)
        e->pin = NULL;
    pthread_mutex_unlock(&f->lock);
    cas_pin_release(p);
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
    /* Keys stored through another gateway: found in one parallel round. */
    goma_files_prefetch(f, (const char *const *)req->hash_key, req->n_hash_key, false);
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
            release_served_chunk(f, key);
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
