/* cc_remote: one compile through the gateway. The inputs come from the
 * compiler's own dependency output (-M); files travel with goma's hash keys
 * (small or requested ones embedded, the rest by key, files over 2 MiB as
 * StoreFile chunks); missing inputs are re-sent; large outputs are fetched
 * with LookupFile. Nothing is written to disk until the caller takes the
 * answer (cc_remote_answer_write), so a local compile racing this one can
 * still win without the two touching the same files. */
#ifndef CC_REMOTE_H
#define CC_REMOTE_H

#include <stdbool.h>

#include "cc_args.h"
#include "http_client.h"

typedef struct cc_remote_answer cc_remote_answer;

/* The gateway's answer with every output in memory, or NULL with *why (a
 * sentence, heap) when the gateway did not compile it: the caller compiles
 * locally. */
cc_remote_answer *cc_remote_compile(const http_client_target *t, const char *prefix, const compile_args *c,
                                    const char *compiler, bool toolchain_included, char **why);

/* Copies the compiler's stdout and stderr to ours, writes the outputs and
 * the dependency file. The compiler's exit status, or -1 with *why when a
 * file cannot be written. */
int cc_remote_answer_write(const cc_remote_answer *a, const compile_args *c, char **why);
bool cc_remote_answer_cache_hit(const cc_remote_answer *a);
void cc_remote_answer_free(cc_remote_answer *a);

#endif
