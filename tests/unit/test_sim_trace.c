/* Simulator: the Azure 2019 trace reader (rows, errors naming file:line) and a trace spec run
 * end to end, with its cold starts and wasted GB-s worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/sim.h"

#define RUN_HDR                                                                                    \
    "HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum,percentile_Average_0,"           \
    "percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,"      \
    "percentile_Average_99,percentile_Average_100\n"
#define MEM_HDR "HashApp,HashOwner,SampleCount,AverageAllocatedMb\n"

static const char *inv_ok = "HashFunction,HashApp,HashOwner,minute_1,minute_2,minute_3\n"
                            "f1,a1,o1,1,0,1\n"
                            "f2,a2,o2,0,3,0\n";
static const char *run_ok = RUN_HDR "f2,a2,o2,3,9,1,20,1,2,5,8,10,18,20\n"
                                    "f1,a1,o1,2,10,10,10,10,10,10,10,10,10,10\n";
static const char *mem_ok = MEM_HDR "a2,o2,5,130\n"
                                    "a1,o1,10,256\n";

static int parse(const char *inv, const char *run, const char *mem, sim_trace *t, fm_err *err)
{
    sim_trace_files f = {inv,         strlen(inv), "t_inv.csv", run,        strlen(run),
                         "t_run.csv", mem,         strlen(mem), "t_mem.csv"};
    return sim_trace_parse(&f, 0, t, err);
}

static void test_rows(void **state)
{
    (void)state;
    sim_trace t;
    fm_err err = {0};
    int rc = parse(inv_ok, run_ok, mem_ok, &t, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.minutes, 3);
    assert_string_equal(t.fn[0].function, "f1");
    assert_int_equal(t.fn[0].total, 2);
    assert_int_equal(t.fn[0].counts[2], 1);
    assert_int_equal(t.fn[1].total, 3);
    assert_int_equal(t.fn[1].line, 3);
    assert_true(t.fn[0].memory_mb == 256);
    assert_true(t.fn[1].memory_mb == 130);
    /* f2's row, matched by name though in another order: p25 = 5 ms, p99 = 18 ms */
    assert_int_equal(t.fn[1].duration.nq, 7);
    assert_true(fabs(sim_dist_quantile(&t.fn[1].duration, 0.25) - 5) < 1e-9);
    assert_true(fabs(sim_dist_quantile(&t.fn[1].duration, 0.99) - 18) < 1e-9);
    sim_trace_release(&t);
}

static void expect_error(const char *inv, const char *run, const char *mem, const char *want)
{
    sim_trace t;
    fm_err err = {0};
    assert_int_not_equal(parse(inv, run, mem, &t, &err), 0);
    if (!strstr(err.msg, want))
        fail_msg("error '%s' does not say '%s'", err.msg, want);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("HashFunction,HashApp,HashOwner,minute_1,minute_2\nf1,a1,o1,1,2\nf2,a2,o2,1\n",
                 run_ok, mem_ok, "t_inv.csv:3: 4 fields, expected 5 (malformed row)");
    expect_error("HashFunction,HashApp,HashOwner,minute_1,minute_2\nf1,a1,o1,1,-2\n", run_ok,
                 mem_ok, "t_inv.csv:2: minute 2: negative count -2");
    expect_error("HashFunction,HashApp,HashOwner,minute_1\nf1,a1,o1,x\n", run_ok, mem_ok,
                 "t_inv.csv:2: minute 1: count 'x' is not an integer");
    expect_error("HashFunction,HashApp,HashOwner,minute_1\nf1,a1,o1,1\nf9,a1,o1,1\n", run_ok,
                 mem_ok, "t_inv.csv:3: function 'f9' has no row in t_run.csv");
    expect_error("HashFunction,HashApp,HashOwner,minute_1\nf1,a9,o1,1\n", run_ok, mem_ok,
                 "t_inv.csv:2: app 'a9' has no row in t_mem.csv");
    expect_error(inv_ok, RUN_HDR "f1,a1,o1,2,10,10,10,10,10,10,10\n", mem_ok,
                 "t_run.csv:2: 11 fields, expected 14");
    expect_error(inv_ok, RUN_HDR "f1,a1,o1,2,10,10,10,10,10,10,9,10,10,10\n", mem_ok,
                 "t_run.csv:2: percentile_Average_50 is below percentile_Average_25");
    expect_error(inv_ok, run_ok, MEM_HDR "a1,o1,10,-5\n", "t_mem.csv:2: AverageAllocatedMb '-5'");
    expect_error("minute_1\n", run_ok, mem_ok, "t_inv.csv:1: header must be");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* f1 alone (functions: 1): one invocation in minutes 1 and 3, spread `equal`, so at 30 s and
 * 150 s; 10 ms each, cold start 500 ms, 256 MB.
 *   keep-alive 60 s: the instance idles from 30.51 s, stops at 90.51 s; the second is cold too.
 *   keep-alive 10 min: the second is warm. The run ends with the last completion (150.01 s):
 *   lifetime 120.01 s, busy 0.02 s, so wasted = 119.99 s x 0.25 GB = 29.9975 GB-s (the cold
 *   start counts as waste: memory held, no work done).
 *   histogram: at the first completion the histogram is empty, so it keeps the instance for
 *   the whole 10-minute range (standard keep-alive): the second is warm, one start in all. */
static void test_trace_run(void **state)
{
    (void)state;
    char dir[] = "/tmp/fm_trace_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "t_inv.csv", inv_ok);
    write_file(dir, "t_run.csv", run_ok);
    write_file(dir, "t_mem.csv", mem_ok);
    char spec[2048];
    snprintf(spec, sizeof spec,
             "name: t\nseed: 3\n"
             "trace: {dir: %s, prefix: t, functions: 1, spread: equal, cold_start: 500ms,\n"
             "        policy: {fn: {timeout: 15m}, histogram: {range: 10m}}}\n"
             "variants:\n"
             "  - {name: k60, policy: {inst: {keep_alive: 60s}}}\n"
             "  - {name: k10m, policy: {inst: {keep_alive: 10m}}}\n"
             "  - {name: hist, policy: {inst: {keep_alive_policy: histogram}}}\n",
             dir);
    fm_yaml *y = NULL;
    fm_err err = {0};
    assert_int_equal(fm_yaml_load_buf(spec, strlen(spec), "spec.yaml", &y, &err), 0);
    sim_spec s = {0};
    int rc = sim_spec_from_yaml(y, fm_yaml_root(y), NULL, &s, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(s.nfn, 1);
    assert_int_equal(s.nvariants, 3);
    const uint64_t want_cold[3] = {2, 1, 1};
    for (int v = 0; v < 3; v++) {
        assert_int_equal(sim_spec_use_variant(&s, v, &err), 0);
        sim_opts o = {.host = {.kind = SIM_HOST_CLOUD}, .seed = 3};
        sim_result r;
        rc = sim_run(s.fns, s.nfn, &o, &r, &err);
        if (rc)
            fail_msg("%s", err.msg);
        sim_keepalive_summary ks;
        sim_keepalive_summarize(&r, &ks);
        assert_int_equal(ks.invocations, 2);
        assert_int_equal(ks.cold_starts, want_cold[v]);
        assert_true(fabs(ks.cold_pct - 50.0 * (double)want_cold[v]) < 1e-9);
        if (v == 1)
            assert_true(fabs(ks.wasted_gb_s - 29.9975) < 1e-6);
        if (v == 2)
            assert_int_equal(ks.instances_started, 1);
        sim_result_release(&r);
    }
    sim_spec_release(&s);
    fm_yaml_free(y);
    char p[512];
    static const char *const names[] = {"t_inv.csv", "t_run.csv", "t_mem.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_trace_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
