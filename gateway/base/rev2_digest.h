/* rev2_digest: REv2 content digests (SHA-256 + size) and the resource
 * names built from them.
 *
 * Digests are computed with OpenSSL's EVP interface; large files are
 * hashed in a streaming loop so no file is ever read whole into memory. */
#ifndef REV2_DIGEST_H
#define REV2_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REV2_HASH_HEX_LEN 64

typedef struct {
    char hash[REV2_HASH_HEX_LEN + 1]; /* lowercase hex, NUL-terminated */
    int64_t size;                     /* bytes */
} rev2_digest;

/* The digest of zero bytes (e3b0c442...b855/0). */
extern const rev2_digest rev2_empty_digest;

/* Incremental hashing for data that arrives in pieces. */
typedef struct rev2_hasher rev2_hasher;
rev2_hasher *rev2_hasher_new(void);
void rev2_hasher_update(rev2_hasher *h, const void *data, size_t len);
/* Writes the digest of everything fed so far and frees the hasher. */
void rev2_hasher_finish(rev2_hasher *h, rev2_digest *out);

void rev2_digest_of_bytes(const void *data, size_t len, rev2_digest *out);
/* Streams an open file from its current offset to EOF. 0 or -errno. */
int rev2_digest_of_fd(int fd, rev2_digest *out);
/* 0 or -errno (ENOENT, EISDIR, ...). */
int rev2_digest_of_file(const char *path, rev2_digest *out);

bool rev2_digest_equal(const rev2_digest *a, const rev2_digest *b);
/* True for 64 lowercase hex characters. */
bool rev2_hash_is_valid(const char *hash);
/* Fills `out` from a hash string and size; false if the hash is invalid
 * or the size negative. */
bool rev2_digest_set(rev2_digest *out, const char *hash, int64_t size);
/* Parses "<hash>/<size>" or "<hash>-<size>" (bb_clientd's file names). */
bool rev2_digest_parse(const char *text, rev2_digest *out);

/* "<hash>/<size>" into buf (at least REV2_DIGEST_STR_LEN bytes). */
#define REV2_DIGEST_STR_LEN (REV2_HASH_HEX_LEN + 1 + 20 + 1)
const char *rev2_digest_str(const rev2_digest *d, char *buf);

/* ByteStream resource names (malloc'd; free them). The empty instance
 * name drops its leading component: "blobs/<hash>/<size>". */
char *rev2_resource_read(const char *instance, const rev2_digest *d);
char *rev2_resource_write(const char *instance, const char *uuid, const rev2_digest *d);
/* A random RFC 4122 version 4 UUID, 36 characters + NUL. */
void rev2_uuid4(char out[37]);

#endif
