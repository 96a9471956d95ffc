/* The platform's object graph and its one conversation with the policy: every event (arrival,
 * ready, done, stopped, tick) goes to policy_fn_handle and the platform carries out the actions it
 * returns (START, DISPATCH, THROTTLE, REJECT, STOP). Nothing here decides; it executes. */
#include "plat_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lambda's documented defaults (cloud-platforms.md section 3). */
void platform_config_init(platform_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = "127.0.0.1";
    c->listen_port = 9000;
    c->account_concurrency = 1000;
    c->scale_per_10s = 0;
    c->keep_alive_s = 600;
    c->init_timeout_s = 10;
    c->drain_s = 10;
    c->billing_round_ms = 0;
    c->event_queue_max = 10000;
    c->event_retries = 2;
    c->event_retry_delay_s = 60;
    c->region = "us-east-1";
}

/* platform.yaml: the same names as platform_config (see docs/platform.md). */
int platform_config_load(const char *path, platform_config *c, fm_arena *strings, fm_err *err)
{
    static const char *const keys[] = {"listen",           "account_concurrency",
                                       "scale_per_10s",    "keep_alive",
                                       "init_timeout",     "drain",
                                       "billing_round_ms", "event_queue_max",
                                       "region",           "log_dir",
                                       "cgroups",          "platforms",
                                       "event_retries",    "event_retry_delay",
                                       "cpu_limits",       NULL};
    fm_yaml *y;
    int rc = fm_yaml_load_file(path, &y, err);
    if (rc)
        return rc;
    const fm_ynode *root = fm_yaml_root(y);
    int64_t iv;
    const char *str;
    if (!root) {
        fm_yaml_free(y);
        return 0;
    }
    if ((rc = fm_yaml_check_keys(y, root, keys, err)))
        goto out;
    static const struct {
        const char *key;
        size_t off;
        int64_t min, max;
    } ints[] = {
        {"account_concurrency", offsetof(platform_config, account_concurrency), 1, 1000000},
        {"scale_per_10s", offsetof(platform_config, scale_per_10s), 0, 1000000},
        {"billing_round_ms", offsetof(platform_config, billing_round_ms), 0, 60000},
        {"event_queue_max", offsetof(platform_config, event_queue_max), 1, 10000000},
        {"event_retries", offsetof(platform_config, event_retries), 0, 2},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(ints); i++) {
        iv = *(int *)((char *)c + ints[i].off);
        if ((rc = fm_yaml_get_int(y, root, ints[i].key, false, ints[i].min, ints[i].max, &iv, err)))
            goto out;
        *(int *)((char *)c + ints[i].off) = (int)iv;
    }
    static const struct {
        const char *key;
        size_t off;
    } durs[] = {{"keep_alive", offsetof(platform_config, keep_alive_s)},
                {"init_timeout", offsetof(platform_config, init_timeout_s)},
                {"drain", offsetof(platform_config, drain_s)},
                {"event_retry_delay", offsetof(platform_config, event_retry_delay_s)}};
    for (size_t i = 0; i < FM_ARRAY_LEN(durs); i++) {
        str = NULL;
        if ((rc = fm_yaml_get_str(y, root, durs[i].key, false, &str, err)))
            goto out;
        int64_t ns;
        if (str && (fm_parse_duration_ns(str, &ns) || ns < 0)) {
            rc = fm_yaml_error(y, fm_ynode_get(root, durs[i].key), err, FM_EINVAL,
                               "invalid duration '%s'", str);
            goto out;
        }
        if (str)
            *(double *)((char *)c + durs[i].off) = (double)ns / 1e9;
    }
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {{"region", offsetof(platform_config, region)},
                {"log_dir", offsetof(platform_config, log_dir)},
                {"platforms", offsetof(platform_config, platforms)}};
    for (size_t i = 0; i < FM_ARRAY_LEN(strs); i++) {
        str = NULL;
        if ((rc = fm_yaml_get_str(y, root, strs[i].key, false, &str, err)))
            goto out;
        if (str)
            *(const char **)((char *)c + strs[i].off) = fm_arena_strdup(strings, str);
    }
    bool cg = !c->no_cgroups;
    if ((rc = fm_yaml_get_bool(y, root, "cgroups", false, &cg, err)))
        goto out;
    c->no_cgroups = !cg;
    bool cpu = !c->no_cpu_limit;
    if ((rc = fm_yaml_get_bool(y, root, "cpu_limits", false, &cpu, err)))
        goto out;
    c->no_cpu_limit = !cpu;
    str = NULL;
    if ((rc = fm_yaml_get_str(y, root, "listen", false, &str, err)))
        goto out;
    if (str) {
        const char *colon = strrchr(str, ':');
        int64_t port;
        if (!colon || fm_parse_i64(colon + 1, &port) || port < 0 || port > 65535) {
            rc = fm_yaml_error(y, fm_ynode_get(root, "listen"), err, FM_EINVAL,
                               "listen must be HOST:PORT, got '%s'", str);
            goto out;
        }
        char *host = fm_arena_strdup(strings, str);
        host[colon - str] = 0;
        c->listen_host = host;
        c->listen_port = (int)port;
    }
out:
    fm_yaml_free(y);
    return rc;
}

/* ---- invocation table -------------------------------------------------------------------------
 */

static size_t hslot(const platform *p, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (p->hash_cap - 1);
}

/* Invocations by policy request id; the policy names requests only by id. */
void plat_inv_hash_put(platform *p, plat_inv *inv)
{
    if (p->hash_n + 1 > p->hash_cap / 2) {
        size_t ncap = p->hash_cap ? p->hash_cap * 2 : 1024;
        plat_inv **nh = calloc(ncap, sizeof *nh);
        if (nh) {
            plat_inv **old = p->hash;
            size_t ocap = p->hash_cap;
            p->hash = nh;
            p->hash_cap = ncap;
            for (size_t i = 0; i < ocap; i++)
                for (plat_inv *e = old[i], *nx; e; e = nx) {
                    nx = e->hnext;
                    size_t s = hslot(p, e->id);
                    e->hnext = p->hash[s];
                    p->hash[s] = e;
                }
            free(old);
        }
    }
    size_t s = hslot(p, inv->id);
    inv->hnext = p->hash[s];
    p->hash[s] = inv;
    p->hash_n++;
}

/* Removes and returns an invocation: whoever takes it answers it. */
plat_inv *plat_inv_hash_take(platform *p, uint64_t id)
{
    if (!p->hash_cap)
        return NULL;
    for (plat_inv **e = &p->hash[hslot(p, id)]; *e; e = &(*e)->hnext)
        if ((*e)->id == id) {
            plat_inv *inv = *e;
            *e = inv->hnext;
            inv->hnext = NULL;
            p->hash_n--;
            return inv;
        }
    return NULL;
}

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
static void fn_free(plat_fn *fn)
{
    plat_zygote_stop(fn);
    plat_meter_costs(fn);
    plat_inv *inv;
    while ((inv = TAILQ_FIRST(&fn->events))) {
        TAILQ_REMOVE(&fn->events, inv, q);
        plat_meter_invocation(inv, "dropped", 0, "the function was removed", NULL);
        plat_inv_free(inv);
    }
    while ((inv = TAILQ_FIRST(&fn->retrying))) {
        TAILQ_REMOVE(&fn->retrying, inv, q);
        plat_inv_free(inv);
    }
    if (fn->retry)
        event_free(fn->retry);
    if (fn->wake)
        event_free(fn->wake);
    policy_actions_release(&fn->acts);
    policy_fn_free(fn->pol);
    free(fn->slots);
    free(fn->last_start_error);
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
            fn_free(f);
        }
    }
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
    if (p->cfg.billing_round_ms > 0)
        cfg.fn.billing_ns = (int64_t)p->cfg.billing_round_ms * 1000000;
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
    if ((rc = policy_config_validate(&cfg, err)))
        return rc;
    if ((rc = policy_fn_new(&cfg, p->account, &fn->pol, err)))
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
    if (!rc && (!(fn->wake = evtimer_new(p->base, on_wake, fn)) ||
                !(fn->retry = evtimer_new(p->base, on_retry, fn))))
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (rc) {
        fn_free(fn);
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
            fn->spec.runtime == PLATFORM_RUNTIME_ONNX ? "builtin-onnx" : "custom",
            fn->spec.memory_mb, fn->spec.timeout_s);
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
                plat_inv_fail(inv, 500, "ServiceException", NULL,
                              "the instance chosen for this request is gone");
                plat_inv_free(inv);
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
            fn->m.throttles++;
            plat_inv_fail(inv, 429, "TooManyRequestsException", throttle_reason(a->reason),
                          "Rate Exceeded.");
            plat_inv_free(inv);
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
            fn->m.errors++;
            plat_inv_init_failed(inv, body);
            if (inv->kind == PLAT_INV_EVENT && plat_event_retry(inv))
                break;
        } else {
            fn->m.rejects++;
            /* lambda/gcf: a full async queue is a throttle; a managed endpoint or a server's
             * bounded FIFO answers 503 (profile.c). */
            bool throttle = a->reason == POLICY_REASON_QUEUE_FULL && !fn->fleet;
            plat_inv_fail(inv, throttle ? 429 : 503,
                          throttle ? "TooManyRequestsException" : "ServiceException",
                          a->reason == POLICY_REASON_QUEUE_FULL ? "QueueFull" : NULL,
                          a->reason == POLICY_REASON_SHUTDOWN ? "the function is shutting down"
                                                              : "the request queue is full");
        }
        plat_inv_free(inv);
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
            if (inv) {
                plat_inv_fail(inv, 500, "ServiceException", NULL, "the request was refused");
                plat_inv_free(inv);
            }
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
            policy_event ev = {.type = POLICY_EV_ARRIVE, .items = inv->items ? inv->items : 1,
                               .request = inv->id};
            plat_feed(fn, &ev);
        }
    }
    p->pumping = false;
}

/* ---- the server -------------------------------------------------------------------------------
 */

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    plat_inst_reap(arg);
}

/* Everything is stopped: flush the store and leave the loop. */
static void finish_shutdown(platform *p)
{
    if (p->stopped)
        return;
    p->stopped = true;
    fm_err err = {0};
    if (p->st && store_flush(p->st, &err))
        FM_WARN("platform", "cannot flush the results store: %s", err.msg);
    event_base_loopbreak(p->base);
}

/* True while any instance process is still tracked. */
static bool any_instances(platform *p)
{
    plat_fn *fn;
    TAILQ_FOREACH(fn, &p->fns, link)
    if (!TAILQ_EMPTY(&fn->insts))
        return true;
    return false;
}

/* Shutdown progress: done when no instance is left; after the deadline, kill the rest. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    platform *p = arg;
    if (!any_instances(p)) {
        finish_shutdown(p);
        return;
    }
    if (fm_now_ns() >= p->drain_deadline_ns) {
        plat_fn *fn;
        plat_inst *in;
        TAILQ_FOREACH(fn, &p->fns, link)
        TAILQ_FOREACH(in, &fn->insts, link)
        {
            in->stop_asked = true;
            plat_inst_kill(in, "shutdown");
        }
        if (fm_now_ns() >= p->drain_deadline_ns + 2000000000LL) {
            FM_WARN("platform", "instances did not exit after SIGKILL; leaving");
            finish_shutdown(p);
        }
    }
}

/* Graceful stop: no new connections, policy SHUTDOWN for all, drain, then kill. */
void platform_shutdown(platform *p)
{
    if (p->draining) {
        /* A second signal: stop waiting for in-flight requests. */
        p->drain_deadline_ns = fm_now_ns();
        return;
    }
    p->draining = true;
    plat_meter_points(p); /* the series ends with the state before shutdown, however short the run */
    FM_INFO("platform", "shutting down: draining for up to %.1f s", p->cfg.drain_s);
    if (p->sock) {
        evhttp_del_accept_socket(p->http, p->sock);
        p->sock = NULL;
    }
    p->drain_deadline_ns = fm_now_ns() + (int64_t)(p->cfg.drain_s * 1e9);
    plat_fn *fn;
    p->sweep_hold = true; /* no function may be freed while this loop walks the list */
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        fn->retired = true;
        policy_event ev = {.type = POLICY_EV_SHUTDOWN};
        plat_feed(fn, &ev);
    }
    p->sweep_hold = false;
    plat_sweep(p);
    struct timeval tv = {0, 50000};
    event_add(p->drain_timer, &tv);
}

/* SIGTERM and SIGINT start a graceful shutdown (a second one ends the drain). */
static void on_term(evutil_socket_t fd, short what, void *arg)
{
    platform_shutdown(arg);
}

/* The once-a-second time series. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    plat_meter_points(arg);
}

/* Instance logs reach their file or stderr within 100 ms. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    platform *p = arg;
    if (p->log)
        fflush(p->log);
}

/* Builds the whole platform on its own event base; nothing runs until platform_run. */
int platform_new(const platform_config *cfg, struct store *st, int64_t run_id, platform **out,
                 fm_err *err)
{
    *out = NULL;
    int rc = plat_guard_listen(cfg, err);
    if (rc)
        return rc;
    platform *p = calloc(1, sizeof *p);
    if (!p)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    p->cfg = *cfg;
    p->st = st;
    p->run_id = run_id;
    p->pid_self = getpid();
    TAILQ_INIT(&p->fns);
    fm_rng_seed(&p->rng, (uint64_t)fm_wall_ns() ^ ((uint64_t)getpid() << 32));
    if (cfg->self_exe)
        snprintf(p->self_exe, sizeof p->self_exe, "%s", cfg->self_exe);
    else {
        ssize_t n = readlink("/proc/self/exe", p->self_exe, sizeof p->self_exe - 1);
        p->self_exe[n > 0 ? n : 0] = 0;
    }
    /* NULL lets the policy find its data file ($FAASML_PLATFORMS, data/ of the install). */
    if (cfg->platforms)
        snprintf(p->platforms_path, sizeof p->platforms_path, "%s", cfg->platforms);
    /* Instance logs go through their own fully buffered stream (a few lines per invocation would
     * otherwise cost a write(2) each), flushed every 100 ms and at exit. */
    if (cfg->log_dir && *cfg->log_dir) {
        char path[1200];
        snprintf(path, sizeof path, "%s/instances.log", cfg->log_dir);
        if (!(p->log = fopen(path, "a")))
            rc = fm_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
    } else {
        int fd = dup(2);
        if (fd < 0 || !(p->log = fdopen(fd, "w"))) {
            if (fd >= 0)
                close(fd);
            rc = fm_err_set(err, -errno, "cannot open the log stream: %s", strerror(errno));
        }
    }
    if (p->log)
        setvbuf(p->log, NULL, _IOFBF, 1 << 16);
    if (!rc && !(p->base = event_base_new()))
        rc = fm_err_set(err, FM_ENOMEM, "cannot create an event base");
    if (!rc)
        rc = policy_account_new(cfg->account_concurrency, POLICY_SCALING_NONE, NULL, &p->account,
                                err);
    if (!rc) {
        p->sigchld = evsignal_new(p->base, SIGCHLD, on_sigchld, p);
        p->sigterm = evsignal_new(p->base, SIGTERM, on_term, p);
        p->sigint = evsignal_new(p->base, SIGINT, on_term, p);
        p->tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
        p->flush = event_new(p->base, -1, EV_PERSIST, on_flush, p);
        p->drain_timer = event_new(p->base, -1, EV_PERSIST, on_drain, p);
        if (!p->sigchld || !p->sigterm || !p->sigint || !p->tick || !p->drain_timer || !p->flush)
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    if (!rc) {
        struct timeval sec = {1, 0};
        event_add(p->sigchld, NULL);
        event_add(p->sigterm, NULL);
        event_add(p->sigint, NULL);
        event_add(p->tick, &sec);
        struct timeval tenth = {0, 100000};
        event_add(p->flush, &tenth);
        signal(SIGPIPE, SIG_IGN);
        plat_sandbox_init(&p->sb, cfg);
        rc = plat_auth_init(p, err);
        if (p->sb.kind == PLAT_SB_RLIMIT)
            FM_WARN("platform", "no cgroup limits: memory is capped with RLIMIT_AS (address space, "
                                "stricter than resident memory) and CPU share is not enforced");
        if (!rc)
            rc = plat_gateway_bind(p, err);
    }
    if (rc) {
        platform_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The gateway's bound port (the real one when 0 was asked). */
int platform_port(const platform *p)
{
    return p->port;
}

/* Which memory/CPU enforcement is active, for the serve banner. */
const char *platform_enforcement(const platform *p)
{
    return p->sb.desc;
}

/* Runs the event loop until a shutdown completes. */
int platform_run(platform *p)
{
    int rc = event_base_dispatch(p->base);
    return rc < 0 ? FM_EIO : 0;
}

/* Tears everything down, killing and reaping any instance still alive. */
void platform_free(platform *p)
{
    if (!p)
        return;
    plat_fn *fn;
    while ((fn = TAILQ_FIRST(&p->fns))) {
        plat_inst *in;
        while ((in = TAILQ_FIRST(&fn->insts))) {
            /* Still running at teardown (shutdown never ran): kill and reap synchronously. */
            if (in->pid > 0 && in->state != PLAT_INST_STOPPING)
                kill(-in->pid, SIGKILL);
            plat_inst_forget(in);
        }
        TAILQ_REMOVE(&p->fns, fn, link);
        fn_free(fn);
    }
    for (size_t i = 0; i < p->hash_cap; i++)
        for (plat_inv *e = p->hash[i], *nx; e; e = nx) {
            nx = e->hnext;
            e->hnext = NULL;
            plat_inv_free(e);
        }
    free(p->hash);
    free(p->evq);
    policy_account_free(p->account);
    struct event *evs[] = {p->sigchld, p->sigterm, p->sigint, p->tick, p->drain_timer, p->flush};
    for (size_t i = 0; i < FM_ARRAY_LEN(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    if (p->http)
        evhttp_free(p->http);
    if (p->base)
        event_base_free(p->base);
    plat_sandbox_release(&p->sb);
    plat_auth_release(p);
    if (p->log)
        fclose(p->log);
    free(p);
}
