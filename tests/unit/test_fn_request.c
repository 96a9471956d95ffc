/* Request bodies (`faasml request`): what the builder writes, the host's own decoder reads back
 * and accepts for the model it was built for; JSON and binary carry the same values; the seed
 * decides the bytes; an image is preprocessed as the host would, or carried as base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"
#include "fn/fn_int.h"

static fn_handler *identity(const char *desc)
{
    fn_handler *h = NULL;
    fm_err err = {0};
    if (fn_handler_identity_new(desc, &h, &err))
        fail_msg("identity '%s': %s", desc, err.msg);
    return h;
}

static void build(const fn_handler *h, const fn_request_opts *o, fn_buf *b, int64_t *hl)
{
    fm_err err = {0};
    if (fn_request_build(h, o, b, hl, &err))
        fail_msg("build: %s", err.msg);
}

/* Decodes body as the host does and checks it against h. */
static void decode_checked(const fn_handler *h, const fn_buf *b, int64_t hl, fn_v2_request *req)
{
    fm_err err = {0};
    if (fn_v2_request_decode(b->p, b->len, hl, req, &err))
        fail_msg("decode: %s", err.msg);
    if (fn_v2_request_check(h, req, &err))
        fail_msg("check: %s", err.msg);
}

static void test_random_json_round_trip(void **state)
{
    (void)state;
    fn_handler *h = identity("identity:FP32:-1x4");
    fn_request_opts o = {.format = FN_REQUEST_V2_JSON, .seed = 7, .batch = 3};
    fn_buf b = {0};
    int64_t hl = 0;
    build(h, &o, &b, &hl);
    assert_int_equal(hl, -1);
    fn_v2_request req;
    decode_checked(h, &b, hl, &req);
    assert_int_equal(req.n_inputs, 1);
    assert_string_equal(req.inputs[0].name, "input");
    assert_int_equal(req.inputs[0].ndim, 2);
    assert_int_equal(req.inputs[0].dims[0], 3);
    assert_int_equal(req.inputs[0].dims[1], 4);
    assert_int_equal(req.inputs[0].bytes, 12 * sizeof(float));
    /* not all equal: the values are random, not a fill */
    const float *v = req.inputs[0].data;
    bool differ = false;
    for (int i = 1; i < 12; i++)
        differ |= v[i] != v[0];
    assert_true(differ);
    fn_v2_request_release(&req);

    /* same seed, same bytes; another seed, other bytes */
    fn_buf b2 = {0}, b3 = {0};
    build(h, &o, &b2, &hl);
    o.seed = 8;
    build(h, &o, &b3, &hl);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.p, b2.p, b.len);
    assert_true(b.len != b3.len || memcmp(b.p, b3.p, b.len) != 0);
    fn_buf_release(&b);
    fn_buf_release(&b2);
    fn_buf_release(&b3);
    fn_handler_free(h);
}

static void test_binary_matches_json(void **state)
{
    (void)state;
    fn_handler *h = identity("identity:FP32:2x5");
    fn_request_opts o = {.format = FN_REQUEST_V2_JSON, .seed = 3, .batch = 1};
    fn_buf bj = {0}, bb = {0};
    int64_t hj, hb;
    build(h, &o, &bj, &hj);
    o.format = FN_REQUEST_V2_BINARY;
    build(h, &o, &bb, &hb);
    assert_true(hb > 0);
    assert_int_equal(bb.len, (size_t)hb + 10 * sizeof(float));
    fn_v2_request rj, rb;
    decode_checked(h, &bj, hj, &rj);
    decode_checked(h, &bb, hb, &rb);
    assert_int_equal(rj.inputs[0].bytes, rb.inputs[0].bytes);
    /* JSON floats are written with enough digits to read back the same float */
    assert_memory_equal(rj.inputs[0].data, rb.inputs[0].data, rb.inputs[0].bytes);
    fn_v2_request_release(&rj);
    fn_v2_request_release(&rb);
    fn_buf_release(&bj);
    fn_buf_release(&bb);
    fn_handler_free(h);
}

static void test_integer_inputs_and_fixed_batch(void **state)
{
    (void)state;
    fn_handler *h = identity("identity:INT64:2x3");
    fn_request_opts o = {.format = FN_REQUEST_V2_JSON, .seed = 1, .batch = 1};
    fn_buf b = {0};
    int64_t hl;
    build(h, &o, &b, &hl);
    fn_v2_request req;
    decode_checked(h, &b, hl, &req);
    const int64_t *v = req.inputs[0].data;
    for (int i = 0; i < 6; i++)
        assert_true(v[i] >= 0 && v[i] < 1000);
    fn_v2_request_release(&req);
    fn_buf_release(&b);
    /* a fixed batch dimension is not silently changed */
    o.batch = 4;
    fm_err err = {0};
    fn_buf b2 = {0};
    assert_int_equal(fn_request_build(h, &o, &b2, &hl, &err), FM_ESHAPE);
    assert_non_null(strstr(err.msg, "fixed batch of 2"));
    fn_buf_release(&b2);
    fn_handler_free(h);
}

/* A w x h RGB PNG, every pixel (r, g, b). */
static void *png_solid(int w, int h, uint8_t r, uint8_t g, uint8_t bl, size_t *len)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++)
        px[3 * i] = r, px[3 * i + 1] = g, px[3 * i + 2] = bl;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)w, pi.height = (png_uint_32)h, pi.format = PNG_FORMAT_RGB;
    png_alloc_size_t n = 0;
    assert_true(png_image_write_to_memory(&pi, NULL, &n, 0, px, 0, NULL));
    void *buf = malloc(n);
    assert_true(png_image_write_to_memory(&pi, buf, &n, 0, px, 0, NULL));
    free(px);
    *len = n;
    return buf;
}

static void test_image_tensor_and_event(void **state)
{
    (void)state;
    fn_handler *h = identity("identity:FP32:1x3x4x4");
    size_t len;
    void *png = png_solid(8, 8, 255, 0, 51, &len);
    fn_request_opts o = {
        .format = FN_REQUEST_V2_JSON, .image = png, .image_len = len, .seed = 1, .batch = 1};
    fn_buf b = {0};
    int64_t hl;
    build(h, &o, &b, &hl);
    fn_v2_request req;
    decode_checked(h, &b, hl, &req);
    const float *v = req.inputs[0].data; /* default preprocess: pixel / 255, NCHW */
    assert_float_equal(v[0], 1.0, 1e-6);
    assert_float_equal(v[16], 0.0, 1e-6);
    assert_float_equal(v[32], 0.2, 1e-6);
    fn_v2_request_release(&req);
    fn_buf_release(&b);

    o.format = FN_REQUEST_LAMBDA_EVENT;
    build(h, &o, &b, &hl);
    fn_event ev;
    fm_err err = {0};
    if (fn_event_decode(b.p, b.len, &ev, &err))
        fail_msg("event: %s", err.msg);
    assert_int_equal(ev.kind, FN_EVENT_IMAGES);
    assert_int_equal(ev.n_images, 1);
    assert_int_equal(ev.image_lens[0], len);
    assert_memory_equal(ev.images[0], png, len);
    fn_event_release(&ev);
    fn_buf_release(&b);

    /* a model that cannot take images says so before anything is written */
    fn_handler *h2 = identity("identity:INT64:2x3");
    assert_int_equal(fn_request_build(h2, &o, &b, &hl, &err), FM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "cannot take images"));
    /* bytes that are no image are refused */
    o.image = "not an image";
    o.image_len = 12;
    assert_true(fn_request_build(h, &o, &b, &hl, &err) != 0);
    fn_buf_release(&b);
    fn_handler_free(h2);
    fn_handler_free(h);
    free(png);
}

static void test_format_names(void **state)
{
    (void)state;
    fn_request_format f;
    assert_int_equal(fn_request_format_parse("v2-binary", &f), 0);
    assert_int_equal(f, FN_REQUEST_V2_BINARY);
    assert_string_equal(fn_request_format_name(FN_REQUEST_LAMBDA_EVENT), "lambda-event");
    assert_int_equal(fn_request_format_parse("v2", &f), FM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_json_round_trip),
        cmocka_unit_test(test_binary_matches_json),
        cmocka_unit_test(test_integer_inputs_and_fixed_batch),
        cmocka_unit_test(test_image_tensor_and_event),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
