/* html: the little the status pages need to write HTML safely. */
#ifndef GMB_HTML_H
#define GMB_HTML_H

#include <stddef.h>

#include "buf.h"

/* printf into b. Arguments from requests or Buildbarn must be escaped. */
void html_put(gmb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with < > & " escaped (malloc'd). */
char *html_escape(const char *s);
/* s percent-encoded for a query-string value (malloc'd). */
char *html_query_value(const char *s);
/* s as a JSON string, quotes included; bytes that are not UTF-8 become
 * U+FFFD. */
void html_json_str(gmb_buf *out, const char *s);
/* Human units, into out: "104.5 MiB", "17 min", "850 ms". */
void html_bytes(char *out, size_t size, double bytes);
void html_age(char *out, size_t size, long long seconds);
void html_ms(char *out, size_t size, double ms);
/* The pages' common <style> element. */
extern const char html_style[];

#endif
