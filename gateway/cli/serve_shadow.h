/* serve_shadow: shadow execution as `gomabarn serve` runs it: a REv2
 * client of its own (so stopping the shadows never touches the
 * pipeline's calls), the exec_shadow queue and threads, and the
 * /compare pages. */
#ifndef SERVE_SHADOW_H
#define SERVE_SHADOW_H

#include "config.h"
#include "exec_shadow.h"
#include "http_server.h"
#include "metrics.h"
#include "view.h"

typedef struct serve_shadow serve_shadow;

/* view may be NULL (not mounted). NULL with a malloc'd *err. */
serve_shadow *serve_shadow_start(const gmb_config *cfg, metrics *m, gmb_view *view, http_server *http, char **err);
exec_shadow *serve_shadow_queue(serve_shadow *ss);
/* After the pipeline is freed (it submits shadows), before the view. */
void serve_shadow_stop(serve_shadow *ss);

#endif
