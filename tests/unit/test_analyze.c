/* Unit tests of the analyzer on hand-made runs with known answers, and a seeded simulation study
 * of the confidence intervals' coverage. Run as `test_analyze --fixture DB` it writes the small
 * recorded runs the report integration test renders. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "store/store.h"

#define MS 1000000LL
#define T0 1700000000000000000LL /* an arbitrary wall-clock origin */

static int64_t begin(store *s, const char *name, const char *profile, const char *config)
{
    fm_err err = {0};
    store_run r = {.name = name,
                   .mode = "sim",
                   .profile = profile,
                   .config = config,
                   .seed = 7,
                   .host = "{}",
                   .started_ns = T0,
                   .status = "done"};
    assert_int_equal(store_run_begin(s, &r, &err), 0);
    return r.id;
}

/* One request sent at t ms after T0 that took lat ms and got http code. */
static void req(store *s, int64_t run, int64_t id, const char *fn, double t_ms, double lat_ms,
                int http, bool cold, int64_t inst, double dur_ms, int mem)
{
    fm_err err = {0};
    int64_t sent = T0 + (int64_t)llround(t_ms * MS);
    store_request r = {.run = run,
                       .id = id,
                       .function = fn,
                       .scheduled_ns = sent,
                       .sent_ns = sent,
                       .first_byte_ns = 0,
                       .done_ns = sent + (int64_t)llround(lat_ms * MS),
                       .status = http == 200   ? "ok"
                                 : http == 429 ? "throttled"
                                               : "error",
                       .http_code = http,
                       .cold = cold,
                       .instance = inst,
                       .duration_ms = dur_ms,
                       .billed_ms = ceil(dur_ms),
                       .memory_mb = mem,
                       .batch_size = 1};
    assert_int_equal(store_request_add(s, &r, &err), 0);
}

static void inst(store *s, int64_t run, int64_t id, const char *fn, int mem, bool pc,
                 double created_ms, double stopped_ms)
{
    fm_err err = {0};
    store_instance i = {.run = run,
                        .id = id,
                        .function = fn,
                        .memory_mb = mem,
                        .provisioned = pc,
                        .created_ns = T0 + (int64_t)(created_ms * MS),
                        .ready_ns = T0 + (int64_t)((created_ms + 250) * MS),
                        .stopped_ns = stopped_ms > 0 ? T0 + (int64_t)(stopped_ms * MS) : 0,
                        .phase_ms = {[FM_PHASE_SPAWN] = 12,
                                     [FM_PHASE_RUNTIME_INIT] = 40,
                                     [FM_PHASE_DOWNLOAD] = 80,
                                     [FM_PHASE_LOAD] = 110,
                                     [FM_PHASE_WARMUP] = 8},
                        .cold_path = pc ? "provisioned" : "exec",
                        .stop_reason = stopped_ms > 0 ? "idle" : NULL};
    assert_int_equal(store_instance_put(s, &i, &err), 0);
}

static cost_catalog *real_catalog(void)
{
    char path[4096];
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/prices.yaml", src ? src : ".");
    cost_catalog *c;
    fm_err err = {0};
    if (cost_catalog_load(path, &c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        fail();
    }
    return c;
}

static an_run *analyze(store *s, int64_t id, double slo)
{
    an_opts o = {.slo_ms = slo, .level = 0.95};
    an_run *r;
    fm_err err = {0};
    int rc = analyze_run(s, id, &o, &r, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return r;
}

/* ---- known answers -------------------------------------------------------------------------- */

static void test_percentiles_known(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "ramp", "lambda", "{}");
    for (int i = 1; i <= 100; i++) /* latencies 1..100 ms, shuffled order */
        req(s, run, i, "f", (i * 37) % 100 * 10.0, ((i * 37) % 100) + 1, 200, false, -1, 1, 128);
    an_run *r = analyze(s, run, 0);
    const an_metrics *m = &r->total;
    assert_int_equal(m->n_requests, 100);
    assert_null(m->latency_q[AN_P50].est.why);
    assert_float_equal(m->latency_q[AN_P50].est.v, 50, 1e-9);
    assert_float_equal(m->latency_q[AN_P90].est.v, 90, 1e-9);
    assert_float_equal(m->latency_q[AN_P95].est.v, 95, 1e-9);
    assert_float_equal(m->latency_q[AN_P99].est.v, 99, 1e-9);
    assert_float_equal(m->latency_max.v, 100, 1e-9);
    assert_float_equal(m->latency_mean.est.v, 50.5, 1e-9);
    /* the p50 interval brackets the estimate and is made of sample values */
    assert_true(m->latency_q[AN_P50].has_ci);
    assert_true(m->latency_q[AN_P50].lo <= 50 && m->latency_q[AN_P50].hi >= 50);
    assert_true(m->latency_q[AN_P50].coverage >= 0.95);
    assert_float_equal(m->success_ratio.est.v, 1.0, 1e-12);
    analyze_run_free(r);
    store_close(s);
}

static void test_quantile_ci_textbook(void **st)
{
    (void)st;
    size_t lo, hi;
    double cov;
    /* n = 100, median, 95%: the equal-tailed textbook pair is ranks 40 and 61 (21 apart); the
     * narrowest pair is 20 apart, e.g. 40..60 with P(40 <= B <= 59) = 0.9540 */
    assert_int_equal(an_quantile_ci(100, 0.5, 0.95, &lo, &hi, &cov), 0);
    assert_int_equal(hi - lo, 20);
    assert_true(lo >= 40 && lo <= 41);
    double exact = 0; /* independent check of the reported coverage: sum the pmf directly */
    for (size_t k = lo; k < hi; k++)
        exact +=
            exp(lgamma(101) - lgamma((double)k + 1) - lgamma(101 - (double)k) + 100 * log(0.5));
    assert_float_equal(cov, exact, 1e-12);
    assert_true(cov >= 0.95 && cov < 0.96);
    /* too few samples for a 95% interval of p99 */
    assert_int_equal(an_quantile_ci(20, 0.99, 0.95, &lo, &hi, &cov), FM_ERANGE);
    assert_float_equal(fm_norm_quantile(0.975), 1.959963984540054, 1e-9);
    assert_float_equal(fm_norm_quantile(0.5), 0, 1e-12);
    double wl, wh;
    an_wilson(8, 10, 0.95, &wl, &wh); /* Wilson 95% for 8/10: [0.4902, 0.9433] */
    assert_float_equal(wl, 0.4902, 1e-4);
    assert_float_equal(wh, 0.9433, 1e-4);
}

/* Seeded simulation study: the order-statistic intervals must cover the true quantile of a
 * lognormal at the stated rate (within ±3 points of 95%) over 1000 repetitions. */
static void test_ci_coverage_study(void **st)
{
    (void)st;
    const int reps = 1000;
    const size_t n = 400;
    const double mu = 3.0, sigma = 0.6, level = 0.95;
    fm_rng rng;
    fm_rng_seed(&rng, 20220612);
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (int q = 0; q < AN__QUANTILES; q++) {
        double p = an_quantile_p[q], truth = exp(mu + sigma * fm_norm_quantile(p));
        size_t lo, hi;
        double cov;
        assert_int_equal(an_quantile_ci(n, p, level, &lo, &hi, &cov), 0);
        int covered = 0;
        for (int r = 0; r < reps; r++) {
            for (size_t i = 0; i < n; i++)
                x[i] = fm_rng_lognormal(&rng, mu, sigma);
            for (size_t i = 1; i < n; i++) { /* insertion sort keeps the test dependency-free */
                double v = x[i];
                size_t j = i;
                while (j > 0 && x[j - 1] > v) {
                    x[j] = x[j - 1];
                    j--;
                }
                x[j] = v;
            }
            covered += x[lo - 1] <= truth && truth <= x[hi - 1];
        }
        double rate = (double)covered / reps;
        printf("coverage %s: %.3f (exact %.4f, nominal %.2f)\n", an_quantile_name[q], rate, cov,
               level);
        assert_true(fabs(rate - level) <= 0.03);
        assert_true(cov >= level && cov - level <= 0.03);
    }
    free(x);
}

static void test_success_ratio_at_slo_boundary(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "slo", "lambda", "{\"slo_ms\": 150}");
    req(s, run, 1, "f", 0, 100, 200, false, -1, 90, 512);
    req(s, run, 2, "f", 10, 200, 200, false, -1, 90, 512);        /* exactly at the SLO */
    req(s, run, 3, "f", 20, 200.000001, 200, false, -1, 90, 512); /* 1 ns over */
    req(s, run, 4, "f", 30, 50, 500, false, -1, 40, 512);         /* fast but an error */
    an_run *r = analyze(s, run, 200);
    assert_int_equal(r->total.n_success, 2);
    assert_float_equal(r->total.success_ratio.est.v, 0.5, 1e-12);
    assert_string_equal(r->slo_source, "--slo-ms");
    analyze_run_free(r);
    r = analyze(s, run, 0); /* the run's own SLO, 150 ms: only request 1 */
    assert_int_equal(r->total.n_success, 1);
    assert_float_equal(r->slo_ms, 150, 0);
    assert_string_equal(r->slo_source, "run configuration");
    analyze_run_free(r);
    store_close(s);
}

/* Renders every format into memory and checks it holds no NaN/inf and says `want`. */
static void render_all(an_run *r, const char *want)
{
    an_opts o = {.level = 0.95, .snapshot = "current"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(analyze_write_table(&r, 1, &o, f), 0);
    assert_int_equal(analyze_write_json(&r, 1, &o, f), 0);
    assert_int_equal(analyze_write_csv(&r, 1, &o, f), 0);
    fclose(f);
    assert_null(strstr(buf, "nan"));
    assert_null(strstr(buf, "inf"));
    assert_null(strstr(buf, "NaN"));
    if (!strstr(buf, want))
        fprintf(stderr, "%s\n", buf);
    assert_non_null(strstr(buf, want));
    free(buf);
}

static void test_empty_and_failed_runs(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t empty = begin(s, "empty", "lambda", "{}");
    int64_t failed = begin(s, "failed", "gcf", "{}");
    for (int i = 0; i < 5; i++)
        req(s, failed, i, "f", i * 100, 30, 500, false, -1, 0, 256);
    an_run *r = analyze(s, empty, 0);
    assert_int_equal(r->total.n_requests, 0);
    assert_non_null(r->total.latency_q[AN_P99].est.why);
    assert_non_null(r->total.success_ratio.est.why);
    assert_non_null(r->total.throughput_rps.why);
    render_all(r, "no requests");
    analyze_run_free(r);
    r = analyze(s, failed, 0);
    assert_int_equal(r->total.n_requests, 5);
    assert_string_equal(r->total.latency_q[AN_P50].est.why, "no successful requests");
    assert_float_equal(r->total.success_ratio.est.v, 0, 0);
    render_all(r, "no successful requests");
    analyze_run_free(r);
    store_close(s);
}

static void test_cold_starts_instances_utilisation(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "srv", "server", "{\"instance_type\": \"c5.xlarge\"}");
    inst(s, run, 1, "f", 2048, false, 0, 10000);    /* 10 s */
    inst(s, run, 2, "f", 2048, false, 5000, 10000); /* 5 s */
    for (int i = 0; i < 10; i++) /* 10 requests of 300 ms busy time each = 3 s busy */
        req(s, run, i, "f", i * 1000, 320, 200, i < 2, i % 2 + 1, 300, 2048);
    an_run *r = analyze(s, run, 0);
    const an_metrics *m = &r->total;
    assert_int_equal(m->cold_starts, 2);
    assert_float_equal(m->cold_rate.v, 0.2, 1e-12);
    assert_int_equal(m->n_instances, 2);
    assert_float_equal(m->phase_ms[FM_PHASE_LOAD].v, 110, 1e-12);
    assert_float_equal(m->instances_max.v, 2, 0);
    /* alive 1 for 5 s then 2 for 5 s over a 10 s run: mean 1.5 */
    assert_float_equal(m->instances_mean.v, 1.5, 1e-6);
    assert_float_equal(m->busy_s.v, 3.0, 1e-9);
    assert_float_equal(m->billed_s.v, 15.0, 1e-6);
    assert_float_equal(m->utilisation.v, 0.2, 1e-6);
    assert_float_equal(m->dispatch_max_ms.v, 0, 0);
    analyze_run_free(r);
    store_close(s);
}

/* Per-state gauges of two functions at the same times add up to the instances alive. */
static void test_instance_points_merge(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "pts", "lambda", "{}");
    req(s, run, 1, "a", 0, 10, 200, false, -1, 5, 128);
    req(s, run, 2, "a", 10000, 10, 200, false, -1, 5, 128);
    static const struct {
        const char *fn, *metric;
        double t_s, v;
    } pts[] = {{"a", "instances_idle", 0, 1},  {"a", "instances_busy", 0, 2},
               {"b", "instances_busy", 0, 3},  {"a", "instances_starting", 5, 1},
               {"a", "instances_busy", 5, 1},  {"b", "queue_depth", 5, 40},
               {"b", "instances_idle", 10, 0}, {"a", "instances_busy", 10, 0}};
    for (size_t i = 0; i < FM_ARRAY_LEN(pts); i++) {
        store_point p = {run, pts[i].fn, T0 + (int64_t)(pts[i].t_s * 1e9), pts[i].metric, pts[i].v};
        assert_int_equal(store_point_add(s, &p, &err), 0);
    }
    an_run *r = analyze(s, run, 0);
    assert_string_equal(r->instances_source, "points table");
    assert_int_equal(r->n_instances, 3);
    assert_float_equal(r->instances[0].y, 6, 0); /* 1 idle + 2 busy + 3 busy */
    assert_float_equal(r->instances[1].y, 2, 0);
    assert_float_equal(r->instances[2].y, 0, 0);
    assert_int_equal(r->n_busy, 3);
    assert_float_equal(r->busy[0].y, 5, 0);
    assert_float_equal(r->total.instances_max.v, 6, 0);
    /* 6 for 5 s, 2 for 5 s and 0 until the last response at 10.01 s */
    assert_float_equal(r->total.instances_mean.v, 40 / 10.01, 1e-9);
    analyze_run_free(r);
    store_close(s);
}

static void test_costs_in_report(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    cost_catalog *cat = real_catalog();
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t lam = begin(s, "lam", "lambda", "{\"arch\": \"x86\"}");
    for (int i = 0; i < 4; i++)
        req(s, lam, i, "f", i * 10, 120, 200, false, -1, 100.4, 1024); /* billed 101 ms */
    int64_t man = begin(s, "sm", "managed", "{}");
    inst(s, man, 1, "f", 8192, false, 0, 3600000);
    req(s, man, 1, "f", 0, 20, 200, false, 1, 15, 8192);
    an_opts o = {.level = 0.95, .prices = cat, .snapshot = "current"};
    an_run *r;
    assert_int_equal(analyze_run(s, lam, &o, &r, &err), 0);
    assert_true(r->has_own && r->own.priced);
    double want = 4 * (0.101 * 1.0 * 0.0000166667 + 0.0000002);
    assert_float_equal(r->own.total, want, 1e-15);
    assert_float_equal(r->own.per_1m, want / 4 * 1e6, 1e-9);
    assert_true(r->n_whatif >= 3); /* arm, gcf, gcf tier 2 at least */
    analyze_run_free(r);
    /* a managed run that does not say its instance type has no price, in words */
    assert_int_equal(analyze_run(s, man, &o, &r, &err), 0);
    assert_false(r->has_own);
    assert_non_null(strstr(r->own_why, "no price"));
    render_all(r, "does not record its instance type");
    analyze_run_free(r);
    store_close(s);
    cost_catalog_free(cat);
}

/* The load generator records -1 for what the platform did not report: never a negative cost or
 * utilisation, but words. */
static void test_unknown_quantities(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    cost_catalog *cat = real_catalog();
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "blind", "lambda", "{\"memory_mb\": 512}");
    for (int i = 0; i < 3; i++) {
        store_request r = {.run = run,
                           .id = i,
                           .function = "f",
                           .scheduled_ns = T0 + i * MS,
                           .sent_ns = T0 + i * MS,
                           .done_ns = T0 + (i + 50) * MS,
                           .status = "ok",
                           .http_code = 200,
                           .instance = -1,
                           .init_ms = -1,
                           .duration_ms = -1,
                           .billed_ms = -1};
        assert_int_equal(store_request_add(s, &r, &err), 0);
    }
    an_opts o = {.level = 0.95, .prices = cat, .snapshot = "current"};
    an_run *r;
    assert_int_equal(analyze_run(s, run, &o, &r, &err), 0);
    assert_non_null(r->total.utilisation.why);
    assert_non_null(r->total.busy_s.why);
    assert_true(r->has_own);
    assert_false(r->own.priced);
    assert_non_null(strstr(r->own.why, "no invocation durations recorded"));
    assert_int_equal(r->total.cold_starts, 0);
    render_all(r, "no invocation durations recorded");
    analyze_run_free(r);
    /* with durations but no memory size per request, the configured 512 MB is billed */
    int64_t run2 = begin(s, "mem", "lambda", "{\"memory_mb\": 512}");
    req(s, run2, 1, "f", 0, 30, 200, false, -1, 20, 0);
    assert_int_equal(analyze_run(s, run2, &o, &r, &err), 0);
    assert_true(r->own.priced);
    assert_float_equal(r->own.total, 0.020 * 0.5 * 0.0000166667 + 0.0000002, 1e-15);
    analyze_run_free(r);
    store_close(s);
    cost_catalog_free(cat);
}

/* Rows a buggy or foreign writer might leave: no function, no status, a response before its
 * send, a send before its schedule, times far apart, an instance that stopped before it started.
 * The analysis must still finish and print no NaN. */
static void test_odd_rows(void **st)
{
    (void)st;
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &s, &err), 0);
    int64_t run = begin(s, "odd", NULL, "not json");
    store_request rows[] = {
        {.run = run, .id = 1, .sent_ns = 10, .done_ns = 5, .http_code = 200},
        {.run = run,
         .id = 2,
         .function = "f",
         .scheduled_ns = 100,
         .sent_ns = 50,
         .done_ns = 60,
         .status = "ok",
         .http_code = 204,
         .duration_ms = 1e9},
        {.run = run,
         .id = 3,
         .function = "f",
         .scheduled_ns = 4000000000000000000LL,
         .sent_ns = 4000000000000000000LL,
         .done_ns = 4000000000000000001LL,
         .status = "ok",
         .http_code = 200,
         .cold = true,
         .instance = 7},
        {.run = run, .id = 4, .function = "g", .status = "dropped"},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(rows); i++)
        assert_int_equal(store_request_add(s, &rows[i], &err), 0);
    store_instance in = {
        .run = run, .id = 7, .function = "f", .created_ns = 900, .stopped_ns = 100};
    assert_int_equal(store_instance_put(s, &in, &err), 0);
    cost_catalog *cat = real_catalog();
    an_opts o = {.level = 0.95, .prices = cat, .snapshot = "2021"};
    an_run *r;
    assert_int_equal(analyze_run(s, run, &o, &r, &err), 0);
    assert_int_equal(r->total.n_requests, 4);
    assert_int_equal(r->total.n_2xx, 2); /* the response before its send is not a latency */
    assert_false(r->has_own);            /* no profile: no price, in words */
    assert_non_null(strstr(r->own_why, "not a billing profile"));
    assert_true(r->total.dispatch_mean_ms.v < 0); /* sent before scheduled: shown as it is */
    render_all(r, "not a billing profile");
    analyze_run_free(r);
    cost_catalog_free(cat);
    store_close(s);
}

static void test_newer_schema_refused(void **st)
{
    (void)st;
    char path[] = "/tmp/fm_analyze_schemaXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    store *s;
    fm_err err = {0};
    assert_int_equal(store_open(path, &s, &err), 0);
    store_close(s);
    /* bump the version behind the store's back, as a newer faasml would */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version=99' 2>/dev/null", path);
    if (system(cmd) != 0) {
        unlink(path);
        skip();
    }
    assert_int_equal(store_open(path, &s, &err), FM_ESCHEMA);
    assert_non_null(strstr(err.msg, "newer"));
    unlink(path);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
}

/* ---- the fixture for tests/integration/report_html.sh --------------------------------------- */

/* Writes four small runs (lambda, gcf, managed, server) with bursts, cold starts, throttles and
 * instance series, so every figure of the HTML report has something to draw, then an empty run
 * and a run whose every request was throttled. */
static int write_fixture(const char *path)
{
    store *s;
    fm_err err = {0};
    unlink(path);
    if (store_open(path, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const struct {
        const char *name, *profile, *config;
        double base_ms, cold_ms;
    } runs[] = {
        {"lambda-1024", "lambda", "{\"arch\":\"x86\",\"memory_mb\":1024,\"slo_ms\":300}", 60, 900},
        {"gcf-1024", "gcf", "{\"memory_mb\":1024,\"slo_ms\":300}", 85, 1400},
        {"sagemaker-m5", "managed", "{\"instance_type\":\"ml.m5.large\",\"slo_ms\":300}", 45, 0},
        {"ec2-g4dn", "server", "{\"instance_type\":\"g4dn.xlarge\",\"slo_ms\":300}", 20, 0},
    };
    fm_rng rng;
    fm_rng_seed(&rng, 42);
    for (size_t k = 0; k < FM_ARRAY_LEN(runs); k++) {
        store_run r = {.name = runs[k].name,
                       .mode = k % 2 ? "sim" : "live",
                       .profile = runs[k].profile,
                       .config = runs[k].config,
                       .seed = 42,
                       .host = "{}",
                       .started_ns = T0,
                       .status = "done"};
        if (store_run_begin(s, &r, &err))
            goto fail;
        bool serverless = runs[k].cold_ms > 0;
        int n_inst = serverless ? 0 : 2;
        for (int i = 1; i <= n_inst; i++) {
            store_instance in = {.run = r.id,
                                 .id = i,
                                 .function = "mobilenet",
                                 .memory_mb = 8192,
                                 .created_ns = T0 - 60000 * MS,
                                 .ready_ns = T0 - 1000 * MS,
                                 .stopped_ns = T0 + 62000 * MS,
                                 .phase_ms = {[FM_PHASE_SPAWN] = 900,
                                              [FM_PHASE_RUNTIME_INIT] = 4000,
                                              [FM_PHASE_DOWNLOAD] = 9000,
                                              [FM_PHASE_LOAD] = 1500,
                                              [FM_PHASE_WARMUP] = 300},
                                 .cold_path = "exec",
                                 .stop_reason = "shutdown"};
            if (store_instance_put(s, &in, &err))
                goto fail;
        }
        int64_t id = 0, next_inst = 100;
        double t = 0;
        int alive = 0;
        for (int sec = 0; sec < 60; sec++) {
            double rate = (sec / 15) % 2 ? 25 : 5; /* bursts: 5 req/s, then 25 req/s */
            while (t < sec + 1) {
                t += fm_rng_exp(&rng, rate);
                int64_t sched = T0 + (int64_t)(t * 1e9);
                bool cold = serverless && (id == 0 || (rate > 10 && fm_rng_uniform(&rng) < 0.04));
                double lat = runs[k].base_ms * fm_rng_lognormal(&rng, 0, 0.25) +
                             (cold ? runs[k].cold_ms : 0);
                if (!serverless && rate > 10)
                    lat *= 2.5; /* queueing on a fixed fleet */
                int http = fm_rng_uniform(&rng) < 0.01 ? 429 : 200;
                int64_t instance = serverless ? (cold ? next_inst++ : 100 + (id % 8)) : 1 + id % 2;
                if (cold) {
                    store_instance in = {.run = r.id,
                                         .id = instance,
                                         .function = "mobilenet",
                                         .memory_mb = 1024,
                                         .created_ns = sched,
                                         .ready_ns = sched + (int64_t)(runs[k].cold_ms * MS),
                                         .stopped_ns = sched + (int64_t)((20 + alive % 7) * 1e9),
                                         .phase_ms = {[FM_PHASE_SPAWN] = 60,
                                                      [FM_PHASE_RUNTIME_INIT] = 180,
                                                      [FM_PHASE_DOWNLOAD] = runs[k].cold_ms * 0.45,
                                                      [FM_PHASE_LOAD] = runs[k].cold_ms * 0.3,
                                                      [FM_PHASE_WARMUP] = 25},
                                         .cold_path = "exec",
                                         .stop_reason = "idle"};
                    if (store_instance_put(s, &in, &err))
                        goto fail;
                    alive++;
                }
                double dur = lat * 0.8;
                store_request q = {.run = r.id,
                                   .id = id++,
                                   .function = "mobilenet",
                                   .scheduled_ns = sched,
                                   .sent_ns = sched + (int64_t)(fm_rng_exp(&rng, 5) * 1e6),
                                   .status = http == 200 ? "ok" : "throttled",
                                   .http_code = http,
                                   .cold = cold,
                                   .instance = http == 200 ? instance : -1,
                                   .init_ms = cold ? runs[k].cold_ms : 0,
                                   .duration_ms = http == 200 ? dur : 0,
                                   .billed_ms = http == 200 ? ceil(dur) : 0,
                                   .memory_mb = 1024,
                                   .batch_size = 1};
                q.done_ns = q.sent_ns + (int64_t)((http == 200 ? lat : 2) * MS);
                if (store_request_add(s, &q, &err))
                    goto fail;
            }
        }
        /* the platform's per-state gauges: busy during the bursts, the rest idle */
        for (int sec = 0; !serverless && sec <= 60; sec += 5) {
            double busy = (sec / 15) % 2 ? 2 : 1;
            store_point p[] = {
                {r.id, "mobilenet", T0 + sec * 1000 * MS, "instances_busy", busy},
                {r.id, "mobilenet", T0 + sec * 1000 * MS, "instances_idle", 2 - busy}};
            if (store_point_add(s, &p[0], &err) || store_point_add(s, &p[1], &err))
                goto fail;
        }
        if (store_run_end(s, r.id, T0 + 61000 * MS, "done", &err))
            goto fail;
    }
    /* an empty run: the report must say so rather than fail */
    store_run e = {.name = "empty-run",
                   .mode = "live",
                   .profile = "lambda",
                   .config = "{}",
                   .host = "{}",
                   .started_ns = T0,
                   .status = "failed"};
    if (store_run_begin(s, &e, &err))
        goto fail;
    /* a run whose every request was throttled: latency figures have nothing to draw */
    store_run t = {.name = "all-throttled",
                   .mode = "sim",
                   .profile = "lambda",
                   .config = "{}",
                   .host = "{}",
                   .started_ns = T0,
                   .status = "done"};
    if (store_run_begin(s, &t, &err))
        goto fail;
    for (int i = 0; i < 20; i++) {
        store_request q = {.run = t.id,
                           .id = i,
                           .function = "mobilenet",
                           .scheduled_ns = T0 + i * 100 * MS,
                           .sent_ns = T0 + i * 100 * MS,
                           .done_ns = T0 + i * 100 * MS + 3 * MS,
                           .status = "throttled",
                           .http_code = 429,
                           .instance = -1,
                           .memory_mb = 1024};
        if (store_request_add(s, &q, &err))
            goto fail;
    }
    store_close(s);
    return 0;
fail:
    fprintf(stderr, "%s\n", err.msg);
    store_close(s);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--fixture") == 0)
        return write_fixture(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles_known),
        cmocka_unit_test(test_quantile_ci_textbook),
        cmocka_unit_test(test_ci_coverage_study),
        cmocka_unit_test(test_success_ratio_at_slo_boundary),
        cmocka_unit_test(test_empty_and_failed_runs),
        cmocka_unit_test(test_cold_starts_instances_utilisation),
        cmocka_unit_test(test_instance_points_merge),
        cmocka_unit_test(test_costs_in_report),
        cmocka_unit_test(test_unknown_quantities),
        cmocka_unit_test(test_odd_rows),
        cmocka_unit_test(test_newer_schema_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
