/* The file index: what each goma key holds (goma_files.h), and the
 * StoreFile side of it, one FileBlob at a time. Resolution of keys into
 * content is goma_files_resolve.c; the requests, goma_files_rpc.c. */
#include "goma_files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "goma_files_internal.h"
#include "mem.h"

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
    goma_files_routes_stop(f);
    goma_share_free(f->share);
    for (size_t i = 0; i < f->n_buckets; i++)
        for (goma_file_entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            cas_pin_release(e->pin);
            free(e);
        }
    free(f->buckets);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

goma_file_entry *goma_files_find_locked(goma_files *f, const char *key)
{
    for (goma_file_entry *e = f->buckets[key_hash(key) & (f->n_buckets - 1)]; e; e = e->next)
        if (memcmp(e->key, key, 64) == 0)
            return e;
    return NULL;
}

static void grow_locked(goma_files *f)
{
    size_t n = f->n_buckets * 2;
    goma_file_entry **b = gmb_calloc(n, sizeof *b);
    for (size_t i = 0; i < f->n_buckets; i++)
        for (goma_file_entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t slot = key_hash(e->key) & (n - 1);
            e->next = b[slot];
            b[slot] = e;
        }
    free(f->buckets);
    f->buckets = b;
    f->n_buckets = n;
}

goma_file_entry *goma_files_add_locked(goma_files *f, const goma_file_entry *e)
{
    goma_file_entry *have = goma_files_find_locked(f, e->key);
    if (have)
        return have;
    if (f->count >= f->n_buckets)
        grow_locked(f);
    goma_file_entry *n = gmb_malloc(sizeof *n);
    *n = *e;
    size_t slot = key_hash(n->key) & (f->n_buckets - 1);
    n->next = f->buckets[slot];
    f->buckets[slot] = n;
    f->count++;
    return n;
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
 * bytes are put once more (a put makes the blob present even while a
 * fetch of it is in flight). NULL if the store lost it twice. */
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

/* The old pins are released outside the lock. */
void goma_files_chunk_pins(goma_files *f, const DevtoolsGoma__FileBlob *meta, bool refresh)
{
    cas_pin **old = gmb_calloc(meta->n_hash_key + 1, sizeof *old);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < meta->n_hash_key; i++) {
        goma_file_entry *e = goma_files_find_locked(f, meta->hash_key[i]);
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

void goma_files_release_served_chunk(goma_files *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    goma_file_entry *e = goma_files_find_locked(f, key);
    cas_pin *p = e ? e->pin : NULL;
    if (e)
        e->pin = NULL;
    pthread_mutex_unlock(&f->lock);
    cas_pin_release(p);
}

/* A file whose upload failed: the next StoreFile of it shares it again
 * (a Buildbarn blip must not leave it unshared for the process's life). */
static void not_shared(void *user, const char *key)
{
    goma_files *f = user;
    pthread_mutex_lock(&f->lock);
    goma_file_entry *e = goma_files_find_locked(f, key);
    if (e)
        e->shared = false;
    pthread_mutex_unlock(&f->lock);
}

void goma_files_share_start(goma_files *f, const goma_share_options *o)
{
    if (f->share)
        return;
    goma_share_options mine = *o;
    mine.not_shared = not_shared;
    mine.user = f;
    f->share = goma_share_new(&mine);
}

void goma_files_share_drain(goma_files *f)
{
    if (f && f->share)
        goma_share_drain(f->share);
}

/* Queues a newly stored blob for the other gateways (once per key). */
static void share_stored(goma_files *f, const goma_file_entry *e, goma_share_answer *answer)
{
    pthread_mutex_lock(&f->lock);
    goma_file_entry *have = goma_files_find_locked(f, e->key);
    bool first = have && !have->shared;
    if (first)
        have->shared = true;
    pthread_mutex_unlock(&f->lock);
    bool file = e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE;
    if (first && !goma_share_put(f->share, e->key, e->blob_len, e->type, file ? &e->content : NULL, answer)) {
        pthread_mutex_lock(&f->lock);
        if ((have = goma_files_find_locked(f, e->key)) != NULL)
            have->shared = false; /* not queued: the next StoreFile tries again */
        pthread_mutex_unlock(&f->lock);
    }
}

/* Indexes a blob just stored (its chunk pin taken over): stored again,
 * its pin starts over. */
static void index_stored(goma_files *f, const goma_file_entry *e, cas_pin *pin)
{
    pthread_mutex_lock(&f->lock);
    goma_file_entry *have = goma_files_find_locked(f, e->key);
    cas_pin *old = NULL;
    if (have) {
        old = have->pin;
        have->pin = pin;
    } else {
        goma_file_entry n = *e;
        n.pin = pin;
        goma_files_add_locked(f, &n);
    }
    f->stats.stored++;
    pthread_mutex_unlock(&f->lock);
    cas_pin_release(old);
}

static int refuse(goma_files *f, int rc)
{
    __atomic_add_fetch(&f->stats.refused, 1, __ATOMIC_RELAXED);
    return rc;
}

int goma_files_store_blob(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why,
                          goma_share_answer *answer)
{
    DevtoolsGoma__FileBlob *b = devtools_goma__file_blob__unpack(NULL, len, bytes);
    if (!b) {
        *why = "not a FileBlob";
        return refuse(f, -EINVAL);
    }
    if ((*why = invalid(b)) != NULL) {
        devtools_goma__file_blob__free_unpacked(b, NULL);
        return refuse(f, -EINVAL);
    }
    /* The key is the SHA-256 of these very bytes: the blob is its own
     * content-addressed object. */
    rev2_digest self;
    rev2_digest_of_bytes(bytes, len, &self);
    memcpy(key, self.hash, 65);
    goma_file_entry e = {.blob_len = (int64_t)len, .type = (int)b->blob_type};
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
        return refuse(f, rc);
    }
    index_stored(f, &e, pin);
    if (f->share)
        share_stored(f, &e, answer);
    return 0;
}

int goma_files_store(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why)
{
    return goma_files_store_blob(f, bytes, len, key, why, NULL);
}

void goma_files_stats_get(goma_files *f, goma_files_stats *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->stats;
    pthread_mutex_unlock(&f->lock);
}
