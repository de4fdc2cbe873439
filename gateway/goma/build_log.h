/* build_log: what happened to each build, for build engineers. A build is
 * the requests of one compiler_proxy run: goma's request ids are
 * "<user>@<host>:<port>/<start time>/<task number>", and everything before
 * the last '/' is the build's key. The last BUILD_LOG_MAX builds are kept,
 * each as counts (by outcome, by instance name, by failure reason), plus
 * one summary of everything since the gateway started. Bounded memory;
 * thread-safe. */
#ifndef BUILD_LOG_H
#define BUILD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "request_log.h"

#define BUILD_LOG_MAX 16
#define BUILD_MAX_NAMES 16 /* instance names and reasons per summary; more go to "other" */

/* Counts of one instance name, or one reason. */
typedef struct {
    char name[64];
    uint64_t requests, hits, executed, missing, failed, bad;
    uint64_t fell_back; /* ran here as exec.fallback_instance */
} build_count;

typedef struct {
    char key[128];         /* the compiler_proxy id before its last '/'; "" without one */
    time_t first, last;    /* first and last request finished */
    build_count all;       /* the build's totals (name unused) */
    uint64_t exit_nonzero; /* done, but the compile failed: goma reruns it locally */
    build_count instances[BUILD_MAX_NAMES];
    size_t n_instances;
    build_count reasons[BUILD_MAX_NAMES]; /* failed and bad answers, and nonzero exits, by reason */
    size_t n_reasons;
} build_summary;

typedef struct build_log build_log;

build_log *build_log_new(void);
void build_log_free(build_log *b);
/* Counts one finished request, finished at `now`. */
void build_log_add(build_log *b, time_t now, const request_entry *e);
/* The builds kept, the most recently active first; returns how many. */
size_t build_log_list(build_log *b, build_summary *out, size_t max);
/* The build with this key; false if not kept. */
bool build_log_get(build_log *b, const char *key, build_summary *out);
/* Everything since the gateway started. */
void build_log_everything(build_log *b, build_summary *out);

/* The build key of a compiler_proxy id, into out. */
void build_key_of(const char *requester, char *out, size_t size);
/* Counts e into s (for summaries made up from the recent requests). */
void build_summary_add(build_summary *s, time_t now, const request_entry *e);

#endif
