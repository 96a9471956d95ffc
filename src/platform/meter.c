/* The billing meter and the platform's records: per invocation billed duration and GB-s (by
 * cost_invocation_bill on the function's catalogue entry, as the simulator bills), and the
 * request count; provisioned-concurrency GB-s per instance;
 * every invocation and instance into the results store, instances by state as points each second,
 * and /metrics in Prometheus text format. Raw quantities only: prices belong to the cost module. */
#include "inst.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bucket bounds in seconds for the duration histograms (the +Inf bucket is the count). */
static const double bucket_le[PLAT_NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/* Adds one value to cumulative Prometheus buckets. */
static void observe(uint64_t *b, double *sum, uint64_t *n, double seconds)
{
    for (int i = 0; i < PLAT_NBUCKETS; i++)
        if (seconds <= bucket_le[i])
            b[i]++;
    *sum += seconds;
    (*n)++;
}

/* Store times are wall-clock; durations are measured on the monotonic clock. */
static int64_t to_wall(const plat_inv *inv, int64_t mono)
{
    return mono ? inv->arrive_wall_ns + (mono - inv->arrive_ns) : 0;
}

/* A failing store must not take the platform down; warn at most every 10 s. */
static void store_warn(platform *p, fm_err *err)
{
    static int64_t last;
    int64_t now = fm_now_ns();
    if (now - last > 10000000000LL) { /* at most one warning per 10 s */
        FM_WARN("platform", "cannot write to the results store: %s", err->msg);
        last = now;
    }
}

/* Bills and records one invocation (every ending, also throttles and rejects). */
void plat_meter_invocation(plat_inv *inv, const char *status, int http_code, const char *error,
                           plat_bill *bill)
{
    plat_fn *fn = inv->fn;
    platform *p = fn->p;
    plat_bill b = {0};
    int64_t done = inv->done_ns ? inv->done_ns : fm_now_ns();
    plat_inst *in = inv->inst;
    if (inv->dispatch_ns) {
        b.duration_ms = (double)(done - inv->dispatch_ns) / 1e6;
        if (inv->cold && in && in->ready_ns)
            b.init_ms = (double)(in->ready_ns - in->created_ns) / 1e6;
        /* managed/server: billed per instance-second (plat_meter_instance); lambda and gcf by the
         * one billing function: INIT where the offer bills it, its granularity, a batch's share */
        if (!fn->fleet && fn->offer) {
            cost_one one;
            cost_invocation_bill(fn->offer, b.duration_ms, b.init_ms, fn->spec.memory_mb,
                                 in && in->provisioned, inv->bill_share, &one);
            b.billed_ms = one.billed_ms;
            b.gb_s = one.gb_s;
        }
        fn->m.billed_ms += b.billed_ms;
        fn->m.billed_gb_s += b.gb_s;
        fn->m.requests_billed += 1;
        observe(fn->m.dur_b, &fn->m.dur_sum, &fn->m.dur_n, b.duration_ms / 1000.0);
        if (inv->cold)
            observe(fn->m.init_b, &fn->m.init_sum, &fn->m.init_n, b.init_ms / 1000.0);
    }
    if (bill)
        *bill = b;
    if (!p->st)
        return;
    store_request r = {
        .run = p->run_id,
        .id = (int64_t)inv->id,
        .function = fn->spec.name,
        .scheduled_ns = inv->arrive_wall_ns,
        .sent_ns = inv->arrive_wall_ns,
        .first_byte_ns = to_wall(inv, done),
        .done_ns = to_wall(inv, done),
        .status = status,
        .http_code = http_code,
        .error = error,
        .cold = inv->cold,
        .instance = in ? in->id : -1,
        .init_ms = b.init_ms,
        .duration_ms = b.duration_ms,
        .billed_ms = b.billed_ms,
        .memory_mb = fn->spec.memory_mb,
        .batch_size = inv->batch_size > 0 ? inv->batch_size : 1,
        .batch_kind = inv->batch_kind,
    };
    fm_err err = {0};
    if (store_request_add(p->st, &r, &err))
        store_warn(p, &err);
}

/* Records an instance at start, ready and stop (insert or replace by id). */
/* Why: exec → first /next holds the runtime's own start-up and the phases the function host
 * reported (download, load, warm-up); the store keeps phases disjoint, so the runtime's share is
 * what is left of that span. */
static double runtime_init_ms(const plat_inst *in)
{
    if (!in->ready_ns)
        return 0;
    double ms = (double)(in->ready_ns - in->exec_ns) / 1e6;
    for (int k = FM_PHASE_RUNTIME_INIT + 1; k < FM_PHASE__COUNT; k++)
        ms -= in->phase_ms[k];
    return ms > 0 ? ms : 0;
}

void plat_meter_instance(plat_inst *in)
{
    plat_fn *fn = in->fn;
    platform *p = fn->p;
    int64_t w0 = in->created_wall_ns, m0 = in->created_ns;
#define WALL(t) ((t) ? w0 + ((t)-m0) : 0)
    if (in->stopped_ns && fn->fleet) {
        /* managed/server: launch to termination, rounded and with the minimum of its offer */
        double life = (double)(in->stopped_ns - in->created_ns) / 1e9;
        fn->m.instance_s += fn->offer ? cost_instance_billed_s(fn->offer, life) : life;
    }
    if (in->stopped_ns && in->provisioned) {
        int64_t from = in->ready_ns ? in->ready_ns : in->created_ns;
        fn->m.pc_gb_s += (double)(in->stopped_ns - from) / 1e9 * fn->spec.memory_mb / 1024.0;
    }
    if (!p->st)
        return;
    store_instance si = {
        .run = p->run_id,
        .id = in->id,
        .function = fn->spec.name,
        .memory_mb = fn->spec.memory_mb,
        .provisioned = in->provisioned,
        .created_ns = w0,
        .ready_ns = WALL(in->ready_ns),
        .stopped_ns = WALL(in->stopped_ns),
        .cold_path = in->provisioned ? "provisioned"
                     : in->zygote    ? "zygote"
                                     : "exec",
        .stop_reason = in->stopped_ns ? in->stop_reason : NULL,
    };
#undef WALL
    memcpy(si.phase_ms, in->phase_ms, sizeof si.phase_ms);
    si.phase_ms[FM_PHASE_SPAWN] = in->exec_ns ? (double)(in->exec_ns - in->created_ns) / 1e6 : 0;
    si.phase_ms[FM_PHASE_RUNTIME_INIT] = runtime_init_ms(in);
    fm_err err = {0};
    if (store_instance_put(p->st, &si, &err))
        store_warn(p, &err);
}

/* Once a second: the time series of instances by state and queue depth. */
void plat_meter_points(platform *p)
{
    if (!p->st)
        return;
    int64_t now = fm_wall_ns();
    plat_fn *fn;
    fm_err err = {0};
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        if (fn->retired)
            continue;
        policy_stats st;
        policy_fn_stats(fn->pol, &st);
        for (int s = 0; s < POLICY_INST__COUNT; s++) {
            char metric[48];
            snprintf(metric, sizeof metric, "instances_%s",
                     policy_inst_state_name((policy_inst_state)s));
            store_point pt = {p->run_id, fn->spec.name, now, metric, st.instances[s]};
            if (store_point_add(p->st, &pt, &err))
                store_warn(p, &err);
        }
        store_point q = {p->run_id, fn->spec.name, now, "queue_depth",
                         (double)st.queue_depth + (double)fn->nevents};
        store_point f = {p->run_id, fn->spec.name, now, "in_flight", st.in_flight};
        if (store_point_add(p->st, &q, &err) || store_point_add(p->st, &f, &err))
            store_warn(p, &err);
    }
}

/* Raw billed quantities of a function generation; prices belong to the cost module. */
void plat_meter_costs(plat_fn *fn)
{
    platform *p = fn->p;
    if (!p->st)
        return;
    fm_err err = {0};
    {
        const char *prof = fn->spec.profile;
        char item[4][128];
        snprintf(item[0], sizeof item[0], "%s.requests:%s", prof, fn->spec.name);
        snprintf(item[1], sizeof item[1], "%s.gb_s:%s", prof, fn->spec.name);
        snprintf(item[2], sizeof item[2], "%s.pc_gb_s:%s", prof, fn->spec.name);
        snprintf(item[3], sizeof item[3], "%s.instance_s:%s", prof, fn->spec.name);
        store_cost c[4] = {
            {p->run_id, item[0], fn->m.requests_billed, "requests", 0, 0, "USD",
             "unpriced raw quantity"},
            {p->run_id, item[1], fn->m.billed_gb_s, "GB-s", 0, 0, "USD", "unpriced raw quantity"},
            {p->run_id, item[2], fn->m.pc_gb_s, "GB-s", 0, 0, "USD", "unpriced raw quantity"},
            {p->run_id, item[3], fn->m.instance_s, "instance-s", 0, 0, "USD",
             "unpriced raw quantity"},
        };
        for (int i = 0; i < 4; i++)
            if (c[i].quantity > 0 && store_cost_add(p->st, &c[i], &err))
                store_warn(p, &err);
    }
}

/* ---- /metrics ----------------------------------------------------------------------------------
 */

typedef struct counter_def {
    const char *name, *help, *type;
    size_t off; /* into plat_fn_metrics */
    bool is_dbl;
} counter_def;

#define M(f) offsetof(plat_fn_metrics, f)
static const counter_def counters[] = {
    {"faasml_invocations_total", "Invocations accepted (sync, Event and KServe).", "counter", 0,
     false},
    {"faasml_invocation_success_total", "Invocations the function answered without error.",
     "counter", M(ok), false},
    {"faasml_errors_total", "Invocations that ended in a function error, timeout or crash.",
     "counter", M(errors), false},
    {"faasml_timeouts_total", "Invocations that hit the function timeout.", "counter", M(timeouts),
     false},
    {"faasml_crashes_total", "Invocations whose runtime exited mid-request.", "counter", M(crashes),
     false},
    {"faasml_oom_kills_total", "Invocations whose runtime exceeded its memory.", "counter", M(oom),
     false},
    {"faasml_cold_starts_total", "Invocations that ran on a freshly started instance.", "counter",
     M(cold_starts), false},
    {"faasml_billed_duration_seconds_total", "Billed duration, rounded per invocation.", "counter",
     M(billed_ms), true},
    {"faasml_billed_gb_seconds_total", "Billed GB-seconds (duration x memory).", "counter",
     M(billed_gb_s), true},
    {"faasml_provisioned_gb_seconds_total",
     "Provisioned-concurrency GB-seconds of stopped "
     "instances.",
     "counter", M(pc_gb_s), true},
    {"faasml_request_bytes_copied_total",
     "Request body bytes the platform copied between client and instance (debug).", "counter",
     M(copied_in), false},
    {"faasml_response_bytes_copied_total",
     "Response body bytes the platform copied between instance and client (debug).", "counter",
     M(copied_out), false},
    {"faasml_runtime_api_connections_total",
     "TCP connections runtimes opened to their Runtime API (keep-alive: one per worker).",
     "counter", M(rapi_connections), false},
};
#undef M

/* One Prometheus histogram series per function, buckets ascending, +Inf = count. */
static void render_hist(struct evbuffer *o, platform *p, const char *name, const char *help,
                        bool init)
{
    evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    plat_fn *fn;
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        if (fn->retired)
            continue;
        const uint64_t *b = init ? fn->m.init_b : fn->m.dur_b;
        uint64_t n = init ? fn->m.init_n : fn->m.dur_n;
        for (int i = 0; i < PLAT_NBUCKETS; i++)
            evbuffer_add_printf(o, "%s_bucket{function=\"%s\",le=\"%g\"} %" PRIu64 "\n", name,
                                fn->spec.name, bucket_le[i], b[i]);
        evbuffer_add_printf(o, "%s_bucket{function=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name,
                            fn->spec.name, n);
        evbuffer_add_printf(o, "%s_sum{function=\"%s\"} %.6f\n", name, fn->spec.name,
                            init ? fn->m.init_sum : fn->m.dur_sum);
        evbuffer_add_printf(o, "%s_count{function=\"%s\"} %" PRIu64 "\n", name, fn->spec.name, n);
    }
}

/* Function names are [A-Za-z0-9_-] (spec.c), so label values need no escaping. */
void plat_metrics_render(platform *p, struct evbuffer *o)
{
    plat_fn *fn;
    for (size_t c = 0; c < FM_ARRAY_LEN(counters); c++) {
        evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", counters[c].name, counters[c].help,
                            counters[c].name, counters[c].type);
        TAILQ_FOREACH(fn, &p->fns, link)
        {
            if (fn->retired)
                continue;
            if (c == 0) {
                static const char *const kinds[] = {"RequestResponse", "Event", "kserve", "url"};
                _Static_assert(FM_ARRAY_LEN(kinds) == PLAT_INV__COUNT, "one name per kind");
                for (int k = 0; k < PLAT_INV__COUNT; k++)
                    evbuffer_add_printf(o, "%s{function=\"%s\",type=\"%s\"} %" PRIu64 "\n",
                                        counters[c].name, fn->spec.name, kinds[k],
                                        fn->m.invocations[k]);
                continue;
            }
            const char *f = (const char *)&fn->m + counters[c].off;
            if (counters[c].is_dbl) {
                double v = *(const double *)f;
                if (counters[c].off == offsetof(plat_fn_metrics, billed_ms))
                    v /= 1000.0;
                evbuffer_add_printf(o, "%s{function=\"%s\"} %.6f\n", counters[c].name,
                                    fn->spec.name, v);
            } else {
                evbuffer_add_printf(o, "%s{function=\"%s\"} %" PRIu64 "\n", counters[c].name,
                                    fn->spec.name, *(const uint64_t *)f);
            }
        }
    }
    /* one series per reason a request can be throttled for, zeros included, so a rate() over any
     * of them is defined from the first scrape */
    static const struct {
        int idx;
        const char *name;
    } throttles[] = {{POLICY_REASON_RESERVED, "reserved"},
                     {POLICY_REASON_ACCOUNT, "account"},
                     {POLICY_REASON_RATE, "rate"},
                     {POLICY_REASON_MAX_INSTANCES, "max_instances"},
                     {POLICY_REASON_HOST_CAPACITY, "host_capacity"},
                     {PLAT_THROTTLE_EVENT_QUEUE, "event_queue_full"}};
    evbuffer_add_printf(o, "# HELP faasml_throttles_total Requests answered 429 "
                           "TooManyRequestsException, by reason.\n"
                           "# TYPE faasml_throttles_total counter\n");
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        if (fn->retired)
            continue;
        for (size_t r = 0; r < FM_ARRAY_LEN(throttles); r++)
            evbuffer_add_printf(
                o, "faasml_throttles_total{function=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                fn->spec.name, throttles[r].name, fn->m.throttles[throttles[r].idx]);
    }
    render_hist(o, p, "faasml_duration_seconds", "Time inside the function per invocation.", false);
    render_hist(o, p, "faasml_init_duration_seconds", "Init duration of cold starts.", true);
    evbuffer_add_printf(o, "# HELP faasml_queue_depth Requests waiting for an instance, pending "
                           "Event invocations included.\n"
                           "# TYPE faasml_queue_depth gauge\n");
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        if (fn->retired)
            continue;
        policy_stats st;
        policy_fn_stats(fn->pol, &st);
        evbuffer_add_printf(o, "faasml_queue_depth{function=\"%s\"} %zu\n", fn->spec.name,
                            (size_t)st.queue_depth + fn->nevents);
    }
    evbuffer_add_printf(o, "# HELP faasml_instances Instances by state.\n"
                           "# TYPE faasml_instances gauge\n");
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        if (fn->retired)
            continue;
        policy_stats st;
        policy_fn_stats(fn->pol, &st);
        for (int s = 0; s < POLICY_INST__COUNT; s++)
            evbuffer_add_printf(o, "faasml_instances{function=\"%s\",state=\"%s\"} %u\n",
                                fn->spec.name, policy_inst_state_name((policy_inst_state)s),
                                st.instances[s]);
    }
}
