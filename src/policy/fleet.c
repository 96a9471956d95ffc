/*
 * fleet.c — the managed and server profiles: instances with N workers sharing the function's
 * FIFO queue (fn.c pumps it). server keeps a fixed fleet; managed adds target tracking on
 * invocations per instance with CloudWatch-like mechanics: one datapoint per metric period, N
 * consecutive breaching datapoints before acting, cooldowns, and a provisioning delay before a
 * new instance serves (inst.provision_delay_ns, applied in decide.c).
 */
#include "policy/policy_int.h"

#include <math.h>

/* Instances that count toward the fleet size; why: draining and stopping ones are leaving. */
static int32_t active(const policy_fn *fn)
{
    return (int32_t)(fn->st.instances[POLICY_INST_STARTING] + fn->st.instances[POLICY_INST_IDLE] +
                     fn->st.instances[POLICY_INST_BUSY]);
}

/* Starts instances until the fleet has `desired` (server: inst.min); why: one routine serves
 * deploy, scale-out and replacement of crashed instances. */
static void fleet_reconcile(policy_fn *fn, policy_reason why)
{
    if (fn->desired < fn->cfg.inst.min)
        fn->desired = fn->cfg.inst.min;
    if (why == POLICY_REASON_NONE)
        why = POLICY_REASON_MIN_INSTANCES;
    while (active(fn) < fn->desired && fn->nfree > 0) {
        if (!pi_host_fits(fn)) {
            pi_host_refused(fn, true);
            return;
        }
        pi_start(fn, false, why);
    }
}

/* Removes k instances: starting ones first (newest first: they serve nobody yet), then idle ones
 * (least recently used first), then busy ones are drained; why: keep warm capacity as long as
 * possible, and never cut a request in flight. */
static void scale_in(policy_fn *fn, int32_t k)
{
    int32_t idle = pi_avail_list(fn, false, 0);
    while (k > 0 && fn->lists[PI_LIST_STARTING].tail != PI_NIL) {
        pi_stop(fn, fn->lists[PI_LIST_STARTING].tail, POLICY_REASON_SCALE_IN);
        k--;
    }
    while (k > 0 && fn->lists[idle].tail != PI_NIL) {
        pi_stop(fn, fn->lists[idle].tail, POLICY_REASON_SCALE_IN);
        k--;
    }
    for (int32_t s = fn->nslots - 1; k > 0 && s >= 0; s--) {
        if (fn->inst[s].live && fn->inst[s].state == POLICY_INST_BUSY) {
            pi_drain(fn, s);
            k--;
        }
    }
}

/* One metric period ended at fn->next_period; why: target tracking acts on whole datapoints.
 * The datapoint is invocations per in-service instance per minute (SageMaker's
 * InvocationsPerInstance); the capacity it asks for is ceil(total per minute / target). */
static void managed_period(policy_fn *fn)
{
    const policy_config *c = &fn->cfg;
    int64_t t = fn->next_period;
    int32_t in_service =
        (int32_t)(fn->st.instances[POLICY_INST_IDLE] + fn->st.instances[POLICY_INST_BUSY]);
    double per_min_total = (double)fn->period_arrivals * (60.0e9 / (double)c->scale.period_ns);
    double metric = per_min_total / (in_service > 0 ? in_service : 1);
    fn->period_arrivals = 0;
    fn->period_start = t;
    fn->last_metric = metric;
    if (c->scale.target_per_min <= 0)
        return; /* autoscaling off: a fixed fleet of inst.min */
    fn->high_streak = metric > c->scale.target_per_min ? fn->high_streak + 1 : 0;
    fn->low_streak = metric < c->scale.in_ratio * c->scale.target_per_min ? fn->low_streak + 1 : 0;
    int32_t want = (int32_t)ceil(per_min_total / c->scale.target_per_min - 1e-9);
    want = FM_MAX(c->inst.min, FM_MIN(c->inst.max, want));
    if (fn->high_streak >= c->scale.out_datapoints &&
        t - fn->last_out >= c->scale.out_cooldown_ns) {
        if (want > fn->desired) {
            fn->desired = want;
            fn->last_out = t;
            fleet_reconcile(fn, POLICY_REASON_SCALE_OUT);
        }
    } else if (fn->low_streak >= c->scale.in_datapoints &&
               t - fn->last_in >= c->scale.in_cooldown_ns &&
               t - fn->last_out >= c->scale.in_cooldown_ns) {
        if (want < fn->desired) {
            scale_in(fn, active(fn) - want);
            fn->desired = want;
            fn->last_in = t;
        }
    }
}

const policy_vt pi_vt_managed = {
    .profile = POLICY_PROFILE_MANAGED,
    .reconcile = fleet_reconcile,
    .period = managed_period,
};

const policy_vt pi_vt_server = {
    .profile = POLICY_PROFILE_SERVER,
    .reconcile = fleet_reconcile,
};
