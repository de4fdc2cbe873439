#include "worker_phases.h"

#include <stdio.h>

#define FAMILY "gomabarn_worker_phase_seconds"
#define PHASE_LABEL_MAX 300

void worker_phases_declare(metrics *m)
{
    metrics_family(m, FAMILY, "histogram",
                   "Worker phases of executed actions (ExecutedActionMetadata), by instance name and phase.");
}

void worker_phases_observe(metrics *m, const action_run *run)
{
    if (!m || run->error || run->cached)
        return;
    char instance[PHASE_LABEL_MAX], labels[PHASE_LABEL_MAX + 64];
    metrics_label_value(instance, sizeof instance, run->instance);
    for (int p = 0; p < ACTION_PHASE_COUNT; p++) {
        if (run->phase_s[p] < 0)
            continue;
        snprintf(labels, sizeof labels, "instance=\"%s\",phase=\"%s\"", instance, action_phase_name((action_phase)p));
        metrics_observe(m, FAMILY, labels, run->phase_s[p]);
    }
}
