/* action_log: one line per Exec that reached Buildbarn, appended to a file
 * (exec.action_log), so `gomabarn replay --actions FILE` can run the same
 * actions again on other instance names:
 *     <unix time> <instance name> <action hash>/<size> <outcome>
 * outcome: done, failed or missing. Instance names with spaces are
 * written with %20. The file is rotated to FILE.1 past 64 MiB. Each line
 * is one write(2) with O_APPEND, so concurrent gateways may share a file.
 * Thread-safe. */
#ifndef ACTION_LOG_H
#define ACTION_LOG_H

#include "rev2_digest.h"

typedef struct action_log action_log;

/* NULL (and a warning logged) if the file cannot be opened; "" or NULL
 * path: NULL, no log. */
action_log *action_log_open(const char *path);
void action_log_close(action_log *l);
void action_log_put(action_log *l, const char *instance, const rev2_digest *action, const char *outcome);

#endif
