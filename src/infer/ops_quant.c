/*
 * ops_quant.c — quantized operators: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv, and the com.microsoft QLinearAdd,
 * QLinearMul, QLinearGlobalAveragePool and QLinearSigmoid that ONNX Runtime's quantizer emits.
 * Every kernel here is the plain scalar reference (int32 accumulation, float requantization with
 * round-half-to-even, as onnx's reference implementation does); the fast paths (QDQ groups fused
 * into oneDNN int8 primitives) are in qdq.c and are tested against these. Scales and zero points
 * that are initializers are checked when the model loads (infer__quant_check_node), so a bad scale
 * or zero point is a load error that names the node.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ops_int.h"

/* ---- quantization parameters ----------------------------------------------------------------- */

static bool is_q8(infer_dtype t)
{
    return t == INFER_DTYPE_UINT8 || t == INFER_DTYPE_INT8;
}

static void q_range(infer_dtype t, int32_t *lo, int32_t *hi)
{
    *lo = t == INFER_DTYPE_INT8 ? -128 : 0;
    *hi = t == INFER_DTYPE_INT8 ? 127 : 255;
}

static int32_t q_sat(float v, int32_t lo, int32_t hi)
{
    if (!(v >= (float)lo))
        return isnan(v) ? 0 : lo;
    if (v > (float)hi)
        return hi;
    return (int32_t)v;
}

/* element i of a u8/s8/int32 tensor */
static int32_t q_at(const rt_val *v, int64_t i)
{
    switch (v->dtype) {
    case INFER_DTYPE_UINT8: return ((const uint8_t *)v->data)[i];
    case INFER_DTYPE_INT8: return ((const int8_t *)v->data)[i];
    case INFER_DTYPE_INT32: return ((const int32_t *)v->data)[i];
    default: return 0;
    }
}

static void q_put(rt_val *v, int64_t i, int32_t x)
{
    if (v->dtype == INFER_DTYPE_INT8)
        ((int8_t *)v->data)[i] = (int8_t)x;
    else
        ((uint8_t *)v->data)[i] = (uint8_t)x;
}

/* the zero point (0 when omitted) and scale of channel c (per-tensor when numel is 1) */
static int32_t zp_at(const rt_val *zp, int64_t c)
{
    if (!zp || !zp->numel)
        return 0;
    return q_at(zp, zp->numel == 1 ? 0 : c);
}

static float sc_at(const rt_val *sc, int64_t c)
{
    return ((const float *)sc->data)[sc->numel == 1 ? 0 : c];
}

static const rt_val *opt_in(const step *st, int i)
{
    return i < st->n_in ? st->in[i] : NULL;
}

/* Why: one check of a scale/zero-point pair at run time (the load check covers initializers):
 * FP32 scale, 8-bit zero point of the data's type, lengths 1 or n (n < 0: scalar only). */
static int check_qparams(const step *st, int si, int zi, infer_dtype data_t, int64_t n, fm_err *err)
{
    const rt_val *s = opt_in(st, si), *z = opt_in(st, zi);
    if (!s)
        return infer__step_err(st, err, FM_EINVAL, "input %d (scale) missing", si);
    if (s->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "input %d (scale) must be FP32", si);
    if (s->ndim > 1 || (s->numel != 1 && s->numel != n))
        return infer__step_err(st, err, FM_ESHAPE, "input %d (scale) has %lld values, want 1%s", si,
                               (long long)s->numel, n > 1 ? " or one per channel" : "");
    if (z) {
        if (data_t != INFER_DTYPE_UNDEFINED && z->dtype != data_t)
            return infer__step_err(st, err, FM_ETYPE, "input %d (zero point) is %s, data is %s", zi,
                                   infer_dtype_name(z->dtype), infer_dtype_name(data_t));
        if (z->numel != s->numel)
            return infer__step_err(st, err, FM_ESHAPE,
                                   "input %d (zero point) has %lld values, scale %lld", zi,
                                   (long long)z->numel, (long long)s->numel);
    }
    return 0;
}

/* [outer, channels, inner] split of a tensor around axis */
static void axis_split(const rt_val *x, int axis, int64_t *outer, int64_t *ch, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    *ch = x->ndim ? x->dims[axis] : 1;
    for (int i = 0; i < axis; i++)
        *outer *= x->dims[i];
    for (int i = axis + 1; i < x->ndim; i++)
        *inner *= x->dims[i];
}

static int q_axis(const step *st, const rt_val *x, const rt_val *sc, int *axis, fm_err *err)
{
    *axis = 0;
    if (sc->numel == 1 && sc->ndim <= 1)
        return 0;
    return infer__norm_axis(st, infer__attr_i(st->node, "axis", 1), x->ndim, axis, err);
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------------------------ */

int infer__shape_quantize(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *sc = st->in[1], *z = opt_in(st, 2);
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "input must be FP32, not %s",
                               infer_dtype_name(x->dtype));
    infer_dtype t = z ? z->dtype : INFER_DTYPE_UINT8;
    if (!is_q8(t))
        return infer__step_err(st, err, FM_EUNSUPPORTED, "output type %s (UINT8 or INT8 only)",
                               infer_dtype_name(t));
    int axis = 0;
    if (sc->numel != 1 || sc->ndim == 1) {
        int rc = q_axis(st, x, sc, &axis, err);
        if (rc)
            return rc;
    }
    int rc = check_qparams(st, 1, 2, t, x->ndim ? x->dims[axis] : 1, err);
    if (rc)
        return rc;
    return infer__set_out(st, 0, t, x->ndim, x->dims, err);
}

/* Why: the per-tensor loops every QDQ model runs on its activations, written so they vectorize
 * without SSE4.1: x / s is clamped to the range that stays in the type after adding the zero
 * point (integer bounds, so clamping and rounding commute), rounded half to even with the
 * 1.5 * 2^23 trick (exact below 2^22), and only then offset (rounding first, as ONNX does).
 * Cloned for AVX-512 and AVX2 (FM_CLONES: the build targets baseline x86-64; the CPU picks). */
#define FM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
FM_CLONES static void quant_fast(const float *x, int64_t n, float s, float zf, float lo, float hi,
                                 void *y, bool s8)
{
    const float magic = 12582912.0f;
    lo -= zf;
    hi -= zf;
    if (s8) {
        int8_t *q = y;
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] / s;
            v = v == v ? v : -zf; /* NaN -> 0, as the scalar kernels */
            v = v < lo ? lo : v > hi ? hi : v;
            q[i] = (int8_t)(int32_t)(((v + magic) - magic) + zf);
        }
    } else {
        uint8_t *q = y;
        for (int64_t i = 0; i < n; i++) {
            float v = x[i] / s;
            v = v == v ? v : -zf; /* NaN -> 0, as the scalar kernels */
            v = v < lo ? lo : v > hi ? hi : v;
            q[i] = (uint8_t)(int32_t)(((v + magic) - magic) + zf);
        }
    }
}

FM_CLONES static void dequant_fast(const rt_val *x, float s, int32_t zp, float *y)
{
    float zf = (float)zp;
    if (x->dtype == INFER_DTYPE_UINT8) {
        const uint8_t *q = x->data;
        for (int64_t i = 0; i < x->numel; i++)
            y[i] = ((float)q[i] - zf) * s;
    } else {
        const int8_t *q = x->data;
        for (int64_t i = 0; i < x->numel; i++)
            y[i] = ((float)q[i] - zf) * s;
    }
}

int infer__exec_quantize(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *sc = st->in[1], *z = opt_in(st, 2);
    rt_val *y = st->out[0];
    int axis;
    int rc = q_axis(st, x, sc, &axis, err);
    if (rc)
        return rc;
    int64_t outer, ch, inner;
    axis_split(x, axis, &outer, &ch, &inner);
    if (sc->numel == 1)
        ch = 1, inner = x->numel, outer = 1;
    int32_t lo, hi;
    q_range(y->dtype, &lo, &hi);
    const float *xp = x->data;
    if (sc->numel == 1) {
        quant_fast(xp, x->numel, sc_at(sc, 0), (float)zp_at(z, 0), (float)lo, (float)hi, y->data,
                   y->dtype == INFER_DTYPE_INT8);
        return 0;
    }
    for (int64_t o = 0, i = 0; o < outer; o++)
        for (int64_t c = 0; c < ch; c++) {
            float s = sc_at(sc, c);
            float zf = (float)zp_at(z, c);
            for (int64_t k = 0; k < inner; k++, i++)
                q_put(y, i, q_sat(nearbyintf(xp[i] / s) + zf, lo, hi));
        }
    return 0;
}

int infer__shape_dequantize(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *sc = st->in[1];
    if (!is_q8(x->dtype) && x->dtype != INFER_DTYPE_INT32)
        return infer__step_err(st, err, FM_ETYPE, "input must be UINT8, INT8 or INT32, not %s",
                               infer_dtype_name(x->dtype));
    int axis = 0;
    int rc = q_axis(st, x, sc, &axis, err);
    if (rc)
        return rc;
    rc = check_qparams(st, 1, 2, x->dtype, x->ndim ? x->dims[axis] : 1, err);
    if (rc)
        return rc;
    return infer__set_out(st, 0, INFER_DTYPE_FP32, x->ndim, x->dims, err);
}

int infer__exec_dequantize(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *sc = st->in[1], *z = opt_in(st, 2);
    int axis;
    int rc = q_axis(st, x, sc, &axis, err);
    if (rc)
        return rc;
    int64_t outer, ch, inner;
    axis_split(x, axis, &outer, &ch, &inner);
    if (sc->numel == 1)
        ch = 1, inner = x->numel, outer = 1;
    float *yp = st->out[0]->data;
    if (sc->numel == 1 && x->dtype != INFER_DTYPE_INT32) {
        dequant_fast(x, sc_at(sc, 0), zp_at(z, 0), yp);
        return 0;
    }
    for (int64_t o = 0, i = 0; o < outer; o++)
        for (int64_t c = 0; c < ch; c++) {
            float s = sc_at(sc, c);
            int32_t zp = zp_at(z, c);
            for (int64_t k = 0; k < inner; k++, i++)
                yp[i] = (float)(q_at(x, i) - zp) * s;
        }
    return 0;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------------- */

int infer__shape_dynquant(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "input must be FP32");
    int rc = infer__set_out(st, 0, INFER_DTYPE_UINT8, x->ndim, x->dims, err);
    if (!rc)
        rc = infer__set_out(st, 1, INFER_DTYPE_FP32, 0, NULL, err);
    if (!rc)
        rc = infer__set_out(st, 2, INFER_DTYPE_UINT8, 0, NULL, err);
    return rc;
}

/* Why: the ONNX definition: the range widened to include 0, 256 levels, zero point rounded.
 * The min/max pass runs on every activation of a dynamically quantized model: cloned too. */
FM_CLONES static void quant_dynamic_params(const float *x, int64_t n, float *scale, uint8_t *zp)
{
    float mn = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    *scale = (mx - mn) / 255.0f;
    *zp = *scale > 0 ? (uint8_t)q_sat(nearbyintf(-mn / *scale), 0, 255) : 0;
}

int infer__exec_dynquant(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    const float *xp = x->data;
    float s;
    uint8_t z;
    quant_dynamic_params(xp, x->numel, &s, &z);
    uint8_t *yp = st->out[0]->data;
    if (s > 0)
        quant_fast(xp, x->numel, s, (float)z, 0, 255, yp, false);
    else
        memset(yp, 0, (size_t)x->numel);
    if (st->out[1])
        memcpy(st->out[1]->data, &s, 4);
    if (st->out[2])
        *(uint8_t *)st->out[2]->data = z;
    return 0;
}

/* ---- integer matrix products ----------------------------------------------------------------- */

typedef struct qmm {
    int64_t m, k, n, batches;
    int nb;
    int64_t bdims[INFER_MAX_DIMS], sa[INFER_MAX_DIMS], sb[INFER_MAX_DIMS];
} qmm;

/* Why: numpy matmul rules for the integer products (A and B at input positions ia and ib). */
static int qmm_params(const step *st, int ia, int ib, qmm *p, int64_t *od, int *ond, fm_err *err)
{
    const rt_val *a = st->in[ia], *b = st->in[ib];
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return infer__step_err(st, err, FM_ETYPE, "operands must be UINT8 or INT8, not %s and %s",
                               infer_dtype_name(a->dtype), infer_dtype_name(b->dtype));
    if (a->ndim < 2 || b->ndim < 2)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "operands of rank < 2");
    p->m = a->dims[a->ndim - 2];
    p->k = a->dims[a->ndim - 1];
    p->n = b->dims[b->ndim - 1];
    if (b->dims[b->ndim - 2] != p->k)
        return infer__step_err(st, err, FM_ESHAPE, "inner dimensions differ (%lld vs %lld)",
                               (long long)p->k, (long long)b->dims[b->ndim - 2]);
    int rc = infer__broadcast_shape(st, a->dims, a->ndim - 2, b->dims, b->ndim - 2, p->bdims,
                                    &p->nb, err);
    if (rc)
        return rc;
    p->batches = 1;
    int64_t acc_a = p->m * p->k, acc_b = p->k * p->n;
    for (int i = p->nb - 1; i >= 0; i--) {
        int ja = i - (p->nb - (a->ndim - 2)), jb = i - (p->nb - (b->ndim - 2));
        int64_t da = ja >= 0 ? a->dims[ja] : 1, db = jb >= 0 ? b->dims[jb] : 1;
        p->sa[i] = da == 1 ? 0 : acc_a;
        p->sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
        p->batches *= p->bdims[i];
    }
    int m = 0;
    for (int i = 0; i < p->nb; i++)
        od[m++] = p->bdims[i];
    od[m++] = p->m;
    od[m++] = p->n;
    *ond = m;
    return 0;
}

/* zero point of row r of A (scalar or one per row) and column j of B (scalar or per column) */
static int check_mm_zp(const step *st, int zi, const rt_val *data, int64_t n, fm_err *err)
{
    const rt_val *z = opt_in(st, zi);
    if (!z)
        return 0;
    if (z->dtype != data->dtype)
        return infer__step_err(st, err, FM_ETYPE, "input %d (zero point) is %s, data is %s", zi,
                               infer_dtype_name(z->dtype), infer_dtype_name(data->dtype));
    if (z->numel != 1 && z->numel != n)
        return infer__step_err(st, err, FM_ESHAPE,
                               "input %d (zero point) has %lld values, want 1 or %lld", zi,
                               (long long)z->numel, (long long)n);
    return 0;
}

/* Why: one batch of int32 products: acc[i][j] = sum_l (a[i][l] - za[i]) (b[l][j] - zb[j]). */
static void qmm_acc(const qmm *p, const rt_val *a, int64_t oa, const rt_val *za, const rt_val *b,
                    int64_t ob, const rt_val *zb, int32_t *acc)
{
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            int32_t s = 0, zai = zp_at(za, i), zbj = zp_at(zb, j);
            for (int64_t l = 0; l < p->k; l++)
                s += (q_at(a, oa + i * p->k + l) - zai) * (q_at(b, ob + l * p->n + j) - zbj);
            acc[i * p->n + j] = s;
        }
}

static void qmm_offsets(const qmm *p, int64_t bi, int64_t *oa, int64_t *ob)
{
    int64_t rem = bi;
    *oa = *ob = 0;
    for (int i = p->nb - 1; i >= 0; i--) {
        int64_t ix = rem % p->bdims[i];
        rem /= p->bdims[i];
        *oa += ix * p->sa[i];
        *ob += ix * p->sb[i];
    }
}

int infer__shape_matmulint(step *st, fm_err *err)
{
    qmm p;
    int64_t d[INFER_MAX_DIMS + 2];
    int nd = 0;
    int rc = qmm_params(st, 0, 1, &p, d, &nd, err);
    if (!rc)
        rc = check_mm_zp(st, 2, st->in[0], p.m, err);
    if (!rc)
        rc = check_mm_zp(st, 3, st->in[1], p.n, err);
    if (rc)
        return rc;
    if (nd > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", nd);
    return infer__set_out(st, 0, INFER_DTYPE_INT32, nd, d, err);
}

int infer__exec_matmulint(step *st, fm_err *err)
{
    if (st->dnnl)
        return infer__qdnnl_exec(st, err);
    qmm p;
    int64_t d[INFER_MAX_DIMS + 2];
    int nd = 0;
    int rc = qmm_params(st, 0, 1, &p, d, &nd, err);
    if (rc)
        return rc;
    int32_t *y = st->out[0]->data;
    for (int64_t bi = 0; bi < p.batches; bi++) {
        int64_t oa, ob;
        qmm_offsets(&p, bi, &oa, &ob);
        qmm_acc(&p, st->in[0], oa, opt_in(st, 2), st->in[1], ob, opt_in(st, 3), y + bi * p.m * p.n);
    }
    return 0;
}

/* QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp */
int infer__shape_qlmatmul(step *st, fm_err *err)
{
    qmm p;
    int64_t d[INFER_MAX_DIMS + 2];
    int nd = 0;
    int rc = qmm_params(st, 0, 3, &p, d, &nd, err);
    if (!rc)
        rc = check_qparams(st, 1, 2, st->in[0]->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 4, 5, st->in[3]->dtype, p.n, err);
    if (!rc)
        rc = check_qparams(st, 6, 7, INFER_DTYPE_UNDEFINED, -1, err);
    if (rc)
        return rc;
    const rt_val *yz = opt_in(st, 7);
    infer_dtype t = yz ? yz->dtype : INFER_DTYPE_UINT8;
    if (!is_q8(t))
        return infer__step_err(st, err, FM_ETYPE, "output zero point must be UINT8 or INT8");
    if (nd > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", nd);
    st->scratch_bytes = (size_t)(p.m * p.n) * sizeof(int32_t);
    return infer__set_out(st, 0, t, nd, d, err);
}

/* Why: requantization as onnx's reference does it: the int32 product dequantized in float, then
 * divided by the output scale and rounded half to even. */
static int32_t requant(int32_t acc, float in_scale, float out_scale, int32_t zp, int32_t lo,
                       int32_t hi)
{
    return q_sat(nearbyintf((float)acc * in_scale / out_scale) + (float)zp, lo, hi);
}

int infer__exec_qlmatmul(step *st, fm_err *err)
{
    qmm p;
    int64_t d[INFER_MAX_DIMS + 2];
    int nd = 0;
    int rc = qmm_params(st, 0, 3, &p, d, &nd, err);
    if (rc)
        return rc;
    rt_val *y = st->out[0];
    int32_t lo, hi;
    q_range(y->dtype, &lo, &hi);
    float sa = sc_at(st->in[1], 0), sy = sc_at(st->in[6], 0);
    int32_t zy = zp_at(opt_in(st, 7), 0);
    int32_t *acc = st->scratch;
    for (int64_t bi = 0; bi < p.batches; bi++) {
        int64_t oa, ob;
        qmm_offsets(&p, bi, &oa, &ob);
        qmm_acc(&p, st->in[0], oa, opt_in(st, 2), st->in[3], ob, opt_in(st, 5), acc);
        for (int64_t i = 0; i < p.m * p.n; i++)
            q_put(y, bi * p.m * p.n + i,
                  requant(acc[i], sa * sc_at(st->in[4], i % p.n), sy, zy, lo, hi));
    }
    return 0;
}

/* ---- integer convolutions -------------------------------------------------------------------- */

typedef struct qconv {
    win w;
    int64_t n, c, m, g;
} qconv;

/* Why: Conv's geometry for ConvInteger (weights at input 1) and QLinearConv (weights at 3). */
static int qconv_params(const step *st, int wi, qconv *p, fm_err *err)
{
    const rt_val *x = st->in[0], *wt = st->in[wi];
    if (!is_q8(x->dtype) || !is_q8(wt->dtype))
        return infer__step_err(st, err, FM_ETYPE, "input and weight must be UINT8 or INT8");
    if (wt->ndim != x->ndim)
        return infer__step_err(st, err, FM_ESHAPE, "weight rank differs from input rank");
    int64_t ks[3], tmp[INFER_MAX_DIMS];
    int n = infer__attr_ints(st->node, "kernel_shape", tmp, INFER_MAX_DIMS);
    for (int i = 0; i < x->ndim - 2 && i < 3; i++) {
        ks[i] = wt->dims[2 + i];
        if (n >= 0 && (n != x->ndim - 2 || tmp[i] != ks[i]))
            return infer__step_err(st, err, FM_ESHAPE,
                                   "kernel_shape differs from the weight's shape");
    }
    int rc = infer__win_params(st, ks, false, &p->w, err);
    if (rc)
        return rc;
    p->n = x->dims[0];
    p->c = x->dims[1];
    p->m = wt->dims[0];
    p->g = infer__attr_i(st->node, "group", 1);
    if (p->g < 1 || p->c % p->g || p->m % p->g || wt->dims[1] != p->c / p->g)
        return infer__step_err(st, err, FM_ESHAPE,
                               "channels %lld, group %lld and weight shape do not match",
                               (long long)p->c, (long long)p->g);
    return 0;
}

/* Why: the reference integer convolution, one output channel at a time; padding reads the input
 * zero point (a real 0), as ONNX defines it. */
static void qconv_acc(const qconv *p, const rt_val *x, int32_t zx, const rt_val *w,
                      const rt_val *zw, int64_t b, int64_t m, int32_t *acc)
{
    const win *g = &p->w;
    int64_t cg = p->c / p->g, mg = p->m / p->g, grp = m / mg;
    int32_t zwm = zp_at(zw, m);
    int64_t ksz = g->k[0] * g->k[1] * g->k[2];
    int64_t isz = g->in[0] * g->in[1] * g->in[2];
    for (int64_t o0 = 0, oi = 0; o0 < g->out[0]; o0++)
        for (int64_t o1 = 0; o1 < g->out[1]; o1++)
            for (int64_t o2 = 0; o2 < g->out[2]; o2++, oi++) {
                int32_t s = 0;
                for (int64_t c = 0; c < cg; c++) {
                    int64_t xc = (b * p->c + grp * cg + c) * isz, wc = (m * cg + c) * ksz;
                    for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
                        int64_t i0 = o0 * g->s[0] - g->pb[0] + k0 * g->d[0];
                        for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
                            int64_t i1 = o1 * g->s[1] - g->pb[1] + k1 * g->d[1];
                            for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                                int64_t i2 = o2 * g->s[2] - g->pb[2] + k2 * g->d[2];
                                bool in = i0 >= 0 && i0 < g->in[0] && i1 >= 0 && i1 < g->in[1] &&
                                          i2 >= 0 && i2 < g->in[2];
                                int32_t xv =
                                    in ? q_at(x, xc + (i0 * g->in[1] + i1) * g->in[2] + i2) - zx
                                       : 0;
                                int32_t wv = q_at(w, wc + (k0 * g->k[1] + k1) * g->k[2] + k2) - zwm;
                                s += xv * wv;
                            }
                        }
                    }
                }
                acc[oi] = s;
            }
}

static void qconv_out_dims(const qconv *p, int rank, int64_t *d)
{
    d[0] = p->n;
    d[1] = p->m;
    for (int i = 0; i < rank - 2; i++)
        d[2 + i] = p->w.out[i];
}

int infer__shape_convint(step *st, fm_err *err)
{
    qconv p;
    int rc = qconv_params(st, 1, &p, err);
    if (rc)
        return rc;
    const rt_val *zx = opt_in(st, 2);
    if (zx && (zx->numel != 1 || zx->dtype != st->in[0]->dtype))
        return infer__step_err(st, err, FM_ESHAPE,
                               "input zero point must be one value of the input's type");
    if ((rc = check_mm_zp(st, 3, st->in[1], p.m, err)))
        return rc;
    int64_t d[5];
    qconv_out_dims(&p, st->in[0]->ndim, d);
    return infer__set_out(st, 0, INFER_DTYPE_INT32, st->in[0]->ndim, d, err);
}

int infer__exec_convint(step *st, fm_err *err)
{
    qconv p;
    int rc = qconv_params(st, 1, &p, err);
    if (rc)
        return rc;
    int64_t osz = p.w.out[0] * p.w.out[1] * p.w.out[2];
    int32_t zx = zp_at(opt_in(st, 2), 0);
    int32_t *y = st->out[0]->data;
    for (int64_t b = 0; b < p.n; b++)
        for (int64_t m = 0; m < p.m; m++)
            qconv_acc(&p, st->in[0], zx, st->in[1], opt_in(st, 3), b, m, y + (b * p.m + m) * osz);
    return 0;
}

/* QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B (INT32) */
int infer__shape_qlconv(step *st, fm_err *err)
{
    qconv p;
    int rc = qconv_params(st, 3, &p, err);
    if (!rc)
        rc = check_qparams(st, 1, 2, st->in[0]->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 4, 5, st->in[3]->dtype, p.m, err);
    if (!rc)
        rc = check_qparams(st, 6, 7, INFER_DTYPE_UNDEFINED, -1, err);
    if (rc)
        return rc;
    const rt_val *bias = opt_in(st, 8), *yz = opt_in(st, 7);
    if (bias && (bias->dtype != INFER_DTYPE_INT32 || bias->numel != p.m))
        return infer__step_err(st, err, FM_ESHAPE, "bias must hold %lld INT32 values",
                               (long long)p.m);
    infer_dtype t = yz ? yz->dtype : INFER_DTYPE_UINT8;
    if (!is_q8(t))
        return infer__step_err(st, err, FM_ETYPE, "output zero point must be UINT8 or INT8");
    int64_t d[5];
    qconv_out_dims(&p, st->in[0]->ndim, d);
    st->scratch_bytes = (size_t)(p.w.out[0] * p.w.out[1] * p.w.out[2]) * sizeof(int32_t);
    st->qint8 = infer__int8_wanted(st->s) && st->in[0]->ndim == 4 && st->in[3]->is_const;
    if (st->qint8) { /* oneDNN: room for NHWC copies of input and output (qdq.c) */
        int64_t ob = p.n * p.m * p.w.out[0] * p.w.out[1];
        st->scratch_bytes = FM_MAX(st->scratch_bytes,
                                   (size_t)((st->in[0]->numel + 63) & ~(int64_t)63) + (size_t)ob);
    }
    return infer__set_out(st, 0, t, st->in[0]->ndim, d, err);
}

int infer__exec_qlconv(step *st, fm_err *err)
{
    if (st->dnnl)
        return infer__qdnnl_exec(st, err);
    qconv p;
    int rc = qconv_params(st, 3, &p, err);
    if (rc)
        return rc;
    rt_val *y = st->out[0];
    int32_t lo, hi;
    q_range(y->dtype, &lo, &hi);
    const rt_val *bias = opt_in(st, 8);
    int64_t osz = p.w.out[0] * p.w.out[1] * p.w.out[2];
    float sx = sc_at(st->in[1], 0), sy = sc_at(st->in[6], 0);
    int32_t zx = zp_at(opt_in(st, 2), 0), zy = zp_at(opt_in(st, 7), 0);
    int32_t *acc = st->scratch;
    for (int64_t b = 0; b < p.n; b++)
        for (int64_t m = 0; m < p.m; m++) {
            qconv_acc(&p, st->in[0], zx, st->in[3], opt_in(st, 5), b, m, acc);
            int32_t bm = bias ? ((const int32_t *)bias->data)[m] : 0;
            float sm = sx * sc_at(st->in[4], m);
            for (int64_t i = 0; i < osz; i++) {
                float r = (float)(acc[i] + bm) * sm; /* a fused Relu/Clip clamps the real value */
                r = r < st->fuse_min ? st->fuse_min : r > st->fuse_max ? st->fuse_max : r;
                q_put(y, (b * p.m + m) * osz + i, q_sat(nearbyintf(r / sy) + (float)zy, lo, hi));
            }
        }
    return 0;
}

/* ---- com.microsoft elementwise and pooling -------------------------------------------------- */

/* QLinearAdd / QLinearMul: A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp (broadcasting) */
int infer__shape_qlbinary(step *st, fm_err *err)
{
    const rt_val *a = st->in[0], *b = st->in[3];
    if (!is_q8(a->dtype) || a->dtype != b->dtype)
        return infer__step_err(st, err, FM_ETYPE, "A and B must both be UINT8 or both INT8");
    int rc = check_qparams(st, 1, 2, a->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 4, 5, b->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 6, 7, a->dtype, -1, err);
    if (rc)
        return rc;
    int64_t d[INFER_MAX_DIMS];
    int nd = 0;
    if ((rc = infer__broadcast_shape(st, a->dims, a->ndim, b->dims, b->ndim, d, &nd, err)))
        return rc;
    return infer__set_out(st, 0, a->dtype, nd, d, err);
}

/* offset in v of output element i (numpy broadcasting) */
static int64_t bc_off(const rt_val *v, const rt_val *o, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = o->ndim - 1; d >= 0; d--) {
        int64_t ix = i % o->dims[d];
        i /= o->dims[d];
        int j = d - (o->ndim - v->ndim);
        if (j < 0)
            break;
        if (v->dims[j] != 1)
            off += ix * stride;
        stride *= v->dims[j];
    }
    return off;
}

/* Why: the residual join of every quantized CNN, the same-shape UINT8 case, in one pass: cloned
 * for AVX-512 and AVX2 (the build targets baseline x86-64, whose SSE2 widens bytes to floats four
 * at a time) and picked at load by the CPU. restrict and a count by value: a byte store may alias
 * anything, and the loop would otherwise stay scalar. */
FM_CLONES static void qladd_u8(const uint8_t *restrict pa, const uint8_t *restrict pb,
                               uint8_t *restrict py, int64_t n, float fza, float sa, float fzb,
                               float sb, float inv, float fzy, float rmin, float lo, float hi)
{
    const float magic = 12582912.0f, flo = lo - fzy, fhi = hi - fzy;
    for (int64_t i = 0; i < n; i++) {
        float r = ((float)pa[i] - fza) * sa + ((float)pb[i] - fzb) * sb;
        r = r < rmin ? rmin : r;
        float v = r * inv; /* as ORT's kernels do: by the inverse scale */
        v = v == v ? v : -fzy;
        v = v < flo ? flo : v > fhi ? fhi : v;
        py[i] = (uint8_t)(int32_t)(((v + magic) - magic) + fzy);
    }
}

int infer__exec_qlbinary(step *st, fm_err *err)
{
    (void)err;
    const rt_val *a = st->in[0], *b = st->in[3];
    rt_val *y = st->out[0];
    bool mul = st->op == INFER_OP_QLINEAR_MUL;
    float sa = sc_at(st->in[1], 0), sb = sc_at(st->in[4], 0), sy = sc_at(st->in[6], 0);
    int32_t za = zp_at(opt_in(st, 2), 0), zb = zp_at(opt_in(st, 5), 0),
            zy = zp_at(opt_in(st, 7), 0), lo, hi;
    q_range(y->dtype, &lo, &hi);
    if (!mul && a->numel == y->numel && b->numel == y->numel && y->dtype == INFER_DTYPE_UINT8) {
        /* same shapes (the fused residual join): vectorized, a fused Relu clamps the sum */
        qladd_u8(a->data, b->data, y->data, y->numel, (float)za, sa, (float)zb, sb, 1.0f / sy,
                 (float)zy, st->fuse_min, (float)lo, (float)hi);
        return 0;
    }
    for (int64_t i = 0; i < y->numel; i++) {
        float fa = (float)(q_at(a, bc_off(a, y, i)) - za) * sa,
              fb = (float)(q_at(b, bc_off(b, y, i)) - zb) * sb;
        float r = mul ? fa * fb : fa + fb;
        r = r < st->fuse_min ? st->fuse_min : r; /* a fused Relu */
        q_put(y, i, q_sat(nearbyintf(r / sy) + (float)zy, lo, hi));
    }
    return 0;
}

/* QLinearSigmoid: X, X_scale, X_zp, Y_scale, Y_zp: a 256-entry table made at run time */
int infer__shape_qlsigmoid(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (!is_q8(x->dtype))
        return infer__step_err(st, err, FM_ETYPE, "input must be UINT8 or INT8");
    int rc = check_qparams(st, 1, 2, x->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 3, 4, x->dtype, -1, err);
    return rc ? rc : infer__set_out(st, 0, x->dtype, x->ndim, x->dims, err);
}

int infer__exec_qlsigmoid(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    float sx = sc_at(st->in[1], 0), sy = sc_at(st->in[3], 0);
    int32_t zx = zp_at(opt_in(st, 2), 0), zy = zp_at(opt_in(st, 4), 0), lo, hi;
    q_range(x->dtype, &lo, &hi);
    int32_t lut[256];
    for (int32_t q = lo; q <= hi; q++) {
        float f = 1.0f / (1.0f + expf(-(float)(q - zx) * sx));
        lut[q - lo] = q_sat(nearbyintf(f / sy) + (float)zy, lo, hi);
    }
    for (int64_t i = 0; i < x->numel; i++)
        q_put(y, i, lut[q_at(x, i) - lo]);
    return 0;
}

/* QLinearGlobalAveragePool: X, x_scale, x_zp, y_scale, y_zp; channels_last 0 (NCHW) or 1 */
int infer__shape_qlgpool(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (!is_q8(x->dtype))
        return infer__step_err(st, err, FM_ETYPE, "input must be UINT8 or INT8");
    if (x->ndim < 3)
        return infer__step_err(st, err, FM_ESHAPE, "input rank %d (need >= 3)", x->ndim);
    int rc = check_qparams(st, 1, 2, x->dtype, -1, err);
    if (!rc)
        rc = check_qparams(st, 3, 4, x->dtype, -1, err);
    if (rc)
        return rc;
    bool cl = infer__attr_i(st->node, "channels_last", 0) != 0;
    int64_t d[INFER_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        d[i] = 1;
    d[0] = x->dims[0];
    d[cl ? x->ndim - 1 : 1] = x->dims[cl ? x->ndim - 1 : 1];
    return infer__set_out(st, 0, x->dtype, x->ndim, d, err);
}

int infer__exec_qlgpool(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    bool cl = infer__attr_i(st->node, "channels_last", 0) != 0;
    int64_t n = x->dims[0], c = x->dims[cl ? x->ndim - 1 : 1], hw = x->numel / FM_MAX(n * c, 1);
    float sx = sc_at(st->in[1], 0), sy = sc_at(st->in[3], 0);
    int32_t zx = zp_at(opt_in(st, 2), 0), zy = zp_at(opt_in(st, 4), 0), lo, hi;
    q_range(x->dtype, &lo, &hi);
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t sum = 0;
            for (int64_t i = 0; i < hw; i++)
                sum += q_at(x, cl ? (b * hw + i) * c + ch : (b * c + ch) * hw + i);
            float mean = (float)sum / (float)FM_MAX(hw, 1) - (float)zx;
            q_put(y, b * c + ch, q_sat(nearbyintf(mean * sx / sy) + (float)zy, lo, hi));
        }
    return 0;
}

/* ---- checks at load ------------------------------------------------------------------------- */

/* Why: operators outside the default domain that the runtime runs (com.microsoft, as ORT emits)
 * are marked in INFER_OP_MAP; the loader asks before it resolves the op. */
bool infer__quant_is_ms_op(const char *name)
{
    int op = infer__op_find(name);
    return op >= 0 && infer__ops[op].ms_domain;
}

/* Per operator: its (scale, zero point, data) input triples and which one is per-channel. A
 * data index of -2 means "the node's output" (its type comes from the zero point). */
typedef struct qp_rule {
    int n; /* 0: no rule for this op */
    struct {
        int s, z, data;
        int chan_of; /* per channel along this input's axis (-1: scalar only, -3: the axis attr) */
    } p[3];
} qp_rule;

static const qp_rule qp_rules[INFER_OP__COUNT] = {
    [INFER_OP_QUANTIZE_LINEAR] = {1, {{1, 2, -2, -3}}},
    [INFER_OP_DEQUANTIZE_LINEAR] = {1, {{1, 2, 0, -3}}},
    [INFER_OP_QLINEAR_MATMUL] = {3, {{1, 2, 0, -1}, {4, 5, 3, -4}, {6, 7, -2, -1}}},
    [INFER_OP_QLINEAR_CONV] = {3, {{1, 2, 0, -1}, {4, 5, 3, 3}, {6, 7, -2, -1}}},
    [INFER_OP_QLINEAR_ADD] = {3, {{1, 2, 0, -1}, {4, 5, 3, -1}, {6, 7, -2, -1}}},
    [INFER_OP_QLINEAR_MUL] = {3, {{1, 2, 0, -1}, {4, 5, 3, -1}, {6, 7, -2, -1}}},
    [INFER_OP_QLINEAR_SIGMOID] = {2, {{1, 2, 0, -1}, {3, 4, -2, -1}}},
    [INFER_OP_QLINEAR_GLOBAL_AVERAGE_POOL] = {2, {{1, 2, 0, -1}, {3, 4, -2, -1}}},
};

static const ival *init_in(const infer_model *m, const inode *n, int i)
{
    if (i < 0 || i >= n->n_in || n->in[i] < 0)
        return NULL;
    const ival *v = &m->vals[n->in[i]];
    return v->kind == VAL_INIT ? v : NULL;
}

static const ival *any_in(const infer_model *m, const inode *n, int i)
{
    return i < 0 || i >= n->n_in || n->in[i] < 0 ? NULL : &m->vals[n->in[i]];
}

static int64_t ival_numel(const ival *v)
{
    size_t es = infer_dtype_size(v->dtype);
    return es ? (int64_t)(v->bytes / es) : 0;
}

/* Why: a scale of 0, NaN or Inf, a zero point outside its type or of the wrong type, and a
 * per-channel length that does not match the channel axis would give garbage at run time;
 * when they are initializers they are load errors naming the node. */
int infer__quant_check_node(const infer_model *m, const inode *n, fm_err *err)
{
    const qp_rule *r = n->op >= 0 ? &qp_rules[n->op] : NULL;
    if (!r || !r->n)
        return 0;
#define QERR(...) fm_err_set(err, FM_EINVAL, "node '%s' (%s): " __VA_ARGS__)
    for (int k = 0; k < r->n; k++) {
        const ival *s = init_in(m, n, r->p[k].s), *z = init_in(m, n, r->p[k].z);
        const ival *zd = any_in(m, n, r->p[k].z),
                   *data = r->p[k].data >= 0 ? any_in(m, n, r->p[k].data) : NULL;
        if (s) {
            if (s->dtype != INFER_DTYPE_FP32)
                return QERR("input %d (scale) must be FP32, not %s", n->name, n->op_type, r->p[k].s,
                            infer_dtype_name(s->dtype));
            const float *f = s->data;
            for (int64_t i = 0; i < ival_numel(s); i++)
                if (!(f[i] > 0) || isinf(f[i]))
                    return QERR("scale %g at index %lld of input %d must be positive and finite",
                                n->name, n->op_type, (double)f[i], (long long)i, r->p[k].s);
        }
        if (zd && zd->dtype != INFER_DTYPE_UNDEFINED) {
            bool int32_data =
                data && data->dtype == INFER_DTYPE_INT32 && n->op == INFER_OP_DEQUANTIZE_LINEAR;
            if (!is_q8(zd->dtype) && !(int32_data && zd->dtype == INFER_DTYPE_INT32))
                return QERR("input %d (zero point) must be UINT8 or INT8, not %s", n->name,
                            n->op_type, r->p[k].z, infer_dtype_name(zd->dtype));
            if (data && data->dtype != INFER_DTYPE_UNDEFINED && data->dtype != zd->dtype)
                return QERR("input %d (zero point) is %s, its data '%s' is %s", n->name, n->op_type,
                            r->p[k].z, infer_dtype_name(zd->dtype), data->name,
                            infer_dtype_name(data->dtype));
            if (z && int32_data)
                for (int64_t i = 0; i < ival_numel(z); i++)
                    if (((const int32_t *)z->data)[i] != 0)
                        return QERR("zero point %d out of range for INT32 data (must be 0)",
                                    n->name, n->op_type, ((const int32_t *)z->data)[i]);
        }
        if (s && z && ival_numel(s) != ival_numel(z))
            return QERR("input %d (zero point) has %lld values, its scale %lld", n->name,
                        n->op_type, r->p[k].z, (long long)ival_numel(z), (long long)ival_numel(s));
        if (!s)
            continue;
        int64_t ns = ival_numel(s);
        if (ns == 1 && s->ndim <= 1)
            continue;
        int ci = r->p[k].chan_of;
        if (ci == -1)
            return QERR("input %d (scale) must be one value, has %lld", n->name, n->op_type,
                        r->p[k].s, (long long)ns);
        if (s->ndim != 1)
            return QERR("input %d (scale) must be 1-D for per-channel quantization", n->name,
                        n->op_type, r->p[k].s);
        const ival *x = ci == -3 ? any_in(m, n, 0) : ci == -4 ? any_in(m, n, 3) : any_in(m, n, ci);
        if (!x || x->ndim < 1)
            continue; /* shape unknown before planning: checked then */
        int64_t len;
        if (ci == -3) {
            int64_t axis = infer__attr_i(n, "axis", 1);
            if (axis < -x->ndim || axis >= x->ndim)
                return QERR("axis %lld out of range for rank %d", n->name, n->op_type,
                            (long long)axis, x->ndim);
            len = x->dims[axis < 0 ? axis + x->ndim : axis];
        } else if (ci == -4) {
            len = x->dims[x->ndim - 1]; /* QLinearMatMul: one per column of B */
        } else {
            len = x->dims[0]; /* QLinearConv: one per output channel */
        }
        if (len >= 0 && len != ns)
            return QERR("input %d (scale) has %lld values, the channel axis of '%s' has %lld",
                        n->name, n->op_type, r->p[k].s, (long long)ns, x->name, (long long)len);
    }
#undef QERR
    return 0;
}
