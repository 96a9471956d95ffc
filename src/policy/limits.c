/*
 * limits.c — the admission limits of lambda-like profiles: the account (shared concurrency and
 * the 2021 account-wide burst), the per-function 2023 bucket, reserved concurrency and max
 * instances. All integer arithmetic, so the live platform and the simulator agree to the token.
 */
#include "policy/policy_int.h"

#include <stdlib.h>

/* Arms a bucket full; why: Lambda's burst is available at once, before any refill. */
void pi_bucket_init(pi_bucket *b, const policy_rate *r)
{
    b->rate = r ? *r : (policy_rate){0};
    b->tok = 0;
    b->last_ns = 0;
    b->primed = false;
}

/* Adds the tokens earned since the last refill; why: refill is computed lazily at each take, so
 * no timer is needed. Step mode adds whole `refill`s at period boundaries counted from the first
 * use; continuous mode adds them pro rata. Tokens are held as tokens * period_ns. */
static void bucket_refill(pi_bucket *b, int64_t now)
{
    const policy_rate *r = &b->rate;
    int64_t cap = r->burst * r->period_ns;
    if (!b->primed) {
        b->primed = true;
        b->last_ns = now;
        b->tok = cap;
        return;
    }
    int64_t dt = now - b->last_ns;
    if (dt <= 0)
        return;
    /* clamp dt so dt * refill cannot overflow: past the time to fill up, the bucket is full */
    int64_t fill_time = r->refill > 0 ? cap / r->refill + r->period_ns : INT64_MAX;
    if (r->continuous) {
        b->tok = dt >= fill_time ? cap : FM_MIN(cap, b->tok + dt * r->refill);
        b->last_ns = now;
    } else {
        int64_t steps = dt / r->period_ns;
        if (steps == 0)
            return;
        int64_t max_steps = r->refill > 0 ? r->burst / r->refill + 1 : 0;
        b->tok = FM_MIN(cap, b->tok + FM_MIN(steps, max_steps) * r->refill * r->period_ns);
        b->last_ns += steps * r->period_ns;
    }
}

/* Takes one start token; why: each new execution environment costs one, warm reuse costs none.
 * A bucket with burst 0 is unlimited. */
bool pi_bucket_take(pi_bucket *b, int64_t now)
{
    if (b->rate.burst <= 0)
        return true;
    bucket_refill(b, now);
    if (b->tok < b->rate.period_ns)
        return false;
    b->tok -= b->rate.period_ns;
    return true;
}

/* Why: an account is the unit that Lambda's account limit and 2021 burst apply to. */
int policy_account_new(int32_t concurrency_limit, policy_scaling scaling, const policy_rate *rate,
                       policy_account **out, fm_err *err)
{
    *out = NULL;
    if (concurrency_limit < 0)
        return fm_err_set(err, FM_EINVAL, "account concurrency limit %d is negative",
                          concurrency_limit);
    if (scaling == POLICY_SCALING_LAMBDA_2021 &&
        (!rate || (rate->burst > 0 && (rate->period_ns <= 0 || rate->refill < 0))))
        return fm_err_set(err, FM_EINVAL, "account scaling 'lambda-2021' needs a valid rate");
    policy_account *a = calloc(1, sizeof(*a));
    if (!a)
        return fm_err_set(err, FM_ENOMEM, "cannot allocate policy account");
    a->limit = concurrency_limit;
    pi_bucket_init(&a->bucket, scaling == POLICY_SCALING_LAMBDA_2021 ? rate : NULL);
    *out = a;
    return 0;
}

/* Why: the caller owns a shared account and frees it after its functions. */
void policy_account_free(policy_account *a)
{
    free(a);
}

/* Moves the function's and the account's concurrency by d; why: reserved and account limits
 * count the same thing, requests in flight or bound to a start. */
void pi_conc_add(policy_fn *fn, int32_t d)
{
    fn->conc += d;
    fn->acct->in_use += d;
    if (fn->cfg.limit.reserved == 0)
        fn->acct->in_use_unres += d;
    assert(fn->conc >= 0 && fn->acct->in_use >= 0 && fn->acct->in_use_unres >= 0);
}

/* Why: the order of the checks is Lambda's — the function's reserved concurrency, then the
 * account, then instance room (the function's max, then the host's memory), and the scaling-rate
 * token last so a request refused for another
 * reason costs no token. A function with reserved concurrency has its own pool carved out of
 * the account; the others share what is left (account limit minus every reservation). */
bool pi_may_start(policy_fn *fn, policy_reason *why)
{
    const policy_config *c = &fn->cfg;
    if (c->limit.reserved > 0 && fn->conc >= c->limit.reserved) {
        *why = POLICY_REASON_RESERVED;
        return false;
    }
    const policy_account *a = fn->acct;
    if (c->limit.reserved == 0 && a->limit > 0 && a->in_use_unres >= a->limit - a->reserved_sum) {
        *why = POLICY_REASON_ACCOUNT;
        return false;
    }
    if (fn->nfree == 0) {
        *why = POLICY_REASON_MAX_INSTANCES;
        return false;
    }
    if (!pi_host_fits(fn)) {
        *why = POLICY_REASON_HOST_CAPACITY;
        return false;
    }
    pi_bucket *b = c->limit.scaling == POLICY_SCALING_LAMBDA_2021   ? &fn->acct->bucket
                   : c->limit.scaling == POLICY_SCALING_LAMBDA_2023 ? &fn->bucket
                                                                    : NULL;
    if (b && !pi_bucket_take(b, fn->now)) {
        *why = POLICY_REASON_RATE;
        return false;
    }
    return true;
}
