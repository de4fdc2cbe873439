/* goma_files: goma's file service on the shared content store.
 *
 * A goma hash key is the SHA-256 of a serialized FileBlob, so a FileBlob's
 * bytes, exactly as the client sent them, are a content-addressed blob
 * whose REv2 digest is (key, length): StoreFile puts them into cas_store
 * under that digest, and LookupFile returns them verbatim. The file index
 * keeps, per key, that length and what the blob holds (a whole file's
 * content digest, or a chunk, or a chunk list), so the exec pipeline can
 * turn keys into REv2 input digests. Blobs that break goma's rules are
 * refused and nothing is stored:
 *   FILE:       content present, its length == file_size, no offset, no keys
 *   FILE_META:  at least 2 chunk keys, no content
 *   FILE_CHUNK: offset and content present, no keys, offset a multiple of
 *               2 MiB, content at most 2 MiB
 *   FILE_REF:   exactly one key */
#ifndef GOMA_FILES_H
#define GOMA_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cas_store.h"
#include "http_server.h"

typedef struct goma_files goma_files;

goma_files *goma_files_new(cas_store *store);
void goma_files_free(goma_files *f);
/* Registers <prefix>/s and <prefix>/l. */
void goma_files_routes(goma_files *f, http_server *http, const char *prefix);

/* Stores one FileBlob given as its serialized bytes. 0 with the key
 * (65 bytes with NUL), or -1 with a static reason. */
int goma_files_store(goma_files *f, const uint8_t *blob, size_t len, char key[65], const char **why);
/* What a key holds, for the exec pipeline: the REv2 digest of the whole
 * file's content, for a FILE, or for a FILE_META whose chunks are all
 * stored (assembled into the store once, then remembered). false if the
 * key, or one of its chunks, is unknown, or the chunks do not add up. */
bool goma_files_file_digest(goma_files *f, const char *key, rev2_digest *content);

typedef struct {
    uint64_t stored, refused, lookups, lookup_misses;
} goma_files_stats;
void goma_files_stats_get(goma_files *f, goma_files_stats *out);

#endif
