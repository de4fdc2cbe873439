/* exec_worker_args: a compile's arguments as the worker must run them.
 *
 * The input root is a client directory (exec_inputs.h) that lands
 * wherever the worker builds the action: Buildbarn gives each action a
 * fresh directory only the worker knows. A client path under the root in
 * the arguments (CMake passes absolute sources and -I directories) names
 * nothing there, or worse, whatever the worker's own file system has at
 * that path. So for a GCC or clang compile such paths are written with
 * EXEC_ROOT_TOKEN in place of the root, and the command runs under a POSIX
 * shell that puts in the worker's root ($PWD less the working directory)
 * and adds -ffile-prefix-map=<worker root>=<client root>: debug info
 * (DW_AT_comp_dir, file names) and __FILE__ then name the client's paths,
 * as a local compile in the client's directory does. The dependency file
 * (-MD, -MF) is given the client's paths after the compile (no prefix map
 * reaches it), so that make and ninja find the files it names. A compile
 * with no such path, no debug info and no relocated dependency file runs
 * as sent, without the shell.
 * Which of several matching maps applies: GCC takes the last one on the
 * command line, clang the most specific (the first given among equal
 * ones); ours go first for GCC and last for clang, so a client's own map
 * keeps its say, and the relocated directory's map wins over the root's. */
#ifndef EXEC_WORKER_ARGS_H
#define EXEC_WORKER_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define EXEC_ROOT_TOKEN "@gomabarn-root@"
/* A wrapped command's arguments before the compiler: the shell, -c, the
 * script, $0, then the working directory, the client's root, the
 * relocated directory and the dependency file ($1..$4). */
#define EXEC_WRAPPER_ARGS 8

typedef struct {
    const char **argv; /* the Command's arguments (argc of them, NULL after) */
    size_t argc;
    bool wrapped;     /* run under the shell */
    size_t rewritten; /* client paths turned into worker paths */
    char **owned;     /* strings made here */
    size_t n_owned;
} exec_worker_args;

/* `args` (n of them, args[0] the compiler) of a compile by `compiler`
 * (goma's command_spec name: "gcc", "g++", "clang", "clang++"; others run
 * as sent), in client directory `root` (absolute) with the working
 * directory `wd` relative to it ("" for the root itself). `relocated`:
 * the root's directory holding files from elsewhere on the client under
 * their absolute paths (EXEC_TOOLCHAIN_DIR, a shipped compiler's own
 * headers among them), mapped back to "/" likewise; NULL: none. `shell`
 * "" or NULL: run as sent. The result borrows `args`' strings. */
void exec_worker_args_build(const char *const *args, size_t n, const char *compiler, const char *root, const char *wd,
                            const char *relocated, const char *shell, exec_worker_args *out);
void exec_worker_args_free(exec_worker_args *a);

#endif
