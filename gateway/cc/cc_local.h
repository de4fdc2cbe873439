/* cc_local: the local compile, run one of two ways.
 *
 * As the fallback (cc_local_run) it runs in place, like the compiler alone
 * would, and is timed so later compiles learn how long one takes.
 *
 * As a racer (cc_racer_*) it runs beside the remote compile. Its object and
 * dependency file go to temporary names next to the real ones, its stdout
 * and stderr to unlinked temporary files, its stdin is /dev/null, and it
 * runs in a process group of its own so that it can be killed with
 * everything it started (cc1, as). Only a racer that wins has its files
 * renamed into place and its output replayed; a loser leaves nothing. While
 * one runs, SIGINT/SIGTERM/SIGHUP/SIGQUIT kill it and remove its files
 * before gomabarn-cc dies of the same signal. */
#ifndef CC_LOCAL_H
#define CC_LOCAL_H

#include <stdbool.h>

#include "cc_args.h"

/* Runs argv in place: the compiler's exit status (128 + signal if it was
 * killed), or 127 when it cannot be started. *cpu is the CPU time (user
 * and system, in seconds) it and what it started (cc1, as) used. */
int cc_local_run(char **argv, double *cpu);

typedef struct cc_racer cc_racer;

typedef enum {
    CC_RACER_IDLE,     /* not started */
    CC_RACER_RUNNING,  /* started, not finished */
    CC_RACER_FINISHED, /* exited on its own: a result, whatever the status */
    CC_RACER_FAILED,   /* killed by a signal not ours, or could not start */
} cc_racer_state;

/* Prepares a racer for argv (argc entries, argv[0] the compiler), parsed
 * as `c`. NULL with a static sentence in *why when it cannot race safely. */
cc_racer *cc_racer_new(int argc, char **argv, const compile_args *c, const char **why);
/* Forks it: false with a static sentence in *why. */
bool cc_racer_start(cc_racer *r, const char **why);
/* Readable when some child of ours has exited (a SIGCHLD self-pipe). */
int cc_racer_wake_fd(const cc_racer *r);
/* Takes note if the racer has exited (call after the wake fd). */
cc_racer_state cc_racer_check(cc_racer *r);
cc_racer_state cc_racer_state_of(const cc_racer *r);
/* Waits until a running racer exits. */
cc_racer_state cc_racer_wait(cc_racer *r);
/* Seconds since the racer started (its run time once finished). */
double cc_racer_seconds(const cc_racer *r);
/* A finished racer's CPU time (user and system, with cc1 and as), seconds. */
double cc_racer_cpu_seconds(const cc_racer *r);
/* A finished racer's result, taken: files renamed into place (exit 0) or
 * removed (else), stdout and stderr replayed. Its exit status, or -1 with
 * a static sentence in *why when its output cannot be put in place. */
int cc_racer_commit(cc_racer *r, const char **why);
/* Kills a running racer and all it started, waits for it, and removes its
 * files. Also what cc_racer_free does with one not committed. */
void cc_racer_cancel(cc_racer *r);
void cc_racer_free(cc_racer *r);

/* Monotonic seconds. */
double cc_now(void);

#endif
