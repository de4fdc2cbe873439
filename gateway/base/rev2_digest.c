#include "rev2_digest.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const rev2_digest rev2_empty_digest = {
    .hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    .size = 0,
};

struct rev2_hasher {
    EVP_MD_CTX *ctx;
    int64_t size;
};

/* SHA-256 fetched once: EVP_sha256() makes every init look the
 * algorithm up again under a lock shared by all threads, which cost more
 * than hashing a Directory message. Kept for the process's life. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md ? sha256_md : EVP_sha256();
}

rev2_hasher *rev2_hasher_new(void)
{
    rev2_hasher *h = gmb_calloc(1, sizeof *h);
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, sha256(), NULL) != 1)
        abort(); /* only out of memory gets here */
    return h;
}

void rev2_hasher_update(rev2_hasher *h, const void *data, size_t len)
{
    if (len) {
        EVP_DigestUpdate(h->ctx, data, len);
        h->size += (int64_t)len;
    }
}

static void hex_encode(const unsigned char *raw, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * n] = '\0';
}

void rev2_hasher_finish(rev2_hasher *h, rev2_digest *out)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, raw, &n);
    hex_encode(raw, n, out->hash);
    out->size = h->size;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void rev2_digest_of_bytes(const void *data, size_t len, rev2_digest *out)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, raw, &n, sha256(), NULL) != 1)
        abort(); /* only out of memory gets here */
    hex_encode(raw, n, out->hash);
    out->size = (int64_t)len;
}

int rev2_digest_of_fd(int fd, rev2_digest *out)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = gmb_malloc(CHUNK);
    rev2_hasher *h = rev2_hasher_new();
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            rev2_digest scratch;
            rev2_hasher_finish(h, &scratch);
            free(buf);
            return -err;
        }
        if (n == 0)
            break;
        rev2_hasher_update(h, buf, (size_t)n);
    }
    rev2_hasher_finish(h, out);
    free(buf);
    return 0;
}

int rev2_digest_of_file(const char *path, rev2_digest *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = rev2_digest_of_fd(fd, out);
    close(fd);
    return rc;
}

bool rev2_digest_equal(const rev2_digest *a, const rev2_digest *b)
{
    return a->size == b->size && memcmp(a->hash, b->hash, REV2_HASH_HEX_LEN) == 0;
}

bool rev2_hash_is_valid(const char *hash)
{
    if (!hash)
        return false;
    size_t i = 0;
    for (; hash[i]; i++) {
        char c = hash[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return i == REV2_HASH_HEX_LEN;
}

bool rev2_digest_set(rev2_digest *out, const char *hash, int64_t size)
{
    if (!rev2_hash_is_valid(hash) || size < 0)
        return false;
    memcpy(out->hash, hash, REV2_HASH_HEX_LEN + 1);
    out->size = size;
    return true;
}

bool rev2_digest_parse(const char *text, rev2_digest *out)
{
    if (strlen(text) < REV2_HASH_HEX_LEN + 2)
        return false;
    char sep = text[REV2_HASH_HEX_LEN];
    if (sep != '/' && sep != '-')
        return false;
    char hash[REV2_HASH_HEX_LEN + 1];
    memcpy(hash, text, REV2_HASH_HEX_LEN);
    hash[REV2_HASH_HEX_LEN] = '\0';
    const char *num = text + REV2_HASH_HEX_LEN + 1;
    if (*num < '0' || *num > '9' || (num[0] == '0' && num[1] != '\0'))
        return false;
    char *end;
    errno = 0;
    long long size = strtoll(num, &end, 10);
    if (errno || *end != '\0')
        return false;
    return rev2_digest_set(out, hash, size);
}

const char *rev2_digest_str(const rev2_digest *d, char *buf)
{
    snprintf(buf, REV2_DIGEST_STR_LEN, "%s/%" PRId64, d->hash, d->size);
    return buf;
}

static char *join_resource(const char *instance, const char *middle, const rev2_digest *d)
{
    const char *sep = (instance && *instance) ? "/" : "";
    int n = snprintf(NULL, 0, "%s%s%sblobs/%s/%" PRId64, instance ? instance : "", sep, middle, d->hash, d->size);
    char *s = gmb_malloc((size_t)n + 1);
    snprintf(s, (size_t)n + 1, "%s%s%sblobs/%s/%" PRId64, instance ? instance : "", sep, middle, d->hash, d->size);
    return s;
}

char *rev2_resource_read(const char *instance, const rev2_digest *d)
{
    return join_resource(instance, "", d);
}

char *rev2_resource_write(const char *instance, const char *uuid, const rev2_digest *d)
{
    char middle[64];
    snprintf(middle, sizeof middle, "uploads/%s/", uuid);
    return join_resource(instance, middle, d);
}

void rev2_uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        abort(); /* OpenSSL's RNG failing means the process cannot be trusted */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
