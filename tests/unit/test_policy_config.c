/*
 * policy: configuration — defaults from data/platforms.yaml (every number sourced), spec
 * overrides, validation messages, and the name tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_test_util.h"

#include <stdlib.h>
#include <unistd.h>

static char data_path[4096];

/* The data file of the source tree (FM_SOURCE_DIR is set by CTest). */
static const char *platforms(void)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(data_path, sizeof(data_path), "%s/data/platforms.yaml", src ? src : ".");
    return data_path;
}

/* Writes text to a temporary file and returns its path. */
static const char *tmp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/policy_cfg_%d.yaml", (int)getpid());
    fm_err err;
    assert_int_equal(fm_write_file_atomic(path, text, strlen(text), &err), 0);
    return path;
}

/* Each profile's default entry loads, validates, and carries the documented numbers. */
static void test_defaults(void **state)
{
    (void)state;
    policy_config c;
    fm_err err = {0};
    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, platforms(), NULL, &err), 0);
    assert_string_equal(c.platform, "aws-lambda");
    assert_int_equal(c.inst.keep_alive_ns, 600 * SEC);
    assert_int_equal(c.limit.account, 1000);
    assert_int_equal(c.limit.scaling, POLICY_SCALING_LAMBDA_2023);
    assert_int_equal(c.limit.rate.burst, 1000);
    assert_int_equal(c.limit.rate.period_ns, 10 * SEC);
    assert_true(c.limit.rate.continuous);
    assert_int_equal(c.inst.cold_wait, POLICY_COLD_WAIT_BIND);

    assert_int_equal(
        policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, platforms(), "aws-lambda-2021", &err), 0);
    assert_int_equal(c.limit.scaling, POLICY_SCALING_LAMBDA_2021);
    assert_int_equal(c.limit.rate.burst, 3000);
    assert_int_equal(c.limit.rate.refill, 500);
    assert_false(c.limit.rate.continuous);
    assert_int_equal(c.fn.memory_mb, 128); /* inherited */

    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_GCF, platforms(), NULL, &err), 0);
    assert_int_equal(c.inst.max, 3000);

    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_MANAGED, platforms(), NULL, &err),
                     0);
    assert_true(c.scale.target_per_min == 70.0);
    assert_int_equal(c.scale.out_datapoints, 3);
    assert_int_equal(c.scale.in_datapoints, 15);
    assert_int_equal(c.scale.out_cooldown_ns, 300 * SEC);
    assert_string_equal(c.inst.type, "ml.m5.large");

    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_SERVER, platforms(), NULL, &err), 0);
    assert_int_equal(c.inst.workers, 4);
    assert_int_equal(
        policy_config_defaults(&c, POLICY_PROFILE_SERVER, platforms(), "ec2-g4dn-xlarge", &err), 0);
    assert_int_equal(c.inst.workers, 1);
    assert_string_equal(c.inst.type, "g4dn.xlarge");

    /* an entry of another profile is refused by name */
    assert_int_equal(
        policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, platforms(), "gcf-gen1", &err),
        FM_EINVAL);
    assert_non_null(strstr(err.msg, "platform 'gcf-gen1' has profile 'gcf', not 'lambda'"));
    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, platforms(), "nope", &err),
                     FM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "unknown platform 'nope'"));
}

/* The data file must source every number: a bare value there is an error naming the line. */
static void test_data_file_needs_sources(void **state)
{
    (void)state;
    policy_config c;
    fm_err err = {0};
    const char *p = tmp_file("format: 1\n"
                             "defaults: {lambda: x}\n"
                             "platforms:\n"
                             "  x:\n"
                             "    profile: lambda\n"
                             "    inst:\n"
                             "      keep_alive: 10m\n");
    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, p, NULL, &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, ":7:"));
    assert_non_null(strstr(err.msg, "'inst.keep_alive' needs {value, status, date, source}"));
    p = tmp_file("platforms:\n"
                 "  x:\n"
                 "    profile: lambda\n"
                 "    inst:\n"
                 "      keep_alive: {value: 10m, status: rumour, date: '2020', source: s}\n");
    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, p, "x", &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, "unknown status 'rumour'"));
    unlink(p);
}

/* A spec's overrides use the same keys with bare values; unknown keys and bad values are named. */
static void test_overrides(void **state)
{
    (void)state;
    policy_config c;
    fm_err err = {0};
    assert_int_equal(policy_config_defaults(&c, POLICY_PROFILE_LAMBDA, platforms(), NULL, &err), 0);
    const char *text = "inst: {keep_alive: 5m, provisioned: 2, cold_wait: first_free}\n"
                       "limit: {reserved: 50, scaling: none}\n"
                       "batch: {max_size: 8, max_delay: 5ms}\n";
    fm_yaml *y;
    assert_int_equal(fm_yaml_load_buf(text, strlen(text), "spec.yaml", &y, &err), 0);
    assert_int_equal(policy_config_apply_yaml(&c, y, fm_yaml_root(y), &err), 0);
    fm_yaml_free(y);
    assert_int_equal(c.inst.keep_alive_ns, 300 * SEC);
    assert_int_equal(c.inst.provisioned, 2);
    assert_int_equal(c.inst.cold_wait, POLICY_COLD_WAIT_FIRST_FREE);
    assert_int_equal(c.limit.reserved, 50);
    assert_int_equal(c.limit.scaling, POLICY_SCALING_NONE);
    assert_int_equal(c.batch.max_size, 8);
    assert_int_equal(c.batch.max_delay_ns, 5 * MS);
    assert_int_equal(policy_config_validate(&c, &err), 0);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"inst: {keep_alvie: 5m}\n", "spec.yaml:1:8: unknown key 'inst.keep_alvie'"},
        {"inst: {max: 0}\n", "'inst.max': 0 is out of range"},
        {"batch: {max_delay: soon}\n", "'batch.max_delay': invalid duration 'soon'"},
        {"limit: {scaling: lambda-2099}\n", "unknown value 'lambda-2099'"},
        {"inst: {cold_wait: maybe}\n", "unknown value 'maybe' (bind, first_free)"},
        {"limit: {rate_continuous: yes}\n", "expected true or false, got 'yes'"},
        {"fn: {billing_granularity: 100ms}\n",
         "spec.yaml:1:6: 'fn.billing_granularity' is no longer a policy key: billing rounds to the "
         "price catalogue's granularity_ms"},
        {"fn: {min_billed: 60s}\n", "'fn.min_billed' is no longer a policy key"},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(bad); i++) {
        assert_int_equal(fm_yaml_load_buf(bad[i].text, strlen(bad[i].text), "spec.yaml", &y, &err),
                         0);
        assert_int_not_equal(policy_config_apply_yaml(&c, y, fm_yaml_root(y), &err), 0);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: got '%s', want '%s'", i, err.msg, bad[i].msg);
        fm_yaml_free(y);
    }
}

/* Cross-field rules get a message naming the field. */
static void test_validate(void **state)
{
    (void)state;
    policy_config c;
    fm_err err = {0};
    policy_config_init(&c, POLICY_PROFILE_MANAGED);
    assert_int_equal(policy_config_validate(&c, &err), 0);
    c.inst.min = 0;
    assert_int_equal(policy_config_validate(&c, &err), FM_EINVAL);
    assert_string_equal(err.msg, "policy 'managed': inst.min must be >= 1");
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.workers = 2;
    assert_int_equal(policy_config_validate(&c, &err), FM_EINVAL);
    assert_string_equal(err.msg, "policy 'lambda': inst.workers must be 1");
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.inst.provisioned = 2;
    assert_int_equal(policy_config_validate(&c, &err), FM_EINVAL);
    assert_string_equal(err.msg, "policy 'lambda': inst.provisioned must be 0..inst.max");
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    c.limit.scaling = POLICY_SCALING_LAMBDA_2023;
    assert_int_equal(policy_config_validate(&c, &err), FM_EINVAL);
    assert_non_null(strstr(err.msg, "needs rate_burst >= 1"));
    policy_fn *fn;
    assert_int_equal(policy_fn_new(&c, NULL, &fn, &err), FM_EINVAL);
    assert_null(fn);
}

/* Names and parsers agree for every value of every enum. */
static void test_names(void **state)
{
    (void)state;
    for (int p = 0; p < POLICY_PROFILE__COUNT; p++) {
        policy_profile out;
        assert_int_equal(policy_profile_parse(policy_profile_name((policy_profile)p), &out), 0);
        assert_int_equal(out, p);
    }
    for (int s = 0; s < POLICY_SCALING__COUNT; s++) {
        policy_scaling out;
        assert_int_equal(policy_scaling_parse(policy_scaling_name((policy_scaling)s), &out), 0);
        assert_int_equal(out, s);
    }
    policy_profile out;
    assert_int_equal(policy_profile_parse("knative", &out), FM_EINVAL);
    assert_string_equal(policy_profile_name((policy_profile)42), "?");
    assert_string_equal(policy_inst_state_name(POLICY_INST_DRAINING), "draining");
    assert_string_equal(policy_event_name(POLICY_EV_START_FAILED), "start_failed");
    assert_string_equal(policy_reason_name(POLICY_REASON_RATE), "rate");
    /* format truncates safely and reports the length it needed */
    uint64_t ids[] = {1, 22, 333};
    policy_action a = {.type = POLICY_ACT_DISPATCH,
                       .reason = POLICY_REASON_COLD,
                       .instance = ID(3, 7),
                       .n = 3,
                       .requests = ids};
    char buf[8];
    size_t need = policy_action_format(&a, buf, sizeof(buf));
    assert_int_equal(need, strlen("DISPATCH i3 [1,22,333] cold"));
    assert_string_equal(buf, "DISPATC");
}

/* docs/policies.md carries the key table exactly as the code's table prints it. */
static void test_docs_table(void **state)
{
    (void)state;
    char path[4096];
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/docs/policies.md", src ? src : ".");
    char *doc;
    size_t len;
    fm_err err = {0};
    assert_int_equal(fm_read_file(path, &doc, &len, &err), 0);
    size_t need = policy_config_keys_markdown(NULL, 0);
    char *table = malloc(need + 1);
    assert_non_null(table);
    policy_config_keys_markdown(table, need + 1);
    assert_non_null(strstr(
        table, "| `inst.keep_alive_policy` | string | `fixed`, `histogram`, `greedy-dual` |"));
    if (!strstr(doc, table))
        fail_msg("docs/policies.md lacks the policy key table; it should contain:\n%s", table);
    free(table);
    free(doc);
}

/* A key given twice in one section is refused (the shared loader's check), naming the key. */
static void test_duplicate_key(void **state)
{
    (void)state;
    policy_config c;
    policy_config_init(&c, POLICY_PROFILE_LAMBDA);
    fm_err err = {0};
    fm_yaml *y;
    const char *text = "inst:\n  max: 2\n  max: 3\n";
    assert_int_equal(fm_yaml_load_buf(text, strlen(text), "spec.yaml", &y, &err), 0);
    assert_int_not_equal(policy_config_apply_yaml(&c, y, fm_yaml_root(y), &err), 0);
    assert_non_null(strstr(err.msg, "spec.yaml:3:"));
    assert_non_null(strstr(err.msg, "duplicate key 'max'"));
    fm_yaml_free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_table), cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_data_file_needs_sources),
        cmocka_unit_test(test_overrides),  cmocka_unit_test(test_validate),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
