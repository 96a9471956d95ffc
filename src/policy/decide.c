/*
 * decide.c — the one entry point, policy_fn_handle: validate the event, process every deadline
 * <= now, apply the event, pump the queue into free workers (or new instances), expire idle
 * instances, and tell the caller when to call again.
 */
#include "policy/policy_int.h"

/* Checks an event against the state before anything changes; why: a refused event must leave
 * the state exactly as it was. */
static int validate(policy_fn *fn, const policy_event *ev)
{
    if ((unsigned)ev->type >= POLICY_EV__COUNT)
        return FM_EINVAL;
    if (ev->type == POLICY_EV_DEPLOY)
        return fn->deployed ? FM_ESTATE : 0;
    if (!fn->deployed)
        return FM_ESTATE;
    int32_t s;
    switch (ev->type) {
    case POLICY_EV_READY:
    case POLICY_EV_START_FAILED:
    case POLICY_EV_DONE:
    case POLICY_EV_STOPPED:
        s = pi_find(fn, ev->instance);
        if (s == PI_NIL)
            return FM_ENOTFOUND;
        /* READY or START_FAILED may race with a STOP the policy already issued: accepted */
        if ((ev->type == POLICY_EV_READY || ev->type == POLICY_EV_START_FAILED) &&
            fn->inst[s].state != POLICY_INST_STOPPING &&
            (fn->inst[s].state != POLICY_INST_STARTING || fn->inst[s].ready_seen))
            return FM_ESTATE;
        if (ev->type == POLICY_EV_DONE && fn->inst[s].in_flight == 0)
            return FM_ESTATE;
        return 0;
    case POLICY_EV_CANCEL: return pi_q_cancel(fn, ev->request, true);
    default: return 0;
    }
}

/* Brings a READY-but-delayed instance into service once its provisioning delay is over; why:
 * the delay is part of the policy so live and simulated runs see the same one. */
static void promote_delayed(policy_fn *fn)
{
    if (fn->waiting_ready == 0)
        return;
    int32_t s = fn->lists[PI_LIST_STARTING].head;
    while (s != PI_NIL) {
        int32_t next = fn->inst[s].next;
        pi_inst *i = &fn->inst[s];
        if (i->ready_seen && fn->now >= i->serve_at_ns) {
            fn->waiting_ready--;
            pi_become_ready(fn, s);
        }
        s = next;
    }
}

/* Applies the keep-alive policy's deadlines (keepalive.c); why: scale to zero, and pre-warm. */
static void expire_idle(policy_fn *fn)
{
    if (!fn->vt->scale_to_zero || fn->shutting_down)
        return;
    fn->ka->advance(fn);
}

/* Processes every deadline <= now; why: any event doubles as the timer tick, so a late timer
 * changes only when, never whether, a deadline is honoured. */
static void advance(policy_fn *fn)
{
    if (fn->vt->period && !fn->shutting_down)
        while (fn->now >= fn->next_period) {
            fn->vt->period(fn);
            fn->next_period += fn->cfg.scale.period_ns;
        }
    promote_delayed(fn);
    if (fn->now >= fn->retry_at && !fn->shutting_down) {
        fn->retry_at = INT64_MAX;
        fn->vt->reconcile(fn, POLICY_REASON_NONE);
    }
    expire_idle(fn);
}

/* FIRST_FREE: hands the oldest batch waiting for a cold start to a worker that is free now;
 * why: the request need not wait for its own start when a warm instance frees first. */
static bool steal_pending(policy_fn *fn, int32_t w)
{
    for (int32_t s = fn->lists[PI_LIST_STARTING].head; s != PI_NIL; s = fn->inst[s].next) {
        if (fn->inst[s].pend_n == 0)
            continue;
        uint64_t *ids;
        uint32_t items;
        uint32_t n = pi_unbind(fn, s, &ids, &items);
        pi_dispatch(fn, w, ids, n, items, POLICY_REASON_WARM);
        return true;
    }
    return false;
}

/* Moves queued work onto free workers, or (lambda-like) starts an instance per released batch
 * or throttles it; why: the single place where requests meet capacity, for every profile. */
static void pump(policy_fn *fn)
{
    bool steal = fn->vt->binds && fn->cfg.inst.cold_wait == POLICY_COLD_WAIT_FIRST_FREE;
    for (;;) {
        if (steal && fn->pend_total > 0) {
            int32_t w = pi_pick_worker(fn);
            if (w != PI_NIL && steal_pending(fn, w))
                continue;
        }
        if (!pi_q_releasable(fn))
            return;
        int32_t w = pi_pick_worker(fn);
        if (w == PI_NIL && !fn->vt->binds && !fn->shutting_down)
            return; /* fleets: wait in the queue for a worker */
        uint64_t *ids;
        uint32_t items;
        uint32_t n = pi_q_take(fn, &items, &ids);
        if (w != PI_NIL) {
            pi_dispatch(fn, w, ids, n, items, POLICY_REASON_WARM);
            continue;
        }
        fn->out->nids -= n; /* the ids are bound or refused below, not dispatched */
        policy_reason why = POLICY_REASON_SHUTDOWN;
        if (fn->shutting_down) {
            pi_refuse(fn, POLICY_ACT_REJECT, ids, n, why);
        } else if (pi_may_start(fn, &why)) {
            if (fn->ka->before_start)
                fn->ka->before_start(fn);
            int32_t s = pi_start(fn, false, POLICY_REASON_DEMAND);
            pi_bind(fn, s, ids, n, items);
            if (fn->vt->after_demand_start)
                fn->vt->after_demand_start(fn);
        } else {
            pi_refuse(fn, POLICY_ACT_THROTTLE, ids, n, why);
        }
    }
}

/* Computes when the caller must call again; why: the caller arms exactly one timer. */
static int64_t wake(policy_fn *fn)
{
    int64_t t = INT64_MAX;
    if (fn->vt->scale_to_zero && !fn->shutting_down)
        t = FM_MIN(t, fn->ka->wake(fn));
    if (fn->waiting_ready > 0)
        for (int32_t s = fn->lists[PI_LIST_STARTING].head; s != PI_NIL; s = fn->inst[s].next)
            if (fn->inst[s].ready_seen)
                t = FM_MIN(t, fn->inst[s].serve_at_ns);
    if (!fn->shutting_down) {
        t = FM_MIN(t, fn->retry_at);
        if (fn->vt->period)
            t = FM_MIN(t, fn->next_period);
    }
    int64_t q = pi_q_deadline(fn);
    if (q > fn->now)
        t = FM_MIN(t, q);
    return t;
}

/* DEPLOY: start what the profile keeps warm; why: provisioned concurrency, min instances and a
 * server fleet exist before the first request. */
static void on_deploy(policy_fn *fn, const policy_event *ev)
{
    fn->deployed = true;
    fn->period_start = fn->now;
    if (fn->vt->period)
        fn->next_period = fn->now + fn->cfg.scale.period_ns;
    fn->vt->reconcile(fn, POLICY_REASON_NONE);
    /* provisioned before the experiment: their provisioning delay is already over */
    if (ev->flags & POLICY_DEPLOY_PREPROVISIONED)
        for (int32_t s = 0; s < fn->nslots; s++)
            if (fn->inst[s].live && fn->inst[s].state == POLICY_INST_STARTING)
                fn->inst[s].serve_at_ns = fn->now;
}

/* ARRIVE: queue the request (pump routes it); why: every profile admits through the FIFO, so
 * batching, waiting and routing are one mechanism. */
static void on_arrive(policy_fn *fn, const policy_event *ev)
{
    fn->st.arrivals++;
    fn->period_arrivals++;
    fn->ka->arrive(fn);
    if (fn->shutting_down) {
        pi_refuse(fn, POLICY_ACT_REJECT, &ev->request, 1, POLICY_REASON_SHUTDOWN);
        return;
    }
    if (fn->qlive >= fn->qcap) {
        pi_refuse(fn, POLICY_ACT_REJECT, &ev->request, 1, POLICY_REASON_QUEUE_FULL);
        return;
    }
    pi_q_push(fn, ev->request, ev->items ? ev->items : 1, fn->now);
}

/* READY: serve now, or once the provisioning delay is over. */
static void on_ready(policy_fn *fn, const policy_event *ev)
{
    int32_t s = pi_find(fn, ev->instance);
    if (fn->inst[s].state == POLICY_INST_STOPPING)
        return; /* stopped while starting: the STOP stands */
    fn->inst[s].ready_seen = true;
    if (fn->now >= fn->inst[s].serve_at_ns)
        pi_become_ready(fn, s);
    else
        fn->waiting_ready++;
}

/* Schedules replacement of a kept-warm instance after a failure; why: no tight restart loop. */
static void schedule_retry(policy_fn *fn, const pi_inst *i)
{
    if (i->provisioned || !fn->vt->scale_to_zero)
        fn->retry_at = FM_MIN(fn->retry_at, fn->now + fn->cfg.inst.retry_ns);
}

/* START_FAILED: the bound requests get an error; the slot is free again. */
static void on_start_failed(policy_fn *fn, const policy_event *ev)
{
    int32_t s = pi_find(fn, ev->instance);
    if (fn->inst[s].state == POLICY_INST_STOPPING) {
        pi_release(fn, s); /* stopped while starting, and now gone */
        return;
    }
    fn->st.start_failures++;
    pi_reject_pend(fn, s, POLICY_REASON_START_FAILED);
    schedule_retry(fn, &fn->inst[s]);
    pi_release(fn, s);
}

/* DONE: one worker freed (pump gives it the next batch). */
static void on_done(policy_fn *fn, const policy_event *ev)
{
    pi_done(fn, pi_find(fn, ev->instance));
}

/* STOPPED: expected after STOP; otherwise a crash or timeout, and what was kept warm is
 * replaced at once (the caller answers the requests that were in flight). */
static void on_stopped(policy_fn *fn, const policy_event *ev)
{
    int32_t s = pi_find(fn, ev->instance);
    pi_inst *i = &fn->inst[s];
    if (i->state == POLICY_INST_STOPPING) {
        pi_release(fn, s);
        return;
    }
    fn->st.crashes++;
    pi_reject_pend(fn, s, POLICY_REASON_START_FAILED);
    pi_release(fn, s);
    if (!fn->shutting_down)
        fn->vt->reconcile(fn, POLICY_REASON_CRASHED);
}

/* CANCEL: the caller left; its queued request is dropped. */
static void on_cancel(policy_fn *fn, const policy_event *ev)
{
    pi_q_cancel(fn, ev->request, false);
    fn->st.cancels++;
}

/* TICK: nothing beyond advance(). */
static void on_tick(policy_fn *fn, const policy_event *ev)
{
    (void)fn;
    (void)ev;
}

/* SHUTDOWN: answer every waiting caller, stop what is not working, drain what is. */
static void on_shutdown(policy_fn *fn, const policy_event *ev)
{
    (void)ev;
    if (fn->shutting_down)
        return;
    fn->shutting_down = true;
    pi_q_reject_all(fn, POLICY_REASON_SHUTDOWN);
    for (int32_t s = fn->lists[PI_LIST_STARTING].head, next; s != PI_NIL; s = next) {
        next = fn->inst[s].next;
        pi_reject_pend(fn, s, POLICY_REASON_SHUTDOWN);
        pi_stop(fn, s, POLICY_REASON_SHUTDOWN);
    }
    for (int32_t s = 0; s < fn->nslots; s++) {
        pi_inst *i = &fn->inst[s];
        if (i->live && i->state == POLICY_INST_IDLE)
            pi_stop(fn, s, POLICY_REASON_SHUTDOWN);
    }
    for (int32_t s = 0; s < fn->nslots; s++) {
        pi_inst *i = &fn->inst[s];
        if (i->live && i->state == POLICY_INST_BUSY)
            pi_drain(fn, s);
    }
}

typedef void (*handler_fn)(policy_fn *fn, const policy_event *ev);
static const handler_fn handlers[POLICY_EV__COUNT] = {
    [POLICY_EV_DEPLOY] = on_deploy,     [POLICY_EV_ARRIVE] = on_arrive,
    [POLICY_EV_READY] = on_ready,       [POLICY_EV_START_FAILED] = on_start_failed,
    [POLICY_EV_DONE] = on_done,         [POLICY_EV_STOPPED] = on_stopped,
    [POLICY_EV_CANCEL] = on_cancel,     [POLICY_EV_TICK] = on_tick,
    [POLICY_EV_SHUTDOWN] = on_shutdown,
};

/* The one entry point; why: every decision flows through the same validate → advance → apply →
 * pump → expire → wake sequence, in the live platform and in the simulator alike. */
int policy_fn_handle(policy_fn *fn, const policy_event *ev, int64_t now_ns, policy_actions *out)
{
    out->n = 0;
    out->nids = 0;
    int rc = validate(fn, ev);
    if (rc) {
        out->wake_ns = fn->deployed ? wake(fn) : INT64_MAX;
        return rc;
    }
    fn->now = FM_MAX(now_ns, fn->now);
    fn->out = out;
    if (fn->nevict > 0)
        pi_ka_flush_evictions(fn);
    /* an instance reported gone leaves first, so no deadline due now dispatches to it */
    bool gone = ev->type == POLICY_EV_STOPPED || ev->type == POLICY_EV_START_FAILED;
    if (gone)
        handlers[ev->type](fn, ev);
    if (ev->type != POLICY_EV_DEPLOY)
        advance(fn);
    if (!gone)
        handlers[ev->type](fn, ev);
    pump(fn);
    expire_idle(fn);
    out->wake_ns = wake(fn);
    fn->out = NULL;
    return 0;
}
