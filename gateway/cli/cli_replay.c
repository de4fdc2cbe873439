/* `gomabarn replay`: runs actions seen before (the gateway's action log,
 * or digests) again on one or more instance names with the action cache
 * bypassed, and prints the comparison (action_compare.h).
 *
 * Per action, on a thread of a small fixed pool (--in-flight): read the
 * Action from the first instance name whose CAS has it, walk its input
 * root, make sure every instance's CAS holds the Action's blobs (copying
 * missing ones one at a time, big ones through a temporary file), upload
 * a do_not_cache twin of the Action, and Execute the twin on all instance
 * names at once with skip_cache_lookup. Every call has the REv2 client's
 * deadline (buildbarn.call_timeout_ms, execute_timeout_ms,
 * exec.max_queued_s), so every wait here ends. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "action_compare.h"
#include "cli.h"
#include "client_config.h"
#include "errmsg.h"
#include "log.h"
#include "mem.h"
#include "rev2_blocking.h"

static const char usage[] =
    "usage: gomabarn replay [options] --instance NAME [--instance NAME...] (--actions FILE | DIGEST...)\n"
    "\n"
    "Runs actions seen before again on each instance name, with the action cache\n"
    "bypassed (skip_cache_lookup, and a twin of the Action with do_not_cache set, so\n"
    "nothing is written to the cache), and compares them: exit codes, every output's\n"
    "digest, stdout and stderr, and the worker's phases (queued, input fetch,\n"
    "execution, output upload, total) as p50/p90/p99 per instance name with the\n"
    "ratio to the first one. Blobs an instance's CAS lacks are copied from another\n"
    "instance name that has them. Exit 0 when every action matched, 1 on any\n"
    "mismatch or failure, 2 on a usage or configuration error.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE      gomabarn configuration (default: built-in defaults,\n"
    "                         Buildbarn at 127.0.0.1:8980)\n"
    "  -n, --instance NAME    an instance name to run on (repeat; \"\" is valid)\n"
    "  -a, --actions FILE     actions, one a line: \"<hash>/<size>\", or the gateway's\n"
    "                         exec.action_log line \"<unix time> <instance> <hash>/<size>\n"
    "                         <outcome>\"; blank and # lines are skipped, repeats run once\n"
    "  -j, --in-flight N      actions in flight at once (default 8, at most 256)\n"
    "      --json             print the comparison as JSON\n"
    "      --no-cache-bypass  run the actions as they are, cache lookup allowed\n"
    "  -h, --help             this text\n"
    "\n"
    "example:\n"
    "  gomabarn replay --instance hardlinking --instance fuse --actions /var/log/gomabarn/actions.log\n";

#define MAX_INSTANCES 16
#define MAX_IN_FLIGHT 256
#define MAX_ACTIONS 1000000
#define MAX_BLOBS 1000000                    /* per action: the Command, Directories and files */
#define MAX_MESSAGE_BYTES ((size_t)64 << 20) /* an Action or Directory read into memory */
#define FIND_MISSING_CHUNK 10000             /* digests per FindMissingBlobs call */
#define PROGRESS_EVERY_S 5
#define MAX_LISTED 50 /* mismatches and failures in the text */

static const char *const me = "gomabarn replay";

/* ---- A set of digests (open addressing) -------------------------------- */

typedef struct {
    rev2_digest *slots; /* an empty slot has hash[0] == '\0' */
    size_t cap, n;
} digest_set;

static size_t digest_slot(const rev2_digest *d, size_t cap)
{
    uint64_t h = (uint64_t)d->size;
    for (int i = 0; i < 16; i++)
        h = h * 131 + (unsigned char)d->hash[i];
    return (size_t)(h % cap);
}

static void digest_set_insert(rev2_digest *slots, size_t cap, const rev2_digest *d)
{
    size_t i = digest_slot(d, cap);
    while (slots[i].hash[0])
        i = (i + 1) % cap;
    slots[i] = *d;
}

/* True if d was not in the set yet. */
static bool digest_set_add(digest_set *s, const rev2_digest *d)
{
    if (s->cap) {
        size_t i = digest_slot(d, s->cap);
        while (s->slots[i].hash[0]) {
            if (rev2_digest_equal(&s->slots[i], d))
                return false;
            i = (i + 1) % s->cap;
        }
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        rev2_digest *slots = gmb_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].hash[0])
                digest_set_insert(slots, cap, &s->slots[i]);
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    digest_set_insert(s->slots, s->cap, d);
    s->n++;
    return true;
}

static void digest_set_free(digest_set *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* ---- The command line and the list of actions -------------------------- */

typedef struct {
    rev2_digest digest;
    char *source; /* the instance name in the log line, or NULL */
} replay_entry;

typedef struct {
    const char *config_path, *actions_file;
    const char *instances[MAX_INSTANCES];
    size_t n_instances;
    int in_flight;
    bool json, no_bypass;
} replay_args;

/* -1 to go on, else the exit status (the complaint printed). */
static int parse_args(int argc, char **argv, replay_args *a)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},  {"instance", required_argument, NULL, 'n'},
        {"actions", required_argument, NULL, 'a'}, {"in-flight", required_argument, NULL, 'j'},
        {"json", no_argument, NULL, 'J'},          {"no-cache-bypass", no_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    a->in_flight = 8;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:n:a:j:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'n':
            for (size_t i = 0; i < a->n_instances; i++) {
                if (strcmp(a->instances[i], optarg) == 0) {
                    fprintf(stderr, "%s: --instance \"%s\" is given twice\n", me, optarg);
                    return 2;
                }
            }
            if (a->n_instances == MAX_INSTANCES) {
                fprintf(stderr, "%s: at most %d instance names\n", me, MAX_INSTANCES);
                return 2;
            }
            a->instances[a->n_instances++] = optarg;
            break;
        case 'a':
            a->actions_file = optarg;
            break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || n < 1 || n > MAX_IN_FLIGHT) {
                fprintf(stderr, "%s: bad value \"%s\" for --in-flight (expected 1 to %d)\n", me, optarg, MAX_IN_FLIGHT);
                return 2;
            }
            a->in_flight = (int)n;
            break;
        }
        case 'J':
            a->json = true;
            break;
        case 'B':
            a->no_bypass = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (a->n_instances == 0) {
        fprintf(stderr, "%s: no --instance given (say where to run the actions)\n\n%s", me, usage);
        return 2;
    }
    if (!a->actions_file == (optind >= argc)) {
        fprintf(stderr, "%s: give either --actions FILE or action digests, %s\n\n%s", me,
                a->actions_file ? "not both" : "one of them", usage);
        return 2;
    }
    return -1;
}

typedef struct {
    replay_entry *items;
    size_t n, cap;
    size_t duplicates;
    digest_set seen;
} entry_list;

/* Adds an action unless it is listed already; false past MAX_ACTIONS. */
static bool entry_add(entry_list *l, const rev2_digest *d, const char *source)
{
    if (!digest_set_add(&l->seen, d)) {
        l->duplicates++;
        return true;
    }
    if (l->n == MAX_ACTIONS)
        return false;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = gmb_realloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->n++] = (replay_entry){*d, source ? gmb_strdup(source) : NULL};
    return true;
}

static void entry_list_free(entry_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].source);
    free(l->items);
    digest_set_free(&l->seen);
}

/* The action log writes "" for the empty name and %XX for a space, '%'
 * or a newline. */
static void decode_instance(const char *in, char *out)
{
    if (strcmp(in, "\"\"") == 0) {
        *out = '\0';
        return;
    }
    while (*in) {
        unsigned v;
        if (in[0] == '%' && in[1] && in[2] && sscanf(in + 1, "%2x", &v) == 1) {
            *out++ = (char)v;
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
}

static int read_actions(const char *path, entry_list *l, char **err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return gmb_fail(err, "cannot open %s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = gmb_fail(err, "%s:%d: line too long", path, lineno);
            break;
        }
        char *fields[5];
        int n = 0;
        for (char *tok = strtok(line, " \t\r\n"); tok && n < 5; tok = strtok(NULL, " \t\r\n"))
            fields[n++] = tok;
        if (n == 0 || fields[0][0] == '#')
            continue;
        if (n != 1 && n != 4) {
            rc =
                gmb_fail(err, "%s:%d: expected \"<hash>/<size>\" or \"<unix time> <instance> <hash>/<size> <outcome>\"",
                         path, lineno);
            break;
        }
        const char *text = n == 1 ? fields[0] : fields[2];
        rev2_digest d;
        if (!rev2_digest_parse(text, &d)) {
            rc = gmb_fail(err, "%s:%d: \"%s\" is not an action digest (expected <hash>/<size>)", path, lineno, text);
            break;
        }
        char source[sizeof line];
        if (n == 4)
            decode_instance(fields[1], source);
        if (!entry_add(l, &d, n == 4 ? source : NULL))
            rc = gmb_fail(err, "%s: more than %d actions; split the file", path, MAX_ACTIONS);
    }
    if (rc == 0 && ferror(f))
        rc = gmb_fail(err, "reading %s: %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    if (rc == 0 && l->n == 0)
        rc = gmb_fail(err, "%s lists no action", path);
    return rc;
}

/* ---- Replaying one action ---------------------------------------------- */

typedef struct {
    rev2_client *client;
    const replay_args *args;
    const replay_entry *entries;
    size_t n_entries;
    action_report *report;
    int64_t max_queued_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t next, done; /* entries taken, entries finished */
} replay_ctx;

/* Where one action's blobs are read from: the log line's instance name,
 * then each --instance. */
typedef struct {
    const char *names[MAX_INSTANCES + 1];
    size_t n;
} source_list;

static void sources_of(const replay_ctx *x, const replay_entry *e, source_list *s)
{
    s->n = 0;
    if (e->source)
        s->names[s->n++] = e->source;
    for (size_t i = 0; i < x->args->n_instances; i++)
        if (!e->source || strcmp(e->source, x->args->instances[i]) != 0)
            s->names[s->n++] = x->args->instances[i];
}

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
static int read_any(replay_ctx *x, const source_list *s, const rev2_digest *d, gmb_buf *out, char **why)
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
static int walk_input_root(replay_ctx *x, const source_list *s, const rev2_digest *root, action_needs *nd, char **why)
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
static int prepare(replay_ctx *x, const replay_entry *e, const source_list *s, action_needs *nd, int *code, char **why)
{
    char ds[REV2_DIGEST_STR_LEN];
    rev2_digest_str(&e->digest, ds);
    gmb_buf buf;
    gmb_buf_init(&buf, MAX_MESSAGE_BYTES);
    int got = read_any(x, s, &e->digest, &buf, why);
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
    nd->executed = e->digest;
    if (x->args->no_bypass) {
        needs_add(nd, &e->digest);
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
static rev2_error *copy_big_blob(replay_ctx *x, const char *from, const char *to, const rev2_digest *d)
{
    const char *tmp = getenv("TMPDIR");
    char *path = gmb_format("%s/gomabarn-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
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
static rev2_error *copy_blob(replay_ctx *x, const source_list *s, const char *to, const rev2_digest *d)
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
static int ensure_blobs(replay_ctx *x, const source_list *s, const char *to, const action_needs *nd, char **why,
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
    rev2_error *errs[MAX_INSTANCES];
    Rev2ExecuteResponse *resps[MAX_INSTANCES];
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

static void execute_all(replay_ctx *x, const rev2_digest *action, const bool *ready, action_run *runs)
{
    exec_wait w = {0};
    exec_slot slots[MAX_INSTANCES];
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    size_t n = x->args->n_instances;
    for (size_t i = 0; i < n; i++)
        w.pending += ready[i];
    rev2_execute_options eo = {.skip_cache_lookup = !x->args->no_bypass, .max_queued_ms = x->max_queued_ms};
    for (size_t i = 0; i < n; i++) {
        if (!ready[i])
            continue;
        slots[i] = (exec_slot){&w, i};
        rev2_execute(x->client, x->args->instances[i], action, &eo, NULL, executed, &slots[i]);
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
        action_run_from_execute(&runs[i], x->args->instances[i], w.errs[i], w.resps[i]);
        rev2_error_free(w.errs[i]);
        rev2_msg_free(w.resps[i]);
    }
}

static void replay_one(replay_ctx *x, const replay_entry *e)
{
    size_t n = x->args->n_instances;
    action_run runs[MAX_INSTANCES];
    bool ready[MAX_INSTANCES] = {false};
    source_list s;
    sources_of(x, e, &s);
    action_needs nd = {.executed = e->digest};
    char *why = NULL;
    int code = 0;
    if (prepare(x, e, &s, &nd, &code, &why) < 0) {
        for (size_t i = 0; i < n; i++)
            action_run_failed(&runs[i], x->args->instances[i], code, why);
        free(why);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (ensure_blobs(x, &s, x->args->instances[i], &nd, &why, &code) < 0) {
                action_run_failed(&runs[i], x->args->instances[i], code, why);
                free(why);
                why = NULL;
            } else {
                ready[i] = true;
            }
        }
        execute_all(x, &nd.executed, ready, runs);
    }
    action_report_add(x->report, &e->digest, &nd.executed, runs);
    for (size_t i = 0; i < n; i++)
        action_run_free(&runs[i]);
    needs_free(&nd);
}

static void *replay_thread(void *arg)
{
    replay_ctx *x = arg;
    for (;;) {
        pthread_mutex_lock(&x->lock);
        size_t i = x->next < x->n_entries ? x->next++ : x->n_entries;
        pthread_mutex_unlock(&x->lock);
        if (i == x->n_entries)
            return NULL;
        replay_one(x, &x->entries[i]);
        pthread_mutex_lock(&x->lock);
        x->done++;
        pthread_cond_signal(&x->cond);
        pthread_mutex_unlock(&x->lock);
    }
}

/* Runs every entry on the pool, saying how far it got every few seconds. */
static void replay_all(replay_ctx *x)
{
    size_t n_threads = (size_t)x->args->in_flight < x->n_entries ? (size_t)x->args->in_flight : x->n_entries;
    pthread_t *threads = gmb_calloc(n_threads, sizeof *threads);
    size_t started = 0;
    for (; started < n_threads; started++)
        if (pthread_create(&threads[started], NULL, replay_thread, x) != 0)
            break;
    if (started == 0) /* no thread at all: do the work here */
        replay_thread(x);
    time_t last = time(NULL);
    pthread_mutex_lock(&x->lock);
    while (x->done < x->n_entries) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&x->cond, &x->lock, &until);
        if (x->done < x->n_entries && time(NULL) - last >= PROGRESS_EVERY_S) {
            action_report_counts c;
            action_report_counts_get(x->report, &c);
            fprintf(stderr, "%s: %zu/%zu actions done (%zu mismatched, %zu failed)\n", me, x->done, x->n_entries,
                    c.mismatched, c.failed);
            last = time(NULL);
        }
    }
    pthread_mutex_unlock(&x->lock);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
}

int gmb_cli_replay(int argc, char **argv)
{
    replay_args a = {0};
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    status = 2;
    entry_list entries = {0};
    gmb_config cfg;
    gmb_config_defaults(&cfg);
    char *err = NULL;
    rev2_client *client = NULL;
    action_report *report = NULL;
    if (a.actions_file) {
        if (read_actions(a.actions_file, &entries, &err) < 0)
            goto fail;
    } else {
        for (int i = optind; i < argc; i++) {
            rev2_digest d;
            if (!rev2_digest_parse(argv[i], &d)) {
                err = gmb_format("\"%s\" is not an action digest (expected <hash>/<size>)", argv[i]);
                goto fail;
            }
            entry_add(&entries, &d, NULL);
        }
    }
    if (a.config_path && gmb_config_load(a.config_path, &cfg, &err) < 0)
        goto fail;
    gmb_log_set_level(gmb_log_parse_level(cfg.log_level));
    client = gmb_client_from_config(&cfg, &err);
    if (!client)
        goto fail;
    if (entries.duplicates)
        fprintf(stderr, "%s: %zu actions (%zu repeated lines run once)\n", me, entries.n, entries.duplicates);

    action_report_options ro = {0}; /* keep everything: a replay ends */
    report = action_report_new(a.instances, a.n_instances, &ro);
    replay_ctx x = {
        .client = client,
        .args = &a,
        .entries = entries.items,
        .n_entries = entries.n,
        .report = report,
        .max_queued_ms = cfg.exec_max_queued_s * 1000,
    };
    pthread_mutex_init(&x.lock, NULL);
    pthread_cond_init(&x.cond, NULL);
    replay_all(&x);
    pthread_mutex_destroy(&x.lock);
    pthread_cond_destroy(&x.cond);

    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    if (a.json)
        action_report_json(report, &out);
    else
        action_report_text(report, MAX_LISTED, &out);
    fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    gmb_buf_free(&out);
    action_report_counts c;
    action_report_counts_get(report, &c);
    status = c.matched == c.actions ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "%s: %s\n", me, err);
    free(err);
done:
    action_report_free(report);
    rev2_client_free(client);
    entry_list_free(&entries);
    gmb_config_free(&cfg);
    return status;
}
