/* Functions and their one conversation with the policy: every event (arrival, ready, done,
 * stopped, tick) goes to policy_fn_handle and the platform carries out the actions it returns
 * (START, DISPATCH, THROTTLE, REJECT, STOP) in do_action. Nothing here decides; it executes. A
 * function also owns the Lambda asynchronous queue of its Event invocations and their retries. */
#include "inst.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fn/fn.h"

/* ---- functions --------------------------------------------------------------------------------
 */

plat_fn *plat_fn_find(platform *p, const char *name)
{
    plat_fn *fn;
    TAILQ_FOREACH(fn, &p->fns, link)
    if (!fn->retired && strcmp(fn->spec.name, name) == 0)
        return fn;
    return NULL;
}

/* The policy's own timer (keep-alive expiry, rate refill) fired: a TICK. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    plat_fn *fn = arg;
    fn->wake_ns = INT64_MAX;
    policy_event ev = {.type = POLICY_EV_TICK};
    plat_feed(fn, &ev);
}

/* Why: a throttled Event invocation waits for capacity; something finishing usually frees it, and
 * this timer retries when nothing does. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    plat_fn *fn = arg;
    fn->events_blocked = false;
    plat_pump_events(fn->p);
}

/* Frees a function generation; its queued Events are recorded as dropped. */
void plat_fn_free(plat_fn *fn)
{
    plat_zygote_stop(fn);
    plat_meter_costs(fn);
    plat_inv *inv;
    while ((inv = TAILQ_FIRST(&fn->events))) {
        TAILQ_REMOVE(&fn->events, inv, q);
        plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_DROPPED,
                                          .status = "dropped",
                                          .error = "the function was removed"});
    }
    while ((inv = TAILQ_FIRST(&fn->retrying))) {
        TAILQ_REMOVE(&fn->retrying, inv, q);
        plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_DROPPED});
    }
    if (fn->retry)
        event_free(fn->retry);
    if (fn->wake)
        event_free(fn->wake);
    policy_actions_release(&fn->acts);
    policy_fn_free(fn->pol);
    free(fn->slots);
    free(fn->last_start_error);
    free(fn->metadata);
    platform_spec_release(&fn->spec);
    free(fn);
}

/* Frees retired functions whose instances are all gone (never mid-feed). */
void plat_sweep(platform *p)
{
    if (p->feeding || p->sweep_hold)
        return; /* the feed loop may still hold events for it; it sweeps when done */
    plat_fn *f, *nx;
    for (f = TAILQ_FIRST(&p->fns); f; f = nx) {
        nx = TAILQ_NEXT(f, link);
        if (f->retired && TAILQ_EMPTY(&f->insts)) {
            TAILQ_REMOVE(&p->fns, f, link);
            plat_fn_free(f);
        }
    }
}

/* Why: the meter bills through cost on a catalogue entry, as the simulator and the analyzer do
 * (lambda: aws-lambda-x86; gcf: gcf-gen1; managed/server: the entry of the instance type). A
 * per-invocation function cannot run unbilled; an instance type the catalogue lacks is metered
 * by its unrounded lifetime (the analyzer then reports it as unpriced). */
static int pick_offer(platform *p, plat_fn *fn, const policy_config *cfg, fm_err *err)
{
    cost_profile cp;
    if (cost_profile_parse(policy_profile_name(cfg->profile), &cp))
        return fm_err_set(err, FM_EINVAL, "%s: profile '%s' has no billing rule", fn->spec.name,
                          policy_profile_name(cfg->profile));
    fn->offer = cost_offer_default(p->prices, p->price_snapshot, cp, NULL,
                                   cfg->inst.type[0] ? cfg->inst.type : NULL);
    if (!fn->offer && (cp == COST_LAMBDA || cp == COST_GCF))
        return fm_err_set(err, FM_ENOTFOUND,
                          "%s: no default %s entry in price snapshot '%s' of '%s'", fn->spec.name,
                          cost_profile_name(cp), p->price_snapshot, cost_catalog_path(p->prices));
    return 0;
}

/* Why: the policy's numbers come from the platforms data file (with their sources); the spec and
 * platform.yaml override only what a user sets. */
static int make_policy(platform *p, plat_fn *fn, fm_err *err)
{
    const platform_spec *s = &fn->spec;
    policy_profile prof;
    if (policy_profile_parse(s->profile, &prof))
        return fm_err_set(err, FM_EINVAL, "unknown profile '%s'", s->profile);
    policy_config cfg;
    int rc = policy_config_defaults(&cfg, prof, p->platforms_path[0] ? p->platforms_path : NULL,
                                    s->platform[0] ? s->platform : NULL, err);
    if (rc)
        return rc;
    bool lambda_like = prof == POLICY_PROFILE_LAMBDA || prof == POLICY_PROFILE_GCF;
    cfg.fn.memory_mb = s->memory_mb;
    cfg.fn.timeout_ns = (int64_t)(s->timeout_s * 1e9);
    if (!lambda_like) {
        /* managed/server: the data file's instance type, workers, fleet and queue stand. */
        rc = plat_profile_configure(p, fn, &cfg, err);
        goto finish;
    }
    cfg.inst.provisioned = s->provisioned_concurrency;
    double ka = s->keep_alive_s >= 0 ? s->keep_alive_s : p->cfg.keep_alive_s;
    cfg.inst.keep_alive_ns = (int64_t)(ka * 1e9);
    cfg.inst.workers = 1;
    cfg.limit.account = p->cfg.account_concurrency;
    cfg.limit.reserved = s->reserved_concurrency > 0 ? s->reserved_concurrency : 0;
    int32_t cap = cfg.limit.reserved > 0 ? cfg.limit.reserved : cfg.limit.account;
    if (cfg.inst.max <= 0 || cfg.inst.max > cap)
        cfg.inst.max = cap;
    if (cfg.inst.max < cfg.inst.provisioned)
        cfg.inst.max = cfg.inst.provisioned;
    if (p->cfg.scale_per_10s > 0) {
        cfg.limit.scaling = POLICY_SCALING_LAMBDA_2023;
        cfg.limit.rate =
            (policy_rate){p->cfg.scale_per_10s, p->cfg.scale_per_10s, 10000000000LL, true};
    }
    cfg.queue.capacity = p->cfg.event_queue_max;
    rc = plat_profile_configure(p, fn, &cfg, err);
finish:
    if (rc)
        return rc;
    if ((rc = policy_config_validate(&cfg, err)) || (rc = pick_offer(p, fn, &cfg, err)))
        return rc;
    if ((rc = policy_fn_new(&cfg, p->account, &fn->pol, err)) ||
        (rc = policy_fn_join_host(fn->pol, p->host, err)))
        return rc;
    if ((rc = policy_actions_init(&fn->acts, fn->pol)))
        return fm_err_set(err, rc, "out of memory");
    fn->nslots = (uint32_t)cfg.inst.max;
    fn->slots = calloc(fn->nslots, sizeof *fn->slots);
    return fn->slots ? 0 : fm_err_set(err, FM_ENOMEM, "out of memory");
}

/* Update or delete: the policy drains the old generation, then it is swept. */
void plat_fn_retire(plat_fn *fn)
{
    if (fn->retired)
        return;
    platform *p = fn->p;
    fn->retired = true;
    policy_event ev = {.type = POLICY_EV_SHUTDOWN};
    plat_feed(fn, &ev);
    plat_sweep(p);
}

/* Deploys a new generation; an existing one of that name is retired. */
int platform_deploy(platform *p, const platform_spec *spec, bool *created, fm_err *err)
{
    if (p->draining)
        return fm_err_set(err, FM_ESTATE, "the platform is shutting down");
    plat_fn *fn = calloc(1, sizeof *fn);
    if (!fn)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    fn->p = p;
    TAILQ_INIT(&fn->insts);
    TAILQ_INIT(&fn->events);
    TAILQ_INIT(&fn->retrying);
    fn->wake_ns = INT64_MAX;
    /* A deep copy through the JSON form: one code path, and it re-validates. */
    char *json = platform_spec_to_json(spec);
    int rc = json ? platform_spec_parse_json(json, strlen(json), &fn->spec, err)
                  : fm_err_set(err, FM_ENOMEM, "out of memory");
    free(json);
    if (!rc)
        rc = plat_sandbox_check_spec(&p->sb, &fn->spec, err); /* bootstrap in an allowed dir */
    if (!rc)
        rc = make_policy(p, fn, err);
    if (!rc && fn->spec.runtime == PLATFORM_RUNTIME_IMAGE)
        rc = plat_image_prepare(fn, err); /* podman and the image, before any instance */
    if (!rc && (!(fn->wake = evtimer_new(p->base, on_wake, fn)) ||
                !(fn->retry = evtimer_new(p->base, on_retry, fn))))
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (rc) {
        plat_fn_free(fn);
        return rc;
    }
    snprintf(fn->arn, sizeof fn->arn, "arn:aws:lambda:%s:000000000000:function:%s", p->cfg.region,
             fn->spec.name);
    fn->deployed_ns = fm_now_ns();
    plat_zygote_start(fn); /* cold_start: zygote only; before DEPLOY starts any instance */
    plat_fn *old = plat_fn_find(p, spec->name);
    *created = old == NULL;
    if (old) {
        /* Counters survive an update: Prometheus counters must not go backwards. */
        fn->m = old->m;
        memset(&old->m, 0, sizeof old->m);
        plat_fn_retire(old);
    }
    TAILQ_INSERT_TAIL(&p->fns, fn, link);
    FM_INFO("platform", "deployed function '%s' (%s, %d MB, timeout %.2f s)", fn->spec.name,
            platform_runtime_name(fn->spec.runtime), fn->spec.memory_mb, fn->spec.timeout_s);
    /* A deploy creates the endpoint or fleet: its first instances are what exists before any
     * traffic, so they serve once their real cold start is done; the profile's provisioning delay
     * models later scale-out (as the simulator does, docs/simulator.md). */
    policy_event ev = {.type = POLICY_EV_DEPLOY, .flags = POLICY_DEPLOY_PREPROVISIONED};
    plat_feed(fn, &ev);
    return 0;
}

/* ---- carrying out actions ---------------------------------------------------------------------
 */

static plat_inst *slot_inst(plat_fn *fn, policy_instance_id id)
{
    plat_inst *in = fn->slots[policy_instance_slot(id) % fn->nslots];
    return in && in->pid_policy == id ? in : NULL;
}

/* Lambda's 429 reasons (botocore service-2.json, cloud-platforms.md section 2). */
static const char *throttle_reason(policy_reason r)
{
    switch (r) {
    case POLICY_REASON_ACCOUNT: return "ConcurrentInvocationLimitExceeded";
    case POLICY_REASON_RATE: return "FunctionInvocationRateLimitExceeded";
    case POLICY_REASON_HOST_CAPACITY: return "HostCapacityExceeded"; /* faasml's own */
    default: return "ReservedFunctionConcurrentInvocationLimitExceeded";
    }
}

/* Carries out one policy action; this switch is the platform's whole behaviour. */
static void do_action(plat_fn *fn, const policy_action *a)
{
    platform *p = fn->p;
    fm_err err = {0};
    switch (a->type) {
    case POLICY_ACT_START:
        if (plat_inst_start(fn, a->instance, a->provisioned, &err)) {
            FM_ERROR("platform", "cannot start an instance of '%s': %s", fn->spec.name, err.msg);
            free(fn->last_start_error);
            char q[600];
            fm_json_quote(q, sizeof q, err.msg);
            size_t n = strlen(q) + 64;
            if ((fn->last_start_error = malloc(n)))
                snprintf(fn->last_start_error, n,
                         "{\"errorType\":\"Runtime.Unknown\",\"errorMessage\":%s}", q);
            policy_event ev = {.type = POLICY_EV_START_FAILED, .instance = a->instance};
            plat_feed(fn, &ev);
        }
        break;
    case POLICY_ACT_DISPATCH: {
        plat_inst *in = slot_inst(fn, a->instance);
        if (fn->batching && a->n > 1) {
            plat_batch_dispatch(fn, in, a); /* one invocation for all (batch.c) */
            break;
        }
        for (uint32_t i = 0; i < a->n; i++) {
            plat_inv *inv = plat_inv_hash_take(p, a->requests[i]);
            if (!inv)
                continue;
            if (!in || in->state == PLAT_INST_STOPPING || i > 0) {
                plat_inv_refuse(inv, 500, "ServiceException", NULL,
                                "the instance chosen for this request is gone");
                continue;
            }
            if (inv->kind == PLAT_INV_EVENT)
                plat_inv_arm_timeout(inv);
            plat_inst_dispatch(in, inv, a->reason == POLICY_REASON_COLD);
            if (inv->cold)
                fn->m.cold_starts++;
        }
        break;
    }
    case POLICY_ACT_THROTTLE: {
        plat_inv *inv = plat_inv_hash_take(p, a->request);
        if (inv && inv->kind == PLAT_INV_EVENT && !fn->retired) {
            /* Lambda's async queue keeps a throttled event and tries again later. */
            TAILQ_INSERT_HEAD(&fn->events, inv, q);
            fn->nevents++;
            fn->events_blocked = true;
            struct timeval tv = {0, 200000};
            evtimer_add(fn->retry, &tv);
        } else if (inv) {
            fn->m.throttles[a->reason]++;
            plat_inv_refuse(inv, 429, "TooManyRequestsException", throttle_reason(a->reason),
                            "Rate Exceeded.");
        }
        break;
    }
    case POLICY_ACT_REJECT: {
        plat_inv *inv = plat_inv_hash_take(p, a->request);
        if (!inv)
            break;
        if (a->reason == POLICY_REASON_START_FAILED) {
            const char *body = fn->last_start_error
                                   ? fn->last_start_error
                                   : "{\"errorType\":\"Runtime.Unknown\",\"errorMessage\":"
                                     "\"the instance failed to start\"}";
            /* Lambda answers a failed init like a function error: 200 + Unhandled. */
            plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_INIT_FAILED,
                                              .status = "error",
                                              .error = "init_failed",
                                              .fn_error = "Unhandled",
                                              .body = body,
                                              .len = strlen(body)});
        } else {
            fn->m.rejects++;
            /* lambda/gcf: a full async queue is a throttle; a managed endpoint or a server's
             * bounded FIFO answers 503 (profile.c). */
            bool throttle = a->reason == POLICY_REASON_QUEUE_FULL && !fn->fleet;
            plat_inv_refuse(inv, throttle ? 429 : 503,
                            throttle ? "TooManyRequestsException" : "ServiceException",
                            a->reason == POLICY_REASON_QUEUE_FULL ? "QueueFull" : NULL,
                            a->reason == POLICY_REASON_SHUTDOWN ? "the function is shutting down"
                                                                : "the request queue is full");
        }
        break;
    }
    case POLICY_ACT_STOP: {
        plat_inst *in = slot_inst(fn, a->instance);
        if (in) {
            in->stop_asked = true;
            plat_inst_kill(in, policy_reason_name(a->reason));
        }
        break;
    }
    default: break;
    }
}

/* Keeps one timer per function at the policy's requested wake time. */
static void arm_wake(plat_fn *fn, int64_t wake_ns)
{
    if (wake_ns == INT64_MAX || wake_ns == fn->wake_ns)
        return;
    fn->wake_ns = wake_ns;
    int64_t d = wake_ns - fm_now_ns();
    if (d < 0)
        d = 0;
    struct timeval tv = {(time_t)(d / 1000000000), (suseconds_t)((d % 1000000000) / 1000 + 1)};
    evtimer_add(fn->wake, &tv);
}

/* One event through the policy, then its actions. */
static void run_one(plat_fn *fn, const policy_event *ev)
{
    if (ev->type == POLICY_EV_DONE || ev->type == POLICY_EV_STOPPED ||
        ev->type == POLICY_EV_READY || ev->type == POLICY_EV_START_FAILED)
        fn->events_blocked = false; /* capacity may have freed: queued events try again */
    int rc = policy_fn_handle(fn->pol, ev, fm_now_ns(), &fn->acts);
    if (rc) {
        FM_WARN("platform", "policy refused event '%s' of '%s': %s", policy_event_name(ev->type),
                fn->spec.name, fm_strerror(rc));
        if (ev->type == POLICY_EV_ARRIVE) {
            plat_inv *inv = plat_inv_hash_take(fn->p, ev->request);
            if (inv)
                plat_inv_refuse(inv, 500, "ServiceException", NULL, "the request was refused");
        }
        return;
    }
    for (uint32_t i = 0; i < fn->acts.n; i++)
        do_action(fn, &fn->acts.v[i]);
    arm_wake(fn, fn->acts.wake_ns);
}

/* Queues an event for the policy and runs the queue unless already running it. */
void plat_feed(plat_fn *fn, const policy_event *ev)
{
    platform *p = fn->p;
    if (p->evq_n == p->evq_cap) {
        size_t ncap = p->evq_cap ? p->evq_cap * 2 : 64;
        struct pending_ev *nq = realloc(p->evq, ncap * sizeof *nq);
        if (!nq) {
            FM_ERROR("platform", "out of memory queueing a policy event");
            return;
        }
        p->evq = nq;
        p->evq_cap = ncap;
    }
    p->evq[p->evq_n++] = (struct pending_ev){fn, *ev};
    if (p->feeding)
        return;
    /* Actions may raise new events (a failed start); they queue behind and run in order, so
     * the policy never sees a call nested inside another. */
    p->feeding = true;
    for (size_t i = 0; i < p->evq_n; i++) {
        struct pending_ev pe = p->evq[i];
        run_one(pe.fn, &pe.ev);
    }
    p->evq_n = 0;
    p->feeding = false;
    plat_sweep(p);
    if (!p->pumping)
        plat_pump_events(p);
}

/* A failed Event's retry delay is over: back into the queue. */
static void on_event_retry(evutil_socket_t fd, short what, void *arg)
{
    plat_inv *inv = arg;
    plat_fn *fn = inv->fn;
    TAILQ_REMOVE(&fn->retrying, inv, q);
    event_free(inv->retry_ev);
    inv->retry_ev = NULL;
    plat_event_enqueue(fn, inv);
}

/* Lambda retries a failed asynchronous invocation twice, with growing delays. */
bool plat_event_retry(plat_inv *inv)
{
    plat_fn *fn = inv->fn;
    platform *p = fn->p;
    if (fn->retired || p->draining || inv->attempt >= p->cfg.event_retries)
        return false;
    if (!(inv->retry_ev = evtimer_new(p->base, on_event_retry, inv)))
        return false;
    inv->attempt++;
    /* A fresh attempt: new request id for the policy, nothing of the last try kept. */
    inv->id = ++p->next_req_id;
    inv->inst = NULL;
    inv->inst_id = -1;
    inv->cold = false;
    inv->dispatch_ns = inv->done_ns = 0;
    if (inv->timer)
        evtimer_del(inv->timer);
    if (inv->log)
        evbuffer_drain(inv->log, evbuffer_get_length(inv->log));
    double d = p->cfg.event_retry_delay_s * (double)(1 << (inv->attempt - 1));
    struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(inv->retry_ev, &tv);
    TAILQ_INSERT_TAIL(&fn->retrying, inv, q);
    return true;
}

/* Queues an accepted Event invocation and tries to submit it. */
void plat_event_enqueue(plat_fn *fn, plat_inv *inv)
{
    TAILQ_INSERT_TAIL(&fn->events, inv, q);
    fn->nevents++;
    if (!fn->p->feeding && !fn->p->pumping)
        plat_pump_events(fn->p);
}

/* Submits queued Event invocations, oldest first, until one is throttled. Iterative, and never
 * nested inside itself, so a long queue costs no stack. */
void plat_pump_events(platform *p)
{
    if (p->pumping || p->feeding)
        return;
    p->pumping = true;
    plat_fn *fn;
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        while (!fn->retired && !fn->events_blocked && !TAILQ_EMPTY(&fn->events)) {
            plat_inv *inv = TAILQ_FIRST(&fn->events);
            TAILQ_REMOVE(&fn->events, inv, q);
            fn->nevents--;
            plat_inv_hash_put(p, inv);
            policy_event ev = {
                .type = POLICY_EV_ARRIVE, .items = inv->items ? inv->items : 1, .request = inv->id};
            plat_feed(fn, &ev);
        }
    }
    p->pumping = false;
}

/* ---- model metadata -------------------------------------------------------------------------
 */

/* Why: KServe clients build requests from GET /v2/models/NAME (inputs and outputs with name,
 * datatype and shape). The gateway answers it without an instance, so a function scaled to zero
 * still describes itself: the model's declarations are read once, the same way the function
 * host reads them (builtin:identity or the ONNX graph), and encoded by the host's own encoder. */
const char *plat_fn_metadata(plat_fn *fn, fm_err *err)
{
    if (fn->metadata)
        return fn->metadata;
    const char *model = fn->spec.model ? fn->spec.model : "";
    if (strncmp(model, "file://", 7) == 0)
        model += 7;
    if (strstr(model, "://")) {
        fm_err_set(err, FM_EUNSUPPORTED,
                   "the metadata of model '%s' is known once an instance has fetched it", model);
        return NULL;
    }
    fn_handler decl = {.platform = "onnx_onnxv1"}, *h = &decl, *ident = NULL;
    infer_model *m = NULL;
    int rc = 0;
    if (strncmp(model, "builtin:", 8) == 0) {
        rc = fn_handler_identity_new(model + 8, &ident, err);
        h = ident;
    } else if (!(rc = infer_model_open(model, &m, err))) {
        decl.n_inputs = infer_model_n_inputs(m);
        decl.n_outputs = infer_model_n_outputs(m);
        if (decl.n_inputs > FN_MAX_IO || decl.n_outputs > FN_MAX_IO)
            rc = fm_err_set(err, FM_ELIMIT, "model '%s' has more than %d inputs or outputs", model,
                            FN_MAX_IO);
        for (size_t i = 0; !rc && i < decl.n_inputs; i++)
            rc = infer_model_input(m, i, &decl.inputs[i]);
        for (size_t i = 0; !rc && i < decl.n_outputs; i++)
            rc = infer_model_output(m, i, &decl.outputs[i]);
    }
    fn_buf b = {0};
    if (!rc && (rc = fn_v2_metadata_encode(fn->spec.name, h, &b)))
        fm_err_set(err, rc, "out of memory");
    if (!rc)
        fn->metadata = b.p;
    else
        fn_buf_release(&b);
    fn_handler_free(ident);
    infer_model_free(m);
    return fn->metadata;
}
