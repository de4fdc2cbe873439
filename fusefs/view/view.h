/* view: the FUSE-mounted lazy CAS view.
 *
 * Mounted read-only at a path; everything in it is addressed by content:
 *   cas/<instance components>/blobs/sha256/file/<hash>-<size>         a blob as a file
 *   cas/<instance components>/blobs/sha256/executable/<hash>-<size>   the same, executable
 *   cas/<instance components>/blobs/sha256/directory/<hash>-<size>    an REv2 Directory, browsable
 *   cas/<instance components>/blobs/sha256/tree/<hash>-<size>         an REv2 Tree, browsable
 * (bb_clientd's naming; the empty instance name is cas/blobs/sha256/...), and
 *   actions/<hash>-<size>/                     any action, default instance name
 *   by-instance/<instance>/<hash>-<size>/      the same on a chosen instance name
 *                                              (by-instance/<hash>-<size> for "")
 *   requests/<request name>  -> ../by-instance/<instance>/<hash>-<size>
 *                              the actions a gateway ran, named after the
 *                              request (the newest VIEW_REQUESTS_KEPT)
 * showing action.json, command.json, input/, and when the action cache has a
 * result: result.json, timings.txt, stdout, stderr, output/ (view_action.h).
 * Directories under cas/ are not listable: names are looked up exactly.
 * Nothing is fetched at lookup (a file's size is in its name); bytes come
 * from cas_store, which fetches from Buildbarn on first read. */
#ifndef VIEW_H
#define VIEW_H

#include <stdbool.h>

#include "cas_store.h"
#include "rev2_proto.h"

typedef struct gmb_view gmb_view;

/* How many names requests/ keeps (the oldest is forgotten first). */
#define VIEW_REQUESTS_KEPT 10000

typedef struct {
    const char *mountpoint;
    double entry_timeout_s; /* kernel caching of names and attributes (content never changes) */
    int threads;            /* FUSE worker threads at most */
    bool allow_other;       /* let other users read the mount */
    bool passthrough;       /* let the kernel read blobs on disk itself (Linux >= 6.9, root) */
} view_options;

/* NULL with *err. The store must outlive the view. */
gmb_view *view_create(cas_store *store, const view_options *o, char **err);
/* Mounts (cleaning a stale mount left by a killed daemon first). 0 or -1 with *err. */
int view_mount(gmb_view *v, char **err);
/* Serves requests until view_stop() or SIGINT/SIGTERM (when
 * handle_signals), then unmounts. Returns 0 on a clean stop. */
int view_run(gmb_view *v, bool handle_signals);
/* Asks view_run to return (any thread). */
void view_stop(gmb_view *v);
void view_destroy(gmb_view *v);
const char *view_mountpoint(const gmb_view *v);

/* Shows action `action` on `instance` as requests/<request id> (the id
 * made a safe file name: '/' becomes '_'). Any thread, mounted or not. */
void view_name_request(gmb_view *v, const char *request_id, const char *instance, const rev2_digest *action);
/* Hands over the result of an action the gateway ran, so its directory
 * shows output/ at once, whatever the action cache keeps. Any thread. */
void view_action_result(gmb_view *v, const char *instance, const rev2_digest *action, const Rev2ActionResult *result);

/* If `path` is a dead FUSE mount ("transport endpoint is not connected"),
 * detaches it. Returns 1 if one was cleaned, 0 if there was no FUSE mount,
 * 2 if a live one is there (served by a running process), -1 on failure. */
int view_clean_stale_mount(const char *path);

#endif
