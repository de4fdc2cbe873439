#include "html.h"

#include <stdarg.h>
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

const char html_style[] = "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:90%}"
                          ".failed,.bad{color:#b00}.missing{color:#a60}.done{color:#060}"
                          "td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:85%}</style>";
