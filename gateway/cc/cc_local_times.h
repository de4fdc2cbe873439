/* cc_local_times: how long a local compile takes in this build, learned
 * from the local compiles gomabarn-cc ran to the end (fallbacks, and races
 * the local compile won). It sets when a racing local compile starts.
 *
 * What is learned is each compile's CPU time (user and system, with cc1 and
 * as), not its time on the clock: when make runs many local compiles side
 * by side on few cores (the gateway down), each takes several times its CPU
 * time on the clock, and a delay learned from that would hold every later
 * race back as long, although a racing compile mostly runs beside remote
 * ones that leave the cores free.
 *
 * The times live in a small file per build: cpu-times-<hash> (named so
 * since they are CPU times: the local-times-<hash> files of older versions
 * held times on the clock, and are left alone) under
 * $XDG_CACHE_HOME/gomabarn-cc (else ~/.cache/gomabarn-cc, else
 * /tmp/gomabarn-cc-<uid>), the hash of GOMABARN_BUILD_ID or, without it,
 * of the working directory. One line per compile, in milliseconds, added
 * with one O_APPEND write, so concurrent gomabarn-cc processes do not mix
 * their lines. Past 4 KiB the file is cut to its last CC_LOCAL_TIMES_KEPT
 * lines by writing a new file and renaming it over the old one (a line
 * added meanwhile may be lost: it is only a statistic). */
#ifndef CC_LOCAL_TIMES_H
#define CC_LOCAL_TIMES_H

#include <stddef.h>

#define CC_LOCAL_TIMES_KEPT 32

/* The 90th percentile of the last CC_LOCAL_TIMES_KEPT recorded times, in
 * seconds, with their number in *n; 0 with *n = 0 when none is known. */
double cc_local_times_expected(size_t *n);
/* Adds one local compile's CPU time in seconds. Errors are ignored: nothing depends
 * on it but the next compile's race delay. */
void cc_local_times_record(double seconds);

#endif
