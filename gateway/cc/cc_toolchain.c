#include "cc_toolchain.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "mem.h"

/* `name` as the shell finds it: a path with a '/' as is (made absolute),
 * else the first executable of that name in PATH. malloc'd or NULL. */
static char *find_program(const char *name)
{
    if (strchr(name, '/')) {
        if (name[0] == '/')
            return gmb_strdup(name);
        char cwd[PATH_MAX];
        return getcwd(cwd, sizeof cwd) ? gmb_format("%s/%s", cwd, name) : NULL;
    }
    const char *path = getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
    char *dirs = gmb_strdup(path), *save = NULL;
    char *found = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *cand = gmb_format("%s/%s", *d ? d : ".", name);
        if (access(cand, X_OK) == 0 && cand[0] == '/')
            found = cand;
        else
            free(cand);
    }
    free(dirs);
    return found;
}

static bool listed(const cc_tool_file *files, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i].path, path) == 0)
            return true;
    return false;
}

/* Adds `path` and, when it is a symlink, the chain to the real file. */
static void add_chain(cc_tool_file **files, size_t *n, const char *path)
{
    char *cur = gmb_strdup(path);
    for (int hops = 0; cur && hops < 16 && !listed(*files, *n, cur); hops++) {
        struct stat st;
        if (lstat(cur, &st) < 0)
            break;
        *files = gmb_realloc(*files, (*n + 1) * sizeof **files);
        cc_tool_file *f = &(*files)[(*n)++];
        f->path = cur;
        f->link = NULL;
        f->executable = (st.st_mode & S_IXUSR) != 0;
        if (!S_ISLNK(st.st_mode))
            return;
        char target[PATH_MAX];
        ssize_t len = readlink(cur, target, sizeof target - 1);
        if (len < 0)
            return;
        target[len] = '\0';
        f->link = gmb_strdup(target);
        if (target[0] == '/') {
            cur = gmb_strdup(target);
        } else {
            char *dir = gmb_strdup(f->path);
            *strrchr(dir, '/') = '\0';
            cur = gmb_format("%s/%s", dir, target);
            free(dir);
        }
    }
    free(cur);
}

/* What `compiler -print-prog-name=prog` says, as an absolute path. */
static char *helper_path(const char *compiler, const char *prog)
{
    char *cmd = gmb_format("'%s' -print-prog-name=%s 2>/dev/null", compiler, prog);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p)
        return NULL;
    char line[PATH_MAX] = "";
    if (!fgets(line, sizeof line, p))
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (!*line)
        return NULL;
    char *found = find_program(line);
    if (found && access(found, X_OK) != 0) {
        free(found);
        return NULL;
    }
    return found;
}

cc_tool_file *cc_toolchain_files(const char *compiler, bool cxx, size_t *n)
{
    *n = 0;
    char *path = find_program(compiler);
    if (!path) {
        fprintf(stderr, "gomabarn-cc: cannot find the compiler %s in PATH\n", compiler);
        return NULL;
    }
    cc_tool_file *files = NULL;
    add_chain(&files, n, path);
    free(path);
    if (*n == 0) {
        fprintf(stderr, "gomabarn-cc: cannot read the compiler %s\n", compiler);
        return NULL;
    }
    const char *const helpers[] = {cxx ? "cc1plus" : "cc1", "as"};
    for (size_t i = 0; i < sizeof helpers / sizeof *helpers; i++) {
        char *h = helper_path(compiler, helpers[i]);
        if (h)
            add_chain(&files, n, h);
        free(h);
    }
    return files;
}

void cc_toolchain_free(cc_tool_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].path);
        free(files[i].link);
    }
    free(files);
}
