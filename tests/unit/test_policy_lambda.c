/*
 * policy: lambda and gcf profiles, driven by scripted event sequences with the exact actions
 * expected after each event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_test_util.h"

/* A small Lambda: 4 instances, 10 s keep-alive, no limits beyond max instances. */
static policy_config lambda_cfg(void)
{
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.max = 4;
    c.inst.keep_alive_ns = 10 * SEC;
    c.queue.capacity = 16;
    return c;
}

/* A cold start binds the request to the new instance; the next request reuses it warm. */
static void test_cold_then_warm(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    assert_string_equal(pt_init(&t, &c), "");
    assert_int_equal(t.acts.wake_ns, INT64_MAX);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(READY(&t, 100 * MS, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(&t, 200 * MS, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 200 * MS + 10 * SEC);
    assert_string_equal(ARRIVE(&t, 1 * SEC, 2), "DISPATCH i0 [2] warm");
    assert_int_equal(t.acts.wake_ns, INT64_MAX); /* nothing idle, nothing to expire */
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.instances[POLICY_INST_BUSY], 1);
    assert_int_equal(st.cold_dispatches, 1);
    assert_int_equal(st.dispatches, 2);
    assert_int_equal(st.starts, 1);
    policy_instance_info info;
    assert_int_equal(policy_fn_instance(t.fn, ID(0, 1), &info), 0);
    assert_int_equal(info.state, POLICY_INST_BUSY);
    assert_false(info.provisioned);
    assert_int_equal(info.in_flight, 1);
    assert_int_equal(info.started_ns, 0);
    pt_free(&t);
}

/* Never route to an instance before it is ready: a second request starts a second instance. */
static void test_not_before_ready(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 1 * MS, 2), "START i1 demand");
    /* i1 is ready first: it serves the request bound to it, not r1 */
    assert_string_equal(READY(&t, 50 * MS, ID(1, 1)), "DISPATCH i1 [2] cold");
    assert_string_equal(READY(&t, 80 * MS, ID(0, 1)), "DISPATCH i0 [1] cold");
    pt_free(&t);
}

/* FIRST_FREE: a request waiting for a cold start goes to a warm instance that frees first; the
 * started instance then idles. */
static void test_first_free(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.inst.cold_wait = POLICY_COLD_WAIT_FIRST_FREE;
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(READY(&t, 10 * MS, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(ARRIVE(&t, 20 * MS, 2), "START i1 demand");
    assert_string_equal(DONE(&t, 30 * MS, ID(0, 1)), "DISPATCH i0 [2] warm");
    assert_string_equal(READY(&t, 500 * MS, ID(1, 1)), "");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.instances[POLICY_INST_IDLE], 1);
    assert_int_equal(st.instances[POLICY_INST_BUSY], 1);
    /* in BIND mode the same script keeps r2 on i1 */
    pt_free(&t);
    c.inst.cold_wait = POLICY_COLD_WAIT_BIND;
    pt_init(&t, &c);
    ARRIVE(&t, 0, 1);
    READY(&t, 10 * MS, ID(0, 1));
    ARRIVE(&t, 20 * MS, 2);
    assert_string_equal(DONE(&t, 30 * MS, ID(0, 1)), "");
    assert_string_equal(READY(&t, 500 * MS, ID(1, 1)), "DISPATCH i1 [2] cold");
    pt_free(&t);
}

/* Reuse the most recently used idle instance; expire the least recently used first. */
static void test_mru_and_keep_alive(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    pt_init(&t, &c);
    ARRIVE(&t, 0, 1);
    ARRIVE(&t, 0, 2);
    READY(&t, 10 * MS, ID(0, 1));
    READY(&t, 10 * MS, ID(1, 1));
    assert_string_equal(DONE(&t, 1 * SEC, ID(1, 1)), "");
    assert_string_equal(DONE(&t, 2 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 11 * SEC); /* i1 idle since 1 s */
    assert_string_equal(ARRIVE(&t, 3 * SEC, 3), "DISPATCH i0 [3] warm");
    assert_string_equal(DONE(&t, 4 * SEC, ID(0, 1)), "");
    assert_string_equal(TICK(&t, 11 * SEC), "STOP i1 idle");
    assert_int_equal(t.acts.wake_ns, 14 * SEC);
    assert_string_equal(TICK(&t, 13 * SEC), ""); /* early timer: nothing due */
    assert_string_equal(TICK(&t, 14 * SEC), "STOP i0 idle");
    assert_int_equal(t.acts.wake_ns, INT64_MAX);
    assert_string_equal(STOPPED(&t, 14 * SEC + 1, ID(1, 1)), "");
    assert_string_equal(STOPPED(&t, 14 * SEC + 2, ID(0, 1)), "");
    /* scale to zero, then a cold start again (slot 0 reused with a new generation) */
    assert_string_equal(ARRIVE(&t, 20 * SEC, 4), "START i0 demand");
    assert_int_equal(policy_instance_slot(t.acts.v[0].instance), 0);
    assert_true(t.acts.v[0].instance == ID(0, 2));
    pt_free(&t);
}

/* An instance with a request in flight is never stopped, however long it runs. A late event
 * after the expiry acts as the tick. */
static void test_busy_never_stopped(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    pt_init(&t, &c);
    ARRIVE(&t, 0, 1);
    READY(&t, 0, ID(0, 1));
    assert_string_equal(TICK(&t, 60 * SEC), "");
    assert_string_equal(DONE(&t, 61 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 71 * SEC);
    assert_string_equal(ARRIVE(&t, 80 * SEC, 2), "STOP i0 idle | START i1 demand");
    pt_free(&t);
}

/* keep_alive 0: stop as soon as idle. */
static void test_keep_alive_zero(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.inst.keep_alive_ns = 0;
    pt t;
    pt_init(&t, &c);
    ARRIVE(&t, 0, 1);
    READY(&t, 0, ID(0, 1));
    assert_string_equal(DONE(&t, 5 * MS, ID(0, 1)), "STOP i0 idle");
    pt_free(&t);
}

/* Reserved concurrency, account limit and max instances each throttle with their reason. */
static void test_concurrency_limits(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.limit.reserved = 2;
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 0, 2), "START i1 demand");
    assert_string_equal(ARRIVE(&t, 0, 3), "THROTTLE r3 reserved");
    READY(&t, 1 * MS, ID(0, 1));
    DONE(&t, 2 * MS, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 3 * MS, 4), "DISPATCH i0 [4] warm");
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.throttles[POLICY_REASON_RESERVED], 1);
    pt_free(&t);

    c = lambda_cfg();
    c.limit.account = 1;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 0, 2), "THROTTLE r2 account");
    pt_free(&t);

    c = lambda_cfg();
    c.inst.max = 1;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 0, 2), "THROTTLE r2 max_instances");
    pt_free(&t);
}

/* Two functions share one account: the second is throttled by the first's concurrency. */
static void test_shared_account(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    policy_account *acct;
    fm_err err;
    assert_int_equal(policy_account_new(2, POLICY_SCALING_NONE, NULL, &acct, &err), 0);
    policy_fn *a, *b;
    assert_int_equal(policy_fn_new(&c, acct, &a, &err), 0);
    assert_int_equal(policy_fn_new(&c, acct, &b, &err), 0);
    policy_actions out;
    assert_int_equal(policy_actions_init(&out, a), 0);
    policy_event dep = {.type = POLICY_EV_DEPLOY}, ev = {.type = POLICY_EV_ARRIVE, .items = 1};
    policy_fn_handle(a, &dep, 0, &out);
    policy_fn_handle(b, &dep, 0, &out);
    ev.request = 1;
    policy_fn_handle(a, &ev, 0, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    ev.request = 2;
    policy_fn_handle(a, &ev, 0, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    ev.request = 3;
    policy_fn_handle(b, &ev, 0, &out);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].type, POLICY_ACT_THROTTLE);
    assert_int_equal(out.v[0].reason, POLICY_REASON_ACCOUNT);
    /* a's bound start fails: its concurrency returns to the account, b may start */
    policy_event f = {.type = POLICY_EV_START_FAILED, .instance = ID(0, 1)};
    policy_fn_handle(a, &f, 1, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_REJECT);
    ev.request = 4;
    policy_fn_handle(b, &ev, 2, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    /* freeing a function returns its concurrency (b now holds 1 of 2, a held 1) */
    ev.request = 5;
    policy_fn_handle(b, &ev, 3, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_THROTTLE);
    policy_fn_free(a);
    ev.request = 6;
    policy_fn_handle(b, &ev, 4, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    policy_actions_release(&out);
    policy_fn_free(b);
    policy_account_free(acct);
}

/* Reserved concurrency is carved out of the account: unreserved functions share the rest, and a
 * function with a reservation keeps it whatever the others do. */
static void test_unreserved_pool(void **state)
{
    (void)state;
    policy_account *acct;
    fm_err err;
    assert_int_equal(policy_account_new(3, POLICY_SCALING_NONE, NULL, &acct, &err), 0);
    policy_config cr = lambda_cfg(), cu = lambda_cfg();
    cr.limit.reserved = 2;
    policy_fn *r, *u, *x;
    assert_int_equal(policy_fn_new(&cr, acct, &r, &err), 0);
    assert_int_equal(policy_fn_new(&cu, acct, &u, &err), 0);
    assert_int_equal(policy_fn_new(&cr, acct, &x, &err), FM_ELIMIT);
    assert_string_equal(err.msg,
                        "reserved concurrency 2 exceeds what the account has left (1 of 3)");
    policy_actions out;
    assert_int_equal(policy_actions_init(&out, r), 0);
    policy_event dep = {.type = POLICY_EV_DEPLOY}, ev = {.type = POLICY_EV_ARRIVE, .items = 1};
    policy_fn_handle(r, &dep, 0, &out);
    policy_fn_handle(u, &dep, 0, &out);
    ev.request = 1;
    policy_fn_handle(u, &ev, 0, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    ev.request = 2;
    policy_fn_handle(u, &ev, 0, &out); /* the unreserved pool is 3 - 2 = 1 */
    assert_int_equal(out.v[0].type, POLICY_ACT_THROTTLE);
    assert_int_equal(out.v[0].reason, POLICY_REASON_ACCOUNT);
    for (uint64_t q = 3; q <= 4; q++) { /* the reserved function still gets its 2 */
        ev.request = q;
        policy_fn_handle(r, &ev, 0, &out);
        assert_int_equal(out.v[0].type, POLICY_ACT_START);
    }
    ev.request = 5;
    policy_fn_handle(r, &ev, 0, &out);
    assert_int_equal(out.v[0].reason, POLICY_REASON_RESERVED);
    policy_actions_release(&out);
    policy_fn_free(r);
    /* its reservation is returned: a new reserved function fits again */
    assert_int_equal(policy_fn_new(&cr, acct, &x, &err), 0);
    policy_fn_free(x);
    policy_fn_free(u);
    policy_account_free(acct);
}

/* 2021 mode: the burst is account-wide, shared by every function of the account. */
static void test_rate_2021_shared(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.limit.scaling = POLICY_SCALING_LAMBDA_2021;
    c.limit.rate = (policy_rate){.burst = 1, .refill = 1, .period_ns = 60 * SEC};
    policy_account *acct;
    fm_err err;
    assert_int_equal(policy_account_new(0, c.limit.scaling, &c.limit.rate, &acct, &err), 0);
    policy_fn *a, *b;
    assert_int_equal(policy_fn_new(&c, acct, &a, &err), 0);
    assert_int_equal(policy_fn_new(&c, acct, &b, &err), 0);
    policy_actions out;
    assert_int_equal(policy_actions_init(&out, a), 0);
    policy_event dep = {.type = POLICY_EV_DEPLOY}, ev = {.type = POLICY_EV_ARRIVE, .items = 1};
    policy_fn_handle(a, &dep, 0, &out);
    policy_fn_handle(b, &dep, 0, &out);
    ev.request = 1;
    policy_fn_handle(a, &ev, 0, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    ev.request = 2;
    policy_fn_handle(b, &ev, 1, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_THROTTLE);
    assert_int_equal(out.v[0].reason, POLICY_REASON_RATE);
    ev.request = 3;
    policy_fn_handle(b, &ev, 60 * SEC, &out);
    assert_int_equal(out.v[0].type, POLICY_ACT_START);
    policy_actions_release(&out);
    policy_fn_free(a);
    policy_fn_free(b);
    policy_account_free(acct);
}

/* 2023 mode: a per-function bucket of 2 starts refilled continuously, 1 per 10 s. Warm reuse
 * costs no token. */
static void test_rate_2023(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.limit.scaling = POLICY_SCALING_LAMBDA_2023;
    c.limit.rate =
        (policy_rate){.burst = 2, .refill = 1, .period_ns = 10 * SEC, .continuous = true};
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 0, 2), "START i1 demand");
    assert_string_equal(ARRIVE(&t, 1 * SEC, 3), "THROTTLE r3 rate");
    READY(&t, 2 * SEC, ID(0, 1));
    DONE(&t, 3 * SEC, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 4 * SEC, 4), "DISPATCH i0 [4] warm");
    assert_string_equal(ARRIVE(&t, 9 * SEC, 5), "THROTTLE r5 rate");
    assert_string_equal(ARRIVE(&t, 10 * SEC, 6), "START i2 demand");
    assert_string_equal(ARRIVE(&t, 15 * SEC, 7), "THROTTLE r7 rate"); /* 0.5 token */
    assert_string_equal(ARRIVE(&t, 20 * SEC, 8), "START i3 demand");
    pt_free(&t);
}

/* 2021 mode: steps of `refill` at each whole period since the first start. */
static void test_rate_2021(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.limit.scaling = POLICY_SCALING_LAMBDA_2021;
    c.limit.rate = (policy_rate){.burst = 1, .refill = 1, .period_ns = 60 * SEC};
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 59 * SEC, 2), "THROTTLE r2 rate");
    assert_string_equal(ARRIVE(&t, 60 * SEC, 3), "START i1 demand");
    assert_string_equal(ARRIVE(&t, 119 * SEC, 4), "THROTTLE r4 rate");
    pt_free(&t);
}

/* Provisioned concurrency: started at DEPLOY, preferred over on-demand, never stopped idle,
 * replaced when it crashes; overflow runs on demand. */
static void test_provisioned(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.inst.provisioned = 2;
    pt t;
    assert_string_equal(pt_init(&t, &c), "START i0 provisioned prov | START i1 provisioned prov");
    assert_string_equal(READY(&t, 1 * SEC, ID(0, 1)), "");
    assert_string_equal(READY(&t, 1 * SEC, ID(1, 1)), "");
    assert_int_equal(t.acts.wake_ns, INT64_MAX); /* provisioned instances never expire */
    assert_string_equal(ARRIVE(&t, 2 * SEC, 1), "DISPATCH i1 [1] warm");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 2), "DISPATCH i0 [2] warm");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 3), "START i2 demand");
    READY(&t, 3 * SEC, ID(2, 1));
    assert_string_equal(DONE(&t, 4 * SEC, ID(2, 1)), "");
    assert_string_equal(DONE(&t, 5 * SEC, ID(0, 1)), "");
    /* an idle provisioned instance wins over a more recently used on-demand one */
    assert_string_equal(ARRIVE(&t, 6 * SEC, 4), "DISPATCH i0 [4] warm");
    assert_string_equal(TICK(&t, 100 * SEC), "STOP i2 idle");
    /* a provisioned instance that crashes mid-request is replaced at once */
    assert_string_equal(STOPPED(&t, 101 * SEC, ID(1, 1)), "START i1 crashed prov");
    assert_int_equal(t.acts.v[0].instance, ID(1, 2));
    policy_stats st;
    policy_fn_stats(t.fn, &st);
    assert_int_equal(st.crashes, 1);
    assert_int_equal(st.provisioned, 2);
    pt_free(&t);
}

/* A failed start rejects its bound request; a failed provisioned start is retried after
 * inst.retry_ns, not in a tight loop. */
static void test_start_failed(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    c.inst.provisioned = 1;
    c.inst.retry_ns = 5 * SEC;
    pt t;
    pt_init(&t, &c);
    assert_string_equal(FAILED(&t, 1 * SEC, ID(0, 1)), "");
    assert_int_equal(t.acts.wake_ns, 6 * SEC);
    assert_string_equal(ARRIVE(&t, 2 * SEC, 1), "START i0 demand");
    assert_string_equal(FAILED(&t, 3 * SEC, ID(0, 2)), "REJECT r1 start_failed");
    assert_string_equal(TICK(&t, 6 * SEC), "START i0 provisioned prov");
    pt_free(&t);
}

/* Events that do not fit the state are refused and change nothing. */
static void test_bad_events(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    pt_init(&t, &c);
    pt_ev(&t, POLICY_EV_DEPLOY, 0, 0, 0);
    assert_int_equal(t.rc, FM_ESTATE);
    DONE(&t, 0, ID(0, 1));
    assert_int_equal(t.rc, FM_ENOTFOUND);
    ARRIVE(&t, 0, 1);
    DONE(&t, 0, ID(0, 1)); /* still starting */
    assert_int_equal(t.rc, FM_ESTATE);
    READY(&t, 0, ID(0, 2)); /* wrong generation */
    assert_int_equal(t.rc, FM_ENOTFOUND);
    READY(&t, 0, ID(9, 1)); /* slot out of range */
    assert_int_equal(t.rc, FM_ENOTFOUND);
    assert_string_equal(READY(&t, 0, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_int_equal(t.rc, 0);
    READY(&t, 0, ID(0, 1));
    assert_int_equal(t.rc, FM_ESTATE);
    CANCEL(&t, 0, 77);
    assert_int_equal(t.rc, FM_ENOTFOUND);
    pt_ev(&t, (policy_event_type)99, 0, 0, 0);
    assert_int_equal(t.rc, FM_EINVAL);
    /* time going back is read as the previous now */
    assert_string_equal(DONE(&t, 5 * SEC, ID(0, 1)), "");
    assert_string_equal(ARRIVE(&t, 1 * SEC, 2), "DISPATCH i0 [2] warm");
    pt_free(&t);
}

/* SHUTDOWN stops idle and starting instances, lets busy ones finish, refuses new requests. */
static void test_shutdown(void **state)
{
    (void)state;
    policy_config c = lambda_cfg();
    pt t;
    pt_init(&t, &c);
    ARRIVE(&t, 0, 1);
    ARRIVE(&t, 0, 2);
    ARRIVE(&t, 0, 3);
    READY(&t, 1, ID(0, 1));
    READY(&t, 1, ID(1, 1));
    DONE(&t, 2, ID(1, 1));
    assert_string_equal(pt_ev(&t, POLICY_EV_SHUTDOWN, 3, 0, 0),
                        "REJECT r3 shutdown | STOP i2 shutdown | STOP i1 shutdown");
    assert_string_equal(ARRIVE(&t, 4, 4), "REJECT r4 shutdown");
    assert_string_equal(DONE(&t, 5, ID(0, 1)), "STOP i0 shutdown");
    pt_free(&t);
}

/* gcf: max instances throttles; over-provisioning starts extra unbound instances on bursts. */
static void test_gcf(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_GCF);
    c.inst.max = 5;
    c.inst.keep_alive_ns = 60 * SEC;
    c.inst.overprovision = 0.5;
    pt t;
    pt_init(&t, &c);
    assert_string_equal(ARRIVE(&t, 0, 1), "START i0 demand");
    assert_string_equal(ARRIVE(&t, 0, 2), "START i1 demand | START i2 overprovision");
    assert_string_equal(ARRIVE(&t, 0, 3), "START i3 demand");
    assert_string_equal(ARRIVE(&t, 0, 4), "START i4 demand"); /* no room for the extra */
    assert_string_equal(ARRIVE(&t, 0, 5), "THROTTLE r5 max_instances");
    /* the over-provisioned instance idles when ready and serves the next request warm */
    assert_string_equal(READY(&t, 1 * SEC, ID(2, 1)), "");
    assert_string_equal(ARRIVE(&t, 2 * SEC, 6), "DISPATCH i2 [6] warm");
    pt_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_then_warm),
        cmocka_unit_test(test_not_before_ready),
        cmocka_unit_test(test_first_free),
        cmocka_unit_test(test_mru_and_keep_alive),
        cmocka_unit_test(test_busy_never_stopped),
        cmocka_unit_test(test_keep_alive_zero),
        cmocka_unit_test(test_concurrency_limits),
        cmocka_unit_test(test_shared_account),
        cmocka_unit_test(test_unreserved_pool),
        cmocka_unit_test(test_rate_2021_shared),
        cmocka_unit_test(test_rate_2023),
        cmocka_unit_test(test_rate_2021),
        cmocka_unit_test(test_provisioned),
        cmocka_unit_test(test_start_failed),
        cmocka_unit_test(test_bad_events),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_gcf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
