/* client_config: turns the `buildbarn` section of gmb_config into a
 * connected rev2_client (reading the token file). */
#ifndef GMB_CLIENT_CONFIG_H
#define GMB_CLIENT_CONFIG_H

#include "config.h"
#include "rev2_client.h"

/* NULL with a malloc'd, human-readable *err on failure. */
rev2_client *gmb_client_from_config(const gmb_config *cfg, char **err);

#endif
