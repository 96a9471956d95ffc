/*
 * fn.c — the per-function decision state: creation with every capacity fixed up front, the
 * caller's action buffer, instance lookup and the counters. The decisions are in decide.c.
 */
#include "policy/policy_int.h"

#include <stdlib.h>
#include <string.h>

static const policy_vt *const vtables[POLICY_PROFILE__COUNT] = {
    [POLICY_PROFILE_LAMBDA] = &pi_vt_lambda,
    [POLICY_PROFILE_GCF] = &pi_vt_gcf,
    [POLICY_PROFILE_MANAGED] = &pi_vt_managed,
    [POLICY_PROFILE_SERVER] = &pi_vt_server,
};

/* Why: _new allocates everything the function can ever need, so events never allocate. */
int policy_fn_new(const policy_config *cfg, policy_account *account, policy_fn **out, fm_err *err)
{
    *out = NULL;
    int rc = policy_config_validate(cfg, err);
    if (rc)
        return rc;
    policy_fn *fn = calloc(1, sizeof(*fn));
    if (!fn)
        return fm_err_set(err, FM_ENOMEM, "cannot allocate policy state");
    fn->cfg = *cfg;
    fn->vt = vtables[cfg->profile];
    fn->nslots = cfg->inst.max;
    fn->nlists = PI_LIST_AVAIL0 + 2 * cfg->inst.workers;
    fn->qcap = cfg->queue.capacity;
    fn->inst = calloc((size_t)fn->nslots, sizeof(*fn->inst));
    fn->free_slots = calloc((size_t)fn->nslots, sizeof(*fn->free_slots));
    fn->lists = calloc((size_t)fn->nlists, sizeof(*fn->lists));
    fn->pend_ids = calloc((size_t)fn->nslots * (size_t)cfg->batch.max_size, sizeof(uint64_t));
    fn->q = calloc((size_t)fn->qcap, sizeof(*fn->q));
    if (!fn->inst || !fn->free_slots || !fn->lists || !fn->pend_ids || !fn->q) {
        policy_fn_free(fn);
        return fm_err_set(err, FM_ENOMEM, "cannot allocate policy state for %d instances",
                          fn->nslots);
    }
    for (int32_t s = 0; s < fn->nslots; s++) {
        fn->inst[s] = (pi_inst){.prev = PI_NIL, .next = PI_NIL, .list = PI_LIST_NONE};
        fn->free_slots[fn->nslots - 1 - s] = s; /* slot 0 on top: starts take 0, 1, 2... */
    }
    fn->nfree = fn->nslots;
    for (int32_t l = 0; l < fn->nlists; l++)
        fn->lists[l] = (pi_list){.head = PI_NIL, .tail = PI_NIL};
    if (account) {
        fn->acct = account;
    } else {
        rc = policy_account_new(cfg->limit.account, cfg->limit.scaling, &cfg->limit.rate, &fn->acct,
                                err);
        if (rc) {
            policy_fn_free(fn);
            return rc;
        }
        fn->acct->private_ = true;
    }
    if (fn->acct->limit > 0 && cfg->limit.reserved > 0 &&
        fn->acct->reserved_sum + cfg->limit.reserved > fn->acct->limit) {
        rc = fm_err_set(
            err, FM_ELIMIT, "reserved concurrency %d exceeds what the account has left (%d of %d)",
            cfg->limit.reserved, fn->acct->limit - fn->acct->reserved_sum, fn->acct->limit);
        if (fn->acct->private_)
            policy_account_free(fn->acct);
        fn->acct = NULL; /* not yet counted in the account: nothing to give back */
        policy_fn_free(fn);
        return rc;
    }
    fn->acct->reserved_sum += cfg->limit.reserved;
    fn->acct->users++;
    pi_bucket_init(&fn->bucket,
                   cfg->limit.scaling == POLICY_SCALING_LAMBDA_2023 ? &cfg->limit.rate : NULL);
    if ((rc = pi_ka_setup(fn, err))) {
        policy_fn_free(fn);
        return rc;
    }
    fn->retry_at = INT64_MAX;
    fn->next_period = INT64_MAX;
    fn->last_out = fn->last_in = INT64_MIN / 2;
    *out = fn;
    return 0;
}

/* Why: returns the function's concurrency to a shared account, so the others may use it. */
void policy_fn_free(policy_fn *fn)
{
    if (!fn)
        return;
    pi_ka_release(fn);
    pi_host_add(fn, -fn->host_mb); /* instances still live are the caller's to stop */
    if (fn->host)
        fn->host->users--;
    if (fn->acct) {
        pi_conc_add(fn, -fn->conc);
        fn->acct->reserved_sum -= fn->cfg.limit.reserved;
        fn->acct->users--;
        if (fn->acct->private_)
            policy_account_free(fn->acct);
    }
    free(fn->inst);
    free(fn->free_slots);
    free(fn->lists);
    free(fn->pend_ids);
    free(fn->q);
    free(fn);
}

/* Why: callers read limits (timeout, billing granularity) from the config the policy uses. */
const policy_config *policy_fn_config(const policy_fn *fn)
{
    return &fn->cfg;
}

/* Why: the buffer bound is derived from the capacities, so one event can never overflow it. */
int policy_actions_init(policy_actions *a, const policy_fn *fn)
{
    size_t slots = (size_t)fn->nslots, q = (size_t)fn->qcap;
    size_t w = (size_t)fn->cfg.inst.workers, b = (size_t)fn->cfg.batch.max_size;
    memset(a, 0, sizeof(*a));
    a->cap = (uint32_t)(4 * slots + slots * w + slots * b + 3 * q + 16);
    a->ids_cap = (uint32_t)(q + slots * b + 16);
    a->v = calloc(a->cap, sizeof(*a->v));
    a->ids = calloc(a->ids_cap, sizeof(*a->ids));
    a->wake_ns = INT64_MAX;
    if (!a->v || !a->ids) {
        policy_actions_release(a);
        return FM_ENOMEM;
    }
    return 0;
}

/* Why: the caller owns the buffer and frees it once. */
void policy_actions_release(policy_actions *a)
{
    free(a->v);
    free(a->ids);
    memset(a, 0, sizeof(*a));
}

/* Resolves an instance id to a live slot; why: stale or forged ids are refused, not guessed. */
int32_t pi_find(const policy_fn *fn, policy_instance_id id)
{
    uint32_t slot = policy_instance_slot(id);
    if (slot >= (uint32_t)fn->nslots)
        return PI_NIL;
    const pi_inst *i = &fn->inst[slot];
    if (!i->live || i->gen != (uint32_t)(id >> 32))
        return PI_NIL;
    return (int32_t)slot;
}

/* Why: instance details (provisioned, started) for records and the Runtime API environment. */
int policy_fn_instance(const policy_fn *fn, policy_instance_id id, policy_instance_info *out)
{
    int32_t s = pi_find(fn, id);
    if (s == PI_NIL)
        return FM_ENOTFOUND;
    const pi_inst *i = &fn->inst[s];
    *out = (policy_instance_info){.state = i->state,
                                  .provisioned = i->provisioned,
                                  .in_flight = i->in_flight,
                                  .started_ns = i->started_ns,
                                  .last_used_ns = i->last_used_ns};
    return 0;
}

/* Why: /metrics and the per-second time series read one snapshot. */
void policy_fn_stats(const policy_fn *fn, policy_stats *out)
{
    *out = fn->st;
    out->provisioned = (uint32_t)fn->live_prov;
    out->queue_depth = (uint32_t)(fn->qlive + fn->pend_total);
    out->desired = (uint32_t)fn->desired;
}
