#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

void html_put(gmb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gmb_vformat(fmt, ap);
    va_end(ap);
    gmb_buf_put(b, s, strlen(s));
    free(s);
}

static char *taken(gmb_buf *b)
{
    gmb_buf_put(b, "", 1);
    size_t n;
    return (char *)gmb_buf_take(b, &n);
}

char *html_escape(const char *s)
{
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    for (; *s; s++) {
        const char *r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : *s == '"' ? "&quot;" : NULL;
        if (r)
            gmb_buf_put(&b, r, strlen(r));
        else
            gmb_buf_put(&b, s, 1);
    }
    return taken(&b);
}

char *html_query_value(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    gmb_buf b;
    gmb_buf_init(&b, GMB_BUF_UNLIMITED);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~/", c)) {
            gmb_buf_put(&b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            gmb_buf_put(&b, e, 3);
        }
    }
    return taken(&b);
}

void html_json_str(gmb_buf *out, const char *s)
{
    gmb_buf_put(out, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            gmb_buf_put(out, esc, 2);
            p++;
        } else if (ch < 0x20) {
            html_put(out, "\\u%04x", ch);
            p++;
        } else if (ch < 0x80) {
            gmb_buf_put(out, p, 1);
            p++;
        } else {
            size_t len = ch >= 0xf0 && ch < 0xf5 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
            size_t ok = len;
            for (size_t i = 1; i < len && ok; i++)
                if ((p[i] & 0xc0) != 0x80)
                    ok = 0;
            if (ok) {
                gmb_buf_put(out, p, len);
                p += len;
            } else {
                gmb_buf_put(out, "\\ufffd", 6);
                p++;
            }
        }
    }
    gmb_buf_put(out, "\"", 1);
}

void html_bytes(char *out, size_t size, double bytes)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    for (; bytes >= 1024 && u + 1 < sizeof unit / sizeof *unit; u++)
        bytes /= 1024;
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

void html_age(char *out, size_t size, long long s)
{
    if (s < 120)
        snprintf(out, size, "%lld s", s);
    else if (s < 7200)
        snprintf(out, size, "%lld min", s / 60);
    else if (s < 172800)
        snprintf(out, size, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else
        snprintf(out, size, "%lld days %lld h", s / 86400, s % 86400 / 3600);
}

void html_ms(char *out, size_t size, double ms)
{
    if (ms < 0)
        snprintf(out, size, "-");
    else if (ms < 1000)
        snprintf(out, size, "%.0f ms", ms);
    else
        snprintf(out, size, "%.*f s", ms < 10000 ? 2 : 1, ms / 1000);
}

const char html_style[] = "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}"
                          ".failed,.bad{color:#b00}.missing{color:#a60}.done{color:#060}"
                          "td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:85%}"
                          ".tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{border:1px solid #ccc;padding:6px 12px;"
                          "min-width:110px}.tile b{display:block;font-size:150%}.tile span{color:#666;font-size:85%}"
                          ".charts{display:flex;flex-wrap:wrap;gap:16px}.fill{width:200px;height:10px;"
                          "border:1px solid #999;display:inline-block}.fill div{height:10px;background:#3b6fb6}"
                          "td.reason{padding-left:2em;color:#555}</style>";
