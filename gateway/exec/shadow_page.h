/* shadow_page: what shadow execution found, on the status server.
 *   /compare          the instance pairs shadowed, with their counts
 *   /compare/pair?primary=A&shadow=B[&since=SECONDS]
 *                     per worker phase p50/p90/p99 on both pools and the
 *                     ratio, a chart of them (SVG drawn here, no script),
 *                     the mismatches and failures with the paths of both
 *                     actions under the mount
 *   /compare/report[?primary=A&shadow=B][&since=SECONDS][&format=json]
 *                     the same as text (action_report_text) or JSON, every
 *                     pair when none is named: what `gomabarn compare`
 *                     prints
 * since: only comparisons finished in the last SECONDS. The empty
 * instance name is written "" in the query. */
#ifndef SHADOW_PAGE_H
#define SHADOW_PAGE_H

#include "exec_shadow.h"
#include "http_server.h"

typedef struct shadow_page shadow_page;

/* mount_path: where the view is mounted, to name the actions' outputs;
 * NULL or "": not mounted. */
shadow_page *shadow_page_new(exec_shadow *s, const char *mount_path);
void shadow_page_routes(shadow_page *p, http_server *http);
void shadow_page_free(shadow_page *p);

#endif
