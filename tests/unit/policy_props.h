/*
 * Property check for `policy`: drives a policy_fn with an event sequence decoded from bytes
 * (as a platform or simulator would, plus stale and forged events) and checks, with a shadow
 * model built only from the actions, the safety rules every profile must keep:
 *   - never dispatch to an instance before READY, after STOP, or past its workers;
 *   - never stop an instance with a dispatch in flight;
 *   - never start on a slot whose previous instance is not gone;
 *   - answer every request exactly once (dispatch, throttle or reject), and none is left
 *     waiting after SHUTDOWN;
 *   - refuse forged instance ids without changing anything.
 * A broken rule aborts (the fuzzer and the unit test both see it). Used by
 * fuzz/fuzz_policy_events.c and tests/unit/test_policy_props.c.
 */
#ifndef POLICY_PROPS_H
#define POLICY_PROPS_H

#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PP_SLOTS 8
#define PP_REQS 512

typedef struct pp_inst {
    policy_instance_id id;
    bool live, ready_sent, stop_seen;
    int in_flight;
} pp_inst;

typedef struct pp_state {
    policy_fn *fn;
    policy_actions acts;
    pp_inst inst[PP_SLOTS];
    uint8_t req[PP_REQS]; /* 0 unseen, 1 waiting, 2 answered */
    int workers;
    uint64_t next_req;
    int64_t now;
    /* greedy-dual: a second member of the memory pool, served at once, whose starts evict the
     * function under test's idle instances (and the reverse) */
    policy_pool *pool;
    policy_fn *other;
    policy_actions oacts;
    uint64_t other_req;
} pp_state;

#define PP_CHECK(cond, what)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "policy property broken: %s (%s:%d)\n", what, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What the runs exercised, so a test can tell the keep-alive policies' paths were taken. */
static struct {
    uint64_t prewarms, evictions;
} pp_seen;

/* Answers one request in the shadow; why: each caller gets exactly one answer. */
static inline void pp_answer(pp_state *s, uint64_t req)
{
    PP_CHECK(req < PP_REQS && s->req[req] == 1, "request answered twice or never asked");
    s->req[req] = 2;
}

/* Applies the actions of the last call to the shadow, checking each. */
static inline void pp_apply(pp_state *s)
{
    for (uint32_t i = 0; i < s->acts.n; i++) {
        const policy_action *a = &s->acts.v[i];
        uint32_t slot = policy_instance_slot(a->instance);
        pp_inst *in = slot < PP_SLOTS ? &s->inst[slot] : NULL;
        switch (a->type) {
        case POLICY_ACT_START:
            PP_CHECK(in && !in->live, "start on a slot still in use");
            *in = (pp_inst){.id = a->instance, .live = true};
            break;
        case POLICY_ACT_DISPATCH:
            PP_CHECK(in && in->live && in->id == a->instance, "dispatch to unknown instance");
            PP_CHECK(in->ready_sent, "dispatch before ready");
            PP_CHECK(!in->stop_seen, "dispatch after stop");
            PP_CHECK(in->in_flight < s->workers, "dispatch past the workers");
            PP_CHECK(a->n >= 1, "empty dispatch");
            in->in_flight++;
            for (uint32_t k = 0; k < a->n; k++)
                pp_answer(s, a->requests[k]);
            break;
        case POLICY_ACT_STOP:
            PP_CHECK(in && in->live && in->id == a->instance, "stop of unknown instance");
            PP_CHECK(in->in_flight == 0, "stop with a request in flight");
            PP_CHECK(!in->stop_seen, "stop twice");
            in->stop_seen = true;
            break;
        case POLICY_ACT_THROTTLE:
        case POLICY_ACT_REJECT: pp_answer(s, a->request); break;
        default: PP_CHECK(false, "unknown action");
        }
    }
}

static inline int pp_send(pp_state *s, policy_event_type t, uint64_t req, policy_instance_id id);

/* Sends ev to the other pool member and answers what it asks at once (READY for a START, DONE
 * for a DISPATCH, STOPPED for a STOP); why: it only exists to hold memory and evict. */
static inline void pp_other(pp_state *s, policy_event ev)
{
    policy_event todo[64];
    int n = 0;
    todo[n++] = ev;
    while (n > 0) {
        ev = todo[--n];
        PP_CHECK(policy_fn_handle(s->other, &ev, s->now, &s->oacts) == 0, "other member refused");
        for (uint32_t i = 0; i < s->oacts.n && n < 64; i++) {
            const policy_action *a = &s->oacts.v[i];
            policy_event_type t = a->type == POLICY_ACT_START      ? POLICY_EV_READY
                                  : a->type == POLICY_ACT_DISPATCH ? POLICY_EV_DONE
                                  : a->type == POLICY_ACT_STOP     ? POLICY_EV_STOPPED
                                                                   : POLICY_EV__COUNT;
            if (t != POLICY_EV__COUNT)
                todo[n++] = (policy_event){.type = t, .instance = a->instance};
        }
    }
}

/* Delivers the evictions one member decided for another (policy_pool_take_pending). */
static inline void pp_drain(pp_state *s)
{
    policy_fn *f;
    while (s->pool && (f = policy_pool_take_pending(s->pool)))
        if (f == s->fn)
            PP_CHECK(pp_send(s, POLICY_EV_TICK, 0, 0) == 0, "tick refused");
        else
            pp_other(s, (policy_event){.type = POLICY_EV_TICK});
}

/* Sends one event and applies its actions; returns policy_fn_handle's code. */
static inline int pp_send(pp_state *s, policy_event_type t, uint64_t req, policy_instance_id id)
{
    policy_event ev = {.type = t, .request = req, .instance = id, .items = 1};
    int rc = policy_fn_handle(s->fn, &ev, s->now, &s->acts);
#ifdef PP_DEBUG
    fprintf(stderr, "t=%lld %s r%llu i%u.%u rc=%d:", (long long)s->now, policy_event_name(t),
            (unsigned long long)req, policy_instance_slot(id), (unsigned)(id >> 32), rc);
    for (uint32_t i = 0; i < s->acts.n; i++) {
        char line[256];
        policy_action_format(&s->acts.v[i], line, sizeof(line));
        fprintf(stderr, " | %s", line);
    }
    fprintf(stderr, "\n");
#endif
    if (rc == 0) {
        pp_apply(s);
        pp_drain(s);
    } else {
        PP_CHECK(s->acts.n == 0, "actions written by a refused event");
    }
    return rc;
}

/* Picks the k-th live instance matching a predicate, or -1. */
static inline int pp_pick(pp_state *s, unsigned k, int want)
{
    int idx[PP_SLOTS], n = 0;
    for (int i = 0; i < PP_SLOTS; i++) {
        pp_inst *in = &s->inst[i];
        if (!in->live)
            continue;
        bool ok = want == 0   ? !in->ready_sent   /* starting (maybe stopped meanwhile) */
                  : want == 1 ? in->in_flight > 0 /* busy */
                  : want == 2 ? in->stop_seen     /* stopping */
                              : true;             /* any */
        if (ok)
            idx[n++] = i;
    }
    return n ? idx[k % (unsigned)n] : -1;
}

/* Runs one byte string through the policy under one of four configs; aborts on a broken rule. */
static inline void pp_run(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    policy_config c;
    policy_profile prof = (policy_profile)(data[0] % POLICY_PROFILE__COUNT);
    policy_config_init(&c, prof);
    c.inst.max = 1 + data[1] % PP_SLOTS;
    c.queue.capacity = 1 + (data[1] >> 3) % 8;
    c.batch.max_size = 1 + (data[0] >> 2) % 3;
    c.batch.max_delay_ns = (data[0] >> 4) % 2 ? 5 : 0;
    c.inst.provision_delay_ns = (data[0] >> 5) % 2 ? 7 : 0;
    if (prof == POLICY_PROFILE_LAMBDA || prof == POLICY_PROFILE_GCF) {
        c.inst.keep_alive_ns = 20;
        c.inst.provisioned = (data[1] >> 6) % 2 ? 1 : 0;
        c.inst.cold_wait = (data[0] >> 6) % 2 ? POLICY_COLD_WAIT_FIRST_FREE : POLICY_COLD_WAIT_BIND;
        c.inst.overprovision = prof == POLICY_PROFILE_GCF ? 0.5 : 0;
        c.limit.reserved = (data[1] >> 7) ? 2 : 0;
        /* every keep-alive policy, on scales this clock reaches (ticks of 0-3 ns) */
        c.inst.keep_alive_policy = (policy_keep_alive)(size % POLICY_KEEP_ALIVE__COUNT);
        c.histogram.bin_ns = 2;
        c.histogram.range_ns = 2 * (1 + data[1] % 12);
        c.histogram.head_pct = 5;
        c.histogram.tail_pct = 99;
        c.histogram.margin = 0.1;
        c.histogram.cv_min = (data[0] >> 7) ? 2 : 0.5;
        c.histogram.oob_max = 0.5;
        c.histogram.forecast_margin = 0.15;
        c.fn.memory_mb = 128;
        c.greedy_dual.budget_mb = 128 * (1 + (data[1] >> 3) % 4);
        c.greedy_dual.cold_cost_ns = 3;
    } else {
        c.inst.workers = 1 + (data[1] >> 6) % 3;
        c.inst.min = 1;
        c.scale.target_per_min = prof == POLICY_PROFILE_MANAGED ? 1 : 0;
        c.scale.period_ns = 50;
    }
    c.inst.retry_ns = 10;
    pp_state *s = calloc(1, sizeof(*s));
    fm_err err;
    PP_CHECK(policy_fn_new(&c, NULL, &s->fn, &err) == 0, "config rejected");
    PP_CHECK(policy_actions_init(&s->acts, s->fn) == 0, "actions init");
    s->workers = c.inst.workers;
    if (c.inst.keep_alive_policy == POLICY_KEEP_ALIVE_GREEDY_DUAL) {
        policy_config oc = c;
        oc.inst.provisioned = 0;
        oc.limit.reserved = 0;
        PP_CHECK(policy_pool_new(c.greedy_dual.budget_mb, &s->pool, &err) == 0, "pool");
        PP_CHECK(policy_fn_new(&oc, NULL, &s->other, &err) == 0, "other rejected");
        PP_CHECK(policy_actions_init(&s->oacts, s->other) == 0, "actions init");
        PP_CHECK(policy_fn_join_pool(s->fn, s->pool, &err) == 0, "join");
        PP_CHECK(policy_fn_join_pool(s->other, s->pool, &err) == 0, "join");
        pp_other(s, (policy_event){.type = POLICY_EV_DEPLOY});
    }
    PP_CHECK(pp_send(s, POLICY_EV_DEPLOY, 0, 0) == 0, "deploy refused");
    for (size_t i = 2; i + 1 < size; i += 2) {
        uint8_t op = data[i] % 9, arg = data[i + 1];
        s->now += arg % 4; /* time moves on, sometimes not at all */
        int j;
        switch (op) {
        case 0:
        case 1:
            if (s->next_req < PP_REQS) {
                s->req[s->next_req] = 1;
                PP_CHECK(pp_send(s, POLICY_EV_ARRIVE, s->next_req++, 0) == 0, "arrive refused");
            }
            break;
        case 2:
            if ((j = pp_pick(s, arg, 0)) >= 0) {
                s->inst[j].ready_sent = true; /* before: READY's own actions may dispatch */
                PP_CHECK(pp_send(s, POLICY_EV_READY, 0, s->inst[j].id) == 0, "ready refused");
            }
            break;
        case 3:
            if ((j = pp_pick(s, arg, 1)) >= 0) {
                s->inst[j].in_flight--; /* before: DONE's own actions may reuse the worker */
                PP_CHECK(pp_send(s, POLICY_EV_DONE, 0, s->inst[j].id) == 0, "done refused");
            }
            break;
        case 4: /* an instance we were told to stop is gone */
        case 5: /* any instance dies (crash, timeout, failed start) */
            if ((j = pp_pick(s, arg, op == 4 ? 2 : 3)) >= 0) {
                pp_inst *in = &s->inst[j];
                bool starting = !in->ready_sent && !in->stop_seen;
                policy_event_type t =
                    starting && (arg & 1) ? POLICY_EV_START_FAILED : POLICY_EV_STOPPED;
                in->live = false; /* before apply: a replacement may take the slot */
                PP_CHECK(pp_send(s, t, 0, in->id) == 0, "stopped refused");
            }
            break;
        case 6:
            if (s->other && (arg & 64)) { /* the other member is invoked: it may evict */
                pp_other(s, (policy_event){.type = POLICY_EV_ARRIVE, .request = s->other_req++});
                pp_drain(s);
                break;
            }
            if (s->acts.wake_ns != INT64_MAX && s->acts.wake_ns > s->now)
                s->now = s->acts.wake_ns;
            pp_send(s, POLICY_EV_TICK, 0, 0);
            break;
        case 7: { /* forged: a generation never issued, or a slot out of range */
            policy_instance_id bad = ((policy_instance_id)0xfffffff0u << 32) | (arg % 16);
            PP_CHECK(pp_send(s, (policy_event_type)(POLICY_EV_READY + arg % 4), 0, bad) ==
                         FM_ENOTFOUND,
                     "forged id accepted");
            break;
        }
        case 8:
            if (arg < s->next_req && s->req[arg] == 1 && pp_send(s, POLICY_EV_CANCEL, arg, 0) == 0)
                s->req[arg] = 2;
            break;
        }
    }
    /* shutdown: everything still waiting gets an answer */
    PP_CHECK(pp_send(s, POLICY_EV_SHUTDOWN, 0, 0) == 0, "shutdown refused");
    for (uint64_t r = 0; r < s->next_req; r++)
        PP_CHECK(s->req[r] == 2, "request left unanswered after shutdown");
    policy_stats st;
    policy_fn_stats(s->fn, &st);
    PP_CHECK(st.queue_depth == 0, "queue not empty after shutdown");
    pp_seen.prewarms += st.prewarms;
    pp_seen.evictions += st.evictions;
    policy_actions_release(&s->acts);
    policy_fn_free(s->fn);
    policy_actions_release(&s->oacts);
    policy_fn_free(s->other);
    policy_pool_free(s->pool);
    free(s);
}

#endif
