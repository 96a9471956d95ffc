/* KServe v2 codec: JSON and binary requests, the check against a model, responses. Every bad
 * input must fail with a message that names the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"
#include "fn/fn_int.h"

static fn_handler *identity(const char *desc)
{
    fn_handler *h = NULL;
    fm_err err = {0};
    assert_int_equal(fn_handler_identity_new(desc, &h, &err), 0);
    return h;
}

static void test_json_nested_and_flat(void **state)
{
    const char *nested = "{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],"
                         "\"datatype\":\"INT32\",\"data\":[[1,2],[3,-4]]}]}";
    const char *flat = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"INT32\","
                       "\"data\":[1,2,3,-4]}]}";
    fn_v2_request a, b;
    fm_err err = {0};
    assert_int_equal(fn_v2_request_decode(nested, strlen(nested), -1, &a, &err), 0);
    assert_int_equal(fn_v2_request_decode(flat, strlen(flat), -1, &b, &err), 0);
    assert_string_equal(a.id, "r1");
    assert_null(b.id);
    assert_int_equal(a.n_inputs, 1);
    assert_int_equal(a.inputs[0].ndim, 2);
    assert_int_equal(a.inputs[0].bytes, 16);
    assert_memory_equal(a.inputs[0].data, b.inputs[0].data, 16);
    int32_t want[4] = {1, 2, 3, -4};
    assert_memory_equal(a.inputs[0].data, want, 16);
    fn_v2_request_release(&a);
    fn_v2_request_release(&b);
}

/* Every numeric datatype round-trips through decode and encode. */
static void test_datatypes(void **state)
{
    static const struct {
        const char *dt, *data, *want;
    } cases[] = {
        {"BOOL", "[true,false]", "[true,false]"},
        {"INT8", "[-128,127]", "[-128,127]"},
        {"INT16", "[-32768,32767]", "[-32768,32767]"},
        {"INT32", "[-7,7]", "[-7,7]"},
        {"INT64", "[-9007199254740992,3]", "[-9007199254740992,3]"},
        {"UINT8", "[0,255]", "[0,255]"},
        {"UINT16", "[0,65535]", "[0,65535]"},
        {"UINT32", "[0,4294967295]", "[0,4294967295]"},
        {"UINT64", "[0,4503599627370496]", "[0,4503599627370496]"},
        {"FP16", "[1.5,-0.25]", "[1.5,-0.25]"},
        {"BF16", "[2,-0.5]", "[2,-0.5]"},
        {"FP32", "[0.5,-1e-3]", "[0.5,-0.00100000005]"},
        {"FP64", "[0.1,2]", "[0.10000000000000001,2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"%s\",\"data\":%s}]}",
                 cases[i].dt, cases[i].data);
        fn_v2_request req;
        fm_err err = {0};
        assert_int_equal(fn_v2_request_decode(body, strlen(body), -1, &req, &err), 0);
        fn_buf out = {0};
        assert_int_equal(fn_v2_data_encode(&req.inputs[0], &out), 0);
        assert_string_equal(out.p, cases[i].want);
        fn_buf_release(&out);
        fn_v2_request_release(&req);
    }
}

/* Bad requests: each must fail and the message must name the problem. */
static void test_bad_json(void **state)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"inputs\":[", "invalid JSON"},
        {"[1,2]", "must be a JSON object"},
        {"{}", "no 'inputs' array"},
        {"{\"inputs\":[]}", "no inputs"},
        {"{\"inputs\":[5]}", "inputs[0] must be an object"},
        {"{\"inputs\":[{\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}",
         "'name' must be a string"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"data\":[1]}]}", "input 'x': 'datatype'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"fp32\",\"data\":[1]}]}",
         "unknown datatype 'fp32'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FLOAT\",\"data\":[1]}]}",
         "unknown datatype 'FLOAT'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"a\"]}]}",
         "BYTES is not supported"},
        {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}]}", "'shape' must be"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[1]}]}",
         "shape dimension 0 is not a non-negative integer"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1.5],\"datatype\":\"FP32\",\"data\":[1]}]}",
         "shape dimension 0"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1,1,1,1,1,1,1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         "9 dimensions"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[4000000000,4000000000,4000000000],"
         "\"datatype\":\"FP32\",\"data\":[1]}]}",
         "shape is too large"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\"}]}", "no 'data'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
         "shape [2,2] has 4 elements, data has 3"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1,\"a\"]}]}",
         "element 1 is not a number"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[200]}]}",
         "element 0 (200) is not a valid INT8"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1.5]}]}",
         "(1.5) is not a valid INT32"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"UINT8\",\"data\":[-1]}]}",
         "not a valid UINT8"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[1]}]}",
         "element 0 is not a boolean"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":{}}",
         "'outputs' must be an array"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":[{\"parameters\":{}}]}",
         "outputs[0]: 'name'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":1}}]}",
         "binary_data must be a boolean"},
        {"{\"id\":7,\"inputs\":[]}", "'id' must be a string"},
        {"{\"parameters\":[],\"inputs\":[]}", "'parameters' must be an object"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":"
         "{\"binary_data_size\":4}}]}",
         "has no Inference-Header-Content-Length"},
        /* what the protocol forbids but a lenient reader would take */
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}],"
         "\"inputs\":[]}",
         "duplicate member name 'inputs'"},
        {"{\"inputs\":[{\"name\":\"x\",\"name\":\"y\",\"shape\":[1],\"datatype\":\"FP32\","
         "\"data\":[1]}]}",
         "duplicate member name 'name'"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1,-1e999]}]}",
         "element 1 (-1e999) is out of range for FP32"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e39]}]}",
         "element 0 (1e39) is out of range for FP32"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[[1e999]]}]}",
         "element 0 (1e999) is out of range for FP32"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":-1e999}]}",
         "element 0 (-1e999) is out of range for FP32"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[0, 2e308]}]}",
         "element 1 (2e308) is out of range for FP64"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP16\",\"data\":[70000]}]}",
         "element 0 (70000) is out of range for FP16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_v2_request req;
        fm_err err = {0};
        int rc = fn_v2_request_decode(cases[i].body, strlen(cases[i].body), -1, &req, &err);
        if (rc == 0 || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, cases[i].msg);
    }
}

/* Builds JSON header + binary part, as a client of the binary extension sends it. */
static size_t binary_body(char *buf, const char *json, const void *bin, size_t bin_len)
{
    size_t n = strlen(json);
    memcpy(buf, json, n);
    memcpy(buf + n, bin, bin_len);
    return n + bin_len;
}

static void test_binary(void **state)
{
    const char *json = "{\"inputs\":[{\"name\":\"a\",\"shape\":[2],\"datatype\":\"FP32\","
                       "\"parameters\":{\"binary_data_size\":8}},{\"name\":\"b\",\"shape\":[1],"
                       "\"datatype\":\"INT64\",\"data\":[9]},{\"name\":\"c\",\"shape\":[3],"
                       "\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":3}}],"
                       "\"outputs\":[{\"name\":\"c\",\"parameters\":{\"binary_data\":true}}]}";
    uint8_t bin[11];
    float f[2] = {1.5f, -2.0f};
    memcpy(bin, f, 8);
    bin[8] = 7, bin[9] = 8, bin[10] = 9;
    char body[1024];
    size_t len = binary_body(body, json, bin, sizeof bin);
    fn_v2_request req;
    fm_err err = {0};
    assert_int_equal(fn_v2_request_decode(body, len, (int64_t)strlen(json), &req, &err), 0);
    assert_int_equal(req.n_inputs, 3);
    assert_memory_equal(req.inputs[0].data, f, 8);
    assert_int_equal(((uint8_t *)req.inputs[2].data)[2], 9);
    assert_int_equal(req.n_outputs, 1);
    assert_true(req.outputs[0].binary);
    fn_v2_request_release(&req);

    /* bad binary requests */
    static const struct {
        int64_t header_delta; /* header length relative to the JSON's */
        size_t bin_len;
        const char *json, *msg;
    } bad[] = {
        {1000, 11, NULL, "is past the end of the body"},
        {0, 10, NULL, "input 'c': binary data truncated"},
        {0, 4, NULL, "input 'a': binary data truncated"},
        {0, 12, NULL,
         "12 bytes after the header, but the inputs' binary_data_size values add up to 11"},
        {-5, 11, NULL, "invalid JSON"},
        {0, 8,
         "{\"inputs\":[{\"name\":\"a\",\"shape\":[3],\"datatype\":\"FP32\",\"parameters\":"
         "{\"binary_data_size\":8}}]}",
         "binary_data_size 8 does not match shape [3] of FP32 (12 bytes)"},
        {0, 4,
         "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1],"
         "\"parameters\":{\"binary_data_size\":4}}]}",
         "both 'data' and binary_data_size"},
        {0, 4,
         "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP32\",\"parameters\":"
         "{\"binary_data_size\":-4}}]}",
         "binary_data_size must be a non-negative integer"},
    };
    uint8_t zeros[16] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *j = bad[i].json ? bad[i].json : json;
        size_t n = binary_body(body, j, bad[i].bin_len <= 11 ? bin : zeros, bad[i].bin_len);
        int64_t hl = (int64_t)strlen(j) + bad[i].header_delta;
        fm_err e = {0};
        int rc = fn_v2_request_decode(body, n, hl, &req, &e);
        if (rc == 0 || !strstr(e.msg, bad[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, e.msg, bad[i].msg);
    }
}

/* The check against the model: names, types, shapes, missing, duplicated, unknown outputs. */
static void test_check(void **state)
{
    fn_handler *h = identity("identity:FP32:-1x3");
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4,5,6]}]}",
         NULL},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
         "unknown input 'x' (the model's inputs are: input)"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP64\","
         "\"data\":[1,2,3]}]}",
         "input 'input': expected datatype FP32, got FP64"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
         "\"data\":[1,2,3,4]}]}",
         "input 'input': expected shape [-1,3], got [1,4]"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[3],\"datatype\":\"FP32\","
         "\"data\":[1,2,3]}]}",
         "expected shape [-1,3], got [3]"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
         "{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
         "input 'input' is given twice"},
        {"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]"
         ","
         "\"outputs\":[{\"name\":\"logits\"}]}",
         "unknown output 'logits' (the model's outputs are: output)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fn_v2_request req;
        fm_err err = {0};
        assert_int_equal(fn_v2_request_decode(cases[i].body, strlen(cases[i].body), -1, &req, &err),
                         0);
        int rc = fn_v2_request_check(h, &req, &err);
        if (cases[i].msg == NULL ? rc != 0 : (rc == 0 || !strstr(err.msg, cases[i].msg)))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg,
                     cases[i].msg ? cases[i].msg : "(success)");
        fn_v2_request_release(&req);
    }
    fn_handler_free(h);
}

/* A model with two inputs: missing inputs are named; inputs come back in model order. */
static void test_check_order(void **state)
{
    fn_handler *h = identity("identity:INT64:-1x-1");
    h->n_inputs = 2; /* pretend the test handler has a second input */
    h->inputs[1] = h->inputs[0];
    h->inputs[1].name = "mask";
    const char *body = "{\"inputs\":[{\"name\":\"mask\",\"shape\":[1,1],\"datatype\":\"INT64\","
                       "\"data\":[5]},{\"name\":\"input\",\"shape\":[1,1],\"datatype\":\"INT64\","
                       "\"data\":[4]}]}";
    fn_v2_request req;
    fm_err err = {0};
    assert_int_equal(fn_v2_request_decode(body, strlen(body), -1, &req, &err), 0);
    assert_int_equal(fn_v2_request_check(h, &req, &err), 0);
    assert_string_equal(req.inputs[0].name, "input");
    assert_int_equal(*(int64_t *)req.inputs[0].data, 4);
    fn_v2_request_release(&req);
    const char *missing = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1],\"datatype\":\"INT64\","
                          "\"data\":[4]}]}";
    assert_int_equal(fn_v2_request_decode(missing, strlen(missing), -1, &req, &err), 0);
    assert_int_not_equal(fn_v2_request_check(h, &req, &err), 0);
    assert_string_equal(err.msg, "missing input 'mask'");
    fn_v2_request_release(&req);
    fn_handler_free(h);
}

static void test_response(void **state)
{
    float y[3] = {0.25f, 1.0f, -3.5f};
    infer_tensor out = {
        .name = "y", .dtype = INFER_DTYPE_FP32, .ndim = 2, .dims = {1, 3}, .data = y, .bytes = 12};
    fn_buf b = {0};
    int64_t hl;
    fm_err err = {0};
    fn_v2_request req = {.id = "abc"};
    assert_int_equal(fn_v2_response_encode("m", &req, &out, 1, &b, &hl, &err), 0);
    assert_int_equal(hl, -1);
    assert_string_equal(b.p, "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"abc\","
                             "\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1,3],"
                             "\"data\":[0.25,1,-3.5]}]}");
    fn_buf_release(&b);
    /* binary output: JSON header, then the raw bytes */
    req.binary_output = true;
    assert_int_equal(fn_v2_response_encode("m", &req, &out, 1, &b, &hl, &err), 0);
    assert_true(hl > 0);
    assert_int_equal(b.len, (size_t)hl + 12);
    assert_non_null(strstr(b.p, "\"parameters\":{\"binary_data_size\":12}"));
    assert_memory_equal(b.p + hl, y, 12);
    fn_buf_release(&b);
    /* non-finite floats become null (JSON has no NaN) */
    y[1] = 1.0f / 0.0f;
    req.binary_output = false;
    assert_int_equal(fn_v2_response_encode("m", NULL, &out, 1, &b, &hl, &err), 0);
    assert_non_null(strstr(b.p, "[0.25,null,-3.5]"));
    fn_buf_release(&b);
}

static void test_metadata(void **state)
{
    fn_handler *h = identity("identity:UINT8:1x-1x3");
    fn_buf b = {0};
    assert_int_equal(fn_v2_metadata_encode("img", h, &b), 0);
    assert_string_equal(b.p, "{\"name\":\"img\",\"versions\":[\"1\"],\"platform\":"
                             "\"faasml_identity\",\"inputs\":[{\"name\":\"input\",\"datatype\":"
                             "\"UINT8\",\"shape\":[1,-1,3]}],\"outputs\":[{\"name\":\"output\","
                             "\"datatype\":\"UINT8\",\"shape\":[1,-1,3]}]}");
    fn_buf_release(&b);
    fn_handler_free(h);
}

static void test_half(void **state)
{
    static const float vals[] = {0.0f,           1.0f,           -2.5f,          65504.0f,
                                 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_true(fn_half_to_float(fn_float_to_half(vals[i])) == vals[i]);
    assert_int_equal(fn_float_to_half(1e6f), 0x7c00);               /* overflow to infinity */
    assert_int_equal(fn_float_to_half(1.0f + 1.0f / 4096), 0x3c00); /* ties to even */
    assert_true(fn_bf16_to_float(fn_float_to_bf16(3.0f)) == 3.0f);
}

/* The fast float formatter writes what "%.9g" writes, and always reads back as the same float. */
static void test_float9(void **state)
{
    static const float fixed[] = {
        0.0f,    -0.0f,      1.0f,        -1e-3f,        0.1f,     123456789.0f,    1e9f,
        1.5e-5f, 1e-4f,      9.99999e-5f, 3.4028235e38f, 1.4e-45f, 1.17549435e-38f, 2.5f,
        100.0f,  0.30000001f};
    char want[64];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        fn_buf b = {0};
        assert_int_equal(fn_put_float9(&b, fixed[i]), 0);
        snprintf(want, sizeof want, "%.9g", fixed[i]);
        assert_string_equal(b.p, want);
        fn_buf_release(&b);
    }
    fm_rng r;
    fm_rng_seed(&r, 7);
    int same = 0, finite = 0,
        n = getenv("FM_SANITIZED") && strcmp(getenv("FM_SANITIZED"), "1") == 0 ? 20000 : 200000;
    for (int i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)fm_rng_u64(&r);
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f))
            continue;
        finite++;
        fn_buf b = {0};
        fn_put_float9(&b, f);
        if (strtof(b.p, NULL) != f)
            fail_msg("%.9g written as '%s' does not read back", f, b.p);
        snprintf(want, sizeof want, "%.9g", f);
        same += strcmp(b.p, want) == 0;
        fn_buf_release(&b);
    }
    printf("float9: %d of %d random floats written exactly as %%.9g\n", same, finite);
    assert_true(same == finite);
}

/* The JSON reader: strict grammar, escapes, depth, and numbers (exact for FP64). */
static void test_json_reader(void **state)
{
    static const struct {
        const char *text, *msg; /* msg NULL: must parse */
    } cases[] = {
        {" {\"a\" : [1, -2.5e3, 0, -0, 1E+2, 0.000123] , \"b\":\"x\\u00e9\\ud83d\\ude00\\n\"} ",
         NULL},
        {"[[], {}, true, false, null, \"\"]", NULL},
        {"[1,]", "byte 3"},
        {"{\"a\":1,}", "expected a member name"},
        {"01", "unexpected data after the JSON value"},
        {"[1.]", "invalid number"},
        {"[.5]", "invalid number"},
        {"[-]", "invalid number"},
        {"[1e]", "invalid number"},
        {"[tru]", "invalid literal"},
        {"[NaN]", "invalid number"},
        {"\"abc", "unterminated string"},
        {"\"a\\u0000b\"", "\\u0000 in string"},
        {"\"a\\x\"", "invalid escape"},
        {"\"a\\u12G4\"", "invalid \\u escape"},
        {"\"tab\\there\"", NULL},
        {"\"raw\ttab\"", "control character"},
        {"{\"a\" 1}", "expected ':'"},
        {"[1 2]", "expected ',' or ']'"},
        {"", "unexpected end of input"},
        {"{} {}", "unexpected data after the JSON value"},
        {"{\"a\":1,\"b\":2,\"a\":3}", "byte 13: duplicate member name 'a'"},
        {"{\"a\":{\"x\":1},\"b\":{\"x\":1}}", NULL}, /* the same name in two objects */
        {"{\"k0\":0,\"k1\":0,\"k2\":0,\"k3\":0,\"k4\":0,\"k5\":0,\"k6\":0,\"k7\":0,\"k8\":0,"
         "\"k9\":0,\"k10\":0,\"k11\":0,\"k12\":0,\"k13\":0,\"k14\":0,\"k15\":0,\"k16\":0,"
         "\"k17\":0,\"k3\":0}",
         "duplicate member name 'k3'"},
        {"{\"k0\":0,\"k1\":0,\"k2\":0,\"k3\":0,\"k4\":0,\"k5\":0,\"k6\":0,\"k7\":0,\"k8\":0,"
         "\"k9\":0,\"k10\":0,\"k11\":0,\"k12\":0,\"k13\":0,\"k14\":0,\"k15\":0,\"k16\":0,"
         "\"k17\":0,\"k18\":0}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fm_arena a;
        fm_arena_init(&a, 0);
        fj *root = NULL;
        fm_err err = {0};
        int rc = fj_parse(cases[i].text, strlen(cases[i].text), &a, &root, &err);
        if (cases[i].msg ? (rc == 0 || !strstr(err.msg, cases[i].msg)) : rc != 0)
            fail_msg("case %zu '%s': rc %d, message '%s', want '%s'", i, cases[i].text, rc, err.msg,
                     cases[i].msg ? cases[i].msg : "(success)");
        if (i == 0) {
            const fj *arr = fj_get(root, "a"), *b = fj_get(root, "b");
            assert_int_equal(arr->n, 6);
            assert_non_null(arr->nums);
            assert_true(arr->nums[1] == -2500.0 && arr->nums[4] == 100.0 &&
                        arr->nums[5] == 0.000123);
            assert_true(signbit(arr->nums[3]));
            assert_string_equal(b->str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
        }
        fm_arena_release(&a);
    }
    /* depth is bounded */
    char deep[400];
    memset(deep, '[', sizeof deep);
    fm_arena a;
    fm_arena_init(&a, 0);
    fj *root;
    fm_err err = {0};
    assert_int_not_equal(fj_parse(deep, sizeof deep, &a, &root, &err), 0);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    fm_arena_release(&a);
    /* FP64 data is correctly rounded even where the fast path is not exact; FP32 is within
     * float precision */
    const char *body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[3],\"datatype\":\"FP64\","
                       "\"data\":[0.12345678901234567, 1.7976931348623157e308, 3e-320]},"
                       "{\"name\":\"y\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":"
                       "[[0.30000000000000004]]}]}";
    fn_v2_request req;
    assert_int_equal(fn_v2_request_decode(body, strlen(body), -1, &req, &err), 0);
    double *x = req.inputs[0].data;
    assert_true(x[0] == strtod("0.12345678901234567", NULL));
    assert_true(x[1] == strtod("1.7976931348623157e308", NULL));
    assert_true(x[2] == strtod("3e-320", NULL));
    assert_true(*(double *)req.inputs[1].data == strtod("0.30000000000000004", NULL));
    fn_v2_request_release(&req);
}

static void test_identity_desc(void **state)
{
    fn_handler *h = NULL;
    fm_err err = {0};
    assert_int_not_equal(fn_handler_identity_new("echo", &h, &err), 0);
    assert_non_null(strstr(err.msg, "unknown builtin handler 'echo'"));
    assert_int_not_equal(fn_handler_identity_new("identity:FP99", &h, &err), 0);
    assert_non_null(strstr(err.msg, "unknown datatype 'FP99'"));
    assert_int_not_equal(fn_handler_identity_new("identity:FP32:1x0", &h, &err), 0);
    assert_non_null(strstr(err.msg, "invalid shape"));
    assert_null(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nested_and_flat),
        cmocka_unit_test(test_datatypes),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_float9),
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_identity_desc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
