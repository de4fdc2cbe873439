/* html: the little the status pages need to write HTML safely. */
#ifndef GMB_HTML_H
#define GMB_HTML_H

#include "buf.h"

/* printf into b. Arguments from requests or Buildbarn must be escaped. */
void html_put(gmb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with < > & " escaped (malloc'd). */
char *html_escape(const char *s);
/* s percent-encoded for a query-string value (malloc'd). */
char *html_query_value(const char *s);
/* The pages' common <style> element. */
extern const char html_style[];

#endif
