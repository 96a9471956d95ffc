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

#include <cmocka.h>

#include "infer/infer.h"
#include "infer/infer_int.h"

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
    assert_true(quant_is_ms_op("QLinearAdd"));
    assert_false(quant_is_ms_op("QLinearConv")); /* a default-domain operator */
    assert_false(quant_is_ms_op("FusedGemm"));
}

int main(void)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(fixture_dir, sizeof fixture_dir, "%s/tests/fixtures/infer", src ? src : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_qparams),
        cmocka_unit_test(test_ms_ops),
        cmocka_unit_test(test_ms_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
