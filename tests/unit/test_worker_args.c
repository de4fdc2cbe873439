/* A compile's arguments as the worker runs them (exec_worker_args.h):
 * client paths under the input root become the worker's, debug info is
 * mapped back to the client's paths, and everything else runs as sent.
 * The shell part itself is run here with /bin/sh, as a worker would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "exec_worker_args.h"
#include "mem.h"

#define ROOT "/home/u/proj"
#define T EXEC_ROOT_TOKEN

static exec_worker_args build(const char *compiler, const char *const *args, size_t n)
{
    exec_worker_args w;
    exec_worker_args_build(args, n, compiler, ROOT, "build", NULL, "/bin/sh", &w);
    return w;
}

static void paths_under_the_root_are_rewritten(void)
{
    const char *args[] = {"gcc",
                          "-c",
                          "-I" ROOT "/include",
                          "-isystem",
                          ROOT "/third_party",
                          "-DDIR=\"" ROOT "\"",
                          "-MT",
                          ROOT "/build/a.o",
                          ROOT "/src/a.c",
                          "-I/usr/include/x",
                          "-o",
                          "a.o"};
    exec_worker_args w = build("gcc", args, 12);
    CHECK(w.wrapped);
    CHECK_INT((int)w.rewritten, 3);
    CHECK_INT((int)w.argc, 12 + 6);
    CHECK_STR(w.argv[0], "/bin/sh");
    CHECK_STR(w.argv[1], "-c");
    CHECK_STR(w.argv[4], "/build");
    CHECK_STR(w.argv[5], "gcc");
    /* GCC: the map first, so a client's own later map wins. */
    CHECK_STR(w.argv[6], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[8], "-I" T "/include");
    CHECK_STR(w.argv[10], T "/third_party");
    CHECK_STR(w.argv[11], "-DDIR=\"" ROOT "\""); /* a string, not a path */
    CHECK_STR(w.argv[13], ROOT "/build/a.o");    /* -MT names a make target */
    CHECK_STR(w.argv[14], T "/src/a.c");
    CHECK_STR(w.argv[15], "-I/usr/include/x"); /* the worker's own */
    CHECK(w.argv[18] == NULL);
    exec_worker_args_free(&w);
}

static void prefix_maps_and_lookalikes(void)
{
    const char *args[] = {"clang",      "-ffile-prefix-map=" ROOT "=.", "-fdebug-prefix-map=/other=x",
                          ROOT "x/a.c", "--sysroot=" ROOT "/sysroot",   "-g"};
    exec_worker_args w = build("clang", args, 6);
    CHECK(w.wrapped);
    CHECK_STR(w.argv[6], "-ffile-prefix-map=" T "=.");
    CHECK_STR(w.argv[7], "-fdebug-prefix-map=/other=x");
    CHECK_STR(w.argv[8], ROOT "x/a.c"); /* a sibling of the root, not below it */
    CHECK_STR(w.argv[9], "--sysroot=" T "/sysroot");
    /* clang: the map last (its first matching map wins). */
    CHECK_STR(w.argv[11], "-ffile-prefix-map=" T "=" ROOT);
    exec_worker_args_free(&w);
}

static void runs_as_sent_when_nothing_needs_the_shell(void)
{
    const char *plain[] = {"gcc", "-c", "../src/a.c", "-I../include", "-g0", "-o", "a.o"};
    exec_worker_args w = build("gcc", plain, 7);
    CHECK(!w.wrapped);
    CHECK_INT((int)w.argc, 7);
    CHECK_STR(w.argv[2], "../src/a.c");
    exec_worker_args_free(&w);
    /* Debug info alone needs it: the compile directory is the worker's. */
    const char *debug[] = {"g++", "-c", "a.cc", "-ggdb3"};
    w = build("g++", debug, 4);
    CHECK(w.wrapped);
    CHECK_INT((int)w.rewritten, 0);
    exec_worker_args_free(&w);
    /* Not a compiler it knows, or no shell configured: as sent. */
    const char *abs[] = {"javac", ROOT "/A.java"};
    w = build("javac", abs, 2);
    CHECK(!w.wrapped);
    CHECK_STR(w.argv[1], ROOT "/A.java");
    exec_worker_args_free(&w);
    exec_worker_args_build(abs, 2, "gcc", ROOT, "", NULL, "", &w);
    CHECK(!w.wrapped);
    exec_worker_args_free(&w);
}

static void a_relocated_toolchain_maps_back_to_its_own_paths(void)
{
    /* A shipped clang's own headers sit under .gomabarn-toolchain/usr/...:
     * mapped to /usr/..., as the client's compile names them. */
    const char *args[] = {"../.gomabarn-toolchain/usr/bin/clang", "-g", "-c", "a.c"};
    exec_worker_args w;
    exec_worker_args_build(args, 4, "clang", ROOT, "build", ".gomabarn-toolchain", "/bin/sh", &w);
    CHECK_INT((int)w.argc, 4 + 7);
    CHECK_STR(w.argv[9], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[10], "-ffile-prefix-map=" T "/.gomabarn-toolchain=");
    exec_worker_args_free(&w);
    /* GCC: both right after the compiler, the relocated one later (it wins). */
    exec_worker_args_build(args, 4, "gcc", ROOT, "build", ".gomabarn-toolchain", "/bin/sh", &w);
    CHECK_STR(w.argv[6], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[7], "-ffile-prefix-map=" T "/.gomabarn-toolchain=");
    CHECK_STR(w.argv[8], "-g");
    exec_worker_args_free(&w);
}

/* Runs the wrapped command with /bin/sh in `dir` with `echo` as the
 * compiler, and returns what it printed. */
static char *run_in(const char *dir, const char *const *args, size_t n, const char *wd)
{
    exec_worker_args w;
    exec_worker_args_build(args, n, "gcc", ROOT, wd, NULL, "/bin/sh", &w);
    char out[] = "/tmp/gomabarn-worker-args-XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) < 0 || dup2(fd, 1) < 0)
            _exit(127);
        unsetenv("PWD");
        execv(w.argv[0], (char *const *)w.argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = gmb_calloc(1, 4096);
    CHECK(pread(fd, text, 4095, 0) >= 0);
    close(fd);
    unlink(out);
    exec_worker_args_free(&w);
    return text;
}

static void the_shell_puts_in_the_workers_root(void)
{
    char root[] = "/tmp/gomabarn-worker-root-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sub dir", root); /* a space survives */
    CHECK(mkdir(dir, 0700) == 0);
    const char *args[] = {"echo", "-I" ROOT "/inc", ROOT "/a.c", "-g", "it's"};
    char *text = run_in(dir, args, 5, "sub dir");
    char want[2048];
    snprintf(want, sizeof want, "-ffile-prefix-map=%s=" ROOT " -I%s/inc %s/a.c -g it's\n", root, root, root);
    CHECK_STR(text, want);
    free(text);
    rmdir(dir);
    rmdir(root);
}

int main(void)
{
    RUN(paths_under_the_root_are_rewritten);
    RUN(prefix_maps_and_lookalikes);
    RUN(runs_as_sent_when_nothing_needs_the_shell);
    RUN(a_relocated_toolchain_maps_back_to_its_own_paths);
    RUN(the_shell_puts_in_the_workers_root);
    return CHECK_REPORT();
}
