/* worker_phases: how long each worker phase of an executed action took,
 * per instance name, as the gomabarn_worker_phase_seconds histogram in
 * /metrics (labels instance and phase: queued, input_fetch, execution,
 * output_upload, total; see action_compare.h). The exec pipeline observes
 * every action it had executed, the shadows theirs, so the two pools can
 * be compared on /metrics even without shadowing. */
#ifndef WORKER_PHASES_H
#define WORKER_PHASES_H

#include "action_compare.h"
#include "metrics.h"

/* Declares the histogram family. */
void worker_phases_declare(metrics *m);
/* Observes run's phases (those with timestamps). Runs answered from the
 * cache, and failed runs, are not observed: a cached result's timings
 * are an old execution's, counted again on every hit. */
void worker_phases_observe(metrics *m, const action_run *run);

#endif
