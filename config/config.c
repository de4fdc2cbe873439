#include "errmsg.h"
#include "config.h"
#include "routing.h"
#include "mem.h"

#include <errno.h>
#include <stdint.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void *field(gmb_config *c, const gmb_config_key *k)
{
    return (char *)c + k->offset;
}

static void strlist_clear(gmb_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static void strlist_add(gmb_strlist *l, char *item)
{
    l->items = gmb_realloc(l->items, (l->n + 2) * sizeof *l->items);
    l->items[l->n++] = item;
    l->items[l->n] = NULL;
}

static void set_from_text(gmb_config *c, const gmb_config_key *k, const char *text)
{
    switch (k->type) {
    case GMB_CFG_STRING: {
        char **s = field(c, k);
        free(*s);
        *s = gmb_strdup(text);
        break;
    }
    case GMB_CFG_INT:
        *(int64_t *)field(c, k) = strtoll(text, NULL, 10);
        break;
    case GMB_CFG_BOOL:
        *(bool *)field(c, k) = strcmp(text, "true") == 0;
        break;
    case GMB_CFG_LIST: {
        gmb_strlist *l = field(c, k);
        strlist_clear(l);
        for (const char *p = text; *p;) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            strlist_add(l, gmb_strndup(p, n));
            p += n + (bar ? 1 : 0);
        }
        break;
    }
    }
}

void gmb_config_defaults(gmb_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < gmb_config_schema_len; i++)
        set_from_text(c, &gmb_config_schema[i], gmb_config_schema[i].default_text);
}

static const gmb_config_key *find_key(const char *path)
{
    for (size_t i = 0; i < gmb_config_schema_len; i++)
        if (strcmp(gmb_config_schema[i].path, path) == 0)
            return &gmb_config_schema[i];
    return NULL;
}

/* True if some key lives below `prefix` (so `prefix` may be a group). */
static bool is_group(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < gmb_config_schema_len; i++)
        if (strncmp(gmb_config_schema[i].path, prefix, n) == 0 && gmb_config_schema[i].path[n] == '.')
            return true;
    return false;
}

static const char *type_name(gmb_config_type t)
{
    return t == GMB_CFG_STRING ? "a string in quotes"
           : t == GMB_CFG_INT  ? "an integer"
           : t == GMB_CFG_LIST ? "a list of strings: [\"a\", \"b\"]"
                               : "true or false";
}

static int where(const config_setting_t *s, const char *path, char *buf, size_t n)
{
    const char *file = config_setting_source_file(s);
    return snprintf(buf, n, "%s:%u", file ? file : path, config_setting_source_line(s));
}

static int load_setting(gmb_config *c, const config_setting_t *s, const char *prefix, const char *path, char **err)
{
    const char *name = config_setting_name(s);
    char full[256];
    snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", name ? name : "");
    char at[512];
    where(s, path, at, sizeof at);

    if (config_setting_is_group(s)) {
        if (!is_group(full))
            return gmb_fail(err, "%s: unknown section \"%s\" (see `gomabarn config-keys`)", at, full);
        for (int i = 0; i < config_setting_length(s); i++)
            if (load_setting(c, config_setting_get_elem(s, (unsigned)i), full, path, err) < 0)
                return -1;
        return 0;
    }
    const gmb_config_key *k = find_key(full);
    if (!k)
        return gmb_fail(err, "%s: unknown key \"%s\"%s", at, full,
                        is_group(full) ? " (it is a section: write it as name = { ... };)"
                                       : " (see `gomabarn config-keys`)");
    int t = config_setting_type(s);
    switch (k->type) {
    case GMB_CFG_STRING:
        if (t != CONFIG_TYPE_STRING)
            return gmb_fail(err, "%s: %s must be %s", at, full, type_name(k->type));
        set_from_text(c, k, config_setting_get_string(s));
        break;
    case GMB_CFG_INT: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return gmb_fail(err, "%s: %s must be %s", at, full, type_name(k->type));
        long long v = config_setting_get_int64(s);
        /* libconfig saturates a 32-bit literal that is too large instead
         * of failing; say what the user most likely meant. */
        if (t == CONFIG_TYPE_INT && (v == INT32_MAX || v == INT32_MIN) && k->max > INT32_MAX)
            return gmb_fail(err, "%s: %s: numbers beyond 2147483647 need an L suffix in libconfig (e.g. 10737418240L)",
                            at, full);
        if (v < k->min || v > k->max)
            return gmb_fail(err, "%s: %s = %lld is out of range [%lld, %lld]", at, full, v, (long long)k->min,
                            (long long)k->max);
        *(int64_t *)field(c, k) = v;
        break;
    }
    case GMB_CFG_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return gmb_fail(err, "%s: %s must be %s", at, full, type_name(k->type));
        *(bool *)field(c, k) = config_setting_get_bool(s) != 0;
        break;
    case GMB_CFG_LIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return gmb_fail(err, "%s: %s must be %s", at, full, type_name(k->type));
        gmb_strlist *l = field(c, k);
        strlist_clear(l);
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return gmb_fail(err, "%s: %s must be %s (item %d is not a string)", at, full, type_name(k->type),
                                i + 1);
            strlist_add(l, gmb_strdup(config_setting_get_string(e)));
        }
        break;
    }
    }
    return 0;
}

int gmb_config_load(const char *path, gmb_config *c, char **err)
{
    config_t cfg;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        int rc;
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            rc = gmb_fail(err, "%s: cannot read: %s", path, strerror(errno));
        else
            rc = gmb_fail(err, "%s:%d: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path,
                          config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return rc;
    }
    config_setting_t *root = config_root_setting(&cfg);
    int rc = 0;
    for (int i = 0; rc == 0 && i < config_setting_length(root); i++)
        rc = load_setting(c, config_setting_get_elem(root, (unsigned)i), "", path, err);
    config_destroy(&cfg);
    if (rc == 0)
        rc = gmb_config_validate(c, path, err);
    return rc;
}

int gmb_config_validate(const gmb_config *c, const char *path, char **err)
{
    if (!*c->bb_target)
        return gmb_fail(err, "%s: buildbarn.target is empty; set it to Buildbarn's host:port", path);
    if (!c->bb_tls && (*c->bb_tls_ca_file || *c->bb_tls_cert_file || *c->bb_tls_key_file))
        return gmb_fail(err, "%s: TLS files are set but buildbarn.tls is false", path);
    if (!*c->bb_tls_cert_file != !*c->bb_tls_key_file)
        return gmb_fail(err, "%s: mutual TLS needs both buildbarn.tls_cert_file and buildbarn.tls_key_file", path);
    if (c->bb_retry_initial_backoff_ms > c->bb_retry_max_backoff_ms)
        return gmb_fail(err, "%s: buildbarn.retry.initial_backoff_ms exceeds max_backoff_ms", path);
    const char *bad = gmb_instance_name_problem(c->bb_instance_name);
    if (bad)
        return gmb_fail(err, "%s: buildbarn.instance_name \"%s\" %s", path, c->bb_instance_name, bad);
    if (*c->exec_root && c->exec_root[0] != '/')
        return gmb_fail(err, "%s: exec.root \"%s\" must be an absolute client directory (or empty)", path,
                        c->exec_root);
    for (size_t i = 0; i < c->exec_env_allow.n; i++) {
        const char *v = c->exec_env_allow.items[i];
        if (!*v || strchr(v, '=') || (strchr(v, '*') && strchr(v, '*')[1]))
            return gmb_fail(err, "%s: exec.env_allow item \"%s\" must be a variable name, or a prefix ending in *",
                            path, v);
    }
    gmb_routes routes;
    char *why = NULL;
    if (gmb_routes_parse(&c->routing_rules, &routes, &why) < 0) {
        int rc = gmb_fail(err, "%s: %s", path, why);
        free(why);
        return rc;
    }
    gmb_routes_free(&routes);
    const char *bad_fallback = gmb_instance_name_problem(c->exec_fallback_instance);
    if (bad_fallback)
        return gmb_fail(err, "%s: exec.fallback_instance \"%s\" %s", path, c->exec_fallback_instance, bad_fallback);
    if (strcmp(c->auth_mode, "none") != 0 && strcmp(c->auth_mode, "tokens") != 0)
        return gmb_fail(err, "%s: auth.mode \"%s\" is not \"none\" or \"tokens\"", path, c->auth_mode);
    if (strcmp(c->auth_mode, "tokens") == 0 && !*c->auth_token_file)
        return gmb_fail(err, "%s: auth.mode is \"tokens\" but auth.token_file is empty", path);
    if (c->http_path_prefix[0] != '/' ||
        (strlen(c->http_path_prefix) > 1 && c->http_path_prefix[strlen(c->http_path_prefix) - 1] == '/'))
        return gmb_fail(err, "%s: http.path_prefix \"%s\" must start with '/' and not end with one", path,
                        c->http_path_prefix);
    const char *levels[] = {"debug", "info", "warn", "error"};
    bool ok = false;
    for (size_t i = 0; i < 4; i++)
        ok |= strcmp(c->log_level, levels[i]) == 0;
    if (!ok)
        return gmb_fail(err, "%s: log.level \"%s\" is not one of debug, info, warn, error", path, c->log_level);
    return 0;
}

void gmb_config_free(gmb_config *c)
{
    for (size_t i = 0; i < gmb_config_schema_len; i++) {
        if (gmb_config_schema[i].type == GMB_CFG_STRING) {
            char **s = field(c, &gmb_config_schema[i]);
            free(*s);
            *s = NULL;
        } else if (gmb_config_schema[i].type == GMB_CFG_LIST) {
            strlist_clear(field(c, &gmb_config_schema[i]));
        }
    }
}

void gmb_config_print_schema(FILE *out)
{
    fprintf(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < gmb_config_schema_len; i++) {
        const gmb_config_key *k = &gmb_config_schema[i];
        const char *t = k->type == GMB_CFG_STRING ? "string"
                        : k->type == GMB_CFG_INT  ? "integer"
                        : k->type == GMB_CFG_LIST ? "list of strings"
                                                  : "bool";
        if (k->type == GMB_CFG_LIST) {
            fprintf(out, "| `%s` | %s | `[", k->path, t);
            for (const char *p = k->default_text; *p;) {
                size_t n = strcspn(p, "|");
                fprintf(out, "%s\"%.*s\"", p == k->default_text ? "" : ", ", (int)n, p);
                p += n + (p[n] == '|');
            }
            fprintf(out, "]` | %s |\n", k->meaning);
        } else if (k->type == GMB_CFG_STRING)
            fprintf(out, "| `%s` | %s | `\"%s\"` | %s |\n", k->path, t, k->default_text, k->meaning);
        else
            fprintf(out, "| `%s` | %s | `%s` | %s |\n", k->path, t, k->default_text, k->meaning);
    }
}
