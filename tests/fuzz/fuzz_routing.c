/* fuzz_routing: routing rules (config/routing.h) as written in
 * routing.rules, and the choice they make for a request.
 *
 * Input: text. Lines up to the first empty line are the rules; then one
 * line for the compiler (command_spec.name), one for the target, and the
 * remaining lines are RequesterInfo dimensions. A missing compiler or
 * target line means the request lacks that field. Checked: a parsed rule
 * has at least one condition with a known key and an instance name the
 * scheduler accepts; and the rule chosen is the first rule all of whose
 * conditions hold by the header's definition (matched here again). */
#include "fuzz_common.h"

#include "routing.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* The header's words: a PATTERN ending in '*' matches by prefix; a
 * missing field matches only "*". */
static bool pattern_matches(const char *pattern, const char *value)
{
    size_t n = strlen(pattern);
    if (!value)
        return strcmp(pattern, "*") == 0;
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(value, pattern, n - 1) == 0;
    return strcmp(value, pattern) == 0;
}

static bool holds(const gmb_route_cond *c, const char *compiler, const char *target, char **dims, size_t n_dims)
{
    if (strcmp(c->key, "compiler") == 0)
        return pattern_matches(c->pattern, compiler);
    if (strcmp(c->key, "target") == 0)
        return pattern_matches(c->pattern, target);
    if (n_dims == 0)
        return pattern_matches(c->pattern, NULL);
    for (size_t i = 0; i < n_dims; i++)
        if (pattern_matches(c->pattern, dims[i]))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor cur;
    fuzz_cursor_init(&cur, data, size);
    size_t len;
    char *text = fuzz_rest_string(&cur, &len);
    /* Lines (a NUL inside ends the text, as it would a C string). */
    char **lines = NULL;
    size_t n_lines = 0;
    for (char *p = text;;) {
        lines = gmb_realloc(lines, (n_lines + 1) * sizeof *lines);
        lines[n_lines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    size_t n_rules = 0;
    while (n_rules < n_lines && *lines[n_rules])
        n_rules++;
    size_t next = n_rules + 1;
    const char *compiler = next < n_lines ? lines[next] : NULL;
    const char *target = next + 1 < n_lines ? lines[next + 1] : NULL;
    char **dims = next + 2 < n_lines ? lines + next + 2 : NULL;
    size_t n_dims = next + 2 < n_lines ? n_lines - next - 2 : 0;

    gmb_strlist rules = {lines, n_rules};
    gmb_routes routes;
    char *err = NULL;
    if (gmb_routes_parse(&rules, &routes, &err) < 0) {
        FUZZ_CHECK(err != NULL, "a failure without a message");
        FUZZ_CHECK(routes.routes == NULL && routes.n == 0, "a failed parse keeps rules");
        free(err);
    } else {
        FUZZ_CHECK(routes.n == n_rules, "%zu rules parsed from %zu lines", routes.n, n_rules);
        size_t expect = routes.n;
        for (size_t i = 0; i < routes.n; i++) {
            const gmb_route *r = &routes.routes[i];
            FUZZ_CHECK(r->n_conds > 0, "rule %zu has no condition", i);
            FUZZ_CHECK(r->instance && gmb_instance_name_problem(r->instance) == NULL, "rule %zu: bad instance", i);
            bool all = true;
            for (size_t k = 0; k < r->n_conds; k++) {
                const char *key = r->conds[k].key;
                FUZZ_CHECK(strcmp(key, "compiler") == 0 || strcmp(key, "target") == 0 || strcmp(key, "dimension") == 0,
                           "rule %zu: key \"%s\"", i, key);
                FUZZ_CHECK(*r->conds[k].pattern, "rule %zu: empty pattern", i);
                all = all && holds(&r->conds[k], compiler, target, dims, n_dims);
            }
            if (all && expect == routes.n)
                expect = i;
        }
        const gmb_route *got = gmb_routes_match(&routes, compiler, target, dims, n_dims);
        size_t got_i = got ? (size_t)(got - routes.routes) : routes.n;
        FUZZ_CHECK(got_i == expect, "rule %zu chosen, the first that holds is %zu", got_i, expect);
        gmb_routes_free(&routes);
    }
    free(lines);
    free(text);
    return 0;
}
