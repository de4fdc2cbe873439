/* From a goma key to the REv2 digest of its content (goma_files_resolve):
 * a FILE's content, or a FILE_META's chunks joined into one stored file,
 * pinned for the Exec that needs it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "goma_files_internal.h"
#include "mem.h"

/* The store digest of a key's FileBlob: from the index, or found in the
 * store by hash (stored before a restart). false if unknown. */
static bool blob_digest(goma_files *f, const char *key, rev2_digest *d, bool *indexed)
{
    pthread_mutex_lock(&f->lock);
    goma_file_entry *e = goma_files_find_locked(f, key);
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
        e = goma_files_find_locked(f, key);
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
    /* Chunks found through another gateway may still be arriving (another
     * request's prefetch): waited for, not reported missing. */
    *pin = known ? cas_store_pin_arriving(f->store, d, meta->n_hash_key, 0, &missing) : NULL;
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

/* The content pinned; NULL if it is not in the store (evicted). Content
 * that another request's prefetch is fetching is waited for, not read
 * from its FileBlob and stored a second time. */
static cas_pin *pin_content(goma_files *f, const rev2_digest *content)
{
    size_t missing = 0;
    cas_pin *p = cas_store_pin_arriving(f->store, content, 1, 0, &missing);
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
        goma_file_entry *m = goma_files_find_locked(f, key);
        if (m) { /* assembled once; remembered */
            m->content = *content;
            m->has_content = true;
        }
        pthread_mutex_unlock(&f->lock);
    }
    /* Used, or never usable: the chunks need not hold any longer. Still
     * waiting for some: those here hold on, for the client's next round. */
    if (rc == 1 || rc == -EFBIG)
        goma_files_chunk_pins(f, meta, false);
    else if (rc == 0)
        goma_files_chunk_pins(f, meta, true);
    cas_pin_release(chunks);
    return rc;
}

/* The pin of the key's content (*content) when the index knows it and
 * the store still has it (or a fetch in flight brings it); NULL otherwise.
 * Nothing is read, and no fetch is started. */
static cas_pin *resolve_indexed(goma_files *f, const char *key, rev2_digest *content)
{
    return goma_files_indexed_content(f, key, content) ? pin_content(f, content) : NULL;
}

bool goma_files_indexed_content(goma_files *f, const char *key, rev2_digest *content)
{
    if (!rev2_hash_is_valid(key))
        return false;
    pthread_mutex_lock(&f->lock);
    goma_file_entry *e = goma_files_find_locked(f, key);
    bool known = e && e->has_content &&
                 (e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE ||
                  e->type == DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE_META);
    if (known)
        *content = e->content;
    pthread_mutex_unlock(&f->lock);
    return known;
}

int goma_files_resolve_held(goma_files *f, const char *key, rev2_digest *content, cas_pin **pin)
{
    *pin = rev2_hash_is_valid(key) ? resolve_indexed(f, key, content) : NULL;
    return *pin != NULL;
}

int goma_files_resolve(goma_files *f, const char *key, rev2_digest *content, cas_pin **pin)
{
    if (pin)
        *pin = NULL;
    if (!rev2_hash_is_valid(key))
        return 0;
    /* Remembered, but the store may have evicted the content since: then
     * it is made again from the FileBlob (or the chunks). */
    cas_pin *held = resolve_indexed(f, key, content);
    int rc = held ? 1 : 0;
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
