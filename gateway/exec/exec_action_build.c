#include "exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "exec_paths.h"
#include "log.h"
#include "mem.h"
#include "goma_wire.h"

static bool env_allowed(const exec_pipeline *p, const char *name)
{
    if (strcmp(name, "PATH") == 0)
        return false;
    for (size_t i = 0; i < p->env_allow.n; i++) {
        const char *pat = p->env_allow.items[i];
        size_t n = strlen(pat);
        if (n && pat[n - 1] == '*' ? strncmp(pat, name, n - 1) == 0 : strcmp(pat, name) == 0)
            return true;
    }
    return false;
}

/* protobuf-c's allocator over the job's arena: an ExecReq is dozens of
 * strings and messages, freed together with the job. */
static void *arena_alloc(void *arena, size_t size)
{
    return gmb_arena_alloc(arena, size);
}

static void arena_free_none(void *arena, void *pointer)
{
    (void)arena;
    (void)pointer; /* gmb_arena_free, in exec_job_free */
}

/* Decodes the body into j->exec; false (400 answered) if it is no ExecReq. */
bool exec_decode_req(exec_job *j)
{
    size_t len;
    const uint8_t *body = http_request_body(j->req, &len);
    gmb_buf flat;
    gmb_buf_init(&flat, GMB_BUF_UNLIMITED);
    /* Sized once: the messages take about the bytes the groups did. */
    if (!gmb_buf_reserve(&flat, len + len / 8 + 64, NULL))
        gmb_out_of_memory(len);
    const char *why = NULL;
    j->exec_arena = gmb_arena_new();
    ProtobufCAllocator in_arena = {.alloc = arena_alloc, .free = arena_free_none, .allocator_data = j->exec_arena};
    if (goma_groups_to_messages(GOMA_MSG_EXEC_REQ, body, len, &flat, &why) < 0 ||
        !(j->exec = devtools_goma__exec_req__unpack(&in_arena, flat.len, flat.data))) {
        char *msg = gmb_format("gomabarn: the Exec body is not an ExecReq (%s)\n", why ? why : "undecodable");
        snprintf(j->entry.reason, sizeof j->entry.reason, "not an ExecReq");
        exec_job_record(j, "bad", msg);
        http_respond(j->req, 400, "text/plain; charset=utf-8", msg, strlen(msg));
        free(msg);
        gmb_buf_free(&flat);
        return false;
    }
    gmb_buf_free(&flat);
    /* The decoded request holds its own copy: the body would only double
     * a waiting request's memory. */
    http_request_drop_body(j->req);
    return true;
}

/* The Command's environment: the client variables exec.env_allow lets
 * through (others would only split the action cache), and the configured
 * PATH (the client's names client directories). Splits x's NAME=VALUE
 * strings in place; the values point into them. */
rev2_property *exec_command_environment(exec_job *j, size_t *n_env)
{
    const exec_pipeline *p = j->p;
    DevtoolsGoma__ExecReq *x = j->exec;
    rev2_property *env = gmb_calloc(x->n_env + 3, sizeof *env);
    *n_env = 0;
    /* A relocated gcc's COMPILER_PATH (exec_inputs.h) goes after the
     * client's own, when exec.env_allow lets that through. */
    char **compiler_path = &j->inputs.compiler_path;
    for (size_t i = 0; i < x->n_env; i++) {
        char *eq = strchr(x->env[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (!env_allowed(p, x->env[i]))
            continue;
        if (*compiler_path && strcmp(x->env[i], "COMPILER_PATH") == 0) {
            char *joined = gmb_format("%s:%s", eq + 1, *compiler_path);
            free(*compiler_path);
            *compiler_path = joined;
        } else {
            env[(*n_env)++] = (rev2_property){x->env[i], eq + 1};
        }
    }
    if (*compiler_path)
        env[(*n_env)++] = (rev2_property){"COMPILER_PATH", *compiler_path};
    if (*p->env_path)
        env[(*n_env)++] = (rev2_property){"PATH", p->env_path};
    return env;
}

const char *exec_expected_output(const DevtoolsGoma__ExecReq *x, size_t i)
{
    return i < x->n_expected_output_files ? x->expected_output_files[i]
                                          : x->expected_output_dirs[i - x->n_expected_output_files];
}

bool exec_command_outputs(exec_job *j)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    size_t n = x->n_expected_output_files + x->n_expected_output_dirs;
    j->outputs = gmb_calloc(n + 1, sizeof *j->outputs);
    char *cwd = x->cwd ? exec_path_normalize(x->cwd) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *declared = exec_expected_output(x, i);
        j->outputs[i] = declared[0] != '/' ? gmb_strdup(declared) : cwd ? exec_path_output_in_cwd(cwd, declared) : NULL;
        if (!j->outputs[i]) {
            char *why = gmb_format("absolute expected output \"%s\" names the working directory \"%s\", a directory "
                                   "holding it, or a place above \"/\"",
                                   declared, x->cwd ? x->cwd : "");
            exec_respond_error(j, true, "absolute output path", why);
            free(why);
            break;
        }
        j->n_outputs++;
    }
    free(cwd);
    return j->n_outputs == n;
}

/* The client's argv; a shipped toolchain runs from the tree: argv[0] names it there. */
const char **exec_command_arguments(const exec_job *j)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    const char **args = gmb_calloc(x->n_arg + 1, sizeof *args);
    for (size_t i = 0; i < x->n_arg; i++)
        args[i] = x->arg[i];
    if (j->inputs.argv0 && x->n_arg > 0)
        args[0] = j->inputs.argv0;
    return args;
}

/* Builds j->action and sets j->lookup_digest. LOOKUP_ONLY: use a cached
 * result, but do not store ours. The action run then carries do_not_cache
 * (so it has another digest); the cache is asked with the digest of its
 * cacheable twin. */
int exec_build_action(exec_job *j, rev2_action_spec *spec, char **err)
{
    const DevtoolsGoma__ExecReq *x = j->exec;
    int rc = rev2_action_build(spec, &j->action, err);
    j->lookup_digest = j->action.action_digest;
    if (rc == 0 && x->has_cache_policy && x->cache_policy == DEVTOOLS_GOMA__EXEC_REQ__CACHE_POLICY__LOOKUP_ONLY) {
        rev2_built_action_free(&j->action);
        spec->do_not_cache = true;
        rc = rev2_action_build(spec, &j->action, err);
    }
    return rc;
}
