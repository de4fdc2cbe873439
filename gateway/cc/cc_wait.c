#include "cc_wait.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "cc_log.h"

#define LOCAL_WON "the local compile finished first"

int cc_wait_fd(void *user, int fd, short events, const char **why)
{
    cc_wait *w = user;
    static char late[128]; /* single-threaded; read before the next wait */
    for (;;) {
        double now = cc_now();
        cc_racer_state rs = w->racer ? cc_racer_state_of(w->racer) : CC_RACER_FAILED;
        if (rs == CC_RACER_FINISHED) {
            *why = LOCAL_WON;
            return -1;
        }
        if (now >= w->deadline) {
            snprintf(late, sizeof late, "no answer from the gateway within the %g s deadline (GOMABARN_DEADLINE)",
                     w->deadline_s);
            *why = late;
            return -1;
        }
        if (rs == CC_RACER_IDLE && now >= w->race_at) {
            const char *swhy;
            if (cc_racer_start(w->racer, &swhy))
                cc_say("no answer from the gateway after %.1f s: racing a local compile", w->race_s);
            else
                cc_say("cannot race a local compile: %s", swhy);
            continue;
        }
        double until = w->deadline;
        if (rs == CC_RACER_IDLE && w->race_at < until)
            until = w->race_at;
        double ms = (until - now) * 1000 + 1; /* +1: never wake just before the time */
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = -1}};
        if (rs == CC_RACER_RUNNING)
            p[1] = (struct pollfd){.fd = cc_racer_wake_fd(w->racer), .events = POLLIN};
        int n = poll(p, 2, ms > 1e9 ? 1000000000 : (int)ms);
        if (n < 0 && errno != EINTR)
            return 0; /* let the socket call say what is wrong */
        if (rs == CC_RACER_RUNNING && (n < 0 || p[1].revents) && cc_racer_check(w->racer) == CC_RACER_FAILED)
            cc_say("the racing local compile was killed by a signal; still waiting for the gateway");
        if (n > 0 && p[0].revents)
            return 0;
    }
}
