/* buf: the one growable byte buffer, with a hard maximum.
 *
 * Everywhere bytes accumulate (HTTP bodies, inflated requests, protobuf
 * encodings, blob reads) they go through gmb_buf, so limits and allocation
 * failures are handled in one place: an append past `max` fails with
 * GMB_BUF_TOO_BIG and leaves the buffer as it was. Memory comes from
 * gmb_realloc (mem.h), so running out of it aborts and is not a result.
 *
 * Two ways to append: gmb_buf_append to a buffer with a limit (input from
 * the network, files, Buildbarn): the compiler insists the result is
 * checked; gmb_buf_put to a buffer made with GMB_BUF_UNLIMITED (what our
 * own code renders: status pages, encodings of messages already bounded),
 * which cannot fail. */
#ifndef GMB_BUF_H
#define GMB_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GMB_BUF_OK = 0,
    GMB_BUF_TOO_BIG = 1, /* would exceed max */
} gmb_buf_result;

/* The `max` of a buffer whose size our own code decides. */
#define GMB_BUF_UNLIMITED SIZE_MAX

typedef struct {
    uint8_t *data; /* owned; NULL while empty */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
    size_t max;    /* hard limit on len */
} gmb_buf;

void gmb_buf_init(gmb_buf *b, size_t max);
gmb_buf_result gmb_buf_append(gmb_buf *b, const void *data, size_t len) __attribute__((warn_unused_result));
/* Appends to a GMB_BUF_UNLIMITED buffer; on a limited one it is a bug and
 * aborts with a message. */
void gmb_buf_put(gmb_buf *b, const void *data, size_t len);
/* Makes room for `len` more bytes; returns a pointer to them, or NULL when
 * that would pass the limit. The caller writes them and then calls
 * gmb_buf_commit(b, written). */
uint8_t *gmb_buf_reserve(gmb_buf *b, size_t len, gmb_buf_result *why) __attribute__((warn_unused_result));
void gmb_buf_commit(gmb_buf *b, size_t len);
void gmb_buf_reset(gmb_buf *b); /* len = 0, keeps memory */
/* Hands the bytes to the caller (free() them); the buffer becomes empty. */
uint8_t *gmb_buf_take(gmb_buf *b, size_t *len);
void gmb_buf_free(gmb_buf *b);

#endif
