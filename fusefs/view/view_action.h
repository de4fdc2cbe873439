/* view_action: what actions/<hash>-<size>/ shows, for any action digest,
 * whether or not this gateway ran it:
 *   action.json, command.json   the Action and Command, readable
 *   input/                      the input root
 *   result.json                 the ActionResult (exit code, worker, timings)  }
 *   timings.txt                 queue/fetch/execute/upload in milliseconds     }
 *   stdout, stderr              the command's output                          } when the
 *   output/                     its output files, directories and symlinks    } action cache
 *                                                                               has a result
 * It is built as REv2 Directory blobs put into the local content store
 * (JSON renderings and inline output included), so the view serves it
 * like any other Directory. */
#ifndef VIEW_ACTION_H
#define VIEW_ACTION_H

#include <stdbool.h>

#include "cas_store.h"
#include "rev2_proto.h"

/* Fetches the Action, its Command and its result (`known` when the gateway
 * handed it over, else GetActionResult) from `instance`, and returns the
 * digest of the action's Directory; *has_result says whether it has one
 * yet (an action still running has none). 0, or -1 with *err. Blocks on
 * the network. */
int view_action_build(cas_store *store, const char *instance, const rev2_digest *action, const Rev2ActionResult *known,
                      rev2_digest *root, bool *has_result, char **err);

#endif
