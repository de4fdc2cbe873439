#include "cc_local.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "mem.h"

struct cc_racer {
    char **argv;             /* the command with -o/-MF at the temporary names */
    char *tmp_out, *tmp_dep; /* temporary names next to the real ones; tmp_dep NULL without a dep file */
    const char *out, *dep;   /* the real names */
    int out_fd, err_fd;      /* its stdout and stderr: unlinked temporary files */
    pid_t pid;               /* also its process group */
    cc_racer_state state;
    int status; /* its wait status, once finished */
    double started, ended;
    double cpu; /* CPU seconds it and what it started used, once finished */
};

static int wake[2] = {-1, -1};             /* SIGCHLD self-pipe */
static volatile sig_atomic_t running_pgid; /* the racer to kill if we are killed */
static const char *volatile running_files[2];

double cc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_child(int sig)
{
    int saved = errno;
    char b = 0;
    if (write(wake[1], &b, 1) < 0) { /* full pipe: a wake-up is pending anyway */
    }
    errno = saved;
}

/* Whatever kills us kills the racer first and removes its files. */
static void on_terminate(int sig)
{
    if (running_pgid > 0)
        kill(-(pid_t)running_pgid, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (running_files[i])
            unlink(running_files[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The CPU time (user and system) in `ru`: the child's and that of the
 * processes it waited for (the driver waits for cc1 and as). */
static double cpu_seconds(const struct rusage *ru)
{
    return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
           (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* Waits for `pid` (flags: 0 or WNOHANG): 0 once it was reaped, with its
 * status and CPU seconds; -1 if it was not. */
static int wait_child(pid_t pid, int flags, int *status, double *cpu)
{
    struct rusage ru;
    pid_t w;
    while ((w = wait4(pid, status, flags, &ru)) < 0 && errno == EINTR) {
    }
    if (w != pid)
        return -1;
    *cpu = cpu_seconds(&ru);
    return 0;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

int cc_local_run(char **argv, double *cpu)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "gomabarn-cc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || wait_child(pid, 0, &status, cpu) < 0) {
        fprintf(stderr, "gomabarn-cc: cannot run %s: %s\n", argv[0], strerror(errno));
        return 127;
    }
    return exit_code(status);
}

/* A file can be made at `tmp` (then removed again), and `real` is absent or a regular file. */
static const char *can_replace(const char *real, const char *tmp)
{
    struct stat st;
    if (stat(real, &st) == 0 && !S_ISREG(st.st_mode))
        return "an output is not a regular file";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return "no temporary file can be made next to an output";
    close(fd);
    unlink(tmp);
    return NULL;
}

static int unlinked_temp(void)
{
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *name = gmb_format("%s/gomabarn-cc-race-XXXXXX", dir);
    int fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0)
        unlink(name);
    free(name);
    return fd;
}

cc_racer *cc_racer_new(int argc, char **argv, const compile_args *c, const char **why)
{
    if ((*why = cc_args_race_refusal(argc, argv)))
        return NULL;
    cc_racer *r = gmb_calloc(1, sizeof *r);
    r->out_fd = r->err_fd = -1;
    r->out = c->output;
    r->tmp_out = gmb_format("%s.gomabarn-race-%d", c->output, (int)getpid());
    *why = can_replace(r->out, r->tmp_out);
    if (!*why && c->dep_wanted) {
        r->dep = c->dep_file;
        r->tmp_dep = gmb_format("%s.gomabarn-race-%d", c->dep_file, (int)getpid());
        *why = can_replace(r->dep, r->tmp_dep);
    }
    if (!*why && ((r->out_fd = unlinked_temp()) < 0 || (r->err_fd = unlinked_temp()) < 0))
        *why = "no temporary file can be made for the compiler's messages (TMPDIR)";
    if (!*why && wake[0] < 0) {
        struct sigaction sa = {.sa_handler = on_child, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
        sigemptyset(&sa.sa_mask);
        if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0 || sigaction(SIGCHLD, &sa, NULL) < 0)
            *why = "cannot watch for the local compile's end (pipe, SIGCHLD)";
    }
    if (*why) {
        cc_racer_free(r);
        return NULL;
    }
    r->argv = cc_args_racer_argv(argc, argv, c, r->tmp_out, r->tmp_dep);
    return r;
}

bool cc_racer_start(cc_racer *r, const char **why)
{
    struct sigaction sa = {.sa_handler = on_terminate};
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        sigaction(fatal[i], &sa, NULL);
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* the racer's orphans come to us (cc_racer_cancel) */
    running_files[0] = r->tmp_out;
    running_files[1] = r->tmp_dep;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(r->out_fd, 1) < 0 || dup2(r->err_fd, 2) < 0)
            _exit(127);
        execvp(r->argv[0], r->argv);
        fprintf(stderr, "gomabarn-cc: cannot run %s: %s\n", r->argv[0], strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        r->state = CC_RACER_FAILED;
        *why = "cannot start the local compile (fork failed)";
        return false;
    }
    setpgid(pid, pid); /* also here: the group exists before we may kill it */
    running_pgid = pid;
    r->pid = pid;
    r->state = CC_RACER_RUNNING;
    r->started = cc_now();
    return true;
}

int cc_racer_wake_fd(const cc_racer *r)
{
    return wake[0];
}

static void remove_files(cc_racer *r)
{
    running_pgid = 0;
    running_files[0] = running_files[1] = NULL;
    unlink(r->tmp_out);
    if (r->tmp_dep)
        unlink(r->tmp_dep);
}

static void note_exit(cc_racer *r, int status)
{
    r->status = status;
    r->ended = cc_now();
    r->state = WIFEXITED(status) ? CC_RACER_FINISHED : CC_RACER_FAILED;
    if (r->state == CC_RACER_FAILED) { /* killed by someone: what it started goes too */
        kill(-r->pid, SIGKILL);
        remove_files(r);
    }
    running_pgid = 0;
}

cc_racer_state cc_racer_check(cc_racer *r)
{
    char drain[64];
    while (read(wake[0], drain, sizeof drain) > 0) {
    }
    int status;
    if (r->state == CC_RACER_RUNNING && wait_child(r->pid, WNOHANG, &status, &r->cpu) == 0)
        note_exit(r, status);
    return r->state;
}

cc_racer_state cc_racer_state_of(const cc_racer *r)
{
    return r->state;
}

cc_racer_state cc_racer_wait(cc_racer *r)
{
    int status;
    if (r->state == CC_RACER_RUNNING && wait_child(r->pid, 0, &status, &r->cpu) == 0)
        note_exit(r, status);
    return r->state;
}

double cc_racer_seconds(const cc_racer *r)
{
    return (r->state == CC_RACER_RUNNING ? cc_now() : r->ended) - r->started;
}

double cc_racer_cpu_seconds(const cc_racer *r)
{
    return r->cpu;
}

static void replay(int from, int to)
{
    char buf[1 << 16];
    ssize_t n;
    if (lseek(from, 0, SEEK_SET) < 0)
        return;
    while ((n = read(from, buf, sizeof buf)) > 0)
        if (write(to, buf, (size_t)n) != n)
            return;
}

/* Renames tmp to real if the compiler made it. */
static bool put_in_place(const char *tmp, const char *real)
{
    return rename(tmp, real) == 0 || errno == ENOENT;
}

int cc_racer_commit(cc_racer *r, const char **why)
{
    int code = exit_code(r->status);
    fflush(NULL);
    replay(r->out_fd, 1);
    replay(r->err_fd, 2);
    if (code == 0 && (!put_in_place(r->tmp_out, r->out) || (r->tmp_dep && !put_in_place(r->tmp_dep, r->dep)))) {
        *why = "cannot rename the local compile's output into place";
        code = -1;
    }
    remove_files(r); /* what was not renamed */
    return code;
}

void cc_racer_cancel(cc_racer *r)
{
    if (r->state == CC_RACER_RUNNING) {
        kill(-r->pid, SIGKILL);
        kill(r->pid, SIGKILL);
        int status;
        wait_child(r->pid, 0, &status, &r->cpu);
        /* cc1 or as may outlive the driver by a moment. As the subreaper we
         * inherit them: reap the whole group (at most 1 s) so that nothing
         * writes a temporary file after we removed it. */
        struct timespec nap = {.tv_nsec = 5 * 1000 * 1000};
        for (int i = 0; i < 200; i++) {
            pid_t w = waitpid(-r->pid, &status, WNOHANG);
            if (w < 0 && errno == ECHILD)
                break;
            if (w <= 0)
                nanosleep(&nap, NULL);
        }
        r->state = CC_RACER_FAILED;
        r->ended = cc_now();
    }
    if (r->pid)
        remove_files(r);
}

void cc_racer_free(cc_racer *r)
{
    if (!r)
        return;
    cc_racer_cancel(r);
    if (r->out_fd >= 0)
        close(r->out_fd);
    if (r->err_fd >= 0)
        close(r->err_fd);
    free(r->argv);
    free(r->tmp_out);
    free(r->tmp_dep);
    free(r);
}
