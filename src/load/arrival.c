/* Arrival iterators: one `next` function per process in a table, all pure (seeded RNG, no clock,
 * no I/O). Continuous processes keep time as double nanoseconds and round each arrival, so no
 * error accumulates across millions of arrivals. */
#include "load.h"
#include "load_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct load_arrival {
    load_spec spec; /* copy; trace arrays borrowed from the caller's spec */
    fm_rng rng;
    uint64_t count;
    int64_t last_ns;
    bool done;
    double t; /* ns */
    /* mmpp */
    load_mmpp_info info;
    double jump_cdf[LOAD_MMPP_MAX][LOAD_MMPP_MAX];
    int state;
    double state_end, state_enter; /* ns */
    double occ_ns[LOAD_MMPP_MAX];
    uint64_t transitions;
    /* piecewise */
    int seg;
    double seg_start; /* ns */
    double u;         /* seconds into the current segment */
    double mass;      /* integrated rate still to go before the next arrival */
    /* trace / azure */
    size_t idx;
    size_t minute;
    double *buf; /* arrivals of the current minute, ns */
    size_t buf_n, buf_cap, buf_i;
};

typedef bool (*next_fn)(load_arrival *a, double *t_ns);

/* ---- names ------------------------------------------------------------------------------------
 */
static const char *const process_names[LOAD_PROC__COUNT] = {
    [LOAD_PROC_CONSTANT] = "constant", [LOAD_PROC_POISSON] = "poisson",
    [LOAD_PROC_MMPP] = "mmpp",         [LOAD_PROC_PIECEWISE] = "piecewise",
    [LOAD_PROC_TRACE] = "trace",       [LOAD_PROC_AZURE] = "azure",
};
static const char *const spread_names[] = {"uniform", "poisson", "equal"};
static const char *const unit_names[] = {"s", "ms", "us", "ns"};

const char *load_process_name(load_process p)
{
    return (unsigned)p < LOAD_PROC__COUNT ? process_names[p] : "?";
}

int load_process_parse(const char *s, load_process *out)
{
    for (int i = 0; i < LOAD_PROC__COUNT; i++)
        if (strcmp(s, process_names[i]) == 0) {
            *out = (load_process)i;
            return 0;
        }
    return FM_EINVAL;
}

const char *load_spread_name(load_spread s)
{
    return (unsigned)s < FM_ARRAY_LEN(spread_names) ? spread_names[s] : "?";
}

int load_spread_parse(const char *s, load_spread *out)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(spread_names); i++)
        if (strcmp(s, spread_names[i]) == 0) {
            *out = (load_spread)i;
            return 0;
        }
    return FM_EINVAL;
}

int load_unit_parse(const char *s, load_unit *out)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(unit_names); i++)
        if (strcmp(s, unit_names[i]) == 0) {
            *out = (load_unit)i;
            return 0;
        }
    return FM_EINVAL;
}

/* ---- spec ------------------------------------------------------------------------------------ */
void load_spec_init(load_spec *s)
{
    memset(s, 0, sizeof *s);
    s->process = LOAD_PROC_POISSON;
    s->seed = 1;
}

void load_spec_release(load_spec *s)
{
    if (!s)
        return;
    free(s->trace_ns);
    free(s->azure_counts);
    s->trace_ns = NULL;
    s->azure_counts = NULL;
    s->trace_n = s->azure_minutes = 0;
}

/* Integrated rate of a whole segment (expected arrivals). */
static double seg_mass(const load_segment *g)
{
    double d = (double)g->duration_ns / 1e9;
    switch (g->kind) {
    case LOAD_SEG_STEP: return g->a * d;
    case LOAD_SEG_RAMP: return (g->a + g->b) / 2 * d;
    case LOAD_SEG_SINE: {
        double w = 2 * M_PI / g->period_s;
        return g->a * d + g->b / w * (1 - cos(w * d));
    }
    }
    return 0;
}

static int validate_segments(const load_spec *s, fm_err *err)
{
    if (s->nseg < 1 || s->nseg > LOAD_SEG_MAX)
        return fm_err_set(err, FM_EINVAL, "piecewise schedule needs 1 to %d segments, not %d",
                          LOAD_SEG_MAX, s->nseg);
    double total = 0;
    for (int i = 0; i < s->nseg; i++) {
        const load_segment *g = &s->seg[i];
        if (g->duration_ns <= 0)
            return fm_err_set(err, FM_EINVAL, "segment %d: duration must be > 0", i + 1);
        if (!(g->a >= 0) || !isfinite(g->a) || !isfinite(g->b) ||
            (g->kind != LOAD_SEG_STEP && !(g->b >= 0)))
            return fm_err_set(err, FM_EINVAL, "segment %d: rates must be >= 0", i + 1);
        if (g->kind == LOAD_SEG_SINE) {
            if (!(g->period_s > 0) || !isfinite(g->period_s))
                return fm_err_set(err, FM_EINVAL, "segment %d: sine period must be > 0", i + 1);
            if (g->b > g->a)
                return fm_err_set(err, FM_EINVAL,
                                  "segment %d: sine amplitude %g exceeds its mean %g (the rate "
                                  "would go below 0)",
                                  i + 1, g->b, g->a);
        }
        total += seg_mass(g);
    }
    if (!(total > 0))
        return fm_err_set(err, FM_EINVAL, "piecewise schedule has rate 0 throughout");
    if (s->repeat && total < 1e-3)
        return fm_err_set(err, FM_EINVAL,
                          "piecewise cycle expects %g arrivals: too few to repeat (at least "
                          "0.001)",
                          total);
    return 0;
}

int load_spec_validate(const load_spec *s, fm_err *err)
{
    bool natural_end = false;
    switch (s->process) {
    case LOAD_PROC_CONSTANT:
    case LOAD_PROC_POISSON:
        if (!(s->rate > 0) || !isfinite(s->rate))
            return fm_err_set(err, FM_EINVAL, "rate is %g: must be > 0", s->rate);
        if (s->rate > 1e9)
            return fm_err_set(err, FM_EINVAL, "rate %g is above 1e9 per second", s->rate);
        break;
    case LOAD_PROC_MMPP: {
        load_mmpp_info info;
        int rc = load_mmpp_analyze(&s->mmpp, &info, err);
        if (rc)
            return rc;
        /* the generator loops over state changes between arrivals: bound their number */
        double switches = 0;
        for (int i = 0; i < info.k; i++)
            switches += info.pi[i] * -info.q[i][i];
        if (switches / info.mean_rate > 1e6)
            return fm_err_set(err, FM_EINVAL,
                              "mmpp changes state %g times per arrival on average (at most 1e6): "
                              "rates too low for the sojourn times",
                              switches / info.mean_rate);
        break;
    }
    case LOAD_PROC_PIECEWISE: {
        int rc = validate_segments(s, err);
        if (rc)
            return rc;
        natural_end = !s->repeat;
        break;
    }
    case LOAD_PROC_TRACE:
        if (!s->trace_ns || s->trace_n == 0)
            return fm_err_set(err, FM_EINVAL, "trace has no arrivals");
        natural_end = true;
        break;
    case LOAD_PROC_AZURE:
        if (!s->azure_counts || s->azure_minutes == 0)
            return fm_err_set(err, FM_EINVAL, "azure trace has no minutes");
        natural_end = true;
        break;
    default: return fm_err_set(err, FM_EINVAL, "unknown arrival process %d", (int)s->process);
    }
    if (s->duration_ns < 0)
        return fm_err_set(err, FM_EINVAL, "duration must be >= 0");
    if (!natural_end && s->requests == 0 && s->duration_ns == 0)
        return fm_err_set(err, FM_EINVAL,
                          "a %s schedule never ends: give a request count or a duration",
                          load_process_name(s->process));
    return 0;
}

/* ---- constant, poisson --------------------------------------------------------------------- */
static bool next_constant(load_arrival *a, double *t)
{
    *t = (double)a->count * (1e9 / a->spec.rate);
    return true;
}

static bool next_poisson(load_arrival *a, double *t)
{
    a->t += fm_rng_exp(&a->rng, a->spec.rate) * 1e9;
    *t = a->t;
    return true;
}

/* ---- mmpp ----------------------------------------------------------------------------------- */
static void mmpp_enter(load_arrival *a, int state, double at)
{
    a->state = state;
    a->state_enter = at;
    double out = -a->info.q[state][state];
    a->state_end = out > 0 ? at + fm_rng_exp(&a->rng, out) * 1e9 : INFINITY;
}

static void mmpp_init(load_arrival *a)
{
    int k = a->info.k;
    for (int i = 0; i < k; i++) {
        double out = -a->info.q[i][i], c = 0;
        for (int j = 0; j < k; j++) {
            if (j != i && out > 0)
                c += a->info.q[i][j] / out;
            a->jump_cdf[i][j] = c;
        }
    }
    /* start in a state drawn from the stationary distribution, so the process is stationary */
    double u = fm_rng_uniform(&a->rng), c = 0;
    int s = k - 1;
    for (int i = 0; i < k; i++) {
        c += a->info.pi[i];
        if (u < c) {
            s = i;
            break;
        }
    }
    mmpp_enter(a, s, 0);
}

/* Why: by memorylessness, the next arrival in state i is the earlier of an exponential gap at
 * rate_i and the end of the sojourn; at a sojourn's end the chain jumps and we draw again. */
static bool next_mmpp(load_arrival *a, double *t)
{
    for (;;) {
        double r = a->spec.mmpp.rate[a->state];
        if (r > 0) {
            double cand = a->t + fm_rng_exp(&a->rng, r) * 1e9;
            if (cand < a->state_end) {
                a->t = cand;
                *t = cand;
                return true;
            }
        }
        int i = a->state, k = a->info.k, j = k - 1;
        a->occ_ns[i] += a->state_end - a->state_enter;
        a->t = a->state_end;
        double u = fm_rng_uniform(&a->rng) * a->jump_cdf[i][k - 1];
        for (int c = 0; c < k; c++)
            if (c != i && u < a->jump_cdf[i][c]) {
                j = c;
                break;
            }
        if (j == i) /* only possible through rounding at the top of the cdf */
            j = i == 0 ? 1 : i - 1;
        a->transitions++;
        mmpp_enter(a, j, a->t);
        if ((a->spec.duration_ns && a->t >= (double)a->spec.duration_ns) || !(a->t < 9.2e18))
            return false;
    }
}

/* ---- piecewise ------------------------------------------------------------------------------- */
static double seg_rate(const load_segment *g, double u)
{
    double d = (double)g->duration_ns / 1e9;
    switch (g->kind) {
    case LOAD_SEG_STEP: return g->a;
    case LOAD_SEG_RAMP: return g->a + (g->b - g->a) * u / d;
    case LOAD_SEG_SINE: return g->a + g->b * sin(2 * M_PI * u / g->period_s);
    }
    return 0;
}

/* Integrated rate from 0 to u seconds into the segment. */
static double seg_cum(const load_segment *g, double u)
{
    double d = (double)g->duration_ns / 1e9;
    switch (g->kind) {
    case LOAD_SEG_STEP: return g->a * u;
    case LOAD_SEG_RAMP: return g->a * u + (g->b - g->a) * u * u / (2 * d);
    case LOAD_SEG_SINE: {
        double w = 2 * M_PI / g->period_s;
        return g->a * u + g->b / w * (1 - cos(w * u));
    }
    }
    return 0;
}

/* Why: the inverse of the integrated rate maps a unit-rate process onto rate(t) exactly (time
 * change), so Poisson and even spacing share one code path. Closed forms for step and ramp;
 * Newton safeguarded by bisection for the sine, whose integral is monotone because a >= b. */
static double seg_solve(const load_segment *g, double u0, double m)
{
    double d = (double)g->duration_ns / 1e9;
    switch (g->kind) {
    case LOAD_SEG_STEP: return u0 + m / g->a;
    case LOAD_SEG_RAMP: {
        double c1 = seg_rate(g, u0), c2 = (g->b - g->a) / (2 * d);
        double disc = c1 * c1 + 4 * c2 * m;
        return u0 + 2 * m / (c1 + sqrt(disc > 0 ? disc : 0));
    }
    case LOAD_SEG_SINE: {
        double target = seg_cum(g, u0) + m, lo = u0, hi = d, u = u0 + m / g->a;
        if (!(u > lo && u < hi))
            u = (lo + hi) / 2;
        for (int it = 0; it < 100; it++) {
            double f = seg_cum(g, u) - target;
            if (fabs(f) < 1e-12 * (1 + target))
                break;
            if (f > 0)
                hi = u;
            else
                lo = u;
            double r = seg_rate(g, u), nu = r > 0 ? u - f / r : -1;
            u = (nu > lo && nu < hi) ? nu : (lo + hi) / 2;
            if (hi - lo < 1e-12)
                break;
        }
        return u;
    }
    }
    return d;
}

static double draw_mass(load_arrival *a)
{
    return a->spec.spacing == LOAD_SPACING_EVEN ? 1.0 : fm_rng_exp(&a->rng, 1.0);
}

static bool next_piecewise(load_arrival *a, double *t)
{
    for (;;) {
        const load_segment *g = &a->spec.seg[a->seg];
        double d = (double)g->duration_ns / 1e9;
        double total = seg_mass(g), left = total - seg_cum(g, a->u);
        /* an arrival due exactly at the segment's end belongs to it, despite rounding */
        if (a->mass <= left + 1e-9 * (total > 1 ? total : 1)) {
            double u = seg_solve(g, a->u, a->mass);
            a->u = u < d ? u : d;
            a->mass = draw_mass(a);
            *t = a->seg_start + a->u * 1e9;
            return true;
        }
        a->mass -= left > 0 ? left : 0;
        a->seg_start += (double)g->duration_ns;
        if (a->spec.duration_ns && a->seg_start >= (double)a->spec.duration_ns)
            return false;
        a->u = 0;
        if (++a->seg == a->spec.nseg) {
            if (!a->spec.repeat)
                return false;
            a->seg = 0;
        }
    }
}

/* ---- traces ------------------------------------------------------------------------------------
 */
static bool next_trace(load_arrival *a, double *t)
{
    if (a->idx >= a->spec.trace_n)
        return false;
    *t = (double)a->spec.trace_ns[a->idx++];
    return true;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Why: counts are per minute; the spread decides where inside the minute they fall. A minute's
 * arrivals are generated at once (sorted), then handed out one by one. */
static bool fill_minute(load_arrival *a)
{
    while (a->minute < a->spec.azure_minutes) {
        uint64_t n = a->spec.azure_counts[a->minute];
        double base = (double)a->minute * 60e9;
        a->minute++;
        a->buf_n = a->buf_i = 0;
        if (n == 0)
            continue;
        if (a->spec.spread == LOAD_SPREAD_POISSON) {
            double rate = (double)n / 60.0, x = 0;
            for (;;) {
                x += fm_rng_exp(&a->rng, rate) * 1e9;
                if (x >= 60e9)
                    break;
                if (a->buf_n == a->buf_cap) {
                    size_t cap = a->buf_cap ? a->buf_cap * 2 : 1024;
                    double *nb = realloc(a->buf, cap * sizeof *nb);
                    if (!nb)
                        return false;
                    a->buf = nb;
                    a->buf_cap = cap;
                }
                a->buf[a->buf_n++] = base + x;
            }
            if (a->buf_n == 0)
                continue;
            return true;
        }
        if (n > a->buf_cap) {
            double *nb = realloc(a->buf, n * sizeof *nb);
            if (!nb)
                return false;
            a->buf = nb;
            a->buf_cap = n;
        }
        for (uint64_t j = 0; j < n; j++)
            a->buf[j] = a->spec.spread == LOAD_SPREAD_EQUAL
                            ? base + ((double)j + 0.5) * 60e9 / (double)n
                            : base + fm_rng_uniform(&a->rng) * 60e9;
        if (a->spec.spread == LOAD_SPREAD_UNIFORM)
            qsort(a->buf, n, sizeof *a->buf, cmp_double);
        a->buf_n = n;
        return true;
    }
    return false;
}

static bool next_azure(load_arrival *a, double *t)
{
    if (a->buf_i >= a->buf_n && !fill_minute(a))
        return false;
    *t = a->buf[a->buf_i++];
    return true;
}

static const next_fn next_table[LOAD_PROC__COUNT] = {
    [LOAD_PROC_CONSTANT] = next_constant, [LOAD_PROC_POISSON] = next_poisson,
    [LOAD_PROC_MMPP] = next_mmpp,         [LOAD_PROC_PIECEWISE] = next_piecewise,
    [LOAD_PROC_TRACE] = next_trace,       [LOAD_PROC_AZURE] = next_azure,
};

/* ---- iterator ---------------------------------------------------------------------------------
 */
int load_arrival_new(const load_spec *spec, load_arrival **out, fm_err *err)
{
    *out = NULL;
    int rc = load_spec_validate(spec, err);
    if (rc)
        return rc;
    load_arrival *a = calloc(1, sizeof *a);
    if (!a)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    a->spec = *spec;
    fm_rng root;
    fm_rng_seed(&root, spec->seed);
    a->rng = fm_rng_split(&root, 0x61727269 /* "arri" */);
    a->state = -1;
    a->last_ns = 0;
    if (spec->process == LOAD_PROC_MMPP) {
        load_mmpp_analyze(&spec->mmpp, &a->info, NULL);
        mmpp_init(a);
    } else if (spec->process == LOAD_PROC_PIECEWISE) {
        a->mass = draw_mass(a);
    }
    *out = a;
    return 0;
}

int load_arrival_restart(const load_arrival *a, load_arrival **out, fm_err *err)
{
    return load_arrival_new(&a->spec, out, err);
}

void load_arrival_free(load_arrival *a)
{
    if (!a)
        return;
    free(a->buf);
    free(a);
}

bool load_arrival_next(load_arrival *a, int64_t *t_ns)
{
    if (a->done)
        return false;
    double t;
    if ((a->spec.requests && a->count >= a->spec.requests) || !next_table[a->spec.process](a, &t) ||
        (a->spec.duration_ns && t >= (double)a->spec.duration_ns) || !(t < 9.2e18)) {
        a->done = true;
        return false;
    }
    int64_t v = (int64_t)llround(t);
    if (v < a->last_ns) /* rounding never reorders, but keep the contract exact */
        v = a->last_ns;
    a->last_ns = v;
    a->count++;
    *t_ns = v;
    return true;
}

void load_arrival_stats_get(const load_arrival *a, load_arrival_stats *out)
{
    memset(out, 0, sizeof *out);
    out->count = a->count;
    out->last_ns = a->last_ns;
    out->mmpp_state = a->state;
    if (a->spec.process == LOAD_PROC_MMPP) {
        for (int i = 0; i < a->info.k; i++)
            out->mmpp_time_s[i] = a->occ_ns[i] / 1e9;
        double cur = (double)a->last_ns - a->state_enter;
        if (cur > 0)
            out->mmpp_time_s[a->state] += cur / 1e9;
        out->mmpp_transitions = a->transitions;
    }
}
