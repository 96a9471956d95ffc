/* Function host payloads other than v2: base64, Lambda events, images (PNG/JPEG decoded,
 * resized, normalised), top-k, the function spec, and the host's request path end to end with
 * the identity handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "fn/fn.h"
#include "fn/fn_int.h"

/* ---- test images ---------------------------------------------------------------------------- */
/* A w x h RGB gradient: r = 10*x, g = 20*y, b = 100. */
static uint8_t *gradient(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *px = p + ((size_t)y * w + x) * 3;
            px[0] = (uint8_t)(10 * x), px[1] = (uint8_t)(20 * y), px[2] = 100;
        }
    return p;
}

static void *png_of(int w, int h, size_t *len)
{
    uint8_t *px = gradient(w, h);
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

static void *jpeg_of(int w, int h, size_t *len)
{
    uint8_t *px = gradient(w, h);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = 3, c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(px);
    *len = n;
    return buf;
}

/* ---- base64 -----------------------------------------------------------------------------------
 */
static void test_base64(void **state)
{
    const char *raw = "any carnal pleas";
    for (size_t n = 0; n <= strlen(raw); n++) {
        char b[32];
        size_t bl = fm_base64_encode(raw, n, b);
        assert_int_equal(bl, (n + 2) / 3 * 4);
        uint8_t *dec;
        size_t dl;
        fm_err err = {0};
        assert_int_equal(fm_base64_decode(b, bl, &dec, &dl, &err), 0);
        assert_int_equal(dl, n);
        assert_memory_equal(dec, raw, n);
        free(dec);
    }
    uint8_t *dec;
    size_t dl;
    fm_err err = {0};
    assert_int_not_equal(fm_base64_decode("ab$d", 4, &dec, &dl, &err), 0);
    assert_non_null(strstr(err.msg, "unexpected character at offset 2"));
    assert_int_not_equal(fm_base64_decode("abcde", 5, &dec, &dl, &err), 0);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_not_equal(fm_base64_decode("ab=c", 4, &dec, &dl, &err), 0);
}

/* ---- events -----------------------------------------------------------------------------------
 */
static void test_events(void **state)
{
    fn_event ev;
    fm_err err = {0};
    const char *v2 =
        "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}";
    assert_int_equal(fn_event_decode(v2, strlen(v2), &ev, &err), 0);
    assert_int_equal(ev.kind, FN_EVENT_V2);
    assert_false(ev.api_gateway);
    fn_event_release(&ev);

    const char *img = "{\"image\":\"aGVsbG8=\"}";
    assert_int_equal(fn_event_decode(img, strlen(img), &ev, &err), 0);
    assert_int_equal(ev.kind, FN_EVENT_IMAGES);
    assert_int_equal(ev.n_images, 1);
    assert_memory_equal(ev.images[0], "hello", 5);
    fn_event_release(&ev);

    const char *imgs = "{\"images\":[\"aGVsbG8=\",\"d29ybGQ=\"]}";
    assert_int_equal(fn_event_decode(imgs, strlen(imgs), &ev, &err), 0);
    assert_int_equal(ev.n_images, 2);
    assert_memory_equal(ev.images[1], "world", 5);
    fn_event_release(&ev);

    /* API Gateway: base64 body with raw bytes, plain JSON body */
    const char *gw = "{\"httpMethod\":\"POST\",\"body\":\"aGVsbG8=\",\"isBase64Encoded\":true}";
    assert_int_equal(fn_event_decode(gw, strlen(gw), &ev, &err), 0);
    assert_true(ev.api_gateway);
    assert_int_equal(ev.kind, FN_EVENT_IMAGES);
    assert_int_equal(ev.image_lens[0], 5);
    fn_event_release(&ev);
    const char *gw2 = "{\"body\":\"{\\\"image\\\":\\\"d29ybGQ=\\\"}\",\"isBase64Encoded\":false}";
    assert_int_equal(fn_event_decode(gw2, strlen(gw2), &ev, &err), 0);
    assert_true(ev.api_gateway);
    assert_memory_equal(ev.images[0], "world", 5);
    fn_event_release(&ev);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{\"image\":", "event is not valid JSON"},
        {"[]", "event must be a JSON object"},
        {"{\"x\":1}", "event has none of 'inputs'"},
        {"{\"image\":5}", "image 0 must be a base64 string"},
        {"{\"image\":\"a$\"}", "image 0: invalid base64"},
        {"{\"images\":[]}", "'images' must be a non-empty array"},
        {"{\"images\":[\"aGVsbG8=\",3]}", "image 1 must be a base64 string"},
        {"{\"body\":5}", "'body' must be a string"},
        {"{\"body\":\"{oops\"}", "API Gateway event body: invalid JSON at byte 1"},
        {"{\"body\":\"%%%\",\"isBase64Encoded\":true}", "API Gateway event body: invalid base64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fn_event_decode(bad[i].body, strlen(bad[i].body), &ev, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, bad[i].msg);
        fn_event_release(&ev);
    }
}

/* ---- images -----------------------------------------------------------------------------------
 */
static void test_image_decode(void **state)
{
    size_t n;
    void *png = png_of(5, 4, &n);
    fn_image img;
    fm_err err = {0};
    assert_int_equal(fn_image_decode(png, n, 3, &img, &err), 0);
    assert_int_equal(img.width, 5);
    assert_int_equal(img.height, 4);
    assert_int_equal(img.pixels[(2 * 5 + 3) * 3 + 0], 30); /* r at x=3 */
    assert_int_equal(img.pixels[(2 * 5 + 3) * 3 + 1], 40); /* g at y=2 */
    fn_image_release(&img);
    assert_int_equal(fn_image_decode(png, n, 1, &img, &err), 0);
    assert_int_equal(img.channels, 1);
    fn_image_release(&img);
    /* truncated PNG: a clear error, no crash */
    assert_int_not_equal(fn_image_decode(png, n / 2, 3, &img, &err), 0);
    assert_non_null(strstr(err.msg, "cannot decode PNG image"));
    free(png);

    void *jpg = jpeg_of(16, 8, &n);
    assert_int_equal(fn_image_decode(jpg, n, 3, &img, &err), 0);
    assert_int_equal(img.width, 16);
    assert_int_equal(img.height, 8);
    assert_true(abs(img.pixels[(4 * 16 + 8) * 3 + 2] - 100) <= 3); /* lossy, but close */
    fn_image_release(&img);
    assert_int_not_equal(fn_image_decode(jpg, 40, 3, &img, &err), 0);
    assert_non_null(strstr(err.msg, "cannot decode JPEG image"));
    free(jpg);

    assert_int_not_equal(fn_image_decode("GIF89a", 6, 3, &img, &err), 0);
    assert_non_null(strstr(err.msg, "not a PNG or JPEG file"));
    assert_int_not_equal(fn_image_decode("", 0, 3, &img, &err), 0);
}

static void test_image_tensor(void **state)
{
    uint8_t px[2 * 2 * 3] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
    fn_image img = {.width = 2, .height = 2, .channels = 3, .pixels = px};
    fn_preprocess pp = {.channels = 3,
                        .scale = 1.0,
                        .mean = {0, 10, 20},
                        .std = {1, 2, 4},
                        .layout = FN_LAYOUT_NCHW};
    float out[12];
    fn_image_to_tensor(&img, &pp, 2, 2, out); /* same size: identity resampling */
    float want_nchw[12] = {0, 30, 60, 90, 0, 15, 30, 45, 0, 7.5f, 15, 22.5f};
    for (int i = 0; i < 12; i++)
        assert_float_equal(out[i], want_nchw[i], 1e-5);
    pp.layout = FN_LAYOUT_NHWC;
    fn_image_to_tensor(&img, &pp, 2, 2, out);
    assert_float_equal(out[0], 0, 1e-5);
    assert_float_equal(out[1], 0, 1e-5);
    assert_float_equal(out[3], 30, 1e-5);
    assert_float_equal(out[4], 15, 1e-5);
    /* downscale to 1x1: the bilinear centre is the mean of the four pixels */
    pp.layout = FN_LAYOUT_NCHW;
    fn_image_to_tensor(&img, &pp, 1, 1, out);
    assert_float_equal(out[0], 45, 1e-4);
    /* upscale keeps values within the source range */
    float big[3 * 4 * 4];
    fn_image_to_tensor(&img, &pp, 4, 4, big);
    for (int i = 0; i < 16; i++)
        assert_true(big[i] >= 0 && big[i] <= 90);
}

/* ---- top-k --------------------------------------------------------------------------------------
 */
static void test_topk(void **state)
{
    float s[2][4] = {{0.1f, 3.0f, 2.0f, -1.0f}, {5.0f, 1.0f, 1.0f, 6.0f}};
    infer_tensor t = {.name = "logits",
                      .dtype = INFER_DTYPE_FP32,
                      .ndim = 2,
                      .dims = {2, 4},
                      .data = s,
                      .bytes = sizeof s};
    char *labels[] = {"cat", "dog", "fox", "owl"};
    fn_buf b = {0};
    fm_err err = {0};
    assert_int_equal(fn_topk_encode(&t, 2, false, labels, 4, &b, &err), 0);
    assert_string_equal(b.p,
                        "{\"predictions\":[[{\"class\":1,\"score\":3,\"label\":\"dog\"},"
                        "{\"class\":2,\"score\":2,\"label\":\"fox\"}],[{\"class\":3,\"score\":6,"
                        "\"label\":\"owl\"},{\"class\":0,\"score\":5,\"label\":\"cat\"}]]}");
    fn_buf_release(&b);
    assert_int_equal(fn_topk_encode(&t, 1, true, NULL, 0, &b, &err), 0);
    double p = exp(3.0) / (exp(0.1) + exp(3.0) + exp(2.0) + exp(-1.0));
    char want[128];
    snprintf(want, sizeof want, "\"score\":%.6g}", p);
    assert_non_null(strstr(b.p, want));
    fn_buf_release(&b);
    /* k larger than the classes is clamped */
    assert_int_equal(fn_topk_encode(&t, 10, false, NULL, 0, &b, &err), 0);
    fn_buf_release(&b);
    t.ndim = 0;
    assert_int_not_equal(fn_topk_encode(&t, 1, false, NULL, 0, &b, &err), 0);
    assert_non_null(strstr(err.msg, "output 'logits' cannot give top-k classes"));
    fn_buf_release(&b);
}

/* ---- spec -------------------------------------------------------------------------------------
 */
static void test_spec(void **state)
{
    const char *y = "name: mnv2\nmodel: m.onnx\nthreads: 2\nmemory: 2048\nprecision: BF16\n"
                    "preprocess:\n  size: [224, 200]\n  mean: [0.485, 0.456, 0.406]\n"
                    "  std: 0.5\n  layout: NHWC\n  scale: 0.5\n"
                    "postprocess:\n  topk: 5\n  softmax: true\n  labels: l.txt\n";
    fn_spec s;
    fn_spec_init(&s);
    fm_err err = {0};
    assert_int_equal(fn_spec_load_buf(y, strlen(y), "f.yaml", "/srv/fn", &s, &err), 0);
    assert_string_equal(s.name, "mnv2");
    assert_string_equal(s.model, "/srv/fn/m.onnx");
    assert_int_equal(s.threads, 2);
    assert_int_equal(s.precision, FN_PRECISION_BF16);
    assert_int_equal(s.pre.height, 224);
    assert_int_equal(s.pre.width, 200);
    assert_float_equal(s.pre.mean[2], 0.406, 1e-6);
    assert_float_equal(s.pre.std[1], 0.5, 1e-6);
    assert_int_equal(s.pre.layout, FN_LAYOUT_NHWC);
    assert_float_equal(s.pre.scale, 0.5, 1e-9);
    assert_int_equal(s.post.topk, 5);
    assert_true(s.post.softmax);
    assert_string_equal(s.post.labels, "/srv/fn/l.txt");

    static const struct {
        const char *yaml, *msg;
    } bad[] = {
        {"preprocess:\n  sise: 3\n", "f.yaml:2:3: unknown key 'sise'"},
        {"preprocess:\n  layout: CHW\n", "'layout' must be NCHW or NHWC"},
        {"preprocess:\n  mean: [1, 2]\n", "'mean' must be a number or a list of 3"},
        {"preprocess:\n  std: 0\n", "'std' must not be 0"},
        {"preprocess:\n  channels: 2\n", "'channels' must be 1"},
        {"preprocess:\n  size: [0.5, 3]\n", "'size' must be whole numbers"},
        {"postprocess:\n  topk: 0\n", "'topk' is 0, out of range"},
        {"threads: lots\n", "'threads' must be an integer"},
        {"precision: fp16\n", "'precision' must be fp32, bf16 or int8, not 'fp16'"},
        {"- a\n", "a function spec must be a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fn_spec_init(&s);
        int rc = fn_spec_load_buf(bad[i].yaml, strlen(bad[i].yaml), "f.yaml", ".", &s, &err);
        if (rc == 0 || !strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, bad[i].msg);
    }
}

/* int8 labels a quantized file: a float model is refused by name, a QDQ/QLinear one loads. */
static void test_precision_int8(void **state)
{
    (void)state;
    const char *src = getenv("FM_SOURCE_DIR") ? getenv("FM_SOURCE_DIR") : ".";
    char fp[4096], q[4096];
    snprintf(fp, sizeof fp, "%s/tests/fixtures/infer/conv_net.onnx", src);
    snprintf(q, sizeof q, "%s/tests/fixtures/infer/q_ms_ops.onnx", src);
    fn_handler *h = NULL;
    fm_err err = {0};
    assert_int_equal(fn_handler_onnx_new(fp, 1, 1, FN_PRECISION_INT8, &h, &err), FM_ESCHEMA);
    assert_null(h);
    assert_non_null(strstr(err.msg, "has no quantization nodes"));
    assert_non_null(strstr(err.msg, "conv_net.onnx"));
    assert_int_equal(fn_handler_onnx_new(fp, 1, 1, FN_PRECISION_BF16, &h, &err), 0);
    fn_handler_free(h);
    h = NULL;
    if (fn_handler_onnx_new(q, 1, 1, FN_PRECISION_INT8, &h, &err))
        fail_msg("%s", err.msg);
    fn_handler_free(h);
    fn_precision p;
    assert_int_equal(fn_precision_parse("INT8", &p), 0);
    assert_int_equal(p, FN_PRECISION_INT8);
    assert_string_equal(fn_precision_name(p), "int8");
    assert_int_equal(fn_precision_parse("fp16", &p), FM_EINVAL);
}

/* ---- the host, end to end with the identity handler -------------------------------------------
 */
static fn_host *host_with(const char *model, int topk, int size)
{
    fn_spec s;
    fn_spec_init(&s);
    snprintf(s.model, sizeof s.model, "%s", model);
    s.post.topk = topk;
    s.pre.height = s.pre.width = size;
    fn_host *h;
    fm_err err = {0};
    if (fn_host_new(&s, &h, &err))
        fail_msg("host: %s", err.msg);
    return h;
}

static void test_host_v2(void **state)
{
    fn_host *h = host_with("builtin:identity:FP32:-1x2", 0, 0);
    assert_string_equal(fn_host_model_name(h), "identity");
    fn_reply r;
    const char *ok = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,2],\"datatype\":\"FP32\","
                     "\"data\":[1,2,3,4]}]}";
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_V2, NULL, ok, strlen(ok), -1, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.p, "\"shape\":[2,2],\"data\":[1,2,3,4]"));
    fn_reply_release(&r);
    /* bad input: 400 with {"error"} naming the problem, then the host still serves */
    const char *bad = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\","
                      "\"data\":[1,2,3]}]}";
    assert_int_not_equal(fn_host_handle(h, FN_PAYLOAD_V2, NULL, bad, strlen(bad), -1, 0, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.error_type, "Function.InvalidInput");
    assert_string_equal(r.body.p,
                        "{\"error\":\"input 'input': expected shape [-1,2], got [1,3]\"}");
    fn_reply_release(&r);
    /* the same request as a Lambda event and through /invocations */
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_EVENT, NULL, ok, strlen(ok), -1, 0, &r), 0);
    assert_int_equal(r.status, 200);
    fn_reply_release(&r);
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_AUTO, "application/json; charset=utf-8", ok,
                                    strlen(ok), -1, 0, &r),
                     0);
    fn_reply_release(&r);
    assert_int_not_equal(fn_host_handle(h, FN_PAYLOAD_AUTO, "text/csv", "1,2", 3, -1, 0, &r), 0);
    assert_int_equal(r.status, 415);
    fn_reply_release(&r);
    /* an expired deadline */
    assert_int_not_equal(fn_host_handle(h, FN_PAYLOAD_EVENT, NULL, ok, strlen(ok), -1, 1000, &r),
                         0);
    assert_int_equal(r.status, 504);
    assert_string_equal(r.error_type, "Function.DeadlineExceeded");
    fn_reply_release(&r);
    /* API Gateway events answer with a proxy response carrying the status */
    const char *gw = "{\"body\":\"{}\"}";
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_EVENT, NULL, gw, strlen(gw), -1, 0, &r),
                     FM_EPARSE);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.p, "{\"statusCode\":400,"));
    assert_non_null(strstr(r.body.p, "\"body\":\"{\\\"error\\\":"));
    fn_reply_release(&r);
    fn_host_free(h);
}

static void test_host_images(void **state)
{
    size_t n;
    void *png = png_of(4, 4, &n);
    fn_host *h = host_with("builtin:identity:FP32:-1x3x4x4", 2, 0);
    fn_reply r;
    /* raw image bytes: identity "scores" are the normalised pixels; the top is b=100/255 */
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_AUTO, "image/png", png, n, -1, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.p, "{\"predictions\":[[{\"class\":32,\"score\":0.392157}"));
    fn_reply_release(&r);
    /* base64 image event, batch of two */
    fn_buf ev = {0};
    char *b64 = malloc((n + 2) / 3 * 4 + 1);
    assert_non_null(b64);
    fm_base64_encode(png, n, b64);
    fn_buf_puts(&ev, "{\"images\":[\"");
    fn_buf_puts(&ev, b64);
    fn_buf_puts(&ev, "\",\"");
    fn_buf_puts(&ev, b64);
    fn_buf_puts(&ev, "\"]}");
    free(b64);
    assert_int_equal(fn_host_handle(h, FN_PAYLOAD_EVENT, NULL, ev.p, ev.len, -1, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.p, "}],[{\"class\":32,")); /* two lists, one per image */
    fn_reply_release(&r);
    fn_buf_release(&ev);
    /* an undecodable image */
    assert_int_not_equal(
        fn_host_handle(h, FN_PAYLOAD_AUTO, "image/jpeg", "\xff\xd8\xff\x00", 4, -1, 0, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "cannot decode JPEG image"));
    fn_reply_release(&r);
    fn_host_free(h);
    /* a model whose input cannot take images */
    h = host_with("builtin:identity:INT64:-1x8", 0, 0);
    assert_int_not_equal(fn_host_handle(h, FN_PAYLOAD_IMAGE, NULL, png, n, -1, 0, &r), 0);
    assert_non_null(strstr(r.body.p, "model input 'input' (INT64 [-1,8]) cannot take images"));
    fn_reply_release(&r);
    fn_host_free(h);
    /* a variable image size without preprocess.size */
    h = host_with("builtin:identity:FP32:-1x3x-1x-1", 0, 0);
    assert_int_not_equal(fn_host_handle(h, FN_PAYLOAD_IMAGE, NULL, png, n, -1, 0, &r), 0);
    assert_non_null(strstr(r.body.p, "set preprocess.size"));
    fn_reply_release(&r);
    fn_host_free(h);
    free(png);
}

static void test_host_init_errors(void **state)
{
    fn_spec s;
    fn_spec_init(&s);
    fn_host *h;
    fm_err err = {0};
    snprintf(s.model, sizeof s.model, "/nonexistent/m.onnx");
    assert_int_not_equal(fn_host_new(&s, &h, &err), 0);
    assert_non_null(strstr(err.msg, "m.onnx"));
    snprintf(s.model, sizeof s.model, "file:///nonexistent/m.onnx");
    assert_int_not_equal(fn_host_new(&s, &h, &err), 0);
    assert_non_null(strstr(err.msg, "cannot download model 'file:///nonexistent/m.onnx'"));
    snprintf(s.model, sizeof s.model, "builtin:identity");
    snprintf(s.post.output, sizeof s.post.output, "probs");
    assert_int_not_equal(fn_host_new(&s, &h, &err), 0);
    assert_non_null(strstr(err.msg, "postprocess output 'probs' is not an output"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),         cmocka_unit_test(test_events),
        cmocka_unit_test(test_image_decode),   cmocka_unit_test(test_image_tensor),
        cmocka_unit_test(test_topk),           cmocka_unit_test(test_spec),
        cmocka_unit_test(test_precision_int8), cmocka_unit_test(test_host_v2),
        cmocka_unit_test(test_host_images),    cmocka_unit_test(test_host_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
