/* cc_log: gomabarn-cc's two voices on stderr. cc_say is for
 * GOMABARN_VERBOSE=1 (what happens to each compile); cc_tell always prints,
 * and is for what a user must be able to find: why a compile did not go
 * through the gateway. Both prefix "gomabarn-cc: ". */
#ifndef CC_LOG_H
#define CC_LOG_H

#include <stdbool.h>

extern bool cc_verbose; /* set once from GOMABARN_VERBOSE */

void cc_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cc_tell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
