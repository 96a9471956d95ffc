/* Simulator tests: distributions, calibration lookup, and the engine against hand-computed
 * outcomes and queueing theory (M/M/1, M/M/c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cost/cost.h"
#include "sim/sim.h"

static bool sanitized(void)
{
    const char *s = getenv("FM_SANITIZED");
    return s && strcmp(s, "1") == 0;
}

/* Writes a calibration file and loads it. */
static sim_calib *calib_from(const char *text)
{
    char path[] = "/tmp/fm_calib_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sim_calib *c = NULL;
    fm_err err = {0};
    int rc = sim_calib_load(path, &c, &err);
    unlink(path);
    if (rc)
        fail_msg("%s", err.msg);
    return c;
}

/* One function served in `service_ms` (constant) after a cold start of `init_ms`. */
static sim_calib *const_calib(double service_ms, double init_ms)
{
    char text[512];
    snprintf(text, sizeof text,
             "service:\n  - {model: m, batch: 1, latency_ms: %g}\n"
             "cold_start:\n  - {model: m, load_ms: %g}\n",
             service_ms, init_ms);
    return calib_from(text);
}

static sim_function fn_with(policy_profile p, const int64_t *sched, size_t n)
{
    sim_function f = {.name = "f",
                      .key = {"m", "faasml", "cpu"},
                      .items = 1,
                      .threads = 1,
                      .schedule_ns = sched,
                      .schedule_n = n};
    policy_config_init(&f.policy, p);
    f.policy.fn.memory_mb = 1769;
    return f;
}

static void run_ok(const sim_function *fns, int n, const sim_opts *o, sim_result *r)
{
    fm_err err = {0};
    int rc = sim_run(fns, n, o, r, &err);
    if (rc)
        fail_msg("sim_run: %s", err.msg);
}

/* ---- distributions -------------------------------------------------------------------------- */

static void test_lognormal_fit(void **state)
{
    (void)state;
    sim_dist d;
    sim_dist_from_p50_p99(&d, 8.0, 12.0);
    assert_true(fabs(sim_dist_quantile(&d, 0.5) - 8.0) < 1e-6);
    assert_true(fabs(sim_dist_quantile(&d, 0.99) - 12.0) < 1e-4);
    fm_rng rng;
    fm_rng_seed(&rng, 3);
    int below = 0, n = 100000;
    for (int i = 0; i < n; i++)
        below += sim_dist_sample(&d, &rng) <= 8.0;
    assert_true(fabs((double)below / n - 0.5) < 0.01);
    sim_dist_from_p50_p99(&d, 5, 5);
    assert_int_equal(d.kind, SIM_DIST_CONST);
}

static void test_calib_interpolation(void **state)
{
    (void)state;
    sim_calib *c = calib_from("service:\n"
                              "  - {model: m, memory_mb: 1769, batch: 1, latency_ms: 10}\n"
                              "  - {model: m, memory_mb: 1769, batch: 9, latency_ms: 50}\n"
                              "  - {model: m, memory_mb: 3538, batch: 1, latency_ms: 6}\n"
                              "cold_start:\n  - {model: m, memory_mb: 1769, load_ms: 100}\n");
    sim_key k = {"m", "faasml", "cpu"};
    sim_dist d;
    fm_err err = {0};
    /* batch 5 lies halfway between 1 and 9 */
    assert_int_equal(sim_calib_service(c, &k, 1769, 5, &d, &err), 0);
    assert_true(fabs(sim_dist_quantile(&d, 0.5) - 30) < 1e-9);
    /* half the memory of the smallest measured size: half the CPU, twice the time */
    assert_int_equal(sim_calib_service(c, &k, 884, 1, &d, &err), 0);
    assert_true(fabs(sim_dist_quantile(&d, 0.5) - 10 * 1769.0 / 884) < 1e-6);
    /* between 1769 and 3538, linear in 1/share: 2653.5 MB → x = 2/3 → 10 + (6-10)*(1/3)/(1/2) */
    assert_int_equal(sim_calib_service(c, &k, 2654, 1, &d, &err), 0);
    double x = 1769.0 / 2654, f = (x - 1) / (0.5 - 1);
    assert_true(fabs(sim_dist_quantile(&d, 0.5) - (10 + f * (6 - 10))) < 1e-6);
    /* an unknown model is named in the error */
    sim_key bad = {"nosuch", "faasml", "cpu"};
    assert_int_equal(sim_calib_service(c, &bad, 1769, 1, &d, &err), FM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nosuch'"));
    sim_calib_free(c);
}

/* Merged files: a later file's entry overrides an earlier one with the same key (docs), and a
 * file that fails to load leaves the calibration as it was. */
static void test_calib_later_wins(void **state)
{
    (void)state;
    const char *a = "service:\n  - {model: m, batch: 1, latency_ms: 10}\n"
                    "  - {model: m, batch: 4, latency_ms: 40}\n"
                    "cold_start:\n  - {model: m, load_ms: 100}\n";
    const char *b = "service:\n  - {model: m, batch: 1, latency_ms: 20}\n"
                    "  - {model: m, batch: 4, latency_ms: 80}\n"
                    "cold_start:\n  - {model: m, load_ms: 200}\n";
    const char *bad = "service:\n  - {model: m, batch: 1, latency_ms: 1}\n"
                      "  - {model: m, batch: 2, latency_ms: -1}\n";
    sim_calib *c = NULL;
    fm_err err = {0};
    assert_int_equal(sim_calib_load_buf(a, strlen(a), "a.yaml", &c, &err), 0);
    assert_int_equal(sim_calib_load_more_buf(c, b, strlen(b), "b.yaml", &err), 0);
    assert_int_equal(sim_calib_load_more_buf(c, bad, strlen(bad), "bad.yaml", &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, "bad.yaml:3:"));
    sim_key k = {"m", "faasml", "cpu"};
    sim_dist d;
    sim_cold cold;
    static const int batch[] = {1, 2, 4, 8};
    static const double want[] = {20, 40, 80, 160}; /* b's values, interpolated, extrapolated */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sim_calib_service(c, &k, 1769, batch[i], &d, &err), 0);
        assert_true(fabs(sim_dist_quantile(&d, 0.5) - want[i]) < 1e-9);
    }
    assert_int_equal(sim_calib_cold(c, &k, 1769, &cold, &err), 0);
    assert_true(fabs(sim_dist_quantile(&cold.phase[FM_PHASE_LOAD], 0.5) - 200) < 1e-9);
    sim_calib_free(c);
}

static void test_calib_bad_file(void **state)
{
    (void)state;
    char path[] = "/tmp/fm_calib_bad_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "service:\n  - {model: m, batch: 1, latncy_ms: 3}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sim_calib *c = NULL;
    fm_err err = {0};
    assert_int_equal(sim_calib_load(path, &c, &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_non_null(strstr(err.msg, "'latncy_ms'"));
    unlink(path);
}

/* ---- engine: exact outcomes ----------------------------------------------------------------- */

/* lambda, arrivals every 100 ms, service 10 ms, init 50 ms, keep-alive 1 s: one cold start, the
 * first request takes 60 ms and every other 10 ms. */
static void test_lambda_keepalive_warm(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[20];
    for (int i = 0; i < 20; i++)
        sched[i] = (int64_t)i * 100000000;
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 20);
    f.policy.inst.max = 10;
    f.policy.inst.keep_alive_ns = 1000000000;
    f.policy.queue.capacity = 16;
    sim_opts o = {.calib = c, .seed = 1, .host = {SIM_HOST_CLOUD, 0}};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].arrivals, 20);
    assert_int_equal(r.fn[0].ok, 20);
    assert_int_equal(r.fn[0].cold_starts, 1);
    assert_int_equal(r.fn[0].instances_started, 1);
    assert_true(llabs((long long)r.fn[0].latency->max - 60000000) <= 60000000 / 128);
    assert_true(llabs((long long)fm_hist_quantile(r.fn[0].latency, 0.5) - 10000000) <=
                10000000 / 128);
    /* no catalogue: the simulator bills nothing itself (the analyzer bills what it recorded) */
    assert_true(r.fn[0].billed_ms_total == 0 && r.fn[0].gb_s == 0);
    sim_result_release(&r);
    sim_calib_free(c);
}

/* Billing on the catalogue (cost_invocation_bill): two requests 1 s apart, service 10 ms, INIT
 * 50 ms, keep-alive 10 s. On an offer that bills INIT (1 ms steps) the cold one is billed 60 ms
 * and the warm 10 ms: 70 ms; on one that does not, 20 ms; with 100 ms steps and INIT, 100 + 100.
 * Without a catalogue nothing is billed here (0): the catalogue is the only source of the step. */
static void test_billing_on_the_catalogue(void **state)
{
    (void)state;
    static const char prices[] =
        "format: 1\ncurrency: USD\nsnapshots:\n  - {name: init, date: '2025'}\n"
        "  - {name: old, date: '2021'}\n"
        "  - {name: coarse, date: '2020'}\noffers:\n"
        "  - {id: aws-lambda-x86, snapshot: init, profile: lambda, name: a, granularity_ms: 1,\n"
        "     bills_init: true, source: h, date: '2025',\n"
        "     prices: {gb_s: {usd: 0.00001, status: doc, date: '2025', source: h}}}\n"
        "  - {id: aws-lambda-x86, snapshot: old, profile: lambda, name: b, granularity_ms: 1,\n"
        "     source: h, date: '2021',\n"
        "     prices: {gb_s: {usd: 0.00001, status: doc, date: '2021', source: h}}}\n"
        "  - {id: aws-lambda-x86, snapshot: coarse, profile: lambda, name: c, granularity_ms: "
        "100,\n"
        "     bills_init: true, source: h, date: '2020',\n"
        "     prices: {gb_s: {usd: 0.00001, status: doc, date: '2020', source: h}}}\n";
    cost_catalog *cat = NULL;
    fm_err err = {0};
    if (cost_catalog_load_buf(prices, strlen(prices), "p.yaml", &cat, &err))
        fail_msg("%s", err.msg);
    sim_calib *c = const_calib(10, 50);
    int64_t sched[2] = {0, 1000000000};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 2);
    f.policy.inst.max = 2;
    f.policy.inst.keep_alive_ns = 10000000000LL;
    static const char *const snap[] = {"init", "old", "coarse", NULL};
    static const double want[] = {70, 20, 200, 0};
    for (int i = 0; i < 4; i++) {
        sim_opts o = {.calib = c,
                      .seed = 1,
                      .host = {SIM_HOST_CLOUD, 0},
                      .prices = i < 3 ? cat : NULL,
                      .snapshot = snap[i]};
        sim_result r;
        run_ok(&f, 1, &o, &r);
        assert_int_equal(r.fn[0].cold_starts, 1);
        if (fabs(r.fn[0].billed_ms_total - want[i]) > 1e-6)
            fail_msg("snapshot %s: billed %.3f ms, want %.0f", snap[i] ? snap[i] : "(none)",
                     r.fn[0].billed_ms_total, want[i]);
        sim_result_release(&r);
    }
    sim_opts o = {.calib = c, .seed = 1, .prices = cat, .snapshot = "missing"};
    sim_result r;
    assert_int_equal(sim_run(&f, 1, &o, &r, &err), FM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no default lambda entry in price snapshot 'missing'"));
    sim_result_release(&r);
    sim_calib_free(c);
    cost_catalog_free(cat);
}

/* The same with keep-alive 50 ms: every request finds its instance gone and starts cold. */
static void test_lambda_keepalive_expiry(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[10];
    for (int i = 0; i < 10; i++)
        sched[i] = (int64_t)i * 200000000;
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 10);
    f.policy.inst.max = 10;
    f.policy.inst.keep_alive_ns = 50000000;
    f.policy.queue.capacity = 16;
    sim_opts o = {.calib = c, .seed = 1};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].cold_starts, 10);
    assert_int_equal(r.fn[0].instances_started, 10);
    sim_result_release(&r);
    sim_calib_free(c);
}

/* Five requests at once against reserved concurrency 2: two served, three throttled. */
static void test_lambda_reserved_throttle(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[5] = {0, 0, 0, 0, 0};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 5);
    f.policy.inst.max = 10;
    f.policy.limit.reserved = 2;
    f.policy.queue.capacity = 16;
    sim_opts o = {.calib = c, .seed = 1};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].ok, 2);
    assert_int_equal(r.fn[0].throttled, 3);
    assert_int_equal(r.fn[0].cold_starts, 2);
    sim_result_release(&r);
    sim_calib_free(c);
}

/* The same five at once on a `cores: 4` host whose memory holds two 1024 MB instances (2560 MB
 * less the 512 MB reserve = 2048 MB): the policy's host admission, as live, serves two and
 * throttles three; without host_capacity memory all five start. */
static void test_host_capacity(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[5] = {0, 0, 0, 0, 0};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 5);
    f.policy.inst.max = 10;
    f.policy.fn.memory_mb = 1024;
    f.policy.queue.capacity = 16;
    for (int limited = 0; limited < 2; limited++) {
        sim_opts o = {.calib = c, .seed = 1, .host = {.kind = SIM_HOST_CORES, .cores = 4}};
        policy_host_config_init(&o.host.capacity);
        if (limited)
            o.host.capacity.memory_mb = 2560;
        sim_result r;
        run_ok(&f, 1, &o, &r);
        assert_int_equal(r.fn[0].ok, limited ? 2 : 5);
        assert_int_equal(r.fn[0].throttled, limited ? 3 : 0);
        assert_int_equal(r.fn[0].instances_started, limited ? 2 : 5);
        sim_result_release(&r);
    }
    sim_calib_free(c);
}

/* Processor sharing: two instances of one busy core each on a 1-core host serve two 10 ms
 * requests at once; both finish at 20 ms. In the cloud they finish at 10 ms. */
static void test_processor_sharing(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 0);
    int64_t sched[2] = {0, 0};
    sim_function f = fn_with(POLICY_PROFILE_SERVER, sched, 2);
    f.policy.inst.min = 2;
    f.policy.inst.max = 2;
    f.policy.queue.capacity = 16;
    for (int cloud = 0; cloud < 2; cloud++) {
        sim_opts o = {.calib = c,
                      .seed = 1,
                      .host = cloud ? (sim_host){.kind = SIM_HOST_CLOUD}
                                    : (sim_host){.kind = SIM_HOST_CORES, .cores = 1}};
        sim_result r;
        run_ok(&f, 1, &o, &r);
        assert_int_equal(r.fn[0].ok, 2);
        double want = cloud ? 10e6 : 20e6;
        assert_true(fabs((double)r.fn[0].latency->max - want) <= want / 128);
        assert_true(fabs((double)r.fn[0].latency->min - want) <= want / 128);
        sim_result_release(&r);
    }
    sim_calib_free(c);
}

/* Timeout: a 300 ms service against a 100 ms timeout fails and replaces the instance. */
static void test_timeout(void **state)
{
    (void)state;
    sim_calib *c = const_calib(300, 10);
    int64_t sched[3] = {0, 1000000000, 2000000000};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 3);
    f.policy.inst.max = 4;
    f.policy.inst.keep_alive_ns = 60000000000;
    f.policy.fn.timeout_ns = 100000000;
    f.policy.queue.capacity = 16;
    sim_opts o = {.calib = c, .seed = 1};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].timeouts, 3);
    assert_int_equal(r.fn[0].ok, 0);
    assert_int_equal(r.fn[0].instances_started, 3);
    sim_result_release(&r);
    sim_calib_free(c);
}

/* A managed endpoint created before the experiment serves its first request at once, although a
 * new instance would wait the 100 s provisioning delay. */
static void test_preprovisioned_deploy(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[3] = {0, 100000000, 200000000};
    sim_function f = fn_with(POLICY_PROFILE_MANAGED, sched, 3);
    f.policy.inst.min = 1;
    f.policy.inst.max = 2;
    f.policy.inst.workers = 1;
    f.policy.inst.provision_delay_ns = 100000000000LL;
    f.policy.queue.capacity = 16;
    f.policy.scale.target_per_min = 1000;
    f.policy.scale.period_ns = 60000000000LL;
    f.policy.scale.out_datapoints = 1;
    f.policy.scale.in_datapoints = 1;
    f.policy.scale.in_ratio = 0.5;
    sim_opts o = {.calib = c, .seed = 1};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].ok, 3);
    assert_true(llabs((long long)r.fn[0].latency->max - 10000000) <= 10000000 / 128);
    sim_result_release(&r);
    sim_calib_free(c);
}

/* ---- engine: queueing theory ---------------------------------------------------------------- */

/* Erlang C: probability of waiting in M/M/c, then the mean response time. */
static double mmc_mean_response(double lambda, double mu, int c)
{
    double a = lambda / mu, rho = a / c, sum = 0, term = 1;
    for (int k = 0; k < c; k++) {
        if (k)
            term *= a / k;
        sum += term;
    }
    double last = term * a / c; /* a^c / c! */
    double pc = last / (1 - rho) / (sum + last / (1 - rho));
    return pc / (c * mu - lambda) + 1 / mu;
}

static void check_mmc(int workers, double lambda, double mean_ms, uint64_t n)
{
    char text[256];
    snprintf(text, sizeof text,
             "service:\n  - {model: m, batch: 1, latency_ms: {exp_mean: %g}}\n"
             "cold_start:\n  - {model: m, load_ms: 0}\n",
             mean_ms);
    sim_calib *c = calib_from(text);
    sim_function f = fn_with(POLICY_PROFILE_SERVER, NULL, 0);
    f.policy.inst.min = 1;
    f.policy.inst.max = 1;
    f.policy.inst.workers = workers;
    f.policy.queue.capacity = 1 << 20;
    load_spec_init(&f.workload);
    f.workload.process = LOAD_PROC_POISSON;
    f.workload.rate = lambda;
    f.workload.requests = n;
    f.workload.seed = 11;
    sim_opts o = {.calib = c, .seed = 5};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    double want = mmc_mean_response(lambda, 1000.0 / mean_ms, workers) * 1e3;
    double got = fm_hist_mean(r.fn[0].latency) / 1e6;
    assert_int_equal(r.fn[0].ok, n);
    if (fabs(got - want) / want > 0.05)
        fail_msg("M/M/%d at lambda %g: mean response %.3f ms, closed form %.3f ms", workers, lambda,
                 got, want);
    sim_result_release(&r);
    sim_calib_free(c);
}

static void test_mm1(void **state)
{
    (void)state;
    check_mmc(1, 50, 10, sanitized() ? 50000 : 300000); /* rho 0.5: 20 ms */
}

static void test_mmc(void **state)
{
    (void)state;
    check_mmc(4, 300, 10, sanitized() ? 50000 : 300000); /* rho 0.75 */
}

/* Same seed, same result; another seed, another. */
static void test_determinism(void **state)
{
    (void)state;
    sim_calib *c = calib_from("service:\n  - {model: m, batch: 1, latency_ms: {p50: 8, p99: 20}}\n"
                              "cold_start:\n  - {model: m, load_ms: {p50: 100, p99: 300}}\n");
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, NULL, 0);
    f.policy.inst.max = 100;
    f.policy.inst.keep_alive_ns = 200000000;
    f.policy.queue.capacity = 128;
    load_spec_init(&f.workload);
    f.workload.process = LOAD_PROC_POISSON;
    f.workload.rate = 200;
    f.workload.requests = 5000;
    uint64_t sums[3];
    for (int i = 0; i < 3; i++) {
        sim_opts o = {.calib = c, .seed = i < 2 ? 7 : 8};
        f.workload.seed = 0; /* derived from the run seed */
        sim_result r;
        run_ok(&f, 1, &o, &r);
        sums[i] = (uint64_t)r.fn[0].latency->sum ^ r.fn[0].cold_starts << 40;
        sim_result_release(&r);
    }
    assert_int_equal(sums[0], sums[1]);
    assert_true(sums[0] != sums[2]);
    sim_calib_free(c);
}

/* A recorded run lands in the store with one row per request and per instance. */
static void test_store_records(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[4] = {0, 0, 500000000, 600000000};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 4);
    f.policy.inst.max = 4;
    f.policy.inst.keep_alive_ns = 1000000000;
    f.policy.queue.capacity = 16;
    store *db;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &db, &err), 0);
    sim_opts o = {.calib = c, .seed = 1, .db = db, .run_name = "t"};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    FILE *m = tmpfile();
    assert_int_equal(store_export_csv(db, "requests", r.run_id, m, &err), 0);
    long lines = 0;
    rewind(m);
    for (int ch; (ch = fgetc(m)) != EOF;)
        lines += ch == '\n';
    fclose(m);
    assert_int_equal(lines, 1 + 4);
    m = tmpfile();
    assert_int_equal(store_export_csv(db, "instances", r.run_id, m, &err), 0);
    lines = 0;
    rewind(m);
    for (int ch; (ch = fgetc(m)) != EOF;)
        lines += ch == '\n';
    fclose(m);
    assert_int_equal(lines, 1 + 2);
    sim_result_release(&r);
    store_close(db);
    sim_calib_free(c);
}

/* Two requests 11.6 days apart with a 1 s series step: the quiet stretch between them is recorded
 * by its two ends, not one million steps (which took minutes and filled the database). */
static void test_series_quiet_stretch(void **state)
{
    (void)state;
    sim_calib *c = const_calib(10, 50);
    int64_t sched[2] = {0, 1000000 * 1000000000LL};
    sim_function f = fn_with(POLICY_PROFILE_LAMBDA, sched, 2);
    f.policy.inst.max = 2;
    f.policy.inst.keep_alive_ns = 1000000000;
    f.policy.queue.capacity = 4;
    store *db;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &db, &err), 0);
    sim_opts o = {.calib = c, .seed = 1, .db = db, .run_name = "quiet"};
    sim_result r;
    run_ok(&f, 1, &o, &r);
    assert_int_equal(r.fn[0].ok, 2);
    FILE *m = tmpfile();
    assert_int_equal(store_export_csv(db, "points", r.run_id, m, &err), 0);
    long lines = 0;
    rewind(m);
    for (int ch; (ch = fgetc(m)) != EOF;)
        lines += ch == '\n';
    fclose(m);
    assert_true(lines > 8 && lines < 400); /* a few steps of 8 metrics around each event */
    sim_result_release(&r);
    store_close(db);
    sim_calib_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lognormal_fit),
        cmocka_unit_test(test_calib_interpolation),
        cmocka_unit_test(test_calib_later_wins),
        cmocka_unit_test(test_calib_bad_file),
        cmocka_unit_test(test_series_quiet_stretch),
        cmocka_unit_test(test_lambda_keepalive_warm),
        cmocka_unit_test(test_billing_on_the_catalogue),
        cmocka_unit_test(test_lambda_keepalive_expiry),
        cmocka_unit_test(test_lambda_reserved_throttle),
        cmocka_unit_test(test_host_capacity),
        cmocka_unit_test(test_processor_sharing),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_preprovisioned_deploy),
        cmocka_unit_test(test_mm1),
        cmocka_unit_test(test_mmc),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_store_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
