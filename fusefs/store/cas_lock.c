/* cas_lock: one process per cache.dir. Two stores on one directory would
 * each evict, scan and clear tmp/ under the other's feet, so the store
 * holds an exclusive flock(2) on cache.dir/lock for its whole life; the
 * file names the holder's pid for the error a second opener prints. The
 * kernel drops the lock when the process dies, even by kill -9: no stale
 * lock to clean up. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cas_internal.h"
#include "errmsg.h"
#include "mem.h"

/* The pid written in the lock file, or 0 if unreadable. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    return pid > 0 ? pid : 0;
}

static char *in_use(const char *dir, long pid)
{
    char who[48] = "";
    if (pid > 0)
        snprintf(who, sizeof who, " (pid %ld)", pid);
    return gmb_format("cache.dir %s is in use by another gomabarn%s; give each gateway its own cache.dir", dir, who);
}

int cas_dir_lock(const char *dir, char **err)
{
    char *path = gmb_format("%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        gmb_fail(err, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            if (err)
                *err = in_use(dir, holder_pid(fd));
        } else {
            gmb_fail(err, "cannot lock %s/lock: %s", dir, strerror(e));
        }
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* Held all the same; only the pid in a second opener's error is lost. */
    }
    return fd;
}

char *cas_store_dir_in_use(const char *dir)
{
    char *path = gmb_format("%s/lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return NULL; /* never opened as a store, or not readable: nothing known */
    char *msg = NULL;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
        msg = in_use(dir, holder_pid(fd));
    close(fd); /* drops the shared lock, if it was taken */
    return msg;
}
