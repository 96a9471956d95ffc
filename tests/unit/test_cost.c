/* Unit tests of the cost module: the catalogue loader (and its file:line errors) and each
 * profile's billing formula against hand calculations. */
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

#include "cost/cost.h"

/* A small catalogue with round prices, so every expected amount below is easy to check by hand. */
static const char catalogue[] =
    "format: 1\n"
    "currency: USD\n"
    "snapshots:\n"
    "  - {name: test, date: '2024-01-01'}\n"
    "offers:\n"
    "  - id: lam\n"
    "    snapshot: test\n"
    "    profile: lambda\n"
    "    name: lambda 1 ms\n"
    "    granularity_ms: 1\n"
    "    pc_granularity_s: 300\n"
    "    source: hand\n"
    "    date: '2024-01-01'\n"
    "    prices:\n"
    "      gb_s: {usd: 0.00001, status: doc, date: '2024-01-01', source: hand}\n"
    "      request: {usd: 0.0000002, status: doc, date: '2024-01-01', source: hand}\n"
    "      pc_gb_s: {usd: 0.000004, status: 2nd, date: '2024-01-01', source: hand}\n"
    "      pc_duration_gb_s: {usd: 0.000009, status: 2nd, date: '2024-01-01', source: hand}\n"
    "  - {id: laminit, snapshot: test, profile: lambda, name: INIT billed, granularity_ms: 1,\n"
    "     bills_init: true, source: hand, date: '2025-08-01',\n"
    "     prices: {gb_s: {usd: 0.00001, status: doc, date: '2025', source: h},\n"
    "              request: {usd: 0.0000002, status: doc, date: '2025', source: h}}}\n"
    "  - id: lam100\n"
    "    snapshot: test\n"
    "    profile: lambda\n"
    "    name: lambda 100 ms\n"
    "    granularity_ms: 100\n"
    "    source: hand\n"
    "    date: '2020-01-01'\n"
    "    prices:\n"
    "      gb_s: {usd: 0.00001, status: doc, date: '2020-01-01', source: hand}\n"
    "      request: {usd: 0.0000002, status: doc, date: '2020-01-01', source: hand}\n"
    "  - id: gcf\n"
    "    snapshot: test\n"
    "    profile: gcf\n"
    "    name: gcf gen1\n"
    "    granularity_ms: 100\n"
    "    source: hand\n"
    "    date: '2021-01-01'\n"
    "    prices:\n"
    "      gb_s: {usd: 0.0000025, status: 2nd, date: '2021-01-01', source: hand}\n"
    "      ghz_s: {usd: 0.00001, status: 2nd, date: '2021-01-01', source: hand}\n"
    "      request: {usd: 0.0000004, status: doc, date: '2021-01-01', source: hand}\n"
    "    tiers: {status: 2nd, date: '2021-01-01', source: hand,\n"
    "            ghz: {128: 0.2, 256: 0.4, 512: 0.8, 1024: 1.4, 2048: 2.4}}\n"
    "  - {id: sm, snapshot: test, profile: managed, name: endpoint, instance_type: ml.x,\n"
    "     granularity_s: 1, source: hand, date: '2021-01-01',\n"
    "     prices: {instance_hour: {usd: 0.36, status: unverified, date: '2021', source: h}}}\n"
    "  - {id: srv, snapshot: test, profile: server, name: hourly server, instance_type: x,\n"
    "     gpus: 1, granularity_s: 3600, source: hand, date: '2021-01-01',\n"
    "     prices: {instance_hour: {usd: 1.0, status: doc, date: '2021', source: h},\n"
    "              accelerator_hour: {usd: 0.5, status: doc, date: '2021', source: h}}}\n"
    "  - {id: ec2, snapshot: test, profile: server, name: per-second server, instance_type: y,\n"
    "     granularity_s: 1, min_billed_s: 60, source: hand, date: '2021-01-01',\n"
    "     prices: {instance_hour: {usd: 0.36, status: doc, date: '2021', source: h}}}\n"
    "  - {id: nopc, snapshot: test, profile: lambda, name: no PC price, granularity_ms: 1,\n"
    "     source: hand, date: '2021-01-01',\n"
    "     prices: {gb_s: {usd: 0.00001, status: doc, date: '2021', source: h},\n"
    "              request: {usd: 0.0000002, status: doc, date: '2021', source: h}}}\n";

static cost_catalog *cat;

static int setup(void **st)
{
    (void)st;
    fm_err err = {0};
    int rc = cost_catalog_load_buf(catalogue, strlen(catalogue), "test.yaml", &cat, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    return rc;
}

static int teardown(void **st)
{
    (void)st;
    cost_catalog_free(cat);
    return 0;
}

static const cost_offer *offer(const char *id)
{
    const cost_offer *o = cost_offer_find(cat, "test", id);
    assert_non_null(o);
    return o;
}

static cost_usage usage_of(const cost_invocation *inv, size_t n, const cost_span *sp, size_t ns,
                           cost_profile p)
{
    return (cost_usage){
        .inv = inv, .n_inv = n, .spans = sp, .n_spans = ns, .n_ok = (int64_t)n, .profile = p};
}

static void test_lambda_1ms_vs_100ms(void **st)
{
    (void)st;
    /* 101.2 ms at 1024 MB: 1-ms billing charges 102 ms, 100-ms billing charges 200 ms */
    cost_invocation inv[] = {{.duration_ms = 101.2, .memory_mb = 1024, .invoked = true},
                             {.duration_ms = 0.3, .memory_mb = 512, .invoked = true},
                             {.memory_mb = 512, .invoked = false}}; /* throttled: free */
    cost_usage u = usage_of(inv, 3, NULL, 0, COST_LAMBDA);
    cost_result r;
    cost_bill(offer("lam"), &u, false, &r);
    assert_true(r.priced);
    double gb_s = 0.102 * 1.0 + 0.001 * 0.5; /* 0.3 ms rounds up to 1 ms */
    assert_float_equal(r.total, gb_s * 0.00001 + 2 * 0.0000002, 1e-15);
    cost_bill(offer("lam100"), &u, false, &r);
    gb_s = 0.2 * 1.0 + 0.1 * 0.5;
    assert_float_equal(r.total, gb_s * 0.00001 + 2 * 0.0000002, 1e-15);
    assert_float_equal(r.per_1m, r.total / 3 * 1e6, 1e-9);
    /* exactly on a step stays on it */
    cost_invocation exact = {.duration_ms = 300, .memory_mb = 1024, .invoked = true};
    u = usage_of(&exact, 1, NULL, 0, COST_LAMBDA);
    cost_bill(offer("lam100"), &u, false, &r);
    assert_float_equal(r.total, 0.3 * 0.00001 + 0.0000002, 1e-15);
    /* the run's own offer uses the platform's recorded billed time */
    cost_invocation rec = {.duration_ms = 10, .billed_ms = 250, .memory_mb = 1024, .invoked = true};
    u = usage_of(&rec, 1, NULL, 0, COST_LAMBDA);
    cost_bill(offer("lam"), &u, true, &r);
    assert_float_equal(r.total, 0.25 * 0.00001 + 0.0000002, 1e-15);
    cost_bill(offer("lam"), &u, false, &r);
    assert_float_equal(r.total, 0.01 * 0.00001 + 0.0000002, 1e-15);
}

static void test_init_billing_and_batch_share(void **st)
{
    (void)st;
    /* a cold invocation of 40.5 ms after 200 ms INIT, 1024 MB: 41 ms where INIT is free,
     * 241 ms where it is billed */
    cost_invocation cold = {
        .duration_ms = 40.5, .init_ms = 200, .memory_mb = 1024, .invoked = true};
    cost_usage u = usage_of(&cold, 1, NULL, 0, COST_LAMBDA);
    cost_result r;
    cost_bill(offer("lam"), &u, false, &r);
    assert_float_equal(r.total, 0.041 * 0.00001 + 0.0000002, 1e-15);
    cost_bill(offer("laminit"), &u, false, &r);
    assert_float_equal(r.total, 0.241 * 0.00001 + 0.0000002, 1e-15);
    /* four requests merged into one server-side batch of 90.2 ms each pay a quarter of 91 ms */
    cost_invocation b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (cost_invocation){
            .duration_ms = 90.2, .share = 0.25, .memory_mb = 2048, .invoked = true};
    u = usage_of(b, 4, NULL, 0, COST_LAMBDA);
    cost_bill(offer("lam"), &u, false, &r);
    assert_float_equal(r.total, 0.091 * 2.0 * 0.00001 + 4 * 0.0000002, 1e-15);
}

/* One invocation's bill is one function (cost_invocation_bill), which the simulator calls as
 * it runs and the analyzer calls when it re-prices a recorded run: 100,000 recorded invocations
 * (cold ones with INIT, some on provisioned instances, two memory sizes) come to the same cent
 * summed invocation by invocation as the simulator bills them, priced from the billed times the
 * simulator recorded (own), and re-priced from duration and INIT (what-if). */
static void test_one_bill_sim_and_analyzer(void **st)
{
    (void)st;
    const char *ids[] = {"laminit", "lam", "lam100"};
    enum { N = 100000 };
    cost_invocation *inv = calloc(N, sizeof *inv);
    assert_non_null(inv);
    for (int k = 0; k < 3; k++) {
        const cost_offer *o = offer(ids[k]);
        double usd = 0;
        for (int i = 0; i < N; i++) {
            cost_invocation *v = &inv[i];
            *v = (cost_invocation){.duration_ms = 1370.7 + (i % 97) * 11.13,
                                   .init_ms = i % 10 == 0 ? 211.4 : 0,
                                   .memory_mb = i % 3 ? 1769 : 512,
                                   .on_provisioned = k == 1 && i % 7 == 0,
                                   .invoked = true};
            cost_one one;
            cost_invocation_bill(o, v->duration_ms, v->init_ms, v->memory_mb, v->on_provisioned, 0,
                                 &one);
            assert_true(one.priced);
            v->billed_ms = one.billed_ms; /* what the simulator records */
            usd += one.usd;
        }
        cost_usage u = usage_of(inv, N, NULL, 0, COST_LAMBDA);
        cost_result own, whatif;
        cost_bill(o, &u, true, &own);
        cost_bill(o, &u, false, &whatif);
        assert_true(own.priced && whatif.priced);
        assert_true(usd > 1); /* dollars, so a cent is a real test */
        assert_true(llround(own.total * 100) == llround(usd * 100));
        assert_true(llround(whatif.total * 100) == llround(usd * 100));
        assert_true(fabs(own.total - usd) < 1e-9 && fabs(whatif.total - usd) < 1e-9);
    }
    /* INIT billed where the offer says so: 10 ms + 211.4 ms INIT on laminit, 10 ms on lam */
    assert_true(fabs(cost_invocation_billed_ms(offer("laminit"), 10, 211.4, 0) - 222) < 1e-9);
    assert_true(fabs(cost_invocation_billed_ms(offer("lam"), 10, 211.4, 0) - 10) < 1e-9);
    assert_true(fabs(cost_invocation_billed_ms(offer("lam100"), 10.2, 0, 0.5) - 50) < 1e-9);
    free(inv);
}

static void test_lambda_provisioned(void **st)
{
    (void)st;
    /* one PC instance of 2048 MB enabled 7 min (billed 10 min), one invocation on it of 50 ms,
     * and one on-demand invocation of 50 ms */
    cost_invocation inv[] = {
        {.duration_ms = 50, .memory_mb = 2048, .on_provisioned = true, .invoked = true},
        {.duration_ms = 50, .memory_mb = 2048, .invoked = true}};
    cost_span sp[] = {{.seconds = 420, .memory_mb = 2048, .provisioned = true},
                      {.seconds = 30, .memory_mb = 2048}};
    cost_usage u = usage_of(inv, 2, sp, 2, COST_LAMBDA);
    cost_result r;
    cost_bill(offer("lam"), &u, false, &r);
    assert_true(r.priced);
    double want = 600 * 2.0 * 0.000004    /* PC allocated, rounded up to 5 min steps */
                  + 0.05 * 2.0 * 0.000009 /* duration on PC */
                  + 0.05 * 2.0 * 0.00001  /* on-demand duration */
                  + 2 * 0.0000002;
    assert_float_equal(r.total, want, 1e-15);
    /* the same usage on an entry without PC prices: "no price", never 0 */
    cost_bill(offer("nopc"), &u, false, &r);
    assert_false(r.priced);
    assert_float_equal(r.total, 0, 0);
    assert_non_null(strstr(r.why, "no price for pc_gb_s"));
}

static void test_gcf_tiers(void **st)
{
    (void)st;
    /* 260 ms at 256 MB is billed 300 ms of 0.25 GB and 0.4 GHz; 1000 MB falls in the 1024 tier */
    cost_invocation inv[] = {{.duration_ms = 260, .memory_mb = 256, .invoked = true},
                             {.duration_ms = 100, .memory_mb = 1000, .invoked = true}};
    cost_usage u = usage_of(inv, 2, NULL, 0, COST_GCF);
    cost_result r;
    cost_bill(offer("gcf"), &u, false, &r);
    assert_true(r.priced);
    double want = 0.3 * (0.25 * 0.0000025 + 0.4 * 0.00001) +
                  0.1 * (1000 / 1024.0 * 0.0000025 + 1.4 * 0.00001) + 2 * 0.0000004;
    assert_float_equal(r.total, want, 1e-15);
    /* the 128 MB bundle: 100 ms costs $0.000000231 (+ fee), as the published table says */
    cost_invocation small = {.duration_ms = 80, .memory_mb = 128, .invoked = true};
    u = usage_of(&small, 1, NULL, 0, COST_GCF);
    cost_bill(offer("gcf"), &u, false, &r);
    assert_float_equal(r.total - 0.0000004, 0.000000231, 5e-10);
    /* a memory size above every tier has no price */
    cost_invocation big = {.duration_ms = 100, .memory_mb = 4096, .invoked = true};
    u = usage_of(&big, 1, NULL, 0, COST_GCF);
    cost_bill(offer("gcf"), &u, false, &r);
    assert_false(r.priced);
    assert_non_null(strstr(r.why, "no CPU tier for 4096 MB"));
}

static void test_managed_per_instance_second(void **st)
{
    (void)st;
    cost_span sp[] = {{.seconds = 90.5}, {.seconds = 30}};
    cost_usage u = usage_of(NULL, 0, sp, 2, COST_MANAGED);
    cost_result r;
    cost_bill(offer("sm"), &u, false, &r);
    assert_true(r.priced);
    assert_true(r.unverified);
    assert_float_equal(r.total, (91 + 30) / 3600.0 * 0.36, 1e-12);
    assert_false(r.has_per_1m); /* no successful requests */
    /* no instances: words, not 0 */
    u = usage_of(NULL, 0, NULL, 0, COST_MANAGED);
    cost_bill(offer("sm"), &u, false, &r);
    assert_false(r.priced);
    assert_non_null(strstr(r.why, "no instance lifetimes"));
}

static void test_server_per_hour_and_minimum(void **st)
{
    (void)st;
    cost_span sp[] = {{.seconds = 600}, {.seconds = 3700}};
    cost_usage u = usage_of(NULL, 0, sp, 2, COST_SERVER);
    cost_result r;
    cost_bill(offer("srv"), &u, false, &r);
    /* hourly: 10 min bills 1 h, 61.7 min bills 2 h; instance $1/h + one GPU $0.5/h */
    assert_float_equal(r.total, 3 * 1.0 + 3 * 0.5, 1e-12);
    assert_int_equal(r.n_lines, 2);
    cost_span brief = {.seconds = 10};
    u = usage_of(NULL, 0, &brief, 1, COST_SERVER);
    cost_bill(offer("ec2"), &u, false, &r); /* 60-s minimum */
    assert_float_equal(r.total, 60 / 3600.0 * 0.36, 1e-12);
}

/* One instance's bill (cost_instance_billed_s, the live meter's and cost_bill's), and the entry
 * a managed/server run is billed on: the one of its instance type. */
static void test_instance_bill_and_default_offer(void **st)
{
    (void)st;
    const cost_offer *ec2 = offer("ec2");
    assert_true(cost_instance_billed_s(ec2, 10) == 60);              /* the 60-s minimum */
    assert_true(cost_instance_billed_s(ec2, 90.2) == 91);            /* per second, rounded up */
    assert_true(cost_instance_billed_s(offer("srv"), 3700) == 7200); /* hourly */
    assert_ptr_equal(cost_offer_default(cat, "test", COST_SERVER, NULL, "y"), ec2);
    assert_ptr_equal(cost_offer_default(cat, "test", COST_MANAGED, NULL, "ml.x"), offer("sm"));
    assert_null(cost_offer_default(cat, "test", COST_SERVER, NULL, "nope"));
    assert_null(cost_offer_default(cat, "test", COST_SERVER, NULL, NULL));
    assert_null(cost_offer_default(cat, "test", COST_MANAGED, NULL, "y")); /* y is a server */
}

static void test_applicability(void **st)
{
    (void)st;
    cost_invocation inv = {.duration_ms = 10, .memory_mb = 128, .invoked = true};
    cost_span sp = {.seconds = 10};
    cost_usage lam = usage_of(&inv, 1, &sp, 1, COST_LAMBDA);
    cost_usage srv = usage_of(&inv, 1, &sp, 1, COST_SERVER);
    assert_true(cost_offer_applies(offer("gcf"), &lam));
    assert_false(cost_offer_applies(offer("sm"), &lam)); /* lambda instances are not a fleet */
    assert_true(cost_offer_applies(offer("sm"), &srv));
    assert_true(cost_offer_applies(offer("lam"), &srv));
}

static void expect_error(const char *yaml, const char *want)
{
    cost_catalog *c = NULL;
    fm_err err = {0};
    assert_true(cost_catalog_load_buf(yaml, strlen(yaml), "bad.yaml", &c, &err) < 0);
    assert_null(c);
    if (!strstr(err.msg, want))
        fprintf(stderr, "got: %s\nwant: %s\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
}

static void test_catalogue_errors(void **st)
{
    (void)st;
    static const char head[] = "format: 1\ncurrency: USD\nsnapshots: [{name: s, date: x}]\n";
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%soffers:\n  - {id: a, snapshot: s, profile: lambda, name: n, granularity_ms: 1,\n"
             "     source: s, date: d, prices: {gb_s: {usd: 1, status: doc, date: d}}}\n",
             head);
    expect_error(buf, "bad.yaml:6:41: missing key 'source'"); /* the price's map */
    snprintf(buf, sizeof buf,
             "%soffers:\n  - {id: a, snapshot: s, profile: lambda, name: n, granularity_ms: 1,\n"
             "     source: s, date: d, prices: {ghz_s: {usd: 1, status: doc, date: d, "
             "source: s}}}\n",
             head);
    expect_error(buf, "item 'ghz_s' is not priced on profile lambda");
    snprintf(buf, sizeof buf,
             "%soffers:\n  - {id: a, snapshot: t, profile: lambda, name: n, granularity_ms: 1,\n"
             "     source: s, date: d, prices: {}}\n",
             head);
    expect_error(buf, "unknown snapshot 't'");
    snprintf(buf, sizeof buf,
             "%soffers:\n  - {id: a, snapshot: s, profile: lambda, name: n, granularity_ms: 1,\n"
             "     source: s, date: d, prices: {gb_s: {usd: 1, status: maybe, date: d, "
             "source: s}}}\n",
             head);
    expect_error(buf, "unknown status 'maybe'");
    snprintf(buf, sizeof buf, "%soffers: []\nprice: 3\n", head);
    expect_error(buf, "bad.yaml:5:1: unknown key 'price'");
    expect_error("format: 1\ncurrency: EUR\nsnapshots: []\noffers: []\n",
                 "currency 'EUR' is not supported");
}

/* The catalogue shipped in data/: both snapshots, every profile, the study's instance types. */
static void test_shipped_catalogue(void **st)
{
    (void)st;
    char path[4096];
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/prices.yaml", src ? src : ".");
    cost_catalog *c;
    fm_err err = {0};
    int rc = cost_catalog_load(path, &c, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(cost_catalog_snapshot(c, "2021"));
    assert_non_null(cost_catalog_snapshot(c, "current"));
    static const char *const ids[] = {"aws-lambda-x86",
                                      "aws-lambda-x86-100ms",
                                      "aws-lambda-arm",
                                      "gcf-gen1",
                                      "sagemaker-ml.m5.large",
                                      "sagemaker-ml.c5.xlarge",
                                      "sagemaker-ml.g4dn.xlarge",
                                      "ai-platform-online",
                                      "ec2-c5.xlarge",
                                      "ec2-g4dn.xlarge",
                                      "gce-n1-standard-4"};
    for (size_t i = 0; i < FM_ARRAY_LEN(ids); i++)
        assert_non_null(cost_offer_find(c, "2021", ids[i]));
    const cost_offer *x86 = cost_offer_find(c, "current", "aws-lambda-x86");
    assert_non_null(x86);
    assert_float_equal(x86->price[COST_GB_S].usd, 0.0000166667, 1e-15);
    assert_float_equal(x86->price[COST_REQUEST].usd * 1e6, 0.20, 1e-12);
    assert_float_equal(cost_offer_find(c, "2021", "aws-lambda-x86-100ms")->granularity_ms, 100, 0);
    const cost_offer *all;
    size_t n = cost_catalog_offers(c, &all);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < COST__ITEMS; k++)
            if (all[i].price[k].set) {
                assert_non_null(all[i].price[k].source);
                assert_non_null(all[i].price[k].date);
                assert_true(all[i].price[k].usd > 0);
            }
    cost_catalog_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_1ms_vs_100ms),
        cmocka_unit_test(test_init_billing_and_batch_share),
        cmocka_unit_test(test_one_bill_sim_and_analyzer),
        cmocka_unit_test(test_lambda_provisioned),
        cmocka_unit_test(test_gcf_tiers),
        cmocka_unit_test(test_managed_per_instance_second),
        cmocka_unit_test(test_instance_bill_and_default_offer),
        cmocka_unit_test(test_server_per_hour_and_minimum),
        cmocka_unit_test(test_applicability),
        cmocka_unit_test(test_catalogue_errors),
        cmocka_unit_test(test_shipped_catalogue),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
