/*
 * policy: the keep-alive policies (fixed, histogram, greedy-dual) on scripted idle-time
 * sequences, each decision checked exactly against numbers worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_test_util.h"

/* A lambda function with the histogram policy: 1-minute bins over 10 minutes (10 bins), head
 * 5th / tail 99th percentile, 10 % margin, CV test at 2, forecast when half the idle times are
 * out of bounds, with a 15 % margin (the paper's numbers, but a 10-bin range so the arithmetic
 * stays small). */
static policy_config hist_cfg(void)
{
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.max = 4;
    c.queue.capacity = 16;
    c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_HISTOGRAM;
    c.histogram.bin_ns = 60 * SEC;
    c.histogram.range_ns = 600 * SEC;
    c.histogram.head_pct = 5;
    c.histogram.tail_pct = 99;
    c.histogram.margin = 0.10;
    c.histogram.cv_min = 2;
    c.histogram.oob_max = 0.5;
    c.histogram.forecast_margin = 0.15;
    return c;
}

static void windows(pt *t, int64_t *pw, int64_t *ka)
{
    policy_fn_keep_alive_windows(t->fn, pw, ka);
}

/* One zero-length invocation at `now`: a cold start is READY at once, STOPs are answered at
 * once; why: the histogram tests only care about the idle times between invocations. */
static void invoke(pt *t, int64_t now, uint64_t req)
{
    pt_ev(t, POLICY_EV_ARRIVE, now, req, 0);
    assert_int_equal(t->rc, 0);
    policy_instance_id stop[8], start = 0, disp = 0;
    int nstop = 0;
    for (uint32_t i = 0; i < t->acts.n; i++) {
        const policy_action *a = &t->acts.v[i];
        if (a->type == POLICY_ACT_STOP)
            stop[nstop++] = a->instance;
        if (a->type == POLICY_ACT_START)
            start = a->instance;
        if (a->type == POLICY_ACT_DISPATCH)
            disp = a->instance;
    }
    for (int i = 0; i < nstop; i++)
        assert_string_equal(STOPPED(t, now, stop[i]), "");
    if (!disp) {
        assert_true(start != 0);
        READY(t, now, start);
        assert_int_equal(t->acts.n, 1);
        disp = t->acts.v[0].instance;
    }
    DONE(t, now, disp);
    assert_int_equal(t->rc, 0);
    for (uint32_t i = 0; i < t->acts.n; i++)
        if (t->acts.v[i].type == POLICY_ACT_STOP)
            STOPPED(t, now, t->acts.v[i].instance);
}

/* A regular 5-minute idle time: one sample makes a one-peak histogram. Bin counts {0,0,0,0,0,
 * 1,0,0,0,0}: mean 0.1, sum of squares 1, variance (1 - 10 x 0.01) / 9 = 0.1, CV = 0.316 / 0.1
 * = 3.16 >= 2, so the histogram decides. Head and tail are bin 5: pre-warm = 5 min x 0.9 =
 * 270 s; keep until 6 min x 1.1 = 396 s, so keep-alive = 396 - 270 = 126 s. */
static void test_histogram_prewarm(void **state)
{
    (void)state;
    policy_config c = hist_cfg();
    pt t;
    pt_init(&t, &c);
    int64_t pw, ka;
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 0); /* empty: standard keep-alive for the whole range */
    assert_int_equal(ka, 600 * SEC);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(READY(&t, 1 * SEC, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(&t, 2 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 602 * SEC); /* 2 s + the 600 s range */
    /* idle time 300.5 s (bin 5), still warm */
    assert_string_equal(ARRIVE(&t, 302500 * MS, 2), "DISPATCH i0 [2] warm");
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 270 * SEC);
    assert_int_equal(ka, 126 * SEC);
    /* now the instance is unloaded at once and a pre-warm planned at 303.5 + 270 = 573.5 s */
    assert_string_equal(DONE(&t, 303500 * MS, ID(0, 1)), "STOP i0 idle");
    assert_int_equal(t.acts.wake_ns, 573500 * MS);
    assert_string_equal(STOPPED(&t, 304 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 573500 * MS);
    assert_string_equal(TICK(&t, 573 * SEC), ""); /* early: nothing */
    assert_string_equal(TICK(&t, 573500 * MS), "START i0 prewarm");
    assert_string_equal(READY(&t, 574500 * MS, ID(0, 2)), "");
    assert_int_equal(t.acts.wake_ns, 699500 * MS); /* kept until 573.5 + 126 s */
    /* the next arrival, 300 s after the last end, finds the pre-warmed instance */
    assert_string_equal(ARRIVE(&t, 603500 * MS, 3), "DISPATCH i0 [3] warm");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.cold_dispatches, 1);
    assert_int_equal(st.prewarms, 1);
    /* a pre-warmed instance nobody uses expires at the end of its window */
    assert_string_equal(DONE(&t, 603500 * MS, ID(0, 2)), "STOP i0 idle");
    assert_string_equal(STOPPED(&t, 604 * SEC, ID(0, 2)), "");
    assert_string_equal(TICK(&t, 873500 * MS), "START i0 prewarm");
    assert_string_equal(READY(&t, 874 * SEC, ID(0, 3)), "");
    assert_string_equal(TICK(&t, 999499 * MS), "");
    assert_string_equal(TICK(&t, 999500 * MS), "STOP i0 idle");
    pt_free(&t);
}

/* The CV test: idle times of 90 s and 150 s (bins 1, 2): counts {0,1,1,0,...}, mean 0.2, sum of
 * squares 2, variance (2 - 0.4) / 9 = 0.178, CV = 0.422 / 0.2 = 2.11 >= 2: head bin 1 gives
 * pre-warm 60 x 0.9 = 54 s; tail bin 2 keeps until 180 x 1.1 = 198 s, keep-alive 144 s. A third,
 * 210 s (bin 3): sum of squares 3, mean 0.3, variance (3 - 0.9) / 9 = 0.233, CV = 1.61 < 2: not
 * representative, back to standard keep-alive (0, 600 s). */
static void test_histogram_cv_fallback(void **state)
{
    (void)state;
    policy_config c = hist_cfg();
    pt t;
    pt_init(&t, &c);
    int64_t pw, ka;
    invoke(&t, 0, 1);
    invoke(&t, 90 * SEC, 2);
    /* one sample, bin 1: head = tail = bin 1, pre-warm 54 s, keep until 2 min x 1.1 = 132 s */
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 54 * SEC);
    assert_int_equal(ka, 78 * SEC);
    invoke(&t, 240 * SEC, 3);
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 54 * SEC);
    assert_int_equal(ka, 144 * SEC);
    invoke(&t, 450 * SEC, 4);
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 0);
    assert_int_equal(ka, 600 * SEC);
    /* so the instance now stays for the whole range */
    assert_int_equal(t.acts.wake_ns, 1050 * SEC);
    pt_free(&t);
}

/* Idle times out of bounds: 1200 s and then 1500 s, beyond the 600 s range, so every idle time
 * is out of bounds (share 1 >= 0.5) and the forecast decides. After one: x = 1200 s, pre-warm
 * 1200 x 0.85 = 1020 s, keep until 1200 x 1.15 = 1380 s (360 s). After two: mean 1350,
 * deviations -150 and +150, phi = (150 x -150) / (2 x 150^2) = -0.5, x = 1350 - 0.5 x 150 =
 * 1275 s: pre-warm 1083.75 s, keep until 1466.25 s (382.5 s). */
static void test_histogram_forecast(void **state)
{
    (void)state;
    policy_config c = hist_cfg();
    pt t;
    pt_init(&t, &c);
    int64_t pw, ka;
    invoke(&t, 0, 1);
    invoke(&t, 1200 * SEC, 2);
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 1020 * SEC);
    assert_int_equal(ka, 360 * SEC);
    invoke(&t, 2700 * SEC, 3);
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 1083750 * MS);
    assert_int_equal(ka, 382500 * MS);
    pt_free(&t);
}

/* fixed keeps today's behaviour: windows (0, keep_alive), expiry keep_alive after last use. */
static void test_fixed(void **state)
{
    (void)state;
    policy_config c = hist_cfg();
    c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_FIXED;
    c.inst.keep_alive_ns = 10 * 60 * SEC;
    pt t;
    pt_init(&t, &c);
    int64_t pw, ka;
    windows(&t, &pw, &ka);
    assert_int_equal(pw, 0);
    assert_int_equal(ka, 600 * SEC);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(READY(&t, 1 * SEC, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(&t, 2 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 602 * SEC);
    assert_string_equal(TICK(&t, 601 * SEC), "");
    assert_string_equal(TICK(&t, 602 * SEC), "STOP i0 idle");
    pt_free(&t);
}

/* ---- greedy-dual ---------------------------------------------------------------------------- */

typedef struct gd3 {
    policy_pool *pool;
    pt f[3]; /* A, B, C: 512 MB each in a 1024 MB pool */
} gd3;

static void gd3_init(gd3 *g)
{
    fm_err err = {0};
    assert_int_equal(policy_pool_new(1024, &g->pool, &err), 0);
    for (int i = 0; i < 3; i++) {
        policy_config c;
        policy_config_init(&c, POLICY_PROFILE_LAMBDA);
        c.inst.max = 4;
        c.queue.capacity = 16;
        c.fn.memory_mb = 512;
        c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_GREEDY_DUAL;
        c.greedy_dual.budget_mb = 1024;
        c.greedy_dual.cold_cost_ns = 1 * SEC;
        pt *t = &g->f[i];
        memset(t, 0, sizeof(*t));
        assert_int_equal(policy_fn_new(&c, NULL, &t->fn, &err), 0);
        assert_int_equal(policy_fn_join_pool(t->fn, g->pool, &err), 0);
        policy_fn_set_user(t->fn, t);
        assert_int_equal(policy_actions_init(&t->acts, t->fn), 0);
        policy_event ev = {.type = POLICY_EV_DEPLOY};
        assert_int_equal(policy_fn_handle(t->fn, &ev, 0, &t->acts), 0);
    }
}

static void gd3_free(gd3 *g)
{
    for (int i = 0; i < 3; i++)
        pt_free(&g->f[i]);
    policy_pool_free(g->pool);
}

/* The member that owes a STOP, told with a TICK at now; returns its rendered actions. */
static const char *gd3_pending(gd3 *g, int64_t now, int *who)
{
    policy_fn *fn = policy_pool_take_pending(g->pool);
    if (!fn)
        return NULL;
    pt *t = policy_fn_user(fn);
    *who = (int)(t - g->f);
    return TICK(t, now);
}

/* Priorities (cost in s / size in MB, clock starting at 0), worked out by hand:
 *   A cold 0-1 s (cost 1), B cold 2-5 s (cost 3), A warm at 6 s:
 *   A = 0 + 2 x 1/512 = 2/512, B = 0 + 1 x 3/512 = 3/512; the pool is full (2 x 512 MB).
 *   C arrives at 7 s: evict the lowest, A (clock := 2/512; A lost its last instance: freq 0).
 *   C cold 7-9 s (cost 2): C = 2/512 + 1 x 2/512 = 4/512.
 *   A arrives at 10 s: evict min(B 3/512, C 4/512) = B (clock := 3/512).
 *   A cold 10-11 s: A = 3/512 + 1 x 1/512 = 4/512 (its frequency restarted at 1). */
static void test_greedy_dual(void **state)
{
    (void)state;
    gd3 g;
    gd3_init(&g);
    pt *a = &g.f[0], *b = &g.f[1], *c = &g.f[2];
    int who = -1;
    assert_string_equal(ARRIVE(a, 0, 1), "START i0 demand");
    assert_string_equal(READY(a, 1 * SEC, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(a, 1 * SEC, ID(0, 1)), "");
    assert_int_equal(a->acts.wake_ns, INT64_MAX); /* never expires: evicted or kept */
    assert_string_equal(ARRIVE(b, 2 * SEC, 1), "START i0 demand");
    assert_string_equal(READY(b, 5 * SEC, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(b, 5 * SEC, ID(0, 1)), "");
    assert_string_equal(ARRIVE(a, 6 * SEC, 2), "DISPATCH i0 [2] warm");
    assert_string_equal(DONE(a, 6 * SEC, ID(0, 1)), "");
    assert_null(policy_pool_take_pending(g.pool));
    /* C evicts A */
    assert_string_equal(ARRIVE(c, 7 * SEC, 1), "START i0 demand");
    assert_string_equal(gd3_pending(&g, 7 * SEC, &who), "STOP i0 evict");
    assert_int_equal(who, 0);
    assert_null(policy_pool_take_pending(g.pool));
    assert_string_equal(STOPPED(a, 7 * SEC, ID(0, 1)), "");
    assert_string_equal(READY(c, 9 * SEC, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(c, 9 * SEC, ID(0, 1)), "");
    /* A evicts B, not C */
    assert_string_equal(ARRIVE(a, 10 * SEC, 3), "START i0 demand");
    assert_string_equal(gd3_pending(&g, 10 * SEC, &who), "STOP i0 evict");
    assert_int_equal(who, 1);
    assert_string_equal(STOPPED(b, 10 * SEC, ID(0, 1)), "");
    assert_string_equal(READY(a, 11 * SEC, ID(0, 2)), "DISPATCH i0 [3] cold");
    assert_string_equal(DONE(a, 11 * SEC, ID(0, 2)), "");
    /* B comes back: A = 4/512 and C = 4/512 tie; the earliest member (A) goes */
    assert_string_equal(ARRIVE(b, 12 * SEC, 2), "START i0 demand");
    assert_string_equal(gd3_pending(&g, 12 * SEC, &who), "STOP i0 evict");
    assert_int_equal(who, 0);
    policy_stats st;
    policy_fn_stats(a->fn, &st);
    assert_int_equal(st.evictions, 2);
    policy_fn_stats(b->fn, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.over_budget, 0);
    gd3_free(&g);
}

/* With every instance busy nothing can be evicted: the start goes ahead over budget (counted),
 * and no request is refused for memory. */
static void test_greedy_dual_over_budget(void **state)
{
    (void)state;
    gd3 g;
    gd3_init(&g);
    assert_string_equal(ARRIVE(&g.f[0], 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&g.f[1], 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&g.f[2], 0, 1), "START i0 demand");
    assert_null(policy_pool_take_pending(g.pool));
    policy_stats st;
    policy_fn_stats(g.f[2].fn, &st);
    assert_int_equal(st.over_budget, 1);
    gd3_free(&g);
}

/* Configuration: names parse, and the validation names the missing piece. */
static void test_config(void **state)
{
    (void)state;
    policy_keep_alive k;
    assert_int_equal(policy_keep_alive_parse("greedy-dual", &k), 0);
    assert_int_equal(k, POLICY_KEEP_ALIVE_GREEDY_DUAL);
    assert_string_equal(policy_keep_alive_name(POLICY_KEEP_ALIVE_HISTOGRAM), "histogram");
    assert_int_not_equal(policy_keep_alive_parse("lru", &k), 0);
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_GREEDY_DUAL;
    fm_err err = {0};
    assert_int_not_equal(policy_config_validate(&c, &err), 0);
    assert_non_null(strstr(err.msg, "greedy_dual.budget_mb"));
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_HISTOGRAM;
    assert_int_not_equal(policy_config_validate(&c, &err), 0);
    assert_non_null(strstr(err.msg, "histogram.bin"));
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.inst.keep_alive_policy = POLICY_KEEP_ALIVE_HISTOGRAM;
    assert_int_not_equal(policy_config_validate(&c, &err), 0);
    assert_non_null(strstr(err.msg, "lambda and gcf only"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_prewarm),
        cmocka_unit_test(test_histogram_cv_fallback),
        cmocka_unit_test(test_histogram_forecast),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_greedy_dual),
        cmocka_unit_test(test_greedy_dual_over_budget),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
