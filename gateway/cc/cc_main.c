/* gomabarn-cc: a goma client for make and friends.
 *
 *   CC="gomabarn-cc gcc" make
 *
 * A compile (-c) of one source file goes to the gomabarn gateway over the
 * goma protocol (cc_remote.h). Anything else (links, -E, several sources)
 * runs locally, and so does a compile the gateway cannot do when
 * GOMABARN_FALLBACK is on. The remote compile has one deadline for all its
 * waits (GOMABARN_DEADLINE), and after a delay a local compile races it
 * (GOMABARN_RACE; cc_local.h): whichever finishes first is kept, the other
 * is killed or dropped. Each compile that does not end on the gateway says
 * why in one line on stderr.
 *
 * Environment: GOMABARN_SERVER (host:port, default 127.0.0.1:5050),
 * GOMABARN_PATH_PREFIX (/cxx-compiler-service), GOMABARN_TOKEN_FILE
 * (a file with the bearer token), GOMABARN_INSTANCE (instance name for this
 * compile), GOMABARN_FALLBACK (1: compile locally when the gateway fails;
 * default 1), GOMABARN_VERBOSE (1: say what happens),
 * GOMABARN_TOOLCHAIN_INCLUDED (1: ship the compiler too, as goma's client
 * does with GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true; cc_toolchain.h),
 * GOMABARN_DEADLINE (seconds, default 300), GOMABARN_RACE (auto, 0 or a
 * delay in seconds; default auto: cc_local_times.h), GOMABARN_BUILD_ID
 * (which learned local times to use, default the working directory; and
 * the build the gateway's /build page groups it in, default the parent
 * process). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_args.h"
#include "http_client.h"
#include "cc_local.h"
#include "cc_local_times.h"
#include "cc_log.h"
#include "cc_remote.h"
#include "cc_wait.h"
#include "errmsg.h"
#include "mem.h"

#define DEFAULT_DEADLINE_S 300.0
#define UNKNOWN_LOCAL_S 10.0 /* the race delay while no local compile time is known */
#define MIN_RACE_S 1.0       /* a learned delay never races a compile earlier than this */
#define NEVER 1e18

static const char usage[] =
    "usage: gomabarn-cc COMPILER [ARGS...]   e.g. CC=\"gomabarn-cc gcc\" make\n"
    "Compiles through the gomabarn gateway (goma protocol); anything but a\n"
    "compile of one source runs locally. Environment:\n"
    "  GOMABARN_SERVER       host:port of the gateway (default 127.0.0.1:5050)\n"
    "  GOMABARN_PATH_PREFIX  goma's URL prefix (default /cxx-compiler-service)\n"
    "  GOMABARN_TOKEN_FILE   a file with the bearer token\n"
    "  GOMABARN_INSTANCE     the instance name for this compile\n"
    "  GOMABARN_FALLBACK     1: compile locally when the gateway fails (default); 0: fail\n"
    "  GOMABARN_VERBOSE      1: say what happens to each compile\n"
    "  GOMABARN_TOOLCHAIN_INCLUDED  1: send the compiler, cc1 and as as inputs with\n"
    "                        toolchain specs, like goma's GOMA_ARBITRARY_TOOLCHAIN_SUPPORT=true\n"
    "  GOMABARN_DEADLINE     seconds one compile may wait for the gateway in all (default 300)\n"
    "  GOMABARN_RACE         when a local compile starts racing the remote one: auto (default:\n"
    "                        once the remote one has run longer than a local compile of this\n"
    "                        build needs: the CPU time they took, at least 1 s; 10 s while\n"
    "                        none is known), a delay in seconds, or 0: never\n"
    "  GOMABARN_BUILD_ID     which build this compile belongs to: the local compile times\n"
    "                        to learn from (default: the working directory) and the\n"
    "                        gateway's /build page (default: the parent process, make)\n";

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    return strncmp(line, "Bearer ", 7) == 0 ? gmb_strdup(line) : gmb_format("Bearer %s", line);
}

static bool env_on(const char *name, bool dflt)
{
    const char *v = getenv(name);
    return v && *v ? strcmp(v, "0") != 0 : dflt;
}

/* A number of seconds >= 0 from the environment; `dflt` when unset or not a number (said once). */
static double env_seconds(const char *name, const char *v, double dflt)
{
    if (!v || !*v)
        return dflt;
    char *end;
    double s = strtod(v, &end);
    if (end == v || *end || s < 0 || s != s) {
        cc_tell("%s=%s is not a number of seconds; using %g", name, v, dflt);
        return dflt;
    }
    return s;
}

/* The race delay from GOMABARN_RACE: NEVER for 0; *how says where it came from. */
static double race_delay(char how[128])
{
    const char *v = getenv("GOMABARN_RACE");
    if (v && *v && strcmp(v, "auto") != 0) {
        double s = env_seconds("GOMABARN_RACE", v, -1);
        if (s == 0) {
            snprintf(how, 128, "GOMABARN_RACE=0");
            return NEVER;
        }
        if (s > 0) {
            snprintf(how, 128, "GOMABARN_RACE=%s", v);
            return s;
        }
    }
    size_t n;
    double expected = cc_local_times_expected(&n);
    if (!n) {
        snprintf(how, 128, "no local compile time known yet");
        return UNKNOWN_LOCAL_S;
    }
    snprintf(how, 128, "learned from %zu local compile%s, 90th percentile %.2f s of CPU", n, n == 1 ? "" : "s",
             expected);
    return expected > MIN_RACE_S ? expected : MIN_RACE_S;
}

/* The racer for this compile, or NULL (the log says why not). */
static cc_racer *plan_race(int argc, char **argv, const compile_args *c, cc_wait *w, double start)
{
    if (!env_on("GOMABARN_FALLBACK", true)) {
        cc_say("no local compile races %s: GOMABARN_FALLBACK=0", c->source);
        return NULL;
    }
    char how[128];
    double delay = race_delay(how);
    if (delay >= NEVER) {
        cc_say("no local compile races %s: %s", c->source, how);
        return NULL;
    }
    const char *why;
    cc_racer *r = cc_racer_new(argc, argv, c, &why);
    if (!r) {
        cc_say("no local compile races %s (only the deadline applies): %s", c->source, why);
        return NULL;
    }
    w->racer = r;
    w->race_s = delay;
    w->race_at = start + delay;
    cc_say("a local compile races %s after %.2f s (%s)", c->source, delay, how);
    return r;
}

/* The remote compile lost or failed: the racer's result if it has one,
 * else a local compile; or 1 when fallback is off. `why` is the remote
 * side's reason. */
static int compile_locally(char **cmd, const compile_args *c, cc_racer *r, double race_s, const char *why)
{
    if (r && cc_racer_state_of(r) == CC_RACER_RUNNING)
        cc_racer_wait(r); /* it is the fallback already under way */
    if (r && cc_racer_state_of(r) == CC_RACER_FINISHED) {
        double cpu = cc_racer_cpu_seconds(r);
        const char *cwhy;
        int code = cc_racer_commit(r, &cwhy);
        if (code >= 0) {
            if (code == 0)
                cc_local_times_record(cpu);
            if (strcmp(why, "the local compile finished first") == 0)
                cc_tell("compiled %s locally: the gateway had not answered after %.2f s, so a local compile "
                        "started and finished first",
                        c->source, race_s);
            else
                cc_tell("compiled %s locally: %s (the local compile had been racing since %.2f s)", c->source, why,
                        race_s);
            return code;
        }
        cc_tell("the local compile of %s that won the race could not be kept (%s); compiling it again", c->source,
                cwhy);
    }
    if (!env_on("GOMABARN_FALLBACK", true)) {
        cc_tell("the compile of %s did not go through the gateway (%s), and GOMABARN_FALLBACK=0", c->source, why);
        return 1;
    }
    cc_tell("compiling %s locally: %s", c->source, why);
    double cpu = 0;
    int code = cc_local_run(cmd, &cpu);
    if (code == 0)
        cc_local_times_record(cpu);
    return code;
}

static int compile(int argc, char **cmd, const compile_args *c)
{
    double start = cc_now();
    const char *server = getenv("GOMABARN_SERVER") ? getenv("GOMABARN_SERVER") : "127.0.0.1:5050";
    char *host = gmb_strdup(server);
    char *colon = strrchr(host, ':');
    int port = 5050;
    if (colon) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    double deadline_s = env_seconds("GOMABARN_DEADLINE", getenv("GOMABARN_DEADLINE"), DEFAULT_DEADLINE_S);
    cc_wait w = {.deadline = start + deadline_s, .deadline_s = deadline_s, .race_at = NEVER};
    cc_racer *racer = plan_race(argc, cmd, c, &w, start);
    char *auth = getenv("GOMABARN_TOKEN_FILE") ? read_token(getenv("GOMABARN_TOKEN_FILE")) : NULL;
    http_client_target t = {.host = host,
                            .port = port,
                            .instance = getenv("GOMABARN_INSTANCE"),
                            .authorization = auth,
                            .wait = cc_wait_fd,
                            .wait_user = &w};
    const char *prefix = getenv("GOMABARN_PATH_PREFIX") ? getenv("GOMABARN_PATH_PREFIX") : "/cxx-compiler-service";
    char *why = NULL;
    cc_remote_answer *a = cc_remote_compile(&t, prefix, c, cmd[0], env_on("GOMABARN_TOOLCHAIN_INCLUDED", false), &why);
    free(host);
    free(auth);
    int rc = -1;
    if (a) {
        /* The commit point: the answer is all in memory, so the racer goes. */
        bool raced = racer && cc_racer_state_of(racer) != CC_RACER_IDLE;
        if (racer)
            cc_racer_cancel(racer);
        rc = cc_remote_answer_write(a, c, &why);
        if (rc >= 0)
            cc_say("%s compiled on the gateway%s (exit %d)%s", c->source,
                   cc_remote_answer_cache_hit(a) ? ", from the cache" : "", rc,
                   raced ? "; it answered before the racing local compile finished, which was stopped" : "");
        cc_remote_answer_free(a);
    }
    if (rc < 0)
        rc = compile_locally(cmd, c, racer, w.race_s, why);
    free(why);
    cc_racer_free(racer);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    cc_verbose = env_on("GOMABARN_VERBOSE", false);
    char **cmd = argv + 1;
    compile_args c;
    if (!cc_args_parse(argc - 1, cmd, &c)) {
        cc_say("not a single compile: running %s locally", cmd[0]);
        cc_args_free(&c);
        execvp(cmd[0], cmd);
        fprintf(stderr, "gomabarn-cc: cannot run %s: %s\n", cmd[0], strerror(errno));
        return 127;
    }
    int rc = compile(argc - 1, cmd, &c);
    cc_args_free(&c);
    return rc;
}
