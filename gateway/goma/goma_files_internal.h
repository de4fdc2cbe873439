/* goma_files_internal: what the goma_files*.c files share, and nothing
 * outside them uses: the file index (goma_files.c), the resolution of
 * keys into stored content (goma_files_resolve.c) and the StoreFile /
 * LookupFile requests (goma_files_rpc.c). */
#ifndef GOMA_FILES_INTERNAL_H
#define GOMA_FILES_INTERNAL_H

#include <pthread.h>

#include "goma/goma_data.pb-c.h"
#include "goma_files.h"
#include "goma_wire.h"
#include "work_pool.h"

typedef struct goma_file_entry {
    char key[65];
    int64_t blob_len;    /* length of the serialized FileBlob */
    int type;            /* DevtoolsGoma__FileBlob__BlobType */
    rev2_digest content; /* FILE, FILE_CHUNK, and FILE_META once assembled */
    bool has_content;
    cas_pin *pin; /* FILE_CHUNK: holds it in the store until a FILE_META used it (or the pin expires) */
    bool shared;  /* on its way to Buildbarn, or known from there (goma_files_share.h) */
    struct goma_file_entry *next;
} goma_file_entry;

struct goma_files {
    cas_store *store;
    pthread_mutex_t lock;
    goma_file_entry **buckets;
    size_t n_buckets, count;
    goma_files_stats stats;
    goma_share *share;  /* NULL: not shared */
    work_pool *lookups; /* LookupFile runs here: it may wait on Buildbarn (goma_files_routes) */
};

/* ---- The index (goma_files.c) ---- */
/* The entry of a key, under f->lock; NULL if not indexed. */
goma_file_entry *goma_files_find_locked(goma_files *f, const char *key);
/* Adds a copy of *e (its pin taken over) unless the key is indexed;
 * under f->lock. Returns the entry indexed. */
goma_file_entry *goma_files_add_locked(goma_files *f, const goma_file_entry *e);
/* goma_files_store, with the answer of the StoreFile the blob came in
 * (goma_share_answer_*, NULL: none) when sharing. */
int goma_files_store_blob(goma_files *f, const uint8_t *bytes, size_t len, char key[65], const char **why,
                          goma_share_answer *answer);
/* Takes the chunk pins of a FILE_META's keys out of the index and
 * releases them, or (refresh) pins those chunks anew. */
void goma_files_chunk_pins(goma_files *f, const DevtoolsGoma__FileBlob *meta, bool refresh);
/* An output's chunk, fetched by the client: it need not hold any more. */
void goma_files_release_served_chunk(goma_files *f, const char *key);

#endif
