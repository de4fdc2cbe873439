#include "action_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "log.h"
#include "mem.h"

#define ROTATE_BYTES (64u << 20)

struct action_log {
    pthread_mutex_t lock;
    char *path;
    int fd;
    off_t size;
};

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

action_log *action_log_open(const char *path)
{
    if (!path || !*path)
        return NULL;
    int fd = open_append(path);
    if (fd < 0) {
        GMB_WARN("exec", "cannot open exec.action_log %s: %s; actions are not logged", path, strerror(errno));
        return NULL;
    }
    action_log *l = gmb_calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    l->path = gmb_strdup(path);
    l->fd = fd;
    struct stat st;
    l->size = fstat(fd, &st) == 0 ? st.st_size : 0;
    return l;
}

void action_log_close(action_log *l)
{
    if (!l)
        return;
    close(l->fd);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l);
}

/* Past ROTATE_BYTES the file becomes FILE.1 (the older FILE.1 goes). */
static void rotate_locked(action_log *l)
{
    char *old = gmb_format("%s.1", l->path);
    if (rename(l->path, old) == 0) {
        int fd = open_append(l->path);
        if (fd >= 0) {
            close(l->fd);
            l->fd = fd;
            l->size = 0;
        }
    }
    free(old);
}

void action_log_put(action_log *l, const char *instance, const rev2_digest *action, const char *outcome)
{
    if (!l)
        return;
    char name[256];
    size_t k = 0;
    for (const char *c = instance; *c && k + 4 < sizeof name; c++) {
        if (*c == ' ' || *c == '%' || *c == '\n') { /* keep one line, four fields */
            k += (size_t)snprintf(name + k, sizeof name - k, "%%%02X", (unsigned char)*c);
        } else {
            name[k++] = *c;
        }
    }
    name[k] = '\0';
    char line[512], ds[REV2_DIGEST_STR_LEN];
    int n = snprintf(line, sizeof line, "%lld %s %s %s\n", (long long)time(NULL), k ? name : "\"\"",
                     rev2_digest_str(action, ds), outcome);
    pthread_mutex_lock(&l->lock);
    if (l->size > (off_t)ROTATE_BYTES)
        rotate_locked(l);
    if (write(l->fd, line, (size_t)n) == n)
        l->size += n;
    pthread_mutex_unlock(&l->lock);
}
