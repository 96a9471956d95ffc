/* The simulator's engine: arrivals → policy → instances on a virtual clock. */
#include "heap.h"
#include "sim.h"

#include "cost/cost.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EV_ARRIVE, EV_TICK, EV_TIMEOUT, EV_DEADLINE };

/* Recorded times are virtual ns plus this, because the store reads 0 as "did not happen". */
#define T0 1
enum { JOB_INIT, JOB_SERVICE };

/* A unit of CPU work under processor sharing: an instance's start-up or one dispatch. */
typedef struct job {
    uint32_t fn, kind;
    policy_instance_id inst;
    double vfinish; /* virtual time at which its work is done */
    double demand;  /* cores it would use alone */
    int64_t start_ns;
    uint32_t gen; /* bumped on free, so a stale timeout cannot hit a reused job */
    size_t pos;   /* index in the PS heap; SIZE_MAX when not in it */
    uint32_t n;   /* requests */
    uint32_t items;
    uint64_t *reqs; /* n request ids, a block of maxbatch ids owned by the job slot */
    double init_ms; /* a cold dispatch: the INIT it waited for (billed where the offer does) */
    bool provisioned;
    int next_free;
} job;

typedef struct req {
    int64_t arrive_ns, dispatch_ns;
    uint64_t seq; /* arrival number within the run, for sampling */
    uint32_t fn, items;
    int64_t instance; /* store id of the instance that served it, -1 */
    bool cold, dispatched;
    double init_ms;
    int next_free; /* -2 while the request is live */
} req;

typedef struct inst {
    int64_t store_id;
    int64_t created_ns, ready_ns;
    double phase_ms[FM_PHASE__COUNT];
    bool provisioned, live, ready_seen;
    int64_t busy_since;
    int busy;
} inst;

/* service-time lookups cached per function (dispatch sizes 1..SVC_CACHE never collide) */
#define SVC_CACHE 64

typedef struct fnstate {
    const sim_function *spec;
    policy_fn *pol;
    policy_actions acts;
    load_arrival *arr;
    size_t sched_i;
    bool arrivals_done;
    int64_t wake_ns, tick_pending;
    inst *insts; /* by instance slot */
    int32_t ninst_max;
    sim_cold cold;
    sim_dist svc[SVC_CACHE];  /* by batch items modulo SVC_CACHE, resolved lazily */
    int svc_items[SVC_CACHE]; /* the items each slot holds; 0: empty */
    int maxitems;
    double demand;
    int mem_key;               /* memory size whose calibration serves this function's instances */
    sim_dist overhead;         /* latency a client sees beyond the function's execution */
    const cost_offer *offer;   /* what its invocations are billed on; NULL: see sim_opts.prices */
    policy_instance_id *stops; /* STOP actions to answer with STOPPED */
    int nstops;
    policy_instance_id *readies; /* instances started at DEPLOY: READY at once */
    int nreadies;
    uint64_t arrivals_step;
    int live_insts;
    sim_fn_result *res;
} fnstate;

typedef struct engine {
    const sim_opts *o;
    fm_rng rng;
    fnstate *fns;
    int nfn;
    sim_evheap evq;
    job *jobs;
    int njobs, free_job;
    uint64_t *idpool;
    int maxbatch;
    size_t *ps; /* heap of job indices by vfinish */
    size_t nps;
    double V, G, D; /* virtual time, its rate, total demand */
    int64_t tlast;
    req *reqs;
    int nreqs, free_req;
    uint64_t live_reqs, arrival_seq;
    int64_t next_instance_id;
    int64_t now, series_next, series_step;
    int64_t run_id;
    uint64_t events;
    int64_t last_done;
    bool deploying;      /* inside the DEPLOY call: starts are instances provisioned beforehand */
    policy_pool **pools; /* greedy-dual memory pools, one per distinct budget */
    policy_host *host;   /* a `cores: N` host's memory capacity (NULL: none) */
    int32_t *pool_mb;    /* their budgets */
    int arrivals_open;   /* functions whose arrivals are not over (O(1) end test per event) */
    int npools;
    fm_err *err;
    int rc;
} engine;

/* Why: configured durations go up to 9.2e18 ns, so a deadline is now + d saturated at "never"
 * rather than an overflow. */
static int64_t sat_add(int64_t t, int64_t d)
{
    return d > INT64_MAX - t ? INT64_MAX : t + d;
}

/* ---- processor sharing -------------------------------------------------------------------
 * Why: every busy job progresses at the same rate G = min(1, cores / total demand), so one
 * virtual clock V (advancing at G) orders all completions; a job needing w ns of isolated work
 * finishes when V reaches V_start + w. In the cloud every instance has its own share: G = 1. */

static void ps_advance(engine *e, int64_t now)
{
    e->V += (double)(now - e->tlast) * e->G;
    e->tlast = now;
}

static void ps_rate(engine *e)
{
    if (e->o->host.kind == SIM_HOST_CORES && e->D > e->o->host.cores)
        e->G = e->o->host.cores / e->D;
    else
        e->G = 1;
}

static void ps_swap(engine *e, size_t i, size_t j)
{
    size_t t = e->ps[i];
    e->ps[i] = e->ps[j];
    e->ps[j] = t;
    e->jobs[e->ps[i]].pos = i;
    e->jobs[e->ps[j]].pos = j;
}

static void ps_up(engine *e, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (e->jobs[e->ps[p]].vfinish <= e->jobs[e->ps[i]].vfinish)
            break;
        ps_swap(e, i, p);
        i = p;
    }
}

static void ps_down(engine *e, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < e->nps && e->jobs[e->ps[l]].vfinish < e->jobs[e->ps[m]].vfinish)
            m = l;
        if (r < e->nps && e->jobs[e->ps[r]].vfinish < e->jobs[e->ps[m]].vfinish)
            m = r;
        if (m == i)
            return;
        ps_swap(e, i, m);
        i = m;
    }
}

static void ps_remove(engine *e, size_t j)
{
    size_t i = e->jobs[j].pos;
    e->D -= e->jobs[j].demand;
    if (e->D < 1e-9)
        e->D = 0;
    e->nps--;
    if (i != e->nps) {
        ps_swap(e, i, e->nps);
        ps_down(e, i);
        ps_up(e, i);
    }
    e->jobs[j].pos = SIZE_MAX;
    ps_rate(e);
}

static int job_new(engine *e)
{
    if (e->free_job < 0) {
        int old = e->njobs, nn = old ? old * 2 : 256;
        job *nj = realloc(e->jobs, (size_t)nn * sizeof *nj);
        uint64_t *np =
            nj ? realloc(e->idpool, (size_t)nn * (size_t)e->maxbatch * sizeof *np) : NULL;
        size_t *nps = np ? realloc(e->ps, (size_t)nn * sizeof *nps) : NULL;
        if (nj)
            e->jobs = nj;
        if (np)
            e->idpool = np;
        if (nps)
            e->ps = nps;
        if (!nj || !np || !nps)
            return -1;
        for (int i = old; i < nn; i++) {
            e->jobs[i] = (job){.pos = SIZE_MAX, .next_free = i + 1 < nn ? i + 1 : -1};
        }
        for (int i = 0; i < nn; i++)
            e->jobs[i].reqs = e->idpool + (size_t)i * (size_t)e->maxbatch;
        e->free_job = old;
        e->njobs = nn;
    }
    int j = e->free_job;
    e->free_job = e->jobs[j].next_free;
    return j;
}

/* A new job of `kind` for instance `inst` of function fi, or -1 (error set) out of memory. */
static int job_create(engine *e, uint32_t fi, uint32_t kind, policy_instance_id inst)
{
    int j = job_new(e);
    if (j < 0) {
        e->rc = fm_err_set(e->err, FM_ENOMEM, "simulation: out of memory");
        return -1;
    }
    job *jb = &e->jobs[j];
    jb->fn = fi;
    jb->kind = kind;
    jb->inst = inst;
    jb->n = jb->items = 0;
    jb->demand = e->fns[fi].demand;
    return j;
}

static void job_free(engine *e, int j)
{
    e->jobs[j].gen++;
    e->jobs[j].next_free = e->free_job;
    e->free_job = j;
}

static void job_start(engine *e, int j, double work_ns)
{
    job *jb = &e->jobs[j];
    jb->vfinish = e->V + work_ns;
    jb->start_ns = e->now;
    e->D += jb->demand;
    jb->pos = e->nps;
    e->ps[e->nps++] = (size_t)j;
    ps_up(e, jb->pos);
    ps_rate(e);
}

static int64_t ps_next_ns(const engine *e)
{
    if (!e->nps)
        return INT64_MAX;
    double dv = e->jobs[e->ps[0]].vfinish - e->V;
    if (dv <= 0)
        return e->tlast;
    double t = (double)e->tlast + ceil(dv / e->G);
    return t > 9.2e18 ? INT64_MAX : (int64_t)t;
}

/* ---- requests ------------------------------------------------------------------------------ */

static int req_new(engine *e)
{
    if (e->free_req < 0) {
        int old = e->nreqs, nn = old ? old * 2 : 1024;
        req *nr = realloc(e->reqs, (size_t)nn * sizeof *nr);
        if (!nr)
            return -1;
        e->reqs = nr;
        for (int i = old; i < nn; i++)
            e->reqs[i].next_free = i + 1 < nn ? i + 1 : -1;
        e->free_req = old;
        e->nreqs = nn;
    }
    int r = e->free_req;
    e->free_req = e->reqs[r].next_free;
    return r;
}

static const char *status_name(int code)
{
    switch (code) {
    case 200: return "ok";
    case 429: return "throttled";
    case 504: return "timeout";
    default: return "error";
    }
}

/* Why: one place ends a request, so counters, the latency histogram and the store agree. */
static void req_finish(engine *e, uint64_t id, int http, const char *error, double duration_ms,
                       double billed_ms)
{
    req *r = &e->reqs[id];
    fnstate *f = &e->fns[r->fn];
    sim_fn_result *res = f->res;
    /* an answer reaches its client after the platform's own share (gateway, payload transfer),
     * which occupies no instance; sampled only when calibrated, so other runs keep their streams */
    int64_t done = e->now;
    if (http == 200 && !(f->overhead.kind == SIM_DIST_CONST && f->overhead.value == 0))
        done += (int64_t)(sim_dist_sample(&f->overhead, &e->rng) * 1e6);
    switch (http) {
    case 200:
        res->ok++;
        fm_hist_add(res->latency, (uint64_t)(done - r->arrive_ns));
        break;
    case 429: res->throttled++; break;
    case 503: res->rejected++; break;
    case 504: res->timeouts++; break;
    default: res->failed++; break;
    }
    if (e->now > e->last_done)
        e->last_done = e->now;
    const sim_opts *o = e->o;
    bool rec = o->db && (o->record == SIM_RECORD_ALL ||
                         (o->record == SIM_RECORD_SAMPLE && r->seq % o->sample_every == 0));
    if (rec && !e->rc) {
        store_request sr = {
            .run = e->run_id,
            .id = (int64_t)r->seq,
            .function = f->spec->name,
            .scheduled_ns = T0 + r->arrive_ns,
            .sent_ns = T0 + r->arrive_ns,
            .first_byte_ns = http == 200 ? T0 + done : 0,
            .done_ns = T0 + done,
            .status = status_name(http),
            .http_code = http,
            .error = error,
            .cold = r->cold,
            .instance = r->instance,
            .init_ms = r->init_ms,
            .duration_ms = duration_ms,
            .billed_ms = billed_ms,
            .memory_mb = f->mem_key,
            .batch_size = (int)r->items,
            .batch_kind = r->items > 1 ? "client" : NULL,
        };
        e->rc = store_request_add(o->db, &sr, e->err);
    }
    r->next_free = e->free_req;
    e->free_req = (int)id;
    e->live_reqs--;
}

/* ---- instances ------------------------------------------------------------------------------ */

static void inst_record(engine *e, fnstate *f, inst *in, int64_t stopped, const char *why)
{
    if (!e->o->db || e->rc)
        return;
    store_instance si = {
        .run = e->run_id,
        .id = in->store_id,
        .function = f->spec->name,
        .memory_mb = f->spec->policy.fn.memory_mb > 0          ? f->spec->policy.fn.memory_mb
                     : f->spec->policy.inst.type_memory_mb > 0 ? f->spec->policy.inst.type_memory_mb
                                                               : f->mem_key,
        .provisioned = in->provisioned,
        .created_ns = T0 + in->created_ns,
        .ready_ns = in->ready_seen ? T0 + in->ready_ns : 0,
        .stopped_ns = stopped ? T0 + stopped : 0,
        .cold_path = in->provisioned ? "provisioned" : "sim",
        .stop_reason = why,
    };
    memcpy(si.phase_ms, in->phase_ms, sizeof si.phase_ms);
    e->rc = store_instance_put(e->o->db, &si, e->err);
}

/* Why: a lookup interpolates, so its result is cached per dispatch size; a direct-mapped cache
 * keeps memory fixed however large batch.max_size × items is (a table indexed by items would
 * need gigabytes for 4096 × 4096). The pointer is valid until the next call. */
static const sim_dist *service_dist(engine *e, fnstate *f, uint32_t items)
{
    if (f->spec->service)
        return f->spec->service; /* a trace's execution times: the same for any dispatch */
    if ((int)items > f->maxitems)
        items = (uint32_t)f->maxitems;
    int slot = (int)(items % SVC_CACHE);
    if (f->svc_items[slot] != (int)items) {
        int rc = sim_calib_service(e->o->calib, &f->spec->key, f->mem_key, (int)items,
                                   &f->svc[slot], e->err);
        if (rc) {
            e->rc = rc;
            return NULL;
        }
        f->svc_items[slot] = (int)items;
    }
    return &f->svc[slot];
}

static void handle(engine *e, uint32_t fi, const policy_event *ev);

static void do_start(engine *e, uint32_t fi, const policy_action *a)
{
    fnstate *f = &e->fns[fi];
    inst *in = &f->insts[policy_instance_slot(a->instance)];
    *in = (inst){.store_id = e->next_instance_id++,
                 .created_ns = e->now,
                 .provisioned = a->provisioned,
                 .live = true};
    double total = 0;
    for (int p = 0; p < FM_PHASE__COUNT; p++) {
        in->phase_ms[p] = sim_dist_sample(&f->cold.phase[p], &e->rng);
        total += in->phase_ms[p];
    }
    f->res->instances_started++;
    if (++f->live_insts > f->res->peak_instances)
        f->res->peak_instances = f->live_insts;
    if (e->deploying) { /* provisioned before the experiment: serving from its start */
        in->ready_ns = e->now;
        in->ready_seen = true;
        f->readies[f->nreadies++] = a->instance;
        return;
    }
    int j = job_create(e, fi, JOB_INIT, a->instance);
    if (j >= 0)
        job_start(e, j, total * 1e6);
}

static void do_dispatch(engine *e, uint32_t fi, const policy_action *a)
{
    fnstate *f = &e->fns[fi];
    inst *in = &f->insts[policy_instance_slot(a->instance)];
    const sim_dist *d = service_dist(e, f, a->items ? a->items : 1);
    if (!d)
        return;
    double w = sim_dist_sample(d, &e->rng) * 1e6;
    int j = job_create(e, fi, JOB_SERVICE, a->instance);
    if (j < 0)
        return;
    job *jb = &e->jobs[j];
    jb->n = a->n;
    jb->items = a->items;
    bool cold = a->reason == POLICY_REASON_COLD;
    double init_ms = 0;
    if (cold)
        for (int p = 0; p < FM_PHASE__COUNT; p++)
            init_ms += in->phase_ms[p];
    jb->init_ms = init_ms;
    jb->provisioned = in->provisioned;
    for (uint32_t i = 0; i < a->n; i++) {
        uint64_t id = a->requests[i];
        jb->reqs[i] = id;
        req *r = &e->reqs[id];
        r->dispatch_ns = e->now;
        r->dispatched = true;
        r->cold = cold;
        r->init_ms = cold ? init_ms : 0;
        r->instance = in->store_id;
    }
    f->res->dispatches++;
    if (cold)
        f->res->cold_starts++;
    if (in->busy++ == 0)
        in->busy_since = e->now;
    job_start(e, j, w);
    int64_t timeout = f->spec->policy.fn.timeout_ns;
    if (timeout > 0 && (e->o->host.kind == SIM_HOST_CORES || w > (double)timeout))
        sim_evheap_push(&e->evq, sat_add(e->now, timeout), EV_TIMEOUT, fi,
                        ((uint64_t)jb->gen << 32) | (uint32_t)j);
}

/* Why: an invocation is billed by the one billing function (cost_invocation_bill, the live
 * meter's and the analyzer's too) on its duration and INIT, whether it completed or timed out; the
 * result is shared by its requests. Without a catalogue nothing is billed here (0) and the
 * analyzer bills the recorded duration and INIT on the catalogue it is given. */
static double bill(engine *e, fnstate *f, const job *jb)
{
    if (!f->offer)
        return 0;
    cost_one c;
    cost_invocation_bill(f->offer, (double)(e->now - jb->start_ns) / 1e6, jb->init_ms, f->mem_key,
                         jb->provisioned, 1, &c);
    f->res->billed_ms_total += c.billed_ms;
    f->res->gb_s += c.gb_s;
    return c.billed_ms;
}

/* An instance leaves: its lifetime is counted and it is recorded with the reason. */
static void inst_gone(engine *e, fnstate *f, inst *in, const char *why)
{
    f->res->instance_s += (double)(e->now - in->created_ns) / 1e9;
    inst_record(e, f, in, e->now, why);
    in->live = false;
    f->live_insts--;
}

static void inst_idle_account(engine *e, fnstate *f, inst *in)
{
    if (--in->busy == 0)
        f->res->busy_s += (double)(e->now - in->busy_since) / 1e9;
}

/* Why: actions are carried out in order; STOPs are answered with STOPPED only after the whole
 * batch, because the answer reuses the action buffer being read. */
static void apply(engine *e, uint32_t fi)
{
    fnstate *f = &e->fns[fi];
    policy_actions *acts = &f->acts;
    for (uint32_t i = 0; i < acts->n && !e->rc; i++) {
        const policy_action *a = &acts->v[i];
        switch (a->type) {
        case POLICY_ACT_START: do_start(e, fi, a); break;
        case POLICY_ACT_DISPATCH: do_dispatch(e, fi, a); break;
        case POLICY_ACT_THROTTLE:
            req_finish(e, a->request, 429, policy_reason_name(a->reason), 0, 0);
            break;
        case POLICY_ACT_REJECT:
            req_finish(e, a->request, 503, policy_reason_name(a->reason), 0, 0);
            break;
        case POLICY_ACT_STOP: {
            inst_gone(e, f, &f->insts[policy_instance_slot(a->instance)],
                      policy_reason_name(a->reason));
            f->stops[f->nstops++] = a->instance;
            break;
        }
        default: break;
        }
    }
    int64_t wake = acts->wake_ns;
    f->wake_ns = wake;
    if (wake != INT64_MAX && wake < f->tick_pending) {
        sim_evheap_push(&e->evq, wake, EV_TICK, fi, 0);
        f->tick_pending = wake;
    }
    e->deploying = false; /* only the DEPLOY call's own starts were provisioned beforehand */
    while (f->nreadies > 0 && !e->rc) {
        policy_event rd = {.type = POLICY_EV_READY, .instance = f->readies[--f->nreadies]};
        handle(e, fi, &rd);
    }
    while (f->nstops > 0 && !e->rc) {
        policy_event st = {.type = POLICY_EV_STOPPED, .instance = f->stops[--f->nstops]};
        handle(e, fi, &st);
    }
}

/* Tells the pool members that another's start evicted their instances; why: those STOPs are
 * written in the member's own next call (policy.h, memory pools). */
static void drain_pools(engine *e)
{
    for (int p = 0; p < e->npools && !e->rc; p++) {
        policy_fn *pf;
        while (!e->rc && (pf = policy_pool_take_pending(e->pools[p])))
            handle(e, (uint32_t)(uintptr_t)policy_fn_user(pf),
                   &(policy_event){.type = POLICY_EV_TICK});
    }
}

static void handle(engine *e, uint32_t fi, const policy_event *ev)
{
    fnstate *f = &e->fns[fi];
    int rc = policy_fn_handle(f->pol, ev, e->now, &f->acts);
    if (rc) {
        e->rc = fm_err_set(e->err, rc, "simulation: policy refused event '%s' of function '%s'",
                           policy_event_name(ev->type), f->spec->name);
        return;
    }
    e->events++;
    apply(e, fi);
    if (e->npools)
        drain_pools(e);
}

static void job_done(engine *e, int j)
{
    job *jb = &e->jobs[j];
    uint32_t fi = jb->fn;
    fnstate *f = &e->fns[fi];
    inst *in = &f->insts[policy_instance_slot(jb->inst)];
    ps_remove(e, (size_t)j);
    if (jb->kind == JOB_INIT) {
        in->ready_ns = e->now;
        in->ready_seen = true;
        job_free(e, j);
        handle(e, fi, &(policy_event){.type = POLICY_EV_READY, .instance = jb->inst});
        return;
    }
    double dur_ms = (double)(e->now - jb->start_ns) / 1e6;
    double billed_ms = bill(e, f, jb);
    inst_idle_account(e, f, in);
    policy_instance_id iid = jb->inst;
    for (uint32_t i = 0; i < jb->n; i++)
        req_finish(e, jb->reqs[i], 200, NULL, dur_ms, billed_ms / jb->n);
    job_free(e, j);
    handle(e, fi, &(policy_event){.type = POLICY_EV_DONE, .instance = iid});
}

static void job_timeout(engine *e, uint32_t fi, uint64_t a)
{
    int j = (int)(uint32_t)a;
    if (j >= e->njobs || e->jobs[j].gen != (uint32_t)(a >> 32) || e->jobs[j].pos == SIZE_MAX)
        return; /* finished before its deadline */
    job *jb = &e->jobs[j];
    fnstate *f = &e->fns[fi];
    inst *in = &f->insts[policy_instance_slot(jb->inst)];
    ps_remove(e, (size_t)j);
    char msg[80];
    snprintf(msg, sizeof msg, "Task timed out after %.2f seconds",
             (double)f->spec->policy.fn.timeout_ns / 1e9);
    double billed_ms = bill(e, f, jb);
    inst_idle_account(e, f, in);
    for (uint32_t i = 0; i < jb->n; i++)
        req_finish(e, jb->reqs[i], 504, msg, (double)(e->now - jb->start_ns) / 1e6,
                   billed_ms / jb->n);
    policy_instance_id iid = jb->inst;
    job_free(e, j);
    inst_gone(e, f, in, "timeout"); /* killed and replaced, as the live platform does */
    handle(e, fi, &(policy_event){.type = POLICY_EV_STOPPED, .instance = iid});
}

/* Why: a client gives up on a request that waited too long for a worker, as SageMaker's 60 s
 * invocation limit and any HTTP client's timeout do; the policy drops it from its queue. */
static void deadline(engine *e, uint32_t fi, uint64_t a)
{
    uint32_t r = (uint32_t)a;
    if ((int)r >= e->nreqs)
        return;
    req *q = &e->reqs[r];
    if ((uint32_t)q->seq != (uint32_t)(a >> 32) || q->dispatched || q->next_free != -2)
        return; /* served, being served, or the slot was reused */
    fnstate *f = &e->fns[fi];
    int rc = policy_fn_handle(f->pol, &(policy_event){.type = POLICY_EV_CANCEL, .request = r},
                              e->now, &f->acts);
    if (rc == FM_ENOTFOUND)
        return; /* not queued: bound to a starting instance, it will be served */
    if (rc) {
        e->rc = fm_err_set(e->err, rc, "simulation: policy refused a cancel");
        return;
    }
    e->events++;
    req_finish(e, r, 504, "gave up waiting in the queue", 0, 0);
    apply(e, fi);
    if (e->npools)
        drain_pools(e);
}

/* ---- arrivals and the time series ---------------------------------------------------------- */

static void next_arrival(engine *e, uint32_t fi)
{
    fnstate *f = &e->fns[fi];
    int64_t t;
    bool more;
    if (f->spec->schedule_ns) {
        more = f->sched_i < f->spec->schedule_n;
        if (more)
            t = f->spec->schedule_ns[f->sched_i++];
    } else {
        more = load_arrival_next(f->arr, &t);
    }
    if (!more) {
        if (!f->arrivals_done)
            e->arrivals_open--;
        f->arrivals_done = true;
        return;
    }
    sim_evheap_push(&e->evq, t < e->now ? e->now : t, EV_ARRIVE, fi, 0);
}

static void arrive(engine *e, uint32_t fi)
{
    fnstate *f = &e->fns[fi];
    int r = req_new(e);
    if (r < 0) {
        e->rc = fm_err_set(e->err, FM_ENOMEM, "simulation: out of memory");
        return;
    }
    uint32_t items = f->spec->items > 0 ? (uint32_t)f->spec->items : 1;
    e->reqs[r] = (req){.arrive_ns = e->now,
                       .seq = e->arrival_seq++,
                       .fn = fi,
                       .items = items,
                       .instance = -1,
                       .next_free = -2 /* live */};
    e->live_reqs++;
    f->res->arrivals++;
    f->arrivals_step++;
    if (e->o->client_timeout_ns > 0)
        sim_evheap_push(&e->evq, sat_add(e->now, e->o->client_timeout_ns), EV_DEADLINE, fi,
                        ((uint64_t)e->reqs[r].seq << 32) | (uint32_t)r);
    handle(e, fi,
           &(policy_event){.type = POLICY_EV_ARRIVE, .request = (uint64_t)r, .items = items});
    if (!e->rc)
        next_arrival(e, fi);
}

static void series_point(engine *e, fnstate *f, int64_t t, const char *metric, double v)
{
    store_point p = {
        .run = e->run_id, .function = f->spec->name, .t_ns = T0 + t, .metric = metric, .value = v};
    if (!e->rc)
        e->rc = store_point_add(e->o->db, &p, e->err);
}

/* steps of an unchanged state recorded one by one before a quiet stretch is skipped */
#define SERIES_GAP 10000

/* Why: instances by state at regular steps is what the report draws over time; sampling on the
 * step boundary (before the event that crosses it) gives the state that held during the step. */
static void series_until(engine *e, int64_t now)
{
    while (e->o->db && e->series_next <= now && !e->rc) {
        for (int i = 0; i < e->nfn; i++) {
            fnstate *f = &e->fns[i];
            policy_stats st;
            policy_fn_stats(f->pol, &st);
            int64_t t = e->series_next;
            for (int s = 0; s < POLICY_INST__COUNT; s++) {
                char m[48];
                snprintf(m, sizeof m, "instances_%s", policy_inst_state_name((policy_inst_state)s));
                series_point(e, f, t, m, st.instances[s]);
            }
            series_point(e, f, t, "queue_depth", st.queue_depth);
            series_point(e, f, t, "arrivals", (double)f->arrivals_step);
            f->arrivals_step = 0;
        }
        e->series_next += e->series_step;
        /* a long quiet stretch (no event before `now`): the state held throughout, so the points
         * at its two ends stand for every step between (a run may span years of virtual time) */
        if (e->series_next <= now && (now - e->series_next) / e->series_step > SERIES_GAP)
            e->series_next += (now - e->series_next) / e->series_step * e->series_step;
    }
}

/* ---- the run ------------------------------------------------------------------------------- */

static int setup_fn(engine *e, int i, const sim_function *s, fm_err *err)
{
    fnstate *f = &e->fns[i];
    f->spec = s;
    f->wake_ns = f->tick_pending = INT64_MAX;
    int rc = policy_fn_new(&s->policy, NULL, &f->pol, err);
    if (rc)
        return fm_err_prefix(err, "function '%s': ", s->name);
    policy_fn_set_user(f->pol, (void *)(uintptr_t)i);
    if ((rc = policy_fn_join_host(f->pol, e->host, err)))
        return rc;
    if (s->policy.inst.keep_alive_policy == POLICY_KEEP_ALIVE_GREEDY_DUAL) {
        /* the functions of one host share its memory: one pool per budget */
        int p = 0;
        while (p < e->npools && e->pool_mb[p] != s->policy.greedy_dual.budget_mb)
            p++;
        if (p == e->npools) {
            policy_pool **np = realloc(e->pools, (size_t)(p + 1) * sizeof *np);
            if (np)
                e->pools = np;
            int32_t *nb = np ? realloc(e->pool_mb, (size_t)(p + 1) * sizeof *nb) : NULL;
            if (!nb)
                return fm_err_set(err, FM_ENOMEM, "out of memory");
            e->pool_mb = nb;
            e->pool_mb[p] = s->policy.greedy_dual.budget_mb;
            if ((rc = policy_pool_new(s->policy.greedy_dual.budget_mb, &e->pools[p], err)))
                return rc;
            e->npools++;
        }
        if ((rc = policy_fn_join_pool(f->pol, e->pools[p], err)))
            return fm_err_prefix(err, "function '%s': ", s->name);
    }
    if ((rc = policy_actions_init(&f->acts, f->pol)))
        return fm_err_set(err, rc, "function '%s': out of memory", s->name);
    f->ninst_max = s->policy.inst.max;
    f->insts = calloc((size_t)f->ninst_max, sizeof *f->insts);
    f->stops = calloc((size_t)f->ninst_max + 1, sizeof *f->stops);
    f->readies = calloc((size_t)f->ninst_max + 1, sizeof *f->readies);
    f->maxitems = s->policy.batch.max_size * (s->items > 0 ? s->items : 1);
    if (f->maxitems < 1)
        f->maxitems = 1;
    if (!f->insts || !f->stops || !f->readies)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    f->demand = s->threads > 0 ? s->threads : 1;
    /* a function instance gets the CPU share of its memory size (Lambda, GCF); a managed or
     * server worker has a whole core per thread, which calibrations record as 1769 MB */
    bool per_memory =
        s->policy.profile == POLICY_PROFILE_LAMBDA || s->policy.profile == POLICY_PROFILE_GCF;
    f->mem_key = per_memory && s->policy.fn.memory_mb > 0 ? s->policy.fn.memory_mb
                                                          : (int)(1769 * f->demand + 0.5);
    double share = sim_cpu_share(f->mem_key);
    if (per_memory && share < f->demand)
        f->demand = share;
    f->overhead = (sim_dist){.kind = SIM_DIST_CONST};
    if (e->o->prices &&
        (s->policy.profile == POLICY_PROFILE_LAMBDA || s->policy.profile == POLICY_PROFILE_GCF)) {
        cost_profile cp = s->policy.profile == POLICY_PROFILE_GCF ? COST_GCF : COST_LAMBDA;
        const char *snap = e->o->snapshot ? e->o->snapshot : "current";
        f->offer = cost_offer_default(e->o->prices, snap, cp, NULL, NULL);
        if (!f->offer)
            return fm_err_set(err, FM_ENOTFOUND,
                              "function '%s': no default %s entry in price snapshot '%s'", s->name,
                              cost_profile_name(cp), snap);
    }
    if (e->o->calib)
        sim_calib_overhead(e->o->calib, &s->key, &f->overhead); /* none: 0 */
    if (s->cold_const) {
        memset(&f->cold, 0, sizeof f->cold);
        for (int p = 0; p < FM_PHASE__COUNT; p++)
            f->cold.phase[p] = (sim_dist){.kind = SIM_DIST_CONST};
        f->cold.phase[FM_PHASE_LOAD].value = s->cold_ms;
    } else if (!e->o->calib) {
        return fm_err_set(err, FM_EINVAL, "function '%s': no calibration for its cold starts",
                          s->name);
    } else if ((rc = sim_calib_cold(e->o->calib, &s->key, f->mem_key, &f->cold, err))) {
        return fm_err_prefix(err, "function '%s': ", s->name);
    }
    if (!s->service && !e->o->calib)
        return fm_err_set(err, FM_EINVAL, "function '%s': no calibration for its service times",
                          s->name);
    const sim_dist *d = service_dist(e, f, 1);
    if (!d)
        return fm_err_prefix(err, "function '%s': ", s->name);
    if (!s->schedule_ns) {
        load_spec ws = s->workload;
        ws.seed = s->workload.seed ? s->workload.seed : fm_rng_u64(&e->rng);
        if ((rc = load_arrival_new(&ws, &f->arr, err)))
            return fm_err_prefix(err, "function '%s': ", s->name);
    }
    if (s->policy.batch.max_size > e->maxbatch)
        e->maxbatch = s->policy.batch.max_size;
    return 0;
}

int sim_run(const sim_function *fns, int nfn, const sim_opts *o, sim_result *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    if (nfn < 1)
        return fm_err_set(err, FM_EINVAL, "simulation needs at least one function");
    if (o->host.kind == SIM_HOST_CORES && !(o->host.cores > 0))
        return fm_err_set(err, FM_EINVAL, "simulation: host cores must be > 0");
    if (o->record == SIM_RECORD_SAMPLE && o->sample_every < 1)
        return fm_err_set(err, FM_EINVAL, "simulation: sample_every must be >= 1");
    int64_t t0 = fm_now_ns();
    engine e = {.o = o,
                .nfn = nfn,
                .G = 1,
                .free_job = -1,
                .free_req = -1,
                .maxbatch = 1,
                .err = err,
                .series_step = o->series_step_ns > 0 ? o->series_step_ns : 1000000000};
    e.arrivals_open = nfn;
    fm_rng_seed(&e.rng, o->seed);
    out->nfn = nfn;
    out->fn = calloc((size_t)nfn, sizeof *out->fn);
    e.fns = calloc((size_t)nfn, sizeof *e.fns);
    int rc = 0;
    if (!out->fn || !e.fns) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    /* the functions of a `cores: N` host also share its memory, admitted by the policy as live */
    if (o->host.kind == SIM_HOST_CORES && o->host.capacity.memory_mb > 0 &&
        (rc = policy_host_new(policy_host_capacity_mb(&o->host.capacity, 0), &e.host, err)))
        goto done;
    for (int i = 0; i < nfn && !rc; i++) {
        out->fn[i].latency = fm_hist_new();
        e.fns[i].res = &out->fn[i];
        if (!out->fn[i].latency) {
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
            break;
        }
        rc = setup_fn(&e, i, &fns[i], err);
    }
    if (rc)
        goto done;
    if (o->db) {
        store_run run = {.name = o->run_name ? o->run_name : "sim",
                         .mode = "sim",
                         .profile = nfn == 1 ? policy_profile_name(fns[0].policy.profile) : "mixed",
                         .config = o->config_json,
                         .seed = o->seed,
                         .started_ns = 1,
                         .status = "running"};
        if ((rc = store_run_begin(o->db, &run, err)))
            goto done;
        e.run_id = out->run_id = run.id;
    }
    for (uint32_t i = 0; i < (uint32_t)nfn && !e.rc; i++) {
        e.deploying = true;
        handle(&e, i,
               &(policy_event){.type = POLICY_EV_DEPLOY, .flags = POLICY_DEPLOY_PREPROVISIONED});
        e.deploying = false;
        next_arrival(&e, i);
    }
    while (!e.rc) {
        if (o->stop && *o->stop)
            break;
        if (e.arrivals_open == 0 && e.live_reqs == 0)
            break;
        int64_t tps = ps_next_ns(&e);
        int64_t tev = e.evq.n ? e.evq.v[0].t : INT64_MAX;
        if (tps == INT64_MAX && tev == INT64_MAX)
            break;
        if (tps <= tev) {
            e.now = tps > e.now ? tps : e.now;
            series_until(&e, e.now);
            ps_advance(&e, e.now);
            job_done(&e, (int)e.ps[0]);
            continue;
        }
        sim_ev ev = sim_evheap_pop(&e.evq);
        e.now = ev.t > e.now ? ev.t : e.now;
        series_until(&e, e.now);
        ps_advance(&e, e.now);
        switch (ev.kind) {
        case EV_ARRIVE: arrive(&e, ev.fn); break;
        case EV_TIMEOUT: job_timeout(&e, ev.fn, ev.a); break;
        case EV_DEADLINE: deadline(&e, ev.fn, ev.a); break;
        case EV_TICK: {
            fnstate *f = &e.fns[ev.fn];
            if (ev.t == f->tick_pending)
                f->tick_pending = INT64_MAX;
            if (ev.t >= f->wake_ns)
                handle(&e, ev.fn, &(policy_event){.type = POLICY_EV_TICK});
            else if (f->wake_ns != INT64_MAX && f->wake_ns < f->tick_pending) {
                sim_evheap_push(&e.evq, f->wake_ns, EV_TICK, ev.fn, 0);
                f->tick_pending = f->wake_ns;
            }
            break;
        }
        }
    }
    rc = e.rc;
    /* the end of the run: the workload's duration bound or the last completion */
    int64_t end = e.now;
    for (int i = 0; i < nfn; i++)
        if (fns[i].workload.duration_ns > end && !fns[i].schedule_ns)
            end = fns[i].workload.duration_ns;
    if (!rc) {
        e.now = end;
        series_until(&e, end);
        for (uint32_t i = 0; i < (uint32_t)nfn && !e.rc; i++) {
            fnstate *f = &e.fns[i];
            for (int s = 0; s < f->ninst_max; s++) {
                inst *in = &f->insts[s];
                if (in->live)
                    inst_gone(&e, f, in, "shutdown");
            }
            int mb = fns[i].policy.fn.memory_mb > 0 ? fns[i].policy.fn.memory_mb : f->mem_key;
            f->res->wasted_gb_s = (f->res->instance_s - f->res->busy_s) * mb / 1024.0;
        }
        rc = e.rc;
    }
    out->events = e.events;
    out->end_ns = end;
    if (o->db && e.run_id) {
        int rc2 = store_run_end(o->db, e.run_id, T0 + end,
                                rc                      ? "failed"
                                : (o->stop && *o->stop) ? "interrupted"
                                                        : "done",
                                rc ? NULL : err);
        if (!rc)
            rc = rc2;
        if (!rc)
            rc = store_flush(o->db, err);
    }
done:
    for (int i = 0; e.fns && i < nfn; i++) {
        fnstate *f = &e.fns[i];
        policy_actions_release(&f->acts);
        policy_fn_free(f->pol);
        load_arrival_free(f->arr);
        free(f->insts);
        free(f->stops);
        free(f->readies);
    }
    for (int p = 0; p < e.npools; p++)
        policy_pool_free(e.pools[p]);
    policy_host_free(e.host);
    free(e.pools);
    free(e.pool_mb);
    free(e.fns);
    free(e.jobs);
    free(e.idpool);
    free(e.ps);
    free(e.reqs);
    free(e.evq.v);
    out->wall_s = (double)(fm_now_ns() - t0) / 1e9;
    return rc;
}

void sim_result_release(sim_result *r)
{
    for (int i = 0; r->fn && i < r->nfn; i++)
        fm_hist_free(r->fn[i].latency);
    free(r->fn);
    r->fn = NULL;
    r->nfn = 0;
}

/* Why: the ATC'20 comparison is cold starts against wasted memory; the 75th-percentile function
 * (the paper's "third quartile" application) shows what a typical rarely-invoked function sees,
 * which the all-invocations figure, dominated by a few busy functions, hides. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sim_keepalive_summarize(const sim_result *r, sim_keepalive_summary *out)
{
    memset(out, 0, sizeof *out);
    double *pct = malloc((size_t)(r->nfn > 0 ? r->nfn : 1) * sizeof *pct);
    int n = 0;
    for (int i = 0; i < r->nfn; i++) {
        const sim_fn_result *f = &r->fn[i];
        uint64_t inv = f->dispatches;
        out->invocations += inv;
        out->cold_starts += f->cold_starts;
        out->wasted_gb_s += f->wasted_gb_s;
        out->instances_started += f->instances_started;
        if (inv > 0 && pct)
            pct[n++] = 100.0 * (double)f->cold_starts / (double)inv;
    }
    if (out->invocations > 0)
        out->cold_pct = 100.0 * (double)out->cold_starts / (double)out->invocations;
    if (n > 0) {
        qsort(pct, (size_t)n, sizeof *pct, cmp_double);
        /* nearest rank: the smallest value with at least 75 % of functions at or below it */
        int k = (int)ceil(0.75 * n) - 1;
        out->cold_pct_p75_fn = pct[k < 0 ? 0 : k];
    }
    free(pct);
}
