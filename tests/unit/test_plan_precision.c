/* Precision as a design dimension: the swept setting, the calibration key and the accuracy
 * floor of `faasml plan`. The expected costs are worked out by hand from the calibration below
 * and the shipped Lambda prices (data/prices.yaml, current: 0.0000166667 USD per GB-s, 0.20 USD
 * per 1M requests; 1769 MB = 1.7275 GB). The current offer bills a start's INIT too, so the
 * calibration's cold starts take no time and every request costs its warm duration: d ms costs
 * d/1000 * 1769/1024 * 16.6667 + 0.20 USD per 1M. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan/plan.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* fp32 100 ms, bf16 70 ms, int8 40 ms per request; bf16 keeps cosine 0.9995 and int8 0.985 */
static const char *const cal =
    "service:\n"
    "  - {model: m, precision: fp32, memory_mb: 1769, batch: 1, latency_ms: 100}\n"
    "  - {model: m, precision: bf16, memory_mb: 1769, batch: 1, latency_ms: 70}\n"
    "  - {model: m, precision: int8, memory_mb: 1769, batch: 1, latency_ms: 40}\n"
    "cold_start:\n"
    "  - {model: m, precision: fp32, memory_mb: 1769, load_ms: 0}\n"
    "  - {model: m, precision: bf16, memory_mb: 1769, load_ms: 0}\n"
    "  - {model: m, precision: int8, memory_mb: 1769, load_ms: 0}\n"
    "accuracy:\n"
    "  - {model: m, precision: bf16, samples: 500, cosine_min: 0.9995, cosine_mean: 0.9999,\n"
    "     max_rel_err: 0.01, top1_agreement: 0.998, top5_agreement: 1}\n"
    "  - {model: m, precision: int8, samples: 500, cosine_min: 0.985, cosine_mean: 0.995,\n"
    "     max_rel_err: 0.09, top1_agreement: 0.96, top5_agreement: 0.99}\n";

/* The same without bf16's accuracy entry: bf16 has no measured accuracy. */
static const char *const cal_no_bf16 =
    "service:\n"
    "  - {model: m, precision: fp32, memory_mb: 1769, batch: 1, latency_ms: 100}\n"
    "  - {model: m, precision: bf16, memory_mb: 1769, batch: 1, latency_ms: 70}\n"
    "  - {model: m, precision: int8, memory_mb: 1769, batch: 1, latency_ms: 40}\n"
    "cold_start:\n"
    "  - {model: m, precision: fp32, memory_mb: 1769, load_ms: 0}\n"
    "  - {model: m, precision: bf16, memory_mb: 1769, load_ms: 0}\n"
    "  - {model: m, precision: int8, memory_mb: 1769, load_ms: 0}\n"
    "accuracy:\n"
    "  - {model: m, precision: int8, samples: 500, cosine_min: 0.985, max_rel_err: 0.09,\n"
    "     top1_agreement: 0.96}\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fm_planq_XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file("cal.yaml", cal);
    write_file("cal-no-bf16.yaml", cal_no_bf16);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* A spec sweeping the three precisions on Lambda at 1769 MB; `accuracy` is the floor's text
 * ("" for none). SLO 350 ms: every configuration meets it, cold starts included. */
static void open_spec(plan_spec *s, const char *calfile, const char *accuracy)
{
    char text[1024], path[256];
    snprintf(text, sizeof text,
             "name: t\nseed: 3\nmode: sim\nslo_ms: 350\n%s\ncalibration: %s\n"
             "models: {m: {path: none.onnx}}\n"
             "workloads: {steady: {process: poisson, rate: 5, requests: 400}}\n"
             "platforms:\n  lam:\n    profile: lambda\n    precision: [fp32, bf16, int8]\n"
             "    policy: {inst: {keep_alive: 600s}}\n",
             accuracy, calfile);
    write_file("spec.yaml", text);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    fm_err err = {0};
    if (plan_spec_load(path, s, &err))
        fail_msg("%s", err.msg);
}

static const char *best_precision(const plan_result *r)
{
    return r->best >= 0 ? r->points[r->best].run->precision : "none";
}

static void search(const plan_spec *s, plan_result *r)
{
    plan_search_opts o = {0};
    fm_err err = {0};
    if (plan_search(s, &o, r, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(r->n, 3);
}

static void test_matrix_sweeps_precision(void **state)
{
    (void)state;
    plan_spec s;
    open_spec(&s, "cal.yaml", "");
    plan_run *runs;
    size_t n;
    fm_err err = {0};
    assert_int_equal(plan_matrix(&s, &runs, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(runs[0].name, "t/lam/fp32/sim");
    assert_string_equal(runs[1].name, "t/lam/bf16/sim");
    assert_string_equal(runs[2].name, "t/lam/int8/sim");
    char *cfg = plan_run_config_json(&s, &runs[2]);
    assert_non_null(strstr(cfg, "\"precision\":\"int8\""));
    free(cfg);
    /* the simulator is keyed by the run's precision */
    sim_function f;
    assert_int_equal(plan_sim_function(&s, &runs[1], 1, &f, &err), 0);
    assert_string_equal(f.key.precision, "bf16");
    free(runs);
    plan_spec_release(&s);
}

/* Each precision is simulated with its own service times: the costs are the hand-worked ones. */
static void test_costs_by_precision(void **state)
{
    (void)state;
    plan_spec s;
    open_spec(&s, "cal.yaml", "");
    plan_result r;
    search(&s, &r);
    static const double ms[3] = {100, 70, 40};
    for (int i = 0; i < 3; i++) {
        const plan_point *p = &r.points[i];
        double want = ms[i] / 1000 * 1769.0 / 1024 * 16.6667 + 0.20;
        assert_true(p->priced);
        assert_true(fabs(p->cost_per_1m - want) < 0.001);
        assert_true(fabs(p->p50_ms - ms[i]) < 1e-6);
        assert_true(p->meets_slo);
        assert_true(p->meets_accuracy); /* no floor set */
    }
    /* no floor: int8, the cheapest, wins, and alone makes the front */
    assert_string_equal(best_precision(&r), "int8");
    assert_true(r.points[2].pareto);
    assert_false(r.points[0].pareto);
    assert_false(r.points[1].pareto);
    /* the figures shown beside each point: FP32 is the reference, the others measured */
    assert_true(r.points[0].has_accuracy && r.points[0].acc.cosine_min == 1);
    assert_true(r.points[2].has_accuracy && fabs(r.points[2].acc.cosine_min - 0.985) < 1e-12);
    assert_true(fabs(r.points[2].acc.top1 - 0.96) < 1e-12);
    plan_result_release(&r);
    plan_spec_release(&s);
}

/* A cosine floor of 0.99 rules int8 (0.985) out: bf16 is the cheapest that keeps it. */
static void test_cosine_floor(void **state)
{
    (void)state;
    plan_spec s;
    open_spec(&s, "cal.yaml", "accuracy: {min_cosine: 0.99}");
    plan_result r;
    search(&s, &r);
    assert_true(r.points[2].meets_slo);
    assert_false(r.points[2].meets_accuracy);
    assert_false(r.points[2].pareto);
    assert_true(r.points[1].meets_accuracy);
    assert_true(r.points[1].pareto);
    assert_string_equal(best_precision(&r), "bf16");
    plan_result_release(&r);
    plan_spec_release(&s);
    /* the boundary is inclusive: 0.985 keeps a floor of 0.985 */
    open_spec(&s, "cal.yaml", "accuracy: {min_cosine: 0.985}");
    search(&s, &r);
    assert_string_equal(best_precision(&r), "int8");
    plan_result_release(&r);
    plan_spec_release(&s);
}

/* Top-1 agreement of 0.999 only FP32 keeps (bf16 0.998); a relative-error bound of 0.05 rules
 * int8 (0.09) out but keeps bf16 (0.01). */
static void test_top1_and_error_floors(void **state)
{
    (void)state;
    plan_spec s;
    plan_result r;
    open_spec(&s, "cal.yaml", "accuracy: {min_top1: 0.999}");
    search(&s, &r);
    assert_string_equal(best_precision(&r), "fp32");
    assert_true(r.points[0].pareto);
    plan_result_release(&r);
    plan_spec_release(&s);
    open_spec(&s, "cal.yaml", "accuracy: {max_rel_err: 0.05}");
    search(&s, &r);
    assert_string_equal(best_precision(&r), "bf16");
    plan_result_release(&r);
    plan_spec_release(&s);
}

/* An accuracy not measured is not assumed: bf16 without an entry meets no floor. */
static void test_unmeasured_accuracy(void **state)
{
    (void)state;
    plan_spec s;
    plan_result r;
    open_spec(&s, "cal-no-bf16.yaml", "accuracy: {min_cosine: 0.98}");
    search(&s, &r);
    assert_false(r.points[1].has_accuracy);
    assert_false(r.points[1].meets_accuracy);
    assert_true(r.points[2].meets_accuracy); /* 0.985 >= 0.98 */
    assert_string_equal(best_precision(&r), "int8");
    plan_result_release(&r);
    plan_spec_release(&s);
    open_spec(&s, "cal-no-bf16.yaml", "accuracy: {min_cosine: 0.99}");
    search(&s, &r);
    assert_string_equal(best_precision(&r), "fp32");
    plan_result_release(&r);
    plan_spec_release(&s);
}

static void expect_error(const char *text, const char *want)
{
    char path[256];
    write_file("bad.yaml", text);
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    plan_spec s;
    fm_err err = {0};
    assert_int_not_equal(plan_spec_load(path, &s, &err), 0);
    if (!strstr(err.msg, want))
        fail_msg("error '%s' does not say '%s'", err.msg, want);
}

static void test_bad_precision_and_floor(void **state)
{
    (void)state;
    const char *head = "name: t\ncalibration: cal.yaml\nmodels: {m: {path: x}}\n"
                       "workloads: {w: {process: poisson, rate: 1, requests: 1}}\n";
    char text[512];
    snprintf(text, sizeof text, "%splatforms: {p: {profile: lambda, precision: [fp32, int4]}}\n",
             head);
    expect_error(text, "unknown precision 'int4'");
    snprintf(text, sizeof text, "%splatforms: {p: {profile: lambda, precision: [int8, int8]}}\n",
             head);
    expect_error(text, "lists 'int8' twice");
    snprintf(text, sizeof text, "%saccuracy: {min_cos: 0.9}\nplatforms: {p: {profile: lambda}}\n",
             head);
    expect_error(text, "'min_cos'");
    snprintf(text, sizeof text,
             "%saccuracy: {min_cosine: 1.5}\nplatforms: {p: {profile: lambda}}\n", head);
    expect_error(text, "bad.yaml:5:");
    snprintf(text, sizeof text, "%saccuracy: {}\nplatforms: {p: {profile: lambda}}\n", head);
    expect_error(text, "'accuracy' must be a map");
}

/* A calibration without entries of a precision names the precision in its error. */
static void test_missing_precision_calibration(void **state)
{
    (void)state;
    write_file("cal-fp32.yaml",
               "service:\n  - {model: m, memory_mb: 1769, batch: 1, latency_ms: 100}\n"
               "cold_start:\n  - {model: m, memory_mb: 1769, load_ms: 0}\n");
    plan_spec s;
    open_spec(&s, "cal-fp32.yaml", "");
    plan_search_opts o = {0};
    plan_result r;
    fm_err err = {0};
    assert_int_equal(plan_search(&s, &o, &r, &err), FM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "precision 'bf16'"));
    plan_result_release(&r);
    plan_spec_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_sweeps_precision),
        cmocka_unit_test(test_costs_by_precision),
        cmocka_unit_test(test_cosine_floor),
        cmocka_unit_test(test_top1_and_error_floors),
        cmocka_unit_test(test_unmeasured_accuracy),
        cmocka_unit_test(test_bad_precision_and_floor),
        cmocka_unit_test(test_missing_precision_calibration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
