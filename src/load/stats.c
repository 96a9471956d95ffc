/* Schedule statistics for `faasml load --dry-run` and for tests: count, mean rate, the busiest
 * second and the empirical index of dispersion over several windows, next to the theory for
 * MMPP specs. Runs a fresh iterator to the end, so it sees exactly what a run would send. */
#include "load.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double idc_windows[LOAD_IDC_WINDOWS] = {0.1, 1, 10, 60};

/* The time a schedule ends when no bound cuts it, or 0 when only the last arrival says. */
static int64_t natural_span_ns(const load_spec *s)
{
    int64_t t = 0;
    if (s->process == LOAD_PROC_PIECEWISE && !s->repeat)
        for (int i = 0; i < s->nseg; i++)
            t += s->seg[i].duration_ns;
    if (s->process == LOAD_PROC_AZURE)
        t = (int64_t)s->azure_minutes * 60000000000LL;
    return t;
}

/* Var/mean of counts over full windows of w base bins; NAN with fewer than 10 windows. */
static double idc_over(const uint32_t *bins, size_t nbins, size_t w)
{
    size_t nw = w ? nbins / w : 0;
    if (nw < 10)
        return NAN;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < nw; i++) {
        double c = 0;
        for (size_t j = 0; j < w; j++)
            c += bins[i * w + j];
        sum += c;
        sq += c * c;
    }
    double mean = sum / (double)nw;
    if (!(mean > 0))
        return NAN;
    double var = (sq - sum * mean) / (double)(nw - 1);
    return var / mean;
}

int load_schedule_stats_compute(const load_spec *spec, load_schedule_stats *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    load_arrival *a;
    int rc = load_arrival_new(spec, &a, err);
    if (rc)
        return rc;
    /* the span bounds the bins: duration bound, natural end, or grown as arrivals come */
    int64_t span = spec->duration_ns ? spec->duration_ns : natural_span_ns(spec);
    int64_t base = 100000000; /* 100 ms */
    if (span > 0)
        while (span / base > 20000000)
            base *= 10;
    size_t cap = span > 0 ? (size_t)(span / base) + 1 : 4096, nb = 0;
    uint32_t *bins = calloc(cap, sizeof *bins);
    if (!bins) {
        load_arrival_free(a);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int64_t t;
    while (load_arrival_next(a, &t)) {
        if (out->count == 0)
            out->first_ns = t;
        out->last_ns = t;
        out->count++;
        size_t b = (size_t)(t / base);
        if (b >= cap) {
            size_t ncap = cap;
            while (ncap <= b)
                ncap *= 2;
            if (ncap > (size_t)1 << 28) { /* 27 days at 100 ms: coarsen instead of growing */
                free(bins);
                load_arrival_free(a);
                return fm_err_set(err, FM_ERANGE,
                                  "schedule too long for statistics (give a --duration)");
            }
            uint32_t *n = realloc(bins, ncap * sizeof *n);
            if (!n) {
                free(bins);
                load_arrival_free(a);
                return fm_err_set(err, FM_ENOMEM, "out of memory");
            }
            memset(n + cap, 0, (ncap - cap) * sizeof *n);
            bins = n;
            cap = ncap;
        }
        if (bins[b] < UINT32_MAX)
            bins[b]++;
        nb = FM_MAX(nb, b + 1);
    }
    load_arrival_free(a);
    if (span <= 0)
        span = out->last_ns;
    out->span_s = (double)span / 1e9;
    out->mean_rate = out->span_s > 0 ? (double)out->count / out->span_s : NAN;
    /* only windows fully inside the span count */
    size_t full = (size_t)(span / base);
    if (full > nb && full <= cap)
        nb = full;
    else if (full < nb)
        nb = full;
    size_t per_s = (size_t)(1000000000 / base);
    if (per_s == 0)
        per_s = 1;
    for (size_t i = 0; i * per_s < FM_MAX(nb, (size_t)1); i++) {
        uint64_t c = 0;
        for (size_t j = i * per_s; j < (i + 1) * per_s && j < cap; j++)
            c += bins[j];
        out->max_per_s = FM_MAX(out->max_per_s, c);
    }
    for (int w = 0; w < LOAD_IDC_WINDOWS; w++) {
        out->idc_window_s[w] = idc_windows[w];
        double bw = idc_windows[w] * 1e9 / (double)base;
        out->idc[w] = bw >= 1 ? idc_over(bins, nb, (size_t)llround(bw)) : NAN;
    }
    free(bins);
    if (spec->process == LOAD_PROC_MMPP && load_mmpp_analyze(&spec->mmpp, &out->mmpp, NULL) == 0) {
        out->have_mmpp = true;
        for (int w = 0; w < LOAD_IDC_WINDOWS; w++)
            out->mmpp_idc[w] = load_mmpp_idc(&out->mmpp, spec->mmpp.rate, idc_windows[w]);
    }
    return 0;
}
