#include "exec_paths.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mem.h"

/* Normalizes the absolute path in `buf` (malloc'd, one byte to spare)
 * in place: the result is never longer than what it has read, but "/".
 * NULL (buf freed) for a path that climbs above "/". */
static char *normalize_in_place(char *buf)
{
    size_t len = 0;
    const char *p = buf;
    while (*p) {
        while (*p == '/')
            p++;
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t sl = (size_t)(p - seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.'))
            continue;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (len == 0) {
                free(buf);
                return NULL;
            }
            while (len > 0 && buf[len - 1] != '/')
                len--;
            len--; /* the '/' itself */
            continue;
        }
        buf[len++] = '/';
        memmove(buf + len, seg, sl);
        len += sl;
    }
    if (len == 0)
        buf[len++] = '/';
    buf[len] = '\0';
    return buf;
}

char *exec_path_normalize(const char *abs)
{
    if (abs[0] != '/')
        return NULL;
    size_t n = strlen(abs);
    char *buf = gmb_malloc(n + 2);
    memcpy(buf, abs, n + 1);
    return normalize_in_place(buf);
}

char *exec_path_absolute(const char *cwd, const char *name)
{
    /* Joined and normalized in one buffer: every input's path comes here. */
    size_t cl = name[0] == '/' ? 0 : strlen(cwd), nl = strlen(name);
    char *buf = gmb_malloc(cl + nl + 3);
    memcpy(buf, cwd, cl);
    buf[cl] = '/';
    memcpy(buf + cl + (cl ? 1 : 0), name, nl + 1);
    if (buf[0] != '/') { /* a relative cwd */
        free(buf);
        return NULL;
    }
    return normalize_in_place(buf);
}

char *exec_path_parent(const char *abs)
{
    const char *slash = strrchr(abs, '/');
    return slash == abs ? gmb_strdup("/") : gmb_strndup(abs, (size_t)(slash - abs));
}

int exec_path_is_below(const char *abs, const char *dir)
{
    if (strcmp(dir, "/") == 0)
        return 1;
    size_t n = strlen(dir);
    return strncmp(abs, dir, n) == 0 && (abs[n] == '/' || abs[n] == '\0');
}

char *exec_path_output_in_cwd(const char *cwd, const char *name)
{
    if (name[0] != '/')
        return gmb_strdup(name);
    char *normal = exec_path_normalize(name);
    /* The working directory itself, or one holding it: not an output. */
    char *rel = normal && !exec_path_is_below(cwd, normal) ? exec_path_relative(cwd + 1, normal + 1) : NULL;
    free(normal);
    return rel;
}

char *exec_path_place(const char *root, const char *abs)
{
    if (exec_path_is_below(abs, root)) {
        size_t n = strcmp(root, "/") == 0 ? 0 : strlen(root);
        return gmb_strdup(abs[n] == '/' ? abs + n + 1 : abs + n);
    }
    size_t dl = sizeof EXEC_TOOLCHAIN_DIR - 1, al = strlen(abs);
    char *out = gmb_malloc(dl + al + 1);
    memcpy(out, EXEC_TOOLCHAIN_DIR, dl);
    memcpy(out + dl, abs, al + 1);
    return out;
}

/* Length of the leading components `a` and `b` share (up to a '/' or the end). */
static size_t common_prefix(const char *a, const char *b)
{
    size_t i = 0, last = 0;
    while (a[i] && a[i] == b[i]) {
        i++;
        if (a[i - 1] == '/')
            last = i;
    }
    if ((a[i] == '\0' || a[i] == '/') && (b[i] == '\0' || b[i] == '/'))
        return i; /* one is a whole-component prefix of the other */
    return last;
}

char *exec_path_relative(const char *from_dir, const char *to)
{
    size_t c = common_prefix(from_dir, to);
    const char *up = from_dir + c, *down = to + c;
    while (*up == '/')
        up++;
    while (*down == '/')
        down++;
    size_t ups = *up ? 1 : 0;
    for (const char *p = up; *p; p++)
        ups += *p == '/';
    size_t len = ups * 3 + strlen(down) + 2;
    char *out = gmb_malloc(len);
    out[0] = '\0';
    for (size_t i = 0; i < ups; i++)
        strcat(out, "../");
    strcat(out, down);
    size_t n = strlen(out);
    if (n == 0)
        strcpy(out, ".");
    else if (out[n - 1] == '/')
        out[n - 1] = '\0';
    return out;
}

char *exec_path_symlink_target(const char *root, const char *link_abs, const char *target)
{
    char *link_dir = exec_path_parent(link_abs);
    char *target_abs = exec_path_absolute(link_dir, target);
    free(link_dir);
    if (!target_abs)
        return NULL;
    char *placed_link = exec_path_place(root, link_abs);
    char *placed_target = exec_path_place(root, target_abs);
    char *slash = strrchr(placed_link, '/');
    if (slash)
        *slash = '\0';
    else
        placed_link[0] = '\0';
    char *rel = exec_path_relative(placed_link, placed_target);
    free(placed_link);
    free(placed_target);
    free(target_abs);
    return rel;
}

char *exec_path_gcc_compiler_path(const char *driver_abs)
{
    char *bin = exec_path_parent(driver_abs);
    char *prefix = exec_path_parent(bin);
    const char *p = strcmp(prefix, "/") == 0 ? "" : prefix;
    char *out = gmb_format("%s/libexec/gcc:%s/lib/gcc", p, p);
    free(prefix);
    free(bin);
    return out;
}
