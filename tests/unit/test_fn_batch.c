/* Dynamic batching codecs: requests scanned (values counted, not converted), merged along dim 0
 * by copying their data text, and a response split back per caller; incompatible requests and
 * unsplittable responses fail with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

static void parse(const char *json, fn_v2_batch_req *r)
{
    fm_err err = {0};
    if (fn_v2_batch_parse(json, strlen(json), r, &err))
        fail_msg("parse '%s': %s", json, err.msg);
}

static const char *const req_a =
    "{\"id\":\"a\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
    "\"data\":[1.5,-2]}],\"outputs\":[{\"name\":\"y\"}]}";
static const char *const req_b = " { \"inputs\" : [ { \"data\" : [[3,4],[5,0.25]], \"name\":"
                                 "\"x\",\"shape\":[2,2],\"datatype\":\"FP32\" } ] } ";

static void test_merge_then_split(void **state)
{
    (void)state;
    fn_v2_batch_req a, b;
    parse(req_a, &a);
    parse(req_b, &b);
    assert_int_equal(a.items, 1);
    assert_int_equal(b.items, 2);
    assert_string_equal(a.id, "a");
    assert_int_equal(a.n_outputs, 1);
    assert_string_equal(a.outputs[0], "y");
    const fn_v2_batch_req *reqs[] = {&a, &b};
    const char *bodies[] = {req_a, req_b};
    fn_buf m = {0};
    fm_err err = {0};
    assert_int_equal(fn_v2_batch_merge(reqs, bodies, 2, &m, &err), 0);
    assert_string_equal(m.p, "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3,2],"
                             "\"data\":[1.5,-2,[3,4],[5,0.25]]}]}");
    /* The function host's decoder reads the merged request as a batch of 3. */
    fn_v2_request merged;
    assert_int_equal(fn_v2_request_decode(m.p, m.len, -1, &merged, &err), 0);
    assert_int_equal(merged.inputs[0].dims[0], 3);
    assert_true(((float *)merged.inputs[0].data)[5] == 0.25f);
    fn_v2_request_release(&merged);
    /* A response with two outputs: each caller gets its rows; `a` asked only for y. */
    const char *resp = "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":["
                       "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[3,1],"
                       "\"data\":[0.100000001,0.200000003,0.300000012]},"
                       "{\"name\":\"k\",\"datatype\":\"INT64\",\"shape\":[3],\"data\":[7,8,9]}]}";
    fn_buf outs[2] = {{0}};
    assert_int_equal(fn_v2_batch_split(resp, strlen(resp), reqs, 2, outs, &err), 0);
    assert_string_equal(outs[0].p, "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"a\","
                                   "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\","
                                   "\"shape\":[1,1],\"data\":[0.100000001]}]}");
    assert_string_equal(outs[1].p,
                        "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":["
                        "{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,1],\"data\":"
                        "[0.200000003,0.300000012]},{\"name\":\"k\",\"datatype\":\"INT64\","
                        "\"shape\":[2],\"data\":[8,9]}]}");
    fn_buf_release(&outs[0]);
    fn_buf_release(&outs[1]);
    fn_buf_release(&m);
    fn_v2_batch_req_release(&a);
    fn_v2_batch_req_release(&b);
}

/* Requests a batch cannot take, and the words their errors must contain. */
static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *req, *want;
    } cases[] = {
        {"not json", "not a JSON object"},
        {"{\"inputs\":[]}", "no inputs"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[],\"data\":[1]}]}",
         "no batch dimension"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2]}]}",
         "shape has 3 elements, data has 2"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"fp32\",\"shape\":[1],\"data\":[1]}]}",
         "datatype"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1]}]}", "no JSON 'data'"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"parameters\":"
         "{\"binary_data_size\":4}}]}",
         "no JSON 'data'"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
         "{\"name\":\"w\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}]}",
         "inputs disagree on the batch dimension"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1,]}]}",
         "not a JSON object"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[0],\"data\":[]}]}",
         "batch dimension is 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_v2_batch_req r;
        fm_err err = {0};
        int rc = fn_v2_batch_parse(cases[i].req, strlen(cases[i].req), &r, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc, err.msg, cases[i].want);
    }
}

static void test_merge_errors(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[1,2]}]}",
         "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}",
         "input 'x': request 1 has FP32 [1,3], the first has FP32 [1,2]"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[1]}]}",
         "request 1 has INT32"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "{\"inputs\":[{\"name\":\"z\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "request 1 lacks input 'x'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_v2_batch_req a, b;
        parse(cases[i].a, &a);
        parse(cases[i].b, &b);
        const fn_v2_batch_req *reqs[] = {&a, &b};
        const char *bodies[] = {cases[i].a, cases[i].b};
        fn_buf m = {0};
        fm_err err = {0};
        int rc = fn_v2_batch_merge(reqs, bodies, 2, &m, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc, err.msg, cases[i].want);
        fn_buf_release(&m);
        fn_v2_batch_req_release(&a);
        fn_v2_batch_req_release(&b);
    }
}

static void test_split_errors(void **state)
{
    (void)state;
    fn_v2_batch_req a;
    parse("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}]}", &a);
    const fn_v2_batch_req *reqs[] = {&a};
    static const struct {
        const char *resp, *want;
    } cases[] = {
        {"nope", "not JSON"},
        {"{\"model_name\":\"m\"}", "no 'outputs'"},
        {"{\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2,3]}]}",
         "no batch dimension of 2"},
        {"{\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],\"data\":[1,2]}]}",
         "not flat or not 4 values"},
        {"{\"outputs\":[{\"name\":\"y\",\"shape\":[2],\"data\":[1,2]}]}", "without name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_buf out = {0};
        fm_err err = {0};
        int rc = fn_v2_batch_split(cases[i].resp, strlen(cases[i].resp), reqs, 1, &out, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc, err.msg, cases[i].want);
        fn_buf_release(&out);
    }
    fn_v2_batch_req_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_then_split),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_merge_errors),
        cmocka_unit_test(test_split_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
