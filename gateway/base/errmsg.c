#include "errmsg.h"

#include <stdio.h>
#include <stdlib.h>

#include "mem.h"

char *gmb_vformat(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0)
        n = 0; /* a bad format: an empty message rather than a crash */
    char *s = gmb_malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *gmb_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = gmb_vformat(fmt, ap);
    va_end(ap);
    return s;
}

int gmb_fail(char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *err = gmb_vformat(fmt, ap);
    va_end(ap);
    return -1;
}
