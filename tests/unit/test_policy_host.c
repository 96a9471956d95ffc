/*
 * policy: admission against the host. Functions that share a policy_host keep the memory of their
 * live instances within its capacity; each case below is a scripted sequence whose decisions were
 * worked out by hand from the capacity and the instance sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "policy_test_util.h"

/* Like pt_init, with the function joining host h before its DEPLOY. */
static const char *pt_init_host(pt *t, const policy_config *cfg, policy_host *h)
{
    fm_err err = {0};
    memset(t, 0, sizeof(*t));
    if (policy_fn_new(cfg, NULL, &t->fn, &err) != 0)
        fail_msg("policy_fn_new: %s", err.msg);
    assert_int_equal(policy_fn_join_host(t->fn, h, &err), 0);
    assert_int_equal(policy_actions_init(&t->acts, t->fn), 0);
    policy_event ev = {.type = POLICY_EV_DEPLOY};
    assert_int_equal(policy_fn_handle(t->fn, &ev, 0, &t->acts), 0);
    return pt_render(t);
}

static policy_config lambda_mb(int memory_mb)
{
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.fn.memory_mb = memory_mb;
    c.inst.max = 8;
    c.inst.keep_alive_ns = 0; /* stop as soon as idle */
    c.queue.capacity = 8;
    return c;
}

static int64_t host_used(const policy_host *h)
{
    int64_t used, cap;
    policy_host_usage(h, &used, &cap);
    return used;
}

/* (memory - reserve) x overcommit, memory from the config or else the measured MemTotal. */
static void test_capacity_formula(void **state)
{
    (void)state;
    policy_host_config c;
    policy_host_config_init(&c);
    assert_int_equal(c.reserve_mb, 512);
    assert_true(c.overcommit == 1.0);
    assert_int_equal(policy_host_capacity_mb(&c, 24576), 24064); /* 24 GB host, 512 MB kept */
    assert_int_equal(policy_host_capacity_mb(&c, 0), 0);         /* nothing known: no limit */
    c.memory_mb = 4096;
    c.reserve_mb = 0;
    c.overcommit = 1.5;
    assert_int_equal(policy_host_capacity_mb(&c, 24576), 6144); /* the configured size wins */
    c.reserve_mb = 5000;
    assert_int_equal(policy_host_capacity_mb(&c, 0), 1); /* all reserved: no room, not no limit */
}

/* Two functions on a 1024 MB host: A's instances are 512 MB, B's 256 MB. Memory is held from
 * START to STOPPED (not STOP), and a refused start is a THROTTLE host_capacity. */
static void test_two_functions_share_the_host(void **state)
{
    (void)state;
    fm_err err = {0};
    policy_host *h;
    assert_int_equal(policy_host_new(1024, &h, &err), 0);
    policy_config ca = lambda_mb(512), cb = lambda_mb(256);
    pt a, b;
    assert_string_equal(pt_init_host(&a, &ca, h), "");
    assert_string_equal(pt_init_host(&b, &cb, h), "");
    assert_string_equal(ARRIVE(&a, 0, 1), "START i0 demand"); /* 512 */
    assert_string_equal(ARRIVE(&a, 0, 2), "START i1 demand"); /* 1024 */
    assert_int_equal(host_used(h), 1024);
    assert_string_equal(ARRIVE(&b, 1 * MS, 3), "THROTTLE r3 host_capacity"); /* 1024 + 256 */
    assert_string_equal(READY(&a, 10 * MS, ID(0, 1)), "DISPATCH i0 [1] cold");
    assert_string_equal(DONE(&a, 20 * MS, ID(0, 1)), "STOP i0 idle");
    /* asked to stop, not yet gone: its 512 MB are still promised */
    assert_string_equal(ARRIVE(&b, 21 * MS, 4), "THROTTLE r4 host_capacity");
    assert_string_equal(STOPPED(&a, 30 * MS, ID(0, 1)), "");
    assert_int_equal(host_used(h), 512);
    assert_string_equal(ARRIVE(&b, 31 * MS, 5), "START i0 demand");           /* 768 */
    assert_string_equal(ARRIVE(&b, 31 * MS, 6), "START i1 demand");           /* 1024 */
    assert_string_equal(ARRIVE(&a, 32 * MS, 7), "THROTTLE r7 host_capacity"); /* 1024 + 512 */
    /* a failed start gives its memory back at once */
    assert_string_equal(FAILED(&b, 40 * MS, ID(1, 1)), "REJECT r6 start_failed");
    assert_int_equal(host_used(h), 768);
    assert_string_equal(ARRIVE(&b, 41 * MS, 8), "START i1 demand"); /* 1024 again */
    policy_stats st;
    policy_fn_stats(a.fn, &st);
    assert_int_equal(st.throttles[POLICY_REASON_HOST_CAPACITY], 1);
    policy_fn_stats(b.fn, &st);
    assert_int_equal(st.throttles[POLICY_REASON_HOST_CAPACITY], 2);
    assert_int_equal(st.host_refused, 0);
    /* freeing a function returns what its live instances held */
    pt_free(&b);
    assert_int_equal(host_used(h), 512);
    pt_free(&a);
    assert_int_equal(host_used(h), 0);
    policy_host_free(h);
}

/* The function's own limits come first: with reserved concurrency used up the reason is
 * `reserved`, and a host refusal costs no scaling token (the 2023 bucket holds 1). */
static void test_order_of_limits(void **state)
{
    (void)state;
    fm_err err = {0};
    policy_host *h;
    assert_int_equal(policy_host_new(1000, &h, &err), 0);
    policy_config c = lambda_mb(512);
    c.limit.reserved = 1;
    c.limit.scaling = POLICY_SCALING_LAMBDA_2023;
    c.limit.rate = (policy_rate){.burst = 2, .refill = 0, .period_ns = 10 * SEC, .continuous = 1};
    policy_config other = lambda_mb(512);
    pt t, o;
    pt_init_host(&t, &c, h);
    pt_init_host(&o, &other, h);
    assert_string_equal(ARRIVE(&o, 0, 1), "START i0 demand");           /* the other holds 512 */
    assert_string_equal(ARRIVE(&t, 0, 2), "THROTTLE r2 host_capacity"); /* 512 + 512 > 1000 */
    assert_string_equal(ARRIVE(&t, 0, 3), "THROTTLE r3 host_capacity");
    READY(&o, 1 * MS, ID(0, 1));
    DONE(&o, 2 * MS, ID(0, 1));
    STOPPED(&o, 3 * MS, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 4 * MS, 4), "START i0 demand"); /* token 1 of 2 */
    assert_string_equal(ARRIVE(&t, 4 * MS, 5), "THROTTLE r5 reserved");
    READY(&t, 5 * MS, ID(0, 1));
    DONE(&t, 6 * MS, ID(0, 1));
    STOPPED(&t, 7 * MS, ID(0, 1));
    assert_string_equal(ARRIVE(&t, 8 * MS, 6), "START i0 demand"); /* token 2: none were lost */
    pt_free(&t);
    pt_free(&o);
    policy_host_free(h);
}

/* Provisioned concurrency that does not fit is started once room appears: the function retries
 * after inst.retry (1 s), since another function's stop does not wake it. */
static void test_provisioned_waits_for_room(void **state)
{
    (void)state;
    fm_err err = {0};
    policy_host *h;
    assert_int_equal(policy_host_new(1024, &h, &err), 0);
    policy_config ca = lambda_mb(512), cp = lambda_mb(512);
    cp.inst.provisioned = 2;
    pt a, p;
    pt_init_host(&a, &ca, h);
    assert_string_equal(ARRIVE(&a, 0, 1), "START i0 demand");
    assert_string_equal(pt_init_host(&p, &cp, h), "START i0 provisioned prov");
    assert_int_equal(p.acts.wake_ns, 1 * SEC);
    policy_stats st;
    policy_fn_stats(p.fn, &st);
    assert_int_equal(st.host_refused, 1);
    READY(&a, 100 * MS, ID(0, 1));
    DONE(&a, 200 * MS, ID(0, 1));
    STOPPED(&a, 300 * MS, ID(0, 1));
    assert_string_equal(TICK(&p, 1 * SEC), "START i1 provisioned prov");
    assert_int_equal(host_used(h), 1024);
    pt_free(&p);
    pt_free(&a);
    policy_host_free(h);
}

/* A fleet without fn.memory_mb counts its instance type's memory: 3 x 1000 MB on 2500 MB. */
static void test_fleet_counts_instance_type(void **state)
{
    (void)state;
    fm_err err = {0};
    policy_host *h;
    assert_int_equal(policy_host_new(2500, &h, &err), 0);
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_SERVER);
    c.inst.min = 3;
    c.inst.max = 3;
    c.inst.type_memory_mb = 1000;
    pt t;
    assert_string_equal(pt_init_host(&t, &c, h), "START i0 min_instances | START i1 min_instances");
    assert_int_equal(host_used(h), 2000);
    assert_int_equal(t.acts.wake_ns, 1 * SEC);
    assert_string_equal(TICK(&t, 1 * SEC), ""); /* still no room: retried again later */
    assert_int_equal(t.acts.wake_ns, 2 * SEC);
    pt_free(&t);
    policy_host_free(h);
}

/* Capacity 0 is no limit; joining after DEPLOY is refused. */
static void test_unlimited_and_late_join(void **state)
{
    (void)state;
    fm_err err = {0};
    policy_host *h;
    assert_int_equal(policy_host_new(0, &h, &err), 0);
    policy_config c = lambda_mb(10240);
    pt t;
    pt_init_host(&t, &c, h);
    for (uint64_t r = 1; r <= 8; r++)
        assert_int_equal(strncmp(ARRIVE(&t, 0, r), "START", 5), 0);
    assert_int_equal(host_used(h), 8 * 10240);
    assert_int_equal(policy_fn_join_host(t.fn, h, &err), FM_ESTATE);
    pt_free(&t);
    policy_host_free(h);
    assert_int_equal(policy_host_new(-1, &h, &err), FM_EINVAL);
}

/* The host_capacity keys read from YAML, with errors that name the key and its line. */
static void test_keys_from_yaml(void **state)
{
    (void)state;
    fm_err err = {0};
    fm_yaml *y;
    const char *doc = "host_capacity:\n  memory_mb: 2048\n  overcommit: 1.5\n  pids_max: 64\n";
    assert_int_equal(fm_yaml_load_buf(doc, strlen(doc), "t.yaml", &y, &err), 0);
    policy_host_config c;
    policy_host_config_init(&c);
    assert_int_equal(
        policy_host_config_apply_yaml(&c, y, fm_ynode_get(fm_yaml_root(y), "host_capacity"), &err),
        0);
    assert_int_equal(c.memory_mb, 2048);
    assert_int_equal(c.reserve_mb, 512);
    assert_true(c.overcommit == 1.5);
    assert_int_equal(c.pids_max, 64);
    assert_int_equal(policy_host_capacity_mb(&c, 0), 2304);
    fm_yaml_free(y);
    const char *bad = "host_capacity:\n  memory_mb: 2048\n  overcommit: 0\n";
    assert_int_equal(fm_yaml_load_buf(bad, strlen(bad), "t.yaml", &y, &err), 0);
    assert_int_equal(
        policy_host_config_apply_yaml(&c, y, fm_ynode_get(fm_yaml_root(y), "host_capacity"), &err),
        FM_ERANGE);
    assert_non_null(strstr(err.msg, "t.yaml:3"));
    assert_non_null(strstr(err.msg, "'overcommit'"));
    fm_yaml_free(y);
    const char *unknown = "host_capacity:\n  memory: 2048\n";
    assert_int_equal(fm_yaml_load_buf(unknown, strlen(unknown), "t.yaml", &y, &err), 0);
    assert_int_not_equal(
        policy_host_config_apply_yaml(&c, y, fm_ynode_get(fm_yaml_root(y), "host_capacity"), &err),
        0);
    assert_non_null(strstr(err.msg, "unknown key 'memory'"));
    fm_yaml_free(y);
}

/* docs/policies.md lists the host_capacity keys exactly as the table has them. */
static void test_docs_table(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/policies.md",
             getenv("FM_SOURCE_DIR") ? getenv("FM_SOURCE_DIR") : ".");
    char *doc;
    size_t len;
    fm_err err = {0};
    assert_int_equal(fm_read_file(path, &doc, &len, &err), 0);
    size_t need = policy_host_keys_markdown(NULL, 0);
    char *table = malloc(need + 1);
    assert_non_null(table);
    policy_host_keys_markdown(table, need + 1);
    if (!strstr(doc, table))
        fail_msg("docs/policies.md lacks the host_capacity table; it should read:\n%s", table);
    free(table);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_formula),
        cmocka_unit_test(test_two_functions_share_the_host),
        cmocka_unit_test(test_order_of_limits),
        cmocka_unit_test(test_provisioned_waits_for_room),
        cmocka_unit_test(test_fleet_counts_instance_type),
        cmocka_unit_test(test_unlimited_and_late_join),
        cmocka_unit_test(test_keys_from_yaml),
        cmocka_unit_test(test_docs_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
