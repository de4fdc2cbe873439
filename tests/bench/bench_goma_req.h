/* bench_goma_req: what the goma benchmarks share: ExecReqs in goma's wire
 * form (groups), with one embedded source and optionally the compiler
 * itself (toolchain_included, as gomabarn-cc and goma's client send it),
 * StoreFile of the compiler's files, sending Execs, and percentiles. */
#ifndef BENCH_GOMA_REQ_H
#define BENCH_GOMA_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "bench_http_client.h"
#include "goma/goma_data.pb-c.h"

#define BENCH_GOMA_PREFIX "/cxx-compiler-service"

/* ---- requests ---- */

/* An ExecReq running `args` in /tmp/gomabarn-bench with one embedded input
 * file and one expected output. malloc'd wire bytes, length in *len. */
uint8_t *bench_exec_req(const char *input_name, const char *input_content, char **args, size_t n_args, char *output,
                        size_t *len);

/* The compiler's own files (cc_toolchain.h: the driver as found in PATH,
 * the symlinks to it, cc1 and as) as goma blobs: a FILE up to 2 MiB, else
 * a FILE_META over 2 MiB FILE_CHUNKs. */
typedef struct bench_toolchain bench_toolchain;

/* NULL with *err (malloc'd) if the compiler or one of its files cannot be read. */
bench_toolchain *bench_toolchain_load(const char *compiler, char **err);
void bench_toolchain_free(bench_toolchain *t);
/* Files (symlinks included) and their total size in bytes. */
size_t bench_toolchain_count(const bench_toolchain *t, uint64_t *bytes);
/* Entry i's path and size (0 for a symlink). */
const char *bench_toolchain_path(const bench_toolchain *t, size_t i, uint64_t *size);
/* StoreFile of every blob (chunks five per request, as goma does, then
 * the FILE_META), checking each key the gateway answers. 0, or -1 with
 * *err (malloc'd). */
int bench_toolchain_store(const bench_toolchain *t, bench_http *c, char **err);
/* As bench_exec_req, plus the toolchain: each file an input by hash key
 * only (no content: StoreFile first) and a toolchain spec per entry, the
 * compiler as named first; toolchain_included set. */
uint8_t *bench_exec_req_toolchain(const char *input_name, const char *input_content, char **args, size_t n_args,
                                  char *output, const bench_toolchain *t, size_t *len);

/* ---- sending ---- */

/* gzip of a request body (what goma's client sends); malloc'd. */
uint8_t *bench_gzip(const uint8_t *body, size_t len, size_t *gz_len);
/* POSTs a gzip'd ExecReq on c; the ExecResp, or NULL with *why (c's
 * buffer, or a static text). */
DevtoolsGoma__ExecResp *bench_exec_on(bench_http *c, const uint8_t *gz, size_t gz_len, const char **why);
/* POSTs it to the gateway on 127.0.0.1:port on a new connection; the
 * ExecResp, or NULL. */
DevtoolsGoma__ExecResp *bench_exec(int port, const uint8_t *req, size_t len);

/* The p-th percentile (0..1) of v (sorts v). */
double bench_pct(double *v, size_t n, double p);

#endif
