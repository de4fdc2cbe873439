/* goma_service: goma's endpoints on the HTTP server.
 *   <prefix>/ping  GET (goma_auth) or POST with an empty body (compiler_proxy):
 *                  200 "ok" when the caller's token is good
 *   <prefix>/sl    SaveLog: accepted, counted, discarded
 * (<prefix>/e is exec_pipeline.h; <prefix>/s and /l are goma_files.h.)
 *   /healthz       for load balancers, no token needed */
#ifndef GOMA_SERVICE_H
#define GOMA_SERVICE_H

#include <stdint.h>

#include "http_server.h"

typedef struct goma_service goma_service;

goma_service *goma_service_new(http_server *http, const char *path_prefix);
void goma_service_counts(goma_service *g, uint64_t *pings, uint64_t *logs);
void goma_service_free(goma_service *g);

#endif
