#include "view_results.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/* A ring, newest replacing oldest. Lookups happen only when an action's
 * directory is built, so a linear search is cheap enough. */
typedef struct {
    char *instance;
    rev2_digest action;
    uint8_t *bytes;
    size_t len;
} kept_result;

struct view_results {
    kept_result ring[VIEW_RESULTS_KEPT];
    size_t next;
};

view_results *view_results_new(void)
{
    view_results *t = gmb_calloc(1, sizeof *t);
    return t;
}

static void clear(kept_result *k)
{
    free(k->instance);
    free(k->bytes);
    memset(k, 0, sizeof *k);
}

void view_results_free(view_results *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < VIEW_RESULTS_KEPT; i++)
        clear(&t->ring[i]);
    free(t);
}

static kept_result *find(view_results *t, const char *instance, const rev2_digest *action)
{
    /* Newest first: a re-run of the same action wins. */
    for (size_t i = 0; i < VIEW_RESULTS_KEPT; i++) {
        kept_result *k = &t->ring[(t->next + VIEW_RESULTS_KEPT - 1 - i) % VIEW_RESULTS_KEPT];
        if (!k->instance)
            return NULL;
        if (rev2_digest_equal(&k->action, action) && strcmp(k->instance, instance) == 0)
            return k;
    }
    return NULL;
}

void view_results_put(view_results *t, const char *instance, const rev2_digest *action, const Rev2ActionResult *result)
{
    kept_result *k = &t->ring[t->next];
    clear(k);
    k->instance = gmb_strdup(instance);
    k->action = *action;
    k->bytes = REV2_PACK(result, &k->len);
    t->next = (t->next + 1) % VIEW_RESULTS_KEPT;
}

bool view_results_has(view_results *t, const char *instance, const rev2_digest *action)
{
    return find(t, instance, action) != NULL;
}

Rev2ActionResult *view_results_get(view_results *t, const char *instance, const rev2_digest *action)
{
    kept_result *k = find(t, instance, action);
    return k ? build__bazel__remote__execution__v2__action_result__unpack(NULL, k->len, k->bytes) : NULL;
}
