/* routing: which REv2 instance name runs a goma request.
 *
 * Rules come from `routing.rules`, one string each, tried in order:
 *   "compiler=clang* target=aarch64-* -> arm"
 *   "dimension=os:linux -> hardlinking"
 *   "compiler=gcc -> \"\""            (the empty instance name)
 * Every KEY=PATTERN condition must hold: compiler is the request's
 * command_spec.name, target its command_spec.target, dimension any one of
 * RequesterInfo.dimensions. A PATTERN ending in '*' matches by prefix; a
 * missing field matches only "*". No rule matching: the default name. */
#ifndef GMB_ROUTING_H
#define GMB_ROUTING_H

#include <stddef.h>

#include "config.h"

typedef struct {
    char *key; /* compiler, target or dimension */
    char *pattern;
} gmb_route_cond;

typedef struct {
    gmb_route_cond *conds;
    size_t n_conds;
    char *instance;
    char *text; /* the rule as written, for logs */
} gmb_route;

typedef struct {
    gmb_route *routes;
    size_t n;
} gmb_routes;

/* 0, or -1 with a malloc'd message naming the rule and what is wrong. */
int gmb_routes_parse(const gmb_strlist *rules, gmb_routes *out, char **err);
/* The matching rule, or NULL. */
const gmb_route *gmb_routes_match(const gmb_routes *r, const char *compiler, const char *target,
                                  char *const *dimensions, size_t n_dimensions);
void gmb_routes_free(gmb_routes *r);
/* NULL if `name` is a valid instance name, else why not (static). */
const char *gmb_instance_name_problem(const char *name);

#endif
