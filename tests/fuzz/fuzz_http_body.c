/* fuzz_http_body: request bodies as goma clients send them
 * (gateway/wire/http_body.h): gzip, header-less deflate, zlib, identity,
 * and the limit that stops zip bombs.
 *
 * Input: an encoding byte (index into `encodings`), a limit byte, then the
 * body. Checked: nothing is written past the limit; identity is a copy;
 * what decodes, gzip-compressed by http_body_gzip, decodes to the same
 * bytes. The body is also read as an Accept-Encoding header value. */
#include "fuzz_common.h"

#include "buf.h"
#include "http_body.h"

static const char *const encodings[] = {
    NULL, "", "identity", "gzip", "x-gzip", "deflate", "GZIP", "Deflate", "br", "gzip, deflate",
};
#define N_ENCODINGS (sizeof encodings / sizeof *encodings)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static size_t limit_for(uint8_t sel, size_t len)
{
    switch (sel % 4) {
    case 0:
        return (size_t)1 << 20;
    case 1:
        return (size_t)64 << 10;
    case 2:
        return len; /* exactly the input's size */
    default:
        return (size_t)(sel >> 2); /* 0..63 bytes */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor c;
    fuzz_cursor_init(&c, data, size);
    const char *enc = encodings[fuzz_u8(&c) % N_ENCODINGS];
    uint8_t sel = fuzz_u8(&c);
    const uint8_t *body = c.left ? c.p : NULL;
    size_t len = c.left;
    size_t limit = limit_for(sel, len);

    gmb_buf out;
    gmb_buf_init(&out, limit);
    const char *why = NULL;
    http_body_result rc = http_body_decode(enc, body, len, &out, &why);
    FUZZ_CHECK(why != NULL, "no reason set");
    FUZZ_CHECK(out.len <= limit, "decoded %zu bytes past the limit %zu", out.len, limit);
    FUZZ_CHECK(rc == HTTP_BODY_OK || rc == HTTP_BODY_UNSUPPORTED || rc == HTTP_BODY_CORRUPT || rc == HTTP_BODY_TOO_BIG,
               "unknown result %d", (int)rc);
    bool identity = !enc || !*enc || strcmp(enc, "identity") == 0;
    if (identity) {
        FUZZ_CHECK((rc == HTTP_BODY_OK) == (len <= limit), "identity body of %zu bytes, limit %zu: result %d", len,
                   limit, (int)rc);
        if (rc == HTTP_BODY_OK)
            FUZZ_CHECK(out.len == len && (len == 0 || memcmp(out.data, body, len) == 0), "identity changed the body");
    }
    if (rc == HTTP_BODY_OK) {
        /* What we decoded, compressed the way we answer, decodes again. */
        gmb_buf gz, back;
        gmb_buf_init(&gz, GMB_BUF_UNLIMITED);
        gmb_buf_init(&back, out.len ? out.len : 1); /* exactly the size: not "too big" */
        FUZZ_CHECK(http_body_gzip(out.data, out.len, &gz) == 0, "http_body_gzip failed on %zu bytes", out.len);
        FUZZ_CHECK(http_body_decode("gzip", gz.data, gz.len, &back, &why) == HTTP_BODY_OK,
                   "our own gzip does not decode: %s", why);
        FUZZ_CHECK(back.len == out.len && (out.len == 0 || memcmp(back.data, out.data, out.len) == 0),
                   "gzip round trip changed the bytes");
        gmb_buf_free(&gz);
        gmb_buf_free(&back);
    }
    gmb_buf_free(&out);

    /* The same bytes as an Accept-Encoding header (up to the first NUL). */
    char *header = gmb_strndup((const char *)(body ? body : (const uint8_t *)""), len);
    int accepts = http_accepts_gzip(header);
    FUZZ_CHECK(accepts == 0 || accepts == 1, "http_accepts_gzip returned %d", accepts);
    free(header);
    return 0;
}
