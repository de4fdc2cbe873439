#include "cc_local_times.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "mem.h"
#include "rev2_digest.h"

#define READ_AT_MOST 4096 /* the tail read, and the size that triggers a cut */
#define MAX_MS (24L * 3600 * 1000)

/* The state file's name (malloc'd), its directory made if missing; NULL if there is no place for it. */
static char *times_path(void)
{
    char *dir;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') {
        mkdir(xdg, 0700);
        dir = gmb_format("%s/gomabarn-cc", xdg);
    } else if (home && home[0] == '/') {
        char *cache = gmb_format("%s/.cache", home);
        mkdir(cache, 0700);
        free(cache);
        dir = gmb_format("%s/.cache/gomabarn-cc", home);
    } else {
        dir = gmb_format("/tmp/gomabarn-cc-%d", (int)getuid());
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        free(dir);
        return NULL;
    }
    const char *key = getenv("GOMABARN_BUILD_ID");
    char cwd[4096] = "";
    if (!key || !*key)
        key = getcwd(cwd, sizeof cwd) ? cwd : "";
    rev2_digest d;
    rev2_digest_of_bytes(key, strlen(key), &d);
    char *path = gmb_format("%s/cpu-times-%.16s", dir, d.hash);
    free(dir);
    return path;
}

/* The last CC_LOCAL_TIMES_KEPT times (ms) in the file at `fd`; their number. */
static size_t read_last(int fd, long times[CC_LOCAL_TIMES_KEPT], off_t *size)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 0;
    *size = st.st_size;
    off_t from = st.st_size > READ_AT_MOST ? st.st_size - READ_AT_MOST : 0;
    char buf[READ_AT_MOST + 1];
    ssize_t n = pread(fd, buf, READ_AT_MOST, from);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf;
    if (from > 0 && (p = strchr(buf, '\n'))) /* a partial first line */
        p++;
    size_t count = 0;
    while (p && *p) {
        char *end;
        long ms = strtol(p, &end, 10);
        if (end != p && *end == '\n' && ms >= 0 && ms <= MAX_MS) { /* whole, sane lines only */
            if (count == CC_LOCAL_TIMES_KEPT)
                memmove(times, times + 1, (CC_LOCAL_TIMES_KEPT - 1) * sizeof *times);
            times[count < CC_LOCAL_TIMES_KEPT ? count++ : CC_LOCAL_TIMES_KEPT - 1] = ms;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return count;
}

static int by_value(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

double cc_local_times_expected(size_t *n)
{
    *n = 0;
    char *path = times_path();
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    free(path);
    if (fd < 0)
        return 0;
    long times[CC_LOCAL_TIMES_KEPT];
    off_t size;
    *n = read_last(fd, times, &size);
    close(fd);
    if (!*n)
        return 0;
    qsort(times, *n, sizeof *times, by_value);
    size_t p90 = (*n * 9 + 9) / 10 - 1; /* ceil(0.9 n) - 1 */
    return (double)times[p90] / 1000.0;
}

/* Rewrites the file as its last lines, by a rename (atomic for readers). */
static void cut(const char *path, int fd)
{
    long times[CC_LOCAL_TIMES_KEPT];
    off_t size;
    size_t n = read_last(fd, times, &size);
    char *tmp = gmb_format("%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = fprintf(f, "%ld\n", times[i]) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) < 0)
        unlink(tmp);
    free(tmp);
}

void cc_local_times_record(double seconds)
{
    char *path = times_path();
    int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd >= 0) {
        long ms = seconds < 0 ? 0 : seconds * 1000 > MAX_MS ? MAX_MS : (long)(seconds * 1000);
        char line[32];
        int len = snprintf(line, sizeof line, "%ld\n", ms);
        struct stat st;
        if (write(fd, line, (size_t)len) == len && fstat(fd, &st) == 0 && st.st_size > READ_AT_MOST) {
            int rfd = open(path, O_RDONLY | O_CLOEXEC);
            if (rfd >= 0) {
                cut(path, rfd);
                close(rfd);
            }
        }
        close(fd);
    }
    free(path);
}
