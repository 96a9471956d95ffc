/*
 * keepalive.c — the keep-alive policies: what happens to an on-demand instance once it is idle.
 *
 *   fixed        stop it after inst.keep_alive (AWS Lambda, Azure Functions).
 *   histogram    Shahrad et al., "Serverless in the Wild" (USENIX ATC'20), the hybrid histogram
 *                policy: a per-function histogram of idle times (bins of histogram.bin over
 *                histogram.range). When an instance goes idle, the pre-warm window is the head
 *                percentile's bin start x (1 - margin); when it is 0 the instance is kept, else it
 *                is unloaded and a new one started that long after. It is then kept until the
 *                tail percentile's bin end x (1 + margin). While the histogram is not
 *                representative (its bin counts' CV below cv_min, or empty) the policy is a
 *                standard keep-alive for the whole range; when too many idle times fall out of
 *                bounds (share >= oob_max) it forecasts the next idle time x from the recent ones
 *                and pre-warms at x (1 - forecast_margin), keeping until x (1 + forecast_margin).
 *                The paper fits ARIMA; the forecast here is its simplest member, AR(1) about the
 *                mean (Yule-Walker) over the last PI_FORECAST_N idle times, which needs no
 *                model search and no allocation.
 *   greedy-dual  Fuerst and Sharma, "FaasCache" (ASPLOS'21): idle instances are kept until a
 *                start does not fit the memory budget of the pool; then the idle instance with
 *                the lowest priority = clock + frequency x cold-start cost / memory is evicted
 *                and the clock becomes its priority. Frequency counts the function's
 *                invocations and resets when it loses its last instance; cost is its last
 *                measured cold start (START to READY).
 *
 * An idle time is measured at each arrival: 0 while a dispatch of the function is in flight,
 * else the time since its last dispatch ended (the paper's per-application definition, with the
 * function as the application).
 */
#include "policy/policy_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The list of ready on-demand instances with nothing in flight. */
static int32_t idle_list(const policy_fn *fn)
{
    return pi_avail_list(fn, false, 0);
}

/* ---- fixed -------------------------------------------------------------------------------- */

static void nothing(policy_fn *fn)
{
    (void)fn;
}

static void fixed_idle(policy_fn *fn, int32_t slot)
{
    (void)fn;
    (void)slot;
}

/* Why: with one TTL the least recently used idle instance expires first, so this stops only
 * from the tail of the idle list: O(stopped). */
static void fixed_advance(policy_fn *fn)
{
    int32_t l = idle_list(fn);
    for (;;) {
        int32_t s = fn->lists[l].tail;
        if (s == PI_NIL || fn->now - fn->inst[s].last_used_ns < fn->cfg.inst.keep_alive_ns)
            return;
        pi_stop(fn, s, POLICY_REASON_IDLE);
    }
}

static int64_t fixed_wake(const policy_fn *fn)
{
    int32_t s = fn->lists[idle_list(fn)].tail;
    return s == PI_NIL ? INT64_MAX : fn->inst[s].last_used_ns + fn->cfg.inst.keep_alive_ns;
}

static void fixed_windows(policy_fn *fn, int64_t *pw, int64_t *ka)
{
    *pw = 0;
    *ka = fn->cfg.inst.keep_alive_ns;
}

const pi_ka_vt pi_ka_fixed = {
    .kind = POLICY_KEEP_ALIVE_FIXED,
    .arrive = nothing,
    .idle = fixed_idle,
    .advance = fixed_advance,
    .wake = fixed_wake,
    .windows = fixed_windows,
};

/* ---- histogram ------------------------------------------------------------------------------ */

/* Records one idle time; why: the bin counts' sum of squares is kept as it changes, so the CV
 * test costs O(1) however many bins there are. */
static void hist_add(policy_fn *fn, int64_t it)
{
    fn->recent[fn->recent_i] = it;
    fn->recent_i = (fn->recent_i + 1) % PI_FORECAST_N;
    if (fn->nrecent < PI_FORECAST_N)
        fn->nrecent++;
    fn->win_dirty = true;
    int64_t b = it / fn->cfg.histogram.bin_ns;
    if (b >= fn->nbins) {
        fn->hist_oob++;
        return;
    }
    uint64_t c = fn->hist[b]++;
    fn->hist_sumsq += 2 * c + 1;
    fn->hist_n++;
    if ((int32_t)b > fn->hist_top)
        fn->hist_top = (int32_t)b;
}

/* The first bin whose cumulative count reaches pct percent of the in-range idle times. */
static int32_t hist_percentile(const policy_fn *fn, double pct)
{
    double want = pct / 100.0 * (double)fn->hist_n;
    uint64_t cum = 0;
    for (int32_t b = 0; b <= fn->hist_top; b++) {
        cum += fn->hist[b];
        if ((double)cum >= want - 1e-9 && cum > 0)
            return b;
    }
    return fn->hist_top;
}

/* The bin counts' coefficient of variation (sample standard deviation over the mean); why: the
 * paper's test that the histogram has a clear shape rather than a flat spread. */
static double hist_cv(const policy_fn *fn)
{
    double n = fn->nbins, mean = (double)fn->hist_n / n;
    if (fn->hist_n == 0 || fn->nbins < 2)
        return 0;
    double var = ((double)fn->hist_sumsq - n * mean * mean) / (n - 1);
    return var > 0 ? sqrt(var) / mean : 0;
}

/* AR(1) about the mean of the recent idle times, one step ahead; why: the paper's time-series
 * forecast for idle times beyond the histogram, in its smallest form (see the file comment). */
static double forecast(const policy_fn *fn)
{
    int n = fn->nrecent;
    double x[PI_FORECAST_N], mean = 0;
    for (int i = 0; i < n; i++) { /* oldest first */
        int k = (fn->recent_i - n + i + PI_FORECAST_N) % PI_FORECAST_N;
        x[i] = (double)fn->recent[k];
        mean += x[i];
    }
    mean /= n;
    if (n < 2)
        return x[0];
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        den += (x[i] - mean) * (x[i] - mean);
        if (i > 0)
            num += (x[i] - mean) * (x[i - 1] - mean);
    }
    double phi = den > 0 ? num / den : 0;
    double f = mean + phi * (x[n - 1] - mean);
    return f > 0 ? f : 0;
}

/* Why: the windows change only when an idle time is recorded, so they are computed once per
 * change, not per idle instance. */
static void hist_windows(policy_fn *fn, int64_t *pw, int64_t *ka)
{
    if (fn->win_dirty) {
        const policy_config *c = &fn->cfg;
        uint64_t all = fn->hist_n + fn->hist_oob;
        double p = 0, k = (double)c->histogram.range_ns;
        if (all > 0 && (double)fn->hist_oob >= c->histogram.oob_max * (double)all) {
            double x = forecast(fn), m = c->histogram.forecast_margin;
            p = x * (1 - m);
            k = x * (1 + m) - p;
        } else if (fn->hist_n > 0 && hist_cv(fn) >= c->histogram.cv_min) {
            double bin = (double)c->histogram.bin_ns, m = c->histogram.margin;
            p = hist_percentile(fn, c->histogram.head_pct) * bin * (1 - m);
            k = (hist_percentile(fn, c->histogram.tail_pct) + 1) * bin * (1 + m) - p;
        }
        fn->win_pw = (int64_t)llround(p);
        fn->win_ka = (int64_t)llround(k);
        fn->win_dirty = false;
    }
    *pw = fn->win_pw;
    *ka = fn->win_ka;
}

static void hist_arrive(policy_fn *fn)
{
    fn->prewarm_at = INT64_MAX; /* it came first: the instance it started decides anew */
    if (fn->last_end_ns < 0)
        return;
    bool busy = fn->st.in_flight > 0 || fn->pend_total > 0;
    hist_add(fn, busy ? 0 : fn->now - fn->last_end_ns);
}

static void hist_idle(policy_fn *fn, int32_t slot)
{
    int64_t pw, ka;
    hist_windows(fn, &pw, &ka);
    pi_inst *i = &fn->inst[slot];
    if (pw <= 0) {
        i->expire_ns = fn->now + ka;
        return;
    }
    i->expire_ns = fn->now; /* unloaded (after this call's dispatches, if it got none) */
    fn->prewarm_at = fn->now + pw;
    fn->prewarm_until = fn->now + pw + ka;
}

/* Why: windows differ per instance, so the whole idle list is scanned; it holds the instances a
 * function keeps, a handful. */
static void hist_advance(policy_fn *fn)
{
    if (fn->now >= fn->prewarm_at) {
        fn->prewarm_at = INT64_MAX;
        /* a late call past the whole window has nothing left to pre-warm for */
        bool want =
            fn->now < fn->prewarm_until && fn->lists[idle_list(fn)].len == 0 && fn->nfree > 0;
        if (want && !pi_host_fits(fn)) {
            pi_host_refused(fn, false);
        } else if (want) {
            int32_t s = pi_start(fn, false, POLICY_REASON_PREWARM);
            fn->inst[s].expire_ns = fn->prewarm_until;
            fn->st.prewarms++;
        }
    }
    int32_t l = idle_list(fn);
    for (int32_t s = fn->lists[l].head, next; s != PI_NIL; s = next) {
        next = fn->inst[s].next;
        if (fn->inst[s].expire_ns >= 0 && fn->inst[s].expire_ns <= fn->now)
            pi_stop(fn, s, POLICY_REASON_IDLE);
    }
}

static int64_t hist_wake(const policy_fn *fn)
{
    int64_t t = fn->prewarm_at;
    for (int32_t s = fn->lists[idle_list(fn)].head; s != PI_NIL; s = fn->inst[s].next)
        if (fn->inst[s].expire_ns >= 0)
            t = FM_MIN(t, fn->inst[s].expire_ns);
    return t;
}

const pi_ka_vt pi_ka_histogram = {
    .kind = POLICY_KEEP_ALIVE_HISTOGRAM,
    .arrive = hist_arrive,
    .idle = hist_idle,
    .advance = hist_advance,
    .wake = hist_wake,
    .windows = hist_windows,
};

/* ---- greedy-dual ------------------------------------------------------------------------------
 */

static double gd_priority(const policy_fn *fn)
{
    int64_t cost = fn->gd_cost_ns > 0 ? fn->gd_cost_ns : fn->cfg.greedy_dual.cold_cost_ns;
    return fn->pool->clock + (double)fn->gd_freq * ((double)cost / 1e9) / fn->cfg.fn.memory_mb;
}

static void gd_arrive(policy_fn *fn)
{
    fn->gd_freq++;
}

static void gd_idle(policy_fn *fn, int32_t slot)
{
    fn->inst[slot].prio = gd_priority(fn);
    fn->inst[slot].expire_ns = INT64_MAX;
}

/* Why: actions go into the buffer of the call on the function they concern, so an eviction
 * decided in another member's call is emitted here, first thing, whatever the event. */
void pi_ka_flush_evictions(policy_fn *fn)
{
    for (int32_t k = 0; k < fn->nevict; k++) {
        int32_t s = pi_find(fn, fn->evict_ids[k]);
        if (s != PI_NIL && fn->inst[s].state == POLICY_INST_STOPPING)
            pi_emit(fn, POLICY_ACT_STOP, POLICY_REASON_EVICT)->instance = fn->evict_ids[k];
    }
    fn->nevict = 0;
    fn->evict_queued = false;
}

static int64_t gd_wake(const policy_fn *fn)
{
    (void)fn;
    return INT64_MAX;
}

static void gd_windows(policy_fn *fn, int64_t *pw, int64_t *ka)
{
    (void)fn;
    *pw = 0;
    *ka = INT64_MAX;
}

/* Whether a function still has an instance that is not on its way out. */
static bool has_instances(const policy_fn *fn)
{
    return fn->live > fn->lists[PI_LIST_STOPPING].len;
}

/* Evicts the lowest-priority idle instance of the pool; why: greedy-dual's one decision. Returns
 * false when no member has an idle on-demand instance. Ties go to the earliest member, then the
 * least recently used instance, so the choice is deterministic. */
static bool gd_evict_one(policy_fn *fn)
{
    policy_pool *p = fn->pool;
    policy_fn *vf = NULL;
    int32_t vs = PI_NIL;
    for (int32_t m = 0; m < p->n; m++) {
        policy_fn *f = p->members[m];
        for (int32_t s = f->lists[idle_list(f)].tail; s != PI_NIL; s = f->inst[s].prev)
            if (!vf || f->inst[s].prio < vf->inst[vs].prio) {
                vf = f;
                vs = s;
            }
    }
    if (!vf)
        return false;
    p->clock = vf->inst[vs].prio;
    vf->st.evictions++;
    if (vf == fn) {
        pi_stop(fn, vs, POLICY_REASON_EVICT);
    } else {
        pi_stop_quiet(vf, vs);
        vf->evict_ids[vf->nevict++] = pi_id(vf, vs);
        if (!vf->evict_queued) {
            vf->evict_queued = true;
            p->pending[p->npending++] = vf;
        }
    }
    if (!has_instances(vf))
        vf->gd_freq = 0;
    return true;
}

/* Why the first test: when even every idle instance of the pool would not make room (the busy
 * ones alone fill the budget), evicting them gains nothing, so none is evicted and the start goes
 * ahead over budget, counted (FaasCache would drop the request; faasml's callers never lose
 * one to memory). */
static void gd_before_start(policy_fn *fn)
{
    policy_pool *p = fn->pool;
    int64_t need = fn->cfg.fn.memory_mb;
    if (p->used_mb + need <= p->budget_mb)
        return;
    if (p->used_mb - p->idle_mb + need > p->budget_mb) {
        fn->st.over_budget++;
        return;
    }
    while (p->used_mb + need > p->budget_mb)
        if (!gd_evict_one(fn)) {
            fn->st.over_budget++;
            return;
        }
}

const pi_ka_vt pi_ka_greedy_dual = {
    .kind = POLICY_KEEP_ALIVE_GREEDY_DUAL,
    .arrive = gd_arrive,
    .idle = gd_idle,
    .advance = nothing,
    .wake = gd_wake,
    .before_start = gd_before_start,
    .windows = gd_windows,
};

/* ---- pools and setup ---------------------------------------------------------------------------
 */

int policy_pool_new(int32_t budget_mb, policy_pool **out, fm_err *err)
{
    *out = NULL;
    if (budget_mb < 1)
        return fm_err_set(err, FM_EINVAL, "memory pool budget must be >= 1 MB, got %d", budget_mb);
    policy_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return fm_err_set(err, FM_ENOMEM, "cannot allocate memory pool");
    p->budget_mb = budget_mb;
    *out = p;
    return 0;
}

void policy_pool_free(policy_pool *p)
{
    if (!p)
        return;
    free(p->members);
    free(p->pending);
    free(p);
}

/* Why: membership grows at setup only, so events never allocate. */
static int pool_join(policy_pool *p, policy_fn *fn, fm_err *err)
{
    if (p->n == p->cap) {
        int32_t nc = p->cap ? 2 * p->cap : 8;
        policy_fn **m = realloc(p->members, (size_t)nc * sizeof(*m));
        if (m)
            p->members = m;
        policy_fn **q = m ? realloc(p->pending, (size_t)nc * sizeof(*q)) : NULL;
        if (q)
            p->pending = q;
        if (!m || !q)
            return fm_err_set(err, FM_ENOMEM, "cannot grow memory pool");
        p->cap = nc;
    }
    p->members[p->n++] = fn;
    fn->pool = p;
    return 0;
}

static void pool_leave(policy_fn *fn)
{
    policy_pool *p = fn->pool;
    if (!p)
        return;
    for (int32_t m = 0; m < p->n; m++)
        if (p->members[m] == fn)
            p->members[m] = p->members[--p->n];
    for (int32_t m = 0; m < p->npending; m++)
        if (p->pending[m] == fn)
            p->pending[m--] = p->pending[--p->npending];
    p->used_mb -= fn->live_mb;
    if (fn->lists)
        p->idle_mb -= (int64_t)fn->lists[PI_LIST_AVAIL0].len * fn->cfg.fn.memory_mb;
    fn->live_mb = 0;
    if (fn->pool_private)
        policy_pool_free(p);
    fn->pool = NULL;
    fn->pool_private = false;
}

int policy_fn_join_pool(policy_fn *fn, policy_pool *pool, fm_err *err)
{
    if (fn->cfg.inst.keep_alive_policy != POLICY_KEEP_ALIVE_GREEDY_DUAL)
        return fm_err_set(err, FM_EINVAL, "only a greedy-dual function joins a memory pool");
    if (fn->deployed)
        return fm_err_set(err, FM_ESTATE, "a function joins a memory pool before DEPLOY");
    pool_leave(fn);
    return pool_join(pool, fn, err);
}

policy_fn *policy_pool_take_pending(policy_pool *p)
{
    return p && p->npending > 0 ? p->pending[--p->npending] : NULL;
}

void policy_fn_set_user(policy_fn *fn, void *user)
{
    fn->user = user;
}

void *policy_fn_user(const policy_fn *fn)
{
    return fn->user;
}

/* Why: instance memory enters the pool while it is not stopping, so an eviction frees its room
 * at once (the process may take a while to go). */
void pi_pool_add(policy_fn *fn, int64_t mb)
{
    if (!fn->pool)
        return;
    fn->pool->used_mb += mb;
    fn->live_mb += mb;
}

void policy_fn_keep_alive_windows(policy_fn *fn, int64_t *prewarm_ns, int64_t *keep_ns)
{
    fn->ka->windows(fn, prewarm_ns, keep_ns);
}

static const pi_ka_vt *const ka_vtables[POLICY_KEEP_ALIVE__COUNT] = {
    [POLICY_KEEP_ALIVE_FIXED] = &pi_ka_fixed,
    [POLICY_KEEP_ALIVE_HISTOGRAM] = &pi_ka_histogram,
    [POLICY_KEEP_ALIVE_GREEDY_DUAL] = &pi_ka_greedy_dual,
};

/* Allocates what the function's keep-alive policy needs; why: at policy_fn_new, never later. */
int pi_ka_setup(policy_fn *fn, fm_err *err)
{
    const policy_config *c = &fn->cfg;
    fn->ka = ka_vtables[c->inst.keep_alive_policy];
    fn->last_end_ns = -1;
    fn->prewarm_at = fn->prewarm_until = INT64_MAX;
    fn->hist_top = -1;
    fn->win_dirty = true;
    if (c->inst.keep_alive_policy == POLICY_KEEP_ALIVE_HISTOGRAM) {
        fn->nbins = (int32_t)(c->histogram.range_ns / c->histogram.bin_ns);
        fn->hist = calloc((size_t)fn->nbins, sizeof(*fn->hist));
        if (!fn->hist)
            return fm_err_set(err, FM_ENOMEM, "cannot allocate %d histogram bins", fn->nbins);
    }
    if (c->inst.keep_alive_policy == POLICY_KEEP_ALIVE_GREEDY_DUAL) {
        fn->evict_ids = calloc((size_t)fn->nslots, sizeof(*fn->evict_ids));
        if (!fn->evict_ids)
            return fm_err_set(err, FM_ENOMEM, "cannot allocate policy state");
        policy_pool *p;
        int rc = policy_pool_new(c->greedy_dual.budget_mb, &p, err);
        if (rc)
            return rc;
        if ((rc = pool_join(p, fn, err))) {
            policy_pool_free(p);
            return rc;
        }
        fn->pool_private = true;
    }
    return 0;
}

void pi_ka_release(policy_fn *fn)
{
    pool_leave(fn);
    free(fn->hist);
    free(fn->evict_ids);
    fn->hist = NULL;
    fn->evict_ids = NULL;
}
