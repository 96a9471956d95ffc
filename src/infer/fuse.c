/*
 * fuse.c — graph rewrites made while planning: a producer absorbing its activation or bias add,
 * the GELU and LayerNorm chains exporters decompose put back together, and the NHWC layout
 * region between convolutions. Each works on the plan's steps and the model's consumer lists.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ops_int.h"

/* Why: a producer whose only consumer is an activation or bias add absorbs it (XNNPACK applies
 * the clamp/bias while writing the output); the consumer then runs as a free alias. */
void infer__fuse_producer(infer_session *s, step *st, int ni)
{
    const infer_model *m = s->m;
    int v = st->node->out[0];
    if (s->reference || s->calibrating)
        return;
    if (st->n_out != 1 || s->consumers[v] != 1 || m->vals[v].is_output)
        return;
    int ci = s->consumer[v];
    const inode *c = &m->nodes[ci];
    if (c->in[0] != v) {
        if (!(st->op == INFER_OP_MATMUL && c->op == INFER_OP_ADD && c->n_in == 2 && c->in[1] == v))
            return;
    }
    (void)ni;
    if (st->op == INFER_OP_ADD && c->op == INFER_OP_RELU && st->n_in == 2 &&
        st->out[0]->dtype == INFER_DTYPE_FP32) {
        st->fuse_min = 0; /* Add + Relu (residual blocks): clamped while adding */
        s->fused[ci] = 1;
    } else if (st->op == INFER_OP_CONV && st->in[1]->is_const) {
        if (c->op == INFER_OP_RELU) {
            st->fuse_min = 0;
        } else if (c->op == INFER_OP_CLIP) {
            float lo = infer__attr_f(c, "min", -INFINITY), hi = infer__attr_f(c, "max", INFINITY);
            for (int k = 1; k < c->n_in && k < 3; k++) {
                if (c->in[k] < 0)
                    continue;
                const rt_val *b = &s->vals[c->in[k]];
                if (!b->is_const || b->dtype != INFER_DTYPE_FP32 || b->numel != 1)
                    return;
                float x;
                memcpy(&x, b->data, 4);
                if (k == 1)
                    lo = x;
                else
                    hi = x;
            }
            st->fuse_min = lo;
            st->fuse_max = hi;
        } else {
            return;
        }
        s->fused[ci] = 1;
    } else if (st->op == INFER_OP_MATMUL && c->op == INFER_OP_ADD && c->n_in == 2 &&
               st->in[1]->is_const && st->in[1]->ndim == 2 && !st->in[0]->is_const &&
               st->in[0]->ndim >= 2) {
        int other = c->in[0] == v ? c->in[1] : c->in[0];
        const rt_val *b = &s->vals[other];
        if (!b->is_const || b->dtype != INFER_DTYPE_FP32 || b->ndim != 1 ||
            b->numel != st->in[1]->dims[1])
            return;
        st->fused_bias = b;
        s->fused[ci] = 1;
    }
}

/* Why: elementwise steps over 4-D activations of one shape do not care about layout, so NHWC
 * data can flow through them between convolutions. */
static bool elem_any_layout(const step *st)
{
    static const infer_op ok[] = {INFER_OP_RELU,       INFER_OP_CLIP, INFER_OP_SIGMOID,
                                  INFER_OP_HARD_SWISH, INFER_OP_TANH, INFER_OP_ADD,
                                  INFER_OP_SUB,        INFER_OP_MUL,  INFER_OP_DIV};
    bool found = false, q = st->op == INFER_OP_QUANTIZE_LINEAR ||
                            st->op == INFER_OP_DEQUANTIZE_LINEAR || st->op == INFER_OP_QLINEAR_ADD;
    for (size_t i = 0; i < FM_ARRAY_LEN(ok); i++)
        found |= st->op == (int)ok[i];
    const rt_val *o = st->out[0];
    if (!(found || q) || (o->dtype != INFER_DTYPE_FP32 && !q) || o->ndim != 4)
        return false;
    for (int k = 0; k < st->n_in; k++) {
        const rt_val *v = st->in[k];
        if (!v)
            continue;
        if (v->is_const) {
            if (v->numel != 1)
                return false;
        } else if (v->ndim != 4 || memcmp(v->dims, o->dims, sizeof(int64_t) * 4)) {
            return false;
        }
    }
    return true;
}

/* steps that compute in NHWC on XNNPACK: they accept NHWC input 0 and may write NHWC */
static bool nhwc_step(const step *st)
{
    return (st->xnn && (st->op == INFER_OP_CONV || st->op == INFER_OP_MAX_POOL)) || st->qint8;
}

/* Why: convolutions run NHWC; keeping activations NHWC between them (through activations and
 * residual adds, into global pooling) removes two transposes per convolution. A value is NHWC
 * when every consumer accepts it; anything else (graph outputs, reshapes, pooling) gets NCHW. */
int infer__layout_pass(infer_session *s)
{
    size_t nv = s->m->n_vals;
    uint8_t *cand = calloc(nv + 1, 1);
    if (!cand)
        return FM_ENOMEM;
    for (size_t j = 0; j < s->n_steps; j++) {
        const step *st = &s->steps[j];
        if (nhwc_step(st) || elem_any_layout(st))
            cand[infer__session_root(s, (int)(st->out[0] - s->vals))] = 1;
    }
    for (size_t i = 0; i < s->m->n_outputs; i++)
        cand[infer__session_root(s, s->m->outputs[i])] = 0;
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t j = 0; j < s->n_steps; j++) {
            const step *st = &s->steps[j];
            bool conv = nhwc_step(st), el = elem_any_layout(st);
            int ro = infer__session_root(s, (int)(st->out[0] - s->vals));
            for (int k = 0; k < st->n_in; k++) {
                if (!st->in[k] || st->in[k]->is_const)
                    continue;
                int r = infer__session_root(s, (int)(st->in[k] - s->vals));
                if (!cand[r]) {
                    if (el && cand[ro]) {
                        cand[ro] = 0;
                        changed = true;
                    }
                    continue;
                }
                bool accept =
                    (conv && k == 0) || st->op == INFER_OP_GLOBAL_AVERAGE_POOL || (el && cand[ro]);
                if (!accept) {
                    cand[r] = 0;
                    changed = true;
                }
            }
        }
    }
    for (size_t i = 0; i < nv; i++)
        s->vals[i].nhwc = !s->vals[i].is_const && cand[infer__session_root(s, (int)i)];
    for (size_t j = 0; j < s->n_steps; j++) {
        step *st = &s->steps[j];
        if (!nhwc_step(st))
            continue;
        st->in_nhwc = st->in[0]->nhwc;
        st->out_nhwc = st->out[0]->nhwc;
        if (st->qint8)
            continue; /* oneDNN reads either layout in place */
        st->scratch_bytes = (size_t)((st->in_nhwc ? 0 : st->in[0]->numel) +
                                     (st->out_nhwc ? 0 : st->out[0]->numel)) *
                            sizeof(float);
    }
    free(cand);
    return 0;
}

/* ---- pattern fusion: exporters decompose GELU and LayerNorm; put them back together ---------- */

/* the only consumer of value v (v not a graph output), or -1 */
static int sole_consumer(const infer_session *s, int v)
{
    if (v < 0 || s->consumers[v] != 1 || s->m->vals[v].is_output)
        return -1;
    return s->consumer[v];
}

static bool const_scalar(const infer_session *s, int v, float want, float tol, float *got)
{
    if (v < 0)
        return false;
    const rt_val *r = &s->vals[v];
    if (!r->is_const || r->dtype != INFER_DTYPE_FP32 || r->numel != 1)
        return false;
    float x;
    memcpy(&x, r->data, 4);
    if (got)
        *got = x;
    return tol < 0 || fabsf(x - want) <= tol;
}

/* the input of binary node n that is not v; -1 when v is not exactly one of them */
static int other_in(const inode *n, int v)
{
    if (n->n_in != 2)
        return -1;
    if (n->in[0] == v && n->in[1] != v)
        return n->in[1];
    if (n->in[1] == v && n->in[0] != v)
        return n->in[0];
    return -1;
}

static bool is_op(const infer_model *m, int ni, infer_op op)
{
    return ni >= 0 && m->nodes[ni].op == (int)op;
}

/* Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x) -> Mul(0.5): returns the last node, or -1. */
int infer__match_gelu(const infer_session *s, int ni, int *chain, int *nc)
{
    const infer_model *m = s->m;
    const inode *d = &m->nodes[ni];
    if (!is_op(m, ni, INFER_OP_DIV) || d->n_in != 2 ||
        !const_scalar(s, d->in[1], 1.41421356f, 1e-3f, NULL))
        return -1;
    int x = d->in[0];
    int e = sole_consumer(s, d->out[0]);
    if (!is_op(m, e, INFER_OP_ERF))
        return -1;
    int a = sole_consumer(s, m->nodes[e].out[0]);
    if (!is_op(m, a, INFER_OP_ADD) ||
        !const_scalar(s, other_in(&m->nodes[a], m->nodes[e].out[0]), 1.0f, 1e-6f, NULL))
        return -1;
    int m1 = sole_consumer(s, m->nodes[a].out[0]);
    if (!is_op(m, m1, INFER_OP_MUL) || other_in(&m->nodes[m1], m->nodes[a].out[0]) != x)
        return -1;
    int m2 = sole_consumer(s, m->nodes[m1].out[0]);
    if (!is_op(m, m2, INFER_OP_MUL) ||
        !const_scalar(s, other_in(&m->nodes[m2], m->nodes[m1].out[0]), 0.5f, 1e-6f, NULL))
        return -1;
    int c[] = {e, a, m1, m2};
    memcpy(chain, c, sizeof c);
    *nc = 4;
    return m2;
}

/* ReduceMean(x) -> Sub(x, mean) -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Div(sub, sd) ->
 * Mul(gamma) -> Add(beta), over the last axis: returns the last node, or -1. */
int infer__match_layernorm(const infer_session *s, int ni, int *chain, int *nc, int *gamma,
                           int *beta, float *eps)
{
    const infer_model *m = s->m;
    const inode *r1 = &m->nodes[ni];
    if (!is_op(m, ni, INFER_OP_REDUCE_MEAN) || r1->n_in != 1 ||
        infer__attr_i(r1, "keepdims", 1) != 1)
        return -1;
    int64_t ax[2];
    int rank = s->vals[r1->in[0]].ndim;
    if (infer__attr_ints(r1, "axes", ax, 2) != 1 || (ax[0] != -1 && ax[0] != rank - 1))
        return -1;
    int x = r1->in[0];
    int sb = sole_consumer(s, r1->out[0]);
    if (!is_op(m, sb, INFER_OP_SUB) || m->nodes[sb].in[0] != x || m->nodes[sb].in[1] != r1->out[0])
        return -1;
    int d = m->nodes[sb].out[0];
    if (s->consumers[d] != 2 || m->vals[d].is_output)
        return -1;
    int pw = -1, dv = -1;
    for (int k = s->cons_start[d]; k < s->cons_start[d + 1]; k++) {
        int c = s->cons_list[k];
        if (is_op(m, c, INFER_OP_POW))
            pw = c;
        if (is_op(m, c, INFER_OP_DIV))
            dv = c;
    }
    if (pw < 0 || dv < 0 || m->nodes[pw].in[0] != d ||
        !const_scalar(s, m->nodes[pw].in[1], 2.0f, 0, NULL))
        return -1;
    int r2 = sole_consumer(s, m->nodes[pw].out[0]);
    if (!is_op(m, r2, INFER_OP_REDUCE_MEAN) || m->nodes[r2].n_in != 1 ||
        infer__attr_ints(&m->nodes[r2], "axes", ax, 2) != 1 || (ax[0] != -1 && ax[0] != rank - 1) ||
        infer__attr_i(&m->nodes[r2], "keepdims", 1) != 1)
        return -1;
    int ad = sole_consumer(s, m->nodes[r2].out[0]);
    if (!is_op(m, ad, INFER_OP_ADD) ||
        !const_scalar(s, other_in(&m->nodes[ad], m->nodes[r2].out[0]), 0, -1, eps))
        return -1;
    int sq = sole_consumer(s, m->nodes[ad].out[0]);
    if (!is_op(m, sq, INFER_OP_SQRT) || sole_consumer(s, m->nodes[sq].out[0]) != dv)
        return -1;
    if (m->nodes[dv].in[0] != d || m->nodes[dv].in[1] != m->nodes[sq].out[0])
        return -1;
    int mu = sole_consumer(s, m->nodes[dv].out[0]);
    if (!is_op(m, mu, INFER_OP_MUL))
        return -1;
    int ab = sole_consumer(s, m->nodes[mu].out[0]);
    if (!is_op(m, ab, INFER_OP_ADD))
        return -1;
    *gamma = other_in(&m->nodes[mu], m->nodes[dv].out[0]);
    *beta = other_in(&m->nodes[ab], m->nodes[mu].out[0]);
    int64_t hid = rank > 0 ? s->vals[x].dims[rank - 1] : -1;
    for (int k = 0; k < 2; k++) {
        int v = k ? *beta : *gamma;
        if (v < 0 || !s->vals[v].is_const || s->vals[v].dtype != INFER_DTYPE_FP32 ||
            s->vals[v].ndim != 1 || s->vals[v].numel != hid)
            return -1;
    }
    int c[] = {sb, pw, r2, ad, sq, dv, mu, ab};
    memcpy(chain, c, sizeof c);
    *nc = 8;
    return ab;
}
