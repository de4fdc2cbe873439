#include "action_rerun.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest_set.h"
#include "errmsg.h"
#include "mem.h"
#include "rev2_blocking.h"

#define MAX_BLOBS 1000000                    /* per action: the Command, Directories and files */
#define MAX_MESSAGE_BYTES ((size_t)64 << 20) /* an Action or Directory read into memory */
#define FIND_MISSING_CHUNK 10000             /* digests per FindMissingBlobs call */

typedef struct {
    rev2_client *client;
    const action_rerun_options *o;
    const char *const *targets;
    size_t n_targets;
} rerun_ctx;

/* Where the action's blobs are read from, in order. */
typedef struct {
    const char *const *names;
    size_t n;
} source_list;

static char *quoted_names(const source_list *s)
{
    char *out = gmb_strdup("");
    for (size_t i = 0; i < s->n; i++) {
        char *next = gmb_format("%s%s\"%s\"", out, i ? ", " : "", s->names[i]);
        free(out);
        out = next;
    }
    return out;
}

/* Reads a blob (at most MAX_MESSAGE_BYTES) from the first source that has
 * it: 0, REV2_NOT_FOUND when no source has it, or another REV2_* code
 * with *why set. */
static int read_any(rerun_ctx *x, const source_list *s, const rev2_digest *d, gmb_buf *out, char **why)
{
    for (size_t i = 0; i < s->n; i++) {
        gmb_buf_reset(out);
        rev2_error *e = rev2_read_blob_sync(x->client, s->names[i], d, out);
        if (!e)
            return 0;
        if (e->code != REV2_NOT_FOUND) {
            char ds[REV2_DIGEST_STR_LEN], *plain = action_error_explain(e);
            *why = gmb_format("reading blob %s from instance \"%s\": %s", rev2_digest_str(d, ds), s->names[i], plain);
            free(plain);
            int code = e->code;
            rev2_error_free(e);
            return code;
        }
        rev2_error_free(e);
    }
    return REV2_NOT_FOUND;
}

/* What every instance name must hold to run an action. */
typedef struct {
    rev2_digest *blobs; /* the Command, Directories and files (and the Action without a twin) */
    size_t n, cap;
    digest_set seen;
    uint8_t *twin; /* the do_not_cache twin's bytes, or NULL */
    size_t twin_len;
    rev2_digest executed; /* what runs: the twin, or the action itself */
} action_needs;

static bool needs_add(action_needs *nd, const rev2_digest *d)
{
    if (!digest_set_add(&nd->seen, d))
        return false;
    if (nd->n == nd->cap) {
        nd->cap = nd->cap ? nd->cap * 2 : 64;
        nd->blobs = gmb_realloc(nd->blobs, nd->cap * sizeof *nd->blobs);
    }
    nd->blobs[nd->n++] = *d;
    return true;
}

static void needs_free(action_needs *nd)
{
    free(nd->blobs);
    free(nd->twin);
    digest_set_free(&nd->seen);
}

/* Walks the input root from the sources: every Directory and file. 0, or
 * a REV2_* code with *why. */
static int walk_input_root(rerun_ctx *x, const source_list *s, const rev2_digest *root, action_needs *nd, char **why)
{
    rev2_digest *stack = gmb_malloc(sizeof *stack);
    size_t depth = 0, cap = 1;
    if (needs_add(nd, root))
        stack[depth++] = *root;
    gmb_buf buf;
    gmb_buf_init(&buf, MAX_MESSAGE_BYTES);
    int rc = 0;
    char ds[REV2_DIGEST_STR_LEN];
    while (rc == 0 && depth > 0) {
        rev2_digest d = stack[--depth];
        int got = read_any(x, s, &d, &buf, why);
        if (got != 0) {
            if (got == REV2_NOT_FOUND) {
                char *names = quoted_names(s);
                *why = gmb_format("input directory %s is in the CAS of none of the instance names %s",
                                  rev2_digest_str(&d, ds), names);
                free(names);
            }
            rc = got;
            break;
        }
        Rev2Directory *dir = build__bazel__remote__execution__v2__directory__unpack(NULL, buf.len, buf.data);
        if (!dir) {
            *why = gmb_format("blob %s, an input directory, is not a Directory message", rev2_digest_str(&d, ds));
            rc = REV2_INVALID_ARGUMENT;
            break;
        }
        for (size_t i = 0; i < dir->n_files && rc == 0; i++) {
            rev2_digest f;
            if (!dir->files[i]->digest || !rev2_digest_from_proto(dir->files[i]->digest, &f)) {
                *why = gmb_format("input directory %s names file \"%s\" without a valid digest",
                                  rev2_digest_str(&d, ds), dir->files[i]->name);
                rc = REV2_INVALID_ARGUMENT;
            } else {
                needs_add(nd, &f);
            }
        }
        for (size_t i = 0; i < dir->n_directories && rc == 0; i++) {
            rev2_digest sub;
            if (!dir->directories[i]->digest || !rev2_digest_from_proto(dir->directories[i]->digest, &sub)) {
                *why = gmb_format("input directory %s names directory \"%s\" without a valid digest",
                                  rev2_digest_str(&d, ds), dir->directories[i]->name);
                rc = REV2_INVALID_ARGUMENT;
            } else if (needs_add(nd, &sub)) {
                if (depth == cap) {
                    cap *= 2;
                    stack = gmb_realloc(stack, cap * sizeof *stack);
                }
                stack[depth++] = sub;
            }
        }
        rev2_msg_free(dir);
        if (rc == 0 && nd->n > MAX_BLOBS) {
            *why = gmb_format("the input root has more than %d blobs", MAX_BLOBS);
            rc = REV2_RESOURCE_EXHAUSTED;
        }
    }
    gmb_buf_free(&buf);
    free(stack);
    return rc;
}

/* Reads the Action, lists its blobs and builds the twin: 0, or -1 with
 * *why (plain words) and *code. */
static int prepare(rerun_ctx *x, const rev2_digest *action, const source_list *s, action_needs *nd, int *code,
                   char **why)
{
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(action, ds);
    gmb_buf buf;
    gmb_buf_init(&buf, MAX_MESSAGE_BYTES);
    int got = read_any(x, s, action, &buf, why);
    if (got != 0) {
        *code = got;
        if (got == REV2_NOT_FOUND) {
            char *names = quoted_names(s);
            *why = gmb_format("the action is in the CAS of none of the instance names %s (evicted since it ran, or "
                              "not an action digest)",
                              names);
            free(names);
        }
        gmb_buf_free(&buf);
        return -1;
    }
    Rev2Action *a = build__bazel__remote__execution__v2__action__unpack(NULL, buf.len, buf.data);
    gmb_buf_free(&buf);
    rev2_digest command, root;
    if (!a || !a->command_digest || !rev2_digest_from_proto(a->command_digest, &command) || !a->input_root_digest ||
        !rev2_digest_from_proto(a->input_root_digest, &root)) {
        rev2_msg_free(a);
        *code = REV2_INVALID_ARGUMENT;
        *why = gmb_format("blob %s is not an Action (no command or input root digest in it)", ds);
        return -1;
    }
    needs_add(nd, &command);
    nd->executed = *action;
    if (!x->o->bypass_cache) {
        needs_add(nd, action);
    } else {
        a->do_not_cache = 1;
        nd->twin = REV2_PACK(a, &nd->twin_len);
        rev2_digest_of_bytes(nd->twin, nd->twin_len, &nd->executed);
    }
    rev2_msg_free(a);
    *code = walk_input_root(x, s, &root, nd, why);
    return *code ? -1 : 0;
}

/* ByteStream Read into a file, for blobs too big to hold in memory. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rev2_error *err;
    int fd;
    int write_errno;
} stream_wait;

static bool stream_data(void *user, const uint8_t *data, size_t len)
{
    stream_wait *w = user;
    while (len > 0) {
        ssize_t n = write(w->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            w->write_errno = n < 0 ? errno : EIO;
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

static void stream_done(void *user, rev2_error *err)
{
    stream_wait *w = user;
    pthread_mutex_lock(&w->lock);
    w->err = err;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Copies one big blob from `from` to `to` through a temporary file. */
static rev2_error *copy_big_blob(rerun_ctx *x, const char *from, const char *to, const rev2_digest *d)
{
    const char *tmp = getenv("TMPDIR");
    char *path = gmb_format("%s/gomabarn-rerun-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    stream_wait w = {.fd = mkstemp(path)};
    if (w.fd < 0) {
        rev2_error *e = rev2_error_new(REV2_INTERNAL, "cannot create a temporary file %s: %s", path, strerror(errno));
        free(path);
        return e;
    }
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    /* Ends within the client's call deadline, retries included. */
    rev2_bytestream_read(x->client, from, d, 0, 0, stream_data, stream_done, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    rev2_error *e = w.err;
    if (!e && w.write_errno)
        e = rev2_error_new(REV2_INTERNAL, "writing the temporary file %s: %s", path, strerror(w.write_errno));
    close(w.fd);
    if (!e) {
        rev2_blob b = {.digest = *d, .path = path};
        e = rev2_upload_sync(x->client, to, &b, 1);
    }
    unlink(path);
    free(path);
    return e;
}

/* Copies a blob `to` lacks from the first other source that has it: NULL,
 * or an error (NOT_FOUND when none has it). */
static rev2_error *copy_blob(rerun_ctx *x, const source_list *s, const char *to, const rev2_digest *d)
{
    size_t in_memory = rev2_client_options_of(x->client)->max_batch_bytes;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], to) == 0)
            continue;
        rev2_error *e;
        if ((size_t)d->size + 100 <= in_memory) {
            gmb_buf buf;
            gmb_buf_init(&buf, (size_t)d->size);
            e = rev2_read_blob_sync(x->client, s->names[i], d, &buf);
            if (!e) {
                rev2_blob b = {.digest = *d, .data = buf.data ? buf.data : (const uint8_t *)""};
                e = rev2_upload_sync(x->client, to, &b, 1);
            }
            gmb_buf_free(&buf);
        } else {
            e = copy_big_blob(x, s->names[i], to, d);
        }
        if (!e || e->code != REV2_NOT_FOUND)
            return e;
        rev2_error_free(e);
    }
    char ds[REV2_DIGEST_STR_LEN];
    return rev2_error_new(REV2_NOT_FOUND, "blob %s is missing from the CAS of instance \"%s\" and of every other one",
                          rev2_digest_str(d, ds), to);
}

/* Makes sure instance `to` holds everything the action needs: 0, or -1
 * with *why. */
static int ensure_blobs(rerun_ctx *x, const source_list *s, const char *to, const action_needs *nd, char **why,
                        int *code)
{
    rev2_error *e = NULL;
    for (size_t at = 0; at < nd->n && !e; at += FIND_MISSING_CHUNK) {
        size_t n = nd->n - at < FIND_MISSING_CHUNK ? nd->n - at : FIND_MISSING_CHUNK;
        rev2_digest *missing = NULL;
        size_t n_missing = 0;
        e = rev2_find_missing_sync(x->client, to, nd->blobs + at, n, &missing, &n_missing);
        for (size_t i = 0; i < n_missing && !e; i++)
            e = copy_blob(x, s, to, &missing[i]);
        free(missing);
    }
    if (!e && nd->twin) {
        rev2_blob b = {.digest = nd->executed, .data = nd->twin};
        e = rev2_upload_missing_sync(x->client, to, &b, 1, NULL);
    }
    if (!e)
        return 0;
    char *plain = action_error_explain(e);
    *why = gmb_format("putting the action's blobs into the CAS of instance \"%s\": %s", to, plain);
    *code = e->code;
    free(plain);
    rev2_error_free(e);
    return -1;
}

/* The Executes of one action on all instance names at once. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t pending;
    rev2_error *errs[ACTION_RERUN_MAX_TARGETS];
    Rev2ExecuteResponse *resps[ACTION_RERUN_MAX_TARGETS];
} exec_wait;

typedef struct {
    exec_wait *w;
    size_t i;
} exec_slot;

static void executed(void *user, rev2_error *err, Rev2ExecuteResponse *resp)
{
    exec_slot *s = user;
    exec_wait *w = s->w;
    pthread_mutex_lock(&w->lock);
    w->errs[s->i] = err;
    w->resps[s->i] = resp;
    w->pending--;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void execute_all(rerun_ctx *x, const rev2_digest *action, const bool *ready, action_run *runs,
                        Rev2ActionResult **results)
{
    exec_wait w = {0};
    exec_slot slots[ACTION_RERUN_MAX_TARGETS];
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    size_t n = x->n_targets;
    for (size_t i = 0; i < n; i++)
        w.pending += ready[i];
    rev2_execute_options eo = {.skip_cache_lookup = !!x->o->bypass_cache, .max_queued_ms = x->o->max_queued_ms};
    for (size_t i = 0; i < n; i++) {
        if (!ready[i])
            continue;
        slots[i] = (exec_slot){&w, i};
        rev2_execute(x->client, x->targets[i], action, &eo, NULL, executed, &slots[i]);
    }
    /* Each Execute ends by buildbarn.execute_timeout_ms (and max_queued_ms
     * while queued): the client's deadline bounds this wait. */
    pthread_mutex_lock(&w.lock);
    while (w.pending > 0)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    for (size_t i = 0; i < n; i++) {
        if (!ready[i])
            continue;
        action_run_from_execute(&runs[i], x->targets[i], w.errs[i], w.resps[i]);
        if (results && w.resps[i]) { /* the caller keeps the result */
            results[i] = w.resps[i]->result;
            w.resps[i]->result = NULL;
        }
        rev2_error_free(w.errs[i]);
        rev2_msg_free(w.resps[i]);
    }
}

void action_rerun(rev2_client *client, const rev2_digest *action, const char *const *sources, size_t n_sources,
                  const char *const *targets, size_t n_targets, const action_rerun_options *o, action_run *runs,
                  rev2_digest *executed, Rev2ActionResult **results)
{
    rerun_ctx x = {client, o, targets, n_targets};
    source_list s = {sources, n_sources};
    bool ready[ACTION_RERUN_MAX_TARGETS] = {false};
    if (results)
        for (size_t i = 0; i < n_targets; i++)
            results[i] = NULL;
    action_needs nd = {.executed = *action};
    char *why = NULL;
    int code = 0;
    if (n_targets > ACTION_RERUN_MAX_TARGETS) {
        for (size_t i = 0; i < n_targets; i++)
            action_run_failed(&runs[i], targets[i], REV2_INVALID_ARGUMENT, "too many instance names at once");
    } else if (prepare(&x, action, &s, &nd, &code, &why) < 0) {
        for (size_t i = 0; i < n_targets; i++)
            action_run_failed(&runs[i], targets[i], code, why);
        free(why);
    } else {
        for (size_t i = 0; i < n_targets; i++) {
            if (ensure_blobs(&x, &s, targets[i], &nd, &why, &code) < 0) {
                action_run_failed(&runs[i], targets[i], code, why);
                free(why);
                why = NULL;
            } else {
                ready[i] = true;
            }
        }
        execute_all(&x, &nd.executed, ready, runs, results);
    }
    *executed = nd.executed;
    needs_free(&nd);
}
