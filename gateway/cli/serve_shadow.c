#include "serve_shadow.h"

#include <stdlib.h>

#include "client_config.h"
#include "mem.h"
#include "shadow_page.h"
#include "worker_phases.h"

struct serve_shadow {
    rev2_client *client;
    exec_shadow *shadow;
    shadow_page *page;
};

serve_shadow *serve_shadow_start(const gmb_config *cfg, metrics *m, gmb_view *view, http_server *http, char **err)
{
    rev2_client *client = gmb_client_from_config(cfg, err);
    if (!client)
        return NULL;
    serve_shadow *ss = gmb_calloc(1, sizeof *ss);
    ss->client = client;
    exec_shadow_options o = {.max_queued = (size_t)cfg->shadow_max_queued,
                             .max_in_flight = (int)cfg->shadow_max_in_flight,
                             .keep = (size_t)cfg->shadow_keep,
                             .max_queued_ms = cfg->exec_max_queued_s * 1000};
    ss->shadow = exec_shadow_new(client, &o, m, view);
    exec_shadow_declare_metrics(m);
    worker_phases_declare(m);
    ss->page = shadow_page_new(ss->shadow, view ? view_mountpoint(view) : NULL);
    shadow_page_routes(ss->page, http);
    return ss;
}

exec_shadow *serve_shadow_queue(serve_shadow *ss)
{
    return ss ? ss->shadow : NULL;
}

void serve_shadow_stop(serve_shadow *ss)
{
    if (!ss)
        return;
    exec_shadow_free(ss->shadow);
    shadow_page_free(ss->page);
    rev2_client_free(ss->client);
    free(ss);
}
