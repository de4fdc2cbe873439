/* view_passthrough: kernel FUSE passthrough for blobs already on disk.
 *
 * A file opened in passthrough mode is read by the kernel straight from
 * the store's file (Linux >= 6.9): no request reaches the daemon and the
 * page cache is the store file's own, so a warm read costs what a local
 * read does. A blob still arriving from Buildbarn is served the usual way.
 *
 * libfuse 3.14 (Debian 12) predates passthrough, so this module speaks the
 * two protocol additions itself through libfuse's custom I/O hooks: it
 * adds FUSE_PASSTHROUGH and max_stack_depth to the INIT reply, and
 * FOPEN_PASSTHROUGH with a backing id to chosen OPEN replies. A kernel or
 * a user without it (no CAP_SYS_ADMIN, CONFIG_FUSE_PASSTHROUGH off) makes
 * the first registration fail; from then on every open is a normal one.
 *
 * The kernel refuses to mix modes on one inode (a passthrough open while a
 * page-cache open is live fails with ETXTBSY, and all passthrough opens
 * of an inode must share one backing file), so the mode is chosen per
 * inode: whatever its live opens use. */
#ifndef VIEW_PASSTHROUGH_H
#define VIEW_PASSTHROUGH_H
#include <fuse_lowlevel.h> /* the includer defines FUSE_USE_VERSION */
#include <stdbool.h>
#include <stdint.h>

typedef struct view_passthrough view_passthrough;

view_passthrough *view_passthrough_new(bool wanted);
void view_passthrough_free(view_passthrough *pt);

/* Installs the reply hooks on a mounted session's /dev/fuse. 0 or -errno. */
int view_passthrough_install(view_passthrough *pt, struct fuse_session *se);
/* From the init op: the INIT reply about to be sent offers passthrough. */
void view_passthrough_on_init(view_passthrough *pt);

/* Replies to an open of inode `ino`. `blob_fd` is the store's verified
 * file, or -1 when the blob is still arriving. *passthrough says which
 * mode the open got (the caller hands it to view_passthrough_release); it
 * is set before the reply goes out, as the release may come at once.
 * Returns fuse_reply_open's result: non-zero means the open never reached
 * the kernel and no release will come. */
int view_passthrough_reply_open(view_passthrough *pt, fuse_req_t req, fuse_ino_t ino, int blob_fd,
                                struct fuse_file_info *fi, bool *passthrough);
/* When the kernel releases an open that view_passthrough_reply_open answered. */
void view_passthrough_release(view_passthrough *pt, fuse_ino_t ino, bool passthrough);

typedef struct {
    bool active;           /* the kernel accepted passthrough on this mount */
    uint64_t opens;        /* opens answered in passthrough mode */
    uint64_t cached_opens; /* opens answered through the daemon */
} view_passthrough_stats;
void view_passthrough_stats_get(view_passthrough *pt, view_passthrough_stats *out);

#endif
