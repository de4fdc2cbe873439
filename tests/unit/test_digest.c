/* Digests, resource names and the bounded buffer. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "rev2_digest.h"

static void sha256_known_vectors(void)
{
    rev2_digest d;
    rev2_digest_of_bytes("abc", 3, &d);
    /* FIPS 180-2 example. */
    CHECK_STR(d.hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(d.size, 3);
    rev2_digest_of_bytes("", 0, &d);
    CHECK(rev2_digest_equal(&d, &rev2_empty_digest));
}

static void streaming_file_matches_bytes(void)
{
    /* 3 MiB + 7: crosses the 1 MiB read chunk boundary. */
    size_t n = (3u << 20) + 7;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 13));
    char path[] = "/tmp/gmb-digest-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, data, n), (long long)n);
    close(fd);
    rev2_digest a, b;
    rev2_digest_of_bytes(data, n, &a);
    CHECK_INT(rev2_digest_of_file(path, &b), 0);
    CHECK(rev2_digest_equal(&a, &b));
    CHECK_INT(b.size, (long long)n);
    unlink(path);
    CHECK_INT(rev2_digest_of_file(path, &b), -2 /* -ENOENT */);
    free(data);
}

static void parse_and_format(void)
{
    rev2_digest d;
    const char *h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char text[200];
    snprintf(text, sizeof text, "%s/3", h);
    CHECK(rev2_digest_parse(text, &d));
    CHECK_INT(d.size, 3);
    char s[REV2_DIGEST_STR_LEN];
    CHECK_STR(rev2_digest_str(&d, s), text);
    snprintf(text, sizeof text, "%s-12345", h);
    CHECK(rev2_digest_parse(text, &d));
    CHECK_INT(d.size, 12345);
    /* Refused: upper case, short hash, negative or padded sizes, junk. */
    snprintf(text, sizeof text, "BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3");
    CHECK(!rev2_digest_parse(text, &d));
    CHECK(!rev2_digest_parse("abc/3", &d));
    snprintf(text, sizeof text, "%s/-1", h);
    CHECK(!rev2_digest_parse(text, &d));
    snprintf(text, sizeof text, "%s/03", h);
    CHECK(!rev2_digest_parse(text, &d));
    snprintf(text, sizeof text, "%s/3x", h);
    CHECK(!rev2_digest_parse(text, &d));
    CHECK(!rev2_hash_is_valid(NULL));
}

static void resource_names(void)
{
    rev2_digest d = rev2_empty_digest;
    char *r = rev2_resource_read("hardlinking", &d);
    CHECK_STR(r, "hardlinking/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
    free(r);
    /* The empty instance name has no leading component (and never "."). */
    r = rev2_resource_read("", &d);
    CHECK_STR(r, "blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
    free(r);
    r = rev2_resource_write("fuse/exp1", "0b7a4e6c-1111-4222-8333-444455556666", &d);
    CHECK_STR(r, "fuse/exp1/uploads/0b7a4e6c-1111-4222-8333-444455556666/blobs/"
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
    free(r);
    r = rev2_resource_write("", "u", &d);
    CHECK_STR(r, "uploads/u/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0");
    free(r);
}

static void uuids_are_version4_and_distinct(void)
{
    char a[37], b[37];
    rev2_uuid4(a);
    rev2_uuid4(b);
    CHECK_INT(strlen(a), 36);
    CHECK(a[14] == '4');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    CHECK(strcmp(a, b) != 0);
}

static void buffer_limit(void)
{
    gmb_buf b;
    gmb_buf_init(&b, 10);
    CHECK_INT(gmb_buf_append(&b, "12345", 5), GMB_BUF_OK);
    CHECK_INT(gmb_buf_append(&b, "123456", 6), GMB_BUF_TOO_BIG);
    CHECK_INT(b.len, 5); /* a refused append changes nothing */
    CHECK_INT(gmb_buf_append(&b, "12345", 5), GMB_BUF_OK);
    CHECK(memcmp(b.data, "1234512345", 10) == 0);
    CHECK_INT(gmb_buf_append(&b, "x", 1), GMB_BUF_TOO_BIG);
    CHECK_INT(gmb_buf_append(&b, "", 0), GMB_BUF_OK);
    size_t len;
    uint8_t *taken = gmb_buf_take(&b, &len);
    CHECK_INT(len, 10);
    CHECK_INT(b.len, 0);
    free(taken);
    gmb_buf_free(&b);
}

int main(void)
{
    RUN(sha256_known_vectors);
    RUN(streaming_file_matches_bytes);
    RUN(parse_and_format);
    RUN(resource_names);
    RUN(uuids_are_version4_and_distinct);
    RUN(buffer_limit);
    return CHECK_REPORT();
}
