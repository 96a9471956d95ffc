/*
 * dnnl_conv.c — 2-D convolutions and constant-weight matrix products on oneDNN. Its brgemm
 * convolutions ran at 190-210 GFLOP/s on one core of this machine, against about 110 for XNNPACK's
 * f32 IGEMM (Debian's 2022 snapshot). Debian's oneDNN parallelises with OpenMP, which would be a
 * second thread pool beside the session's, so it serves 1-thread sessions only, and every call
 * first sets OpenMP's thread count to 1 for the calling thread: OpenMP then never starts a thread
 * (fork after load stays safe). Activations may be NCHW or NHWC (the primitive reads and writes
 * them in place; BF16 sessions round them into one staging buffer first); weights are reordered
 * once into the primitive's preferred format and kept across plans when it is unchanged.
 */
#include <dnnl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ops_int.h"

void omp_set_num_threads(int n); /* libgomp, which oneDNN links */

typedef struct dconv {
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bia, dst;
    dnnl_memory_desc_t wmd; /* format of wei */
    bool wei_shared;        /* wei belongs to the session's cache, not to this node */
    dnnl_primitive_t rin;   /* BF16: the FP32 input rounded into the session's staging buffer */
    dnnl_memory_t xuser;
} dconv;

/* Reordered weights shared by every node of a session that uses the same weights in the same
 * format (ALBERT runs one layer's weights twelve times: reordered and held once). */
typedef struct wcache {
    const void *w;
    dnnl_memory_desc_t wmd;
    dnnl_memory_t mem;
} wcache;

static void wcache_free(void *p)
{
    wcache *c = p;
    if (c->mem)
        dnnl_memory_destroy(c->mem);
    free(c);
}

static pthread_once_t eng_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_status_t eng_status;

static void eng_init(void)
{
    omp_set_num_threads(1);
    eng_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
}

/* Why: oneDNN for 1-thread sessions (see above); FM_INFER_NO_DNNL=1 falls back to XNNPACK. */
bool infer__dnnl_wanted(const infer_session *s)
{
    if (s->env.no_dnnl || s->reference || s->o.threads != 1)
        return false;
    pthread_once(&eng_once, eng_init);
    return eng_status == dnnl_success;
}

static void free_mem(dnnl_memory_t *m)
{
    if (*m)
        dnnl_memory_destroy(*m);
    *m = NULL;
}

static void dconv_free(void *p)
{
    dconv *d = p;
    if (d->prim)
        dnnl_primitive_destroy(d->prim);
    if (d->rin)
        dnnl_primitive_destroy(d->rin);
    free_mem(&d->xuser);
    free_mem(&d->src);
    if (!d->wei_shared)
        free_mem(&d->wei);
    free_mem(&d->bia);
    free_mem(&d->dst);
    if (d->stream)
        dnnl_stream_destroy(d->stream);
    free(d);
}

#define CK(call)                                                                                   \
    do {                                                                                           \
        dnnl_status_t s_ = (call);                                                                 \
        if (s_ != dnnl_success) {                                                                  \
            rc = infer__step_err(st, err, FM_EINTERNAL, "onednn: %s failed (%d)", #call, (int)s_); \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Why: re-reads the user's weights into the primitive's format (only when that format changed). */
static int reorder_weights(step *st, dconv *d, const dnnl_memory_desc_t *user,
                           const dnnl_memory_desc_t *want, fm_err *err)
{
    int rc = 0;
    dnnl_memory_t um = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    size_t bytes = dnnl_memory_desc_get_size(want);
    int wv = (int)(st->in[1] - st->s->vals);
    int64_t t0 = fm_now_ns(), c0 = infer_cpu_ns();
    const void *cached = infer__packcache_find(st->s->pack, wv, want, sizeof *want, bytes);
    if (cached) { /* already in this format in the mapped cache: read in place, never written */
        CK(dnnl_memory_create(&d->wei, want, engine, (void *)cached));
        d->wmd = *want;
        goto out;
    }
    CK(dnnl_memory_create(&um, user, engine, (void *)st->in[1]->data));
    CK(dnnl_memory_create(&d->wei, want, engine, DNNL_MEMORY_ALLOCATE));
    CK(dnnl_reorder_primitive_desc_create(&rpd, user, engine, want, engine, NULL));
    CK(dnnl_primitive_create(&rp, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, d->wei}};
    CK(dnnl_primitive_execute(rp, d->stream, 2, args));
    CK(dnnl_stream_wait(d->stream));
    d->wmd = *want;
    st->s->st.packed_bytes += bytes;
    void *packed = NULL;
    if (dnnl_memory_get_data_handle(d->wei, &packed) == dnnl_success)
        infer__packcache_note(st->s->pack, wv, want, sizeof *want, packed, bytes);
    st->s->t.reorder_ns += fm_now_ns() - t0;
    st->s->t.reorder_cpu_ns += infer_cpu_ns() - c0;
out:
    if (rp)
        dnnl_primitive_destroy(rp);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (um)
        dnnl_memory_destroy(um);
    if (rc)
        free_mem(&d->wei);
    return rc;
}

/* Why: shared by convolution and matmul: keeps only brgemm kernels (rc 1 otherwise), creates the
 * per-node state on first use, reorders weights when the wanted format changed, and binds the
 * plan's buffers. */
static int build(step *st, dnnl_primitive_desc_t pd, const dnnl_memory_desc_t *src,
                 const dnnl_memory_desc_t *dst, const dnnl_memory_desc_t *wuser,
                 const dnnl_memory_desc_t *bia, const void *bias, fm_err *err)
{
    int rc = 0;
    dconv *d = *st->dstate;
    const char *impl = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    if (st->s->env.dnnl_verbose)
        FM_INFO("infer", "onednn node=%s impl=%s in_nhwc=%d out_nhwc=%d", st->node->name,
                impl ? impl : "?", st->in_nhwc, st->out_nhwc);
    if (!impl ||
        strncmp(impl, "brg", 3)) { /* only the fast kernels; others are slower than XNNPACK */
        rc = 1;
        goto out;
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) {
            rc = infer__step_err(st, err, FM_ENOMEM, "out of memory");
            goto out;
        }
        if (dnnl_stream_create(&d->stream, engine, dnnl_stream_default_flags) != dnnl_success) {
            free(d);
            rc = infer__step_err(st, err, FM_EINTERNAL, "onednn: cannot create a stream");
            goto out;
        }
        if (infer__session_own_fn(st->s, d, dconv_free)) {
            rc = infer__step_err(st, err, FM_ENOMEM, "out of memory");
            goto out;
        }
        *st->dstate = d;
    }
    if (d->prim)
        dnnl_primitive_destroy(d->prim);
    if (d->rin)
        dnnl_primitive_destroy(d->rin);
    d->prim = d->rin = NULL;
    free_mem(&d->xuser);
    free_mem(&d->src);
    free_mem(&d->dst);
    free_mem(&d->bia);
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!want) {
        rc = infer__step_err(st, err, FM_EINTERNAL, "onednn: no weights format");
        goto out;
    }
    if (!d->wei || !dnnl_memory_desc_equal(&d->wmd, want)) {
        infer_session *s = st->s;
        wcache *hit = NULL;
        for (size_t i = 0; i < s->n_owned && !hit; i++) {
            wcache *c = s->owned[i].obj;
            if (s->owned[i].free_fn == wcache_free && c->w == st->in[1]->data &&
                dnnl_memory_desc_equal(&c->wmd, want))
                hit = c;
        }
        if (d->wei && !d->wei_shared)
            free_mem(&d->wei);
        d->wei = NULL;
        if (hit) {
            d->wei = hit->mem;
            d->wmd = hit->wmd;
        } else {
            if ((rc = reorder_weights(st, d, wuser, want, err)))
                goto out;
            wcache *c = calloc(1, sizeof *c);
            if (!c) {
                rc = infer__step_err(st, err, FM_ENOMEM, "out of memory");
                goto out;
            }
            *c = (wcache){st->in[1]->data, *want, d->wei};
            if (infer__session_own_fn(s, c, wcache_free)) {
                d->wei = NULL;
                rc = infer__step_err(st, err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
        d->wei_shared = true;
    }
    CK(dnnl_primitive_create(&d->prim, pd));
    if (src->data_type == dnnl_bf16) { /* BF16: src is the session's staging buffer */
        infer_session *s = st->s;
        size_t need = dnnl_memory_desc_get_size(src);
        if (need > s->bf16_cap) {
            free(s->bf16_buf);
            s->bf16_buf = aligned_alloc(64, (need + 63) & ~(size_t)63);
            s->bf16_cap = s->bf16_buf ? need : 0;
            if (!s->bf16_buf) {
                rc = infer__step_err(st, err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
        dnnl_memory_desc_t xu = *src;
        xu.data_type = dnnl_f32;
        dnnl_primitive_desc_t rpd = NULL;
        CK(dnnl_memory_create(&d->xuser, &xu, engine, st->in[0]->data));
        CK(dnnl_reorder_primitive_desc_create(&rpd, &xu, engine, src, engine, NULL));
        dnnl_status_t cs = dnnl_primitive_create(&d->rin, rpd);
        dnnl_primitive_desc_destroy(rpd);
        CK(cs);
        CK(dnnl_memory_create(&d->src, src, engine, s->bf16_buf));
    } else {
        CK(dnnl_memory_create(&d->src, src, engine, st->in[0]->data));
    }
    CK(dnnl_memory_create(&d->dst, dst, engine, st->out[0]->data));
    if (bia)
        CK(dnnl_memory_create(&d->bia, bia, engine, (void *)bias));
out:
    return rc;
}

/* Returns 0 when the primitive is ready, 1 when oneDNN has no fast kernel for this case (the
 * caller falls back to XNNPACK), or a negative error. */
int infer__dnnl_conv_setup(step *st, const dnnl_conv_geom *g, fm_err *err)
{
    int rc = 0;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    omp_set_num_threads(1);
    dnnl_memory_desc_t src, dst, wuser, wany, bia;
    dnnl_dims_t sd = {g->n, g->c, g->h, g->w}, dd = {g->n, g->m, g->oh, g->ow}, bd = {g->m};
    dnnl_data_type_t ct = st->s->o.precision == INFER_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    CK(dnnl_memory_desc_init_by_tag(&src, 4, sd, ct, st->in_nhwc ? dnnl_nhwc : dnnl_nchw));
    CK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, st->out_nhwc ? dnnl_nhwc : dnnl_nchw));
    if (g->g == 1) {
        dnnl_dims_t wd = {g->m, g->c, g->kh, g->kw};
        CK(dnnl_memory_desc_init_by_tag(&wuser, 4, wd, dnnl_f32, dnnl_oihw));
        CK(dnnl_memory_desc_init_by_tag(&wany, 4, wd, ct, dnnl_format_tag_any));
    } else {
        dnnl_dims_t wd = {g->g, g->m / g->g, g->c / g->g, g->kh, g->kw};
        CK(dnnl_memory_desc_init_by_tag(&wuser, 5, wd, dnnl_f32, dnnl_goihw));
        CK(dnnl_memory_desc_init_by_tag(&wany, 5, wd, ct, dnnl_format_tag_any));
    }
    CK(dnnl_memory_desc_init_by_tag(&bia, 1, bd, dnnl_f32, dnnl_x));
    bool has_bias = st->n_in > 2 && st->in[2];
    dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->pt, g->pl},
                pr = {g->pb, g->pr};
    dnnl_convolution_desc_t cd;
    CK(dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wany, has_bias ? &bia : NULL,
        &dst, strides, dil, pl, pr));
    CK(dnnl_primitive_attr_create(&attr));
    if (st->fuse_min > -INFINITY || st->fuse_max < INFINITY) {
        CK(dnnl_post_ops_create(&po));
        if (st->fuse_min == 0 && st->fuse_max == INFINITY)
            CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        else
            CK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip,
                                            st->fuse_min > -INFINITY ? st->fuse_min : -FLT_MAX,
                                            st->fuse_max < INFINITY ? st->fuse_max : FLT_MAX));
        CK(dnnl_primitive_attr_set_post_ops(attr, po));
    }
    CK(dnnl_primitive_desc_create(&pd, &cd, attr, engine, NULL));
    rc = build(st, pd, &src, &dst, &wuser, has_bias ? &bia : NULL,
               has_bias ? st->in[2]->data : NULL, err);
out:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

int infer__dnnl_matmul_setup(step *st, int64_t rows, int64_t k, int64_t n, const float *bias,
                             fm_err *err)
{
    int rc = 0;
    dnnl_primitive_desc_t pd = NULL;
    omp_set_num_threads(1);
    dnnl_memory_desc_t src, dst, wuser, wany, bia;
    dnnl_dims_t sd = {rows, k}, wd = {k, n}, dd = {rows, n}, bd = {1, n};
    dnnl_data_type_t ct = st->s->o.precision == INFER_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
    CK(dnnl_memory_desc_init_by_tag(&src, 2, sd, ct, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wuser, 2, wd, dnnl_f32, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&wany, 2, wd, ct, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&bia, 2, bd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    CK(dnnl_matmul_desc_init(&md, &src, &wany, bias ? &bia : NULL, &dst));
    CK(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL));
    rc = build(st, pd, &src, &dst, &wuser, bias ? &bia : NULL, bias, err);
out:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

int infer__dnnl_step_exec(step *st, fm_err *err)
{
    dconv *d = *st->dstate;
    if (!d || !d->prim)
        return infer__step_err(st, err, FM_EINTERNAL, "onednn convolution not set up");
    omp_set_num_threads(1);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, d->src},
                               {DNNL_ARG_WEIGHTS, d->wei},
                               {DNNL_ARG_DST, d->dst},
                               {DNNL_ARG_BIAS, d->bia}};
    dnnl_status_t s = dnnl_success;
    if (d->rin) { /* the staging buffer may have moved since setup (a larger one was needed) */
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, d->xuser}, {DNNL_ARG_TO, d->src}};
        s = dnnl_memory_set_data_handle(d->src, st->s->bf16_buf);
        if (s == dnnl_success)
            s = dnnl_primitive_execute(d->rin, d->stream, 2, ra);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_execute(d->prim, d->stream, d->bia ? 4 : 3, args);
    if (s == dnnl_success)
        s = dnnl_stream_wait(d->stream);
    if (s != dnnl_success)
        return infer__step_err(st, err, FM_EINTERNAL, "onednn convolution failed (%d)", (int)s);
    return 0;
}
