/* Request-body decoding (gzip, goma's header-less deflate, zlib, plain),
 * limits against decompression bombs, Accept-Encoding parsing, and
 * token auth. */
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "auth.h"
#include "check.h"
#include "http_body.h"

static const char text[] = "the quick brown fox jumps over the lazy dog, again and again and again";

/* Compresses with zlib: window_bits 31 gzip, 15 zlib, -15 raw. */
static size_t squeeze(const void *in, size_t len, int window_bits, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void decodes_all_three(void)
{
    uint8_t c[1024];
    gmb_buf out;
    const char *why;
    gmb_buf_init(&out, 1 << 20);
    size_t n = squeeze(text, sizeof text, 31, c, sizeof c);
    CHECK_INT(http_body_decode("gzip", c, n, &out, &why), HTTP_BODY_OK);
    CHECK(out.len == sizeof text && memcmp(out.data, text, sizeof text) == 0);

    /* goma's deflate: a zlib stream minus its 2-byte header (trailer kept). */
    gmb_buf_reset(&out);
    n = squeeze(text, sizeof text, 15, c, sizeof c);
    CHECK_INT(http_body_decode("deflate", c + 2, n - 2, &out, &why), HTTP_BODY_OK);
    CHECK(out.len == sizeof text && memcmp(out.data, text, sizeof text) == 0);
    /* ...and a whole zlib stream, as other clients send it. */
    gmb_buf_reset(&out);
    CHECK_INT(http_body_decode("deflate", c, n, &out, &why), HTTP_BODY_OK);
    CHECK(out.len == sizeof text && memcmp(out.data, text, sizeof text) == 0);

    gmb_buf_reset(&out);
    CHECK_INT(http_body_decode(NULL, (const uint8_t *)text, sizeof text, &out, &why), HTTP_BODY_OK);
    CHECK_INT(out.len, sizeof text);
    gmb_buf_free(&out);
}

static void refuses_bad_bodies(void)
{
    uint8_t c[1024];
    gmb_buf out;
    const char *why;
    gmb_buf_init(&out, 1 << 20);
    size_t n = squeeze(text, sizeof text, 31, c, sizeof c);
    CHECK_INT(http_body_decode("gzip", c, n / 2, &out, &why), HTTP_BODY_CORRUPT);
    CHECK_CONTAINS(why, "ends early");
    gmb_buf_reset(&out);
    c[12] ^= 0xff;
    CHECK_INT(http_body_decode("gzip", (const uint8_t *)"not gzip at all", 15, &out, &why), HTTP_BODY_CORRUPT);
    gmb_buf_reset(&out);
    CHECK_INT(http_body_decode("br", c, n, &out, &why), HTTP_BODY_UNSUPPORTED);
    gmb_buf_free(&out);
}

static void bombs_stop_at_the_limit(void)
{
    size_t big = 64u << 20;
    uint8_t *zeros = calloc(1, big);
    uint8_t *c = malloc(1 << 20);
    size_t n = squeeze(zeros, big, 31, c, 1 << 20);
    CHECK(n < 100 * 1024); /* 64 MiB of zeros squeeze to ~64 KiB */
    gmb_buf out;
    const char *why;
    gmb_buf_init(&out, 1 << 20);
    CHECK_INT(http_body_decode("gzip", c, n, &out, &why), HTTP_BODY_TOO_BIG);
    CHECK(out.len <= (1u << 20));
    gmb_buf_free(&out);
    /* Plain bodies over the limit too. */
    gmb_buf_init(&out, 10);
    CHECK_INT(http_body_decode(NULL, zeros, 11, &out, &why), HTTP_BODY_TOO_BIG);
    gmb_buf_free(&out);
    free(zeros);
    free(c);
}

static void gzip_out_round_trips(void)
{
    gmb_buf z, back;
    const char *why;
    gmb_buf_init(&z, 1 << 20);
    gmb_buf_init(&back, 1 << 20);
    CHECK_INT(http_body_gzip((const uint8_t *)text, sizeof text, &z), 0);
    CHECK(z.len > 10 && z.data[0] == 0x1f && z.data[1] == 0x8b);
    CHECK_INT(http_body_decode("gzip", z.data, z.len, &back, &why), HTTP_BODY_OK);
    CHECK(back.len == sizeof text && memcmp(back.data, text, sizeof text) == 0);
    gmb_buf_free(&z);
    gmb_buf_free(&back);
}

static void accept_encoding(void)
{
    CHECK(http_accepts_gzip("gzip"));
    CHECK(http_accepts_gzip("deflate, gzip"));
    CHECK(http_accepts_gzip("gzip;q=0.5, deflate"));
    CHECK(!http_accepts_gzip("gzip;q=0"));
    CHECK(!http_accepts_gzip("x-gzipped"));
    CHECK(!http_accepts_gzip("deflate"));
    CHECK(!http_accepts_gzip(NULL));
}

static void token_auth(void)
{
    char path[] = "/tmp/gmb-tokens-XXXXXX";
    int fd = mkstemp(path);
    const char *file = "# tokens\n  s3cret-one alice\nother-token\n\n";
    CHECK_INT(write(fd, file, strlen(file)), (long long)strlen(file));
    close(fd);
    char *err = NULL;
    gmb_auth *a = gmb_auth_new("tokens", path, &err);
    CHECK(a != NULL);
    const char *user;
    CHECK(gmb_auth_check(a, "Bearer s3cret-one", &user));
    CHECK_STR(user, "alice");
    CHECK(gmb_auth_check(a, "bearer other-token", &user));
    CHECK_STR(user, "token #3");
    CHECK(!gmb_auth_check(a, "Bearer s3cret-on", &user));
    CHECK(!gmb_auth_check(a, "Bearer s3cret-one2", &user));
    CHECK(!gmb_auth_check(a, "Basic s3cret-one", &user));
    CHECK(!gmb_auth_check(a, NULL, &user));
    CHECK_INT(gmb_auth_token_count(a), 2);
    gmb_auth_free(a);
    gmb_auth *none = gmb_auth_new("none", "", &err);
    CHECK(gmb_auth_check(none, NULL, &user));
    gmb_auth_free(none);
    CHECK(gmb_auth_new("google", "", &err) == NULL);
    CHECK_CONTAINS(err, "not \"none\" or \"tokens\"");
    free(err);
    CHECK(gmb_auth_new("tokens", "/nonexistent", &err) == NULL);
    CHECK_CONTAINS(err, "cannot read auth.token_file");
    free(err);
    unlink(path);
}

int main(void)
{
    RUN(decodes_all_three);
    RUN(refuses_bad_bodies);
    RUN(bombs_stop_at_the_limit);
    RUN(gzip_out_round_trips);
    RUN(accept_encoding);
    RUN(token_auth);
    return CHECK_REPORT();
}
