/*
 * Unit tests for src/infer's quantized operators: scales and zero points checked at load (named
 * errors), the com.microsoft QLinear operators against outputs numpy computed
 * (tools/gen_quant_fixtures.py), and fused QDQ kernels against the plain reference kernels.
 * The ONNX backend node tests for the standard quantized operators are in test_infer_node.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "infer/infer.h"
#include "infer/ops_int.h"

static char fixture_dir[1024];

static const char *fx(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixture_dir, name);
    return buf[k];
}

/* every bad scale, zero point or per-channel length is a load error naming the node */
static void test_bad_qparams(void **state)
{
    (void)state;
    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"q_bad_scale0.onnx",
         "node 'q1' (QuantizeLinear): scale 0 at index 0 of input 1 must be positive and finite"},
        {"q_bad_scale_nan.onnx", "node 'q1' (QuantizeLinear): scale nan"},
        {"q_bad_scale_inf.onnx", "node 'q1' (QuantizeLinear): scale inf"},
        {"q_bad_scale_neg.onnx", "scale -0.5 at index 0"},
        {"q_bad_zp_type.onnx",
         "node 'dq_type' (DequantizeLinear): input 2 (zero point) is INT8, its data 'w' is UINT8"},
        {"q_bad_zp_range.onnx", "node 'dq_i32' (DequantizeLinear): zero point 5 out of range"},
        {"q_bad_axis_len.onnx", "node 'dq_axis' (DequantizeLinear): input 1 (scale) has 3 values, "
                                "the channel axis of 'w' has 4"},
        {"q_bad_conv_chan.onnx", "node 'qconv' (QLinearConv): input 4 (scale) has 5 values"},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(cases); i++) {
        fm_err err = {0};
        infer_model *m = (infer_model *)1;
        int rc = infer_model_open(fx(cases[i].file), &m, &err);
        if (rc != FM_EINVAL || !strstr(err.msg, cases[i].msg))
            fail_msg("%s: rc %d, message '%s'", cases[i].file, rc, err.msg);
        assert_null(m);
    }
}

/* QLinearAdd -> QLinearSigmoid -> QLinearGlobalAveragePool -> DequantizeLinear, exactly as numpy */
static void test_ms_ops(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx("q_ms_ops.onnx"), &m, &err), 0);
    infer_tensor in, want, out = {0};
    assert_int_equal(infer_npy_load(fx("q_ms_ops_in.npy"), &in, &err), 0);
    assert_int_equal(infer_npy_load(fx("q_ms_ops_out.npy"), &want, &err), 0);
    infer_session *s;
    assert_int_equal(infer_session_new(m, NULL, &s, &err), 0);
    assert_int_equal(infer_session_run(s, &in, 1, &out, 1, &err), 0);
    assert_int_equal(out.bytes, want.bytes);
    const float *g = out.data, *w = want.data;
    for (size_t i = 0; i < want.bytes / 4; i++)
        assert_float_equal(g[i], w[i], 1e-6);
    infer_session_free(s);
    infer_model_free(m);
    free(in.data);
    free(want.data);
}

/* a com.microsoft operator outside the list, and a QLinear op in the default domain, are refused */
static void test_ms_domain(void **state)
{
    (void)state;
    assert_true(infer__quant_is_ms_op("QLinearAdd"));
    assert_false(infer__quant_is_ms_op("QLinearConv")); /* a default-domain operator */
    assert_false(infer__quant_is_ms_op("FusedGemm"));
}

/* quantizes fixture src into a temporary file (static: calibrated on n seeded samples) */
static void quantize_fixture(const char *src, infer_quant_mode mode, char *out, size_t cap)
{
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx(src), &m, &err), 0);
    snprintf(out, cap, "/tmp/fm_test_quant_%d_%s", (int)getpid(), src);
    infer_quant_opts o;
    infer_quant_opts_init(&o);
    o.mode = mode;
    infer_tensor cal[8];
    fm_rng rng;
    fm_rng_seed(&rng, 5);
    for (int i = 0; i < 8; i++) {
        infer_io_info info;
        infer_model_input(m, 0, &info);
        assert_int_equal(infer_sample_input(&info, 1, 50, &rng, &cal[i], &err), 0);
    }
    o.calib = cal;
    o.n_calib = 8;
    infer_quant_stats st;
    if (infer_quantize(m, &o, out, &st, &err))
        fail_msg("quantize: %s", err.msg);
    assert_true(st.nodes > 0 && st.weights > 0);
    for (int i = 0; i < 8; i++)
        free(cal[i].data);
    infer_model_free(m);
}

static int count_steps(const infer_session *s, const char *op, int *on_dnnl)
{
    int n = 0;
    *on_dnnl = 0;
    for (size_t j = 0; j < s->n_steps; j++)
        if (!strcmp(infer__ops[s->steps[j].op].name, op)) {
            n++;
            *on_dnnl += s->steps[j].dnnl;
        }
    return n;
}

/* Why: the fast paths (QDQ groups fused into oneDNN int8 convolutions, MatMulInteger on oneDNN)
 * against the plain reference kernels on the same quantized file: outputs agree up to the
 * requantization rounding of a few values. */
static void check_fast_vs_reference(const char *path, const char *fast_op, int64_t vocab)
{
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(path, &m, &err), 0);
    infer_session *fast, *ref;
    assert_int_equal(infer_session_new(m, NULL, &fast, &err), 0);
    infer__reference_mode = true;
    assert_int_equal(infer_session_new(m, NULL, &ref, &err), 0);
    infer__reference_mode = false;
    int on_dnnl, n = count_steps(fast, fast_op, &on_dnnl);
    assert_true(n > 0);
    assert_int_equal(on_dnnl, n);
    int nr = count_steps(ref, fast_op, &on_dnnl);
    assert_int_equal(on_dnnl, 0);
    if (!strcmp(fast_op, "QLinearConv"))
        assert_int_equal(nr, 0); /* the reference runs the QDQ graph */
    fm_rng rng;
    fm_rng_seed(&rng, 9);
    infer_accuracy acc;
    infer_accuracy_init(&acc);
    for (int k = 0; k < 10; k++) {
        infer_io_info info;
        infer_model_input(m, 0, &info);
        infer_tensor in, a = {0}, b = {0};
        assert_int_equal(infer_sample_input(&info, 2, vocab, &rng, &in, &err), 0);
        if (infer_session_run(fast, &in, 1, &a, 1, &err))
            fail_msg("fast: %s", err.msg);
        if (infer_session_run(ref, &in, 1, &b, 1, &err))
            fail_msg("reference: %s", err.msg);
        assert_int_equal(a.bytes, b.bytes);
        infer_accuracy_add(&acc, a.data, b.data, (int64_t)(a.bytes / 4), a.dims[a.ndim - 1]);
        free(in.data);
    }
    infer_accuracy_finish(&acc);
    if (acc.cos_min < 0.999 || acc.max_rel_err > 0.05)
        fail_msg("%s: cosine min %g, max relative error %g", path, acc.cos_min, acc.max_rel_err);
    infer_session_free(fast);
    infer_session_free(ref);
    infer_model_free(m);
}

static void test_qdq_conv_fused(void **state)
{
    (void)state;
    char path[512];
    quantize_fixture("conv_net.onnx", INFER_QUANT_STATIC, path, sizeof path);
    check_fast_vs_reference(path, "QLinearConv", 0);
    unlink(path);
}

/* Why: the residual joins DequantizeLinear x2 -> Add [-> Relu] -> QuantizeLinear are planned as
 * QLinearAdd steps (vectorized, a fused Relu) and agree with the QDQ graph the reference runs to
 * one step of the output's scale (requantizing by the inverse scale, as ORT does, may round a
 * value the other way). */
static void test_qdq_residual_fused(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    infer_session *fast, *ref;
    int on_dnnl;
    assert_int_equal(infer_model_open(fx("q_residual.onnx"), &m, &err), 0);
    assert_int_equal(infer_session_new(m, NULL, &fast, &err), 0);
    infer__reference_mode = true;
    assert_int_equal(infer_session_new(m, NULL, &ref, &err), 0);
    infer__reference_mode = false;
    assert_int_equal(count_steps(fast, "QLinearAdd", &on_dnnl), 2);
    assert_int_equal(count_steps(fast, "Add", &on_dnnl), 0);
    assert_int_equal(count_steps(ref, "QLinearAdd", &on_dnnl), 0);
    assert_int_equal(count_steps(ref, "Add", &on_dnnl), 2);
    fm_rng rng;
    fm_rng_seed(&rng, 4);
    int64_t differ = 0, total = 0;
    for (int k = 0; k < 5; k++) {
        infer_tensor in[2], a = {0}, b = {0};
        for (int i = 0; i < 2; i++) {
            infer_io_info info;
            infer_model_input(m, (size_t)i, &info);
            assert_int_equal(infer_sample_input(&info, 2, 0, &rng, &in[i], &err), 0);
            float *v = in[i].data; /* around the zero points, both signs: the Relu matters */
            for (int64_t j = 0; j < (int64_t)(in[i].bytes / 4); j++)
                v[j] = (float)fm_rng_normal(&rng, 0, 3);
        }
        if (infer_session_run(fast, in, 2, &a, 1, &err))
            fail_msg("fast: %s", err.msg);
        if (infer_session_run(ref, in, 2, &b, 1, &err))
            fail_msg("reference: %s", err.msg);
        assert_int_equal(a.bytes, b.bytes);
        const float *pa = a.data, *pb = b.data;
        for (int64_t j = 0; j < (int64_t)(a.bytes / 4); j++, total++) {
            double d = fabs((double)pa[j] - pb[j]);
            if (d > 0.07 * 1.001) /* one step of the last join's scale */
                fail_msg("output %lld: fused %g, reference %g", (long long)j, pa[j], pb[j]);
            differ += d > 0;
        }
        for (int i = 0; i < 2; i++)
            free(in[i].data);
    }
    if (differ * 10 > total) /* ties rounded the other way now and then, not another computation */
        fail_msg("%lld of %lld outputs differ", (long long)differ, (long long)total);
    infer_session_free(fast);
    infer_session_free(ref);
    infer_model_free(m);
}

static void test_dynamic_matmul(void **state)
{
    (void)state;
    char path[512];
    quantize_fixture("transformer.onnx", INFER_QUANT_DYNAMIC, path, sizeof path);
    check_fast_vs_reference(path, "MatMulInteger", 50);
    unlink(path);
}

/* the accuracy figures on known vectors */
static void test_accuracy_figures(void **state)
{
    (void)state;
    infer_accuracy a;
    infer_accuracy_init(&a);
    const float want[6] = {1, 5, 2, 0, 0, 9}, same[6] = {1, 5, 2, 0, 0, 9},
                off[6] = {5, 1, 2, 9, 0, 0};
    infer_accuracy_add(&a, same, want, 6, 3);
    infer_accuracy_add(&a, off, want, 6, 3);
    infer_accuracy_finish(&a);
    assert_int_equal(a.samples, 2);
    assert_float_equal(a.top1, 0.5, 1e-9);           /* sample 2: both rows differ */
    assert_float_equal(a.cos_min, 14.0 / 111, 1e-6); /* dot 14, both norms sqrt(111) */
    assert_float_equal(a.cos_mean, (1 + 14.0 / 111) / 2, 1e-6);
    assert_float_equal(a.max_rel_err, 1.0, 1e-9); /* |9 - 0| / 9 */
    assert_float_equal(a.top5, 1.0, 1e-9);        /* 3 classes: always in the top 5 */
}

int main(void)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(fixture_dir, sizeof fixture_dir, "%s/tests/fixtures/infer", src ? src : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_qparams),        cmocka_unit_test(test_ms_ops),
        cmocka_unit_test(test_ms_domain),          cmocka_unit_test(test_qdq_conv_fused),
        cmocka_unit_test(test_qdq_residual_fused), cmocka_unit_test(test_dynamic_matmul),
        cmocka_unit_test(test_accuracy_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
