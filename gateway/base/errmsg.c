#include "errmsg.h"

#include <stdio.h>
#include <stdlib.h>

char *gmb_vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
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
