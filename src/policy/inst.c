/*
 * inst.c — instance bookkeeping shared by every profile: slots with generations, intrusive lists
 * (starting, full, draining, stopping, and the "available" lists bucketed by dispatches in
 * flight), and the actions that change an instance (START, DISPATCH, STOP).
 */
#include "policy/policy_int.h"

/* Why: ids carry a generation so a stale event for a reused slot is caught, not misapplied. */
policy_instance_id pi_id(const policy_fn *fn, int32_t slot)
{
    return ((policy_instance_id)fn->inst[slot].gen << 32) | (uint32_t)slot;
}

/* Index of the available list for (provisioned, k in flight); why: routing takes the least
 * loaded ready instance, provisioned first, in O(workers). */
int32_t pi_avail_list(const policy_fn *fn, bool prov, int32_t k)
{
    return PI_LIST_AVAIL0 + (prov ? fn->cfg.inst.workers : 0) + k;
}

/* Pushes slot at the head of list; why: heads are most recently used (MRU reuse, LRU expiry). */
void pi_list_push_front(policy_fn *fn, int32_t list, int32_t slot)
{
    pi_list *l = &fn->lists[list];
    pi_inst *i = &fn->inst[slot];
    assert(i->list == PI_LIST_NONE);
    if (fn->pool && list == PI_LIST_AVAIL0)
        fn->pool->idle_mb += fn->cfg.fn.memory_mb; /* on-demand, nothing in flight */
    i->list = list;
    i->prev = PI_NIL;
    i->next = l->head;
    if (l->head != PI_NIL)
        fn->inst[l->head].prev = slot;
    else
        l->tail = slot;
    l->head = slot;
    l->len++;
}

/* Appends slot at the tail; why: the starting list is kept in start order (oldest first). */
static void list_push_back(policy_fn *fn, int32_t list, int32_t slot)
{
    pi_list *l = &fn->lists[list];
    pi_inst *i = &fn->inst[slot];
    assert(i->list == PI_LIST_NONE);
    i->list = list;
    i->next = PI_NIL;
    i->prev = l->tail;
    if (l->tail != PI_NIL)
        fn->inst[l->tail].next = slot;
    else
        l->head = slot;
    l->tail = slot;
    l->len++;
}

/* Unlinks slot from whatever list holds it; why: every state change moves an instance. */
void pi_list_remove(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    if (i->list == PI_LIST_NONE)
        return;
    pi_list *l = &fn->lists[i->list];
    if (fn->pool && i->list == PI_LIST_AVAIL0)
        fn->pool->idle_mb -= fn->cfg.fn.memory_mb;
    if (i->prev != PI_NIL)
        fn->inst[i->prev].next = i->next;
    else
        l->head = i->next;
    if (i->next != PI_NIL)
        fn->inst[i->next].prev = i->prev;
    else
        l->tail = i->prev;
    l->len--;
    i->list = PI_LIST_NONE;
    i->prev = i->next = PI_NIL;
}

/* Sets the state and keeps the by-state gauges; why: /metrics reads gauges, never scans. */
void pi_set_state(policy_fn *fn, int32_t slot, policy_inst_state s)
{
    pi_inst *i = &fn->inst[slot];
    fn->st.instances[i->state]--;
    i->state = s;
    fn->st.instances[s]++;
}

/* Whether an instance counts toward concurrency; why: Lambda counts requests in flight, and a
 * request waiting for its own cold start is already one. */
static bool in_use(const pi_inst *i)
{
    return i->state == POLICY_INST_BUSY || i->state == POLICY_INST_DRAINING ||
           (i->state == POLICY_INST_STARTING && i->pend_n > 0);
}

/* Whether an instance counts toward the provisioned target; why: draining or stopping ones are
 * on their way out and must be replaced. */
static bool counts_prov(const pi_inst *i)
{
    return i->provisioned && i->state != POLICY_INST_STOPPING && i->state != POLICY_INST_DRAINING;
}

/* Files a ready instance on the list its load calls for and syncs its state; why: one place
 * decides IDLE/BUSY and which available bucket, after any change of in_flight. */
static void place_ready(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    bool was = in_use(i);
    pi_list_remove(fn, slot);
    pi_set_state(fn, slot, i->in_flight > 0 ? POLICY_INST_BUSY : POLICY_INST_IDLE);
    if (i->in_flight >= fn->cfg.inst.workers)
        pi_list_push_front(fn, PI_LIST_FULL, slot);
    else
        pi_list_push_front(fn, pi_avail_list(fn, i->provisioned, i->in_flight), slot);
    if (in_use(i) != was)
        pi_conc_add(fn, in_use(i) ? 1 : -1);
}

/* Why: actions are appended to the caller's buffer, sized for the worst case at init. */
policy_action *pi_emit(policy_fn *fn, policy_action_type t, policy_reason r)
{
    policy_actions *o = fn->out;
    assert(o->n < o->cap);
    policy_action *a = &o->v[o->n++];
    *a = (policy_action){.type = t, .reason = r};
    return a;
}

/* Why: DISPATCH request lists live in the caller's buffer, so no per-event allocation. */
uint64_t *pi_ids_alloc(policy_fn *fn, uint32_t n)
{
    policy_actions *o = fn->out;
    assert(o->nids + n <= o->ids_cap);
    uint64_t *p = o->ids + o->nids;
    o->nids += n;
    return p;
}

/* Takes a free slot and emits START; why: every profile starts instances the same way, and a
 * slot is reused only after STOPPED, under a new generation. Callers check pi_has_room (or
 * pi_may_start) first: the host's capacity is theirs to respect, so a start is never half made. */
int32_t pi_start(policy_fn *fn, bool provisioned, policy_reason why)
{
    if (fn->nfree == 0)
        return PI_NIL;
    int32_t slot = fn->free_slots[--fn->nfree];
    pi_inst *i = &fn->inst[slot];
    uint32_t gen = i->gen + 1;
    *i = (pi_inst){.gen = gen ? gen : 1,
                   .live = true,
                   .state = POLICY_INST_STARTING,
                   .provisioned = provisioned,
                   .prev = PI_NIL,
                   .next = PI_NIL,
                   .list = PI_LIST_NONE,
                   .started_ns = fn->now,
                   .last_used_ns = fn->now,
                   .serve_at_ns = fn->now + fn->cfg.inst.provision_delay_ns,
                   .expire_ns = -1};
    pi_pool_add(fn, fn->cfg.fn.memory_mb);
    pi_host_add(fn, pi_inst_mb(fn));
    fn->st.instances[POLICY_INST_STARTING]++;
    list_push_back(fn, PI_LIST_STARTING, slot);
    fn->live++;
    if (provisioned)
        fn->live_prov++;
    fn->st.starts++;
    policy_action *a = pi_emit(fn, POLICY_ACT_START, why);
    a->instance = pi_id(fn, slot);
    a->provisioned = provisioned;
    return slot;
}

/* Parks the instance until STOPPED; why: a stop is asked, not assumed done, so the slot is not
 * reused while the process may still exist. Never called with work in flight. */
void pi_stop_quiet(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    assert(i->in_flight == 0 && i->pend_n == 0);
    if (i->state == POLICY_INST_STARTING && i->ready_seen)
        fn->waiting_ready--;
    bool was = in_use(i), wasp = counts_prov(i);
    pi_list_remove(fn, slot);
    pi_set_state(fn, slot, POLICY_INST_STOPPING);
    pi_list_push_front(fn, PI_LIST_STOPPING, slot);
    if (was)
        pi_conc_add(fn, -1);
    if (wasp)
        fn->live_prov--;
    pi_pool_add(fn, -fn->cfg.fn.memory_mb);
    fn->st.stops++;
}

/* Emits STOP for an instance and parks it (pi_stop_quiet). */
void pi_stop(policy_fn *fn, int32_t slot, policy_reason why)
{
    pi_stop_quiet(fn, slot);
    pi_emit(fn, POLICY_ACT_STOP, why)->instance = pi_id(fn, slot);
}

/* Returns a slot to the free stack after STOPPED or START_FAILED; why: the caller confirmed the
 * instance is gone, so its concurrency and slot can be reused. */
void pi_release(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    if (i->state == POLICY_INST_STARTING && i->ready_seen)
        fn->waiting_ready--;
    if (in_use(i))
        pi_conc_add(fn, -1);
    if (counts_prov(i))
        fn->live_prov--;
    if (i->state != POLICY_INST_STOPPING)
        pi_pool_add(fn, -fn->cfg.fn.memory_mb);
    pi_host_add(fn, -pi_inst_mb(fn)); /* confirmed gone: its memory is free for others */
    fn->st.in_flight -= (uint32_t)i->in_flight;
    pi_list_remove(fn, slot);
    fn->st.instances[i->state]--;
    fn->pend_total -= i->pend_n;
    i->pend_n = 0;
    i->in_flight = 0;
    i->live = false;
    fn->live--;
    fn->free_slots[fn->nfree++] = slot;
}

/* Why: routing — the least loaded ready instance, provisioned before on-demand, most recently
 * used first (warm caches; lets unused on-demand instances age out). */
int32_t pi_pick_worker(const policy_fn *fn)
{
    for (int32_t k = 0; k < fn->cfg.inst.workers; k++) {
        int32_t s = fn->lists[pi_avail_list(fn, true, k)].head;
        if (s != PI_NIL)
            return s;
        s = fn->lists[pi_avail_list(fn, false, k)].head;
        if (s != PI_NIL)
            return s;
    }
    return PI_NIL;
}

/* Emits DISPATCH of ids (already in the output buffer) to a ready instance; why: one place keeps
 * in_flight, the lists and the counters consistent. */
void pi_dispatch(policy_fn *fn, int32_t slot, const uint64_t *ids, uint32_t n, uint32_t items,
                 policy_reason why)
{
    pi_inst *i = &fn->inst[slot];
    assert(i->state == POLICY_INST_IDLE || i->state == POLICY_INST_BUSY);
    assert(i->in_flight < fn->cfg.inst.workers);
    i->in_flight++;
    fn->st.in_flight++;
    place_ready(fn, slot);
    fn->st.dispatches++;
    fn->st.dispatched_requests += n;
    if (why == POLICY_REASON_COLD)
        fn->st.cold_dispatches++;
    policy_action *a = pi_emit(fn, POLICY_ACT_DISPATCH, why);
    a->instance = pi_id(fn, slot);
    a->requests = ids;
    a->n = n;
    a->items = items;
}

/* Emits THROTTLE or REJECT for each request of a list; why: a refused batch refuses each of its
 * callers, each with its own answer. */
void pi_refuse(policy_fn *fn, policy_action_type t, const uint64_t *ids, uint32_t n,
               policy_reason why)
{
    for (uint32_t k = 0; k < n; k++) {
        pi_emit(fn, t, why)->request = ids[k];
        if (t == POLICY_ACT_THROTTLE)
            fn->st.throttles[why]++;
        else
            fn->st.rejects[why]++;
    }
}

/* Binds a released batch to a starting instance; why: the request waits for THAT start (BIND). */
void pi_bind(policy_fn *fn, int32_t slot, const uint64_t *ids, uint32_t n, uint32_t items)
{
    pi_inst *i = &fn->inst[slot];
    bool was = in_use(i);
    uint64_t *dst = fn->pend_ids + (size_t)slot * (size_t)fn->cfg.batch.max_size;
    for (uint32_t k = 0; k < n; k++)
        dst[k] = ids[k];
    i->pend_n = n;
    i->pend_items = items;
    fn->pend_total += n;
    if (!was)
        pi_conc_add(fn, 1);
}

/* Moves the batch bound to a starting instance into the output buffer and unbinds it; why: the
 * batch is then dispatched (READY, or stolen by a free instance) or refused. */
uint32_t pi_unbind(policy_fn *fn, int32_t slot, uint64_t **ids, uint32_t *items)
{
    pi_inst *i = &fn->inst[slot];
    uint32_t n = i->pend_n;
    *items = i->pend_items;
    *ids = pi_ids_alloc(fn, n);
    const uint64_t *src = fn->pend_ids + (size_t)slot * (size_t)fn->cfg.batch.max_size;
    for (uint32_t k = 0; k < n; k++)
        (*ids)[k] = src[k];
    bool was = in_use(i);
    i->pend_n = 0;
    i->pend_items = 0;
    fn->pend_total -= n;
    if (was && !in_use(i))
        pi_conc_add(fn, -1);
    return n;
}

/* Rejects whatever is bound to a starting instance; why: its start failed or was cancelled, and
 * those callers must get an answer. */
void pi_reject_pend(policy_fn *fn, int32_t slot, policy_reason why)
{
    if (fn->inst[slot].pend_n == 0)
        return;
    uint64_t *ids;
    uint32_t items;
    uint32_t n = pi_unbind(fn, slot, &ids, &items);
    fn->out->nids -= n; /* refused ids need no storage past this call */
    pi_refuse(fn, POLICY_ACT_REJECT, ids, n, why);
}

/* Makes a started instance serve: its bound batch first (a cold dispatch), else it idles; why:
 * "ready" is READY seen and the provisioning delay over, whichever comes last. */
void pi_become_ready(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    assert(i->state == POLICY_INST_STARTING);
    i->last_used_ns = fn->now;
    if (fn->now > i->started_ns)
        fn->gd_cost_ns = fn->now - i->started_ns; /* the cold-start cost greedy-dual weighs */
    if (i->pend_n > 0) {
        uint64_t *ids;
        uint32_t items;
        uint32_t n = pi_unbind(fn, slot, &ids, &items);
        place_ready(fn, slot);
        pi_dispatch(fn, slot, ids, n, items, POLICY_REASON_COLD);
    } else {
        place_ready(fn, slot);
        if (!i->provisioned && i->expire_ns < 0)
            fn->ka->idle(fn, slot); /* started for no request (over-provision): idle now */
    }
}

/* One dispatch finished; why: frees a worker, refiling the instance on the right list. */
void pi_done(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    i->in_flight--;
    fn->st.in_flight--;
    fn->last_end_ns = fn->now;
    if (i->in_flight == 0)
        i->last_used_ns = fn->now;
    if (i->state == POLICY_INST_DRAINING) {
        if (i->in_flight == 0)
            pi_stop(fn, slot, fn->shutting_down ? POLICY_REASON_SHUTDOWN : POLICY_REASON_SCALE_IN);
        return;
    }
    place_ready(fn, slot);
    if (i->in_flight == 0 && !i->provisioned)
        fn->ka->idle(fn, slot);
}

/* Marks a busy instance to stop once its work is done; why: never stop with work in flight. */
void pi_drain(policy_fn *fn, int32_t slot)
{
    pi_inst *i = &fn->inst[slot];
    assert(i->in_flight > 0);
    bool wasp = counts_prov(i);
    pi_list_remove(fn, slot);
    pi_set_state(fn, slot, POLICY_INST_DRAINING);
    pi_list_push_front(fn, PI_LIST_DRAINING, slot);
    if (wasp)
        fn->live_prov--;
}
