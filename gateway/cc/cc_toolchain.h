/* cc_toolchain: the compiler's own files, for goma's toolchain_included
 * requests (GOMA_ARBITRARY_TOOLCHAIN_SUPPORT in goma's client).
 *
 * The compiler as named (found through PATH), every symlink on the way to
 * its real binary, and the helpers the driver runs for a compile (gcc's
 * cc1, or cc1plus for C++, and as, as `-print-prog-name` names them; a helper it does
 * not name by path is looked up in PATH; missing ones are left out). The
 * first entry is the compiler as named: a goma request's first toolchain
 * spec, which becomes argv[0] on the worker. */
#ifndef CC_TOOLCHAIN_H
#define CC_TOOLCHAIN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *path; /* absolute */
    char *link; /* a symlink's target as stored in it; NULL for a file */
    bool executable;
} cc_tool_file;

/* NULL (with a message printed) if the compiler cannot be found. */
cc_tool_file *cc_toolchain_files(const char *compiler, bool cxx, size_t *n);
void cc_toolchain_free(cc_tool_file *files, size_t n);

#endif
