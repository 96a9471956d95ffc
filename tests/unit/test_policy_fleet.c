/*
 * policy: managed and server profiles, dynamic batching and CANCEL, driven by scripted event
 * sequences with the exact actions expected after each event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_test_util.h"

/* ARRIVE of a request carrying `items` (client-side batch). */
static const char *arrive_n(pt *t, int64_t now, uint64_t req, uint32_t items)
{
    policy_event ev = {.type = POLICY_EV_ARRIVE, .request = req, .items = items};
    t->rc = policy_fn_handle(t->fn, &ev, now, &t->acts);
    return pt_render(t);
}

/* Sends n requests spread over [from, to), each dispatched at once and done at once. */
static void steady_load(pt *t, int64_t from, int64_t to, int n, uint64_t *req)
{
    for (int k = 0; k < n; k++) {
        int64_t now = from + (to - from) * k / n;
        ARRIVE(t, now, (*req)++);
        assert_int_equal(t->acts.n, 1);
        assert_int_equal(t->acts.v[0].type, POLICY_ACT_DISPATCH);
        DONE(t, now, t->acts.v[0].instance);
        assert_int_equal(t->acts.n, 0);
    }
}

/* Target tracking: datapoints per period, N breaching before acting, provisioning delay before a
 * new instance serves, scale-in after the low streak and cooldown, LRU idle instances first. */
static void test_managed_target_tracking(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    c.inst.min = 1;
    c.inst.max = 3;
    c.inst.workers = 2;
    c.inst.provision_delay_ns = 30 * SEC;
    c.queue.capacity = 4;
    c.scale.target_per_min = 60;
    c.scale.period_ns = 60 * SEC;
    c.scale.out_datapoints = 2;
    c.scale.in_datapoints = 3;
    c.scale.in_ratio = 0.5;
    c.scale.out_cooldown_ns = 120 * SEC;
    c.scale.in_cooldown_ns = 60 * SEC;
    pt t;
    assert_string_equal(pt_init(&t, &c), "START i0 min_instances");
    assert_int_equal(t.acts.wake_ns, 60 * SEC);
    /* READY inside the provisioning delay: it serves from 30 s */
    assert_string_equal(READY(&t, 10 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 30 * SEC);
    assert_string_equal(ARRIVE(&t, 20 * SEC, 1), "");
    assert_string_equal(TICK(&t, 30 * SEC), "DISPATCH i0 [1] warm");
    assert_string_equal(ARRIVE(&t, 31 * SEC, 2), "DISPATCH i0 [2] warm"); /* second worker */
    assert_string_equal(ARRIVE(&t, 32 * SEC, 3), "");                     /* both busy: queued */
    assert_string_equal(DONE(&t, 40 * SEC, ID(0, 1)), "DISPATCH i0 [3] warm");
    DONE(&t, 41 * SEC, ID(0, 1));
    DONE(&t, 42 * SEC, ID(0, 1));
    assert_string_equal(TICK(&t, 60 * SEC), ""); /* 3/min: low datapoint 1 */
    uint64_t req = 100;
    steady_load(&t, 60 * SEC, 120 * SEC, 150, &req);
    assert_string_equal(TICK(&t, 120 * SEC), ""); /* 150/min > 60: high datapoint 1 of 2 */
    steady_load(&t, 120 * SEC, 180 * SEC, 150, &req);
    /* high datapoint 2 of 2: capacity ceil(150 / 60) = 3 */
    assert_string_equal(TICK(&t, 180 * SEC), "START i1 scale_out | START i2 scale_out");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.desired, 3);
    assert_string_equal(READY(&t, 190 * SEC, ID(1, 1)), "");
    assert_string_equal(READY(&t, 190 * SEC, ID(2, 1)), "");
    assert_int_equal(t.acts.wake_ns, 210 * SEC);
    assert_string_equal(TICK(&t, 210 * SEC), "");
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.instances[POLICY_INST_IDLE], 3);
    assert_string_equal(TICK(&t, 240 * SEC), ""); /* no load: low 1 */
    assert_string_equal(TICK(&t, 300 * SEC), ""); /* low 2 */
    /* low 3 of 3, cooldowns over: back to inst.min, least recently used first */
    assert_string_equal(TICK(&t, 360 * SEC), "STOP i0 scale_in | STOP i1 scale_in");
    assert_string_equal(STOPPED(&t, 361 * SEC, ID(0, 1)), "");
    assert_string_equal(STOPPED(&t, 361 * SEC, ID(1, 1)), "");
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.desired, 1);
    assert_int_equal(st.instances[POLICY_INST_IDLE], 1);
    pt_free(&t);
}

/* Scale-in never cuts a request: a busy instance drains, then stops. A scale-out inside the
 * cooldown waits for it to end. */
static void test_managed_drain_and_cooldown(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    c.inst.min = 1;
    c.inst.max = 4;
    c.queue.capacity = 8;
    c.scale.target_per_min = 1;
    c.scale.period_ns = 60 * SEC;
    c.scale.out_cooldown_ns = 600 * SEC;
    c.scale.in_cooldown_ns = 0;
    pt t;
    pt_init(&t, &c);
    READY(&t, 0, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 1 * SEC, 1), "DISPATCH i0 [1] warm");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 2), "");
    assert_string_equal(TICK(&t, 60 * SEC), "START i1 scale_out"); /* 2/min vs 1 */
    READY(&t, 61 * SEC, ID(1, 1));
    assert_string_equal(t.line, "DISPATCH i1 [2] warm");
    for (int k = 0; k < 4; k++)
        ARRIVE(&t, 62 * SEC + k, 3 + (uint64_t)k); /* 4 more, all queued */
    /* 4/min on 2 instances = 2/min per instance > 1; want 4, but the cooldown holds it */
    assert_string_equal(TICK(&t, 120 * SEC), "");
    /* no load at all: in cooldown 0, scale in to 1 -- both busy, so one drains */
    pt_ev(&t, POLICY_EV_CANCEL, 121 * SEC, 3, 0);
    pt_ev(&t, POLICY_EV_CANCEL, 121 * SEC, 4, 0);
    pt_ev(&t, POLICY_EV_CANCEL, 121 * SEC, 5, 0);
    pt_ev(&t, POLICY_EV_CANCEL, 121 * SEC, 6, 0);
    assert_string_equal(TICK(&t, 180 * SEC), "");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.instances[POLICY_INST_DRAINING], 1);
    assert_int_equal(st.cancels, 4);
    assert_string_equal(DONE(&t, 190 * SEC, ID(1, 1)), "STOP i1 scale_in");
    assert_string_equal(ARRIVE(&t, 191 * SEC, 9), "");
    assert_string_equal(DONE(&t, 192 * SEC, ID(0, 1)), "DISPATCH i0 [9] warm");
    pt_free(&t);
}

/* Scale-in stops starting instances first; a READY that races with that STOP is accepted and
 * the STOP stands. */
static void test_managed_scale_in_starting(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    c.inst.max = 3;
    c.queue.capacity = 8;
    c.scale.target_per_min = 1;
    pt t;
    pt_init(&t, &c);
    READY(&t, 1 * SEC, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 10 * SEC, 1), "DISPATCH i0 [1] warm");
    ARRIVE(&t, 10 * SEC, 2);
    ARRIVE(&t, 10 * SEC, 3);
    assert_string_equal(TICK(&t, 60 * SEC), "START i1 scale_out | START i2 scale_out");
    CANCEL(&t, 61 * SEC, 2);
    CANCEL(&t, 61 * SEC, 3);
    assert_string_equal(DONE(&t, 62 * SEC, ID(0, 1)), "");
    assert_string_equal(TICK(&t, 120 * SEC), "STOP i2 scale_in | STOP i1 scale_in");
    assert_string_equal(READY(&t, 121 * SEC, ID(1, 1)), "");
    assert_int_equal(t.rc, 0);
    assert_string_equal(STOPPED(&t, 122 * SEC, ID(1, 1)), "");
    pt_ev(&t, POLICY_EV_START_FAILED, 122 * SEC, 0, ID(2, 1)); /* gone while stopping */
    assert_int_equal(t.rc, 0);
    assert_string_equal(t.line, "");
    policy_instance_info info;
    assert_int_equal(policy_fn_instance(t.fn, ID(0, 1), &info), 0);
    assert_int_equal(info.state, POLICY_INST_IDLE);
    assert_int_equal(info.last_used_ns, 62 * SEC);
    assert_int_equal(policy_fn_instance(t.fn, ID(1, 1), &info), FM_ENOTFOUND);
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.instances[POLICY_INST_STOPPING], 0);
    assert_int_equal(st.desired, 1);
    pt_free(&t);
}

/* DEPLOY with POLICY_DEPLOY_PREPROVISIONED: the instances it starts skip the provisioning delay
 * (an endpoint created before the experiment); a later scale-out still waits it. */
static void test_managed_preprovisioned(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    c.inst.max = 2;
    c.inst.provision_delay_ns = 300 * SEC;
    c.queue.capacity = 8;
    c.scale.target_per_min = 1;
    c.scale.in_datapoints = 100;
    pt t;
    memset(&t, 0, sizeof(t));
    fm_err err;
    assert_int_equal(policy_fn_new(&c, NULL, &t.fn, &err), 0);
    assert_int_equal(policy_actions_init(&t.acts, t.fn), 0);
    policy_event dep = {.type = POLICY_EV_DEPLOY, .flags = POLICY_DEPLOY_PREPROVISIONED};
    assert_int_equal(policy_fn_handle(t.fn, &dep, 0, &t.acts), 0);
    assert_string_equal(pt_render(&t), "START i0 min_instances");
    assert_string_equal(ARRIVE(&t, 1 * SEC, 1), "");
    assert_string_equal(READY(&t, 2 * SEC, ID(0, 1)), "DISPATCH i0 [1] warm");
    policy_instance_info info;
    assert_int_equal(policy_fn_instance(t.fn, ID(0, 1), &info), 0);
    assert_int_equal(info.started_ns, 0); /* the start time stays true */
    ARRIVE(&t, 3 * SEC, 2);
    assert_string_equal(TICK(&t, 60 * SEC), "START i1 scale_out");
    assert_string_equal(READY(&t, 70 * SEC, ID(1, 1)), "");
    assert_string_equal(TICK(&t, 359 * SEC), "");
    assert_string_equal(TICK(&t, 360 * SEC), "DISPATCH i1 [2] warm");
    pt_free(&t);
}

/* A fixed fleet: FIFO queue with a bound, 503 past it, crashed instances replaced. */
static void test_server_fleet(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.inst.min = 2;
    c.inst.max = 2;
    c.queue.capacity = 2;
    pt t;
    assert_string_equal(pt_init(&t, &c), "START i0 min_instances | START i1 min_instances");
    assert_int_equal(t.acts.wake_ns, INT64_MAX); /* no periodic work */
    READY(&t, 1 * SEC, ID(0, 1));
    READY(&t, 1 * SEC, ID(1, 1));
    assert_string_equal(ARRIVE(&t, 2 * SEC, 1), "DISPATCH i1 [1] warm");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 2), "DISPATCH i0 [2] warm");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 3), "");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 4), "");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 5), "REJECT r5 queue_full");
    assert_string_equal(DONE(&t, 3 * SEC, ID(1, 1)), "DISPATCH i1 [3] warm");
    assert_string_equal(STOPPED(&t, 4 * SEC, ID(0, 1)), "START i0 crashed");
    assert_string_equal(READY(&t, 5 * SEC, ID(0, 2)), "DISPATCH i0 [4] warm");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.rejects[POLICY_REASON_QUEUE_FULL], 1);
    assert_int_equal(st.crashes, 1);
    assert_int_equal(st.queue_depth, 0);
    pt_free(&t);
}

/* Dynamic batching: released when full or when the oldest has waited max_delay; a request
 * carrying several items counts them; a batch never exceeds max_size items. */
static void test_batching_server(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.queue.capacity = 8;
    c.batch.max_size = 3;
    c.batch.max_delay_ns = 10 * MS;
    pt t;
    pt_init(&t, &c);
    READY(&t, 0, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 1 * MS, 1), "");
    assert_int_equal(t.acts.wake_ns, 11 * MS);
    assert_string_equal(ARRIVE(&t, 2 * MS, 2), "");
    assert_string_equal(ARRIVE(&t, 3 * MS, 3), "DISPATCH i0 [1,2,3] warm");
    assert_int_equal(t.acts.v[0].items, 3);
    assert_string_equal(ARRIVE(&t, 4 * MS, 4), "");
    assert_int_equal(t.acts.wake_ns, 14 * MS);
    assert_string_equal(TICK(&t, 14 * MS), ""); /* due, but no free worker */
    assert_int_equal(t.acts.wake_ns, INT64_MAX);
    assert_string_equal(DONE(&t, 20 * MS, ID(0, 1)), "DISPATCH i0 [4] warm");
    assert_string_equal(arrive_n(&t, 21 * MS, 5, 2), "");
    assert_string_equal(arrive_n(&t, 22 * MS, 6, 2), "");
    assert_string_equal(DONE(&t, 25 * MS, ID(0, 1)), "DISPATCH i0 [5] warm"); /* 2+2 > 3 */
    assert_int_equal(t.acts.v[0].items, 2);
    assert_string_equal(DONE(&t, 26 * MS, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 32 * MS);
    assert_string_equal(TICK(&t, 32 * MS), "DISPATCH i0 [6] warm");
    pt_free(&t);
}

/* Batching on lambda: the batch is formed first, then routed like one request (a full batch
 * starts an instance bound to it). */
static void test_batching_lambda(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.max = 2;
    c.inst.keep_alive_ns = 60 * SEC;
    c.queue.capacity = 8;
    c.batch.max_size = 2;
    c.batch.max_delay_ns = 10 * MS;
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "");
    assert_string_equal(ARRIVE(&t, 1 * MS, 2), "START i0 demand");
    assert_string_equal(READY(&t, 3 * MS, ID(0, 1)), "DISPATCH i0 [1,2] cold");
    DONE(&t, 5 * MS, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 20 * MS, 3), ""); /* an idle worker, but the batch waits */
    assert_string_equal(TICK(&t, 30 * MS), "DISPATCH i0 [3] warm");
    pt_free(&t);
}

/* CANCEL drops a queued request; the next one moves up. */
static void test_cancel(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.queue.capacity = 2;
    pt t;
    pt_init(&t, &c);
    READY(&t, 0, ID(0, 1));
    ARRIVE(&t, 1, 1);
    ARRIVE(&t, 2, 2);
    ARRIVE(&t, 3, 3);
    assert_string_equal(CANCEL(&t, 4, 3), "");
    assert_int_equal(t.rc, 0);
    CANCEL(&t, 4, 3);
    assert_int_equal(t.rc, FM_ENOTFOUND);
    /* the freed place takes a new request even though the tombstone is still in the ring */
    assert_string_equal(ARRIVE(&t, 5, 4), "");
    assert_string_equal(ARRIVE(&t, 6, 5), "REJECT r5 queue_full");
    assert_string_equal(DONE(&t, 7, ID(0, 1)), "DISPATCH i0 [2] warm");
    assert_string_equal(DONE(&t, 8, ID(0, 1)), "DISPATCH i0 [4] warm");
    pt_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_managed_target_tracking),
        cmocka_unit_test(test_managed_drain_and_cooldown),
        cmocka_unit_test(test_managed_scale_in_starting),
        cmocka_unit_test(test_managed_preprovisioned),
        cmocka_unit_test(test_server_fleet),
        cmocka_unit_test(test_batching_server),
        cmocka_unit_test(test_batching_lambda),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
