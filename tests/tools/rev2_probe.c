/* rev2_probe: prints what gomabarn's REv2 code produces, so tests in
 * another language can check it against an independent implementation.
 *
 *   rev2_probe tree DIR            Merkle tree of a local directory
 *   rev2_probe action [options]    Command and Action of one action
 *   rev2_probe status < BYTES      parse a serialized google.rpc.Status
 *
 * Output lines are "<kind> <hash>/<size> <hex bytes>" or "key value". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rev2_action.h"
#include "rev2_tree.h"

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static void print_blob(const char *kind, const rev2_digest *d, const uint8_t *data, size_t len)
{
    char s[REV2_DIGEST_STR_LEN];
    printf("%s %s ", kind, rev2_digest_str(d, s));
    print_hex(data, len);
    putchar('\n');
}

static int cmd_tree(const char *dir)
{
    rev2_tree *t = rev2_tree_new();
    char *err = NULL;
    if (rev2_tree_add_local_dir(t, dir, &err) < 0) {
        fprintf(stderr, "rev2_probe: %s\n", err);
        return 1;
    }
    rev2_digest root;
    rev2_tree_finish(t, &root);
    char s[REV2_DIGEST_STR_LEN];
    printf("root %s\n", rev2_digest_str(&root, s));
    const rev2_blob *blobs;
    size_t n = rev2_tree_directory_blobs(t, &blobs);
    for (size_t i = 0; i < n; i++)
        print_blob("directory", &blobs[i].digest, blobs[i].data, (size_t)blobs[i].digest.size);
    rev2_tree_free(t);
    return 0;
}

static rev2_property split_kv(const char *s)
{
    const char *eq = strchr(s, '=');
    rev2_property p = {strndup(s, eq ? (size_t)(eq - s) : strlen(s)), strdup(eq ? eq + 1 : "")};
    return p;
}

static int cmd_action(int argc, char **argv)
{
    const char **args = calloc((size_t)argc + 1, sizeof *args);
    const char **outs = calloc((size_t)argc + 1, sizeof *outs);
    rev2_property *env = calloc((size_t)argc + 1, sizeof *env);
    rev2_property *plat = calloc((size_t)argc + 1, sizeof *plat);
    rev2_action_spec spec = {
        .arguments = args, .output_paths = outs, .environment = env, .platform = plat, .input_root = rev2_empty_digest};
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && strcmp(o, "--no-cache") != 0) {
            fprintf(stderr, "rev2_probe: %s needs a value\n", o);
            return 2;
        }
        if (strcmp(o, "--arg") == 0)
            args[spec.n_arguments++] = v, i++;
        else if (strcmp(o, "--out") == 0)
            outs[spec.n_output_paths++] = v, i++;
        else if (strcmp(o, "--env") == 0)
            env[spec.n_environment++] = split_kv(v), i++;
        else if (strcmp(o, "--platform") == 0)
            plat[spec.n_platform++] = split_kv(v), i++;
        else if (strcmp(o, "--cwd") == 0)
            spec.working_directory = v, i++;
        else if (strcmp(o, "--timeout-ms") == 0)
            spec.timeout_ms = atoll(v), i++;
        else if (strcmp(o, "--root") == 0) {
            if (!rev2_digest_parse(v, &spec.input_root)) {
                fprintf(stderr, "rev2_probe: bad digest %s\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(o, "--no-cache") == 0)
            spec.do_not_cache = true;
        else {
            fprintf(stderr, "rev2_probe: unknown option %s\n", o);
            return 2;
        }
    }
    rev2_built_action b;
    char *err = NULL;
    if (rev2_action_build(&spec, &b, &err) < 0) {
        fprintf(stderr, "rev2_probe: %s\n", err);
        return 1;
    }
    print_blob("command", &b.command_digest, b.command_bytes, b.command_len);
    print_blob("action", &b.action_digest, b.action_bytes, b.action_len);
    rev2_built_action_free(&b);
    for (size_t i = 0; i < spec.n_environment; i++)
        free((char *)env[i].name), free((char *)env[i].value);
    for (size_t i = 0; i < spec.n_platform; i++)
        free((char *)plat[i].name), free((char *)plat[i].value);
    free(args);
    free(outs);
    free(env);
    free(plat);
    return 0;
}

static int cmd_status(void)
{
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    rev2_error *e = rev2_error_from_status_bytes(buf, n);
    if (!e) {
        printf("code OK\n");
        return 0;
    }
    printf("code %s\nmessage %s\n", rev2_code_name(e->code), e->message);
    char s[REV2_DIGEST_STR_LEN];
    for (size_t i = 0; i < e->n_missing; i++)
        printf("missing %s\n", rev2_digest_str(&e->missing[i], s));
    rev2_error_free(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "tree") == 0)
        return cmd_tree(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "action") == 0)
        return cmd_action(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return cmd_status();
    fprintf(stderr, "usage: rev2_probe tree DIR | action [--arg A]... | status < BYTES\n");
    return 2;
}
