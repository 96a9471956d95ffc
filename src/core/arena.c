/* Arenas: bump allocation in chunks, freed together. */
#include "core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fm_arena_chunk {
    fm_arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

/* Why: chunks are allocated lazily, so an unused arena costs nothing. */
void fm_arena_init(fm_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->total = 0;
}

/* Why: the end of a lifetime frees everything allocated in it at once. */
void fm_arena_release(fm_arena *a)
{
    fm_arena_chunk *c = a->head;
    while (c) {
        fm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

/* Why: request arenas are reused across requests; keeping one chunk avoids a malloc per request. */
void fm_arena_reset(fm_arena *a)
{
    if (!a->head)
        return;
    fm_arena_chunk *last = a->head;
    while (last->next) {
        fm_arena_chunk *next = last->next;
        free(last);
        last = next;
    }
    /* the oldest chunk is at the end of the list; keep it */
    a->head = last;
    last->used = 0;
    last->next = NULL;
    a->total = 0;
}

/* Why: bump allocation is one compare and one add; sizes round up to 16 so every block is aligned
 * for any type, and a size near SIZE_MAX fails instead of wrapping around to a small block (sizes
 * past PTRDIFF_MAX are refused up front, as malloc would refuse them). */
void *fm_arena_alloc(fm_arena *a, size_t size)
{
    if (size > PTRDIFF_MAX - 4096)
        return NULL;
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    fm_arena_chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        size_t cap = size > a->chunk_size ? size : a->chunk_size;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        fm_arena_chunk *n = malloc(sizeof *n + cap);
        if (!n)
            return NULL;
        n->size = cap;
        n->used = 0;
        n->next = c;
        a->head = c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    return p;
}

/* Why: arrays sized from input (n items of size bytes) must not overflow into a small block. */
void *fm_arena_calloc(fm_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = fm_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

/* Why: strings that live as long as the arena (YAML scalars, names) need no free of their own. */
char *fm_arena_strdup(fm_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fm_arena_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}
