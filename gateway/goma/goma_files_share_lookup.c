/* The lookup side of sharing (goma_files_share.h): goma keys looked up
 * in Buildbarn's action cache, many at once, with a short memory of the
 * keys nobody has. */
#include <stdlib.h>
#include <string.h>

#include "goma/goma_data.pb-c.h"
#include "goma_files_share_internal.h"
#include "log.h"
#include "mem.h"
#include "rev2_engine.h"

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t left, refs;
    char (*keys)[65];      /* the keys asked, owned here: a late answer still reads them */
    goma_share_hit *found; /* copies, filled by the callbacks */
    bool *answered;        /* NOT_FOUND or found: worth remembering */
} lookups;

typedef struct {
    lookups *l;
    size_t i;
} lookup_one;

static void lookups_unref_locked(lookups *l, bool *last)
{
    *last = --l->refs == 0;
}

static void lookups_free(lookups *l)
{
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l->keys);
    free(l->found);
    free(l->answered);
    free(l);
}

/* The key's entry, checked: its blob must be the key itself. */
static void parse_entry(const char *key, const Rev2ActionResult *r, goma_share_hit *h)
{
    for (size_t i = 0; r && i < r->n_output_files; i++) {
        const Rev2OutputFile *f = r->output_files[i];
        rev2_digest d;
        if (!f->path || !f->digest || !rev2_digest_from_proto(f->digest, &d))
            continue;
        if (strcmp(f->path, "content") == 0) {
            h->content = d;
            h->has_content = true;
            continue;
        }
        for (size_t t = 1; t < GOMA_SHARE_N_TYPES; t++)
            if (strcmp(f->path, goma_share_type_names[t]) == 0 && strncmp(d.hash, key, 64) == 0) {
                h->found = true;
                h->type = (int)t;
                h->blob_len = d.size;
            }
    }
    if (!h->found || h->type != DEVTOOLS_GOMA__FILE_BLOB__BLOB_TYPE__FILE)
        h->has_content = false;
}

static void looked_up(void *user, rev2_error *err, Rev2ActionResult *result)
{
    lookup_one *o = user;
    lookups *l = o->l;
    goma_share_hit h = {0};
    if (!err)
        parse_entry(l->found[o->i].key, result, &h);
    pthread_mutex_lock(&l->lock);
    h.key = l->found[o->i].key;
    l->found[o->i] = h;
    l->answered[o->i] = !err || err->code == REV2_NOT_FOUND;
    bool last;
    if (--l->left == 0)
        pthread_cond_signal(&l->cond);
    lookups_unref_locked(l, &last);
    pthread_mutex_unlock(&l->lock);
    if (last)
        lookups_free(l);
    if (err && err->code != REV2_NOT_FOUND)
        GMB_DEBUG("goma", "looking a goma key up in Buildbarn's action cache: %s", err->message);
    rev2_error_free(err);
    rev2_msg_free(result);
    free(o);
}

size_t goma_share_find(goma_share *s, goma_share_hit *hits, size_t n)
{
    lookups *l = gmb_calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->found = gmb_calloc(n + 1, sizeof *l->found);
    l->answered = gmb_calloc(n + 1, sizeof *l->answered);
    size_t *which = gmb_calloc(n + 1, sizeof *which), asked = 0;
    int64_t now = rev2_now_ms();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        hits[i].found = false;
        goma_share_negative *g = goma_share_negative_slot(s, hits[i].key);
        if (memcmp(g->key, hits[i].key, 64) == 0 && g->until_ms > now)
            continue;
        which[asked++] = i;
    }
    pthread_mutex_unlock(&s->lock);
    l->left = asked;
    l->refs = asked + 1;
    l->keys = gmb_calloc(asked + 1, sizeof *l->keys);
    for (size_t k = 0; k < asked; k++) {
        memcpy(l->keys[k], hits[which[k]].key, 64);
        l->found[k].key = l->keys[k];
    }
    for (size_t k = 0; k < asked; k++) {
        rev2_digest action;
        goma_share_action_digest(l->keys[k], &action);
        lookup_one *o = gmb_malloc(sizeof *o);
        *o = (lookup_one){l, k};
        rev2_get_action_result(s->o.client, NULL, &action, false, looked_up, o);
    }
    struct timespec ts = goma_share_deadline(s->o.lookup_timeout_ms);
    size_t hit = 0, missed = 0;
    pthread_mutex_lock(&l->lock);
    while (l->left > 0)
        if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) != 0)
            break;
    goma_share_hit *copy = gmb_calloc(asked + 1, sizeof *copy);
    bool *answered = gmb_calloc(asked + 1, sizeof *answered);
    memcpy(copy, l->found, asked * sizeof *copy);
    memcpy(answered, l->answered, asked * sizeof *answered);
    bool last;
    lookups_unref_locked(l, &last);
    pthread_mutex_unlock(&l->lock);
    int64_t ended = rev2_now_ms();
    pthread_mutex_lock(&s->lock);
    for (size_t k = 0; k < asked; k++) {
        goma_share_hit *h = &hits[which[k]];
        const char *key = h->key;
        if (copy[k].found) {
            *h = copy[k];
            h->key = key;
            hit++;
            continue;
        }
        missed++;
        /* "Not there" is remembered; a timeout or an error, which is no
         * answer, only briefly. */
        goma_share_negative *g = goma_share_negative_slot(s, key);
        memcpy(g->key, key, 64);
        g->until_ms = answered[k] ? now + GOMA_SHARE_NEGATIVE_TTL_MS : ended + GOMA_SHARE_UNANSWERED_TTL_MS;
    }
    goma_share_count(s, "gomabarn_files_remote_hits_total", hit);
    goma_share_count(s, "gomabarn_files_remote_misses_total", missed);
    pthread_mutex_unlock(&s->lock);
    if (last)
        lookups_free(l); /* else the last late answer frees it */
    free(copy);
    free(answered);
    free(which);
    return hit;
}
