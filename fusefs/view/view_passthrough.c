/* view_passthrough: kernel FUSE passthrough for blobs already on disk
 * (see view_passthrough.h for why the replies are patched here). */
#define FUSE_USE_VERSION 312
#include "view_passthrough.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <fcntl.h> /* splice */
#include <unistd.h>

#include "log.h"
#include "mem.h"

/* The protocol's names for what Debian 12's headers do not have yet
 * (include/uapi/linux/fuse.h, protocol 7.40). */
#define PT_FUSE_INIT_EXT (1u << 30)         /* flags2 is meaningful */
#define PT_FUSE_PASSTHROUGH_FLAG2 (1u << 5) /* FUSE_PASSTHROUGH is 1 << 37 */
#define PT_FOPEN_PASSTHROUGH (1u << 7)
#define PT_FOPEN_KEEP_CACHE (1u << 1)
struct pt_backing_map {
    int32_t fd;
    uint32_t flags;
    uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* Offsets in the replies (after the 16-byte fuse_out_header). */
#define OUT_HEADER_LEN 16
#define INIT_FLAGS_AT 12
#define INIT_FLAGS2_AT 32
#define INIT_MAX_STACK_DEPTH_AT 36
#define INIT_MIN_LEN 40
#define OPEN_FLAGS_AT 8
#define OPEN_BACKING_ID_AT 12
#define OPEN_LEN 16
#define REPLY_MAX_LEN 128

/* The backing file sits on an ordinary filesystem (depth 0), so the mount
 * is one level deep; this also keeps it usable under an overlayfs. */
#define MAX_STACK_DEPTH 1

#define PT_BUCKETS 256

/* The open modes of one inode's live opens. */
typedef struct pt_inode {
    fuse_ino_t ino;
    uint32_t backing_id; /* registered while passthrough_opens > 0 */
    uint32_t passthrough_opens;
    uint32_t cached_opens;
    struct pt_inode *next;
} pt_inode;

enum pt_state { PT_UNTRIED, PT_ACTIVE, PT_OFF };

struct view_passthrough {
    int dev_fd; /* /dev/fuse, for the backing ioctls; -1 before install */
    pthread_mutex_t lock;
    enum pt_state state;
    pt_inode *buckets[PT_BUCKETS];
    uint64_t opens, cached_opens;
};

/* What the next reply written by this thread needs. libfuse writes a
 * reply on the thread that called fuse_reply_*(), so a thread-local mark
 * set just before the call reaches exactly that reply. */
enum patch_kind { PATCH_NONE, PATCH_INIT, PATCH_OPEN };
static _Thread_local enum patch_kind next_patch;
static _Thread_local uint32_t next_backing_id;

view_passthrough *view_passthrough_new(bool wanted)
{
    view_passthrough *pt = gmb_calloc(1, sizeof *pt);
    pt->dev_fd = -1;
    pt->state = wanted ? PT_UNTRIED : PT_OFF;
    pthread_mutex_init(&pt->lock, NULL);
    return pt;
}

void view_passthrough_free(view_passthrough *pt)
{
    if (!pt)
        return;
    for (size_t i = 0; i < PT_BUCKETS; i++) {
        for (pt_inode *e = pt->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&pt->lock);
    free(pt);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Writes a reply with its argument changed as `kind` says; anything that
 * is not the reply expected (an error, an unexpected shape) goes out as
 * libfuse made it. */
static ssize_t write_patched(int fd, struct iovec *iov, int count, enum patch_kind kind, uint32_t backing_id)
{
    int32_t error;
    if (count != 2 || iov[0].iov_len != OUT_HEADER_LEN || iov[1].iov_len > REPLY_MAX_LEN)
        return writev(fd, iov, count);
    memcpy(&error, (const uint8_t *)iov[0].iov_base + 4, sizeof error);
    size_t len = iov[1].iov_len;
    if (error != 0 || (kind == PATCH_INIT && len < INIT_MIN_LEN) || (kind == PATCH_OPEN && len != OPEN_LEN))
        return writev(fd, iov, count);
    uint8_t arg[REPLY_MAX_LEN];
    memcpy(arg, iov[1].iov_base, len);
    if (kind == PATCH_INIT) {
        put_u32(arg + INIT_FLAGS_AT, get_u32(arg + INIT_FLAGS_AT) | PT_FUSE_INIT_EXT);
        put_u32(arg + INIT_FLAGS2_AT, get_u32(arg + INIT_FLAGS2_AT) | PT_FUSE_PASSTHROUGH_FLAG2);
        put_u32(arg + INIT_MAX_STACK_DEPTH_AT, MAX_STACK_DEPTH);
    } else {
        /* The kernel refuses keep-cache on a passthrough open. */
        uint32_t flags = get_u32(arg + OPEN_FLAGS_AT) & ~PT_FOPEN_KEEP_CACHE;
        put_u32(arg + OPEN_FLAGS_AT, flags | PT_FOPEN_PASSTHROUGH);
        put_u32(arg + OPEN_BACKING_ID_AT, backing_id);
    }
    struct iovec out[2] = {iov[0], {arg, len}};
    return writev(fd, out, 2);
}

static ssize_t hook_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    (void)userdata;
    enum patch_kind kind = next_patch;
    if (kind == PATCH_NONE)
        return writev(fd, iov, count);
    next_patch = PATCH_NONE;
    return write_patched(fd, iov, count, kind, next_backing_id);
}

static ssize_t hook_read(int fd, void *buf, size_t len, void *userdata)
{
    (void)userdata;
    return read(fd, buf, len);
}

/* With these two, libfuse keeps splicing (it turns splice off for custom
 * I/O without them). */
static ssize_t hook_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned flags, void *userdata)
{
    (void)userdata;
    return splice(fdin, offin, fdout, offout, len, flags);
}

int view_passthrough_install(view_passthrough *pt, struct fuse_session *se)
{
    if (pt->state == PT_OFF)
        return 0;
    static const struct fuse_custom_io io = {
        .writev = hook_writev,
        .read = hook_read,
        .splice_receive = hook_splice,
        .splice_send = hook_splice,
    };
    int fd = fuse_session_fd(se);
    int rc = fuse_session_custom_io(se, &io, fd);
    if (rc != 0) {
        pt->state = PT_OFF;
        return rc;
    }
    pt->dev_fd = fd;
    return 0;
}

void view_passthrough_on_init(view_passthrough *pt)
{
    if (pt->state != PT_OFF && pt->dev_fd >= 0)
        next_patch = PATCH_INIT;
}

static pt_inode **slot_of(view_passthrough *pt, fuse_ino_t ino)
{
    pt_inode **p = &pt->buckets[ino % PT_BUCKETS];
    while (*p && (*p)->ino != ino)
        p = &(*p)->next;
    return p;
}

/* A backing id for `fd`, or 0 (this open goes through the daemon). The
 * first refusal that says the kernel or our rights lack passthrough turns
 * it off for the mount, said once. Under pt->lock. */
static uint32_t register_backing_locked(view_passthrough *pt, int fd)
{
    struct pt_backing_map map = {.fd = fd};
    int id = ioctl(pt->dev_fd, PT_IOC_BACKING_OPEN, &map);
    if (id > 0) {
        if (pt->state == PT_UNTRIED)
            GMB_INFO("view", "kernel passthrough is on: blobs already on disk are read without gomabarn");
        pt->state = PT_ACTIVE;
        return (uint32_t)id;
    }
    int e = errno;
    if (pt->state == PT_UNTRIED &&
        (e == EPERM || e == EOPNOTSUPP || e == ENOTTY || e == EINVAL || e == ELOOP || e == ENOSYS)) {
        pt->state = PT_OFF;
        GMB_INFO("view", "kernel passthrough is not available (%s%s): every read goes through gomabarn", strerror(e),
                 e == EPERM   ? "; it needs Linux >= 6.9 and CAP_SYS_ADMIN"
                 : e == ELOOP ? "; cache.dir is on a stacked filesystem"
                              : "");
    } else {
        GMB_DEBUG("view", "kernel passthrough refused a file (%s): this open goes through gomabarn", strerror(e));
    }
    return 0;
}

static void unregister_backing_locked(view_passthrough *pt, uint32_t id)
{
    if (ioctl(pt->dev_fd, PT_IOC_BACKING_CLOSE, &id) < 0)
        GMB_DEBUG("view", "closing passthrough backing %u: %s", id, strerror(errno));
}

static void drop_open_locked(view_passthrough *pt, fuse_ino_t ino, bool passthrough)
{
    pt_inode **slot = slot_of(pt, ino), *e = *slot;
    if (!e)
        return;
    if (!passthrough) {
        if (e->cached_opens > 0)
            e->cached_opens--;
    } else if (e->passthrough_opens > 0 && --e->passthrough_opens == 0 && e->backing_id) {
        unregister_backing_locked(pt, e->backing_id);
        e->backing_id = 0;
    }
    if (e->passthrough_opens == 0 && e->cached_opens == 0) {
        *slot = e->next;
        free(e);
    }
}

int view_passthrough_reply_open(view_passthrough *pt, fuse_req_t req, fuse_ino_t ino, int blob_fd,
                                struct fuse_file_info *fi, bool *passthrough_out)
{
    bool passthrough = false;
    uint32_t id = 0;
    pthread_mutex_lock(&pt->lock);
    /* With passthrough off, no inode's mode needs tracking: a release
     * finds no entry and does nothing. */
    pt_inode *e = NULL;
    if (pt->state != PT_OFF) {
        pt_inode **slot = slot_of(pt, ino);
        if (!*slot) {
            *slot = gmb_calloc(1, sizeof **slot);
            (*slot)->ino = ino;
        }
        e = *slot;
    }
    /* An inode with a page-cache open stays in that mode until it closes. */
    if (e && blob_fd >= 0 && e->cached_opens == 0) {
        if (!e->backing_id)
            e->backing_id = register_backing_locked(pt, blob_fd);
        id = e->backing_id;
        passthrough = id != 0;
    }
    if (passthrough) {
        e->passthrough_opens++;
        pt->opens++;
    } else {
        if (e)
            e->cached_opens++;
        pt->cached_opens++;
    }
    pthread_mutex_unlock(&pt->lock);

    fi->keep_cache = 1; /* content is immutable: keep the page cache across opens */
    /* Said before the reply: once the kernel has it, a release can come on
     * another thread and free what *passthrough_out points into. */
    *passthrough_out = passthrough;
    if (passthrough) {
        next_patch = PATCH_OPEN;
        next_backing_id = id;
    }
    int rc = fuse_reply_open(req, fi);
    next_patch = PATCH_NONE;
    if (rc != 0) /* the open was interrupted: no release will come */
        view_passthrough_release(pt, ino, passthrough);
    return rc;
}

void view_passthrough_release(view_passthrough *pt, fuse_ino_t ino, bool passthrough)
{
    pthread_mutex_lock(&pt->lock);
    drop_open_locked(pt, ino, passthrough);
    pthread_mutex_unlock(&pt->lock);
}

void view_passthrough_stats_get(view_passthrough *pt, view_passthrough_stats *out)
{
    pthread_mutex_lock(&pt->lock);
    out->active = pt->state == PT_ACTIVE;
    out->opens = pt->opens;
    out->cached_opens = pt->cached_opens;
    pthread_mutex_unlock(&pt->lock);
}
