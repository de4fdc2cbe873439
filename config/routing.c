#include "routing.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "mem.h"

static char *trimmed(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = gmb_strndup(s, n);
    return out;
}

const char *gmb_instance_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n && (name[0] == '/' || name[n - 1] == '/' || strstr(name, "//")))
        return "has a leading, trailing or double '/'";
    return NULL;
}

/* The instance name as written: "" stands for the empty one. */
static void unquote_empty(char *name)
{
    if (strcmp(name, "\"\"") == 0)
        name[0] = '\0';
}

int gmb_shadow_parse(const char *text, char **name, double *share, char **err)
{
    char *t = trimmed(text, strlen(text));
    char *space = strpbrk(t, " \t");
    *share = 1.0;
    if (space) {
        *space = '\0';
        char *pct = space + 1;
        while (isspace((unsigned char)*pct))
            pct++;
        char *end = NULL;
        double v = strtod(pct, &end);
        if (end == pct || *end != '%' || end[1] != '\0' || !(v > 0 && v <= 100)) {
            int rc = gmb_fail(err, "shadow share \"%s\" is not a percentage in (0, 100], like 10%%", pct);
            free(t);
            return rc;
        }
        *share = v / 100.0;
    }
    if (!*t) {
        free(t);
        return gmb_fail(err, "has no shadow instance name");
    }
    unquote_empty(t);
    const char *bad = gmb_instance_name_problem(t);
    if (bad) {
        int rc = gmb_fail(err, "shadow instance name \"%s\" %s", t, bad);
        free(t);
        return rc;
    }
    *name = t;
    return 0;
}

/* "INSTANCE" or "INSTANCE shadow NAME [PCT%]", after the arrow. */
static int parse_target(const char *text, gmb_route *r, char **err)
{
    const char *shadow = strstr(text, " shadow");
    if (!shadow)
        shadow = strstr(text, "\tshadow");
    r->instance = trimmed(text, shadow ? (size_t)(shadow - text) : strlen(text));
    if (!*r->instance)
        return gmb_fail(err, "has no instance name after \"->\" (write \"\" for the empty instance name)");
    unquote_empty(r->instance);
    if (!shadow)
        return 0;
    const char *rest = shadow + strlen(" shadow");
    if (*rest && !isspace((unsigned char)*rest))
        return gmb_fail(err, "has \"shadow\" not followed by an instance name");
    char *why = NULL;
    if (gmb_shadow_parse(rest, &r->shadow, &r->shadow_share, &why) < 0) {
        gmb_fail(err, "%s", why);
        free(why);
        return -1;
    }
    if (strcmp(r->shadow, r->instance) == 0)
        return gmb_fail(err, "shadows instance name \"%s\" on itself", r->shadow);
    return 0;
}

static int parse_one(const char *text, gmb_route *r, char **err)
{
    r->text = gmb_strdup(text);
    const char *arrow = strstr(text, "->");
    if (!arrow)
        return gmb_fail(err, "has no \"-> INSTANCE\"");
    if (parse_target(arrow + 2, r, err) < 0)
        return -1;
    const char *bad = gmb_instance_name_problem(r->instance);
    if (bad)
        return gmb_fail(err, "instance name \"%s\" %s", r->instance, bad);
    char *conds = trimmed(text, (size_t)(arrow - text));
    char *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(conds, " \t", &save); tok && rc == 0; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            rc = gmb_fail(err, "condition \"%s\" is not KEY=PATTERN", tok);
            break;
        }
        *eq = '\0';
        if (strcmp(tok, "compiler") != 0 && strcmp(tok, "target") != 0 && strcmp(tok, "dimension") != 0) {
            rc = gmb_fail(err, "unknown key \"%s\" (compiler, target or dimension)", tok);
            break;
        }
        r->conds = gmb_realloc(r->conds, (r->n_conds + 1) * sizeof *r->conds);
        r->conds[r->n_conds++] = (gmb_route_cond){gmb_strdup(tok), gmb_strdup(eq + 1)};
    }
    free(conds);
    if (rc == 0 && r->n_conds == 0)
        rc = gmb_fail(err, "has no condition (a rule matching everything is buildbarn.instance_name)");
    return rc;
}

int gmb_routes_parse(const gmb_strlist *rules, gmb_routes *out, char **err)
{
    out->routes = gmb_calloc(rules->n + 1, sizeof *out->routes);
    out->n = 0;
    for (size_t i = 0; i < rules->n; i++) {
        char *why = NULL;
        int rc = parse_one(rules->items[i], &out->routes[out->n++], &why);
        if (rc < 0) {
            gmb_fail(err, "routing.rules item %zu \"%s\" %s", i + 1, rules->items[i], why);
            free(why);
            gmb_routes_free(out);
            return -1;
        }
    }
    return 0;
}

static bool matches(const char *pattern, const char *value)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return value ? strncmp(pattern, value, n - 1) == 0 : n == 1;
    return value && strcmp(pattern, value) == 0;
}

static bool cond_holds(const gmb_route_cond *c, const char *compiler, const char *target, char *const *dims,
                       size_t n_dims)
{
    if (strcmp(c->key, "compiler") == 0)
        return matches(c->pattern, compiler);
    if (strcmp(c->key, "target") == 0)
        return matches(c->pattern, target);
    for (size_t i = 0; i < n_dims; i++)
        if (matches(c->pattern, dims[i]))
            return true;
    return n_dims == 0 && strcmp(c->pattern, "*") == 0;
}

const gmb_route *gmb_routes_match(const gmb_routes *r, const char *compiler, const char *target,
                                  char *const *dimensions, size_t n_dimensions)
{
    for (size_t i = 0; i < r->n; i++) {
        bool all = true;
        for (size_t k = 0; all && k < r->routes[i].n_conds; k++)
            all = cond_holds(&r->routes[i].conds[k], compiler, target, dimensions, n_dimensions);
        if (all)
            return &r->routes[i];
    }
    return NULL;
}

void gmb_routes_free(gmb_routes *r)
{
    for (size_t i = 0; r->routes && i < r->n; i++) {
        for (size_t k = 0; k < r->routes[i].n_conds; k++) {
            free(r->routes[i].conds[k].key);
            free(r->routes[i].conds[k].pattern);
        }
        free(r->routes[i].conds);
        free(r->routes[i].instance);
        free(r->routes[i].shadow);
        free(r->routes[i].text);
    }
    free(r->routes);
    r->routes = NULL;
    r->n = 0;
}
