/* goma_files_share_internal: what the goma_files_share*.c files share:
 * the state of a goma_share (goma_files_share.c: its life), the answers
 * waiting for uploads (goma_files_share_answer.c), the upload queue
 * (goma_files_share_upload.c) and the lookups (goma_files_share_lookup.c).
 * Nothing outside them uses it. */
#ifndef GOMA_FILES_SHARE_INTERNAL_H
#define GOMA_FILES_SHARE_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "goma_files_share.h"

#define GOMA_SHARE_WORKERS 2
/* "Not in Buildbarn" is remembered this long, in a table of this many
 * slots (a new key takes its slot's place): bounded, and brief, since
 * another gateway may store the key any moment. */
#define GOMA_SHARE_NEGATIVE_TTL_MS 5000
/* A key whose lookup timed out or failed is not asked again for this
 * long after the round ended: the Exec that asked goes on to resolve its
 * keys one by one, and each would otherwise wait out its own lookup
 * timeout again (N keys, N timeouts) while Buildbarn is slow. */
#define GOMA_SHARE_UNANSWERED_TTL_MS 2000
#define GOMA_SHARE_NEGATIVE_SLOTS 16384
/* A stopping gateway shares what it queued first, this long at most: the
 * build's next compile may go to another gateway (a rolling restart). */
#define GOMA_SHARE_DRAIN_MS 10000

/* A stored file waiting to go up. */
typedef struct goma_share_item {
    char key[65];
    int64_t blob_len;
    int type;
    rev2_digest content;
    bool has_content;
    goma_share_answer *answer;
    struct goma_share_item *next;
} goma_share_item;

struct goma_share_answer {
    http_request *req;
    int status;
    const char *content_type;
    uint8_t *body;
    size_t len;
    size_t pending; /* its files not up yet */
    bool armed;     /* goma_share_answer_send was called */
    bool sent;
    int64_t deadline_ms;
    struct goma_share_answer *next; /* armed, waiting */
};

typedef struct {
    char key[64];
    int64_t until_ms;
} goma_share_negative;

struct goma_share {
    goma_share_options o;
    pthread_mutex_t lock;
    pthread_cond_t work, sweep, idle; /* idle: queue empty, nothing uploading */
    goma_share_item *head, *tail;
    size_t queued;
    size_t uploading; /* items taken by a worker, not done yet */
    bool stop;
    pthread_t workers[GOMA_SHARE_WORKERS], sweeper;
    goma_share_answer *waiting;
    goma_share_negative *neg; /* GOMA_SHARE_NEGATIVE_SLOTS, under lock */
};

/* The output file names of an entry, by DevtoolsGoma__FileBlob__BlobType. */
extern const char *const goma_share_type_names[];
#define GOMA_SHARE_N_TYPES 5

/* Adds n to a metrics series (none without metrics). */
void goma_share_count(goma_share *s, const char *series, uint64_t n);
/* The slot of the "not in Buildbarn" table for a key (under s->lock). */
goma_share_negative *goma_share_negative_slot(goma_share *s, const char *key);
/* The CLOCK_REALTIME time `ms` from now, for pthread_cond_timedwait. */
struct timespec goma_share_deadline(int64_t ms);

/* ---- Answers (goma_files_share_answer.c) ---- */
/* An answer taken out to send, outside the lock. */
typedef struct {
    http_request *req; /* NULL: nothing to send */
    int status;
    const char *content_type;
    uint8_t *body;
    size_t len;
} goma_share_outgoing;
/* One file of a's is up (or given up): fills *o when a is to go now. */
void goma_share_file_done_locked(goma_share *s, goma_share_answer *a, goma_share_outgoing *o);
void goma_share_send_out(goma_share_outgoing *o);
/* The sweeper thread: sends the answers whose wait is over. */
void *goma_share_sweep_main(void *arg);

/* ---- Upload (goma_files_share_upload.c) ---- */
/* A worker thread: uploads batches off the queue until s->stop. */
void *goma_share_work_main(void *arg);

#endif
