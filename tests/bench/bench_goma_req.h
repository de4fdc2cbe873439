/* bench_goma_req: what the goma benchmarks share: one-input ExecReqs in
 * goma's wire form (groups), sending them, and percentiles. */
#ifndef BENCH_GOMA_REQ_H
#define BENCH_GOMA_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "goma/goma_data.pb-c.h"

/* An ExecReq running `args` in /tmp/gomabarn-bench with one embedded input
 * file and one expected output. malloc'd wire bytes, length in *len. */
uint8_t *bench_exec_req(const char *input_name, const char *input_content, char **args, size_t n_args, char *output,
                        size_t *len);
/* POSTs it to the gateway on 127.0.0.1:port; the ExecResp, or NULL. */
DevtoolsGoma__ExecResp *bench_exec(int port, const uint8_t *req, size_t len);
/* The p-th percentile (0..1) of v (sorts v). */
double bench_pct(double *v, size_t n, double p);

#endif
