/* fuzz_cc_args: gomabarn-cc's reading of a compiler command line and of
 * the compiler's -M dependency rule (gateway/cc/cc_args.h).
 *
 * Input: the arguments separated by NUL bytes (the first is the
 * compiler, as gomabarn-cc gets them after its own name). The same bytes,
 * NULs read as newlines, are also a make rule for cc_rule_files. Checked:
 * a line taken for a remote compile has one source among the arguments,
 * an output, -c, and none of the dependency-file options in what is sent;
 * the rule's file names are non-empty words. */
#include "fuzz_common.h"

#include "cc_args.h"

#define MAX_ARGS 512

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static bool among(char **argv, int argc, const char *p)
{
    for (int i = 0; i < argc; i++)
        if (argv[i] == p)
            return true;
    return false;
}

static void command_line(char *text, size_t len)
{
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (size_t start = 0; start <= len && argc < MAX_ARGS;) {
        argv[argc++] = text + start;
        start += strlen(text + start) + 1;
        if (start > len)
            break;
    }
    argv[argc] = NULL;
    compile_args c;
    bool remote = cc_args_parse(argc, argv, &c);
    if (remote) {
        FUZZ_CHECK(c.source && among(argv, argc, c.source), "the source is not one of the arguments");
        FUZZ_CHECK(c.output != NULL, "no output");
        FUZZ_CHECK(c.n_remote <= (size_t)argc + 2, "%zu arguments sent for %d", c.n_remote, argc);
        bool has_c = false;
        for (size_t i = 0; i < c.n_remote; i++) {
            const char *a = c.remote[i];
            FUZZ_CHECK(a != NULL, "argument %zu is NULL", i);
            has_c |= strcmp(a, "-c") == 0;
            FUZZ_CHECK(strcmp(a, "-MD") != 0 && strcmp(a, "-MMD") != 0 && strcmp(a, "-MP") != 0,
                       "%s is sent to the worker", a);
        }
        FUZZ_CHECK(has_c, "a remote compile without -c");
        FUZZ_CHECK(c.remote[c.n_remote] == NULL, "the argument list is not NULL-terminated");
    }
    cc_args_free(&c);
}

static void make_rule(char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\0')
            text[i] = '\n';
    size_t n = 0;
    char **files = cc_rule_files(text, &n);
    FUZZ_CHECK(n == 0 || files != NULL, "%zu files but no list", n);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(files[i] && *files[i] && strlen(files[i]) < 4096, "file %zu is empty or too long", i);
        free(files[i]);
    }
    free(files);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor cur;
    fuzz_cursor_init(&cur, data, size);
    size_t len;
    char *text = fuzz_rest_string(&cur, &len);
    command_line(text, len);
    make_rule(text, len);
    free(text);
    return 0;
}
