/* errmsg: the one way gomabarn builds a human-readable error message. */
#ifndef GMB_ERRMSG_H
#define GMB_ERRMSG_H

#include <stdarg.h>

/* A malloc'd formatted string (aborts only when memory is exhausted). */
char *gmb_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *gmb_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Sets *err to a formatted message and returns -1, for `return gmb_fail(...)`. */
int gmb_fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
