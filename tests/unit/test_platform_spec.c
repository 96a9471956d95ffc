/*
 * platform: function specs (YAML and JSON forms, one validator) and platform.yaml — defaults,
 * path resolution, the exact errors a user reads, and the JSON round trip the admin API relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_yaml(const char *text, platform_spec *s, fm_err *err)
{
    return platform_spec_parse_yaml(text, strlen(text), "spec.yaml", "/srv/fn", s, err);
}

static int parse_json(const char *text, platform_spec *s, fm_err *err)
{
    return platform_spec_parse_json(text, strlen(text), s, err);
}

/* A minimal spec gets Lambda's defaults; relative paths resolve against the spec's directory. */
static void test_yaml_defaults_and_paths(void **state)
{
    (void)state;
    platform_spec s;
    fm_err err = {0};
    assert_int_equal(parse_yaml("name: echo\nbootstrap: bin/bootstrap\n", &s, &err), 0);
    assert_string_equal(s.name, "echo");
    assert_int_equal(s.runtime, PLATFORM_RUNTIME_CUSTOM);
    assert_string_equal(s.bootstrap, "/srv/fn/bin/bootstrap");
    assert_string_equal(s.code_dir, "/srv/fn");
    assert_int_equal(s.memory_mb, 128);
    assert_true(s.timeout_s == 3);
    assert_int_equal(s.reserved_concurrency, -1);
    assert_int_equal(s.provisioned_concurrency, 0);
    assert_true(s.keep_alive_s == -1);
    assert_string_equal(s.profile, "lambda");
    platform_spec_release(&s);
}

/* Every field of the YAML form, and a model URL that must not be made a path. */
static void test_yaml_full(void **state)
{
    (void)state;
    platform_spec s;
    fm_err err = {0};
    const char *y = "name: m\nruntime: builtin-onnx\nmodel: builtin:identity\nmemory_mb: 1769\n"
                    "timeout_s: 0.5\nenvironment:\n  A: x\n  B: y\nreserved_concurrency: 4\n"
                    "provisioned_concurrency: 2\nkeep_alive: 90s\nprofile: gcf\nargs: [a, b]\n"
                    "handler: app.handler\ncode_dir: /opt/code\nprecision: int8\n";
    assert_int_equal(parse_yaml(y, &s, &err), 0);
    assert_string_equal(s.precision, "int8");
    char *j = platform_spec_to_json(&s);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"precision\":\"int8\""));
    free(j);
    assert_int_equal(s.runtime, PLATFORM_RUNTIME_ONNX);
    assert_string_equal(s.model, "builtin:identity");
    assert_int_equal(s.memory_mb, 1769);
    assert_true(s.timeout_s == 0.5);
    assert_int_equal(s.nenv, 2);
    assert_string_equal(s.env_keys[1], "B");
    assert_string_equal(s.env_vals[1], "y");
    assert_int_equal(s.reserved_concurrency, 4);
    assert_int_equal(s.provisioned_concurrency, 2);
    assert_true(s.keep_alive_s == 90);
    assert_string_equal(s.profile, "gcf");
    assert_int_equal(s.nargs, 2);
    assert_string_equal(s.handler, "app.handler");
    assert_string_equal(s.code_dir, "/opt/code");
    platform_spec_release(&s);
}

/* Bad specs fail with a message that names the place and the problem. */
static void test_yaml_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"name: a\nbootstrap: b\nmemroy_mb: 5\n", "spec.yaml:3:1: unknown key 'memroy_mb'"},
        {"bootstrap: b\n", "missing key 'name'"},
        {"name: a\nbootstrap: b\nmemory_mb: 64\n", "spec.yaml:3:12"},
        {"name: a\n", "runtime 'custom' needs 'bootstrap'"},
        {"name: a\nruntime: builtin-onnx\n", "runtime 'builtin-onnx' needs 'model'"},
        {"name: a\nruntime: java\nbootstrap: b\n", "unknown runtime 'java'"},
        {"name: a b\nbootstrap: b\n", "function name 'a b' must be 1-64 characters"},
        {"name: a\nbootstrap: b\nkeep_alive: soon\n", "invalid duration 'soon'"},
        {"name: a\nbootstrap: b\nenvironment:\n  AWS_REGION: x\n", "'AWS_REGION' is reserved"},
        {"name: a\nbootstrap: b\nreserved_concurrency: 1\nprovisioned_concurrency: 2\n",
         "provisioned_concurrency 2 exceeds reserved_concurrency 1"},
        {"name: a\nbootstrap: b\nprofile: azure\n", "unknown profile 'azure'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        platform_spec s;
        fm_err err = {0};
        assert_int_not_equal(parse_yaml(cases[i].yaml, &s, &err), 0);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].msg);
    }
}

/* The admin API's JSON form: absolute paths only, integers must be integers. */
static void test_json(void **state)
{
    (void)state;
    platform_spec s;
    fm_err err = {0};
    assert_int_equal(parse_json("{\"name\":\"e\",\"bootstrap\":\"/b\",\"memory_mb\":256,"
                                "\"keep_alive\":\"10m\",\"environment\":{\"K\":\"v\"}}",
                                &s, &err),
                     0);
    assert_int_equal(s.memory_mb, 256);
    assert_true(s.keep_alive_s == 600);
    platform_spec_release(&s);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"name\":\"e\",\"bootstrap\":\"rel\"}", "'bootstrap' must be an absolute path"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"memory_mb\":256.5}",
         "'memory_mb' must be an integer"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"x\":1}", "unknown key 'x'"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"timeout_s\":901}",
         "spec:1:42: 'timeout_s' is 901, outside 0.001-900"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"name\":\"f\"}", "duplicate key 'name'"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"batch\":{\"max_delay_ms\":1}}",
         "missing key 'max_size'"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"cold_start\":\"warm\"}",
         "unknown cold_start 'warm' (exec, zygote)"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"precision\":\"fp16\"}",
         "unknown precision 'fp16' (fp32, bf16, int8)"},
        {"{\"name\":\"e\",\"bootstrap\":\"/b\",\"precision\":\"bf16\"}",
         "precision 'bf16' needs runtime 'builtin-onnx'"},
        {"[1]", "expected a JSON object"},
        {"{\"name\":", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(parse_json(bad[i].json, &s, &err), 0);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, bad[i].msg);
    }
}

/* What deploy sends is what the server reads back, field for field. */
static void test_round_trip(void **state)
{
    (void)state;
    platform_spec a, b;
    fm_err err = {0};
    assert_int_equal(parse_yaml("name: r\nbootstrap: x\nargs: [\"-v\"]\nmemory_mb: 512\n"
                                "timeout_s: 7\nenvironment: {K: \"a\\\"b\"}\n"
                                "reserved_concurrency: 3\nprovisioned_concurrency: 1\n"
                                "keep_alive: 2s\n",
                                &a, &err),
                     0);
    char *j1 = platform_spec_to_json(&a);
    assert_non_null(j1);
    assert_int_equal(parse_json(j1, &b, &err), 0);
    char *j2 = platform_spec_to_json(&b);
    assert_string_equal(j1, j2);
    assert_string_equal(b.env_vals[0], "a\"b");
    assert_int_equal(b.reserved_concurrency, 3);
    assert_true(b.keep_alive_s == 2);
    free(j1);
    free(j2);
    platform_spec_release(&a);
    platform_spec_release(&b);
}

/* platform.yaml overrides the defaults it names and refuses what it does not know. */
static void test_config(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/platform_cfg_%d.yaml", (int)getpid());
    const char *y = "listen: 127.0.0.1:0\naccount_concurrency: 5\nkeep_alive: 30s\n"
                    "price_snapshot: '2021'\ncgroups: false\nevent_retry_delay: 250ms\n"
                    "cpu_limits: false\n";
    fm_err err = {0};
    assert_int_equal(fm_write_file_atomic(path, y, strlen(y), &err), 0);
    platform_config c;
    platform_config_init(&c);
    fm_arena a;
    fm_arena_init(&a, 0);
    assert_int_equal(platform_config_load(path, &c, &a, &err), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.account_concurrency, 5);
    assert_true(c.keep_alive_s == 30);
    assert_string_equal(c.price_snapshot, "2021");
    assert_true(c.no_cgroups);
    assert_true(c.no_cpu_limit);
    assert_true(c.event_retry_delay_s == 0.25);
    assert_int_equal(c.event_retries, 2);
    const char *bad = "acount_concurrency: 5\n";
    assert_int_equal(fm_write_file_atomic(path, bad, strlen(bad), &err), 0);
    assert_int_not_equal(platform_config_load(path, &c, &a, &err), 0);
    assert_non_null(strstr(err.msg, "unknown key 'acount_concurrency'"));
    const char *old = "billing_round_ms: 100\n";
    assert_int_equal(fm_write_file_atomic(path, old, strlen(old), &err), 0);
    assert_int_not_equal(platform_config_load(path, &c, &a, &err), 0);
    assert_non_null(strstr(err.msg, "'billing_round_ms' is no longer a platform key: invocations "
                                    "are rounded to the price catalogue's granularity_ms"));
    unlink(path);
    fm_arena_release(&a);
}

/* docs/platform.md carries the spec's key table exactly as the code's table prints it, so the
 * docs cannot drift from what deploy accepts. */
static void test_docs_table(void **state)
{
    (void)state;
    char path[1024], *doc = NULL;
    size_t len;
    fm_err err = {0};
    snprintf(path, sizeof path, "%s/docs/platform.md",
             getenv("FM_SOURCE_DIR") ? getenv("FM_SOURCE_DIR") : ".");
    assert_int_equal(fm_read_file(path, &doc, &len, &err), 0);
    size_t need = platform_spec_keys_markdown(NULL, 0);
    char *table = malloc(need + 1);
    assert_non_null(table);
    assert_int_equal(platform_spec_keys_markdown(table, need + 1), need);
    if (!strstr(doc, table))
        fail_msg("docs/platform.md lacks the spec key table; it should contain:\n%s", table);
    free(table);
    free(doc);
}

/* A null value is "not given" (JSON clients send them), and the admin API reads YAML too. */
static void test_null_and_yaml_body(void **state)
{
    (void)state;
    platform_spec s;
    fm_err err = {0};
    assert_int_equal(
        parse_json("{\"name\":\"e\",\"bootstrap\":\"/b\",\"reserved_concurrency\":null}", &s, &err),
        0);
    assert_int_equal(s.reserved_concurrency, -1);
    platform_spec_release(&s);
    assert_int_equal(parse_json("name: e\nbootstrap: /b\nmemory_mb: 256\n", &s, &err), 0);
    assert_int_equal(s.memory_mb, 256);
    assert_null(s.code_dir); /* no spec directory to default to */
    platform_spec_release(&s);
}

/* runtime: image: the reference is checked as podman's argument, the keys that make no sense for a
 * container are refused by name, and the JSON round trip keeps the image. */
static void test_runtime_image(void **state)
{
    (void)state;
    platform_spec s, back;
    fm_err err = {0};
    assert_int_equal(parse_yaml("name: i\nruntime: image\nimage: localhost/faasml-x:1\n"
                                "args: [--max-events, '3']\nmemory_mb: 512\n",
                                &s, &err),
                     0);
    assert_int_equal(s.runtime, PLATFORM_RUNTIME_IMAGE);
    assert_string_equal(s.image, "localhost/faasml-x:1");
    assert_string_equal(platform_runtime_name(s.runtime), "image");
    char *json = platform_spec_to_json(&s);
    assert_non_null(json);
    assert_int_equal(parse_json(json, &back, &err), 0);
    assert_int_equal(back.runtime, PLATFORM_RUNTIME_IMAGE);
    assert_string_equal(back.image, "localhost/faasml-x:1");
    assert_int_equal(back.nargs, 2);
    free(json);
    platform_spec_release(&back);
    platform_spec_release(&s);

    static const struct {
        const char *yaml, *msg;
    } bad[] = {
        {"name: i\nruntime: image\n", "spec.yaml: runtime 'image' needs 'image'"},
        {"name: i\nimage: x:1\nbootstrap: /b\n", "spec.yaml: 'image' needs runtime 'image'"},
        {"name: i\nruntime: image\nimage: x:1\nbootstrap: /b\n",
         "spec.yaml: runtime 'image' takes no 'bootstrap'"},
        {"name: i\nruntime: image\nimage: x:1\nmodel: m.onnx\n",
         "spec.yaml: runtime 'image' takes no 'model'"},
        {"name: i\nruntime: image\nimage: --privileged\n",
         "image '--privileged' is not an image reference"},
        {"name: i\nruntime: image\nimage: 'a b'\n", "image 'a b' is not an image reference"},
        {"name: i\nruntime: image\nimage: x:1\ncold_start: zygote\n",
         "cold_start 'zygote' needs runtime 'builtin-onnx'"},
        {"name: i\nruntime: image\nimage: x:1\nisolation: sandbox\n",
         "runtime 'image' runs in its own container: isolation 'sandbox' does not apply"},
        {"name: i\nruntime: docker\n", "unknown runtime 'docker' (custom, builtin-onnx, image)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_not_equal(parse_yaml(bad[i].yaml, &s, &err), 0);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("%s: got '%s', want '%s'", bad[i].yaml, err.msg, bad[i].msg);
    }
    assert_true(platform_image_ref_ok("registry.example.com:5000/team/fn@sha256:abc"));
    assert_false(platform_image_ref_ok(""));
    assert_false(platform_image_ref_ok("-x"));
    assert_false(platform_image_ref_ok("x;rm"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_defaults_and_paths),
        cmocka_unit_test(test_yaml_full),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_docs_table),
        cmocka_unit_test(test_runtime_image),
        cmocka_unit_test(test_null_and_yaml_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
