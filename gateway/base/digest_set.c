#include "digest_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static size_t digest_slot(const rev2_digest *d, size_t cap)
{
    uint64_t h = (uint64_t)d->size;
    for (int i = 0; i < 16; i++)
        h = h * 131 + (unsigned char)d->hash[i];
    return (size_t)(h % cap);
}

static void digest_set_insert(rev2_digest *slots, size_t cap, const rev2_digest *d)
{
    size_t i = digest_slot(d, cap);
    while (slots[i].hash[0])
        i = (i + 1) % cap;
    slots[i] = *d;
}

/* True if d was not in the set yet. */
bool digest_set_add(digest_set *s, const rev2_digest *d)
{
    if (s->cap) {
        size_t i = digest_slot(d, s->cap);
        while (s->slots[i].hash[0]) {
            if (rev2_digest_equal(&s->slots[i], d))
                return false;
            i = (i + 1) % s->cap;
        }
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        rev2_digest *slots = gmb_calloc(cap, sizeof *slots);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].hash[0])
                digest_set_insert(slots, cap, &s->slots[i]);
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    digest_set_insert(s->slots, s->cap, d);
    s->n++;
    return true;
}

void digest_set_free(digest_set *s)
{
    free(s->slots);
    memset(s, 0, sizeof *s);
}
