/* `gomabarn replay`: runs actions seen before (the gateway's action log,
 * or digests) again on one or more instance names with the action cache
 * bypassed, and prints the comparison (action_compare.h).
 *
 * Here: the command line, the list of actions, and a small fixed pool of
 * threads (--in-flight), each running one action at a time with
 * action_rerun (action_rerun.h: blobs copied where missing, a
 * do_not_cache twin, every instance name at once, every wait bounded by
 * the REv2 client's deadlines), and progress on stderr. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "action_compare.h"
#include "cli_args.h"
#include "action_rerun.h"
#include "digest_set.h"
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

#define MAX_INSTANCES ACTION_RERUN_MAX_TARGETS
#define MAX_IN_FLIGHT 256
#define MAX_ACTIONS 1000000
#define PROGRESS_EVERY_S 5
#define MAX_LISTED 50 /* mismatches and failures in the text */

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

static const char *const me = "gomabarn replay";
static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},  {"instance", required_argument, NULL, 'n'},
    {"actions", required_argument, NULL, 'a'}, {"in-flight", required_argument, NULL, 'j'},
    {"json", no_argument, NULL, 'J'},          {"no-cache-bypass", no_argument, NULL, 'B'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
};

static int replay_option(const gmb_cli_spec *spec, int opt, const char *arg)
{
    replay_args *a = spec->user;
    switch (opt) {
    case 'n':
        for (size_t i = 0; i < a->n_instances; i++)
            if (strcmp(a->instances[i], arg) == 0)
                return gmb_cli_usage_error(spec, false, "--instance \"%s\" is given twice", arg);
        if (a->n_instances == MAX_INSTANCES)
            return gmb_cli_usage_error(spec, false, "at most %d instance names", MAX_INSTANCES);
        a->instances[a->n_instances++] = arg;
        return -1;
    case 'a':
        a->actions_file = arg;
        return -1;
    case 'j': {
        char *end;
        long n = strtol(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || n < 1 || n > MAX_IN_FLIGHT)
            return gmb_cli_usage_error(spec, false, "bad value \"%s\" for --in-flight (expected 1 to %d)", arg,
                                       MAX_IN_FLIGHT);
        a->in_flight = (int)n;
        return -1;
    }
    case 'J':
        a->json = true;
        return -1;
    default: /* 'B' */
        a->no_bypass = true;
        return -1;
    }
}

/* -1 to go on, else the exit status (the complaint printed). */
static int parse_args(int argc, char **argv, replay_args *a)
{
    const gmb_cli_spec spec = {me, usage, "c:n:a:j:h", options, replay_option, a};
    a->in_flight = 8;
    int status = gmb_cli_options(&spec, argc, argv, &a->config_path);
    if (status >= 0)
        return status;
    if (a->n_instances == 0)
        return gmb_cli_usage_error(&spec, true, "no --instance given (say where to run the actions)");
    if (!a->actions_file == (optind >= argc))
        return gmb_cli_usage_error(&spec, true, "give either --actions FILE or action digests, %s",
                                   a->actions_file ? "not both" : "one of them");
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

static void replay_one(replay_ctx *x, const replay_entry *e)
{
    size_t n = x->args->n_instances;
    action_run runs[MAX_INSTANCES];
    source_list s;
    sources_of(x, e, &s);
    action_rerun_options o = {.bypass_cache = !x->args->no_bypass, .max_queued_ms = x->max_queued_ms};
    rev2_digest executed;
    action_rerun(x->client, &e->digest, s.names, s.n, x->args->instances, n, &o, runs, &executed, NULL);
    action_report_add(x->report, &e->digest, &executed, runs);
    for (size_t i = 0; i < n; i++)
        action_run_free(&runs[i]);
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
