/* fuzz_worker_args: a goma client's compiler arguments as the worker
 * runs them (gateway/exec/exec_worker_args.h).
 *
 * Input: one mode byte (bit 0: gcc or clang; bit 1: working directory ""
 * or "build"; bit 2: no shell configured; bit 3: a relocated toolchain
 * directory), then the arguments separated
 * by NUL bytes. The input root is /r/p. Checked: without the shell the
 * arguments are exactly the client's; with it, the command is the shell,
 * -c, the script, $0, "/<wd>", the root, the relocated directory or "",
 * a relative dependency file or "", and the client's arguments in order, each
 * equal to the client's once the root token is read as the root, plus the
 * -ffile-prefix-map of the root and, with bit 3, of the relocated
 * directory (right after the compiler for gcc, last for clang);
 * argv ends with NULL. */
#include "fuzz_common.h"

#include "exec_worker_args.h"

#define MAX_ARGS 256
#define ROOT "/r/p"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* `s` with every root token read as the root (malloc'd). */
static char *as_client(const char *s)
{
    size_t tl = strlen(EXEC_ROOT_TOKEN), n = 0;
    for (const char *p = strstr(s, EXEC_ROOT_TOKEN); p; p = strstr(p + tl, EXEC_ROOT_TOKEN))
        n++;
    char *out = gmb_malloc(strlen(s) + n * strlen(ROOT) + 1), *o = out;
    for (const char *p = s;;) {
        const char *t = strstr(p, EXEC_ROOT_TOKEN);
        size_t len = t ? (size_t)(t - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!t)
            break;
        memcpy(o, ROOT, strlen(ROOT));
        o += strlen(ROOT);
        p = t + tl;
    }
    *o = '\0';
    return out;
}

static bool same_for_the_client(const char *ours, const char *theirs)
{
    char *a = as_client(ours), *b = as_client(theirs);
    bool same = strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 2)
        return 0;
    uint8_t mode = data[0];
    char *text = gmb_malloc(len);
    memcpy(text, data + 1, len - 1);
    text[len - 1] = '\0';
    const char *args[MAX_ARGS];
    size_t n = 0;
    for (size_t at = 0; at < len - 1 && n < MAX_ARGS; at += strlen(text + at) + 1)
        args[n++] = text + at;
    const char *compiler = mode & 1 ? "clang" : "gcc", *wd = mode & 2 ? "build" : "";
    exec_worker_args w;
    const char *relocated = mode & 8 ? ".gomabarn-toolchain" : NULL;
    exec_worker_args_build(args, n, compiler, ROOT, wd, relocated, mode & 4 ? "" : "/bin/sh", &w);
    FUZZ_CHECK(w.argv[w.argc] == NULL, "argv does not end with NULL");
    if (!w.wrapped) {
        FUZZ_CHECK(w.argc == n, "%zu arguments for %zu", w.argc, n);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(strcmp(w.argv[i], args[i]) == 0, "argument %zu changed without the shell", i);
    } else {
        FUZZ_CHECK(!(mode & 4), "wrapped with no shell configured");
        size_t n_maps = relocated ? 2 : 1;
        FUZZ_CHECK(w.argc == n + EXEC_WRAPPER_ARGS + n_maps, "%zu arguments for %zu", w.argc, n);
        FUZZ_CHECK(strcmp(w.argv[0], "/bin/sh") == 0 && strcmp(w.argv[1], "-c") == 0, "not the shell");
        FUZZ_CHECK(strcmp(w.argv[4], *wd ? "/build" : "") == 0, "$1 is \"%s\"", w.argv[4]);
        FUZZ_CHECK(strcmp(w.argv[5], ROOT) == 0, "$2 is \"%s\"", w.argv[5]);
        FUZZ_CHECK(strcmp(w.argv[6], relocated ? relocated : "") == 0, "$3 is \"%s\"", w.argv[6]);
        FUZZ_CHECK(w.argv[7][0] != '/' && !strstr(w.argv[7], EXEC_ROOT_TOKEN) && strcmp(w.argv[7], "-") != 0,
                   "$4 is \"%s\"", w.argv[7]);
        size_t map_at = mode & 1 ? w.argc - n_maps : EXEC_WRAPPER_ARGS + 1;
        FUZZ_CHECK(strcmp(w.argv[map_at], "-ffile-prefix-map=" EXEC_ROOT_TOKEN "=" ROOT) == 0, "no map at %zu", map_at);
        FUZZ_CHECK(!relocated ||
                       strcmp(w.argv[map_at + 1], "-ffile-prefix-map=" EXEC_ROOT_TOKEN "/.gomabarn-toolchain=") == 0,
                   "no map for the relocated directory at %zu", map_at + 1);
        for (size_t i = 0, k = EXEC_WRAPPER_ARGS; i < n; i++, k++) {
            if (k == map_at)
                k += n_maps;
            FUZZ_CHECK(same_for_the_client(w.argv[k], args[i]), "argument %zu is \"%s\" for \"%s\"", i, w.argv[k],
                       args[i]);
        }
    }
    exec_worker_args_free(&w);
    free(text);
    return 0;
}
