/* Arrival processes, checked statistically with fixed seeds. Each tolerance is stated next to its
 * check with the standard deviation it was derived from (in theory, or measured over 20 seeds),
 * so a failure means a real bias, not bad luck: all are >= 4 sigma. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/load.h"

/* Under ASan everything is slower: scale the long runs down (tolerances scale with them). */
static double scale(void)
{
    const char *s = getenv("FM_SANITIZED");
    return s && (strcmp(s, "1") == 0 || strcmp(s, "ON") == 0 || strcmp(s, "TRUE") == 0) ? 0.25
                                                                                        : 1.0;
}

static int64_t *collect(const load_spec *s, size_t *n)
{
    load_arrival *a;
    fm_err err = {0};
    assert_int_equal(load_arrival_new(s, &a, &err), 0);
    size_t cap = 1024, k = 0;
    int64_t *v = malloc(cap * sizeof *v), t;
    while (load_arrival_next(a, &t)) {
        if (k == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = t;
    }
    load_arrival_free(a);
    *n = k;
    return v;
}

static void test_constant_exact(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_CONSTANT;
    s.rate = 100;
    s.duration_ns = 10000000000LL;
    size_t n;
    int64_t *v = collect(&s, &n);
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], (int64_t)i * 10000000);
    free(v);
}

static void test_poisson_rate_and_dispersion(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_POISSON;
    s.rate = 1000;
    s.seed = 42;
    s.duration_ns = (int64_t)(200e9 * scale());
    load_schedule_stats ss;
    fm_err err = {0};
    assert_int_equal(load_schedule_stats_compute(&s, &ss, &err), 0);
    double n = 200000 * scale();
    /* count ~ Poisson(n): sd = sqrt(n) = 0.22% of n (0.45% under ASan); tolerance 2% */
    assert_true(fabs(ss.mean_rate / 1000 - 1) < 0.02);
    /* IDC over 2000 windows of 0.1 s: sd ~ sqrt(2/2000) = 3.2% (6.3%); tolerance 30% */
    assert_true(fabs(ss.idc[0] - 1) < 0.3);
    /* gaps: exponential, CV^2 = 1; sd of the estimate ~ sqrt(8/n) = 0.6% (1.3%); tolerance 6% */
    size_t k;
    int64_t *v = collect(&s, &k);
    double sum = 0, sq = 0;
    for (size_t i = 1; i < k; i++) {
        double g = (double)(v[i] - v[i - 1]);
        sum += g;
        sq += g * g;
    }
    double m = sum / (double)(k - 1), var = sq / (double)(k - 1) - m * m;
    assert_true(fabs(var / (m * m) - 1) < 0.06);
    assert_true(fabs(m / 1e6 - 1) < 0.02);
    free(v);
    (void)n;
}

static void test_mmpp_theory_two_state(void **st)
{
    (void)st;
    load_mmpp m = {.k = 2, .rate = {5, 50}, .sojourn_s = {20, 5}, .transition = {{0, 1}, {1, 0}}};
    load_mmpp_info info;
    fm_err err = {0};
    assert_int_equal(load_mmpp_analyze(&m, &info, &err), 0);
    double r1 = 1.0 / 20, r2 = 1.0 / 5, l1 = 5, l2 = 50;
    assert_true(fabs(info.pi[0] - r2 / (r1 + r2)) < 1e-12);
    assert_true(fabs(info.mean_rate - (l1 * r2 + l2 * r1) / (r1 + r2)) < 1e-9);
    /* closed form for the 2-state MMPP (Heffes & Lucantoni) */
    double idc =
        1 + 2 * (l1 - l2) * (l1 - l2) * r1 * r2 / ((r1 + r2) * (r1 + r2) * (l1 * r2 + l2 * r1));
    assert_true(fabs(info.idc_inf - idc) < 1e-6 * idc);
    double w = 7.5, rr = r1 + r2; /* finite window closed form */
    double idc_w = 1 + 2 * (l1 - l2) * (l1 - l2) * r1 * r2 / (rr * rr * rr * (l1 * r2 + l2 * r1)) *
                           (rr - (1 - exp(-rr * w)) / w);
    assert_true(fabs(load_mmpp_idc(&info, m.rate, w) - idc_w) < 1e-6 * idc_w);
    assert_true(fabs(load_mmpp_idc(&info, m.rate, 1e7) - idc) < 1e-3 * idc);
    assert_true(fabs(load_mmpp_idc(&info, m.rate, 1e-6) - 1) < 1e-3);
    /* the same chain as a generator gives the same numbers */
    load_mmpp g = {
        .k = 2, .rate = {5, 50}, .have_generator = true, .generator = {{-r1, r1}, {r2, -r2}}};
    load_mmpp_info gi;
    assert_int_equal(load_mmpp_analyze(&g, &gi, &err), 0);
    assert_true(fabs(gi.idc_inf - info.idc_inf) < 1e-9 * idc);
}

static void test_mmpp_simulated_matches_theory(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_MMPP;
    s.mmpp =
        (load_mmpp){.k = 2, .rate = {5, 50}, .sojourn_s = {20, 5}, .transition = {{0, 1}, {1, 0}}};
    s.seed = 7;
    s.duration_ns = (int64_t)(100000e9 * scale());
    load_schedule_stats ss;
    fm_err err = {0};
    assert_int_equal(load_schedule_stats_compute(&s, &ss, &err), 0);
    assert_true(ss.have_mmpp);
    /* Var N = IDC * mean = 186 * 1.4M: sd 1.2% of the count (2.3% under ASan); tolerance 10% */
    assert_true(fabs(ss.mean_rate / ss.mmpp.mean_rate - 1) < 0.10);
    /* empirical IDC vs theory; the estimates' sd, measured over 20 seeds, is 3.2% (5.7% under
     * ASan) for 60 s windows and 0.4% (0.7%) for 1 s windows; tolerances 25% and 5% */
    assert_true(fabs(ss.idc[3] / ss.mmpp_idc[3] - 1) < 0.25);
    assert_true(fabs(ss.idc[1] / ss.mmpp_idc[1] - 1) < 0.05);
}

static void test_mmpp_occupancy_three_states(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_MMPP;
    s.mmpp = (load_mmpp){.k = 3,
                         .rate = {10, 100, 0},
                         .have_generator = true,
                         .generator = {{-0.5, 0.3, 0.2}, {1.0, -2.0, 1.0}, {0.25, 0.25, -0.5}}};
    s.seed = 3;
    s.duration_ns = (int64_t)(40000e9 * scale());
    load_mmpp_info info;
    fm_err err = {0};
    assert_int_equal(load_mmpp_analyze(&s.mmpp, &info, &err), 0);
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        double row = 0;
        for (int j = 0; j < 3; j++)
            row += info.pi[j] * info.q[j][i];
        assert_true(fabs(row) < 1e-12); /* pi Q = 0 */
        sum += info.pi[i];
    }
    assert_true(fabs(sum - 1) < 1e-12);
    load_arrival *a;
    assert_int_equal(load_arrival_new(&s, &a, &err), 0);
    int64_t t;
    while (load_arrival_next(a, &t)) {
    }
    load_arrival_stats as;
    load_arrival_stats_get(a, &as);
    double tot = 0;
    for (int i = 0; i < 3; i++)
        tot += as.mmpp_time_s[i];
    /* occupancy sd, measured over 20 seeds, <= 0.4% abs (0.75% under ASan); tolerance 3% abs */
    for (int i = 0; i < 3; i++)
        assert_true(fabs(as.mmpp_time_s[i] / tot - info.pi[i]) < 0.03);
    assert_true(as.mmpp_transitions > 1000);
    /* mean rate: sd measured over 20 seeds 1.0% (1.9% under ASan); tolerance 8% */
    assert_true(fabs((double)as.count / (tot) / info.mean_rate - 1) < 0.08);
    load_arrival_free(a);
}

static void test_piecewise_even_exact(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_PIECEWISE;
    s.spacing = LOAD_SPACING_EVEN;
    s.nseg = 1;
    s.seg[0] =
        (load_segment){.kind = LOAD_SEG_RAMP, .a = 0, .b = 100, .duration_ns = 10000000000LL};
    size_t n;
    int64_t *v = collect(&s, &n);
    /* integrated rate 5 t^2: the k-th arrival is at sqrt(k / 5) s; 500 in all */
    assert_int_equal(n, 500);
    for (size_t k = 1; k <= n; k++)
        assert_true(llabs(v[k - 1] - llround(sqrt((double)k / 5) * 1e9)) <= 2);
    free(v);
    /* steps with a pause: 100/s for 10 s, 0 for 5 s, 200/s for 10 s */
    s.nseg = 3;
    s.seg[0] = (load_segment){.kind = LOAD_SEG_STEP, .a = 100, .duration_ns = 10000000000LL};
    s.seg[1] = (load_segment){.kind = LOAD_SEG_STEP, .a = 0, .duration_ns = 5000000000LL};
    s.seg[2] = (load_segment){.kind = LOAD_SEG_STEP, .a = 200, .duration_ns = 10000000000LL};
    v = collect(&s, &n);
    assert_int_equal(n, 3000);
    size_t in_pause = 0;
    for (size_t i = 0; i < n; i++)
        in_pause += v[i] > 10000000000LL && v[i] < 15000000000LL;
    assert_int_equal(in_pause, 0);
    free(v);
    /* sine over whole periods: exactly mean * duration */
    s.nseg = 1;
    s.seg[0] = (load_segment){
        .kind = LOAD_SEG_SINE, .a = 50, .b = 50, .period_s = 4, .duration_ns = 20000000000LL};
    v = collect(&s, &n);
    assert_int_equal(n, 1000);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i] >= v[i - 1]);
    free(v);
}

static void test_piecewise_poisson_repeat(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_PIECEWISE;
    s.nseg = 2;
    s.seg[0] = (load_segment){
        .kind = LOAD_SEG_SINE, .a = 100, .b = 80, .period_s = 10, .duration_ns = 10000000000LL};
    s.seg[1] =
        (load_segment){.kind = LOAD_SEG_RAMP, .a = 100, .b = 300, .duration_ns = 10000000000LL};
    s.repeat = true;
    s.seed = 11;
    s.duration_ns = (int64_t)(2000e9 * scale());
    load_schedule_stats ss;
    fm_err err = {0};
    assert_int_equal(load_schedule_stats_compute(&s, &ss, &err), 0);
    /* one cycle holds 1000 + 2000 expected arrivals in 20 s: mean 150/s; 300k arrivals, Poisson
     * sd 0.2%; tolerance 2% */
    assert_true(fabs(ss.mean_rate / 150 - 1) < 0.02);
    /* the rate varies, so counts over 10 s windows are overdispersed */
    assert_true(ss.idc[2] > 3);
}

static void test_determinism(void **st)
{
    (void)st;
    load_spec specs[4];
    for (int i = 0; i < 4; i++) {
        load_spec_init(&specs[i]);
        specs[i].requests = 20000;
        specs[i].seed = 99;
    }
    specs[0].process = LOAD_PROC_POISSON;
    specs[0].rate = 300;
    specs[1].process = LOAD_PROC_MMPP;
    specs[1].mmpp =
        (load_mmpp){.k = 2, .rate = {1, 30}, .sojourn_s = {3, 1}, .transition = {{0, 1}, {1, 0}}};
    specs[2].process = LOAD_PROC_PIECEWISE;
    specs[2].nseg = 1;
    specs[2].repeat = true;
    specs[2].seg[0] = (load_segment){
        .kind = LOAD_SEG_SINE, .a = 40, .b = 20, .period_s = 3, .duration_ns = 7000000000LL};
    uint64_t counts[] = {10, 0, 3000, 5};
    specs[3].process = LOAD_PROC_AZURE;
    specs[3].azure_counts = counts;
    specs[3].azure_minutes = 4;
    specs[3].requests = 0;
    for (int i = 0; i < 4; i++) {
        size_t n1, n2, n3;
        int64_t *a = collect(&specs[i], &n1), *b = collect(&specs[i], &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1 * sizeof *a);
        specs[i].seed = 100;
        int64_t *c = collect(&specs[i], &n3);
        assert_true(n3 != n1 || memcmp(a, c, n1 * sizeof *a) != 0);
        specs[i].seed = 99;
        free(a);
        free(b);
        free(c);
    }
}

static void test_bounds(void **st)
{
    (void)st;
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_POISSON;
    s.rate = 100;
    s.requests = 123;
    size_t n;
    int64_t *v = collect(&s, &n);
    assert_int_equal(n, 123);
    free(v);
    s.requests = 0;
    s.duration_ns = 2000000000LL;
    v = collect(&s, &n);
    assert_true(n > 100 && n < 300);
    assert_true(v[n - 1] < 2000000000LL);
    free(v);
    s.requests = 10; /* both: whichever comes first */
    v = collect(&s, &n);
    assert_int_equal(n, 10);
    free(v);
}

static void test_azure_spreads(void **st)
{
    (void)st;
    uint64_t counts[] = {60, 0, 7, 600};
    load_spec s;
    load_spec_init(&s);
    s.process = LOAD_PROC_AZURE;
    s.azure_counts = counts;
    s.azure_minutes = 4;
    for (int sp = 0; sp < 3; sp++) {
        s.spread = (load_spread)sp;
        size_t n;
        int64_t *v = collect(&s, &n);
        size_t per[4] = {0};
        for (size_t i = 0; i < n; i++) {
            assert_true(v[i] >= 0 && v[i] < 240000000000LL);
            if (i)
                assert_true(v[i] >= v[i - 1]);
            per[v[i] / 60000000000LL]++;
        }
        if (s.spread != LOAD_SPREAD_POISSON) {
            for (int m = 0; m < 4; m++)
                assert_int_equal(per[m], counts[m]);
        } else {
            assert_int_equal(per[1], 0);
            /* Poisson(600): sd 24.5; tolerance 150 */
            assert_true(per[3] > 450 && per[3] < 750);
        }
        if (s.spread == LOAD_SPREAD_EQUAL)
            assert_int_equal(v[0], 500000000); /* (0 + 0.5) * 60 s / 60 */
        free(v);
    }
}

/* Each case breaks one rule; the message must name it. */
static const char *bad_case(int i, load_spec *s)
{
    switch (i) {
    case 0: s->process = LOAD_PROC_POISSON, s->rate = 0, s->requests = 1; return "rate is 0";
    case 1: s->process = LOAD_PROC_CONSTANT, s->rate = -5, s->requests = 1; return "rate is -5";
    case 2: s->process = LOAD_PROC_POISSON, s->rate = 5; return "never ends";
    case 3:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){
            .k = 2, .rate = {1, 2}, .sojourn_s = {1, 1}, .transition = {{0, 1}, {0.9, 0}}};
        return "row 1 sums to 0.9, not 1";
    case 4:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){
            .k = 2, .rate = {1, 2}, .sojourn_s = {1, 1}, .transition = {{0.5, 0.5}, {1, 0}}};
        return "diagonal must be 0";
    case 5:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){
            .k = 2, .rate = {1, 2}, .have_generator = true, .generator = {{-1, 0.5}, {1, -1}}};
        return "generator row 0 sums to";
    case 6:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){
            .k = 2, .rate = {0, 0}, .sojourn_s = {1, 1}, .transition = {{0, 1}, {1, 0}}};
        return "rates are all 0";
    case 7:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){.k = 3,
                              .rate = {1, 2, 3},
                              .have_generator = true,
                              .generator = {{-1, 1, 0}, {1, -1, 0}, {0, 0, 0}}};
        return "state 2 is never left";
    case 8:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp =
            (load_mmpp){.k = 4,
                        .rate = {1, 2, 3, 4},
                        .have_generator = true,
                        .generator = {{-1, 1, 0, 0}, {1, -1, 0, 0}, {0, 0, -1, 1}, {0, 0, 1, -1}}};
        return "reducible";
    case 9:
        s->process = LOAD_PROC_MMPP, s->requests = 1;
        s->mmpp = (load_mmpp){
            .k = 2, .rate = {1, 2}, .sojourn_s = {1, 0}, .transition = {{0, 1}, {1, 0}}};
        return "sojourn time of state 1";
    case 10:
        s->process = LOAD_PROC_PIECEWISE, s->nseg = 1;
        s->seg[0] = (load_segment){
            .kind = LOAD_SEG_SINE, .a = 50, .b = 60, .period_s = 1, .duration_ns = 1000000000};
        return "amplitude 60 exceeds its mean 50";
    case 11:
        s->process = LOAD_PROC_PIECEWISE, s->nseg = 1;
        s->seg[0] = (load_segment){.kind = LOAD_SEG_STEP, .a = 0, .duration_ns = 1000000000};
        return "rate 0 throughout";
    case 12:
        s->process = LOAD_PROC_PIECEWISE, s->nseg = 1;
        s->seg[0] =
            (load_segment){.kind = LOAD_SEG_RAMP, .a = 5, .b = -1, .duration_ns = 1000000000};
        return "segment 1: rates must be >= 0";
    case 13: s->process = LOAD_PROC_TRACE; return "trace has no arrivals";
    }
    return NULL;
}

static void test_validation_errors(void **st)
{
    (void)st;
    for (int i = 0;; i++) {
        load_spec s;
        load_spec_init(&s);
        const char *want = bad_case(i, &s);
        if (!want)
            break;
        fm_err err = {0};
        load_arrival *a = NULL;
        assert_int_not_equal(load_arrival_new(&s, &a, &err), 0);
        assert_null(a);
        if (!strstr(err.msg, want))
            fail_msg("case %d: '%s' does not contain '%s'", i, err.msg, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_exact),
        cmocka_unit_test(test_poisson_rate_and_dispersion),
        cmocka_unit_test(test_mmpp_theory_two_state),
        cmocka_unit_test(test_mmpp_simulated_matches_theory),
        cmocka_unit_test(test_mmpp_occupancy_three_states),
        cmocka_unit_test(test_piecewise_even_exact),
        cmocka_unit_test(test_piecewise_poisson_repeat),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_azure_spreads),
        cmocka_unit_test(test_validation_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
