/*
 * lambda.c — the lambda and gcf profiles. Both route one request per instance through the shared
 * machinery (fn.c: a request with no free instance starts one bound to it, or is throttled by
 * pi_may_start); what is theirs is keeping provisioned instances alive and, for gcf, starting
 * extra instances on bursts.
 */
#include "policy/policy_int.h"

/* Keeps provisioned concurrency at its target; why: PC is started at deploy, kept warm, and
 * replaced when an environment dies (AWS also recycles PC environments). */
static void lambda_reconcile(policy_fn *fn, policy_reason why)
{
    if (why == POLICY_REASON_NONE)
        why = POLICY_REASON_PROVISIONED;
    while (fn->live_prov < fn->cfg.inst.provisioned && fn->nfree > 0) {
        if (!pi_host_fits(fn)) {
            pi_host_refused(fn, true);
            return;
        }
        pi_start(fn, true, why);
    }
}

/* Starts extra unbound instances, inst.overprovision per demand start; why: the study saw GCF
 * start more instances than a burst needs. Credit that finds no room is dropped: the extras only
 * matter during the burst that earned them. */
static void gcf_overprovision(policy_fn *fn)
{
    fn->overprov_credit += fn->cfg.inst.overprovision;
    while (fn->overprov_credit >= 1.0 - 1e-9) {
        if (!pi_has_room(fn)) {
            if (fn->nfree > 0)
                pi_host_refused(fn, false);
            fn->overprov_credit = 0;
            return;
        }
        pi_start(fn, false, POLICY_REASON_OVERPROVISION);
        fn->overprov_credit -= 1.0;
    }
}

const policy_vt pi_vt_lambda = {
    .profile = POLICY_PROFILE_LAMBDA,
    .scale_to_zero = true,
    .binds = true,
    .reconcile = lambda_reconcile,
};

const policy_vt pi_vt_gcf = {
    .profile = POLICY_PROFILE_GCF,
    .scale_to_zero = true,
    .binds = true,
    .reconcile = lambda_reconcile,
    .after_demand_start = gcf_overprovision,
};
