/*
 * platform: the function-spec keys of profiles, batching and cold starts (`platform`, `policy`,
 * `batch`, `cold_start`) in both forms, their errors, and the JSON round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

static const char *const managed_yaml = "name: ep\n"
                                        "runtime: builtin-onnx\n"
                                        "model: /m/model.onnx\n"
                                        "profile: managed\n"
                                        "platform: sagemaker-m5-large\n"
                                        "cold_start: zygote\n"
                                        "batch: {max_size: 8, max_delay_ms: 5}\n"
                                        "policy:\n"
                                        "  inst: {min: 1, max: 3, provision_delay: 2s}\n"
                                        "  scale: {period: 10s}\n";

static void test_yaml_profile_keys(void **state)
{
    (void)state;
    platform_spec s;
    fm_err err = {0};
    assert_int_equal(
        platform_spec_parse_yaml(managed_yaml, strlen(managed_yaml), "ep.yaml", "/", &s, &err), 0);
    assert_string_equal(s.profile, "managed");
    assert_string_equal(s.platform, "sagemaker-m5-large");
    assert_string_equal(s.cold_start, "zygote");
    assert_int_equal(s.batch_max_size, 8);
    assert_true(s.batch_max_delay_ms == 5);
    assert_non_null(s.policy);
    assert_non_null(strstr(s.policy, "\"provision_delay\":\"2s\""));
    /* The JSON form carries every field and reads back to the same text. */
    char *json = platform_spec_to_json(&s);
    platform_spec again;
    assert_int_equal(platform_spec_parse_json(json, strlen(json), &again, &err), 0);
    char *json2 = platform_spec_to_json(&again);
    assert_string_equal(json, json2);
    assert_string_equal(again.cold_start, "zygote");
    assert_int_equal(again.batch_max_size, 8);
    free(json);
    free(json2);
    platform_spec_release(&again);
    platform_spec_release(&s);
}

/* Each bad input and the words its error must contain. */
static const struct {
    const char *yaml, *want;
} bad_yaml[] = {
    {"name: a\nbootstrap: /b\npolicy: {inst: {minn: 1}}\n", "minn"},
    {"name: a\nbootstrap: /b\npolicy: {inst: {min: lots}}\n", "min"},
    {"name: a\nbootstrap: /b\npolicy: 3\n", "'policy' must be a mapping"},
    {"name: a\nbootstrap: /b\ncold_start: fork\n", "unknown cold_start 'fork'"},
    {"name: a\nbootstrap: /b\ncold_start: zygote\n", "needs runtime 'builtin-onnx'"},
    {"name: a\nbootstrap: /b\nbatch: {max_size: 4}\n", "'batch' needs runtime"},
    {"name: a\nruntime: builtin-onnx\nmodel: /m\nbatch: {max_size: 0}\n", "max_size"},
    {"name: a\nruntime: builtin-onnx\nmodel: /m\nbatch: {size: 2}\n", "size"},
    {"name: a\nbootstrap: /b\nprofile: azure\n", "unknown profile 'azure'"},
};

static void test_yaml_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_yaml / sizeof bad_yaml[0]; i++) {
        platform_spec s;
        fm_err err = {0};
        int rc = platform_spec_parse_yaml(bad_yaml[i].yaml, strlen(bad_yaml[i].yaml), "f.yaml", "/",
                                          &s, &err);
        if (rc == 0 || !strstr(err.msg, bad_yaml[i].want))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, bad_yaml[i].want);
    }
}

static const struct {
    const char *json, *want;
} bad_json[] = {
    /* JSON specs go through the same key table and loader as YAML (one set of messages). */
    {"{\"name\":\"a\",\"bootstrap\":\"/b\",\"policy\":{\"queue\":{\"cap\":1}}}", "cap"},
    {"{\"name\":\"a\",\"bootstrap\":\"/b\",\"policy\":[1]}", "'policy' must be a mapping"},
    {"{\"name\":\"a\",\"runtime\":\"builtin-onnx\",\"model\":\"/m\",\"batch\":{\"max_size\":2.5}}",
     "'max_size' must be an integer"},
    {"{\"name\":\"a\",\"runtime\":\"builtin-onnx\",\"model\":\"/m\",\"batch\":{\"max_size\":2,"
     "\"x\":1}}",
     "unknown key 'x'"},
    {"{\"name\":\"a\",\"bootstrap\":\"/b\",\"cold_start\":1}", "cold_start"},
    {"{\"name\":\"a\",\"bootstrap\":\"/b\",\"platform\":{\"a\":1}}", "'platform' must be a scalar"},
};

static void test_json_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        platform_spec s;
        fm_err err = {0};
        int rc = platform_spec_parse_json(bad_json[i].json, strlen(bad_json[i].json), &s, &err);
        if (rc == 0 || !strstr(err.msg, bad_json[i].want))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, bad_json[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_profile_keys),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
