/* exec_paths: client paths as paths in an action's input root.
 *
 * A goma client names files by absolute path, or relative to its cwd.
 * The input root is one client directory (exec_inputs.c picks it); a file
 * below it keeps its place there. Files of a toolchain_included request
 * that live elsewhere (a compiler in /usr/bin, its cc1 in /usr/lib/gcc)
 * move under .gomabarn-toolchain/<their absolute path>: the toolchain's
 * own layout is kept, so a driver finding its helpers relative to itself
 * (gcc: ../lib/gcc/<target>/<version>/cc1) finds the shipped ones. Tree
 * paths are relative to the root, '/'-separated, "" for the root. */
#ifndef EXEC_PATHS_H
#define EXEC_PATHS_H

#define EXEC_TOOLCHAIN_DIR ".gomabarn-toolchain"

/* "/a/./b//c/../d" -> "/a/b/d"; NULL if not absolute or it climbs above
 * "/". malloc'd, as are all results below. */
char *exec_path_normalize(const char *abs);
/* `name` made absolute against `cwd` (absolute, normalized) and normalized. */
char *exec_path_absolute(const char *cwd, const char *name);
/* "/a/b" -> "/a"; "/a" -> "/". */
char *exec_path_parent(const char *abs);
/* True if `abs` is `dir` or below it. */
int exec_path_is_below(const char *abs, const char *dir);
/* Output `name` as the client declared it, relative to the client's
 * working directory `cwd` (absolute, normalized), as REv2 output paths
 * are (malloc'd): `name` itself when relative; when absolute, the path to
 * it from `cwd`, climbing with ".." when it lies elsewhere
 * ("/p/obj/a.o" from "/p/build": "../obj/a.o"). NULL for an absolute one
 * that climbs above "/" or names `cwd` or a directory holding it. */
char *exec_path_output_in_cwd(const char *cwd, const char *name);
/* Where client path `abs` goes in the tree of input root `root`. */
char *exec_path_place(const char *root, const char *abs);
/* The relative path from tree directory `from_dir` to tree path `to`
 * ("." when they are the same). */
char *exec_path_relative(const char *from_dir, const char *to);
/* The target to give a symlink at client path `link_abs` that points to
 * `target` (absolute, or relative to the link's directory) once both are
 * placed in the tree: relative, so it resolves inside the input root on
 * any worker. NULL if the target climbs above "/". */
char *exec_path_symlink_target(const char *root, const char *link_abs, const char *target);
/* COMPILER_PATH for a GCC driver whose client path is `driver_abs`
 * (symlinks resolved) once it runs relocated under .gomabarn-toolchain/:
 * the worker's own copies of the directories that driver searches for
 * cc1, cc1plus, collect2... next to itself (<prefix>/libexec/gcc and
 * <prefix>/lib/gcc, <prefix> the parent of its bin directory).
 * "/usr/bin/gcc-12" -> "/usr/libexec/gcc:/usr/lib/gcc". GCC tries these
 * only after its own (shipped) prefix, and with its own
 * <target>/<version>/ suffix. */
char *exec_path_gcc_compiler_path(const char *driver_abs);

#endif
