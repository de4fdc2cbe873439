#include "cc_log.h"

#include <stdarg.h>
#include <stdio.h>

bool cc_verbose;

static void vprint(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void vprint(const char *fmt, va_list ap)
{
    /* One fprintf per line: concurrent compiles of a make -j do not interleave within it. */
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "gomabarn-cc: %s\n", line);
}

void cc_say(const char *fmt, ...)
{
    if (!cc_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

void cc_tell(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}
