/* routing: which REv2 instance name runs a goma request.
 *
 * Rules come from `routing.rules`, one string each, tried in order:
 *   "compiler=clang* target=aarch64-* -> arm"
 *   "dimension=os:linux -> hardlinking"
 *   "compiler=gcc -> \"\""            (the empty instance name)
 * Every KEY=PATTERN condition must hold: compiler is the request's
 * command_spec.name, target its command_spec.target, dimension any one of
 * RequesterInfo.dimensions. A PATTERN ending in '*' matches by prefix; a
 * missing field matches only "*". No rule matching: the default name.
 *
 * A rule may also shadow a share of its requests on a second instance
 * name (exec_shadow.h): the same action run there too, cache bypassed,
 * and compared; the client's answer comes from the first one only.
 *   "compiler=gcc* -> hardlinking shadow fuse 10%"
 * The share defaults to 100%. The X-Gomabarn-Shadow request header
 * ("fuse", "fuse 5%") does the same when routing.allow_header is set. */
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
    char *shadow;        /* NULL: no shadow */
    double shadow_share; /* 0 < share <= 1 with a shadow */
    char *text;          /* the rule as written, for logs */
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
/* Parses "NAME [PCT%]" (a shadow's instance name and share, as after
 * "shadow" in a rule or in the X-Gomabarn-Shadow header): 0 with *name
 * malloc'd and *share in (0, 1], or -1 with a malloc'd reason. */
int gmb_shadow_parse(const char *text, char **name, double *share, char **err);
/* NULL if `name` is a valid instance name, else why not (static). */
const char *gmb_instance_name_problem(const char *name);

#endif
