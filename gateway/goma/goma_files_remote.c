/* Keys stored through another gateway on the same Buildbarn
 * (goma_files_share.h): looked up in one round, indexed as if stored
 * here, and what the request will read fetched ahead
 * (goma_files_prefetch). */
#include <stdlib.h>
#include <string.h>

#include "goma_files_internal.h"
#include "mem.h"

/* A key known from Buildbarn's action cache, indexed as if stored here;
 * its bytes come from the CAS when read. */
static void index_remote(goma_files *f, const goma_share_hit *h)
{
    goma_file_entry n = {
        .blob_len = h->blob_len, .type = h->type, .content = h->content, .has_content = h->has_content, .shared = true};
    memcpy(n.key, h->key, 64);
    pthread_mutex_lock(&f->lock);
    goma_files_add_locked(f, &n);
    pthread_mutex_unlock(&f->lock);
}

/* Fetches (in parallel, one wave of at most 64 at a time) the blobs
 * found remotely that the request will read: a FILE's content for an
 * Exec, else the FileBlob; a FILE_META's FileBlob, then its chunks. Each
 * key is indexed once its fetch has started: a concurrent request that
 * finds it indexed then finds its bytes there or arriving (and waits),
 * never "known but absent" (which would cost it a second download, or a
 * missing-input round for a FILE_META's chunks). */
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
            index_remote(f, &hits[i]);
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
        bool known = goma_files_find_locked(f, k) != NULL;
        pthread_mutex_unlock(&f->lock);
        bool dup = false;
        for (size_t j = 0; j < asked && !dup; j++)
            dup = strcmp(hits[j].key, k) == 0;
        if (!known && !dup && !cas_store_find_hash(f->store, k, &local))
            hits[asked++].key = k;
    }
    if (asked && goma_share_find(f->share, hits, asked) > 0)
        fetch_found(f, hits, asked, contents, depth);
    free(hits);
}

void goma_files_prefetch(goma_files *f, const char *const *keys, size_t n, bool contents)
{
    prefetch(f, keys, n, contents, 0);
}
