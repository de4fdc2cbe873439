#include "rev2_dir_encode.h"

#include <string.h>

#include "mem.h"

/* Wire types: 0 varint, 2 length-delimited. */
#define TAG(field, type) ((uint8_t)((field) << 3 | (type)))

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A length-delimited field's whole size, tag and length included. */
static size_t field_len(size_t body)
{
    return 1 + varint_len(body) + body;
}

static uint8_t *put_bytes(uint8_t *p, uint8_t tag, const char *s, size_t n)
{
    *p++ = tag;
    p = put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* proto3 strings: an empty one is left out. */
static size_t string_len(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n ? field_len(n) : 0;
}

static uint8_t *put_string(uint8_t *p, uint8_t tag, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n ? put_bytes(p, tag, s, n) : p;
}

static size_t digest_body_len(const rev2_digest *d)
{
    size_t n = string_len(d->hash);
    if (d->size != 0) /* int64: a negative one takes ten bytes */
        n += 1 + varint_len((uint64_t)d->size);
    return n;
}

/* The body of the entry's node message (FileNode, DirectoryNode or SymlinkNode). */
static size_t node_body_len(const rev2_dir_entry *e)
{
    size_t n = string_len(e->name);
    if (e->kind == REV2_DIR_SYMLINK)
        return n + string_len(e->target);
    n += field_len(digest_body_len(e->digest));
    if (e->kind == REV2_DIR_FILE && e->executable)
        n += 2;
    return n;
}

static uint8_t *put_node(uint8_t *p, const rev2_dir_entry *e, size_t body)
{
    static const uint8_t list_tag[] = {
        [REV2_DIR_FILE] = TAG(1, 2), [REV2_DIR_DIRECTORY] = TAG(2, 2), [REV2_DIR_SYMLINK] = TAG(3, 2)};
    *p++ = list_tag[e->kind];
    p = put_varint(p, body);
    p = put_string(p, TAG(1, 2), e->name);
    if (e->kind == REV2_DIR_SYMLINK)
        return put_string(p, TAG(2, 2), e->target);
    *p++ = TAG(2, 2);
    p = put_varint(p, digest_body_len(e->digest));
    p = put_string(p, TAG(1, 2), e->digest->hash);
    if (e->digest->size != 0) {
        *p++ = TAG(2, 0);
        p = put_varint(p, (uint64_t)e->digest->size);
    }
    if (e->kind == REV2_DIR_FILE && e->executable) {
        *p++ = TAG(4, 0);
        *p++ = 1;
    }
    return p;
}

uint8_t *rev2_directory_encode(const rev2_dir_entry *entries, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += field_len(node_body_len(&entries[i]));
    uint8_t *out = gmb_malloc(total + 1), *p = out;
    /* Field order: every file, then every directory, then every symlink. */
    for (int kind = REV2_DIR_FILE; kind <= REV2_DIR_SYMLINK; kind++)
        for (size_t i = 0; i < n; i++)
            if ((int)entries[i].kind == kind)
                p = put_node(p, &entries[i], node_body_len(&entries[i]));
    *len = (size_t)(p - out);
    return out;
}
