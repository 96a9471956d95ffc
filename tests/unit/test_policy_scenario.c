/*
 * policy: whole scenarios with deterministic arrival, cold-start and service times, run through
 * tests/unit/policy_harness.h, with outcomes (cold starts, throttles, queueing delays, stops)
 * computed by hand in each test's comment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_harness.h"
#include "policy_test_util.h"

/* n arrivals at start, start + gap, ... */
static int64_t *every(size_t n, int64_t start, int64_t gap)
{
    int64_t *a = malloc(n * sizeof(*a));
    for (size_t i = 0; i < n; i++)
        a[i] = start + (int64_t)i * gap;
    return a;
}

static policy_config lambda(int32_t max, int64_t keep_alive)
{
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.max = max;
    c.inst.keep_alive_ns = keep_alive;
    c.queue.capacity = 64;
    return c;
}

/* Every 100 ms, 20 requests; cold 150 ms, service 50 ms. r0 starts i0 (ready 150, done 200);
 * r1 at 100 finds i0 still starting and starts i1 (ready 250, done 300); from r2 on an instance
 * is always idle. So 2 cold starts, latencies 200, 200 and 18 x 50 ms; both instances expire
 * 10 s after their last use. */
static void test_lambda_warm_reuse(void **state)
{
    (void)state;
    policy_config c = lambda(10, 10 * SEC);
    int64_t *arr = every(20, 0, 100 * MS);
    ph_model m = {.cold_ns = 150 * MS, .service_ns = 50 * MS};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, 20, &m, &r), 0);
    assert_int_equal(r.starts, 2);
    assert_int_equal(r.cold, 2);
    assert_int_equal(r.completed, 20);
    assert_int_equal(r.throttled, 0);
    assert_int_equal(r.stops, 2);
    assert_int_equal(r.latency_ns[0], 200 * MS);
    assert_int_equal(r.latency_ns[1], 200 * MS);
    assert_int_equal(r.latency_ns[19], 50 * MS);
    assert_true(r.lat_sum_ns == (double)(1300 * MS));
    assert_int_equal(r.last_done_ns, 1950 * MS);
    free(r.latency_ns);
    free(arr);
}

/* Two requests 20 s apart with a 10 s keep-alive: the instance scales to zero in between, so
 * both are cold starts. */
static void test_lambda_scale_to_zero(void **state)
{
    (void)state;
    policy_config c = lambda(4, 10 * SEC);
    int64_t arr[] = {0, 20 * SEC};
    ph_model m = {.cold_ns = 1 * SEC, .service_ns = 100 * MS};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, 2, &m, &r), 0);
    assert_int_equal(r.starts, 2);
    assert_int_equal(r.cold, 2);
    assert_int_equal(r.stops, 2);
    assert_int_equal(r.latency_ns[1], 1100 * MS);
    free(r.latency_ns);
}

/* A burst of 10 at t=0 with reserved concurrency 4: 4 cold starts, 6 throttles. */
static void test_lambda_burst_reserved(void **state)
{
    (void)state;
    policy_config c = lambda(10, 10 * SEC);
    c.limit.reserved = 4;
    int64_t *arr = every(10, 0, 0);
    ph_model m = {.cold_ns = 100 * MS, .service_ns = 100 * MS};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, 10, &m, &r), 0);
    assert_int_equal(r.starts, 4);
    assert_int_equal(r.throttled, 6);
    assert_int_equal(r.completed, 4);
    free(r.latency_ns);
    free(arr);
}

/* One server, one worker, 100 ms service, arrivals every 50 ms, queue bound 4. Served in order,
 * r_k completes at 100 (k+1) ms; the queue holds r5..r8 when r9 arrives at 450 ms -> 503. r8
 * waits from 400 to 800 and completes at 900: latency 500 ms. */
static void test_server_queue(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.queue.capacity = 4;
    int64_t *arr = every(10, 0, 50 * MS);
    ph_model m = {.cold_ns = 0, .service_ns = 100 * MS};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, 10, &m, &r), 0);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.latency_ns[9], -1);
    assert_int_equal(r.completed, 9);
    assert_int_equal(r.last_done_ns, 900 * MS);
    assert_int_equal(r.latency_ns[8], 500 * MS);
    free(r.latency_ns);
    free(arr);
}

/* Opportunistic batching (max 4, no delay): r0 goes alone at t=0; at 100 ms r1..r4 go as one
 * batch (100 + 3 x 10 ms -> done 230); then r5..r7 (120 ms -> done 350). */
static void test_server_batching(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.queue.capacity = 16;
    c.batch.max_size = 4;
    int64_t *arr = every(8, 0, 0);
    ph_model m = {.cold_ns = 0, .service_ns = 100 * MS, .per_item_ns = 10 * MS};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, 8, &m, &r), 0);
    assert_int_equal(r.completed, 8);
    assert_int_equal(r.dispatches, 3);
    assert_int_equal(r.latency_ns[4], 230 * MS);
    assert_int_equal(r.last_done_ns, 350 * MS);
    free(r.latency_ns);
    free(arr);
}

/* Managed endpoint under 3 req/s (180/min) against a target of 60/min per instance, 3 breaching
 * datapoints, 120 s provisioning delay: the first instance serves from 120 s; at 180 s (third
 * high datapoint) capacity goes to ceil(180/60) = 3; the two new instances serve from 300 s.
 * Then 60/min per instance is on target: no more scaling, none in. */
static void test_managed_timeline(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    c.inst.min = 1;
    c.inst.max = 4;
    c.inst.provision_delay_ns = 120 * SEC;
    c.queue.capacity = 100000;
    c.scale.target_per_min = 60;
    c.scale.out_datapoints = 3;
    c.scale.in_datapoints = 15;
    c.scale.in_ratio = 0.9;
    c.scale.out_cooldown_ns = 300 * SEC;
    c.scale.in_cooldown_ns = 300 * SEC;
    size_t n = 3600; /* 20 minutes at 3/s */
    int64_t *arr = every(n, 0, SEC / 3);
    ph_model m = {.cold_ns = 10 * SEC, .service_ns = 500 * MS, .end_ns = 1200 * SEC};
    ph_result r;
    assert_int_equal(ph_run(&c, arr, n, &m, &r), 0);
    assert_int_equal(r.starts, 3);
    assert_int_equal(r.stops, 0);
    assert_int_equal(r.rejected, 0);
    /* r0 waits for the first instance: served 120.0 - 120.5 s */
    assert_int_equal(r.latency_ns[0], 120500 * MS);
    /* the backlog drains after 300 s (6/s served vs 3/s arriving): the last requests wait only
     * for their own service */
    assert_int_equal(r.latency_ns[n - 10], 500 * MS);
    assert_true(r.completed >= n - 2);
    free(r.latency_ns);
    free(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_warm_reuse),     cmocka_unit_test(test_lambda_scale_to_zero),
        cmocka_unit_test(test_lambda_burst_reserved), cmocka_unit_test(test_server_queue),
        cmocka_unit_test(test_server_batching),       cmocka_unit_test(test_managed_timeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
