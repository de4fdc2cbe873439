#include "status_page.h"

#include <stdlib.h>
#include <time.h>

#include "errmsg.h"
#include "html.h"
#include "mem.h"
#include "status_internal.h"

void status_page_watch_budget(status_page *s, struct gmb_budget *budget)
{
    s->budget = budget;
}

void status_page_watch_pools(status_page *s, struct rev2_pool_health *pools)
{
    s->pools = pools;
}

static void on_metrics(http_request *r, void *user)
{
    status_page *s = user;
    status_refresh_gauges(s);
    gmb_buf out;
    gmb_buf_init(&out, GMB_BUF_UNLIMITED);
    metrics_render(s->metrics, &out);
    http_respond(r, 200, "text/plain; version=0.0.4", out.data, out.len);
    gmb_buf_free(&out);
}

status_page *status_page_new(const gmb_config *cfg, rev2_client *client, cas_store *store, goma_files *files,
                             http_server *http, metrics *m, request_log *log)
{
    status_page *s = gmb_calloc(1, sizeof *s);
    *s = (status_page){.client = client,
                       .store = store,
                       .files = files,
                       .http = http,
                       .metrics = m,
                       .log = log,
                       .started = time(NULL),
                       .cache_max_bytes = cfg->cache_max_bytes};
    pthread_mutex_init(&s->evicted_lock, NULL);
    char *target = html_escape(cfg->bb_target), *inst = html_escape(cfg->bb_instance_name),
         *img = html_escape(cfg->platform_container_image), *dir = html_escape(cfg->cache_dir),
         *prefix = html_escape(cfg->http_path_prefix);
    char max[32];
    html_bytes(max, sizeof max, (double)cfg->cache_max_bytes);
    s->summary = gmb_format(
        "<table><tr><th>Buildbarn</th><td>%s (%s%s)</td></tr><tr><th>default instance name</th><td>\"%s\"</td></tr>"
        "<tr><th>platform</th><td>OSFamily=%s%s%s</td></tr><tr><th>cache</th><td>%s (max %s)</td></tr>"
        "<tr><th>goma endpoints</th><td>%s/ (auth %s)</td></tr><tr><th>outputs read</th><td>%s</td></tr></table>",
        target, cfg->bb_tls ? "TLS" : "plain text", *cfg->bb_token_file ? ", bearer token" : "", inst,
        cfg->platform_os_family, *img ? ", container-image=" : "", img, dir, max, prefix, cfg->auth_mode,
        cfg->mount_enabled ? "through the FUSE view at mount.path (in-process if it could not mount)" : "in-process");
    free(target);
    free(inst);
    free(img);
    free(dir);
    free(prefix);
    status_declare_families(m);
    return s;
}

void status_page_routes(status_page *s, http_server *http)
{
    http_server_route(http, "/", "GET", true, status_front_page, s);
    http_server_route(http, "/request/*", "GET", true, status_request_page, s);
    http_server_route(http, "/builds", "GET", true, status_builds_page, s);
    http_server_route(http, "/build", "GET", true, status_build_page, s);
    http_server_route(http, "/metrics", "GET", true, on_metrics, s);
}

void status_page_free(status_page *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->evicted_lock);
    free(s->summary);
    free(s);
}
