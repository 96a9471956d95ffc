/* Dynamic batching codecs: requests scanned (values counted, not converted), merged along dim 0
 * by copying their data text or, for binary tensors, their bytes, and a response split back per
 * caller; incompatible requests and unsplittable responses fail with a message naming the
 * problem. */
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
    if (fn_v2_batch_parse(json, strlen(json), -1, r, &err))
        fail_msg("parse '%s': %s", json, err.msg);
}

/* A binary request: the JSON header, then n floats as bytes (*len: the body's length). */
static char *binary_req(const char *header, const float *v, size_t n, size_t *len)
{
    size_t hl = strlen(header);
    char *b = malloc(hl + n * sizeof *v);
    assert_non_null(b);
    memcpy(b, header, hl);
    memcpy(b + hl, v, n * sizeof *v);
    *len = hl + n * sizeof *v;
    return b;
}

static void parse_binary(const char *body, size_t len, size_t header_len, fn_v2_batch_req *r)
{
    fm_err err = {0};
    if (fn_v2_batch_parse(body, len, (int64_t)header_len, r, &err))
        fail_msg("parse binary '%.*s': %s", (int)header_len, body, err.msg);
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
    int64_t hl;
    assert_int_equal(fn_v2_batch_merge(reqs, bodies, 2, &m, &hl, &err), 0);
    assert_int_equal(hl, -1); /* JSON in, JSON out */
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
         "binary_data_size given but the request has no Inference-Header-Content-Length"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],"
         "\"parameters\":{\"binary_data_output\":true}}",
         "binary_data_output cannot be batched"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}],"
         "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":true}}]}",
         "binary_data outputs cannot be batched"},
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
        int rc = fn_v2_batch_parse(cases[i].req, strlen(cases[i].req), -1, &r, &err);
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
        int64_t hl;
        int rc = fn_v2_batch_merge(reqs, bodies, 2, &m, &hl, &err);
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

/* Binary tensors (the KServe v2 binary extension) are merged as bytes after a new header; the
 * function host decodes the merged request as the batch, values exact. */
static void test_binary_merge(void **state)
{
    (void)state;
    const char *ha = "{\"id\":\"a\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\","
                     "\"shape\":[1,2],\"parameters\":{\"binary_data_size\":8}}]}";
    const char *hb = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[2,2],"
                     "\"parameters\":{\"binary_data_size\":16}}]}";
    const float va[] = {1.5f, -2}, vb[] = {3, 4, 5, 0.1f};
    size_t la, lb;
    char *a_body = binary_req(ha, va, 2, &la), *b_body = binary_req(hb, vb, 4, &lb);
    fn_v2_batch_req a, b;
    parse_binary(a_body, la, strlen(ha), &a);
    parse_binary(b_body, lb, strlen(hb), &b);
    assert_true(a.inputs[0].binary);
    assert_int_equal(a.inputs[0].data_off, strlen(ha));
    assert_int_equal(a.inputs[0].data_len, 8);
    assert_int_equal(b.items, 2);
    const fn_v2_batch_req *reqs[] = {&a, &b};
    const char *bodies[] = {a_body, b_body};
    fn_buf m = {0};
    fm_err err = {0};
    int64_t hl;
    assert_int_equal(fn_v2_batch_merge(reqs, bodies, 2, &m, &hl, &err), 0);
    const char *want = "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3,2],"
                       "\"parameters\":{\"binary_data_size\":24}}]}";
    assert_int_equal(hl, strlen(want));
    assert_memory_equal(m.p, want, strlen(want));
    assert_int_equal(m.len, strlen(want) + 24);
    fn_v2_request merged;
    assert_int_equal(fn_v2_request_decode(m.p, m.len, hl, &merged, &err), 0);
    assert_int_equal(merged.inputs[0].dims[0], 3);
    const float *got = merged.inputs[0].data, all[] = {1.5f, -2, 3, 4, 5, 0.1f};
    assert_memory_equal(got, all, sizeof all);
    fn_v2_request_release(&merged);
    fn_buf_release(&m);

    /* One JSON caller among binary ones: the merged input is JSON, the binary values printed
     * exactly (%.9g round-trips a float). */
    fn_v2_batch_req j;
    parse(req_a, &j);
    const fn_v2_batch_req *mixed[] = {&b, &j};
    const char *mbodies[] = {b_body, req_a};
    assert_int_equal(fn_v2_batch_merge(mixed, mbodies, 2, &m, &hl, &err), 0);
    assert_int_equal(hl, -1);
    assert_string_equal(m.p, "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[3,2],"
                             "\"data\":[3,4,5,0.100000001,1.5,-2]}]}");
    assert_int_equal(fn_v2_request_decode(m.p, m.len, -1, &merged, &err), 0);
    assert_true(((float *)merged.inputs[0].data)[3] == 0.1f);
    fn_v2_request_release(&merged);
    fn_buf_release(&m);
    fn_v2_batch_req_release(&a);
    fn_v2_batch_req_release(&b);
    fn_v2_batch_req_release(&j);
    free(a_body);
    free(b_body);
}

/* Binary requests a batch cannot take: the sizes must fit the shape and the body. */
static void test_binary_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        size_t floats;
        const char *want;
    } cases[] = {
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
         "\"parameters\":{\"binary_data_size\":4}}]}",
         1, "binary_data_size must be 8 bytes"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
         "\"parameters\":{\"binary_data_size\":8}}]}",
         3, "binary_data_size values add up to 8 bytes, the body has 12"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
         "\"parameters\":{\"binary_data_size\":8}}]}",
         1, "8 bytes of binary data, 4 left"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
         "\"parameters\":{\"binary_data_size\":8,\"other\":1}}]}",
         2, "parameters other than binary_data_size"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2],"
         "\"parameters\":{\"binary_data_size\":8},\"data\":[1,2]}]}",
         2, "both 'data' and binary_data_size"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,2]}]}", 2,
         "no JSON 'data' array and no binary_data_size"},
    };
    const float v[3] = {1, 2, 3};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *body = binary_req(cases[i].header, v, cases[i].floats, &len);
        fn_v2_batch_req r;
        fm_err err = {0};
        int rc = fn_v2_batch_parse(body, len, (int64_t)strlen(cases[i].header), &r, &err);
        free(body);
        if (rc == 0 || !strstr(err.msg, cases[i].want))
            fail_msg("case %zu: rc %d, '%s', want '%s'", i, rc, err.msg, cases[i].want);
    }
    fn_v2_batch_req r;
    fm_err err = {0};
    assert_int_not_equal(fn_v2_batch_parse("{}", 2, 3, &r, &err), 0);
    assert_non_null(strstr(err.msg, "past the end of the body"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_then_split), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_merge_errors),     cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_binary_merge),     cmocka_unit_test(test_binary_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
