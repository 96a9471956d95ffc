/* Private to sim: the event queue (a 4-ary min-heap of plain structs) and the processor-sharing
 * job heap. Both grow by doubling, so steady-state runs allocate nothing per event. */
#ifndef FM_SIM_HEAP_H
#define FM_SIM_HEAP_H

#include <stdint.h>
#include <stdlib.h>

typedef struct sim_ev {
    int64_t t;
    uint64_t seq; /* tie-break: events at equal times run in the order they were scheduled */
    uint32_t kind, fn;
    uint64_t a;
} sim_ev;

typedef struct sim_evheap {
    sim_ev *v;
    size_t n, cap;
    uint64_t seq;
} sim_evheap;

static inline int sim_ev_less(const sim_ev *x, const sim_ev *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static inline int sim_evheap_push(sim_evheap *h, int64_t t, uint32_t kind, uint32_t fn, uint64_t a)
{
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 1024;
        sim_ev *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        h->v = nv;
        h->cap = nc;
    }
    sim_ev e = {t, h->seq++, kind, fn, a};
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!sim_ev_less(&e, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static inline sim_ev sim_evheap_pop(sim_evheap *h)
{
    sim_ev top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 4 * i + 1, best = c;
        if (c >= n)
            break;
        for (size_t k = c + 1; k < c + 4 && k < n; k++)
            if (sim_ev_less(&h->v[k], &h->v[best]))
                best = k;
        if (!sim_ev_less(&h->v[best], &last))
            break;
        h->v[i] = h->v[best];
        i = best;
    }
    if (n)
        h->v[i] = last;
    return top;
}

#endif
