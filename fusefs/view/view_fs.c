/* view_fs: the FUSE low-level operations of the lazy CAS view. Each
 * handler turns one request into a lookup in the node model (view_resolve)
 * or a read from the content store, and replies exactly once. */
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "log.h"
#include "view_internal.h"
#include "view_passthrough.h"
#include "mem.h"
#include "tsan.h"

/* Largest read the kernel sends us (a mount option and an init() setting
 * that must agree). */
#define VIEW_MAX_READ (1 << 20)

static gmb_view *view_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static void fill_entry(gmb_view *v, const view_node *n, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof *e);
    e->ino = n->ino;
    e->attr_timeout = view_entry_timeout(v, n);
    e->entry_timeout = view_entry_timeout(v, n);
    view_stat(v, n, &e->attr);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    /* Everything is immutable: let the kernel cache and read ahead. The
     * kernel offers its readahead window (the mount's read_ahead_kb, 128
     * KiB by default) and never takes more. A wider one (root can set it
     * in /sys/class/bdi) measured no faster warm and slower cold: more
     * requests wait on a fetch at once, and each arrival wakes them all. */
    conn->max_read = VIEW_MAX_READ;
    conn->max_readahead = conn->max_readahead ? conn->max_readahead : VIEW_MAX_READ;
    if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
        conn->want |= FUSE_CAP_CACHE_SYMLINKS;
    if (conn->capable & FUSE_CAP_SPLICE_WRITE)
        conn->want |= FUSE_CAP_SPLICE_WRITE;
    view_passthrough_on_init(((gmb_view *)userdata)->passthrough);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    gmb_view *v = view_of(req);
    view_node *n;
    int err = view_lookup(v, parent, name, &n);
    struct fuse_entry_param e;
    if (err == -ENOENT) {
        /* Content never changes: a name that is not there stays not there
         * (except in requests/, which grows). */
        memset(&e, 0, sizeof e);
        e.entry_timeout = view_negative_timeout(v, parent);
        fuse_reply_entry(req, &e);
        return;
    }
    if (err) {
        fuse_reply_err(req, -err);
        return;
    }
    fill_entry(v, n, &e);
    fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    gmb_view *v = view_of(req);
    pthread_mutex_lock(&v->lock);
    view_table_forget(&v->table, ino, nlookup);
    pthread_mutex_unlock(&v->lock);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    gmb_view *v = view_of(req);
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < count; i++)
        view_table_forget(&v->table, forgets[i].ino, forgets[i].nlookup);
    pthread_mutex_unlock(&v->lock);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    gmb_view *v = view_of(req);
    struct stat st;
    double timeout = 0;
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, ino);
    if (n) {
        view_stat(v, n, &st);
        timeout = view_entry_timeout(v, n);
    }
    pthread_mutex_unlock(&v->lock);
    if (!n)
        fuse_reply_err(req, ESTALE);
    else
        fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    gmb_view *v = view_of(req);
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, ino);
    char *target = n && n->kind == VN_SYMLINK ? gmb_strdup(n->target) : NULL;
    pthread_mutex_unlock(&v->lock);
    if (!target) {
        fuse_reply_err(req, n ? EINVAL : ESTALE);
        return;
    }
    fuse_reply_readlink(req, target);
    free(target);
}

/* ---- Directories ---- */

typedef struct {
    view_entry *entries;
    size_t n;
} dir_handle;

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    gmb_view *v = view_of(req);
    dir_handle *d = gmb_calloc(1, sizeof *d);
    int err = view_list(v, ino, &d->entries, &d->n);
    if (err) {
        free(d);
        fuse_reply_err(req, -err);
        return;
    }
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, ino);
    bool fixed_listing = n && !n->short_lived; /* only requests/ changes */
    pthread_mutex_unlock(&v->lock);
    fi->fh = (uintptr_t)d;
    fi->cache_readdir = fixed_listing;
    fi->keep_cache = fixed_listing;
    fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
    gmb_view *v = view_of(req);
    dir_handle *d = (dir_handle *)(uintptr_t)fi->fh;
    char *buf = gmb_malloc(size);
    size_t pos = 0;
    for (size_t i = (size_t)off; i < d->n + 2; i++) {
        struct fuse_entry_param e;
        const char *name;
        if (i < 2) {
            /* "." and "..": the kernel only wants their type from us. */
            memset(&e, 0, sizeof e);
            e.attr.st_mode = S_IFDIR;
            e.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
            name = i == 0 ? "." : "..";
        } else {
            fill_entry(v, d->entries[i - 2].node, &e);
            name = d->entries[i - 2].name;
        }
        size_t need = plus ? fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)i + 1)
                           : fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)i + 1);
        if (need > size - pos)
            break;
        if (plus && i >= 2) { /* the kernel now holds a lookup on it */
            pthread_mutex_lock(&v->lock);
            d->entries[i - 2].node->nlookup++;
            pthread_mutex_unlock(&v->lock);
        }
        pos += need;
    }
    fuse_reply_buf(req, buf, pos);
    free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    dir_handle *d = (dir_handle *)(uintptr_t)fi->fh;
    view_release_entries(view_of(req), d->entries, d->n);
    free(d);
    fuse_reply_err(req, 0);
}

/* ---- Files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    gmb_view *v = view_of(req);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    pthread_mutex_lock(&v->lock);
    view_node *n = view_table_get(&v->table, ino);
    view_kind kind = n ? n->kind : VN_ROOT;
    char *instance = n ? gmb_strdup(n->instance) : NULL;
    rev2_digest digest = n ? n->digest : rev2_empty_digest;
    pthread_mutex_unlock(&v->lock);
    if (!n || kind != VN_FILE) {
        free(instance);
        fuse_reply_err(req, !n ? ESTALE : EISDIR);
        return;
    }
    int err = 0;
    cas_blob *h = cas_store_open_blob(v->store, instance, &digest, &err);
    free(instance);
    if (!h) {
        fuse_reply_err(req, -err);
        return;
    }
    /* A blob on disk is read by the kernel itself when it can; one still
     * arriving is served by op_read as it comes. */
    view_file *f = gmb_calloc(1, sizeof *f);
    f->blob = h;
    fi->fh = (uintptr_t)f;
    if (view_passthrough_reply_open(v->passthrough, req, ino, cas_blob_file_fd(h), fi, &f->passthrough) != 0) {
        cas_blob_close(h);
        free(f);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    view_file *vf = (view_file *)(uintptr_t)fi->fh;
    int fd = cas_blob_ready_fd(vf->blob, off, &size);
    /* The kernel sends RELEASE, maybe to another thread, only once every
     * read has its reply: an ordering ThreadSanitizer cannot see. */
    GMB_HANDOFF_RELEASE(vf);
    if (fd < 0) {
        fuse_reply_err(req, -fd);
        return;
    }
    /* Hand libfuse the file itself: it splices the bytes into /dev/fuse
     * without copying them through our memory when the kernel allows. */
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = off;
    fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    view_file *f = (view_file *)(uintptr_t)fi->fh;
    GMB_HANDOFF_ACQUIRE(f);
    view_passthrough_release(view_of(req)->passthrough, ino, f->passthrough);
    cas_blob_close(f->blob);
    free(f);
    fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    gmb_view *v = view_of(req);
    cas_store_stats st;
    cas_store_stats_get(v->store, &st);
    /* df shows the store as the disk sees it: its size is cache.max_bytes,
     * used is the blocks its blobs take (not their content bytes: small
     * blobs take a whole block each), free is what is left under the limit. */
    struct statvfs sv;
    memset(&sv, 0, sizeof sv);
    sv.f_bsize = sv.f_frsize = 4096;
    uint64_t used = (st.disk_bytes + 4095) / 4096, size = st.max_bytes / 4096;
    sv.f_blocks = size > used ? size : used; /* pinned blobs can go past the limit for a while */
    sv.f_bfree = sv.f_bavail = sv.f_blocks - used;
    sv.f_files = st.blobs;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops view_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .statfs = op_statfs,
};

/* ---- Life cycle ---- */

static void init_root(view_node *n, void *arg)
{
    n->kind = VN_ROOT;
    n->instance = gmb_strdup("");
    n->fixed = true;
    (void)arg;
}

gmb_view *view_create(cas_store *store, const view_options *o, char **err)
{
    if (!o->mountpoint || !*o->mountpoint) {
        gmb_fail(err, "no mount point configured");
        return NULL;
    }
    gmb_view *v = gmb_calloc(1, sizeof *v);
    v->opts = *o;
    v->mountpoint = gmb_strdup(o->mountpoint);
    v->opts.mountpoint = v->mountpoint;
    if (v->opts.entry_timeout_s <= 0)
        v->opts.entry_timeout_s = 3600;
    if (v->opts.threads <= 0)
        v->opts.threads = 16;
    v->store = store;
    v->uid = geteuid();
    v->gid = getegid();
    clock_gettime(CLOCK_REALTIME, &v->born);
    pthread_mutex_init(&v->lock, NULL);
    view_table_init(&v->table);
    v->requests = view_requests_new(VIEW_REQUESTS_KEPT);
    v->results = view_results_new();
    v->passthrough = view_passthrough_new(o->passthrough);
    view_node *root = view_table_intern(&v->table, "/", init_root, NULL);
    root->nlookup = 1;
    return v;
}

/* True if /proc/self/mountinfo lists a FUSE mount at `path`. */
static bool fuse_mounted_at(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        snprintf(real, sizeof real, "%s", path); /* a dead mount may not resolve */
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        /* "<id> <parent> <dev> <root> <mount point> <options> ... - <fstype> ..." */
        char point[PATH_MAX], fstype[64];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 || sscanf(dash + 3, "%63s", fstype) != 1)
            continue;
        found = strncmp(fstype, "fuse", 4) == 0 && (strcmp(point, real) == 0 || strcmp(point, path) == 0);
    }
    fclose(f);
    return found;
}

int view_clean_stale_mount(const char *path)
{
    if (!fuse_mounted_at(path))
        return 0;
    /* stat() may be answered from the kernel's attribute cache; reading
     * the directory needs the daemon. */
    DIR *d = opendir(path);
    if (d) {
        closedir(d);
        return 2; /* alive: somebody serves it */
    }
    if (errno != ENOTCONN && errno != ECONNABORTED)
        return 0;
    GMB_WARN("view", "%s is a dead FUSE mount (left by a killed daemon?): detaching it", path);
    if (umount2(path, MNT_DETACH) == 0)
        return 1;
    /* Not root: fusermount3 can still undo a mount of our own. */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "-z", path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    GMB_ERROR("view", "cannot detach the dead mount at %s: %s", path, strerror(errno));
    return -1;
}

int view_mount(gmb_view *v, char **err)
{
    if (access("/dev/fuse", R_OK | W_OK) != 0)
        return gmb_fail(err, "FUSE is not available here (/dev/fuse: %s)", strerror(errno));
    int stale = view_clean_stale_mount(v->mountpoint);
    if (stale < 0)
        return gmb_fail(err, "%s is a dead FUSE mount that could not be detached", v->mountpoint);
    if (stale == 2)
        return gmb_fail(err, "%s is already mounted and served (another gomabarn?)", v->mountpoint);
    if (mkdir(v->mountpoint, 0755) < 0 && errno != EEXIST)
        return gmb_fail(err, "cannot create mount point %s: %s", v->mountpoint, strerror(errno));
    char *opts = gmb_format("ro,default_permissions,fsname=gomabarn,subtype=gomabarn,max_read=%d%s", VIEW_MAX_READ,
                            v->opts.allow_other ? ",allow_other" : "");
    char *argv[] = {"gomabarn", "-o", opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    v->session = fuse_session_new(&args, &view_ops, sizeof view_ops, v);
    fuse_opt_free_args(&args);
    free(opts);
    if (!v->session)
        return gmb_fail(err, "libfuse refused the mount options");
    if (fuse_session_mount(v->session, v->mountpoint) != 0) {
        fuse_session_destroy(v->session);
        v->session = NULL;
        return gmb_fail(err, "cannot mount on %s (is it a directory, and are we root or allowed to use fusermount3?)",
                        v->mountpoint);
    }
    v->mounted = true;
    int rc = view_passthrough_install(v->passthrough, v->session);
    if (rc != 0)
        GMB_WARN("view", "cannot hook the FUSE replies for kernel passthrough (%s): every read goes through gomabarn",
                 strerror(-rc));
    GMB_INFO("view", "mounted the CAS view on %s", v->mountpoint);
    return 0;
}

int view_run(gmb_view *v, bool handle_signals)
{
    if (handle_signals && fuse_set_signal_handlers(v->session) != 0)
        GMB_WARN("view", "could not install signal handlers");
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, (unsigned)v->opts.threads);
    int rc = fuse_session_loop_mt(v->session, cfg);
    fuse_loop_cfg_destroy(cfg);
    view_passthrough_stats pt;
    view_passthrough_stats_get(v->passthrough, &pt);
    GMB_INFO("view", "file opens: %llu read by the kernel itself (passthrough%s), %llu through gomabarn",
             (unsigned long long)pt.opens, pt.active ? "" : " off", (unsigned long long)pt.cached_opens);
    if (handle_signals)
        fuse_remove_signal_handlers(v->session);
    if (v->mounted) {
        fuse_session_unmount(v->session);
        v->mounted = false;
        GMB_INFO("view", "unmounted %s", v->mountpoint);
    }
    return rc < 0 ? rc : 0;
}

void view_stop(gmb_view *v)
{
    if (!v->session)
        return;
    fuse_session_exit(v->session);
    /* The loop sits in read(/dev/fuse); detaching the mount wakes it. */
    umount2(v->mountpoint, MNT_DETACH);
}

const char *view_mountpoint(const gmb_view *v)
{
    return v->mountpoint;
}

void view_destroy(gmb_view *v)
{
    if (!v)
        return;
    if (v->session) {
        if (v->mounted)
            fuse_session_unmount(v->session);
        fuse_session_destroy(v->session);
    }
    view_table_free(&v->table);
    view_requests_free(v->requests);
    view_results_free(v->results);
    view_passthrough_free(v->passthrough);
    pthread_mutex_destroy(&v->lock);
    free(v->mountpoint);
    free(v);
}
