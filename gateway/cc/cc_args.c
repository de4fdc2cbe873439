#include "cc_args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errmsg.h"
#include "mem.h"

void cc_args_free(compile_args *c)
{
    free(c->remote);
    free(c->owned[0]);
    free(c->owned[1]);
}

static bool is_source(const char *a)
{
    const char *dot = strrchr(a, '.');
    static const char *const exts[] = {".c", ".cc", ".cpp", ".cxx", ".C", ".s", ".S", ".m"};
    for (size_t i = 0; dot && i < sizeof exts / sizeof *exts; i++)
        if (strcmp(dot, exts[i]) == 0)
            return true;
    return false;
}

/* False if this is not one compile of one source (then: run locally). */
bool cc_args_parse(int argc, char **argv, compile_args *c)
{
    memset(c, 0, sizeof *c);
    c->remote = gmb_calloc((size_t)argc + 4, sizeof *c->remote);
    bool compile = false;
    int sources = 0;
    bool md = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0)
            compile = true;
        if (strcmp(a, "-E") == 0 || strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0 || strcmp(a, "-") == 0)
            return false;
        if (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0) {
            md = c->dep_wanted = true;
            c->dep_user_only = strcmp(a, "-MMD") == 0;
            continue;
        }
        if ((strcmp(a, "-MF") == 0 || strcmp(a, "-MT") == 0 || strcmp(a, "-MQ") == 0) && i + 1 < argc) {
            if (strcmp(a, "-MF") == 0)
                c->dep_file = argv[i + 1];
            else
                c->dep_target_given = true;
            i++;
            continue;
        }
        if (strcmp(a, "-MP") == 0)
            continue;
        if (strcmp(a, "-o") == 0 && i + 1 < argc)
            c->output = argv[i + 1];
        if (i > 0 && a[0] != '-' && is_source(a) && strcmp(argv[i - 1], "-o") != 0) {
            c->source = a;
            sources++;
        }
        c->remote[c->n_remote++] = (char *)a;
    }
    if (!compile || sources != 1)
        return false;
    if (!c->output) {
        /* cc's default: the source's base name with .o, in the current directory */
        char *base = gmb_strdup(c->source);
        char *b = basename(base);
        char *dot = strrchr(b, '.');
        *dot = '\0';
        c->output = c->owned[0] = gmb_format("%s.o", b);
        free(base);
        c->remote[c->n_remote++] = "-o";
        c->remote[c->n_remote++] = (char *)c->output;
    }
    if (md && !c->dep_file) {
        char *o = gmb_strdup(c->output);
        char *dot = strrchr(o, '.');
        if (dot && !strchr(dot, '/'))
            *dot = '\0';
        c->dep_file = c->owned[1] = gmb_format("%s.d", o);
        free(o);
    }
    return true;
}

/* Runs the preprocessor for the dependency list; returns the make-rule
 * text (malloc'd) or NULL. */
char *cc_args_dependencies(const compile_args *c)
{
    char tmp[] = "/tmp/gomabarn-cc-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return NULL;
    close(fd);
    char **argv = gmb_calloc(c->n_remote + 8, sizeof *argv);
    size_t n = 0;
    for (size_t i = 0; i < c->n_remote; i++) {
        if (strcmp(c->remote[i], "-o") == 0) {
            i++;
            continue;
        }
        if (strcmp(c->remote[i], "-c") != 0)
            argv[n++] = c->remote[i];
    }
    argv[n++] = c->dep_user_only ? "-MM" : "-M";
    argv[n++] = "-MT";
    argv[n++] = (char *)c->output;
    argv[n++] = "-MF";
    argv[n++] = tmp;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free(argv);
    char *text = NULL;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        FILE *f = fopen(tmp, "r");
        if (f) {
            size_t cap = 1 << 16, len = 0, r;
            text = gmb_malloc(cap);
            while ((r = fread(text + len, 1, cap - len - 1, f)) > 0) {
                len += r;
                if (cap - len < 2)
                    text = gmb_realloc(text, cap *= 2);
            }
            text[len] = '\0';
            fclose(f);
        }
    }
    unlink(tmp);
    return text;
}

/* The files named in a make rule "target: a b \\\n c". */
char **cc_rule_files(const char *rule, size_t *n)
{
    char **files = NULL;
    *n = 0;
    const char *p = strchr(rule, ':');
    if (!p)
        return NULL;
    p++;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || (*p == '\\' && p[1] == '\n'))
            p += (*p == '\\') ? 2 : 1;
        if (!*p)
            break;
        char word[4096];
        size_t w = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && w < sizeof word - 1) {
            if (*p == '\\' && p[1] == ' ') /* an escaped space in a name */
                p++;
            else if (*p == '\\' && p[1] == '\n')
                break;
            word[w++] = *p++;
        }
        word[w] = '\0';
        if (w) {
            files = gmb_realloc(files, (*n + 1) * sizeof *files);
            files[(*n)++] = gmb_strdup(word);
        }
    }
    return files;
}

/* Options that make the compiler write files besides -o and the dependency
 * file, or name them from -o: a racer's files could not all be kept apart. */
static const char *const writes_more[] = {
    "-save-temps",
    "-gsplit-dwarf",
    "-ftest-coverage",
    "--coverage",
    "-fstack-usage",
    "-fcallgraph-info",
    "-fdump-",
    "-aux-info",
    "-MJ",
    "-Wa,",
    "-Wp,",
    "-Xassembler",
    "-Xpreprocessor",
    "-fopt-info",
    "-fsave-optimization-record",
    "-ftime-trace",
    "-fmodule",
    "-dumpdir",
    "-dumpbase",
    "-fdiagnostics-format=sarif",
};

const char *cc_args_race_refusal(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '@')
            return "a response file (@file) may name outputs gomabarn-cc cannot see";
        if ((strncmp(a, "-o", 2) == 0 && a[2]) || (strncmp(a, "-MF", 3) == 0 && a[3]))
            return "a joined -oFILE or -MFFILE is not redirected";
        for (size_t k = 0; k < sizeof writes_more / sizeof *writes_more; k++)
            if (strncmp(a, writes_more[k], strlen(writes_more[k])) == 0)
                return "an option on the command line writes files besides the object and the dependency file";
    }
    return NULL;
}

char **cc_args_racer_argv(int argc, char **argv, const compile_args *c, const char *tmp_out, const char *tmp_dep)
{
    char **r = gmb_calloc((size_t)argc + 8, sizeof *r);
    size_t n = 0;
    bool dep_named = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            r[n++] = "-o";
            r[n++] = (char *)tmp_out;
            i++;
        } else if (strcmp(argv[i], "-MF") == 0 && i + 1 < argc && c->dep_wanted) {
            r[n++] = "-MF";
            r[n++] = (char *)tmp_dep;
            dep_named = true;
            i++;
        } else {
            r[n++] = argv[i];
        }
    }
    if (c->owned[0]) { /* no -o: the default name */
        r[n++] = "-o";
        r[n++] = (char *)tmp_out;
    }
    if (c->dep_wanted && !dep_named) {
        r[n++] = "-MF";
        r[n++] = (char *)tmp_dep;
    }
    if (c->dep_wanted && !c->dep_target_given) { /* the rule's target is -o's name: the real one */
        r[n++] = "-MQ";
        r[n++] = (char *)c->output;
    }
    return r;
}
