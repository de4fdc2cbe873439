#include "http_body.h"

#include <stdbool.h>
#include <strings.h>
#include <string.h>
#include <zlib.h>

static http_body_result inflate_into(const uint8_t *in, size_t len, int window_bits, gmb_buf *out, const char **why)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK) {
        *why = "zlib could not start";
        return HTTP_BODY_CORRUPT;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    http_body_result rc = HTTP_BODY_OK;
    for (;;) {
        gmb_buf_result br;
        size_t room = 64 * 1024;
        if (out->max - out->len < room)
            room = out->max - out->len;
        if (room == 0) {
            *why = "decompressed body is larger than http.max_body_bytes";
            rc = HTTP_BODY_TOO_BIG;
            break;
        }
        uint8_t *dst = gmb_buf_reserve(out, room, &br);
        if (!dst) { /* only the limit, checked above, can refuse this */
            *why = "decompressed body is larger than http.max_body_bytes";
            rc = HTTP_BODY_TOO_BIG;
            break;
        }
        z.next_out = dst;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        gmb_buf_commit(out, room - z.avail_out);
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            /* Raw deflate without its final block marker, or a gzip
             * stream cut short: either way the body is incomplete. */
            *why = "compressed body ends early";
            rc = HTTP_BODY_CORRUPT;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            *why = "compressed body is not valid";
            rc = HTTP_BODY_CORRUPT;
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

http_body_result http_body_decode(const char *enc, const uint8_t *in, size_t len, gmb_buf *out, const char **why)
{
    *why = "";
    if (!enc || !*enc || strcasecmp(enc, "identity") == 0) {
        if (gmb_buf_append(out, in, len) != GMB_BUF_OK) {
            *why = "body is larger than http.max_body_bytes";
            return HTTP_BODY_TOO_BIG;
        }
        return HTTP_BODY_OK;
    }
    if (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "x-gzip") == 0)
        return inflate_into(in, len, 16 + MAX_WBITS, out, why);
    if (strcasecmp(enc, "deflate") == 0) {
        /* goma strips the zlib header; other clients keep it. A zlib
         * header is 0x78 followed by a byte making a multiple of 31. */
        bool zlib_header = len >= 2 && (in[0] & 0x0f) == 8 && ((in[0] << 8) | in[1]) % 31 == 0;
        return inflate_into(in, len, zlib_header ? MAX_WBITS : -MAX_WBITS, out, why);
    }
    *why = "unsupported Content-Encoding (gzip, deflate or none)";
    return HTTP_BODY_UNSUPPORTED;
}

int http_body_gzip(const uint8_t *in, size_t len, gmb_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* Sized to the body: zlib's state (window, hash chains, pending
     * output) would otherwise be ~256 KiB allocated and partly cleared for
     * every small answer, which cost more CPU than the compression. Level
     * 1: answers are mostly object files, which compress little more at
     * higher levels. */
    int wbits = 9;
    while (wbits < MAX_WBITS && ((size_t)1 << wbits) < len)
        wbits++;
    int mem_level = wbits - 7 < 1 ? 1 : wbits - 7 > 8 ? 8 : wbits - 7;
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + wbits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)len);
    gmb_buf_result br;
    uint8_t *dst = gmb_buf_reserve(out, bound, &br);
    if (!dst) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    gmb_buf_commit(out, bound - z.avail_out);
    deflateEnd(&z);
    return zr == Z_STREAM_END ? 0 : -1;
}

int http_accepts_gzip(const char *accept)
{
    if (!accept)
        return 0;
    /* A token list: "gzip, deflate", "gzip;q=1", ... (q=0 means no). */
    const char *p = accept;
    while ((p = strcasestr(p, "gzip")) != NULL) {
        bool start = p == accept || p[-1] == ' ' || p[-1] == ',';
        const char *after = p + 4;
        bool end = *after == '\0' || *after == ',' || *after == ';' || *after == ' ';
        if (start && end)
            return strncmp(after, ";q=0", 4) != 0 || after[4] == '.';
        p = after;
    }
    return 0;
}
