/* action_rerun: runs a known action again on instance names, for
 * `gomabarn replay` and shadow execution.
 *
 * The Action is read from the first source instance name whose CAS has
 * it, and its input root walked (each Directory read once). Every target
 * instance's CAS is then asked (FindMissingBlobs) for the Command, the
 * Directories and the files, and what one lacks is copied from a source
 * that has it, one blob at a time (big ones through a temporary file, so
 * memory stays bounded). With bypass_cache, a twin of the Action with
 * do_not_cache set is uploaded and run with skip_cache_lookup: the worker
 * really executes it and nothing is written to the action cache. The
 * targets run at once. Every call has the REv2 client's deadlines
 * (buildbarn.call_timeout_ms, execute_timeout_ms, max_queued_ms), so
 * every wait here ends. */
#ifndef ACTION_RERUN_H
#define ACTION_RERUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "action_compare.h"
#include "rev2_client.h"

#define ACTION_RERUN_MAX_TARGETS 16

typedef struct {
    bool bypass_cache;     /* twin with do_not_cache + skip_cache_lookup; false: as it is, cache asked */
    int64_t max_queued_ms; /* rev2_execute_options.max_queued_ms */
} action_rerun_options;

/* Blocking: call from a thread of your own. Fills runs[i] for targets[i]
 * (a failed run says why in plain words) and *executed (the twin's
 * digest, or the action's). results, when not NULL, gets each target's
 * ActionResult (rev2_msg_free them; NULL where it failed). */
void action_rerun(rev2_client *c, const rev2_digest *action, const char *const *sources, size_t n_sources,
                  const char *const *targets, size_t n_targets, const action_rerun_options *o, action_run *runs,
                  rev2_digest *executed, Rev2ActionResult **results);

#endif
