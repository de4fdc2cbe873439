/* bench_mount_tool: the measuring half of bench_mount.sh.
 *   read FILE              sequential read (1 MiB reads), prints MiB/s, the
 *                          reader's CPU seconds, and MiB per CPU second
 *                          (which other load on the machine hardly changes)
 *   walk DIR               lstat and readdir everything below DIR, prints rates
 *   bytestream HASH/SIZE [FILE]
 *                          the same blob read directly with ByteStream (no
 *                          store, no FUSE), prints MiB/s and CPU seconds;
 *                          with FILE, each message is also hashed and written
 *                          to FILE and the digest checked at the end: the
 *                          least any cache that verifies what it keeps must
 *                          do (one thread, no FUSE, no reader)
 * Output: one "key value" line per figure, for the script to read. */
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rev2_client.h"
#include "rev2_engine.h"

static double now_s(void)
{
    return (double)rev2_now_us() / 1e6;
}

/* User plus system CPU seconds this process has used. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmd_read(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    double t0 = now_s(), c0 = cpu_s();
    long long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, CHUNK)) > 0)
        total += n;
    double s = now_s() - t0, c = cpu_s() - c0;
    close(fd);
    free(buf);
    if (n < 0) {
        perror("read");
        return 1;
    }
    printf("bytes %lld\nseconds %.4f\nmib_per_s %.1f\ncpu_seconds %.3f\nmib_per_cpu_s %.1f\n", total, s,
           (double)total / (1 << 20) / s, c, c > 0 ? (double)total / (1 << 20) / c : 0.0);
    return 0;
}

static long files, dirs;

static void walk(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    dirs++;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p;
        if (asprintf(&p, "%s/%s", path, e->d_name) < 0)
            abort();
        struct stat st;
        if (lstat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                walk(p);
            else
                files++;
        }
        free(p);
    }
    closedir(d);
}

static int cmd_walk(const char *path)
{
    double t0 = now_s();
    walk(path);
    double s = now_s() - t0;
    printf("files %ld\ndirs %ld\nseconds %.4f\nstats_per_s %.0f\nreaddirs_per_s %.0f\n", files, dirs, s,
           (double)(files + dirs) / s, (double)dirs / s);
    return 0;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rev2_error *err;
    long long bytes;
    int store_fd;        /* -1: bytes are only counted */
    rev2_hasher *hasher; /* with store_fd */
} waiter;

static bool take(void *user, const uint8_t *data, size_t len)
{
    waiter *w = user;
    if (w->store_fd >= 0) {
        rev2_hasher_update(w->hasher, data, len);
        for (size_t done = 0; done < len;) {
            ssize_t n = pwrite(w->store_fd, data + done, len - done, (off_t)(w->bytes + (long long)done));
            if (n <= 0) {
                perror("pwrite");
                return false;
            }
            done += (size_t)n;
        }
    }
    w->bytes += (long long)len; /* one stream: calls come in order */
    return true;
}

static void done(void *user, rev2_error *err)
{
    waiter *w = user;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->err = err;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int cmd_bytestream(const char *digest_text, const char *store_path)
{
    rev2_digest d;
    if (!rev2_digest_parse(digest_text, &d)) {
        fprintf(stderr, "bad digest %s\n", digest_text);
        return 2;
    }
    rev2_client_options o;
    rev2_client_options_init(&o);
    o.channel.target = getenv("GMB_BB_TARGET") ? getenv("GMB_BB_TARGET") : "127.0.0.1:8980";
    o.instance_name = getenv("GMB_INSTANCE") ? getenv("GMB_INSTANCE") : "hardlinking";
    char *err = NULL;
    rev2_client *c = rev2_client_new(&o, &err);
    if (!c)
        return 1;
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL, 0, -1, NULL};
    if (store_path) {
        w.store_fd = open(store_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (w.store_fd < 0) {
            perror(store_path);
            rev2_client_free(c);
            return 1;
        }
    }
    double t0 = now_s(), c0 = cpu_s();
    if (store_path)
        w.hasher = rev2_hasher_new(); /* inside the timing: it is part of the cost */
    rev2_bytestream_read(c, NULL, &d, 0, 0, take, done, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    bool verified = true;
    if (w.hasher) {
        rev2_digest got;
        rev2_hasher_finish(w.hasher, &got);
        verified = rev2_digest_equal(&got, &d);
    }
    double s = now_s() - t0, cpu = cpu_s() - c0;
    int rc = 0;
    if (w.err) {
        fprintf(stderr, "%s\n", w.err->message);
        rev2_error_free(w.err);
        rc = 1;
    } else if (!verified) {
        fprintf(stderr, "the bytes read do not hash to %s\n", digest_text);
        rc = 1;
    }
    if (w.store_fd >= 0)
        close(w.store_fd);
    printf("bytes %lld\nseconds %.4f\nmib_per_s %.1f\ncpu_seconds %.3f\n", w.bytes, s, (double)w.bytes / (1 << 20) / s,
           cpu);
    rev2_client_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "read") == 0)
        return cmd_read(argv[2]);
    if (argc == 3 && strcmp(argv[1], "walk") == 0)
        return cmd_walk(argv[2]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "bytestream") == 0)
        return cmd_bytestream(argv[2], argc == 4 ? argv[3] : NULL);
    fprintf(stderr, "usage: bench_mount_tool read FILE | walk DIR | bytestream HASH/SIZE [FILE]\n");
    return 2;
}
