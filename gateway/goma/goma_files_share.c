/* A goma_share's life (goma_files_share.h), and what its upload and
 * lookup sides share: the action-cache key of a goma key, the names of
 * the entry's outputs, the counters, the "not in Buildbarn" table. */
#include "goma_files_share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "goma_files_share_internal.h"
#include "log.h"
#include "mem.h"

const char *const goma_share_type_names[GOMA_SHARE_N_TYPES] = {"FILE_UNSPECIFIED", "FILE", "FILE_META", "FILE_CHUNK",
                                                               "FILE_REF"};

void goma_share_action_digest(const char *key, rev2_digest *out)
{
    char text[96];
    int n = snprintf(text, sizeof text, "gomabarn-file-key:%.64s", key);
    rev2_digest_of_bytes(text, (size_t)n, out);
}

void goma_share_count(goma_share *s, const char *series, uint64_t n)
{
    if (s->o.metrics && n)
        metrics_add(s->o.metrics, series, (int64_t)n);
}

goma_share_negative *goma_share_negative_slot(goma_share *s, const char *key)
{
    return &s->neg[XXH3_64bits(key, 64) & (GOMA_SHARE_NEGATIVE_SLOTS - 1)];
}

struct timespec goma_share_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

goma_share *goma_share_new(const goma_share_options *o)
{
    goma_share *s = gmb_calloc(1, sizeof *s);
    s->o = *o;
    if (s->o.queue_max == 0)
        s->o.queue_max = 1;
    s->neg = gmb_calloc(GOMA_SHARE_NEGATIVE_SLOTS, sizeof *s->neg);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->sweep, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (o->metrics) {
        metrics_family(o->metrics, "gomabarn_files_shared_total", "counter",
                       "goma files uploaded to Buildbarn with their key in the action cache, for the other gateways "
                       "(goma.share_through_buildbarn).");
        metrics_family(o->metrics, "gomabarn_files_share_dropped_total", "counter",
                       "goma files not shared: the queue was full (goma.share_queue_max) or the upload failed.");
        metrics_family(o->metrics, "gomabarn_files_share_queue", "gauge", "goma files waiting to go to Buildbarn.");
        metrics_family(o->metrics, "gomabarn_files_remote_hits_total", "counter",
                       "goma keys not stored here found through Buildbarn (stored through another gateway).");
        metrics_family(o->metrics, "gomabarn_files_remote_misses_total", "counter",
                       "goma keys looked up in Buildbarn and not found there either.");
    }
    for (int i = 0; i < GOMA_SHARE_WORKERS; i++)
        pthread_create(&s->workers[i], NULL, goma_share_work_main, s);
    pthread_create(&s->sweeper, NULL, goma_share_sweep_main, s);
    return s;
}

void goma_share_drain(goma_share *s)
{
    pthread_mutex_lock(&s->lock);
    size_t left = s->queued + s->uploading;
    if (left)
        GMB_INFO("goma", "stopping: sharing the %zu goma files still queued through Buildbarn first (%d s at most)",
                 left, GOMA_SHARE_DRAIN_MS / 1000);
    struct timespec ts = goma_share_deadline(GOMA_SHARE_DRAIN_MS);
    while ((s->head || s->uploading) && pthread_cond_timedwait(&s->idle, &s->lock, &ts) == 0)
        ;
    pthread_mutex_unlock(&s->lock);
}

void goma_share_free(goma_share *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->sweep);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < GOMA_SHARE_WORKERS; i++)
        pthread_join(s->workers[i], NULL);
    pthread_join(s->sweeper, NULL); /* has sent every armed answer */
    size_t dropped = 0;
    for (goma_share_item *it = s->head, *next; it; it = next) {
        next = it->next;
        goma_share_outgoing o = {0};
        if (it->answer)
            goma_share_file_done_locked(s, it->answer, &o); /* no thread left: no lock needed */
        goma_share_send_out(&o);
        free(it);
        dropped++;
    }
    if (dropped)
        GMB_INFO("goma", "stopping: %zu goma files not shared through Buildbarn", dropped);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->sweep);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s->neg);
    free(s);
}
