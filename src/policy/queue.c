/*
 * queue.c — the function's FIFO of requests waiting for a worker or for their batch to fill: a
 * fixed ring (no allocation per event); a cancelled entry stays as a tombstone until it reaches
 * the head. Dynamic batching lives here: what is "releasable" and how a batch is cut.
 */
#include "policy/policy_int.h"

/* Drops tombstones at the head; why: the head must be a live request for the batch rules. */
static void skip_dead(policy_fn *fn)
{
    while (fn->qlen > 0 && fn->q[fn->qhead].cancelled) {
        fn->qhead = (fn->qhead + 1) % fn->qcap;
        fn->qlen--;
    }
}

/* Squeezes tombstones out of the ring; why: a ring full of cancelled entries must still accept
 * arrivals (rare: only after many CANCELs). */
static void compact(policy_fn *fn)
{
    int32_t w = 0;
    pi_qent *tmp = fn->q; /* in-place: read index always >= write index in logical order */
    for (int32_t r = 0; r < fn->qlen; r++) {
        pi_qent e = tmp[(fn->qhead + r) % fn->qcap];
        if (!e.cancelled)
            tmp[(fn->qhead + w++) % fn->qcap] = e;
    }
    fn->qlen = w;
}

/* Appends a request; why: FIFO order is arrival order. The caller checked qlive < qcap. */
void pi_q_push(policy_fn *fn, uint64_t req, uint32_t items, int64_t now)
{
    if (fn->qlen == fn->qcap)
        compact(fn);
    assert(fn->qlen < fn->qcap);
    fn->q[(fn->qhead + fn->qlen) % fn->qcap] =
        (pi_qent){.req = req, .arrival_ns = now, .items = items};
    fn->qlen++;
    fn->qlive++;
    fn->qitems += items;
}

/* Marks a queued request cancelled; why: a caller that left must not be dispatched. O(queue),
 * off the hot path. Returns FM_ENOTFOUND when the request is not queued. */
int pi_q_cancel(policy_fn *fn, uint64_t req, bool dry_run)
{
    for (int32_t r = 0; r < fn->qlen; r++) {
        pi_qent *e = &fn->q[(fn->qhead + r) % fn->qcap];
        if (!e->cancelled && e->req == req) {
            if (!dry_run) {
                e->cancelled = true;
                fn->qlive--;
                fn->qitems -= e->items;
                skip_dead(fn);
            }
            return 0;
        }
    }
    return FM_ENOTFOUND;
}

/* Whether the head batch may go now; why: a batch is released when it is full or its oldest
 * request has waited batch.max_delay (with batching off, max_size 1: always). */
bool pi_q_releasable(policy_fn *fn)
{
    skip_dead(fn);
    if (fn->qlive == 0)
        return false;
    if (fn->qitems >= fn->cfg.batch.max_size || fn->shutting_down)
        return true;
    return fn->now - fn->q[fn->qhead].arrival_ns >= fn->cfg.batch.max_delay_ns;
}

/* When the head batch becomes releasable by age, or INT64_MAX; why: the caller's one timer. */
int64_t pi_q_deadline(policy_fn *fn)
{
    skip_dead(fn);
    if (fn->qlive == 0 || fn->qitems >= fn->cfg.batch.max_size)
        return INT64_MAX;
    return fn->q[fn->qhead].arrival_ns + fn->cfg.batch.max_delay_ns;
}

/* Cuts the next batch off the head into the output buffer; why: one invocation carries at most
 * batch.max_size items, in arrival order; a single larger request still goes alone. */
uint32_t pi_q_take(policy_fn *fn, uint32_t *items, uint64_t **ids)
{
    skip_dead(fn);
    assert(fn->qlive > 0);
    uint32_t n = 0, it = 0;
    uint32_t cap = (uint32_t)fn->cfg.batch.max_size;
    *ids = fn->out->ids + fn->out->nids;
    while (fn->qlen > 0) {
        pi_qent *e = &fn->q[fn->qhead];
        if (!e->cancelled) {
            if (n > 0 && it + e->items > cap)
                break;
            pi_ids_alloc(fn, 1)[0] = e->req;
            n++;
            it += e->items;
            fn->qlive--;
            fn->qitems -= e->items;
        }
        fn->qhead = (fn->qhead + 1) % fn->qcap;
        fn->qlen--;
        if (it >= cap)
            break;
    }
    *items = it;
    return n;
}

/* Rejects every queued request; why: SHUTDOWN answers everyone still waiting. */
void pi_q_reject_all(policy_fn *fn, policy_reason why)
{
    while (fn->qlen > 0) {
        pi_qent *e = &fn->q[fn->qhead];
        if (!e->cancelled)
            pi_refuse(fn, POLICY_ACT_REJECT, &e->req, 1, why);
        fn->qhead = (fn->qhead + 1) % fn->qcap;
        fn->qlen--;
    }
    fn->qlive = 0;
    fn->qitems = 0;
}
