/* view_requests: the names shown under requests/ in the view.
 *
 * The gateway names each action it runs after the request that asked for
 * it (goma's compiler_proxy_id); requests/<name> is then a symlink to the
 * action's directory under by-instance/. The table is bounded: past
 * `capacity` names the oldest is forgotten, so a long-running daemon does
 * not grow. Thread-safe (its own lock, taken after the view's). */
#ifndef VIEW_REQUESTS_H
#define VIEW_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>

#include "rev2_digest.h"

typedef struct view_requests view_requests;

typedef struct {
    char *name; /* a safe file name (view_request_file_name) */
    char *instance;
    rev2_digest action;
} view_request;

view_requests *view_requests_new(size_t capacity);
void view_requests_free(view_requests *t);

/* Records (or re-points) `name`. The name must already be a safe file name. */
void view_requests_put(view_requests *t, const char *name, const char *instance, const rev2_digest *action);
/* Copies the entry for `name` into *out (free with view_request_clear). */
bool view_requests_find(view_requests *t, const char *name, view_request *out);
/* Copies of every entry, oldest first; *out malloc'd, free each with
 * view_request_clear and then the array. */
size_t view_requests_list(view_requests *t, view_request **out);
void view_request_clear(view_request *r);

/* A request id as a file name: '/' and control characters become '_',
 * at most 200 bytes; "" "." and ".." become NULL (no entry). malloc'd. */
char *view_request_file_name(const char *id);
/* The symlink target of an entry, relative to requests/:
 * ../by-instance/<instance>/<hash>-<size> (no instance component for ""). */
char *view_request_target(const view_request *r);

#endif
