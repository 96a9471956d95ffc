/* Metrics of one run: read requests, instances and points from the store, then compute latency,
 * success ratio, throughput, cold starts, instances over time, utilisation and dispatch error, for
 * the whole run and per function. */
#include "analyze.h"
#include "analyze_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const double an_quantile_p[AN__QUANTILES] = {0.50, 0.90, 0.95, 0.99};
const char *const an_quantile_name[AN__QUANTILES] = {"p50", "p90", "p95", "p99"};
const char *const an_phase_name[AN__PHASES] = {
#define AN_XX(name, key, label) label,
    FM_PHASE_MAP(AN_XX)
#undef AN_XX
};

static an_num num(double v)
{
    return (an_num){v, NULL};
}
static an_num none(const char *why)
{
    return (an_num){0, why};
}

/* ---- reading -------------------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return FM_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

static int func_index(an_data *d, const char *name)
{
    const char *f = name ? name : "";
    for (int i = 0; i < d->n_fn; i++)
        if (strcmp(d->fn[i], f) == 0)
            return i;
    if (d->n_fn == AN_MAX_FUNCS)
        return AN_MAX_FUNCS - 1; /* the last slot gathers the rest */
    if (!(d->fn[d->n_fn] = strdup(f)))
        return -1;
    return d->n_fn++;
}

static int on_request(const store_request *r, void *ud)
{
    an_data *d = ud;
    if (grow((void **)&d->req, &d->cap_req, d->n_req, sizeof *d->req))
        return FM_ENOMEM;
    int fi = func_index(d, r->function);
    if (fi < 0)
        return FM_ENOMEM;
    an_req *q = &d->req[d->n_req++];
    q->fn = fi;
    q->scheduled_ns = r->scheduled_ns;
    q->sent_ns = r->sent_ns;
    q->done_ns = r->done_ns;
    q->http_code = r->http_code;
    q->throttled = r->status && strcmp(r->status, "throttled") == 0;
    /* reached a function instance: ok, error (function error), timeout, or the runtime died
     * under it (crash, oom) */
    q->invoked = r->status && (strcmp(r->status, "ok") == 0 || strcmp(r->status, "error") == 0 ||
                               strcmp(r->status, "timeout") == 0 ||
                               strcmp(r->status, "crash") == 0 || strcmp(r->status, "oom") == 0);
    q->cold = r->cold;
    q->instance = r->instance;
    q->init_ms = r->init_ms;
    q->duration_ms = r->duration_ms;
    q->billed_ms = r->billed_ms;
    q->memory_mb = r->memory_mb;
    q->share = r->batch_kind && strcmp(r->batch_kind, "server") == 0 && r->batch_size > 1
                   ? 1.0 / r->batch_size
                   : 1.0;
    return 0;
}

static int on_instance(const store_instance *i, void *ud)
{
    an_data *d = ud;
    if (grow((void **)&d->inst, &d->cap_inst, d->n_inst, sizeof *d->inst))
        return FM_ENOMEM;
    int fi = func_index(d, i->function);
    if (fi < 0)
        return FM_ENOMEM;
    an_inst *p = &d->inst[d->n_inst++];
    p->fn = fi;
    p->id = i->id;
    p->memory_mb = i->memory_mb;
    p->provisioned = i->provisioned;
    p->created_ns = i->created_ns;
    p->ready_ns = i->ready_ns;
    p->stopped_ns = i->stopped_ns;
    for (int k = 0; k < AN__PHASES; k++)
        p->phase[k] = i->phase_ms[k];
    return 0;
}

/* Reads the instance-count series: "instances" (a total), or the per-state gauges the platform
 * and the simulator record ("instances_starting", "instances_idle", "instances_busy", ...; also
 * "instances.<state>"), which an_data_index sums per sample time over states and functions. */
static int on_point(const store_point *p, void *ud)
{
    an_data *d = ud;
    const char *m = p->metric ? p->metric : "";
    int kind;
    if (strcmp(m, "instances") == 0)
        kind = AN_PT_TOTAL;
    else if (strncmp(m, "instances_", 10) == 0 || strncmp(m, "instances.", 10) == 0)
        kind = strcmp(m + 10, "busy") == 0 ? AN_PT_BUSY : AN_PT_STATE;
    else
        return 0;
    if (grow((void **)&d->pts, &d->cap_pts, d->n_pts, sizeof *d->pts))
        return FM_ENOMEM;
    d->pts[d->n_pts++] = (an_pt){p->t_ns, p->value, kind};
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int on_run(const store_run *r, void *ud)
{
    an_run *run = ud;
    run->info = *r;
    run->info.name = dup_or_null(r->name);
    run->info.mode = dup_or_null(r->mode);
    run->info.profile = dup_or_null(r->profile);
    run->info.config = dup_or_null(r->config);
    run->info.host = dup_or_null(r->host);
    run->info.status = dup_or_null(r->status);
    return 1; /* found */
}

void an_data_release(an_data *d)
{
    for (int i = 0; i < d->n_fn; i++)
        free(d->fn[i]);
    free(d->req);
    free(d->inst);
    free(d->pts);
    free(d->alive);
    free(d->busy);
    memset(d, 0, sizeof *d);
}

/* ---- time base ------------------------------------------------------------------------------ */

/* Why not runs.started_ns: a simulated run records wall-clock start but virtual request times, so
 * the time base comes from the recorded events themselves. */
static void time_span(const an_data *d, int64_t *t0, int64_t *t1)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
#define SEE(v)                                                                                     \
    do {                                                                                           \
        if ((v) > 0) {                                                                             \
            lo = (v) < lo ? (v) : lo;                                                              \
            hi = (v) > hi ? (v) : hi;                                                              \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < d->n_req; i++) {
        SEE(d->req[i].scheduled_ns);
        SEE(d->req[i].sent_ns);
        SEE(d->req[i].done_ns);
    }
    for (size_t i = 0; i < d->n_inst; i++) {
        SEE(d->inst[i].created_ns);
        SEE(d->inst[i].ready_ns);
        SEE(d->inst[i].stopped_ns);
    }
#undef SEE
    *t0 = lo == INT64_MAX ? 0 : lo;
    *t1 = hi == INT64_MIN ? 0 : hi;
}

static int64_t inst_end(const an_inst *p, int64_t t_end)
{
    return p->stopped_ns > 0 ? p->stopped_ns : t_end;
}

/* ---- metrics of a group (one function, or fn < 0 for all) -------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void latency_stats(an_metrics *m, const double *lat, size_t n, double level)
{
    static const char *const no_lat = "no successful requests";
    if (n == 0) {
        m->latency_mean = (an_est){.est = none(no_lat), .ci_why = no_lat};
        for (int q = 0; q < AN__QUANTILES; q++)
            m->latency_q[q] = m->latency_mean;
        m->latency_max = none(no_lat);
        return;
    }
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        sum += lat[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (lat[i] - mean) * (lat[i] - mean);
    m->latency_mean.est = num(mean);
    if (n >= 2) {
        double half =
            fm_norm_quantile(1 - (1 - level) / 2) * sqrt(ss / (double)(n - 1) / (double)n);
        m->latency_mean.has_ci = true;
        m->latency_mean.lo = mean - half;
        m->latency_mean.hi = mean + half;
        m->latency_mean.coverage = level;
    } else {
        m->latency_mean.ci_why = "too few samples";
    }
    for (int q = 0; q < AN__QUANTILES; q++) {
        an_est *e = &m->latency_q[q];
        e->est = num(an_quantile_sorted(lat, n, an_quantile_p[q]));
        size_t lo, hi;
        if (an_quantile_ci(n, an_quantile_p[q], level, &lo, &hi, &e->coverage) == 0) {
            e->has_ci = true;
            e->lo = lat[lo - 1];
            e->hi = lat[hi - 1];
        } else {
            e->ci_why = "too few samples";
        }
    }
    m->latency_max = num(lat[n - 1]);
}

/* Instances alive over time as (t, count) steps, from the points table when the run recorded
 * the series, else from the instances' created/stopped times. */
static int instance_series(const an_data *d, int fn, int64_t t0, int64_t t1, an_point2 **out,
                           size_t *n_out, const char **source)
{
    *out = NULL;
    *n_out = 0;
    if (fn < 0 && d->n_alive > 0) {
        an_point2 *s = malloc(d->n_alive * sizeof *s);
        if (!s)
            return FM_ENOMEM;
        for (size_t i = 0; i < d->n_alive; i++)
            s[i] = (an_point2){(d->alive[i].x - (double)t0) / 1e9, d->alive[i].y};
        *out = s;
        *n_out = d->n_alive;
        *source = "points table";
        return 0;
    }
    size_t ne = 0;
    an_point2 *ev = malloc((2 * d->n_inst + 1) * sizeof *ev);
    if (!ev)
        return FM_ENOMEM;
    for (size_t i = 0; i < d->n_inst; i++) {
        const an_inst *p = &d->inst[i];
        if ((fn >= 0 && p->fn != fn) || p->created_ns <= 0)
            continue;
        ev[ne++] = (an_point2){(double)(p->created_ns - t0) / 1e9, 1};
        int64_t e = inst_end(p, t1);
        if (e < t1 || p->stopped_ns > 0)
            ev[ne++] = (an_point2){(double)(e - t0) / 1e9, -1};
    }
    qsort(ev, ne, sizeof *ev, cmp_double); /* sorts by x (the first member) */
    double alive = 0;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        alive += ev[i].y;
        if (k && ev[k - 1].x == ev[i].x)
            ev[k - 1].y = alive;
        else
            ev[k++] = (an_point2){ev[i].x, alive};
    }
    *out = ev;
    *n_out = k;
    *source = "instances table";
    return 0;
}

/* Time-weighted mean and maximum of a step series over [from_s, end_s]: from 0 for a series
 * derived from instance lifetimes (no instance before the first), from the first sample for a
 * recorded series (nothing is known before it). */
static void series_stats(const an_point2 *s, size_t n, bool recorded, double end_s, an_num *max,
                         an_num *mean)
{
    if (n == 0) {
        *max = *mean = none("no instance records");
        return;
    }
    double mx = 0, area = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, s[i].y);
        double next = i + 1 < n ? s[i + 1].x : end_s;
        if (next > s[i].x)
            area += s[i].y * (next - s[i].x);
    }
    double from = recorded ? s[0].x : 0;
    *max = num(mx);
    *mean = end_s > from ? num(area / (end_s - from)) : none("run has no duration");
}

static void group_metrics(an_run *run, const an_data *d, int fn, an_metrics *m, double level,
                          double slo_ms, bool per_instance_billing, int64_t t0, int64_t t1,
                          double *lat, double *disp)
{
    size_t n_lat = 0, n_disp = 0;
    int64_t first_sent = INT64_MAX, last_done = 0, first_sched = INT64_MAX, last_sched = 0;
    double init_sum = 0, busy_ms = 0, billed_ms = 0;
    int64_t init_n = 0, busy_n = 0;
    memset(m, 0, sizeof *m);
    m->function = fn >= 0 ? d->fn[fn] : NULL;
    for (size_t i = 0; i < d->n_req; i++) {
        const an_req *q = &d->req[i];
        if (fn >= 0 && q->fn != fn)
            continue;
        m->n_requests++;
        if (q->scheduled_ns > 0) {
            first_sched = q->scheduled_ns < first_sched ? q->scheduled_ns : first_sched;
            last_sched = q->scheduled_ns > last_sched ? q->scheduled_ns : last_sched;
        }
        if (q->sent_ns > 0 && q->scheduled_ns > 0)
            disp[n_disp++] = (double)(q->sent_ns - q->scheduled_ns) / 1e6;
        if (q->sent_ns > 0)
            first_sent = q->sent_ns < first_sent ? q->sent_ns : first_sent;
        if (q->done_ns > last_done)
            last_done = q->done_ns;
        m->n_throttled += q->throttled;
        m->n_invoked += q->invoked;
        bool answered = q->sent_ns > 0 && q->done_ns >= q->sent_ns;
        bool ok2xx = answered && q->http_code >= 200 && q->http_code < 300;
        if (ok2xx) {
            double ms = (double)(q->done_ns - q->sent_ns) / 1e6;
            lat[n_lat++] = ms;
            m->n_2xx++;
            if (slo_ms <= 0 || ms <= slo_ms) /* exactly at the SLO counts as success */
                m->n_success++;
        }
        if (q->invoked && q->cold) {
            m->cold_starts++;
            if (q->init_ms > 0) {
                init_sum += q->init_ms;
                init_n++;
            }
        }
        if (q->invoked && q->duration_ms > 0) {
            busy_ms += q->duration_ms;
            busy_n++;
        }
        if (!per_instance_billing && q->invoked && !an_req_on_provisioned(d, q))
            billed_ms += q->billed_ms > 0     ? q->billed_ms
                         : q->duration_ms > 0 ? q->duration_ms * q->share
                                              : 0;
    }
    m->n_failed = m->n_requests - m->n_success;
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    latency_stats(m, lat, n_lat, level);

    if (m->n_requests == 0) {
        m->success_ratio = (an_est){.est = none("no requests"), .ci_why = "no requests"};
    } else {
        m->success_ratio.est = num((double)m->n_success / (double)m->n_requests);
        m->success_ratio.has_ci = true;
        m->success_ratio.coverage = level;
        an_wilson(m->n_success, m->n_requests, level, &m->success_ratio.lo, &m->success_ratio.hi);
    }
    if (m->n_2xx == 0)
        m->throughput_rps = none("no successful requests");
    else if (last_done > first_sent && first_sent != INT64_MAX)
        m->throughput_rps = num((double)m->n_2xx / ((double)(last_done - first_sent) / 1e9));
    else
        m->throughput_rps = none("run has no duration");
    if (m->n_requests < 2 || last_sched <= first_sched)
        m->offered_rps = none(m->n_requests ? "run has no duration" : "no requests");
    else /* n − 1 gaps over the scheduled span */
        m->offered_rps =
            num((double)(m->n_requests - 1) / ((double)(last_sched - first_sched) / 1e9));

    m->cold_rate = m->n_invoked ? num((double)m->cold_starts / (double)m->n_invoked)
                                : none("no request reached an instance");
    m->init_ms = init_n ? num(init_sum / (double)init_n) : none("no init time recorded");

    /* instances and cold-start phases */
    double ph_sum[AN__PHASES] = {0}, inst_s = 0, pc_s = 0;
    int64_t ph_n[AN__PHASES] = {0};
    for (size_t i = 0; i < d->n_inst; i++) {
        const an_inst *p = &d->inst[i];
        if (fn >= 0 && p->fn != fn)
            continue;
        m->n_instances++;
        for (int k = 0; k < AN__PHASES; k++)
            if (p->phase[k] > 0) {
                ph_sum[k] += p->phase[k];
                ph_n[k]++;
            }
        if (p->created_ns > 0) {
            double s = (double)(inst_end(p, t1) - p->created_ns) / 1e9;
            inst_s += s > 0 ? s : 0;
            if (p->provisioned)
                pc_s += s > 0 ? s : 0;
        }
    }
    for (int k = 0; k < AN__PHASES; k++)
        m->phase_ms[k] = ph_n[k] ? num(ph_sum[k] / (double)ph_n[k])
                                 : none(m->n_instances ? "not recorded" : "no instance records");

    an_point2 *series;
    size_t n_series;
    const char *src;
    if (instance_series(d, fn, t0, t1, &series, &n_series, &src) == 0) {
        series_stats(series, n_series, strcmp(src, "points table") == 0, (double)(t1 - t0) / 1e9,
                     &m->instances_max, &m->instances_mean);
        if (fn < 0 && d->n_busy > 0 && (run->busy = malloc(d->n_busy * sizeof *run->busy))) {
            for (size_t i = 0; i < d->n_busy; i++)
                run->busy[i] = (an_point2){(d->busy[i].x - (double)t0) / 1e9, d->busy[i].y};
            run->n_busy = d->n_busy;
        }
        if (fn < 0) {
            run->instances = series;
            run->n_instances = n_series;
            run->instances_source = src;
        } else {
            free(series);
        }
    } else {
        m->instances_max = m->instances_mean = none("out of memory");
    }

    /* utilisation: busy instance-seconds over billed instance-seconds */
    m->busy_s = busy_n ? num(busy_ms / 1000) : none("no execution durations recorded");
    double billed_s = per_instance_billing ? inst_s * run->workers : billed_ms / 1000 + pc_s;
    m->billed_s = billed_s > 0 ? num(billed_s)
                               : none(per_instance_billing ? "no instance lifetimes recorded"
                                                           : "nothing billed");
    if (m->busy_s.why)
        m->utilisation = m->busy_s;
    else if (m->billed_s.why)
        m->utilisation = m->billed_s;
    else
        m->utilisation = num(m->busy_s.v / m->billed_s.v);

    bool on_schedule = true;
    for (size_t i = 0; i < n_disp && on_schedule; i++)
        on_schedule = disp[i] == 0;
    if (run->info.mode && strcmp(run->info.mode, "sim") == 0 && on_schedule) {
        /* the simulator sends every request at its scheduled instant: a 0 would look measured */
        m->dispatch_mean_ms = m->dispatch_p99_ms = m->dispatch_max_ms =
            none("simulated: sent on schedule");
    } else if (n_disp == 0) {
        m->dispatch_mean_ms = m->dispatch_p99_ms = m->dispatch_max_ms =
            none("no send times recorded");
    } else {
        double s = 0;
        for (size_t i = 0; i < n_disp; i++)
            s += disp[i];
        qsort(disp, n_disp, sizeof *disp, cmp_double);
        m->dispatch_mean_ms = num(s / (double)n_disp);
        m->dispatch_p99_ms = num(an_quantile_sorted(disp, n_disp, 0.99));
        m->dispatch_max_ms = num(disp[n_disp - 1]);
    }
    if (fn < 0) { /* keep the sorted latencies for the CDF figure */
        run->lat_sorted = malloc((n_lat ? n_lat : 1) * sizeof *lat);
        if (run->lat_sorted) {
            memcpy(run->lat_sorted, lat, n_lat * sizeof *lat);
            run->n_lat = n_lat;
        }
    }
}

/* ---- figures' raw series -------------------------------------------------------------------- */

static int timeline_series(an_run *run, const an_data *d, int64_t t0, int64_t t1, double slo_ms)
{
    /* arrival-rate bins: 1 s, widened so that a long run has at most 2000 of them */
    int64_t width = 1000000000LL, span = t1 - t0;
    while (span / width >= 2000)
        width *= 2;
    size_t nb = (size_t)(span / width) + 1;
    run->timeline = malloc((d->n_req ? d->n_req : 1) * sizeof *run->timeline);
    run->timeline_ok = malloc((d->n_req ? d->n_req : 1) * sizeof *run->timeline_ok);
    run->arrivals = calloc(nb, sizeof *run->arrivals);
    if (!run->timeline || !run->timeline_ok || !run->arrivals)
        return FM_ENOMEM;
    double w_s = (double)width / 1e9;
    for (size_t b = 0; b < nb; b++)
        run->arrivals[b].x = (double)b * w_s;
    run->n_arrivals = d->n_req ? nb : 0;
    for (size_t i = 0; i < d->n_req; i++) {
        const an_req *q = &d->req[i];
        int64_t at = q->scheduled_ns > 0 ? q->scheduled_ns : q->sent_ns;
        if (at >= t0 && at > 0)
            run->arrivals[(at - t0) / width].y += 1 / w_s;
        if (q->sent_ns > 0 && q->done_ns >= q->sent_ns) {
            double ms = (double)(q->done_ns - q->sent_ns) / 1e6;
            run->timeline[run->n_timeline] = (an_point2){(double)(q->sent_ns - t0) / 1e9, ms};
            run->timeline_ok[run->n_timeline++] =
                q->http_code >= 200 && q->http_code < 300 && (slo_ms <= 0 || ms <= slo_ms);
        }
    }
    return 0;
}

/* ---- cost ----------------------------------------------------------------------------------- */

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Which catalogue entry the run was recorded on: the configuration's "offer" when it names one,
 * else the profile's default (lambda by "arch", gcf gen1, managed/server by "instance_type"). */
static const cost_offer *own_offer(an_run *run, const cost_catalog *cat, const char *snap,
                                   const cJSON *cfg, cost_profile prof)
{
    const char *id = json_str(cfg, "offer"), *arch = json_str(cfg, "arch");
    const char *type = json_str(cfg, "instance_type");
    if (id) {
        const cost_offer *o = cost_offer_find(cat, snap, id);
        if (!o)
            snprintf(run->own_why, sizeof run->own_why,
                     "no price: catalogue entry '%s' is not in snapshot '%s'", id, snap);
        return o;
    }
    if ((prof == COST_MANAGED || prof == COST_SERVER) && !type) {
        snprintf(run->own_why, sizeof run->own_why,
                 "no price: the run does not record its instance type");
        return NULL;
    }
    const cost_offer *o = cost_offer_default(cat, snap, prof, arch, type);
    bool per_instance = prof == COST_MANAGED || prof == COST_SERVER;
    if (!o && per_instance)
        snprintf(run->own_why, sizeof run->own_why,
                 "no price: no %s entry for instance type '%s' in snapshot '%s'",
                 cost_profile_name(prof), type, snap);
    else if (!o)
        snprintf(run->own_why, sizeof run->own_why,
                 "no price: no default %s entry in snapshot '%s'", cost_profile_name(prof), snap);
    return o;
}

static int run_costs(an_run *run, const an_data *d, const an_opts *o, int64_t t1)
{
    cost_usage *u = &run->usage;
    cost_invocation *inv = calloc(d->n_req ? d->n_req : 1, sizeof *inv);
    cost_span *spans = calloc(d->n_inst ? d->n_inst : 1, sizeof *spans);
    if (!inv || !spans) {
        free(inv);
        free(spans);
        return FM_ENOMEM;
    }
    /* a request that did not record its memory size gets the run's configured one */
    cJSON *cfg = cJSON_Parse(run->info.config ? run->info.config : "{}");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(cfg, "memory_mb");
    int cfg_mb = cJSON_IsNumber(mem) && mem->valuedouble > 0 ? (int)mem->valuedouble : 0;
    cJSON_Delete(cfg);
    for (size_t i = 0; i < d->n_req; i++) {
        const an_req *q = &d->req[i];
        inv[i] = (cost_invocation){.duration_ms = q->duration_ms > 0 ? q->duration_ms : 0,
                                   .billed_ms = q->billed_ms > 0 ? q->billed_ms : 0,
                                   .init_ms = q->cold && q->init_ms > 0 ? q->init_ms : 0,
                                   .share = q->share,
                                   .memory_mb = q->memory_mb > 0 ? q->memory_mb : cfg_mb,
                                   .on_provisioned = an_req_on_provisioned(d, q),
                                   .invoked = q->invoked};
        if (q->http_code >= 200 && q->http_code < 300)
            u->n_ok++;
    }
    for (size_t i = 0; i < d->n_inst; i++) {
        const an_inst *p = &d->inst[i];
        double s = p->created_ns > 0 ? (double)(inst_end(p, t1) - p->created_ns) / 1e9 : 0;
        spans[u->n_spans++] =
            (cost_span){s > 0 ? s : 0, p->memory_mb > 0 ? p->memory_mb : cfg_mb, p->provisioned};
    }
    u->inv = inv;
    u->n_inv = d->n_req;
    u->spans = spans;
    run->snapshot = o->snapshot ? o->snapshot : "current";
    if (!o->prices) {
        snprintf(run->own_why, sizeof run->own_why, "no price: no price catalogue loaded");
        return 0;
    }
    cost_profile prof;
    bool known = cost_profile_parse(run->info.profile, &prof) == 0;
    u->profile = known ? prof : COST_LAMBDA;
    if (!cost_catalog_snapshot(o->prices, run->snapshot)) {
        snprintf(run->own_why, sizeof run->own_why, "no price: no snapshot '%s' in the catalogue",
                 run->snapshot);
        return 0;
    }
    const cost_offer *own = NULL;
    if (!known) {
        snprintf(run->own_why, sizeof run->own_why,
                 "no price: profile '%s' is not a billing profile",
                 run->info.profile ? run->info.profile : "(none)");
    } else {
        cJSON *cfg = cJSON_Parse(run->info.config ? run->info.config : "{}");
        own = own_offer(run, o->prices, run->snapshot, cfg, prof);
        cJSON_Delete(cfg);
    }
    if (own) {
        run->has_own = true;
        cost_bill(own, u, true, &run->own);
    }
    const cost_offer *all;
    size_t n = cost_catalog_offers(o->prices, &all);
    run->whatif = calloc(n ? n : 1, sizeof *run->whatif);
    if (!run->whatif)
        return FM_ENOMEM;
    if (!known)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].snapshot, run->snapshot) || !cost_offer_applies(&all[i], u))
            continue;
        if (&all[i] == own)
            run->whatif[run->n_whatif++] = run->own;
        else
            cost_bill(&all[i], u, false, &run->whatif[run->n_whatif++]);
    }
    return 0;
}

/* ---- entry points -----------------------------------------------------------------------------
 */

/* Workers per instance from the run's configuration (1 when it does not say). */
static int run_workers(const an_run *run)
{
    cJSON *cfg = cJSON_Parse(run->info.config ? run->info.config : "{}");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "workers");
    int w =
        cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e6 ? (int)v->valuedouble : 1;
    cJSON_Delete(cfg);
    return w;
}

static double run_slo(an_run *run, const an_opts *o)
{
    if (o->slo_ms > 0) {
        run->slo_source = "--slo-ms";
        return o->slo_ms;
    }
    cJSON *cfg = cJSON_Parse(run->info.config ? run->info.config : "{}");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "slo_ms");
    double slo = cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
    cJSON_Delete(cfg);
    run->slo_source = slo > 0 ? "run configuration" : "none";
    return slo;
}

/* Why: comparisons are fair only between runs of one workload. The run configuration's
 * "workload_spec" (arrival process, rates, count, seed) and "scale" identify it; a run that
 * records neither has no key and is compared by what it measured (an_same_workload). */
static char *run_workload_key(const an_run *run)
{
    cJSON *cfg = cJSON_Parse(run->info.config ? run->info.config : "{}");
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(cfg, "workload_spec");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(cfg, "scale");
    char *key = NULL;
    if (cJSON_IsObject(ws)) {
        char *spec = cJSON_PrintUnformatted(ws);
        double scale = cJSON_IsNumber(sc) && sc->valuedouble > 0 ? sc->valuedouble : 1;
        size_t n = spec ? strlen(spec) + 40 : 0;
        if (spec && (key = malloc(n)))
            snprintf(key, n, "%s scale=%.17g", spec, scale);
        free(spec);
    }
    cJSON_Delete(cfg);
    return key;
}

bool an_same_workload(const an_run *a, const an_run *b)
{
    if (a->workload || b->workload)
        return a->workload && b->workload && strcmp(a->workload, b->workload) == 0;
    const an_num *x = &a->total.offered_rps, *y = &b->total.offered_rps;
    if (a->total.n_requests != b->total.n_requests || x->why || y->why)
        return false;
    return fabs(x->v - y->v) <= 0.02 * fmax(x->v, y->v); /* the same schedule, measured twice */
}

int analyze_run(store *s, int64_t run_id, const an_opts *o, an_run **out, fm_err *err)
{
    *out = NULL;
    an_run *run = calloc(1, sizeof *run);
    an_data d = {0};
    if (!run)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = store_run_get(s, run_id, on_run, run, err);
    if (rc == 0) {
        rc = fm_err_set(err, FM_ENOTFOUND, "no run with id %lld", (long long)run_id);
        goto fail;
    }
    if (rc != 1)
        goto fail;
    rc = store_requests_each(s, run_id, on_request, &d, err);
    if (!rc)
        rc = store_instances_each(s, run_id, on_instance, &d, err);
    if (!rc)
        rc = store_points_each(s, run_id, on_point, &d, err);
    if (rc) {
        if (rc == FM_ENOMEM)
            fm_err_set(err, rc, "out of memory");
        goto fail;
    }
    if (an_data_index(&d)) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto fail;
    }
    double level = o->level > 0 ? o->level : 0.95;
    run->slo_ms = run_slo(run, o);
    run->workers = run_workers(run);
    run->workload = run_workload_key(run);
    int64_t t0, t1;
    time_span(&d, &t0, &t1);
    cost_profile prof;
    bool per_inst = cost_profile_parse(run->info.profile, &prof) == 0 &&
                    (prof == COST_MANAGED || prof == COST_SERVER);
    double *lat = malloc((d.n_req ? d.n_req : 1) * sizeof *lat);
    double *disp = malloc((d.n_req ? d.n_req : 1) * sizeof *disp);
    run->funcs = calloc((size_t)(d.n_fn ? d.n_fn : 1), sizeof *run->funcs);
    rc = FM_ENOMEM;
    if (lat && disp && run->funcs) {
        group_metrics(run, &d, -1, &run->total, level, run->slo_ms, per_inst, t0, t1, lat, disp);
        for (int f = 0; f < d.n_fn; f++) {
            if (d.n_fn == 1) /* one function: its metrics are the run's; don't compute twice */
                run->funcs[f] = run->total;
            else
                group_metrics(run, &d, f, &run->funcs[f], level, run->slo_ms, per_inst, t0, t1, lat,
                              disp);
            run->funcs[f].function = strdup(d.fn[f]);
        }
        run->n_funcs = d.n_fn;
        rc = timeline_series(run, &d, t0, t1, run->slo_ms);
        if (!rc)
            rc = run_costs(run, &d, o, t1);
    }
    free(lat);
    free(disp);
    if (rc) {
        fm_err_set(err, rc, "out of memory");
        goto fail;
    }
    an_data_release(&d);
    char label[300];
    snprintf(label, sizeof label, "%s (#%lld)", run->info.name ? run->info.name : "?",
             (long long)run->info.id);
    if (analyze_run_label(run, label)) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto fail;
    }
    *out = run;
    return 0;
fail:
    an_data_release(&d);
    analyze_run_free(run);
    return rc;
}

int analyze_run_label(an_run *r, const char *label)
{
    char *l = strdup(label);
    if (!l)
        return FM_ENOMEM;
    free(r->label);
    r->label = l;
    return 0;
}

void analyze_run_free(an_run *r)
{
    if (!r)
        return;
    free((char *)r->info.name);
    free((char *)r->info.mode);
    free((char *)r->info.profile);
    free((char *)r->info.config);
    free(r->workload);
    free((char *)r->info.host);
    free((char *)r->info.status);
    for (int i = 0; i < r->n_funcs; i++)
        free((char *)r->funcs[i].function);
    free(r->funcs);
    free(r->label);
    free(r->lat_sorted);
    free(r->timeline);
    free(r->timeline_ok);
    free(r->arrivals);
    free(r->instances);
    free(r->busy);
    free((void *)r->usage.inv);
    free((void *)r->usage.spans);
    free(r->whatif);
    free(r);
}

const char *an_fmt(char *buf, size_t cap, an_num v, int decimals)
{
    if (v.why)
        snprintf(buf, cap, "%s", v.why);
    else
        snprintf(buf, cap, "%.*f", decimals, v.v);
    return buf;
}

static int cmp_inst(const void *a, const void *b)
{
    int64_t x = ((const an_inst *)a)->id, y = ((const an_inst *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_pt(const void *a, const void *b)
{
    int64_t x = ((const an_pt *)a)->t_ns, y = ((const an_pt *)b)->t_ns;
    return (x > y) - (x < y);
}

/* Why sort again: the store returns instances in id order today; sorting here keeps the binary
 * search below correct whatever order a reader returns. Points come ordered by metric, so they
 * are sorted by time and summed per sample time: the per-state gauges when the run recorded
 * them, else the "instances" totals. */
int an_data_index(an_data *d)
{
    if (d->n_inst > 1)
        qsort(d->inst, d->n_inst, sizeof *d->inst, cmp_inst);
    if (d->n_pts == 0)
        return 0;
    qsort(d->pts, d->n_pts, sizeof *d->pts, cmp_pt);
    bool states = false;
    for (size_t i = 0; i < d->n_pts; i++)
        states |= d->pts[i].kind != AN_PT_TOTAL;
    d->alive = malloc(d->n_pts * sizeof *d->alive);
    d->busy = malloc(d->n_pts * sizeof *d->busy);
    if (!d->alive || !d->busy)
        return FM_ENOMEM;
    for (size_t i = 0; i < d->n_pts;) {
        int64_t t = d->pts[i].t_ns;
        double alive = 0, busy = 0;
        for (; i < d->n_pts && d->pts[i].t_ns == t; i++) {
            if ((d->pts[i].kind != AN_PT_TOTAL) == states)
                alive += d->pts[i].value;
            if (d->pts[i].kind == AN_PT_BUSY)
                busy += d->pts[i].value;
        }
        d->alive[d->n_alive++] = (an_point2){(double)t, alive};
        if (states)
            d->busy[d->n_busy++] = (an_point2){(double)t, busy};
    }
    return 0;
}

bool an_req_on_provisioned(const an_data *d, const an_req *q)
{
    size_t lo = 0, hi = d->n_inst;
    if (q->instance < 0)
        return false;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->inst[mid].id < q->instance)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < d->n_inst && d->inst[lo].id == q->instance && d->inst[lo].provisioned;
}
