/* client_config: turns sections of gmb_config into the options of the
 * parts they configure: the REv2 client (reading the token file), the
 * content store and the FUSE view. */
#ifndef GMB_CLIENT_CONFIG_H
#define GMB_CLIENT_CONFIG_H

#include "cas_store.h"
#include "config.h"
#include "rev2_client.h"
#include "view.h"

/* NULL with a malloc'd, human-readable *err on failure. */
rev2_client *gmb_client_from_config(const gmb_config *cfg, char **err);
/* The same, with upload buffers bounded by `budget` (budget.h; not owned). */
rev2_client *gmb_client_from_config_budget(const gmb_config *cfg, struct gmb_budget *budget, char **err);
/* The `cache` section as content-store options (strings point into cfg). */
cas_store_options gmb_store_options(const gmb_config *cfg);
/* The `mount` section as view options; mountpoint NULL: mount.path. */
view_options gmb_view_options(const gmb_config *cfg, const char *mountpoint);

#endif
