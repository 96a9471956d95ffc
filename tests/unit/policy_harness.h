/*
 * A tiny discrete-event driver for whole policy scenarios with deterministic times: the pattern
 * the simulator follows (one policy, two clocks), small enough to check outcomes by hand.
 *
 *   - arrivals at given times; START → READY after cold_ns (or START_FAILED when fail_starts);
 *     DISPATCH → DONE after service_ns (+ per_item_ns per item beyond the first); STOP → STOPPED
 *     at once; the policy's wake_ns → one TICK.
 *   - at equal times, instance events (READY, DONE, STOPPED) go before arrivals, then ticks;
 *     ties keep insertion order, so every run is identical.
 *
 * Header-only; used by tests/unit/test_policy_scenario.c and bench/policy/.
 */
#ifndef POLICY_HARNESS_H
#define POLICY_HARNESS_H

#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

typedef struct ph_model {
    int64_t cold_ns;     /* START → READY */
    int64_t service_ns;  /* DISPATCH → DONE, first item */
    int64_t per_item_ns; /* each further item of a batch */
    int64_t end_ns;      /* stop at this time (0: when no event is left; managed needs one) */
    /* optional: sees every event handed to the policy (bench/policy records a trace with it) */
    void (*on_event)(void *ud, const policy_event *ev, int64_t now);
    void *ud;
} ph_model;

typedef struct ph_result {
    uint64_t completed, throttled, rejected, starts, stops, cold, dispatches, ticks, events;
    int64_t last_done_ns;
    int64_t lat_max_ns;
    double lat_sum_ns;
    int64_t *latency_ns; /* per request id (index = arrival index), -1 when refused */
} ph_result;

enum { PH_READY, PH_DONE, PH_STOPPED, PH_ARRIVE, PH_TICK }; /* tie order */

typedef struct ph_ev {
    int64_t t;
    uint64_t seq;
    int kind;
    uint64_t arg;  /* instance id or request index */
    uint32_t disp; /* DONE: index into the dispatch table */
} ph_ev;

typedef struct ph_heap {
    ph_ev *v;
    size_t n, cap;
    uint64_t seq;
} ph_heap;

/* Orders events by (time, kind, insertion); why: deterministic ties. */
static inline int ph_less(const ph_ev *a, const ph_ev *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    if (a->kind != b->kind)
        return a->kind < b->kind;
    return a->seq < b->seq;
}

static inline void ph_push(ph_heap *h, int64_t t, int kind, uint64_t arg, uint32_t disp)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
    }
    size_t i = h->n++;
    h->v[i] = (ph_ev){.t = t, .seq = h->seq++, .kind = kind, .arg = arg, .disp = disp};
    while (i > 0 && ph_less(&h->v[i], &h->v[(i - 1) / 2])) {
        ph_ev tmp = h->v[i];
        h->v[i] = h->v[(i - 1) / 2];
        h->v[(i - 1) / 2] = tmp;
        i = (i - 1) / 2;
    }
}

static inline ph_ev ph_pop(ph_heap *h)
{
    ph_ev top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && ph_less(&h->v[l], &h->v[m]))
            m = l;
        if (r < h->n && ph_less(&h->v[r], &h->v[m]))
            m = r;
        if (m == i)
            break;
        ph_ev tmp = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = tmp;
        i = m;
    }
    return top;
}

/* Runs arrivals[0..n) (request id = index, times ascending) through a fresh policy_fn and
 * fills r (r->latency_ns is malloc'd; free it). Returns 0 or the first policy error. */
static inline int ph_run(const policy_config *cfg, const int64_t *arrivals, size_t n,
                         const ph_model *m, ph_result *r)
{
    fm_err err;
    policy_fn *fn;
    int rc = policy_fn_new(cfg, NULL, &fn, &err);
    if (rc)
        return rc;
    policy_actions acts;
    if ((rc = policy_actions_init(&acts, fn))) {
        policy_fn_free(fn);
        return rc;
    }
    memset(r, 0, sizeof(*r));
    r->latency_ns = malloc((n ? n : 1) * sizeof(int64_t));
    for (size_t i = 0; i < n; i++)
        r->latency_ns[i] = -1;
    ph_heap h = {0};
    /* dispatch table: request ids of each dispatch in flight (DONE answers them) */
    size_t dcap = 1024, dn = 0;
    uint64_t **disp = malloc(dcap * sizeof(*disp));
    uint32_t *dlen = malloc(dcap * sizeof(*dlen));
    for (size_t i = 0; i < n; i++)
        ph_push(&h, arrivals[i], PH_ARRIVE, i, 0);
    int64_t armed = INT64_MAX;
    policy_event ev = {.type = POLICY_EV_DEPLOY};
    int64_t now = 0;
    for (;;) {
        if (m->on_event)
            m->on_event(m->ud, &ev, now);
        rc = policy_fn_handle(fn, &ev, now, &acts);
        r->events++;
        if (rc)
            break;
        for (uint32_t i = 0; i < acts.n; i++) {
            const policy_action *a = &acts.v[i];
            switch (a->type) {
            case POLICY_ACT_START:
                r->starts++;
                ph_push(&h, now + m->cold_ns, PH_READY, a->instance, 0);
                break;
            case POLICY_ACT_DISPATCH:
                r->dispatches++;
                if (a->reason == POLICY_REASON_COLD)
                    r->cold++;
                if (dn == dcap) {
                    dcap *= 2;
                    disp = realloc(disp, dcap * sizeof(*disp));
                    dlen = realloc(dlen, dcap * sizeof(*dlen));
                }
                disp[dn] = malloc(a->n * sizeof(uint64_t));
                memcpy(disp[dn], a->requests, a->n * sizeof(uint64_t));
                dlen[dn] = a->n;
                ph_push(&h, now + m->service_ns + (int64_t)(a->items - 1) * m->per_item_ns, PH_DONE,
                        a->instance, (uint32_t)dn);
                dn++;
                break;
            case POLICY_ACT_THROTTLE: r->throttled++; break;
            case POLICY_ACT_REJECT: r->rejected++; break;
            case POLICY_ACT_STOP:
                r->stops++;
                ph_push(&h, now, PH_STOPPED, a->instance, 0);
                break;
            default: break;
            }
        }
        if (acts.wake_ns != INT64_MAX && acts.wake_ns != armed) {
            armed = acts.wake_ns;
            ph_push(&h, armed, PH_TICK, 0, 0);
        }
        if (h.n == 0)
            break;
        ph_ev e = ph_pop(&h);
        if (m->end_ns > 0 && e.t > m->end_ns)
            break;
        now = e.t;
        ev = (policy_event){.items = 1};
        switch (e.kind) {
        case PH_READY:
            ev.type = POLICY_EV_READY;
            ev.instance = e.arg;
            break;
        case PH_STOPPED:
            ev.type = POLICY_EV_STOPPED;
            ev.instance = e.arg;
            break;
        case PH_ARRIVE:
            ev.type = POLICY_EV_ARRIVE;
            ev.request = e.arg;
            break;
        case PH_TICK:
            ev.type = POLICY_EV_TICK;
            r->ticks++;
            if (e.t == armed)
                armed = INT64_MAX;
            break;
        case PH_DONE:
            ev.type = POLICY_EV_DONE;
            ev.instance = e.arg;
            for (uint32_t k = 0; k < dlen[e.disp]; k++) {
                uint64_t id = disp[e.disp][k];
                int64_t lat = now - arrivals[id];
                r->latency_ns[id] = lat;
                r->lat_sum_ns += (double)lat;
                r->lat_max_ns = lat > r->lat_max_ns ? lat : r->lat_max_ns;
                r->completed++;
            }
            r->last_done_ns = now;
            free(disp[e.disp]);
            disp[e.disp] = NULL;
            break;
        }
    }
    for (size_t i = 0; i < dn; i++)
        free(disp[i]);
    free(disp);
    free(dlen);
    free(h.v);
    policy_actions_release(&acts);
    policy_fn_free(fn);
    return rc;
}

#endif
