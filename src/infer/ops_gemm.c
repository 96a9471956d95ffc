/*
 * ops_gemm.c — MatMul and Gemm. Products with a constant 2-D weight run on XNNPACK's fully
 * connected operator (weights packed once per session); activation x activation products
 * (attention) run on single-threaded OpenBLAS sgemm, spread over the session's own thread pool.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "infer/ops_int.h"

/* Why: the plain reference for sgemm (reference-mode sessions), row-major, double accumulation. */
static void ref_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                      float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t l = 0; l < k; l++)
                acc += (double)(ta ? a[l * lda + i] : a[i * lda + l]) *
                       (tb ? b[j * ldb + l] : b[l * ldb + j]);
            c[i * ldc + j] = (float)(alpha * acc + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0));
        }
}

static void sgemm(const infer_session *s, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                  float *c, int64_t ldc)
{
    if (s->reference) {
        ref_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* ---- MatMul --------------------------------------------------------------------------------- */

typedef struct mm_p {
    int64_t m, k, n;
    int nb; /* batch rank of the output */
    int64_t bdims[INFER_MAX_DIMS], sa[INFER_MAX_DIMS], sb[INFER_MAX_DIMS];
    int64_t batches;
} mm_p;

/* Why: numpy matmul rules (1-D promotion, broadcast batch dims) resolved once. */
static int mm_params(const step *st, mm_p *p, int64_t *od, int *ond, fm_err *err)
{
    const rt_val *a = st->in[0], *b = st->in[1];
    if (a->dtype != INFER_DTYPE_FP32 || b->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    if (a->ndim < 1 || b->ndim < 1)
        return infer__step_err(st, err, FM_ESHAPE, "scalar operand");
    int64_t ad[INFER_MAX_DIMS + 1], bd[INFER_MAX_DIMS + 1];
    int an = a->ndim, bn = b->ndim;
    memcpy(ad, a->dims, sizeof a->dims);
    memcpy(bd, b->dims, sizeof b->dims);
    if (an == 1) {
        ad[1] = ad[0];
        ad[0] = 1;
        an = 2;
    }
    if (bn == 1) {
        bd[1] = 1;
        bn = 2;
    }
    p->m = ad[an - 2];
    p->k = ad[an - 1];
    p->n = bd[bn - 1];
    if (bd[bn - 2] != p->k)
        return infer__step_err(st, err, FM_ESHAPE, "inner dimensions differ (%lld vs %lld)",
                               (long long)p->k, (long long)bd[bn - 2]);
    int nb;
    int rc = infer__broadcast_shape(st, ad, an - 2, bd, bn - 2, p->bdims, &nb, err);
    if (rc)
        return rc;
    p->nb = nb;
    p->batches = 1;
    int64_t acc_a = p->m * p->k, acc_b = p->k * p->n;
    for (int i = nb - 1; i >= 0; i--) {
        int ja = i - (nb - (an - 2)), jb = i - (nb - (bn - 2));
        int64_t da = ja >= 0 ? ad[ja] : 1, db = jb >= 0 ? bd[jb] : 1;
        p->sa[i] = da == 1 ? 0 : acc_a;
        p->sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
        p->batches *= p->bdims[i];
    }
    if (od) {
        int m = 0;
        for (int i = 0; i < nb; i++)
            od[m++] = p->bdims[i];
        if (a->ndim > 1)
            od[m++] = p->m;
        if (b->ndim > 1)
            od[m++] = p->n;
        *ond = m;
    }
    return 0;
}

static bool mm_uses_fc(const step *st)
{
    return !st->s->env.no_fc && !st->s->reference && st->in[1]->is_const && st->in[1]->ndim == 2 &&
           !st->in[0]->is_const && st->in[0]->ndim >= 2;
}

int infer__shape_matmul(step *st, fm_err *err)
{
    mm_p p = {0};
    int64_t d[INFER_MAX_DIMS];
    int nd = 0;
    int rc = mm_params(st, &p, d, &nd, err);
    if (rc)
        return rc;
    if (nd > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank");
    return infer__set_out(st, 0, INFER_DTYPE_FP32, nd, d, err);
}

/* Why: shared by MatMul and Gemm: creates the FC operator (packing weights once) and sets it up
 * for the current batch. kernel_t: weights given as [K, N] (transposed relative to XNNPACK). */
static int fc_setup(step *st, const float *w, bool kernel_t, const float *bias, int64_t k,
                    int64_t n, int64_t rows, const float *in, float *out, fm_err *err)
{
    xnn_operator_t op = *st->state;
    infer_session *ss = st->s;
    for (size_t i = 0; !op && i < ss->n_fc; i++) {
        fc_entry *e = &ss->fc[i];
        if (e->w == w && e->b == bias && e->k == k && e->n == n && e->t == kernel_t &&
            e->mn == st->fuse_min && e->mx == st->fuse_max)
            op = e->op;
    }
    if (!op) {
        enum xnn_status s = xnn_create_fully_connected_nc_f32(
            (size_t)k, (size_t)n, (size_t)k, (size_t)n, w, bias, st->fuse_min, st->fuse_max,
            kernel_t ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0, &op);
        if (s != xnn_status_success)
            return infer__step_err(st, err, FM_EINTERNAL,
                                   "xnnpack fully connected create failed (%d)", (int)s);
        if (infer__session_own(ss, op))
            return infer__step_err(st, err, FM_ENOMEM, "out of memory");
        if (ss->n_fc == ss->cap_fc) {
            size_t cap = ss->cap_fc ? ss->cap_fc * 2 : 16;
            fc_entry *f = realloc(ss->fc, cap * sizeof *f);
            if (!f)
                return infer__step_err(st, err, FM_ENOMEM, "out of memory");
            ss->fc = f;
            ss->cap_fc = cap;
        }
        ss->fc[ss->n_fc++] = (fc_entry){w, bias, k, n, kernel_t, st->fuse_min, st->fuse_max, op};
        ss->st.packed_bytes += (size_t)(k * n + n) * 4;
    }
    *st->state = op;
    st->fc_rows = rows;
    st->xnn = true;
    (void)in;
    (void)out;
    return 0;
}

/* Why: operators may be shared between nodes, so each run sets its pointers up first (cheap). */
static int fc_run(step *st, fm_err *err)
{
    enum xnn_status s =
        xnn_setup_fully_connected_nc_f32(*st->state, (size_t)st->fc_rows, st->in[0]->data,
                                         st->out[0]->data, infer__session_pool(st->s));
    if (s == xnn_status_success)
        s = xnn_run_operator(*st->state, infer__session_pool(st->s));
    if (s != xnn_status_success)
        return infer__step_err(st, err, FM_EINTERNAL, "xnnpack fully connected failed (%d)",
                               (int)s);
    return 0;
}

/* Rows from which a product with constant weights runs on OpenBLAS sgemm (measured cheaper than
 * XNNPACK's fully connected operator for ALBERT's 128-row products, and nothing to pack) rather
 * than XNNPACK (better for the few rows of a classifier head). */
#define FC_BLAS_ROWS 16

int infer__setup_matmul(step *st, fm_err *err)
{
    st->xnn = false;
    if (!mm_uses_fc(st))
        return 0;
    mm_p p = {0};
    int rc = mm_params(st, &p, NULL, NULL, err);
    if (rc)
        return rc;
    int64_t rows = st->in[0]->numel / FM_MAX(p.k, 1);
    if (rows >= FC_BLAS_ROWS && !st->s->env.xnn_fc) {
        st->dnnl = false;
        if (!infer__dnnl_wanted(st->s) || st->s->env.no_dnnl_matmul)
            return 0; /* sgemm */
        rc = infer__dnnl_matmul_setup(st, rows, p.k, p.n,
                                      st->fused_bias ? st->fused_bias->data : NULL, err);
        st->dnnl = rc == 0;
        return rc < 0 ? rc : 0;
    }
    const float *bias = st->fused_bias ? st->fused_bias->data : NULL;
    return fc_setup(st, st->in[1]->data, true, bias, p.k, p.n, st->in[0]->numel / FM_MAX(p.k, 1),
                    st->in[0]->data, st->out[0]->data, err);
}

typedef struct mm_task {
    const mm_p *p;
    const float *a, *b;
    float *y;
    const infer_session *s;
} mm_task;

/* Why: one batch of a batched product; called from pool workers with OpenBLAS single-threaded. */
static void mm_one(void *ctx, size_t bi)
{
    mm_task *t = ctx;
    const mm_p *p = t->p;
    int64_t oa = 0, ob = 0, rem = (int64_t)bi;
    for (int i = p->nb - 1; i >= 0; i--) {
        int64_t ix = rem % p->bdims[i];
        rem /= p->bdims[i];
        oa += ix * p->sa[i];
        ob += ix * p->sb[i];
    }
    const float *a = t->a + oa, *b = t->b + ob;
    float *y = t->y + (int64_t)bi * p->m * p->n;
    if (p->m == 0 || p->n == 0)
        return;
    if (p->k == 0) {
        memset(y, 0, (size_t)(p->m * p->n) * sizeof *y);
        return;
    }
    sgemm(t->s, false, false, p->m, p->n, p->k, 1.0f, a, p->k, b, p->n, 0.0f, y, p->n);
}

typedef struct rows_task {
    int64_t rows, k, n, block;
    const float *a, *b, *bias;
    bool bt;
    float lo, hi;
    float *y;
} rows_task;

/* Why: one block of rows of Y = A B (+ bias, clamped), for the pool: sgemm single-threaded. */
static void rows_one(void *ctx, size_t bi)
{
    const rows_task *t = ctx;
    int64_t r0 = (int64_t)bi * t->block, r1 = FM_MIN(t->rows, r0 + t->block);
    float *y = t->y + r0 * t->n;
    if (t->bias)
        for (int64_t r = r0; r < r1; r++)
            memcpy(y + (r - r0) * t->n, t->bias, (size_t)t->n * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, t->bt ? CblasTrans : CblasNoTrans, (int)(r1 - r0),
                (int)t->n, (int)t->k, 1.0f, t->a + r0 * t->k, (int)t->k, t->b,
                t->bt ? (int)t->k : (int)t->n, t->bias ? 1.0f : 0.0f, y, (int)t->n);
    if (t->lo > -INFINITY || t->hi < INFINITY) {
        float lo = t->lo, hi = t->hi;
        for (int64_t i = 0; i < (r1 - r0) * t->n; i++)
            y[i] = y[i] < lo ? lo : (y[i] > hi ? hi : y[i]);
    }
}

void infer__gemm_rows(const infer_session *s, int64_t rows, int64_t k, int64_t n, const float *a,
                      const float *b, bool b_trans, const float *bias, float lo, float hi, float *y)
{
    pthreadpool_t pool = infer__session_pool(s);
    size_t nt = pool ? pthreadpool_get_threads_count(pool) : 1;
    int64_t block = nt > 1 ? FM_MAX(16, (rows + (int64_t)nt - 1) / (int64_t)nt) : FM_MAX(rows, 1);
    rows_task t = {rows, k, n, block, a, b, bias, b_trans, lo, hi, y};
    size_t nb = (size_t)((rows + block - 1) / block);
    if (pool && nb > 1)
        pthreadpool_parallelize_1d(pool, rows_one, &t, nb, 0);
    else
        for (size_t i = 0; i < nb; i++)
            rows_one(&t, i);
}

int infer__exec_matmul(step *st, fm_err *err)
{
    if (st->dnnl)
        return infer__dnnl_step_exec(st, err);
    if (st->xnn && *st->state)
        return fc_run(st, err);
    mm_p p = {0};
    int rc = mm_params(st, &p, NULL, NULL, err);
    if (rc)
        return rc;
    if (p.m > INT32_MAX || p.n > INT32_MAX || p.k > INT32_MAX)
        return infer__step_err(st, err, FM_ELIMIT, "matrix too large");
    if (mm_uses_fc(st) && p.k > 0) { /* constant weights, many rows: blocks of rows on sgemm */
        infer__gemm_rows(st->s, st->in[0]->numel / p.k, p.k, p.n, st->in[0]->data, st->in[1]->data,
                         false, st->fused_bias ? st->fused_bias->data : NULL, -INFINITY, INFINITY,
                         st->out[0]->data);
        return 0;
    }
    mm_task t = {&p, st->in[0]->data, st->in[1]->data, st->out[0]->data, st->s};
    pthreadpool_t pool = infer__session_pool(st->s);
    if (pool && p.batches > 1)
        pthreadpool_parallelize_1d(pool, mm_one, &t, (size_t)p.batches, 0);
    else
        for (int64_t i = 0; i < p.batches; i++)
            mm_one(&t, (size_t)i);
    return 0;
}

/* ---- Gemm ----------------------------------------------------------------------------------- */

typedef struct gemm_p {
    int64_t m, k, n;
    bool ta, tb;
    float alpha, beta;
} gemm_p;

static int gemm_params(const step *st, gemm_p *p, fm_err *err)
{
    const rt_val *a = st->in[0], *b = st->in[1];
    if (a->dtype != INFER_DTYPE_FP32 || b->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type not supported (FP32 only)");
    if (a->ndim != 2 || b->ndim != 2)
        return infer__step_err(st, err, FM_ESHAPE, "A and B must be 2-D");
    p->ta = infer__attr_i(st->node, "transA", 0) != 0;
    p->tb = infer__attr_i(st->node, "transB", 0) != 0;
    p->alpha = infer__attr_f(st->node, "alpha", 1.0f);
    p->beta = infer__attr_f(st->node, "beta", 1.0f);
    p->m = p->ta ? a->dims[1] : a->dims[0];
    p->k = p->ta ? a->dims[0] : a->dims[1];
    int64_t kb = p->tb ? b->dims[1] : b->dims[0];
    p->n = p->tb ? b->dims[0] : b->dims[1];
    if (kb != p->k)
        return infer__step_err(st, err, FM_ESHAPE, "inner dimensions differ (%lld vs %lld)",
                               (long long)p->k, (long long)kb);
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return infer__step_err(st, err, FM_ELIMIT, "matrix too large");
    if (st->n_in > 2 && st->in[2]) {
        const rt_val *c = st->in[2];
        int64_t d[2] = {p->m, p->n}, o[INFER_MAX_DIMS];
        int no;
        if (c->dtype != INFER_DTYPE_FP32 || c->ndim > 2)
            return infer__step_err(st, err, FM_ESHAPE, "C must be FP32 of rank <= 2");
        int rc = infer__broadcast_shape(st, d, 2, c->dims, c->ndim, o, &no, err);
        if (rc)
            return rc;
        if (o[0] != p->m || o[1] != p->n)
            return infer__step_err(st, err, FM_ESHAPE, "C does not broadcast to [M, N]");
    }
    return 0;
}

static bool gemm_uses_fc(const step *st, const gemm_p *p)
{
    if (st->s->reference || !st->in[1]->is_const || st->in[0]->is_const || p->ta ||
        p->alpha != 1.0f)
        return false;
    if (st->n_in > 2 && st->in[2]) {
        const rt_val *c = st->in[2];
        if (!c->is_const || p->beta != 1.0f || c->numel != p->n ||
            (c->ndim == 2 && c->dims[0] != 1))
            return false;
    }
    return true;
}

int infer__shape_gemm(step *st, fm_err *err)
{
    gemm_p p = {0};
    int rc = gemm_params(st, &p, err);
    if (rc)
        return rc;
    int64_t d[2] = {p.m, p.n};
    return infer__set_out(st, 0, INFER_DTYPE_FP32, 2, d, err);
}

int infer__setup_gemm(step *st, fm_err *err)
{
    gemm_p p = {0};
    int rc = gemm_params(st, &p, err);
    if (rc || !gemm_uses_fc(st, &p))
        return rc;
    const float *bias = st->n_in > 2 && st->in[2] ? st->in[2]->data : NULL;
    return fc_setup(st, st->in[1]->data, !p.tb, bias, p.k, p.n, p.m, st->in[0]->data,
                    st->out[0]->data, err);
}

int infer__exec_gemm(step *st, fm_err *err)
{
    gemm_p p = {0};
    int rc = gemm_params(st, &p, err);
    if (rc)
        return rc;
    if (st->xnn && *st->state)
        return fc_run(st, err);
    float *y = st->out[0]->data;
    float beta = 0.0f;
    if (st->n_in > 2 && st->in[2] && p.beta != 0.0f) {
        const rt_val *c = st->in[2];
        const float *cp = c->data;
        int64_t rs = c->ndim == 2 && c->dims[0] != 1 ? c->dims[1] : 0;
        int64_t cs = (c->ndim >= 1 && c->dims[c->ndim - 1] != 1) ? 1 : 0;
        for (int64_t i = 0; i < p.m; i++)
            for (int64_t j = 0; j < p.n; j++)
                y[i * p.n + j] = p.beta * cp[i * rs + j * cs];
        beta = 1.0f;
    }
    if (p.m == 0 || p.n == 0)
        return 0;
    if (p.k == 0) {
        if (beta == 0.0f)
            memset(y, 0, (size_t)(p.m * p.n) * 4);
        return 0;
    }
    sgemm(st->s, p.ta, p.tb, p.m, p.n, p.k, p.alpha, st->in[0]->data, p.ta ? p.m : p.k,
          st->in[1]->data, p.tb ? p.k : p.n, beta, y, p.n);
    return 0;
}
