#include "goma_service.h"

#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "log.h"
#include "mem.h"

struct goma_service {
    uint64_t pings, logs; /* atomics */
};

static void on_ping(http_request *r, void *user)
{
    goma_service *g = user;
    __atomic_add_fetch(&g->pings, 1, __ATOMIC_RELAXED);
    GMB_DEBUG("goma", "#%llu ping from %s", (unsigned long long)http_request_id(r), http_request_user(r));
    http_respond(r, 200, "text/plain", "ok", 2);
}

static void on_save_log(http_request *r, void *user)
{
    goma_service *g = user;
    __atomic_add_fetch(&g->logs, 1, __ATOMIC_RELAXED);
    /* An empty SaveLogResp. */
    http_respond(r, 200, "binary/x-protocol-buffer", "", 0);
}

static void on_healthz(http_request *r, void *user)
{
    http_respond(r, 200, "text/plain", "ok\n", 3);
}

goma_service *goma_service_new(http_server *http, const char *prefix)
{
    goma_service *g = gmb_calloc(1, sizeof *g);
    char *p;
    p = gmb_format("%s/ping", prefix);
    http_server_route(http, p, "GET,POST", false, on_ping, g);
    free(p);
    p = gmb_format("%s/sl", prefix);
    http_server_route(http, p, "POST", false, on_save_log, g);
    free(p);
    http_server_route(http, "/healthz", "GET", true, on_healthz, g);
    return g;
}

void goma_service_counts(goma_service *g, uint64_t *pings, uint64_t *logs)
{
    *pings = __atomic_load_n(&g->pings, __ATOMIC_RELAXED);
    *logs = __atomic_load_n(&g->logs, __ATOMIC_RELAXED);
}

void goma_service_free(goma_service *g)
{
    free(g);
}
