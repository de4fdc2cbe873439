#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void gmb_buf_init(gmb_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

uint8_t *gmb_buf_reserve(gmb_buf *b, size_t len, gmb_buf_result *why)
{
    if (len > b->max || b->len > b->max - len) {
        if (why)
            *why = GMB_BUF_TOO_BIG;
        return NULL;
    }
    size_t need = b->len + len;
    if (need > b->cap || !b->data) { /* never hand out NULL + len */
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        if (cap > b->max)
            cap = b->max;
        b->data = gmb_realloc(b->data, cap ? cap : 1);
        b->cap = cap;
    }
    if (why)
        *why = GMB_BUF_OK;
    return b->data + b->len;
}

void gmb_buf_commit(gmb_buf *b, size_t len)
{
    b->len += len;
}

gmb_buf_result gmb_buf_append(gmb_buf *b, const void *data, size_t len)
{
    gmb_buf_result why;
    uint8_t *dst = gmb_buf_reserve(b, len, &why);
    if (!dst)
        return why;
    if (len)
        memcpy(dst, data, len);
    b->len += len;
    return GMB_BUF_OK;
}

void gmb_buf_put(gmb_buf *b, const void *data, size_t len)
{
    if (b->max != GMB_BUF_UNLIMITED) {
        fprintf(stderr, "gomabarn: bug: gmb_buf_put on a buffer limited to %zu bytes\n", b->max);
        abort();
    }
    if (gmb_buf_append(b, data, len) != GMB_BUF_OK)
        gmb_out_of_memory(len); /* only a size_t overflow gets here */
}

void gmb_buf_reset(gmb_buf *b)
{
    b->len = 0;
}

uint8_t *gmb_buf_take(gmb_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void gmb_buf_free(gmb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
