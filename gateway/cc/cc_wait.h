/* cc_wait: how gomabarn-cc waits on the gateway. One deadline covers the
 * whole remote compile (every connect, send and recv of all its requests),
 * and a local racer, if any, starts once the race delay has passed and ends
 * the wait by finishing first. It is the http_client_target's waiter. */
#ifndef CC_WAIT_H
#define CC_WAIT_H

#include "cc_local.h"

typedef struct {
    double deadline;   /* cc_now() time by which the remote compile gives up */
    double deadline_s; /* the setting, for the message */
    cc_racer *racer;   /* NULL: no racing */
    double race_at;    /* cc_now() time to start the racer */
    double race_s;     /* the delay, for the message */
} cc_wait;

/* http_client_wait_fn: 0 when fd is ready; -1 with *why when the deadline has
 * passed or the local compile finished first (cc_racer_state_of says which). */
int cc_wait_fd(void *user, int fd, short events, const char **why);

#endif
