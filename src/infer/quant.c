/*
 * quant.c — writes quantized copies of ONNX models (infer_quantize) and measures how far a model
 * or precision is from its FP32 reference (infer_accuracy_*).
 *
 * Quantization works on the model as loaded (values, consumers, initializer data) and rewrites the
 * file at the wire level: every field of the ModelProto and GraphProto is copied as it is, except
 * the nodes (copied with some inputs renamed, plus the new QuantizeLinear/DequantizeLinear or
 * DynamicQuantizeLinear/MatMulInteger nodes) and the initializers (FP32 weights that only
 * quantized nodes read are dropped, their INT8 versions added). Static ranges come from running
 * the FP32 model on the calibration samples in a session that keeps every node's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/ops_int.h"

#define HIST_BINS 2048

void infer_quant_opts_init(infer_quant_opts *o)
{
    memset(o, 0, sizeof *o);
    o->mode = INFER_QUANT_STATIC;
    o->method = INFER_CALIB_MINMAX;
    o->percentile = 99.99;
}

enum { Q_NONE = 0, Q_STATIC, Q_DYNAMIC };

typedef struct qstat {
    float mn, mx;
    bool seen;
    uint64_t *hist; /* PERCENTILE, second pass: HIST_BINS counts over [mn, mx] */
    uint64_t total;
    float scale;
    uint8_t zp;
} qstat;

typedef struct qctx {
    infer_model *m;
    const infer_quant_opts *o;
    fm_err *err;
    uint8_t *qnode; /* per node: Q_STATIC / Q_DYNAMIC */
    int *act;       /* per value: index into stats (a QDQ pair), or -1 */
    qstat *stats;
    size_t n_act;
    uint8_t *drop;     /* per value: FP32 initializer no longer read */
    uint8_t *dyn_done; /* per value: its DynamicQuantizeLinear was written */
    int pass;
    char **wname; /* per value: quantized weight written (name of its DequantizeLinear output) */
    pb_buf inits; /* new initializers (TensorProto messages as graph fields) */
    infer_quant_stats st;
} qctx;

/* ---- which nodes ---------------------------------------------------------------------------- */

/* Why: exporters route shared weights through Identity nodes (ALBERT's twelve layers read one
 * layer's weights): a weight is the initializer at the end of such a chain. */
static int wsrc(const infer_model *m, int v)
{
    for (int hops = 0; v >= 0 && hops < 16; hops++) {
        const ival *iv = &m->vals[v];
        if (iv->kind == VAL_INIT)
            return v;
        if (iv->producer < 0 || m->nodes[iv->producer].op != INFER_OP_IDENTITY)
            return -1;
        v = m->nodes[iv->producer].in[0];
    }
    return -1;
}

/* input k of n; weights and biases (k >= 1) resolved through Identity chains */
static int in_idx(const qctx *c, const inode *n, int k)
{
    if (k >= n->n_in || n->in[k] < 0)
        return -1;
    if (k == 0)
        return n->in[0];
    int w = wsrc(c->m, n->in[k]);
    return w >= 0 ? w : n->in[k];
}

static const ival *val(const qctx *c, const inode *n, int k)
{
    int v = in_idx(c, n, k);
    return v >= 0 ? &c->m->vals[v] : NULL;
}

static bool is_init_f32(const ival *v, int ndim)
{
    return v && v->kind == VAL_INIT && v->dtype == INFER_DTYPE_FP32 &&
           (ndim < 0 || v->ndim == ndim);
}

/* Why: only products with constant FP32 weights are quantized, in the forms the kernels fuse. */
static int node_mode(const qctx *c, const inode *n)
{
    const ival *x = val(c, n, 0), *w = val(c, n, 1), *b = val(c, n, 2);
    if (!x || x->kind == VAL_INIT)
        return Q_NONE;
    bool dyn = c->o->mode == INFER_QUANT_DYNAMIC;
    if (n->op == INFER_OP_CONV) {
        if (dyn || !is_init_f32(w, 4) || (b && !is_init_f32(b, 1)))
            return Q_NONE;
        return Q_STATIC;
    }
    if (n->op == INFER_OP_MATMUL)
        return is_init_f32(w, 2) ? (dyn ? Q_DYNAMIC : Q_STATIC) : Q_NONE;
    if (n->op == INFER_OP_GEMM) {
        if (!is_init_f32(w, 2) || infer__attr_i(n, "transA", 0) ||
            infer__attr_f(n, "alpha", 1) != 1.0f)
            return Q_NONE;
        if (b && (!is_init_f32(b, 1) || infer__attr_f(n, "beta", 1) != 1.0f))
            return Q_NONE;
        return dyn ? Q_DYNAMIC : Q_STATIC;
    }
    return Q_NONE;
}

static int consumers_of(const infer_model *m, int v, int *only)
{
    int cnt = 0;
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] == v) {
                cnt++;
                *only = (int)i;
                break;
            }
    return cnt;
}

static void want_act(qctx *c, int v)
{
    const ival *iv = &c->m->vals[v];
    if (c->act[v] >= 0 || iv->kind == VAL_INIT || iv->is_output)
        return;
    c->act[v] = (int)c->n_act++;
}

/* Why: the activations that get a QDQ pair: each quantized node's input, and its output after a
 * Relu/Clip that follows it alone (where ORT's quantizer puts them, so its fusions apply). */
static void select_nodes(qctx *c)
{
    infer_model *m = c->m;
    for (size_t i = 0; i < m->n_nodes; i++) {
        c->qnode[i] = (uint8_t)node_mode(c, &m->nodes[i]);
        if (c->qnode[i])
            c->st.nodes++;
        if (c->qnode[i] != Q_STATIC)
            continue;
        want_act(c, m->nodes[i].in[0]);
        int out = m->nodes[i].out[0], only = -1;
        int nc = consumers_of(m, out, &only);
        if (nc == 1 && !m->vals[out].is_output &&
            (m->nodes[only].op == INFER_OP_RELU || m->nodes[only].op == INFER_OP_CLIP))
            out = m->nodes[only].out[0], nc = consumers_of(m, out, &only);
        if (nc > 0)
            want_act(c, out);
    }
}

/* ---- calibration ---------------------------------------------------------------------------- */

static void observe_data(qctx *c, int v, const float *x, int64_t n)
{
    qstat *q = &c->stats[c->act[v]];
    if (c->pass == 0) {
        float mn = q->seen ? q->mn : INFINITY, mx = q->seen ? q->mx : -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            if (x[i] < mn)
                mn = x[i];
            if (x[i] > mx)
                mx = x[i];
        }
        q->mn = mn, q->mx = mx, q->seen = true;
        return;
    }
    if (!q->hist || !(q->mx > q->mn))
        return;
    double w = ((double)q->mx - q->mn) / HIST_BINS;
    for (int64_t i = 0; i < n; i++) {
        double f = (x[i] - q->mn) / w; /* NaN and infinities land in the end bins */
        int64_t b = f >= 0 ? (f < HIST_BINS ? (int64_t)f : HIST_BINS - 1) : 0;
        q->hist[b]++;
    }
    q->total += (uint64_t)n;
}

static void observe_cb(void *ctx, int v, const rt_val *r)
{
    qctx *c = ctx;
    if (c->act[v] >= 0 && r->dtype == INFER_DTYPE_FP32)
        observe_data(c, v, r->data, r->numel);
}

static int calibrate(qctx *c)
{
    infer_model *m = c->m;
    if (!c->o->n_calib || !c->o->calib)
        return fm_err_set(c->err, FM_EINVAL, "static quantization needs calibration samples");
    infer_session *s;
    int rc = infer__session_new_calibrating(m, observe_cb, c, &s, c->err);
    if (rc)
        return rc;
    int passes = c->o->method == INFER_CALIB_PERCENTILE ? 2 : 1;
    infer_tensor *outs = calloc(m->n_outputs + 1, sizeof *outs);
    if (!outs)
        rc = fm_err_set(c->err, FM_ENOMEM, "out of memory");
    for (c->pass = 0; !rc && c->pass < passes; c->pass++) {
        if (c->pass == 1)
            for (size_t a = 0; a < c->n_act && !rc; a++)
                if (!(c->stats[a].hist = calloc(HIST_BINS, sizeof(uint64_t))))
                    rc = fm_err_set(c->err, FM_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < c->o->n_calib; k++) {
            const infer_tensor *in = &c->o->calib[k * m->n_inputs];
            for (size_t i = 0; i < m->n_inputs; i++)
                if (c->act[m->inputs[i]] >= 0 && in[i].dtype == INFER_DTYPE_FP32)
                    observe_data(c, m->inputs[i], in[i].data, infer_tensor_numel(&in[i]));
            memset(outs, 0, (m->n_outputs + 1) * sizeof *outs);
            rc = infer_session_run(s, in, m->n_inputs, outs, m->n_outputs, c->err);
            if (rc)
                fm_err_prefix(c->err, "calibration sample %zu: ", k);
        }
    }
    free(outs);
    infer_session_free(s);
    if (rc)
        return rc;
    for (size_t a = 0; a < c->n_act; a++) {
        qstat *q = &c->stats[a];
        float lo = q->seen ? q->mn : 0, hi = q->seen ? q->mx : 0;
        if (q->hist && q->total) { /* drop (100 - p)% of the values, half at each end */
            double cut = (double)q->total * (100.0 - c->o->percentile) / 200.0,
                   w = ((double)q->mx - q->mn) / HIST_BINS;
            uint64_t acc = 0;
            int b = 0;
            while (b < HIST_BINS - 1 && (double)(acc + q->hist[b]) <= cut)
                acc += q->hist[b++];
            lo = (float)(q->mn + b * w);
            acc = 0;
            b = HIST_BINS - 1;
            while (b > 0 && (double)(acc + q->hist[b]) <= cut)
                acc += q->hist[b--];
            hi = (float)(q->mn + (b + 1) * w);
        }
        lo = fminf(lo, 0), hi = fmaxf(hi, 0);
        if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo)) {
            const char *name = "?";
            for (size_t v = 0; v < m->n_vals; v++)
                if (c->act[v] == (int)a)
                    name = m->vals[v].name;
            return fm_err_set(
                c->err, FM_EINVAL,
                "cannot quantize '%s': activation '%s' ranges over [%g, %g] in calibration",
                m->label, name, (double)q->mn, (double)q->mx);
        }
        q->scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
        if (!(q->scale >= FLT_MIN)) /* a range too small to hold 256 levels: all zeros */
            q->scale = 1.0f;
        float z = nearbyintf(-lo / q->scale);
        q->zp = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
        free(q->hist);
        q->hist = NULL;
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------------------------- */

static void put_tensor(pb_buf *g, const char *name, infer_dtype t, int ndim, const int64_t *dims,
                       const void *data, size_t bytes)
{
    pb_buf tp = {0};
    for (int i = 0; i < ndim; i++)
        infer__pbw_uint(&tp, 1, (uint64_t)dims[i]);
    infer__pbw_uint(&tp, 2, (uint64_t)t);
    infer__pbw_str(&tp, 8, name);
    infer__pbw_bytes(&tp, 9, data, bytes);
    infer__pbw_msg(g, 5, &tp);
}

static void put_node(pb_buf *g, const char *op, const char *name, const char *const *in, int nin,
                     const char *const *out, int nout, const char *attr, int64_t attr_v)
{
    pb_buf nd = {0};
    for (int i = 0; i < nin; i++)
        infer__pbw_str(&nd, 1, in[i] ? in[i] : "");
    for (int i = 0; i < nout; i++)
        infer__pbw_str(&nd, 2, out[i]);
    infer__pbw_str(&nd, 3, name);
    infer__pbw_str(&nd, 4, op);
    if (attr) {
        pb_buf a = {0};
        infer__pbw_str(&a, 1, attr);
        infer__pbw_uint(&a, 3, (uint64_t)attr_v);
        infer__pbw_uint(&a, 20, ATTR_INT);
        infer__pbw_msg(&nd, 5, &a);
    }
    infer__pbw_msg(g, 1, &nd);
}

/* Why: copies a field of a message as it was read (unknown fields survive the rewrite). */
static void put_field(pb_buf *b, const pb_field *f)
{
    if (f->wt == 2) {
        infer__pbw_bytes(b, f->num, f->ptr, f->len);
    } else if (f->wt == 0) {
        infer__pbw_uint(b, f->num, f->v);
    } else {
        infer__pbw_varint(b, (uint64_t)f->num << 3 | (uint64_t)f->wt);
        uint8_t le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (uint8_t)(f->v >> (8 * i));
        infer__pbw_raw(b, le, f->wt == 1 ? 8 : 4);
    }
}

static char *cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* Why: one place that names what quantization adds, after the tensor it comes from (as ORT). */
static void nm(char *buf, size_t cap, const char *base, const char *suffix)
{
    snprintf(buf, cap, "%s%s", base, suffix);
}

/* [outer, ch, inner] of a weight for its output-channel axis */
static void w_split(const ival *w, int axis, int64_t *outer, int64_t *ch, int64_t *inner)
{
    *outer = *inner = 1;
    *ch = w->dims[axis];
    for (int i = 0; i < axis; i++)
        *outer *= w->dims[i];
    for (int i = axis + 1; i < w->ndim; i++)
        *inner *= w->dims[i];
}

/* Why: INT8 symmetric weights, one scale per channel along axis (or one for the tensor);
 * transpose: write [K, N] from a [N, K] weight (Gemm transB for MatMulInteger). Writes the
 * initializers and, unless dynamic, the DequantizeLinear node; returns the scales (malloc'd). */
static float *put_weight(qctx *c, pb_buf *g, const ival *w, int axis, bool transpose, bool write,
                         bool dq_node, int64_t *n_scales)
{
    int64_t outer, ch, inner;
    w_split(w, axis, &outer, &ch, &inner);
    int64_t n = outer * ch * inner, ns = c->o->per_tensor ? 1 : ch;
    const float *x = w->data;
    float *sc = calloc((size_t)ns, sizeof *sc);
    int8_t *q = malloc((size_t)n + 1), *z = calloc((size_t)ns, 1);
    if (!sc || !q || !z) {
        free(sc), free(q), free(z);
        return NULL;
    }
    for (int64_t o = 0, i = 0; o < outer; o++)
        for (int64_t k = 0; k < ch; k++)
            for (int64_t j = 0; j < inner; j++, i++)
                sc[ns == 1 ? 0 : k] = fmaxf(sc[ns == 1 ? 0 : k], fabsf(x[i]));
    for (int64_t k = 0; k < ns; k++) {
        if (!isfinite(sc[k])) {
            free(sc), free(q), free(z);
            fm_err_set(c->err, FM_EINVAL,
                       "cannot quantize '%s': weight '%s' has a value that is not finite",
                       c->m->label, w->name);
            return NULL;
        }
        sc[k] = sc[k] / 127.0f >= FLT_MIN ? sc[k] / 127.0f : 1.0f; /* all (near) zero: any scale */
    }
    for (int64_t o = 0, i = 0; o < outer; o++)
        for (int64_t k = 0; k < ch; k++)
            for (int64_t j = 0; j < inner; j++, i++) {
                float v = nearbyintf(x[i] / sc[ns == 1 ? 0 : k]);
                if (v != v) { /* a NaN weight (the max above skips NaN) */
                    free(sc), free(q), free(z);
                    fm_err_set(c->err, FM_EINVAL,
                               "cannot quantize '%s': weight '%s' has a value that is not finite",
                               c->m->label, w->name);
                    return NULL;
                }
                int64_t dst = i;
                if (transpose)
                    dst = (i % w->dims[1]) * w->dims[0] + i / w->dims[1];
                q[dst] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
            }
    *n_scales = ns;
    if (!write) {
        free(q);
        free(z);
        return sc;
    }
    char a[1200], b[1200], s[1200], zn[1200];
    nm(a, sizeof a, w->name, "_quantized");
    nm(s, sizeof s, w->name, "_scale");
    nm(zn, sizeof zn, w->name, "_zero_point");
    int64_t dims[2] = {transpose ? w->dims[1] : w->dims[0], transpose ? w->dims[0] : w->dims[1]};
    put_tensor(&c->inits, a, INFER_DTYPE_INT8, w->ndim, transpose ? dims : w->dims, q, (size_t)n);
    put_tensor(&c->inits, s, INFER_DTYPE_FP32, ns > 1 ? 1 : 0, &ns, sc, (size_t)ns * 4);
    if (dq_node)
        put_tensor(&c->inits, zn, INFER_DTYPE_INT8, ns > 1 ? 1 : 0, &ns, z, (size_t)ns);
    if (dq_node) {
        nm(b, sizeof b, w->name, "_DequantizeLinear");
        char o[1200];
        nm(o, sizeof o, w->name, "_dequantized");
        const char *in[] = {a, s, zn}, *out[] = {o};
        put_node(g, "DequantizeLinear", b, in, 3, out, 1, ns > 1 ? "axis" : NULL, axis);
    }
    c->st.weights++;
    free(q);
    free(z);
    return sc;
}

static int weight_axis(const inode *n, bool *transpose)
{
    *transpose = false;
    if (n->op == INFER_OP_CONV)
        return 0;
    if (n->op == INFER_OP_GEMM && infer__attr_i(n, "transB", 0))
        return 0;
    return 1; /* [K, N]: one scale per column */
}

/* Why: static mode: the node's weight (once per weight) and bias (per node: its scale depends
 * on the node's input scale) behind DequantizeLinear nodes, written before the first node. */
static int put_static_params(qctx *c, pb_buf *g, size_t ni)
{
    const inode *n = &c->m->nodes[ni];
    const ival *w = val(c, n, 1), *b = val(c, n, 2);
    bool tr;
    int axis = weight_axis(n, &tr);
    int64_t ns = 0;
    int wi = in_idx(c, n, 1);
    float *sw = put_weight(c, g, w, axis, false, !c->wname[wi], true, &ns);
    if (!sw)
        return c->err && c->err->code ? c->err->code
                                      : fm_err_set(c->err, FM_ENOMEM, "out of memory");
    if (!c->wname[wi] && !(c->wname[wi] = cat(w->name, "_dequantized"))) {
        free(sw);
        return fm_err_set(c->err, FM_ENOMEM, "out of memory");
    }
    if (b) {
        float sx = c->stats[c->act[n->in[0]]].scale;
        int64_t nb = b->dims[0];
        int32_t *q = malloc((size_t)nb * 4 + 4);
        float *bs = malloc((size_t)nb * 4 + 4);
        if (!q || !bs) {
            free(q), free(bs), free(sw);
            return fm_err_set(c->err, FM_ENOMEM, "out of memory");
        }
        for (int64_t k = 0; k < nb; k++) {
            bs[k] = sx * sw[ns == 1 ? 0 : k];
            if (!(bs[k] >= FLT_MIN) || !isfinite(bs[k])) {
                double bad = (double)bs[k];
                free(q), free(bs), free(sw);
                return fm_err_set(c->err, FM_EINVAL,
                                  "cannot quantize '%s': node '%s': bias scale %g (input scale "
                                  "times weight scale) out of range",
                                  c->m->label, n->name, bad);
            }
            double v = nearbyint((double)((const float *)b->data)[k] / bs[k]);
            v = v == v ? v : 0; /* a NaN bias */
            q[k] = (int32_t)(v < -2147483647.0  ? -2147483647.0
                             : v > 2147483647.0 ? 2147483647.0
                                                : v);
        }
        char pre[1100], a[1200], s[1200], o[1200], d[1200];
        snprintf(pre, sizeof pre, "%s_n%zu", b->name, ni);
        nm(a, sizeof a, pre, "_quantized");
        nm(s, sizeof s, pre, "_scale");
        nm(o, sizeof o, pre, "_dequantized");
        nm(d, sizeof d, pre, "_DequantizeLinear");
        put_tensor(&c->inits, a, INFER_DTYPE_INT32, 1, &nb, q, (size_t)nb * 4);
        put_tensor(&c->inits, s, INFER_DTYPE_FP32, 1, &nb, bs, (size_t)nb * 4);
        const char *in[] = {a, s}, *out[] = {o};
        put_node(g, "DequantizeLinear", d, in, 2, out, 1, "axis", 0);
        free(q);
        free(bs);
    }
    free(sw);
    return 0;
}

/* Why: the QuantizeLinear/DequantizeLinear pair of activation v, right after its producer. */
static void put_qdq(qctx *c, pb_buf *g, int v)
{
    const qstat *q = &c->stats[c->act[v]];
    const char *x = c->m->vals[v].name;
    char s[1200], z[1200], qo[1200], qn[1200], dqo[1200], dqn[1200];
    nm(s, sizeof s, x, "_scale");
    nm(z, sizeof z, x, "_zero_point");
    nm(qo, sizeof qo, x, "_quantized");
    nm(qn, sizeof qn, x, "_QuantizeLinear");
    nm(dqo, sizeof dqo, x, "_dequantized");
    nm(dqn, sizeof dqn, x, "_DequantizeLinear");
    put_tensor(&c->inits, s, INFER_DTYPE_FP32, 0, NULL, &q->scale, 4);
    put_tensor(&c->inits, z, INFER_DTYPE_UINT8, 0, NULL, &q->zp, 1);
    const char *qi[] = {x, s, z}, *qout[] = {qo}, *di[] = {qo, s, z}, *dout[] = {dqo};
    put_node(g, "QuantizeLinear", qn, qi, 3, qout, 1, NULL, 0);
    put_node(g, "DequantizeLinear", dqn, di, 3, dout, 1, NULL, 0);
    c->st.activations++;
}

/* Why: dynamic mode: one node becomes DynamicQuantizeLinear (once per input), MatMulInteger,
 * Cast, Mul by x_scale * w_scale, and the bias Add; the output keeps its name. */
static int put_dynamic(qctx *c, pb_buf *g, size_t ni)
{
    const inode *n = &c->m->nodes[ni];
    const ival *x = val(c, n, 0), *w = val(c, n, 1), *b = val(c, n, 2);
    const char *y = c->m->vals[n->out[0]].name;
    char xq[1200], xs[1200], xz[1200], dn[1200];
    nm(xq, sizeof xq, x->name, "_dyn_quantized");
    nm(xs, sizeof xs, x->name, "_dyn_scale");
    nm(xz, sizeof xz, x->name, "_dyn_zero_point");
    if (!c->dyn_done[n->in[0]]) {
        nm(dn, sizeof dn, x->name, "_DynamicQuantizeLinear");
        const char *in[] = {x->name}, *out[] = {xq, xs, xz};
        put_node(g, "DynamicQuantizeLinear", dn, in, 1, out, 3, NULL, 0);
        c->dyn_done[n->in[0]] = 1;
    }
    bool tr;
    int axis = weight_axis(n, &tr);
    char wq[1200], ws[1200];
    nm(wq, sizeof wq, w->name, "_quantized");
    nm(ws, sizeof ws, w->name, "_scale");
    int wi = in_idx(c, n, 1);
    if (!c->wname[wi]) {
        int64_t ns;
        float *sw = put_weight(c, g, w, axis, axis == 0, true, false, &ns);
        if (!sw)
            return c->err && c->err->code ? c->err->code
                                          : fm_err_set(c->err, FM_ENOMEM, "out of memory");
        if (!(c->wname[wi] = cat(w->name, "_quantized"))) {
            free(sw);
            return fm_err_set(c->err, FM_ENOMEM, "out of memory");
        }
        free(sw);
    }
    char mi[1200], mo[1200], co[1200], cn[1200], so[1200], sn[1200], mn[1200], yo[1200];
    snprintf(mi, sizeof mi, "%s_MatMulInteger", y);
    nm(mo, sizeof mo, y, "_int32");
    nm(cn, sizeof cn, y, "_Cast");
    nm(co, sizeof co, y, "_float");
    nm(sn, sizeof sn, y, "_ScaleMul");
    nm(so, sizeof so, y, "_scale");
    nm(mn, sizeof mn, y, "_Mul");
    nm(yo, sizeof yo, y, b ? "_nobias" : "");
    const char *i1[] = {xq, wq, xz}, *o1[] = {mo};
    put_node(g, "MatMulInteger", mi, i1, 3, o1, 1, NULL, 0);
    const char *i2[] = {mo}, *o2[] = {co};
    put_node(g, "Cast", cn, i2, 1, o2, 1, "to", INFER_DTYPE_FP32);
    const char *i3[] = {xs, ws}, *o3[] = {so};
    put_node(g, "Mul", sn, i3, 2, o3, 1, NULL, 0);
    const char *i4[] = {co, so}, *o4[] = {yo};
    put_node(g, "Mul", mn, i4, 2, o4, 1, NULL, 0);
    if (b) {
        char an[1200];
        nm(an, sizeof an, y, "_BiasAdd");
        const char *i5[] = {yo, b->name}, *o5[] = {y};
        put_node(g, "Add", an, i5, 2, o5, 1, NULL, 0);
    }
    return 0;
}

/* Why: a copied node reads the dequantized tensors in place of the FP32 ones. */
static void put_rewired(qctx *c, pb_buf *g, const uint8_t *msg, size_t len, int ni)
{
    pb_buf nd = {0};
    pb_rd r = {msg, msg + len};
    pb_field f;
    int k = 0;
    while (infer__pb_next(&r, &f) == 1) {
        if (f.num != 1 || f.wt != 2 || ni < 0) {
            put_field(&nd, &f);
            continue;
        }
        const inode *n = &c->m->nodes[ni];
        int v = k < n->n_in ? n->in[k] : -1;
        char buf[1200];
        const char *rep = NULL;
        if (v >= 0 && c->qnode[ni] == Q_STATIC && k == 1)
            rep = c->wname[in_idx(c, n, 1)];
        else if (v >= 0 && c->qnode[ni] == Q_STATIC && k == 2) {
            snprintf(buf, sizeof buf, "%s_n%d_dequantized", c->m->vals[in_idx(c, n, 2)].name, ni);
            rep = buf;
        } else if (v >= 0 && c->act[v] >= 0) {
            nm(buf, sizeof buf, c->m->vals[v].name, "_dequantized");
            rep = buf;
        }
        if (rep)
            infer__pbw_str(&nd, 1, rep);
        else
            put_field(&nd, &f);
        k++;
    }
    infer__pbw_msg(g, 1, &nd);
}

/* the model node whose first output has this name (-1: a Constant node or unknown) */
static int node_of(qctx *c, const uint8_t *msg, size_t len, bool *is_const, int *const_out)
{
    pb_rd r = {msg, msg + len};
    pb_field f;
    const uint8_t *p = NULL;
    size_t pl = 0;
    *is_const = false;
    *const_out = -1;
    while (infer__pb_next(&r, &f) == 1) {
        if (f.num == 2 && f.wt == 2 && !p)
            p = f.ptr, pl = f.len;
        if (f.num == 4 && f.wt == 2 && f.len == 8 && !memcmp(f.ptr, "Constant", 8))
            *is_const = true;
    }
    if (!p)
        return -1;
    for (size_t v = 0; v < c->m->n_vals; v++) {
        const char *s = c->m->vals[v].name;
        if (strlen(s) == pl && !memcmp(s, p, pl)) {
            if (*is_const)
                *const_out = (int)v;
            return c->m->vals[v].producer;
        }
    }
    return -1;
}

static int tensor_val(qctx *c, const uint8_t *msg, size_t len)
{
    pb_rd r = {msg, msg + len};
    pb_field f;
    while (infer__pb_next(&r, &f) == 1)
        if (f.num == 8 && f.wt == 2)
            for (size_t v = 0; v < c->m->n_vals; v++) {
                const char *s = c->m->vals[v].name;
                if (strlen(s) == f.len && !memcmp(s, f.ptr, f.len))
                    return (int)v;
            }
    return -1;
}

/* Why: FP32 weights that only quantized nodes read (as weight or bias, directly or through
 * Identity nodes) leave the file, with those Identity nodes. Repeated until nothing changes,
 * since dropping an Identity frees the value it reads. */
static void mark_drops(qctx *c)
{
    infer_model *m = c->m;
    uint8_t *keep = calloc(m->n_vals + 1, 1);
    if (!keep)
        return;
    for (size_t v = 0; v < m->n_vals; v++)
        c->drop[v] = m->vals[v].kind == VAL_INIT || wsrc(m, (int)v) >= 0;
    bool changed = true;
    while (changed) {
        changed = false;
        memset(keep, 0, m->n_vals + 1);
        for (size_t i = 0; i < m->n_nodes; i++) {
            const inode *n = &m->nodes[i];
            if (n->op == INFER_OP_IDENTITY && c->drop[n->out[0]])
                continue; /* dropped itself */
            for (int k = 0; k < n->n_in; k++) {
                int v = n->in[k];
                if (v < 0)
                    continue;
                bool q = c->qnode[i] && (k == 1 || (k == 2 && c->qnode[i] == Q_STATIC));
                if (!q)
                    keep[v] = 1;
            }
        }
        for (size_t v = 0; v < m->n_vals; v++)
            if (c->drop[v] && (keep[v] || m->vals[v].is_output)) {
                c->drop[v] = 0;
                changed = true;
            }
    }
    free(keep);
}

static int write_graph(qctx *c, const uint8_t *msg, size_t len, pb_buf *g)
{
    infer_model *m = c->m;
    pb_rd r = {msg, msg + len};
    pb_field f;
    bool pre = false;
    int rc = 0;
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.num == 1 && f.wt == 2) {
            if (!pre) { /* weights, biases and graph inputs first */
                pre = true;
                int e = 0;
                for (size_t i = 0; i < m->n_nodes && !e; i++)
                    if (c->qnode[i] == Q_STATIC)
                        e = put_static_params(c, g, i);
                if (e)
                    return e;
                for (size_t i = 0; i < m->n_inputs; i++)
                    if (c->act[m->inputs[i]] >= 0)
                        put_qdq(c, g, m->inputs[i]);
            }
            bool is_const;
            int cv;
            int ni = node_of(c, f.ptr, f.len, &is_const, &cv);
            if (is_const && cv >= 0 && c->drop[cv])
                continue;
            if (ni >= 0 && m->nodes[ni].op == INFER_OP_IDENTITY && c->drop[m->nodes[ni].out[0]])
                continue;
            if (ni >= 0 && c->qnode[ni] == Q_DYNAMIC) {
                int e = put_dynamic(c, g, (size_t)ni);
                if (e)
                    return e;
            } else {
                put_rewired(c, g, f.ptr, f.len, is_const ? -1 : ni);
            }
            if (ni >= 0)
                for (int k = 0; k < m->nodes[ni].n_out; k++)
                    if (c->act[m->nodes[ni].out[k]] >= 0)
                        put_qdq(c, g, m->nodes[ni].out[k]);
        } else if (f.num == 5 && f.wt == 2) {
            int v = tensor_val(c, f.ptr, f.len);
            if (v < 0 || !c->drop[v])
                put_field(g, &f);
        } else {
            put_field(g, &f);
        }
    }
    if (rc < 0)
        return fm_err_set(c->err, FM_EPARSE, "malformed graph");
    infer__pbw_raw(g, c->inits.p, c->inits.len);
    if (c->inits.oom)
        g->oom = true;
    return 0;
}

static int write_file(const char *path, const pb_buf *b, fm_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fm_err_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->p + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd) || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
    }
    return 0;
}

int infer_quantize(infer_model *m, const infer_quant_opts *o, const char *out_path,
                   infer_quant_stats *st, fm_err *err)
{
    infer_quant_opts def;
    if (!o) {
        infer_quant_opts_init(&def);
        o = &def;
    }
    if (o->method == INFER_CALIB_PERCENTILE && !(o->percentile > 50 && o->percentile <= 100))
        return fm_err_set(err, FM_EINVAL, "percentile %g out of range (50, 100]", o->percentile);
    int need = o->mode == INFER_QUANT_DYNAMIC ? 11 : o->per_tensor ? 10 : 13;
    if (m->opset < need)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "cannot quantize '%s': opset %lld, %s quantization needs %d", m->label,
                          (long long)m->opset,
                          o->mode == INFER_QUANT_DYNAMIC ? "dynamic"
                          : o->per_tensor                ? "static"
                                                         : "per-channel",
                          need);
    qctx c = {.m = m, .o = o, .err = err};
    size_t nv = m->n_vals + 1;
    c.qnode = calloc(m->n_nodes + 1, 1);
    c.act = malloc(nv * sizeof *c.act);
    c.drop = calloc(nv, 1);
    c.dyn_done = calloc(nv, 1);
    c.wname = calloc(nv, sizeof *c.wname);
    pb_buf out = {0}, g = {0};
    int rc = 0;
    if (!c.qnode || !c.act || !c.drop || !c.dyn_done || !c.wname) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t v = 0; v < nv; v++)
        c.act[v] = -1;
    select_nodes(&c);
    if (!c.st.nodes) {
        rc = fm_err_set(err, FM_EUNSUPPORTED,
                        "cannot quantize '%s': no %s with constant FP32 weights", m->label,
                        o->mode == INFER_QUANT_DYNAMIC ? "MatMul or Gemm" : "Conv, MatMul or Gemm");
        goto done;
    }
    c.stats = calloc(c.n_act + 1, sizeof *c.stats);
    if (!c.stats) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    if (o->mode == INFER_QUANT_STATIC && (rc = calibrate(&c)))
        goto done;
    mark_drops(&c);
    pb_rd r = {m->map, m->map + m->map_len};
    pb_field f;
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.num == 7 && f.wt == 2) {
            if ((rc = write_graph(&c, f.ptr, f.len, &g)))
                goto done;
            infer__pbw_msg(&out, 7, &g);
        } else {
            put_field(&out, &f);
        }
    }
    if (rc < 0) {
        rc = fm_err_set(err, FM_EPARSE, "cannot quantize '%s': malformed model", m->label);
        goto done;
    }
    if (out.oom) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto done;
    }
    rc = write_file(out_path, &out, err);
    c.st.bytes_in = m->map_len;
    c.st.bytes_out = out.len;
    if (st)
        *st = c.st;
done:
    infer__pbw_free(&out);
    infer__pbw_free(&g);
    infer__pbw_free(&c.inits);
    for (size_t v = 0; c.wname && v < nv; v++)
        free(c.wname[v]);
    free(c.wname);
    free(c.qnode);
    free(c.act);
    free(c.drop);
    free(c.dyn_done);
    for (size_t a = 0; c.stats && a < c.n_act; a++)
        free(c.stats[a].hist);
    free(c.stats);
    return rc;
}

/* ---- accuracy
 * ------------------------------------------------------------------------------------- */

void infer_accuracy_init(infer_accuracy *a)
{
    memset(a, 0, sizeof *a);
    a->cos_min = 1;
}

/* rank of class j among the row (0: the largest) is < k */
static bool in_top(const float *row, int64_t classes, int64_t j, int k)
{
    int above = 0;
    for (int64_t i = 0; i < classes; i++)
        if (row[i] > row[j] || (row[i] == row[j] && i < j))
            above++;
    return above < k;
}

/* Why: the figures the issue asks of every model and precision, per sample. */
void infer_accuracy_add(infer_accuracy *a, const float *got, const float *want, int64_t n,
                        int64_t classes)
{
    double dot = 0, ng = 0, nw = 0, maxd = 0, maxw = 0;
    for (int64_t i = 0; i < n; i++) {
        dot += (double)got[i] * want[i];
        ng += (double)got[i] * got[i];
        nw += (double)want[i] * want[i];
        double d = fabs((double)got[i] - want[i]);
        if (d > maxd || isnan(d))
            maxd = isnan(d) ? INFINITY : d;
        if (fabs(want[i]) > maxw)
            maxw = fabs(want[i]);
    }
    double cs = ng > 0 && nw > 0 ? dot / sqrt(ng * nw) : (ng == nw ? 1 : 0);
    a->cos_min = fmin(a->cos_min, cs);
    a->cos_mean += cs;
    a->max_rel_err = fmax(a->max_rel_err, maxw > 0 ? maxd / maxw : maxd);
    if (classes < 1)
        classes = n;
    int64_t rows = n / classes, t1 = 0, t5 = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *g = got + r * classes, *w = want + r * classes;
        int64_t wa = 0;
        for (int64_t j = 1; j < classes; j++)
            if (w[j] > w[wa])
                wa = j;
        if (in_top(g, classes, wa, 1))
            t1++;
        if (in_top(g, classes, wa, 5))
            t5++;
    }
    a->top1 += rows ? (double)t1 / (double)rows : 0;
    a->top5 += rows ? (double)t5 / (double)rows : 0;
    a->samples++;
}

void infer_accuracy_finish(infer_accuracy *a)
{
    if (!a->samples)
        return;
    a->cos_mean /= (double)a->samples;
    a->top1 /= (double)a->samples;
    a->top5 /= (double)a->samples;
}

/* Why: `infer --accuracy`, `quantize --eval` and `calibrate --accuracy` report the same figures
 * on the same samples, so there is one loop that makes them. */
int infer_accuracy_measure(const infer_model *m, infer_session *got, infer_session *want,
                           int64_t samples, int64_t vocab, uint64_t seed, infer_accuracy *acc,
                           fm_err *err)
{
    enum { MAX_IN = 16 };
    size_t ni = infer_model_n_inputs(m);
    infer_tensor in[MAX_IN] = {0};
    int rc = 0;
    infer_accuracy_init(acc);
    if (ni > MAX_IN)
        return fm_err_set(err, FM_EUNSUPPORTED, "model has more than %d inputs", MAX_IN);
    fm_rng rng;
    fm_rng_seed(&rng, seed);
    for (int64_t k = 0; !rc && k < samples; k++) {
        for (size_t i = 0; !rc && i < ni; i++) {
            infer_io_info info;
            infer_model_input(m, i, &info);
            free(in[i].data);
            rc = infer_sample_input(&info, 1, vocab, &rng, &in[i], err);
        }
        infer_tensor a = {0}, b = {0};
        if (!rc)
            rc = infer_session_run(got, in, ni, &a, 1, err);
        if (!rc)
            rc = infer_session_run(want, in, ni, &b, 1, err);
        if (!rc &&
            (a.dtype != INFER_DTYPE_FP32 || b.dtype != INFER_DTYPE_FP32 || a.bytes != b.bytes))
            rc = fm_err_set(err, FM_ETYPE,
                            "first outputs differ in type or size from the reference's");
        if (!rc)
            infer_accuracy_add(acc, a.data, b.data, (int64_t)(a.bytes / 4),
                               a.ndim ? a.dims[a.ndim - 1] : 1);
    }
    infer_accuracy_finish(acc);
    for (size_t i = 0; i < ni; i++)
        free(in[i].data);
    return rc;
}

int infer_sample_input(const infer_io_info *info, int64_t batch, int64_t vocab, fm_rng *rng,
                       infer_tensor *t, fm_err *err)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    memset(t, 0, sizeof *t);
    t->name = info->name;
    t->dtype = info->dtype;
    t->ndim = info->ndim < 0 ? 0 : info->ndim;
    for (int k = 0; k < t->ndim; k++)
        t->dims[k] = info->dims[k] >= 0 ? info->dims[k] : (k == 0 ? batch : 1);
    int64_t n = infer_tensor_numel(t);
    size_t es = infer_dtype_size(t->dtype);
    if (n < 0 || !es)
        return fm_err_set(err, FM_EUNSUPPORTED, "input '%s': cannot make samples of type %s",
                          info->name, infer_dtype_name(info->dtype));
    t->bytes = (size_t)n * es;
    t->data = malloc(t->bytes + 1);
    if (!t->data)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    if (vocab <= 0)
        vocab = 1000;
    if (t->dtype == INFER_DTYPE_FP32 && t->ndim == 4) { /* smooth image-like planes */
        int64_t B = t->dims[0], C = t->dims[1], H = t->dims[2], W = t->dims[3], G = 8;
        float *x = t->data, grid[9][9];
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < C; c++) {
                double base = fm_rng_uniform(rng);
                for (int i = 0; i <= G; i++)
                    for (int j = 0; j <= G; j++)
                        grid[i][j] = (float)(0.6 * base + 0.4 * fm_rng_uniform(rng));
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++) {
                        float gy = (float)h * G / (float)FM_MAX(H - 1, 1),
                              gx = (float)w * G / (float)FM_MAX(W - 1, 1);
                        int iy = (int)fminf(gy, G - 1), ix = (int)fminf(gx, G - 1);
                        float fy = gy - iy, fx = gx - ix;
                        float v = grid[iy][ix] * (1 - fy) * (1 - fx) +
                                  grid[iy][ix + 1] * (1 - fy) * fx +
                                  grid[iy + 1][ix] * fy * (1 - fx) + grid[iy + 1][ix + 1] * fy * fx;
                        x[((b * C + c) * H + h) * W + w] = C == 3 ? (v - mean[c]) / sd[c] : v;
                    }
            }
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case INFER_DTYPE_FP32: ((float *)t->data)[i] = (float)fm_rng_normal(rng, 0, 1); break;
        case INFER_DTYPE_INT64:
            ((int64_t *)t->data)[i] = (int64_t)fm_rng_below(rng, (uint64_t)vocab);
            break;
        case INFER_DTYPE_INT32:
            ((int32_t *)t->data)[i] = (int32_t)fm_rng_below(rng, (uint64_t)vocab);
            break;
        default: memset((char *)t->data + (size_t)i * es, (int)fm_rng_below(rng, 2), es); break;
        }
    }
    return 0;
}
