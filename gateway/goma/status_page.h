/* status_page: what an operator looks at.
 *   /               HTML: version, uptime, configuration summary (no
 *                   secrets), Buildbarn reachability (asked on each view),
 *                   store and client figures, the recent Exec requests
 *   /request/<id>   one request: action digest, inputs, worker, queue,
 *                   fetch, execute and upload times, error
 *   /metrics        Prometheus text format
 * (/compare, shadow execution's pages, is shadow_page.h's.)
 * Answers asynchronously: a slow Buildbarn never holds an HTTP thread. */
#ifndef STATUS_PAGE_H
#define STATUS_PAGE_H

#include "cas_store.h"
#include "config.h"
#include "goma_files.h"
#include "http_server.h"
#include "metrics.h"
#include "request_log.h"

typedef struct status_page status_page;

struct gmb_budget;
/* /metrics and the page then show the blob memory budget's figures. */
void status_page_watch_budget(status_page *s, struct gmb_budget *budget);
struct rev2_pool_health;
/* ... and each worker pool's health (rev2_pool_health.h). */
void status_page_watch_pools(status_page *s, struct rev2_pool_health *pools);
status_page *status_page_new(const gmb_config *cfg, rev2_client *client, cas_store *store, goma_files *files,
                             http_server *http, metrics *m, request_log *log);
void status_page_routes(status_page *s, http_server *http);
void status_page_free(status_page *s);

#endif
