/*
 * qdq.c — integer fast paths. While planning, a QDQ group
 *     DequantizeLinear(x) -> Conv(., DequantizeLinear(w), bias) [-> Relu | Clip] -> QuantizeLinear
 * becomes one QLinearConv step on the quantized tensors (the weight's DequantizeLinear is never
 * run, so INT8 weights are never expanded to FP32), and a residual join
 *     DequantizeLinear(a) + DequantizeLinear(b) [-> Relu] -> QuantizeLinear
 * becomes one QLinearAdd step on the quantized tensors. QLinearConv steps, fused or in the file,
 * and MatMulInteger steps with constant INT8 weights run on oneDNN's int8 primitives (VNNI) on the
 * calling thread; everything else, and reference-mode sessions, runs ops_quant.c's scalar kernels,
 * which the tests compare these with.
 */
#include <dnnl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ops_int.h"

void omp_set_num_threads(int n); /* libgomp, which oneDNN links */

static void eng_init(void);
static pthread_once_t eng_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_status_t eng_status;

/* Why: oneDNN's int8 kernels beat the scalar ones at any thread count; each call runs on the
 * calling thread alone (OpenMP set to 1 thread), so sessions with a pool use them too. */
bool infer__int8_wanted(const infer_session *s)
{
    if (s->env.no_qdnnl || s->env.no_dnnl || s->reference)
        return false;
    pthread_once(&eng_once, eng_init);
    return eng_status == dnnl_success;
}

/* ---- finding QDQ groups --------------------------------------------------------------------- */

static bool is_node(const infer_model *m, int ni, infer_op op)
{
    return ni >= 0 && m->nodes[ni].op == (int)op;
}

static int producer(const infer_model *m, int v)
{
    return v >= 0 ? m->vals[v].producer : -1;
}

static bool is_init(const infer_model *m, const inode *n, int k)
{
    return k < n->n_in && n->in[k] >= 0 && m->vals[n->in[k]].kind == VAL_INIT;
}

static int64_t init_numel(const infer_model *m, int v)
{
    const ival *iv = &m->vals[v];
    size_t es = infer_dtype_size(iv->dtype);
    return es ? (int64_t)(iv->bytes / es) : -1;
}

/* DequantizeLinear with constant scale and zero point, per tensor (or per channel when allowed) */
static bool dq_const(const infer_model *m, int ni, infer_dtype t, bool per_channel_ok)
{
    if (!is_node(m, ni, INFER_OP_DEQUANTIZE_LINEAR))
        return false;
    const inode *d = &m->nodes[ni];
    if (!is_init(m, d, 1) || (d->n_in > 2 && d->in[2] >= 0 && !is_init(m, d, 2)))
        return false;
    if (m->vals[d->in[1]].dtype != INFER_DTYPE_FP32)
        return false;
    if (!per_channel_ok && init_numel(m, d->in[1]) != 1)
        return false;
    int zv = d->n_in > 2 ? d->in[2] : -1;
    infer_dtype zt = zv >= 0 ? m->vals[zv].dtype : INFER_DTYPE_UINT8;
    return t == INFER_DTYPE_UNDEFINED || zt == t;
}

static int sole(const infer_session *s, int v)
{
    return v >= 0 && s->consumers[v] == 1 && !s->m->vals[v].is_output ? s->consumer[v] : -1;
}

/* Why: the group of Conv node ni (see the file comment): the QuantizeLinear node ending it, or
 * -1; *act gets the Relu/Clip between them (or -1). */
static int match_conv(const infer_session *s, int ni, int *act)
{
    const infer_model *m = s->m;
    const inode *c = &m->nodes[ni];
    *act = -1;
    if (c->op != INFER_OP_CONV || c->n_in < 2 || c->n_out != 1)
        return -1;
    int dx = producer(m, c->in[0]), dw = producer(m, c->in[1]);
    if (!dq_const(m, dx, INFER_DTYPE_UINT8, false) && !dq_const(m, dx, INFER_DTYPE_INT8, false))
        return -1;
    if (!dq_const(m, dw, INFER_DTYPE_INT8, true) || !is_init(m, &m->nodes[dw], 0))
        return -1;
    const inode *w = &m->nodes[dw];
    if (m->vals[w->in[0]].ndim != 4 || infer__attr_i(w, "axis", 1) != 0) {
        if (init_numel(m, w->in[1]) != 1)
            return -1; /* per channel only along the output axis */
    }
    if (w->n_in > 2 && w->in[2] >= 0) { /* symmetric weights only */
        const ival *z = &m->vals[w->in[2]];
        for (size_t i = 0; i < z->bytes; i++)
            if (((const int8_t *)z->data)[i])
                return -1;
    }
    if (c->n_in > 2 && c->in[2] >= 0) { /* bias: a constant, or DequantizeLinear of one */
        int db = producer(m, c->in[2]);
        if (!(m->vals[c->in[2]].kind == VAL_INIT ||
              (is_node(m, db, INFER_OP_DEQUANTIZE_LINEAR) && is_init(m, &m->nodes[db], 0) &&
               is_init(m, &m->nodes[db], 1))))
            return -1;
    }
    int nx = sole(s, c->out[0]);
    if (is_node(m, nx, INFER_OP_RELU) || is_node(m, nx, INFER_OP_CLIP)) {
        const inode *a = &m->nodes[nx];
        for (int k = 1; k < a->n_in; k++)
            if (a->in[k] >= 0 && (!is_init(m, a, k) || m->vals[a->in[k]].dtype != INFER_DTYPE_FP32))
                return -1;
        *act = nx;
        nx = sole(s, a->out[0]);
    }
    if (!is_node(m, nx, INFER_OP_QUANTIZE_LINEAR))
        return -1;
    const inode *q = &m->nodes[nx];
    if (!is_init(m, q, 1) || init_numel(m, q->in[1]) != 1 || q->n_in < 3 || q->in[2] < 0 ||
        !is_init(m, q, 2))
        return -1;
    return nx;
}

/* Why: the residual join of a QDQ model (the 16 of ResNet-50) dequantizes both inputs, adds and
 * requantizes: four passes over FP32 copies. As one QLinearAdd step it is one pass over bytes.
 * Returns the group's QuantizeLinear node, or -1; *act gets its Relu (or -1). UINT8 per tensor,
 * every zero point given, as QLinearAdd's vectorized path takes them. */
static int match_add(const infer_session *s, int ni, int *act)
{
    const infer_model *m = s->m;
    const inode *c = &m->nodes[ni];
    *act = -1;
    if (c->op != INFER_OP_ADD || c->n_in != 2 || c->n_out != 1)
        return -1;
    for (int k = 0; k < 2; k++) {
        int d = producer(m, c->in[k]);
        if (!dq_const(m, d, INFER_DTYPE_UINT8, false) || m->nodes[d].n_in < 3 ||
            m->nodes[d].in[2] < 0 || init_numel(m, m->nodes[d].in[2]) != 1)
            return -1;
    }
    int nx = sole(s, c->out[0]);
    if (is_node(m, nx, INFER_OP_RELU)) {
        *act = nx;
        nx = sole(s, m->nodes[nx].out[0]);
    }
    if (!is_node(m, nx, INFER_OP_QUANTIZE_LINEAR))
        return -1;
    const inode *q = &m->nodes[nx];
    if (!is_init(m, q, 1) || init_numel(m, q->in[1]) != 1 ||
        m->vals[q->in[1]].dtype != INFER_DTYPE_FP32 || q->n_in < 3 || q->in[2] < 0 ||
        !is_init(m, q, 2) || init_numel(m, q->in[2]) != 1 ||
        m->vals[q->in[2]].dtype != INFER_DTYPE_UINT8)
        return -1;
    return nx;
}

/* Why: decided once per plan, before the walk, so the DequantizeLinear nodes that only fused
 * groups read are skipped (never run, never folded). */
int infer__qdq_prepass(infer_session *s, int *qend, int *qact)
{
    const infer_model *m = s->m;
    size_t nn = m->n_nodes;
    for (size_t i = 0; i < nn; i++)
        qend[i] = qact[i] = -1;
    if (s->reference || s->calibrating || !infer__int8_wanted(s) || s->env.no_qdq)
        return 0;
    int found = 0;
    for (size_t i = 0; i < nn; i++)
        if ((qend[i] = match_conv(s, (int)i, &qact[i])) >= 0 ||
            (qend[i] = match_add(s, (int)i, &qact[i])) >= 0)
            found++;
    if (!found)
        return 0;
    /* a DequantizeLinear whose every consumer is a fused group reading it as x or w is skipped */
    for (size_t i = 0; i < nn; i++) {
        if (!is_node(m, (int)i, INFER_OP_DEQUANTIZE_LINEAR))
            continue;
        int v = m->nodes[i].out[0];
        if (m->vals[v].is_output || !s->consumers[v])
            continue;
        bool all = true;
        for (int k = s->cons_start[v]; k < s->cons_start[v + 1] && all; k++) {
            int c = s->cons_list[k];
            all = qend[c] >= 0 && (m->nodes[c].in[0] == v || m->nodes[c].in[1] == v) &&
                  !(c < (int)nn && m->nodes[c].n_in > 2 && m->nodes[c].in[2] == v);
        }
        if (all)
            s->fused[i] = 2;
    }
    for (size_t i = 0; i < nn; i++)
        if (qend[i] >= 0) {
            s->fused[qend[i]] = 2;
            if (qact[i] >= 0)
                s->fused[qact[i]] = 2;
        }
    return found;
}

/* Why: a join as one QLinearAdd step: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp; a
 * Relu clamps the sum (fuse_min), as the kernel's fused path does. */
static int add_step(infer_session *s, step *st, int ni, int qn, int an)
{
    const infer_model *m = s->m;
    const inode *c = &m->nodes[ni], *q = &m->nodes[qn];
    const inode *da = &m->nodes[producer(m, c->in[0])], *db = &m->nodes[producer(m, c->in[1])];
    st->op = INFER_OP_QLINEAR_ADD;
    st->n_in = 8;
    const int src[8] = {da->in[0], da->in[1], da->in[2], db->in[0],
                        db->in[1], db->in[2], q->in[1],  q->in[2]};
    for (int k = 0; k < 8; k++)
        st->in[k] = &s->vals[src[k]];
    st->n_out = 1;
    st->out[0] = &s->vals[q->out[0]];
    if (an >= 0)
        st->fuse_min = 0;
    return 0;
}

/* Why: the group as one QLinearConv step: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp and
 * an INT32 bias made here from the FP32 (or dequantized) bias; or a join as a QLinearAdd step. */
int infer__qdq_group_step(infer_session *s, step *st, int ni, int qn, int an, fm_err *err)
{
    const infer_model *m = s->m;
    if (m->nodes[ni].op == INFER_OP_ADD)
        return add_step(s, st, ni, qn, an);
    const inode *c = &m->nodes[ni], *dx = &m->nodes[producer(m, c->in[0])],
                *dw = &m->nodes[producer(m, c->in[1])], *q = &m->nodes[qn];
    st->op = INFER_OP_QLINEAR_CONV;
    st->n_in = 9;
    const int src[8] = {dx->in[0], dx->in[1], dx->n_in > 2 ? dx->in[2] : -1,
                        dw->in[0], dw->in[1], dw->n_in > 2 ? dw->in[2] : -1,
                        q->in[1],  q->in[2]};
    for (int k = 0; k < 8; k++)
        st->in[k] = src[k] >= 0 ? &s->vals[src[k]] : NULL;
    st->in[8] = NULL;
    st->n_out = 1;
    st->out[0] = &s->vals[q->out[0]];
    if (an >= 0) {
        const inode *a = &m->nodes[an];
        if (a->op == INFER_OP_RELU) {
            st->fuse_min = 0;
        } else {
            st->fuse_min = infer__attr_f(a, "min", -INFINITY);
            st->fuse_max = infer__attr_f(a, "max", INFINITY);
            for (int k = 1; k < a->n_in && k < 3; k++)
                if (a->in[k] >= 0) {
                    float v;
                    memcpy(&v, m->vals[a->in[k]].data, 4);
                    if (k == 1)
                        st->fuse_min = v;
                    else
                        st->fuse_max = v;
                }
        }
    }
    if (c->n_in > 2 && c->in[2] >= 0) {
        const rt_val *b = &s->vals[c->in[2]]; /* folded by now: a constant FP32 vector */
        const rt_val *ws = st->in[4];
        int64_t mch = st->in[3]->dims[0];
        if (!b->is_const || b->dtype != INFER_DTYPE_FP32 || b->numel != mch ||
            ws->dtype != INFER_DTYPE_FP32)
            return infer__step_err(st, err, FM_ESHAPE, "fused bias must hold %lld FP32 values",
                                   (long long)mch);
        rt_val *bi = fm_arena_calloc(&s->plan_arena, 1, sizeof *bi);
        int32_t *d = fm_arena_alloc(&s->plan_arena, (size_t)mch * 4 + 4);
        if (!bi || !d)
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        float sx = ((const float *)st->in[1]->data)[0];
        for (int64_t k = 0; k < mch; k++) {
            float sw = ((const float *)ws->data)[ws->numel == 1 ? 0 : k];
            double v = nearbyint((double)((const float *)b->data)[k] / ((double)sx * sw));
            d[k] = (int32_t)fmax(-2147483647.0, fmin(2147483647.0, v));
        }
        bi->dtype = INFER_DTYPE_INT32;
        bi->ndim = 1;
        bi->dims[0] = mch;
        bi->numel = mch;
        bi->bytes = (size_t)mch * 4;
        bi->data = d;
        bi->is_const = true;
        bi->alias = -1;
        st->in[8] = bi;
    }
    return 0;
}

/* ---- oneDNN int8 primitives ----------------------------------------------------------------- */

static void eng_init(void)
{
    omp_set_num_threads(1);
    eng_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
}

typedef struct qprim {
    dnnl_engine_t eng; /* the process-wide CPU engine */
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bia, dst, zp; /* zp: runtime source zero point (MatMulInteger) */
    dnnl_primitive_t rin, rout;           /* NCHW activations: reorders to and from NHWC */
    dnnl_memory_t xuser, yuser;
    const void *wsrc; /* the weights wei was reordered from */
    dnnl_memory_desc_t wmd;
    bool wei_shared; /* wei belongs to another node's qprim (same weights, same format) */
    int32_t zp_val;
} qprim;

static void qprim_free(void *p)
{
    qprim *d = p;
    if (d->prim)
        dnnl_primitive_destroy(d->prim);
    if (d->rin)
        dnnl_primitive_destroy(d->rin);
    if (d->rout)
        dnnl_primitive_destroy(d->rout);
    if (d->wei_shared)
        d->wei = NULL;
    dnnl_memory_t *ms[] = {&d->src, &d->wei, &d->bia, &d->dst, &d->zp, &d->xuser, &d->yuser};
    for (size_t i = 0; i < FM_ARRAY_LEN(ms); i++)
        if (*ms[i])
            dnnl_memory_destroy(*ms[i]);
    if (d->stream)
        dnnl_stream_destroy(d->stream);
    free(d);
}

#define CK(call)                                                                                   \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            if (ck_verbose) /* a bool of the calling function: FM_INFER_DNNL_VERBOSE */            \
                FM_INFO("infer", "onednn int8: %s failed (%d)", #call, (int)s_);                   \
            rc = 1; /* no int8 primitive for this case: the scalar kernel runs */                  \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int qprim_get(step *st, qprim **out, fm_err *err)
{
    qprim *d = *st->dstate;
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d)
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        pthread_once(&eng_once, eng_init);
        d->eng = engine;
        if (eng_status != dnnl_success ||
            dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags) != dnnl_success) {
            qprim_free(d);
            return 1;
        }
        if (infer__session_own_fn(st->s, d, qprim_free))
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        *st->dstate = d;
    }
    if (d->prim)
        dnnl_primitive_destroy(d->prim);
    if (d->rin)
        dnnl_primitive_destroy(d->rin);
    if (d->rout)
        dnnl_primitive_destroy(d->rout);
    d->prim = d->rin = d->rout = NULL;
    dnnl_memory_t *ms[] = {&d->src, &d->bia, &d->dst, &d->xuser, &d->yuser};
    for (size_t i = 0; i < FM_ARRAY_LEN(ms); i++) {
        if (*ms[i])
            dnnl_memory_destroy(*ms[i]);
        *ms[i] = NULL;
    }
    *out = d;
    return 0;
}

/* Why: weights reordered once into the primitive's format (again only when that changes). */
static int qprim_weights(qprim *d, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
                         const void *w, infer_session *s)
{
    const bool ck_verbose = s->env.dnnl_verbose;
    if (d->wei && d->wsrc == w && dnnl_memory_desc_equal(&d->wmd, want))
        return 0;
    if (d->wei && !d->wei_shared)
        dnnl_memory_destroy(d->wei);
    d->wei = NULL;
    d->wei_shared = false;
    /* ALBERT's twelve layers read one layer's weights: reordered once and shared; every qprim
     * is freed with the session, and a sharer never frees the memory */
    for (size_t i = 0; i < s->n_owned; i++) {
        qprim *o = s->owned[i].obj;
        if (s->owned[i].free_fn == qprim_free && o != d && o->wei && !o->wei_shared &&
            o->wsrc == w && dnnl_memory_desc_equal(&o->wmd, want)) {
            d->wei = o->wei;
            d->wmd = o->wmd;
            d->wsrc = w;
            d->wei_shared = true;
            return 0;
        }
    }
    int rc = 0;
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    CK(dnnl_memory_create(&um, user, d->eng, (void *)w));
    CK(dnnl_memory_create(&d->wei, want, d->eng, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_reorder_primitive_desc_create(&rpd, user, d->eng, want, d->eng, NULL));
    CK(dnnl_primitive_create(&rp, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, d->wei}};
    CK(dnnl_primitive_execute(rp, d->stream, 2, args));
    CK(dnnl_stream_wait(d->stream));
    d->wmd = *want;
    d->wsrc = w;
    s->st.packed_bytes += dnnl_memory_desc_get_size(want);
out:
    if (rp)
        dnnl_primitive_destroy(rp);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (um)
        dnnl_memory_destroy(um);
    if (rc && d->wei) {
        dnnl_memory_destroy(d->wei);
        d->wei = NULL;
    }
    return rc;
}

static bool impl_ok(const step *st, dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    if (st->s->env.dnnl_verbose)
        FM_INFO("infer", "onednn int8 node=%s impl=%s in_nhwc=%d out_nhwc=%d", st->node->name,
                impl ? impl : "?", st->in_nhwc, st->out_nhwc);
    return impl && strncmp(impl, "ref", 3) != 0;
}

static dnnl_data_type_t dt(infer_dtype t)
{
    return t == INFER_DTYPE_INT8 ? dnnl_s8 : dnnl_u8;
}

/* Why: QLinearConv on oneDNN (2-D, symmetric INT8 weights): output scales x_scale * w_scale /
 * y_scale per channel, zero points of x and y, the fused Relu/Clip as a post-op in y units. */
int infer__setup_qlconv(step *st, fm_err *err)
{
    const bool ck_verbose = st->s->env.dnnl_verbose;
    st->dnnl = false;
    const rt_val *x = st->in[0], *w = st->in[3], *ws = st->in[4], *wz = st->in[5], *y = st->out[0];
    if (!infer__int8_wanted(st->s) || x->ndim != 4 || !w->is_const || !ws->is_const ||
        w->dtype != INFER_DTYPE_INT8 || !st->in[1]->is_const || !st->in[6]->is_const ||
        (st->in[2] && !st->in[2]->is_const) || (st->in[7] && !st->in[7]->is_const) ||
        (st->in[8] && !st->in[8]->is_const))
        return 0;
    for (int64_t i = 0; wz && i < wz->numel; i++)
        if (((const int8_t *)wz->data)[i])
            return 0;
    win g;
    int64_t ks[2] = {w->dims[2], w->dims[3]};
    int rc = infer__win_params(st, ks, false, &g, err);
    if (rc)
        return rc;
    int64_t n = x->dims[0], c = x->dims[1], mch = w->dims[0],
            grp = infer__attr_i(st->node, "group", 1);
    qprim *d;
    if ((rc = qprim_get(st, &d, err)))
        return rc < 0 ? rc : 0;
    omp_set_num_threads(1);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    float *scales = malloc((size_t)mch * sizeof *scales);
    if (!scales)
        return infer__step_err(st, err, FM_ENOMEM, "out of memory");
    float sx = ((const float *)st->in[1]->data)[0], sy = ((const float *)st->in[6]->data)[0];
    for (int64_t k = 0; k < mch; k++)
        scales[k] = sx * ((const float *)ws->data)[ws->numel == 1 ? 0 : k] / sy;
    int32_t zx = st->in[2] ? (x->dtype == INFER_DTYPE_INT8 ? ((const int8_t *)st->in[2]->data)[0]
                                                           : ((const uint8_t *)st->in[2]->data)[0])
                           : 0;
    int32_t zy = st->in[7] ? (y->dtype == INFER_DTYPE_INT8 ? ((const int8_t *)st->in[7]->data)[0]
                                                           : ((const uint8_t *)st->in[7]->data)[0])
                           : 0;
    dnnl_memory_desc_t src, dst, wuser, wany, bia;
    dnnl_dims_t sd = {n, c, g.in[0], g.in[1]}, dd = {n, mch, g.out[0], g.out[1]}, bd = {mch};
    dnnl_memory_desc_t xu, yu;
    CK(dnnl_memory_desc_init_by_tag(&src, 4, sd, dt(x->dtype), dnnl_nhwc));
    CK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dt(y->dtype), dnnl_nhwc));
    CK(dnnl_memory_desc_init_by_tag(&xu, 4, sd, dt(x->dtype), dnnl_nchw));
    CK(dnnl_memory_desc_init_by_tag(&yu, 4, dd, dt(y->dtype), dnnl_nchw));
    if (grp == 1) {
        dnnl_dims_t wd = {mch, c, ks[0], ks[1]};
        CK(dnnl_memory_desc_init_by_tag(&wuser, 4, wd, dnnl_s8, dnnl_oihw));
        CK(dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_s8, dnnl_format_tag_any));
    } else {
        dnnl_dims_t wd = {grp, mch / grp, c / grp, ks[0], ks[1]};
        CK(dnnl_memory_desc_init_by_tag(&wuser, 5, wd, dnnl_s8, dnnl_goihw));
        CK(dnnl_memory_desc_init_by_tag(&wany, 5, wd, dnnl_s8, dnnl_format_tag_any));
    }
    CK(dnnl_memory_desc_init_by_tag(&bia, 1, bd, dnnl_s32, dnnl_x));
    dnnl_dims_t strides = {g.s[0], g.s[1]}, dil = {g.d[0] - 1, g.d[1] - 1}, pl = {g.pb[0], g.pb[1]},
                pr = {g.pe[0], g.pe[1]};
    dnnl_convolution_desc_t cd;
    CK(dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wany, st->in[8] ? &bia : NULL,
        &dst, strides, dil, pl, pr));
    CK(dnnl_primitive_attr_create(&attr));
    CK(dnnl_primitive_attr_set_output_scales(attr, mch, ws->numel == 1 ? 0 : 1 << 1, scales));
    if (zx)
        CK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &zx));
    if (zy)
        CK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &zy));
    if (st->fuse_min > -INFINITY || st->fuse_max < INFINITY) {
        CK(dnnl_post_ops_create(&po));
        float lo = st->fuse_min > -INFINITY ? st->fuse_min / sy : -FLT_MAX;
        float hi = st->fuse_max < INFINITY ? st->fuse_max / sy : FLT_MAX;
        CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, lo, hi));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    CK(dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, NULL));
    if (!impl_ok(st, pd)) {
        rc = 1;
        goto out;
    }
    CK(qprim_weights(d, &wuser, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), w->data,
                     st->s)
           ? dnnl_runtime_error
           : dnnl_success);
    CK(dnnl_primitive_create(&d->prim, pd));
    uint8_t *xs = st->scratch, *ys = xs + ((x->numel + 63) & ~(int64_t)63);
    CK(dnnl_memory_create(&d->src, &src, d->eng, st->in_nhwc ? x->data : (void *)xs));
    CK(dnnl_memory_create(&d->dst, &dst, d->eng, st->out_nhwc ? y->data : (void *)ys));
    if (st->in[8])
        CK(dnnl_memory_create(&d->bia, &bia, d->eng, st->in[8]->data));
    for (int k = 0; k < 2; k++) { /* NCHW in or out: reordered through the scratch buffer */
        if (k ? st->out_nhwc : st->in_nhwc)
            continue;
        dnnl_primitive_desc_t rpd = NULL;
        dnnl_memory_t *um = k ? &d->yuser : &d->xuser;
        CK(dnnl_memory_create(um, k ? &yu : &xu, d->eng, k ? y->data : x->data));
        if (k)
            CK(dnnl_reorder_primitive_desc_create(&rpd, &dst, d->eng, &yu, d->eng, NULL));
        else
            CK(dnnl_reorder_primitive_desc_create(&rpd, &xu, d->eng, &src, d->eng, NULL));
        dnnl_status_t cs = dnnl_primitive_create(k ? &d->rout : &d->rin, rpd);
        dnnl_primitive_desc_destroy(rpd);
        CK(cs);
    }
    st->dnnl = true;
out:
    if (rc && (st->in_nhwc || st->out_nhwc))
        rc = infer__step_err(st, err, FM_EINTERNAL,
                             "onednn has no int8 convolution for this NHWC case");
    free(scales);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc < 0 ? rc : 0;
}

/* Why: MatMulInteger with constant INT8 weights [K, N] (zero point 0) on oneDNN's int8 matmul;
 * the activation's zero point comes at run time (DynamicQuantizeLinear computes it). */
int infer__setup_matmulint(step *st, fm_err *err)
{
    const bool ck_verbose = st->s->env.dnnl_verbose;
    st->dnnl = false;
    const rt_val *a = st->in[0], *b = st->in[1], *za = st->n_in > 2 ? st->in[2] : NULL,
                 *zb = st->n_in > 3 ? st->in[3] : NULL;
    if (!infer__int8_wanted(st->s) || !b->is_const || b->ndim != 2 ||
        b->dtype != INFER_DTYPE_INT8 || a->ndim < 2 || (za && za->numel != 1))
        return 0;
    for (int64_t i = 0; zb && i < zb->numel; i++)
        if (((const int8_t *)zb->data)[i])
            return 0;
    int64_t k = b->dims[0], nn = b->dims[1], rows = a->numel / FM_MAX(k, 1);
    qprim *d;
    int rc = qprim_get(st, &d, err);
    if (rc)
        return rc < 0 ? rc : 0;
    omp_set_num_threads(1);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_memory_desc_t src, dst, wuser, wany, zmd;
    dnnl_dims_t sd = {rows, k}, wd = {k, nn}, dd = {rows, nn}, zd = {1};
    CK(dnnl_memory_desc_init_by_tag(&src, 2, sd, dt(a->dtype), dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_s32, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wuser, 2, wd, dnnl_s8, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_s8, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&zmd, 1, zd, dnnl_s32, dnnl_x));
    dnnl_matmul_desc_t md;
    CK(dnnl_matmul_desc_init(&md, &src, &wany, NULL, &dst));
    CK(dnnl_primitive_attr_create(&attr));
    int32_t rt = DNNL_RUNTIME_S32_VAL;
    if (za)
        CK(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &rt));
    CK(dnnl_primitive_desc_create(&pd, &md, attr, d->eng, NULL));
    if (!impl_ok(st, pd)) {
        rc = 1;
        goto out;
    }
    CK(qprim_weights(d, &wuser, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), b->data,
                     st->s)
           ? dnnl_runtime_error
           : dnnl_success);
    CK(dnnl_primitive_create(&d->prim, pd));
    CK(dnnl_memory_create(&d->src, &src, d->eng, a->data));
    CK(dnnl_memory_create(&d->dst, &dst, d->eng, st->out[0]->data));
    if (za && !d->zp)
        CK(dnnl_memory_create(&d->zp, &zmd, d->eng, &d->zp_val));
    st->dnnl = true;
out:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc < 0 ? rc : 0;
}

int infer__qdnnl_exec(step *st, fm_err *err)
{
    qprim *d = *st->dstate;
    omp_set_num_threads(1);
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, d->src}, {DNNL_ARG_WEIGHTS, d->wei}, {DNNL_ARG_DST, d->dst}};
    int na = 3;
    if (d->bia)
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, d->bia};
    if (st->op == INFER_OP_MATMUL_INTEGER && st->n_in > 2 && st->in[2]) {
        d->zp_val = st->in[2]->dtype == INFER_DTYPE_INT8 ? ((const int8_t *)st->in[2]->data)[0]
                                                         : ((const uint8_t *)st->in[2]->data)[0];
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, d->zp};
    }
    dnnl_status_t s = dnnl_success;
    if (d->rin) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, d->xuser}, {DNNL_ARG_TO, d->src}};
        s = dnnl_primitive_execute(d->rin, d->stream, 2, ra);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_execute(d->prim, d->stream, na, args);
    if (s == dnnl_success && d->rout) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, d->dst}, {DNNL_ARG_TO, d->yuser}};
        s = dnnl_primitive_execute(d->rout, d->stream, 2, ra);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(d->stream);
    if (s != dnnl_success)
        return infer__step_err(st, err, FM_EINTERNAL, "onednn int8 primitive failed (%d)", (int)s);
    return 0;
}
