/* Dynamic batching codecs: requests merged along dim 0 and a response split back per caller;
 * incompatible requests and unsplittable responses fail with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

static void decode(const char *json, fn_v2_request *r)
{
    fm_err err = {0};
    if (fn_v2_request_decode(json, strlen(json), -1, r, &err))
        fail_msg("decode '%s': %s", json, err.msg);
}

static void test_merge_then_split(void **state)
{
    (void)state;
    fn_v2_request a, b;
    decode("{\"id\":\"a\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
           "\"data\":[1.5,-2]}],\"outputs\":[{\"name\":\"y\"}]}",
           &a);
    decode("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2,2],"
           "\"data\":[[3,4],[5,0.25]]}]}",
           &b);
    const fn_v2_request *reqs[] = {&a, &b};
    fn_buf m = {0};
    fm_err err = {0};
    assert_int_equal(fn_v2_batch_merge(reqs, 2, &m, &err), 0);
    assert_non_null(strstr(m.p, "\"shape\":[3,2],\"data\":[1.5,-2,3,4,5,0.25]"));
    /* The merged request decodes as a batch of 3. */
    fn_v2_request merged;
    decode(m.p, &merged);
    int64_t items = 0;
    assert_int_equal(fn_v2_batch_items(&merged, &items, &err), 0);
    assert_int_equal(items, 3);
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
    fn_v2_request_release(&a);
    fn_v2_request_release(&b);
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
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[],\"data\":[1]}]}",
         "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "no batch dimension"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
         "{\"name\":\"w\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}]}",
         "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
         "inputs disagree on the batch dimension"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_v2_request a, b;
        decode(cases[i].a, &a);
        decode(cases[i].b, &b);
        const fn_v2_request *reqs[] = {&a, &b};
        fn_buf m = {0};
        fm_err err = {0};
        int rc = fn_v2_batch_merge(reqs, 2, &m, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc, err.msg, cases[i].want);
        fn_buf_release(&m);
        fn_v2_request_release(&a);
        fn_v2_request_release(&b);
    }
}

static void test_split_errors(void **state)
{
    (void)state;
    fn_v2_request a;
    decode("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}]}",
           &a);
    const fn_v2_request *reqs[] = {&a};
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
    fn_v2_request_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_then_split),
        cmocka_unit_test(test_merge_errors),
        cmocka_unit_test(test_split_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
