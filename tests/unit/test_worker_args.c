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
#include "errmsg.h"
#include "exec_worker_args.h"
#include "mem.h"

#define ROOT "/home/u/proj"
#define T EXEC_ROOT_TOKEN
#define C EXEC_WRAPPER_ARGS /* where the compiler is in a wrapped command */

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
    CHECK_INT((int)w.argc, 12 + C + 1);
    CHECK_STR(w.argv[0], "/bin/sh");
    CHECK_STR(w.argv[1], "-c");
    CHECK_STR(w.argv[4], "/build");
    CHECK_STR(w.argv[5], ROOT);
    CHECK_STR(w.argv[6], ""); /* no relocated directory */
    CHECK_STR(w.argv[7], ""); /* no dependency file */
    CHECK_STR(w.argv[C], "gcc");
    /* GCC: the map first, so a client's own later map wins. */
    CHECK_STR(w.argv[C + 1], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[C + 3], "-I" T "/include");
    CHECK_STR(w.argv[C + 5], T "/third_party");
    CHECK_STR(w.argv[C + 6], "-DDIR=\"" ROOT "\""); /* a string, not a path */
    CHECK_STR(w.argv[C + 8], ROOT "/build/a.o");    /* -MT names a make target */
    CHECK_STR(w.argv[C + 9], T "/src/a.c");
    CHECK_STR(w.argv[C + 10], "-I/usr/include/x"); /* the worker's own */
    CHECK(w.argv[C + 13] == NULL);
    exec_worker_args_free(&w);
}

static void prefix_maps_and_lookalikes(void)
{
    const char *args[] = {"clang",      "-ffile-prefix-map=" ROOT "=.", "-fdebug-prefix-map=/other=x",
                          ROOT "x/a.c", "--sysroot=" ROOT "/sysroot",   "-g"};
    exec_worker_args w = build("clang", args, 6);
    CHECK(w.wrapped);
    CHECK_STR(w.argv[C + 1], "-ffile-prefix-map=" T "=.");
    CHECK_STR(w.argv[C + 2], "-fdebug-prefix-map=/other=x");
    CHECK_STR(w.argv[C + 3], ROOT "x/a.c"); /* a sibling of the root, not below it */
    CHECK_STR(w.argv[C + 4], "--sysroot=" T "/sysroot");
    /* clang: the map last (its first matching map wins). */
    CHECK_STR(w.argv[C + 6], "-ffile-prefix-map=" T "=" ROOT);
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
    CHECK_INT((int)w.argc, 4 + C + 2);
    CHECK_STR(w.argv[C + 4], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[C + 5], "-ffile-prefix-map=" T "/.gomabarn-toolchain=");
    exec_worker_args_free(&w);
    /* GCC: both right after the compiler, the relocated one later (it wins). */
    exec_worker_args_build(args, 4, "gcc", ROOT, "build", ".gomabarn-toolchain", "/bin/sh", &w);
    CHECK_STR(w.argv[C + 1], "-ffile-prefix-map=" T "=" ROOT);
    CHECK_STR(w.argv[C + 2], "-ffile-prefix-map=" T "/.gomabarn-toolchain=");
    CHECK_STR(w.argv[C + 3], "-g");
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

/* The dependency file argument ($4) a compile gets, "" for none. */
static void dependency_files_are_found(void)
{
    static const struct {
        const char *args[6];
        const char *deps;
    } cases[] = {
        {{"gcc", "-MD", "-MF", "obj/a.d", ROOT "/a.c"}, "obj/a.d"},
        {{"gcc", "-MMD", "-MFa.d", ROOT "/a.c"}, "a.d"},
        {{"gcc", "-Wp,-MMD,.a.o.d", ROOT "/a.c"}, ".a.o.d"}, /* kbuild */
        {{"gcc", "-MD", "-o", "obj/a.o", ROOT "/a.c"}, "obj/a.d"},
        {{"gcc", "-MMD", "-oa.x.o", ROOT "/a.c"}, "a.x.d"},
        {{"gcc", "-MD", "-o", ".hidden", ROOT "/a.c"}, ".hidden.d"},
        {{"gcc", "-MD", "-c", ROOT "/src/a.c"}, "a.d"}, /* named after the source, in the cwd */
        {{"gcc", "-MMD", "-x", "c", "-c", ROOT "/b.cc"}, "b.d"},
        {{"gcc", "-MD", "-c", "-include", "x.c", ROOT "/a.c"}, "a.d"}, /* -include's file is no source */
        {{"gcc", "-MD", "-c", ROOT "/a.c", ROOT "/b.c"}, ""},          /* two sources: two files, not handled */
        {{"gcc", "-MD", "-c", ROOT "/a"}, ""},                         /* no source suffix */
        {{"gcc", "-MF", ROOT "/a.d", ROOT "/a.c", "-MD"}, "../a.d"},   /* absolute, beside the working directory */
        {{"gcc", "-MF", "-", ROOT "/a.c"}, ""},                        /* stdout */
        {{"gcc", "-o", "a.o", ROOT "/a.c"}, ""},                       /* no -MD */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = 0;
        while (n < 6 && cases[i].args[n])
            n++;
        exec_worker_args w = build("gcc", cases[i].args, n);
        CHECK(w.wrapped);
        CHECK_STR(w.argv[7], cases[i].deps);
        exec_worker_args_free(&w);
    }
    /* Relative paths only and nothing relocated: the file names no worker
     * path, so the compile still runs as sent. */
    const char *relative[] = {"gcc", "-MD", "-MF", "a.d", "-c", "../a.c"};
    exec_worker_args w = build("gcc", relative, 6);
    CHECK(!w.wrapped);
    exec_worker_args_free(&w);
    /* A relocated toolchain's own headers are worker paths in it. */
    exec_worker_args_build(relative, 6, "gcc", ROOT, "build", ".gomabarn-toolchain", "/bin/sh", &w);
    CHECK(w.wrapped);
    CHECK_STR(w.argv[6], ".gomabarn-toolchain");
    CHECK_STR(w.argv[7], "a.d");
    exec_worker_args_free(&w);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *read_file(const char *path)
{
    char *text = gmb_calloc(1, 8192);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, 8191, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

/* Compiles, as a worker would, <worker>/src/a.c including x.h from
 * -I<client root>/inc, in <worker>/build with -MD, under PATH `path`
 * (NULL: this process's), and returns the dependency file. */
static char *dependency_file_after_compile(const char *worker, const char *client_root, const char *path)
{
    char *inc = gmb_format("-I%s/inc", client_root), *src = gmb_format("%s/src/a.c", client_root);
    const char *args[] = {"gcc", "-S", "-MD", "-MF", "a.d", inc, src, "-o", "a.s"};
    exec_worker_args w;
    exec_worker_args_build(args, 9, "gcc", client_root, "build", NULL, "/bin/sh", &w);
    char *build_dir = gmb_format("%s/build", worker);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(build_dir) < 0)
            _exit(127);
        unsetenv("PWD");
        if (path)
            setenv("PATH", path, 1);
        execv(w.argv[0], (char *const *)w.argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *deps_path = gmb_format("%s/a.d", build_dir);
    char *text = read_file(deps_path);
    /* One line: where gcc breaks it depends on the paths' lengths. */
    char *o = text;
    for (const char *c = text; *c; c++) {
        if (c[0] == '\\' && c[1] == '\n' && c[2] == ' ')
            c += 2; /* " \\\n " becomes the space before it */
        else
            *o++ = *c;
    }
    *o = '\0';
    unlink(deps_path);
    free(deps_path);
    exec_worker_args_free(&w);
    free(build_dir);
    free(inc);
    free(src);
    return text;
}

/* A real gcc through the shell: the dependency file names the client's
 * files, with sed and without it (the read loop), and a client root with
 * a space in it is written as make reads it. */
static void a_dependency_file_names_the_clients_paths(void)
{
    char worker[] = "/tmp/gomabarn-worker-deps-XXXXXX";
    CHECK(mkdtemp(worker) != NULL);
    char *dir;
    const char *dirs[] = {"src", "inc", "build", "bin"};
    for (size_t i = 0; i < 4; i++) {
        dir = gmb_format("%s/%s", worker, dirs[i]);
        CHECK(mkdir(dir, 0700) == 0);
        free(dir);
    }
    char *p = gmb_format("%s/src/a.c", worker);
    write_file(p, "#include \"x.h\"\nint a = X;\n");
    free(p);
    p = gmb_format("%s/inc/x.h", worker);
    write_file(p, "#define X 1\n");
    free(p);
    /* A PATH with gcc and no sed. */
    p = gmb_format("%s/bin/gcc", worker);
    CHECK(symlink("/usr/bin/gcc", p) == 0);
    free(p);
    char *no_sed = gmb_format("%s/bin", worker);

    const char *want = "a.s: " ROOT "/src/a.c /usr/include/stdc-predef.h " ROOT "/inc/x.h\n";
    char *loop_file = gmb_format("%s/build/a.d.gomabarn-worker-paths", worker);
    char *with_sed = dependency_file_after_compile(worker, ROOT, NULL);
    CHECK_STR(with_sed, want);
    CHECK(access(loop_file, F_OK) != 0); /* sed did it */
    char *looped = dependency_file_after_compile(worker, ROOT, no_sed);
    CHECK_STR(looped, want);
    CHECK(access(loop_file, F_OK) == 0); /* the read loop did it */
    CHECK(unlink(loop_file) == 0);
    free(loop_file);
    char *spaced = dependency_file_after_compile(worker, "/home/u/my proj", NULL);
    CHECK_STR(spaced, "a.s: /home/u/my\\ proj/src/a.c /usr/include/stdc-predef.h /home/u/my\\ proj/inc/x.h\n");
    free(with_sed);
    free(looped);
    free(spaced);
    free(no_sed);
    char *cmd = gmb_format("rm -rf '%s'", worker);
    CHECK(system(cmd) == 0);
    free(cmd);
}

int main(void)
{
    RUN(paths_under_the_root_are_rewritten);
    RUN(prefix_maps_and_lookalikes);
    RUN(runs_as_sent_when_nothing_needs_the_shell);
    RUN(a_relocated_toolchain_maps_back_to_its_own_paths);
    RUN(the_shell_puts_in_the_workers_root);
    RUN(dependency_files_are_found);
    RUN(a_dependency_file_names_the_clients_paths);
    return CHECK_REPORT();
}
