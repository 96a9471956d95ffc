/*
 * ops_nn.c — convolution, pooling, normalisation, softmax and reductions. 2-D convolutions with
 * constant weights run on XNNPACK's operator API (NHWC inside, transposed at the boundary); every
 * other case runs a plain reference loop, which is also what the tests compare XNNPACK against.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "infer/fastmath.h"
#include "infer/ops_int.h"

/* ---- window geometry shared by Conv and pooling ---------------------------------------------- */

/* Why: one place for ONNX's auto_pad, pads, strides, dilations and ceil_mode rules. */
int infer__win_params(const step *st, const int64_t *kshape, bool ceil_mode, win *w, fm_err *err)
{
    const rt_val *x = st->in[0];
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 3)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "input rank %d (need 3 to 5)", x->ndim);
    w->sp = sp;
    int64_t tmp[2 * INFER_MAX_DIMS];
    for (int i = 0; i < sp; i++) {
        w->in[i] = x->dims[2 + i];
        w->k[i] = kshape[i];
        w->s[i] = 1;
        w->d[i] = 1;
        w->pb[i] = w->pe[i] = 0;
        if (w->k[i] < 1)
            return infer__step_err(st, err, FM_EINVAL, "kernel size %lld", (long long)w->k[i]);
    }
    int n = infer__attr_ints(st->node, "strides", tmp, INFER_MAX_DIMS);
    if (n >= 0 && n != sp)
        return infer__step_err(st, err, FM_EINVAL, "strides has %d values", n);
    for (int i = 0; i < n; i++)
        w->s[i] = tmp[i];
    n = infer__attr_ints(st->node, "dilations", tmp, INFER_MAX_DIMS);
    if (n >= 0 && n != sp)
        return infer__step_err(st, err, FM_EINVAL, "dilations has %d values", n);
    for (int i = 0; i < n; i++)
        w->d[i] = tmp[i];
    for (int i = 0; i < sp; i++)
        if (w->s[i] < 1 || w->d[i] < 1 || w->s[i] > 1 << 16 || w->d[i] > 1 << 16 ||
            w->k[i] > 1 << 16)
            return infer__step_err(st, err, FM_EINVAL, "stride, dilation or kernel out of range");
    const char *ap = infer__attr_s(st->node, "auto_pad", "NOTSET");
    if (!strcmp(ap, "NOTSET")) {
        n = infer__attr_ints(st->node, "pads", tmp, 2 * INFER_MAX_DIMS);
        if (n >= 0 && n != 2 * sp)
            return infer__step_err(st, err, FM_EINVAL, "pads has %d values", n);
        for (int i = 0; i < n / 2; i++) {
            w->pb[i] = tmp[i];
            w->pe[i] = tmp[i + sp];
            if (w->pb[i] < 0 || w->pe[i] < 0 || w->pb[i] > 1 << 16 || w->pe[i] > 1 << 16)
                return infer__step_err(st, err, FM_EINVAL, "pads out of range");
        }
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int i = 0; i < sp; i++) {
            int64_t o = (w->in[i] + w->s[i] - 1) / w->s[i];
            int64_t tot = FM_MAX(0, (o - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - w->in[i]);
            w->pb[i] = ap[5] == 'U' ? tot / 2 : tot - tot / 2;
            w->pe[i] = tot - w->pb[i];
        }
    } else if (strcmp(ap, "VALID")) {
        return infer__step_err(st, err, FM_EUNSUPPORTED, "auto_pad '%s'", ap);
    }
    for (int i = 0; i < sp; i++) {
        int64_t ext = (w->k[i] - 1) * w->d[i] + 1;
        int64_t span = w->in[i] + w->pb[i] + w->pe[i] - ext;
        if (span < 0)
            return infer__step_err(st, err, FM_ESHAPE, "kernel larger than padded input");
        w->out[i] = (ceil_mode ? (span + w->s[i] - 1) / w->s[i] : span / w->s[i]) + 1;
        if (ceil_mode && (w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i])
            w->out[i]--;
    }
    for (int i = sp; i < 3; i++) {
        w->in[i] = w->k[i] = w->s[i] = w->d[i] = w->out[i] = 1;
        w->pb[i] = w->pe[i] = 0;
    }
    return 0;
}

/* ---- Conv ----------------------------------------------------------------------------------- */

typedef struct conv_p {
    win w;
    int64_t n, c, m, g;
} conv_p;

static int conv_params(const step *st, conv_p *p, fm_err *err)
{
    const rt_val *x = st->in[0], *wt = st->in[1];
    if (x->dtype != INFER_DTYPE_FP32 || wt->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    if (wt->ndim != x->ndim)
        return infer__step_err(st, err, FM_ESHAPE, "weight rank differs from input rank");
    int64_t ks[3];
    int64_t tmp[INFER_MAX_DIMS];
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
    if (st->n_in > 2 && st->in[2] &&
        (st->in[2]->numel != p->m || st->in[2]->dtype != INFER_DTYPE_FP32))
        return infer__step_err(st, err, FM_ESHAPE, "bias must hold %lld FP32 values",
                               (long long)p->m);
    return 0;
}

static bool conv_uses_xnn(const step *st, const conv_p *p)
{
    return !st->s->reference && p->w.sp == 2 && st->in[1]->is_const &&
           (st->n_in < 3 || !st->in[2] || st->in[2]->is_const) && !st->in[0]->is_const;
}

int infer__shape_conv(step *st, fm_err *err)
{
    conv_p p;
    int rc = conv_params(st, &p, err);
    if (rc)
        return rc;
    int64_t d[5] = {p.n, p.m, p.w.out[0], p.w.out[1], p.w.out[2]};
    st->xnn = conv_uses_xnn(st, &p);
    if (st->xnn)
        st->scratch_bytes = (size_t)(st->in[0]->numel + p.n * p.m * p.w.out[0] * p.w.out[1]) * 4;
    return infer__set_out(st, 0, INFER_DTYPE_FP32, st->in[0]->ndim, d, err);
}

/* Why: XNNPACK reads and writes NHWC; activations already in NHWC (layout pass) are used in
 * place, the others go through the scratch buffer: [input NHWC][output NHWC]. */
static void conv_bufs(step *st, float **in, float **out)
{
    float *sc = st->scratch;
    *in = st->in_nhwc ? st->in[0]->data : sc;
    if (!st->in_nhwc && sc)
        sc += st->in[0]->numel; /* sc is NULL for empty tensors */
    *out = st->out_nhwc ? st->out[0]->data : sc;
}

/* Why: XNNPACK packs weights when the operator is created; that happens once per session, later
 * plans (new batch or image size) only set it up again. */
int infer__setup_conv(step *st, fm_err *err)
{
    conv_p p;
    int rc = conv_params(st, &p, err);
    if (rc)
        return rc;
    if (!conv_uses_xnn(st, &p))
        return 0;
    st->dnnl = infer__dnnl_wanted(st->s);
    if (st->dnnl) {
        dnnl_conv_geom g = {p.n,        p.c,      p.w.in[0], p.w.in[1], p.m,       p.w.out[0],
                            p.w.out[1], p.g,      p.w.k[0],  p.w.k[1],  p.w.s[0],  p.w.s[1],
                            p.w.d[0],   p.w.d[1], p.w.pb[0], p.w.pb[1], p.w.pe[0], p.w.pe[1]};
        rc = infer__dnnl_conv_setup(st, &g, err);
        if (rc <= 0)
            return rc;
        st->dnnl = false; /* no fast oneDNN kernel here: XNNPACK */
        rc = 0;
    }
    /* pointwise convolution between NHWC tensors is a plain matrix product: OpenBLAS reaches
     * 120-140 GFLOP/s on ResNet's shapes here (XNNPACK about 80-110), with no weights to pack */
    st->gemm1x1 = st->in_nhwc && st->out_nhwc && p.g == 1 && p.w.k[0] == 1 && p.w.k[1] == 1 &&
                  p.w.s[0] == 1 && p.w.s[1] == 1 && !p.w.pb[0] && !p.w.pb[1] && !p.w.pe[0] &&
                  !p.w.pe[1] && FM_MIN(p.c, p.m) >= 64 && !st->s->env.xnn_1x1;
    if (st->gemm1x1)
        return 0;
    xnn_operator_t op = *st->state;
    if (!op) {
        int64_t gi = p.c / p.g, go = p.m / p.g, kh = p.w.k[0], kw = p.w.k[1];
        const float *w = st->in[1]->data;
        float *k = malloc((size_t)(p.m * gi * kh * kw) * sizeof *k);
        if (!k)
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        /* ONNX [M, C/g, kh, kw] -> XNNPACK [g][go][kh][kw][gi] */
        for (int64_t m = 0; m < p.m; m++)
            for (int64_t i = 0; i < gi; i++)
                for (int64_t y = 0; y < kh; y++)
                    for (int64_t x = 0; x < kw; x++)
                        k[((m * kh + y) * kw + x) * gi + i] = w[((m * gi + i) * kh + y) * kw + x];
        const float *bias = st->n_in > 2 && st->in[2] ? st->in[2]->data : NULL;
        enum xnn_status s = xnn_create_convolution2d_nhwc_f32(
            (uint32_t)p.w.pb[0], (uint32_t)p.w.pe[1], (uint32_t)p.w.pe[0], (uint32_t)p.w.pb[1],
            (uint32_t)kh, (uint32_t)kw, (uint32_t)p.w.s[0], (uint32_t)p.w.s[1], (uint32_t)p.w.d[0],
            (uint32_t)p.w.d[1], (uint32_t)p.g, (size_t)gi, (size_t)go, (size_t)p.c, (size_t)p.m, k,
            bias, st->fuse_min, st->fuse_max, 0, &op);
        free(k);
        if (s != xnn_status_success)
            return infer__step_err(st, err, FM_EINTERNAL, "xnnpack convolution create failed (%d)",
                                   (int)s);
        if (infer__session_own(st->s, op))
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        *st->state = op;
        st->s->st.packed_bytes += (size_t)(p.m * gi * kh * kw + p.m) * 4;
    }
    float *in, *out;
    conv_bufs(st, &in, &out);
    enum xnn_status s = xnn_setup_convolution2d_nhwc_f32(
        op, (size_t)p.n, (size_t)p.w.in[0], (size_t)p.w.in[1], in, out, infer__session_pool(st->s));
    if (s != xnn_status_success)
        return infer__step_err(st, err, FM_EINTERNAL, "xnnpack convolution setup failed (%d)",
                               (int)s);
    return 0;
}

/* Why: plain direct convolution: the reference for tests and the path for 1-D/3-D or computed
 * weights. */
static void conv_ref(const step *st, const conv_p *p)
{
    const float *x = st->in[0]->data, *w = st->in[1]->data;
    const float *b = st->n_in > 2 && st->in[2] ? st->in[2]->data : NULL;
    float *y = st->out[0]->data;
    const win *q = &p->w;
    int64_t gi = p->c / p->g, go = p->m / p->g;
    int64_t isz = q->in[0] * q->in[1] * q->in[2], osz = q->out[0] * q->out[1] * q->out[2];
    int64_t ksz = q->k[0] * q->k[1] * q->k[2];
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t m = 0; m < p->m; m++) {
            int64_t g = m / go;
            float *yo = y + (n * p->m + m) * osz;
            for (int64_t o0 = 0; o0 < q->out[0]; o0++)
                for (int64_t o1 = 0; o1 < q->out[1]; o1++)
                    for (int64_t o2 = 0; o2 < q->out[2]; o2++) {
                        double acc = b ? b[m] : 0;
                        for (int64_t ci = 0; ci < gi; ci++) {
                            const float *xi = x + (n * p->c + g * gi + ci) * isz;
                            const float *wk = w + (m * gi + ci) * ksz;
                            for (int64_t k0 = 0; k0 < q->k[0]; k0++) {
                                int64_t i0 = o0 * q->s[0] - q->pb[0] + k0 * q->d[0];
                                if (i0 < 0 || i0 >= q->in[0])
                                    continue;
                                for (int64_t k1 = 0; k1 < q->k[1]; k1++) {
                                    int64_t i1 = o1 * q->s[1] - q->pb[1] + k1 * q->d[1];
                                    if (i1 < 0 || i1 >= q->in[1])
                                        continue;
                                    for (int64_t k2 = 0; k2 < q->k[2]; k2++) {
                                        int64_t i2 = o2 * q->s[2] - q->pb[2] + k2 * q->d[2];
                                        if (i2 < 0 || i2 >= q->in[2])
                                            continue;
                                        acc += (double)xi[(i0 * q->in[1] + i1) * q->in[2] + i2] *
                                               wk[(k0 * q->k[1] + k1) * q->k[2] + k2];
                                    }
                                }
                            }
                        }
                        float v = (float)acc;
                        v = v < st->fuse_min ? st->fuse_min : (v > st->fuse_max ? st->fuse_max : v);
                        yo[(o0 * q->out[1] + o1) * q->out[2] + o2] = v;
                    }
        }
}

int infer__exec_conv(step *st, fm_err *err)
{
    conv_p p;
    int rc = conv_params(st, &p, err);
    if (rc)
        return rc;
    if (st->dnnl && conv_uses_xnn(st, &p))
        return infer__dnnl_step_exec(st, err);
    if (st->gemm1x1 && conv_uses_xnn(st, &p)) {
        infer__gemm_rows(st->s, p.n * p.w.in[0] * p.w.in[1], p.c, p.m, st->in[0]->data,
                         st->in[1]->data, true, st->n_in > 2 && st->in[2] ? st->in[2]->data : NULL,
                         st->fuse_min, st->fuse_max, st->out[0]->data);
        return 0;
    }
    xnn_operator_t op = *st->state;
    if (!conv_uses_xnn(st, &p) || !op) {
        conv_ref(st, &p);
        return 0;
    }
    float *in, *out;
    conv_bufs(st, &in, &out);
    size_t hw = (size_t)(p.w.in[0] * p.w.in[1]), ohw = (size_t)(p.w.out[0] * p.w.out[1]);
    const float *x = st->in[0]->data;
    float *y = st->out[0]->data;
    if (!st->in_nhwc)
        for (int64_t n = 0; n < p.n; n++)
            infer__transpose2d_f32(x + n * p.c * hw, in + n * p.c * hw, (size_t)p.c, hw);
    enum xnn_status s = xnn_run_operator(op, infer__session_pool(st->s));
    if (s != xnn_status_success)
        return infer__step_err(st, err, FM_EINTERNAL, "xnnpack convolution failed (%d)", (int)s);
    if (!st->out_nhwc)
        for (int64_t n = 0; n < p.n; n++)
            infer__transpose2d_f32(out + n * p.m * ohw, y + n * p.m * ohw, ohw, (size_t)p.m);
    return 0;
}

/* Why: operators belong to the session (infer__session_own), so releasing a step only forgets
 * it. */
void infer__release_xnn(step *st)
{
    (void)st;
}

/* ---- pooling -------------------------------------------------------------------------------- */

static int pool_params(const step *st, win *w, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    int64_t ks[INFER_MAX_DIMS];
    int n = infer__attr_ints(st->node, "kernel_shape", ks, INFER_MAX_DIMS);
    if (n != x->ndim - 2)
        return infer__step_err(st, err, FM_EINVAL, "kernel_shape missing or of wrong length");
    if (infer__attr_i(st->node, "storage_order", 0) != 0)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "storage_order 1");
    if (st->op == INFER_OP_AVERAGE_POOL && infer__node_attr(st->node, "dilations"))
        return infer__step_err(st, err, FM_EUNSUPPORTED, "dilations");
    return infer__win_params(st, ks, infer__attr_i(st->node, "ceil_mode", 0) != 0, w, err);
}

/* Why: 2-D MaxPool runs on XNNPACK (NHWC) so that ResNet's stem stays NHWC between convolutions;
 * ceil_mode and 1-D/3-D pooling use the reference loop. */
static bool pool_uses_xnn(const step *st, const win *w)
{
    return !st->s->reference && st->op == INFER_OP_MAX_POOL && w->sp == 2 && !st->in[0]->is_const &&
           infer__attr_i(st->node, "ceil_mode", 0) == 0 && st->n_out == 1;
}

int infer__shape_pool(step *st, fm_err *err)
{
    win w;
    int rc = pool_params(st, &w, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    int64_t d[5] = {x->dims[0], x->dims[1], w.out[0], w.out[1], w.out[2]};
    st->xnn = pool_uses_xnn(st, &w);
    if (st->xnn)
        st->scratch_bytes = (size_t)(x->numel + d[0] * d[1] * d[2] * d[3]) * 4;
    return infer__set_out(st, 0, INFER_DTYPE_FP32, x->ndim, d, err);
}

int infer__setup_pool(step *st, fm_err *err)
{
    win w;
    int rc = pool_params(st, &w, err);
    if (rc || !st->xnn)
        return rc;
    xnn_operator_t op = *st->state;
    size_t c = (size_t)st->in[0]->dims[1];
    if (!op) {
        enum xnn_status s = xnn_create_max_pooling2d_nhwc_f32(
            (uint32_t)w.pb[0], (uint32_t)w.pe[1], (uint32_t)w.pe[0], (uint32_t)w.pb[1],
            (uint32_t)w.k[0], (uint32_t)w.k[1], (uint32_t)w.s[0], (uint32_t)w.s[1],
            (uint32_t)w.d[0], (uint32_t)w.d[1], c, c, c, -INFINITY, INFINITY, 0, &op);
        if (s != xnn_status_success)
            return infer__step_err(st, err, FM_EINTERNAL, "xnnpack max pooling create failed (%d)",
                                   (int)s);
        if (infer__session_own(st->s, op))
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        *st->state = op;
    }
    float *in, *out;
    conv_bufs(st, &in, &out);
    enum xnn_status s =
        xnn_setup_max_pooling2d_nhwc_f32(op, (size_t)st->in[0]->dims[0], (size_t)w.in[0],
                                         (size_t)w.in[1], in, out, infer__session_pool(st->s));
    if (s != xnn_status_success)
        return infer__step_err(st, err, FM_EINTERNAL, "xnnpack max pooling setup failed (%d)",
                               (int)s);
    return 0;
}

/* Why: the XNNPACK path of MaxPool, transposing only what the layout pass left NCHW. */
static int pool_xnn(step *st, const win *w, fm_err *err)
{
    float *in, *out;
    conv_bufs(st, &in, &out);
    const rt_val *x = st->in[0];
    int64_t n = x->dims[0], c = x->dims[1];
    size_t hw = (size_t)(w->in[0] * w->in[1]), ohw = (size_t)(w->out[0] * w->out[1]);
    if (!st->in_nhwc)
        for (int64_t b = 0; b < n; b++)
            infer__transpose2d_f32((const float *)x->data + b * c * (int64_t)hw,
                                   in + b * c * (int64_t)hw, (size_t)c, hw);
    enum xnn_status s = xnn_run_operator(*st->state, infer__session_pool(st->s));
    if (s != xnn_status_success)
        return infer__step_err(st, err, FM_EINTERNAL, "xnnpack max pooling failed (%d)", (int)s);
    if (!st->out_nhwc)
        for (int64_t b = 0; b < n; b++)
            infer__transpose2d_f32(out + b * c * (int64_t)ohw,
                                   (float *)st->out[0]->data + b * c * (int64_t)ohw, ohw,
                                   (size_t)c);
    return 0;
}

int infer__exec_pool(step *st, fm_err *err)
{
    win q;
    int rc = pool_params(st, &q, err);
    if (rc)
        return rc;
    if (st->xnn && *st->state)
        return pool_xnn(st, &q, err);
    bool is_max = st->op == INFER_OP_MAX_POOL;
    bool incl = infer__attr_i(st->node, "count_include_pad", 0) != 0;
    const rt_val *xv = st->in[0];
    const float *x = xv->data;
    float *y = st->out[0]->data;
    int64_t nc = xv->dims[0] * xv->dims[1];
    int64_t isz = q.in[0] * q.in[1] * q.in[2], osz = q.out[0] * q.out[1] * q.out[2];
    for (int64_t c = 0; c < nc; c++) {
        const float *xi = x + c * isz;
        float *yo = y + c * osz;
        for (int64_t o0 = 0; o0 < q.out[0]; o0++)
            for (int64_t o1 = 0; o1 < q.out[1]; o1++)
                for (int64_t o2 = 0; o2 < q.out[2]; o2++) {
                    float mx = -INFINITY;
                    double sum = 0;
                    int64_t cnt = 0, cnt_pad = 1;
                    int64_t o[3] = {o0, o1, o2};
                    for (int a = 0; a < 3; a++) {
                        /* window clipped to the padded input, for count_include_pad */
                        int64_t b = o[a] * q.s[a] - q.pb[a];
                        int64_t e = FM_MIN(b + (q.k[a] - 1) * q.d[a] + 1, q.in[a] + q.pe[a]);
                        cnt_pad *= (e - b + q.d[a] - 1) / q.d[a];
                    }
                    for (int64_t k0 = 0; k0 < q.k[0]; k0++) {
                        int64_t i0 = o0 * q.s[0] - q.pb[0] + k0 * q.d[0];
                        if (i0 < 0 || i0 >= q.in[0])
                            continue;
                        for (int64_t k1 = 0; k1 < q.k[1]; k1++) {
                            int64_t i1 = o1 * q.s[1] - q.pb[1] + k1 * q.d[1];
                            if (i1 < 0 || i1 >= q.in[1])
                                continue;
                            for (int64_t k2 = 0; k2 < q.k[2]; k2++) {
                                int64_t i2 = o2 * q.s[2] - q.pb[2] + k2 * q.d[2];
                                if (i2 < 0 || i2 >= q.in[2])
                                    continue;
                                float v = xi[(i0 * q.in[1] + i1) * q.in[2] + i2];
                                mx = v > mx ? v : mx;
                                sum += v;
                                cnt++;
                            }
                        }
                    }
                    yo[(o0 * q.out[1] + o1) * q.out[2] + o2] =
                        is_max ? mx : (float)(sum / (double)(incl ? cnt_pad : FM_MAX(cnt, 1)));
                }
    }
    return 0;
}

int infer__shape_gpool(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->ndim < 3)
        return infer__step_err(st, err, FM_ESHAPE, "input rank %d (need >= 3)", x->ndim);
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    int64_t d[INFER_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        d[i] = i < 2 ? x->dims[i] : 1;
    return infer__set_out(st, 0, INFER_DTYPE_FP32, x->ndim, d, err);
}

int infer__exec_gpool(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    int64_t nc = x->dims[0] * x->dims[1], hw = nc ? x->numel / nc : 0;
    bool is_max = st->op == INFER_OP_GLOBAL_MAX_POOL;
    const float *p = x->data;
    float *y = st->out[0]->data;
    if (x->nhwc && !is_max) { /* [N, HW, C] rows summed */
        int64_t c = x->dims[1];
        for (int64_t n = 0; n < x->dims[0]; n++) {
            float *yo = y + n * c;
            for (int64_t j = 0; j < c; j++)
                yo[j] = 0;
            for (int64_t i = 0; i < hw; i++) {
                const float *r = p + (n * hw + i) * c;
                for (int64_t j = 0; j < c; j++)
                    yo[j] += r[j];
            }
            for (int64_t j = 0; j < c; j++)
                yo[j] = hw ? yo[j] / (float)hw : 0;
        }
        return 0;
    }
    for (int64_t c = 0; c < nc; c++) {
        const float *r = p + c * hw;
        if (is_max) {
            float m = -INFINITY;
            for (int64_t i = 0; i < hw; i++)
                m = r[i] > m ? r[i] : m;
            y[c] = m;
        } else {
            float s = 0;
            for (int64_t i = 0; i < hw; i++)
                s += r[i];
            y[c] = hw ? s / (float)hw : 0;
        }
    }
    return 0;
}

/* ---- BatchNormalization (inference) --------------------------------------------------------- */

int infer__exec_batchnorm(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (infer__attr_i(st->node, "training_mode", 0))
        return infer__step_err(st, err, FM_EUNSUPPORTED, "training_mode");
    if (x->dtype != INFER_DTYPE_FP32 || x->ndim < 2)
        return infer__step_err(st, err, FM_ETYPE, "needs FP32 of rank >= 2");
    int64_t c = x->dims[1];
    for (int k = 1; k < 5; k++)
        if (st->in[k]->numel != c || st->in[k]->dtype != INFER_DTYPE_FP32)
            return infer__step_err(st, err, FM_ESHAPE, "input %d must hold %lld FP32 values", k,
                                   (long long)c);
    float eps = infer__attr_f(st->node, "epsilon", 1e-5f);
    const float *sc = st->in[1]->data, *b = st->in[2]->data, *mean = st->in[3]->data,
                *var = st->in[4]->data;
    int64_t inner = 1;
    for (int i = 2; i < x->ndim; i++)
        inner *= x->dims[i];
    const float *xp = x->data;
    float *y = st->out[0]->data;
    for (int64_t n = 0; n < x->dims[0]; n++)
        for (int64_t ch = 0; ch < c; ch++) {
            float a = sc[ch] / sqrtf(var[ch] + eps), bb = b[ch] - mean[ch] * a;
            const float *r = xp + (n * c + ch) * inner;
            float *o = y + (n * c + ch) * inner;
            for (int64_t i = 0; i < inner; i++)
                o[i] = r[i] * a + bb;
        }
    return 0;
}

/* ---- Softmax -------------------------------------------------------------------------------- */

int infer__exec_softmax(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    bool legacy = st->s->m->opset < 13;
    int a, rc;
    if ((rc = infer__norm_axis(st, infer__attr_i(st->node, "axis", legacy ? 1 : -1),
                               x->ndim ? x->ndim : 1, &a, err)))
        return rc;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < a)
            outer *= x->dims[i];
        else if (i == a || legacy)
            len *= x->dims[i];
        else
            inner *= x->dims[i];
    }
    bool lg = st->op == INFER_OP_LOG_SOFTMAX;
    const float *p = x->data;
    float *y = st->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const float *r = p + o * len * inner + in;
            float *w = y + o * len * inner + in;
            float m = -INFINITY;
            for (int64_t i = 0; i < len; i++)
                m = r[i * inner] > m ? r[i * inner] : m;
            float s = 0;
            for (int64_t i = 0; i < len; i++) {
                float e = fm_expf(r[i * inner] - m);
                w[i * inner] = e;
                s += e;
            }
            if (lg) {
                float ls = logf(s);
                for (int64_t i = 0; i < len; i++)
                    w[i * inner] = r[i * inner] - m - ls;
            } else {
                float inv = 1.0f / s;
                for (int64_t i = 0; i < len; i++)
                    w[i * inner] *= inv;
            }
        }
    return 0;
}

/* ---- LayerNormalization --------------------------------------------------------------------- */

int infer__shape_layernorm(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    int a, rc;
    if ((rc = infer__norm_axis(st, infer__attr_i(st->node, "axis", -1), x->ndim, &a, err)))
        return rc;
    int64_t len = 1;
    for (int i = a; i < x->ndim; i++)
        len *= x->dims[i];
    for (int k = 1; k < st->n_in && k < 3; k++) {
        const rt_val *v = st->in[k];
        if (v && (v->numel != len || v->dtype != INFER_DTYPE_FP32))
            return infer__step_err(st, err, FM_ESHAPE, "scale/bias must hold %lld FP32 values",
                                   (long long)len);
    }
    if ((rc = infer__set_out(st, 0, x->dtype, x->ndim, x->dims, err)))
        return rc;
    int64_t d[INFER_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++)
        d[i] = i < a ? x->dims[i] : 1;
    for (int k = 1; k < st->n_out; k++)
        if ((rc = infer__set_out(st, k, INFER_DTYPE_FP32, x->ndim, d, err)))
            return rc;
    return 0;
}

int infer__exec_layernorm(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int a;
    infer__norm_axis(st, infer__attr_i(st->node, "axis", -1), x->ndim, &a, err);
    float eps = st->eps == st->eps ? st->eps : infer__attr_f(st->node, "epsilon", 1e-5f);
    int64_t len = 1;
    for (int i = a; i < x->ndim; i++)
        len *= x->dims[i];
    int64_t rows = len ? x->numel / len : 0;
    const float *sc = st->in[1]->data;
    const float *b = st->n_in > 2 && st->in[2] ? st->in[2]->data : NULL;
    float *mo = st->n_out > 1 && st->out[1] ? st->out[1]->data : NULL;
    float *io = st->n_out > 2 && st->out[2] ? st->out[2]->data : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *p = (const float *)x->data + r * len;
        float *y = (float *)st->out[0]->data + r * len;
        float mean = 0, var = 0;
        for (int64_t i = 0; i < len; i++)
            mean += p[i];
        mean /= (float)len;
        for (int64_t i = 0; i < len; i++)
            var += (p[i] - mean) * (p[i] - mean);
        var /= (float)len;
        float inv = 1.0f / sqrtf(var + eps);
        for (int64_t i = 0; i < len; i++)
            y[i] = (p[i] - mean) * inv * sc[i] + (b ? b[i] : 0);
        if (mo)
            mo[r] = mean;
        if (io)
            io[r] = inv;
    }
    return 0;
}

/* ---- reductions ----------------------------------------------------------------------------- */

static int reduce_axes(step *st, bool *red, bool *noop, fm_err *err)
{
    const rt_val *x = st->in[0];
    int64_t axes[INFER_MAX_DIMS];
    int n = -1, rc;
    if (st->n_in >= 2 && st->in[1]) {
        if ((rc = infer__const_ints(st, 1, axes, INFER_MAX_DIMS, &n, err)))
            return rc;
    } else {
        n = infer__attr_ints(st->node, "axes", axes, INFER_MAX_DIMS);
        if (n == -2)
            return infer__step_err(st, err, FM_ELIMIT, "too many axes");
    }
    *noop = false;
    for (int i = 0; i < x->ndim; i++)
        red[i] = n <= 0;
    if (n <= 0 && infer__attr_i(st->node, "noop_with_empty_axes", 0)) {
        *noop = true;
        for (int i = 0; i < x->ndim; i++)
            red[i] = false;
    }
    for (int k = 0; k < n; k++) {
        int a;
        if ((rc = infer__norm_axis(st, axes[k], x->ndim, &a, err)))
            return rc;
        red[a] = true;
    }
    return 0;
}

int infer__shape_reduce(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    if (x->dtype != INFER_DTYPE_FP32 && x->dtype != INFER_DTYPE_INT64 &&
        x->dtype != INFER_DTYPE_INT32 && x->dtype != INFER_DTYPE_FP64)
        return infer__step_err(st, err, FM_ETYPE, "data type %s not supported",
                               infer_dtype_name(x->dtype));
    bool red[INFER_MAX_DIMS], noop;
    int rc = reduce_axes(st, red, &noop, err);
    if (rc)
        return rc;
    bool keep = infer__attr_i(st->node, "keepdims", 1) != 0;
    int64_t d[INFER_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (!red[i])
            d[m++] = x->dims[i];
        else if (keep)
            d[m++] = 1;
    }
    rc = infer__set_out(st, 0, x->dtype, m, d, err);
    if (!rc)
        st->scratch_bytes = (size_t)st->out[0]->numel * sizeof(double);
    return rc;
}

static double rd_load(const rt_val *v, int64_t i)
{
    switch (v->dtype) {
    case INFER_DTYPE_FP32: return ((const float *)v->data)[i];
    case INFER_DTYPE_FP64: return ((const double *)v->data)[i];
    case INFER_DTYPE_INT32: return ((const int32_t *)v->data)[i];
    default: return (double)((const int64_t *)v->data)[i];
    }
}

static void rd_store(rt_val *v, int64_t i, double x)
{
    switch (v->dtype) {
    case INFER_DTYPE_FP32: ((float *)v->data)[i] = (float)x; break;
    case INFER_DTYPE_FP64: ((double *)v->data)[i] = x; break;
    case INFER_DTYPE_INT32: ((int32_t *)v->data)[i] = (int32_t)x; break;
    default: ((int64_t *)v->data)[i] = (int64_t)x; break;
    }
}

/* Why: one strided walk serves every Reduce*; a fast path covers reductions over trailing axes
 * (ReduceMean over the hidden size in decomposed LayerNorm). */
int infer__exec_reduce(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    bool red[INFER_MAX_DIMS], noop;
    int rc = reduce_axes(st, red, &noop, err);
    if (rc)
        return rc;
    enum {
        R_MEAN,
        R_SUM,
        R_MAX,
        R_MIN,
        R_PROD,
        R_SS,
        R_L2
    } k = st->op == INFER_OP_REDUCE_MEAN         ? R_MEAN
          : st->op == INFER_OP_REDUCE_SUM        ? R_SUM
          : st->op == INFER_OP_REDUCE_MAX        ? R_MAX
          : st->op == INFER_OP_REDUCE_MIN        ? R_MIN
          : st->op == INFER_OP_REDUCE_PROD       ? R_PROD
          : st->op == INFER_OP_REDUCE_SUM_SQUARE ? R_SS
                                                 : R_L2;
    int64_t cnt = y->numel ? x->numel / y->numel : 0;
    /* fast path: FP32 mean/sum over trailing axes (contiguous rows) */
    int first_red = x->ndim;
    while (first_red > 0 && red[first_red - 1])
        first_red--;
    bool trailing = first_red < x->ndim;
    for (int i = 0; i < first_red; i++)
        trailing &= !red[i];
    if (trailing && x->dtype == INFER_DTYPE_FP32 && (k == R_MEAN || k == R_SUM) && cnt > 0) {
        const float *xp = x->data;
        float *yp = y->data;
        for (int64_t r0 = 0; r0 < y->numel; r0++) {
            const float *row = xp + r0 * cnt;
            float acc[8] = {0};
            int64_t i = 0;
            for (; i + 8 <= cnt; i += 8)
                for (int l = 0; l < 8; l++)
                    acc[l] += row[i + l];
            float sum =
                ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; i < cnt; i++)
                sum += row[i];
            yp[r0] = k == R_MEAN ? sum / (float)cnt : sum;
        }
        return 0;
    }
    double init = k == R_MAX ? -INFINITY : k == R_MIN ? INFINITY : k == R_PROD ? 1 : 0;
    /* output strides in input index space */
    int r = x->ndim;
    int64_t os[INFER_MAX_DIMS], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        os[i] = red[i] ? 0 : acc;
        if (!red[i])
            acc *= x->dims[i];
    }
    double *tmp = st->scratch;
    for (int64_t i = 0; i < y->numel; i++)
        tmp[i] = init;
    int64_t idx[INFER_MAX_DIMS] = {0}, off = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        double v = rd_load(x, i);
        double *t = &tmp[off];
        switch (k) {
        case R_MAX: *t = v > *t ? v : *t; break;
        case R_MIN: *t = v < *t ? v : *t; break;
        case R_PROD: *t *= v; break;
        case R_SS:
        case R_L2: *t += v * v; break;
        default: *t += v; break;
        }
        for (int d = r - 1; d >= 0; d--) {
            idx[d]++;
            off += os[d];
            if (idx[d] < x->dims[d])
                break;
            off -= os[d] * idx[d];
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < y->numel; i++) {
        double v = tmp[i];
        if (k == R_MEAN)
            v = cnt ? v / (double)cnt : NAN;
        if (k == R_L2)
            v = sqrt(v);
        rd_store(y, i, v);
    }
    return 0;
}
