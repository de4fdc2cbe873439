/* StoreFile answers that wait for their files to be up in Buildbarn
 * (goma_share_answer_*), at most goma.share_wait_ms: sent by the upload
 * worker that finishes their last file, or by the sweeper at the
 * deadline. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "goma_files_share_internal.h"
#include "mem.h"
#include "rev2_engine.h"

/* Takes a's answer out to send (under lock); frees a once nothing refers
 * to it any more. */
static void take_locked(goma_share *s, goma_share_answer *a, goma_share_outgoing *o)
{
    *o = (goma_share_outgoing){a->req, a->status, a->content_type, a->body, a->len};
    a->body = NULL;
    a->sent = true;
    for (goma_share_answer **p = &s->waiting; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    if (a->pending == 0)
        free(a);
}

void goma_share_send_out(goma_share_outgoing *o)
{
    if (!o->req)
        return;
    http_respond(o->req, o->status, o->content_type, o->body, o->len);
    free(o->body);
}

goma_share_answer *goma_share_answer_new(goma_share *s, http_request *r)
{
    (void)s;
    goma_share_answer *a = gmb_calloc(1, sizeof *a);
    a->req = r;
    return a;
}

void goma_share_answer_send(goma_share *s, goma_share_answer *a, int status, const char *content_type, const void *body,
                            size_t len)
{
    goma_share_outgoing o = {0};
    pthread_mutex_lock(&s->lock);
    a->status = status;
    a->content_type = content_type;
    a->body = gmb_malloc(len + 1);
    memcpy(a->body, body, len);
    a->len = len;
    a->armed = true;
    a->deadline_ms = rev2_now_ms() + s->o.wait_ms;
    if (a->pending == 0 || s->o.wait_ms <= 0 || s->stop) {
        take_locked(s, a, &o);
    } else {
        a->next = s->waiting;
        s->waiting = a;
        pthread_cond_signal(&s->sweep);
    }
    pthread_mutex_unlock(&s->lock);
    goma_share_send_out(&o);
}

void goma_share_file_done_locked(goma_share *s, goma_share_answer *a, goma_share_outgoing *o)
{
    a->pending--;
    if (a->sent && a->pending == 0)
        free(a); /* sent at its deadline already */
    else if (a->armed && !a->sent && a->pending == 0)
        take_locked(s, a, o);
}

void *goma_share_sweep_main(void *arg)
{
    goma_share *s = arg;
    pthread_setname_np(pthread_self(), "gmb-share-sweep");
    pthread_mutex_lock(&s->lock);
    while (!s->stop || s->waiting) {
        int64_t now = rev2_now_ms(), next = INT64_MAX;
        goma_share_answer *due = NULL;
        for (goma_share_answer *a = s->waiting; a && !due; a = a->next)
            if (s->stop || a->deadline_ms <= now)
                due = a;
            else if (a->deadline_ms < next)
                next = a->deadline_ms;
        if (due) {
            goma_share_outgoing o;
            take_locked(s, due, &o);
            pthread_mutex_unlock(&s->lock);
            goma_share_send_out(&o);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->stop)
            break;
        if (next == INT64_MAX) {
            pthread_cond_wait(&s->sweep, &s->lock);
        } else {
            struct timespec ts = goma_share_deadline(next - now);
            pthread_cond_timedwait(&s->sweep, &s->lock, &ts);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}
