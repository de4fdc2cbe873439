/* action_compare: what one REv2 action did on several instance names
 * (worker pools), compared, and many such comparisons summed up.
 *
 * An action_run holds one execution's facts, taken from its
 * ExecuteResponse or ActionResult: the exit code, each output by path (a file's digest, a
 * directory's Tree digest, a symlink's target), the stdout and stderr
 * digests, and the worker's phase durations from ExecutedActionMetadata.
 * action_compare gives the verdict on runs of the same action: match,
 * mismatch (what differs, with each run's value), or failed (a run that
 * has an error, in plain words). An action_report collects the verdicts
 * and phase durations of many actions on a fixed list of instance names:
 * p50/p90/p99 per instance and phase, the ratio to the first instance,
 * and the failures and mismatches, rendered as a text table or as JSON.
 * `gomabarn replay` and shadow execution use it. No I/O, no Buildbarn
 * calls: callers bring the responses. */
#ifndef ACTION_COMPARE_H
#define ACTION_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "rev2_error.h"
#include "rev2_proto.h"

/* ---- One run (action_run.c) ------------------------------------------ */

/* The worker's phases, from ExecutedActionMetadata's timestamps. */
typedef enum {
    ACTION_PHASE_QUEUED,        /* worker_start - queued */
    ACTION_PHASE_INPUT_FETCH,   /* input_fetch_completed - input_fetch_start */
    ACTION_PHASE_EXECUTION,     /* execution_completed - execution_start */
    ACTION_PHASE_OUTPUT_UPLOAD, /* output_upload_completed - output_upload_start */
    ACTION_PHASE_TOTAL,         /* output_upload_completed - queued */
    ACTION_PHASE_COUNT,
} action_phase;

/* "queued", "input_fetch", "execution", "output_upload", "total". */
const char *action_phase_name(action_phase p);

typedef enum {
    ACTION_OUTPUT_FILE,
    ACTION_OUTPUT_DIRECTORY,
    ACTION_OUTPUT_SYMLINK,
} action_output_kind;

typedef struct {
    char *path; /* as in the ActionResult, relative to the working directory */
    action_output_kind kind;
    rev2_digest digest; /* a file's contents, a directory's Tree; zeroed for a symlink */
    bool executable;    /* files only */
    char *target;       /* symlinks only; NULL otherwise */
} action_output;

typedef struct {
    char *instance;                     /* the instance name it ran on */
    char *error;                        /* NULL, or why it failed, in plain words (nothing below is set then) */
    int error_code;                     /* the REV2_* code of that failure; 0 */
    int exit_code;                      /* the command's */
    bool cached;                        /* the result came from the action cache */
    char *worker;                       /* ExecutedActionMetadata.worker; "" when absent */
    double phase_s[ACTION_PHASE_COUNT]; /* seconds; -1 when the timestamps are absent */
    action_output *outputs;             /* sorted by path */
    size_t n_outputs;
    rev2_digest stdout_digest; /* of the inline bytes when no digest was given */
    rev2_digest stderr_digest;
} action_run;

/* Fills `run` from what rev2_execute's callback received on `instance`:
 * `err` (NULL on success) and `resp` (may be NULL). Neither is kept. An
 * error, or a response without a result, makes a failed run. */
void action_run_from_execute(action_run *run, const char *instance, const rev2_error *err,
                             const Rev2ExecuteResponse *resp);
/* Fills `run` from an ActionResult the caller already has (a gateway's
 * own execution, say; `r` is not kept; NULL makes a failed run). cached:
 * it came from the action cache. The phases are r->execution_metadata's. */
void action_run_from_result(action_run *run, const char *instance, const Rev2ActionResult *r, bool cached);
/* A run that failed before or outside Execute (the action's blobs cannot
 * be found, say); `message` is copied as it is. */
void action_run_failed(action_run *run, const char *instance, int code, const char *message);
void action_run_free(action_run *run);
/* The run's output at `path` (a binary search: they are sorted); NULL if
 * it has none there. */
const action_output *action_run_output(const action_run *run, const char *path);

/* Buildbarn's error in plain words, for a person (malloc'd): what it means
 * and what to check, then Buildbarn's own message and the status code, e.g.
 * "no worker serves this instance name with this platform (check the
 * instance name and the platform properties). Buildbarn said: No workers
 * exist for instance name prefix "x" platform {} (FAILED_PRECONDITION)". */
char *action_error_explain(const rev2_error *e);

/* ---- One action on several instance names (action_compare.c) -------- */

typedef enum {
    ACTION_MATCH,    /* same exit code, outputs, stdout and stderr everywhere */
    ACTION_MISMATCH, /* something differs: see differences */
    ACTION_FAILED,   /* at least one run has an error: see errors */
} action_verdict;

/* "match", "mismatch", "failed". */
const char *action_verdict_name(action_verdict v);

typedef struct {
    char *what;    /* "exit code", "stdout", "stderr" or "output <path>" */
    char **values; /* one per run, in the runs' order: "3", "<hash>/<size>",
                    * "<hash>/<size> executable", "tree <hash>/<size>",
                    * "symlink to <target>", "absent" */
} action_difference;

typedef struct {
    rev2_digest action;   /* the action compared */
    rev2_digest executed; /* the digest that ran (a do_not_cache twin), or = action */
    action_verdict verdict;
    size_t n_runs;
    char **instances;               /* n_runs instance names, in the runs' order */
    char **errors;                  /* n_runs: NULL, or that run's error in plain words */
    int *error_codes;               /* n_runs: 0 or the REV2_* code */
    action_difference *differences; /* mismatch only */
    size_t n_differences;
} action_comparison;

/* Compares n runs of one action; `executed` NULL means `action`. */
void action_compare(const rev2_digest *action, const rev2_digest *executed, const action_run *runs, size_t n,
                    action_comparison *out);
void action_comparison_free(action_comparison *c);

/* ---- Many actions: the report (action_report.c, _render.c) ----------- */

typedef struct {
    size_t max_samples; /* phase durations kept per instance and phase (the newest); 0: all */
    size_t max_kept;    /* failures and mismatches kept for the listing (the newest); 0: all */
} action_report_options;

typedef struct {
    size_t n;             /* samples the percentiles are over; 0: none, p* are 0 */
    double p50, p90, p99; /* seconds, nearest rank */
} action_phase_stats;

typedef struct {
    size_t actions, matched, mismatched, failed;
} action_report_counts;

/* Per instance name, over all runs added. */
typedef struct {
    size_t runs, failed, cached, nonzero_exit;
} action_instance_counts;

typedef struct action_report action_report;

/* instances: the names every action is run on (copied); runs given to
 * action_report_add are in this order. o may be NULL (keep everything). */
action_report *action_report_new(const char *const *instances, size_t n, const action_report_options *o);
void action_report_free(action_report *r);

/* Thread-safe. Compares runs[0..n-1] (runs[i] on instance i) and records
 * the verdict, the phase durations of runs that did not fail, and the
 * comparison itself when it is not a match. A run from the action cache
 * (run.cached) counts in the verdict and in `cached`, but adds no phase
 * samples: its metadata is of the execution that filled the cache, which
 * would be counted again on every hit. Returns the verdict. */
action_verdict action_report_add(action_report *r, const rev2_digest *action, const rev2_digest *executed,
                                 const action_run *runs);

size_t action_report_instances(const action_report *r);
const char *action_report_instance(const action_report *r, size_t i);
void action_report_counts_get(action_report *r, action_report_counts *out);
void action_report_instance_counts(action_report *r, size_t instance, action_instance_counts *out);
/* Percentiles of one phase on one instance over the kept samples. */
void action_report_phase(action_report *r, size_t instance, action_phase p, action_phase_stats *out);

/* Renderings, appended to a GMB_BUF_UNLIMITED buffer. The text has a
 * summary line, per-instance counts, a phase table (p50/p90/p99 in
 * seconds per instance, p50 ratio to the first instance), then at most
 * `max_listed` mismatches and failures (0: all; "N more" said). The JSON
 * is one object, with every kept mismatch and failure. */
void action_report_text(action_report *r, size_t max_listed, gmb_buf *out);
void action_report_json(action_report *r, gmb_buf *out);

#endif
