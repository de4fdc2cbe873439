#include "exec_worker_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "exec_paths.h"
#include "mem.h"

/* The shell's part. $1 is "/<working directory>" ("" at the root), $2
 * the client's root as a make rule writes it, $3 the relocated directory
 * ("" for none), $4 the dependency file the compile writes ("" for none);
 * the rest is the command. Every EXEC_ROOT_TOKEN becomes the worker's
 * root; POSIX sh has no arrays, so the new arguments are appended to "$@"
 * and the old ones shifted off. A dependency file names the files as the
 * compiler opened them, at the worker's paths, and no prefix map reaches
 * it: once the compile has succeeded its worker paths are turned back
 * into the client's (the relocated directory's into "/"), with sed where
 * the worker has it (dots escaped, the only regex character a build
 * directory's path has; any other one takes the slow path), else with a
 * read loop, which costs a system call per byte. $4 is relative (never
 * absolute), so "./$4" cannot pass for one of sed's options. */
static const char WRAPPER[] =
    "W=${PWD%\"$1\"}; R=$2; T=$3; D=$4; shift 4; n=$#\n"
    "for a in \"$@\"; do\n"
    "  while :; do case $a in\n"
    "    *" EXEC_ROOT_TOKEN "*) a=${a%%" EXEC_ROOT_TOKEN "*}$W${a#*" EXEC_ROOT_TOKEN "} ;;\n"
    "    *) break ;;\n"
    "  esac; done\n"
    "  set -- \"$@\" \"$a\"\n"
    "done\n"
    "shift $n\n"
    "[ -n \"$D\" ] || exec \"$@\"\n"
    "\"$@\" || exit\n"
    "[ -f \"$D\" ] || exit 0\n"
    "dots() { s=$1 o=; while :; do case $s in\n"
    "  *.*) o=$o${s%%.*}'\\.'; s=${s#*.} ;;\n"
    "  *) printf %s \"$o$s\"; return ;;\n"
    "esac; done; }\n"
    "case $W$R$T in *[!A-Za-z0-9/._+-]*) ;; *)\n"
    "  if [ -n \"$T\" ]; then set -- -e \"s|$(dots \"$W/$T\")/|/|g\"; else set --; fi\n"
    "  sed -i \"$@\" -e \"s|$(dots \"$W\")/|$R/|g\" \"./$D\" 2>/dev/null && exit 0 ;;\n"
    "esac\n"
    "while IFS= read -r l || [ -n \"$l\" ]; do\n"
    "  while [ -n \"$T\" ]; do case $l in\n"
    "    *\"$W/$T/\"*) l=${l%%\"$W/$T/\"*}/${l#*\"$W/$T/\"} ;;\n"
    "    *) break ;;\n"
    "  esac; done\n"
    "  while :; do case $l in\n"
    "    *\"$W/\"*) l=${l%%\"$W/\"*}$R/${l#*\"$W/\"} ;;\n"
    "    *) break ;;\n"
    "  esac; done\n"
    "  printf '%s\\n' \"$l\"\n"
    "done <\"$D\" >\"$D.gomabarn-worker-paths\" &&\n"
    "while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done <\"$D.gomabarn-worker-paths\" >\"$D\" ||\n"
    "{ echo \"gomabarn: cannot give $D the client's paths\" >&2; exit 1; }\n";

/* Flags whose path is glued to them ("-I/x", "--sysroot=/x"). */
static const char *const PATH_FLAGS[] = {"-I",
                                         "-o",
                                         "-iquote",
                                         "-isystem",
                                         "-idirafter",
                                         "-include",
                                         "-imacros",
                                         "-isysroot",
                                         "--sysroot=",
                                         "-B",
                                         "-L",
                                         "-fprofile-use=",
                                         "-fprofile-instr-use=",
                                         "-fsanitize-ignorelist=",
                                         "-fsanitize-blacklist="};
/* Flags whose value is OLD=NEW, OLD a path to rewrite. */
static const char *const MAP_FLAGS[] = {"-ffile-prefix-map=", "-fdebug-prefix-map=", "-fmacro-prefix-map=",
                                        "-fprofile-prefix-map=", "-fcoverage-prefix-map="};
/* Flags whose next argument is a name, not a path to rewrite. (-o's is a
 * path: an absolute one below the working directory is served.) */
static const char *const NAME_FLAGS[] = {"-D", "-U", "-MT", "-MQ"};

#define COUNT(a) (sizeof(a) / sizeof *(a))

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_one_of(const char *a, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a, list[i]) == 0)
            return true;
    return false;
}

/* -g, -g2, -ggdb, -gdwarf-5, -gsplit-dwarf...: not -g0, -gno-*, -gz*. */
static bool asks_debug_info(const char *a)
{
    return starts_with(a, "-g") && strcmp(a, "-g0") != 0 && !starts_with(a, "-gno-") && !starts_with(a, "-gz");
}

/* `a` with the root in `a[at..]` replaced by the token; NULL if no path
 * under the root starts at `at` (for a map flag, the OLD part). */
static char *tokenised(const char *a, size_t at, const char *root, bool map)
{
    const char *p = a + at;
    char *path = gmb_strndup(p, map && strchr(p, '=') ? (size_t)(strchr(p, '=') - p) : strlen(p));
    bool below = p[0] == '/' && exec_path_is_below(path, root);
    free(path);
    if (!below)
        return NULL;
    return gmb_format("%.*s%s%s", (int)at, a, EXEC_ROOT_TOKEN, p + strlen(root));
}

/* The worker's form of argument `a`, or NULL to keep it. */
static char *rewrite(const char *a, const char *root)
{
    if (a[0] == '/')
        return tokenised(a, 0, root, false);
    for (size_t i = 0; i < COUNT(MAP_FLAGS); i++)
        if (starts_with(a, MAP_FLAGS[i]))
            return tokenised(a, strlen(MAP_FLAGS[i]), root, true);
    for (size_t i = 0; i < COUNT(PATH_FLAGS); i++) {
        char *t = starts_with(a, PATH_FLAGS[i]) ? tokenised(a, strlen(PATH_FLAGS[i]), root, false) : NULL;
        if (t)
            return t;
    }
    return NULL;
}

static const char *keep(exec_worker_args *out, char *s)
{
    out->owned = gmb_realloc(out->owned, (out->n_owned + 1) * sizeof *out->owned);
    out->owned[out->n_owned++] = s;
    return s;
}

/* Flags whose value is the next argument: not an input file. */
static const char *const VALUE_FLAGS[] = {"-D",      "-U",         "-MT",      "-MQ",      "-x",
                                          "-I",      "-include",   "-imacros", "-isystem", "-iquote",
                                          "-Xclang", "-idirafter", "-MF",      "-o",       "-Xpreprocessor"};
/* Source suffixes gcc and clang compile (a .h alone is never a -c input). */
static const char *const SOURCE_SUFFIXES[] = {"c", "cc", "cp", "cxx", "cpp", "CPP", "c++", "C",
                                              "m", "mm", "M",  "i",   "ii",  "s",   "S",   "sx"};

/* The name after the last '/'. */
static const char *file_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The one source file among the arguments, or NULL (none, or several). */
static const char *only_source(const char *const *args, size_t n)
{
    const char *source = NULL;
    for (size_t i = 1; i < n; i++) {
        const char *a = args[i], *dot = strrchr(a, '.');
        if (a[0] == '-' || is_one_of(args[i - 1], VALUE_FLAGS, COUNT(VALUE_FLAGS)) || !dot || strchr(dot, '/') ||
            !is_one_of(dot + 1, SOURCE_SUFFIXES, COUNT(SOURCE_SUFFIXES)))
            continue;
        if (source)
            return NULL;
        source = a;
    }
    return source;
}

/* The dependency file a compile writes (-MF FILE, -MFFILE, kbuild's
 * -Wp,-MD,FILE, or -MD/-MMD beside -o OUT: OUT with its suffix made
 * ".d"; without -o, the source's name without its directories, its
 * suffix made ".d", as gcc's driver names it), relative to the client's
 * working directory `cwd`, or NULL: none, stdout, or an absolute name
 * that climbs above "/". */
static char *dependency_file(const char *const *args, size_t n, const char *cwd)
{
    const char *mf = NULL, *out = NULL;
    bool md = false;
    for (size_t i = 1; i < n; i++) {
        const char *a = args[i], *next = i + 1 < n ? args[i + 1] : NULL;
        if (strcmp(a, "-MF") == 0) {
            mf = next;
            i++;
        } else if (strcmp(a, "-o") == 0) {
            out = next;
            i++;
        } else if (starts_with(a, "-MF")) {
            mf = a + 3;
        } else if (starts_with(a, "-Wp,-MD,") || starts_with(a, "-Wp,-MMD,")) {
            mf = strchr(a + 4, ',') + 1;
        } else if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0) {
            md = true;
        } else if (starts_with(a, "-o")) {
            out = a + 2;
        }
    }
    char *name = NULL;
    if (mf) {
        name = gmb_strdup(mf);
    } else if (md && out) {
        const char *base = file_name(out), *dot = strrchr(base, '.');
        name = gmb_format("%.*s.d", (int)(dot && dot != base ? (size_t)(dot - out) : strlen(out)), out);
    } else if (md && (out = only_source(args, n)) != NULL) {
        const char *base = file_name(out);
        name = gmb_format("%.*s.d", (int)(strrchr(base, '.') - base), base);
    }
    char *relative = name && *name && strcmp(name, "-") != 0 && !strstr(name, EXEC_ROOT_TOKEN)
                         ? exec_path_output_in_cwd(cwd, name)
                         : NULL;
    free(name);
    return relative;
}

/* `path` as a make rule writes it: gcc and clang escape a space and '#'
 * with a backslash and '$' as "$$". */
static char *make_escaped(const char *path)
{
    char *out = gmb_malloc(2 * strlen(path) + 1), *o = out;
    for (const char *p = path; *p; p++) {
        if (*p == ' ' || *p == '#')
            *o++ = '\\';
        else if (*p == '$')
            *o++ = '$';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static bool gcc_family(const char *compiler)
{
    return starts_with(compiler, "gcc") || starts_with(compiler, "g++") || strcmp(compiler, "cc") == 0 ||
           strcmp(compiler, "c++") == 0;
}

void exec_worker_args_build(const char *const *args, size_t n, const char *compiler, const char *root, const char *wd,
                            const char *relocated, const char *shell, exec_worker_args *out)
{
    memset(out, 0, sizeof *out);
    const char **mine = gmb_calloc(n + 1, sizeof *mine);
    bool gcc = compiler && gcc_family(compiler), clang = compiler && starts_with(compiler, "clang");
    bool eligible = (gcc || clang) && shell && *shell && root && root[0] == '/' && strcmp(root, "/") != 0;
    bool debug = false;
    for (size_t i = 0; i < n; i++) {
        mine[i] = args[i];
        if (!eligible)
            continue;
        debug |= i > 0 && asks_debug_info(args[i]);
        bool a_name = i > 0 && is_one_of(args[i - 1], NAME_FLAGS, COUNT(NAME_FLAGS));
        char *w = a_name ? NULL : rewrite(args[i], root);
        if (w) {
            mine[i] = keep(out, w);
            out->rewritten++;
        }
    }
    /* A dependency file holds worker paths when client paths were
     * rewritten or the compiler's own files are relocated. */
    char *deps = NULL;
    if (eligible && (out->rewritten > 0 || (relocated && *relocated))) {
        char *cwd = *wd ? gmb_format("%s/%s", root, wd) : gmb_strdup(root);
        deps = dependency_file(args, n, cwd);
        free(cwd);
    }
    if (!eligible || n == 0 || (out->rewritten == 0 && !debug && !deps)) {
        out->argv = mine;
        out->argc = n;
        return;
    }
    /* The shell, its script, $0, $1, the command and the prefix maps
     * (the header says where they go and why). */
    const char *maps[2];
    size_t n_maps = 0;
    maps[n_maps++] = keep(out, gmb_format("-ffile-prefix-map=%s=%s", EXEC_ROOT_TOKEN, root));
    if (relocated && *relocated)
        maps[n_maps++] = keep(out, gmb_format("-ffile-prefix-map=%s/%s=", EXEC_ROOT_TOKEN, relocated));
    out->wrapped = true;
    out->argc = n + EXEC_WRAPPER_ARGS + n_maps;
    out->argv = gmb_calloc(out->argc + 1, sizeof *out->argv);
    size_t k = 0;
    out->argv[k++] = shell;
    out->argv[k++] = "-c";
    out->argv[k++] = WRAPPER;
    out->argv[k++] = "gomabarn-worker-args";
    out->argv[k++] = keep(out, *wd ? gmb_format("/%s", wd) : gmb_strdup(""));
    out->argv[k++] = keep(out, make_escaped(root));
    out->argv[k++] = relocated ? relocated : "";
    out->argv[k++] = deps ? keep(out, deps) : "";
    out->argv[k++] = mine[0];
    for (size_t m = 0; gcc && m < n_maps; m++)
        out->argv[k++] = maps[m];
    for (size_t i = 1; i < n; i++)
        out->argv[k++] = mine[i];
    for (size_t m = 0; !gcc && m < n_maps; m++)
        out->argv[k++] = maps[m];
    free(mine);
}

void exec_worker_args_free(exec_worker_args *a)
{
    for (size_t i = 0; i < a->n_owned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->argv);
    memset(a, 0, sizeof *a);
}
