/* view_results: action results handed to the view by the gateway that ran
 * them, so actions/<hash>/ shows an action's outputs the moment it is done
 * without asking the action cache again; and even when the action cache
 * does not keep them (do_not_cache, or evicted). Bounded: the newest
 * VIEW_RESULTS_KEPT. Not thread-safe: the view lock guards it. */
#ifndef VIEW_RESULTS_H
#define VIEW_RESULTS_H

#include <stddef.h>

#include "rev2_proto.h"

#define VIEW_RESULTS_KEPT 1024

typedef struct view_results view_results;

view_results *view_results_new(void);
void view_results_free(view_results *t);
/* Keeps a serialized copy of `result` for (instance, action). */
void view_results_put(view_results *t, const char *instance, const rev2_digest *action, const Rev2ActionResult *result);
bool view_results_has(view_results *t, const char *instance, const rev2_digest *action);
/* A decoded copy (free with rev2_msg_free), or NULL when none was handed over. */
Rev2ActionResult *view_results_get(view_results *t, const char *instance, const rev2_digest *action);

#endif
