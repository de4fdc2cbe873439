/* action_report_internal: what action_report.c (collecting) and
 * action_report_render.c (text and JSON) share; not for other modules. */
#ifndef ACTION_REPORT_INTERNAL_H
#define ACTION_REPORT_INTERNAL_H

#include <pthread.h>

#include "action_compare.h"

/* The newest `max` doubles (max 0: all of them). */
typedef struct {
    double *v;
    size_t n, cap, next, max;
} sample_ring;

/* The newest `max` comparisons (max 0: all), oldest first by action_kept_at. */
typedef struct {
    action_comparison *items;
    size_t n, cap, next, max;
} kept_list;

/* The i-th kept comparison, oldest first (i < k->n). */
const action_comparison *action_kept_at(const kept_list *k, size_t i);

struct action_report {
    pthread_mutex_t lock;
    size_t n; /* instance names */
    char **instances;
    sample_ring *samples; /* [instance * ACTION_PHASE_COUNT + phase] */
    action_instance_counts *per_instance;
    action_report_counts counts;
    kept_list mismatches, failures;
};

#endif
