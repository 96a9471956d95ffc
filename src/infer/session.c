/*
 * session.c — sessions: planning (shape propagation, constant folding of shape subgraphs,
 * fusion, memory plan, operator setup) and running. A plan is made for concrete input shapes and
 * redone when they change (a new batch size), so one model serves any batch.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <xnnpack.h>

#include "infer/ops_int.h"

_Thread_local bool infer__reference_mode;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static enum xnn_status lib_status;

/* Why: XNNPACK needs one global init; OpenBLAS must not start its own threads (the session's
 * pool is the only one, and a process must be able to fork after loading). */
static void lib_init(void)
{
    openblas_set_num_threads(1);
    lib_status = xnn_initialize(NULL);
}

static const char *const precision_names[] = {
#define INFER_XX(name, text) text,
    INFER_PRECISION_MAP(INFER_XX)
#undef INFER_XX
};

int infer_precision_parse(const char *s, infer_precision *out)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(precision_names); i++)
        if (!strcasecmp(precision_names[i], s)) {
            *out = (infer_precision)i;
            return 0;
        }
    return FM_EINVAL;
}

const char *infer_precision_name(infer_precision p)
{
    return (size_t)p < FM_ARRAY_LEN(precision_names) ? precision_names[p] : "unknown";
}

static const char *const pack_state_names[] = {
#define INFER_XX(name, text) text,
    INFER_PACK_MAP(INFER_XX)
#undef INFER_XX
};

const char *infer_pack_state_name(infer_pack_state p)
{
    return (size_t)p < FM_ARRAY_LEN(pack_state_names) ? pack_state_names[p] : "unknown";
}

void infer_session_opts_init(infer_session_opts *o)
{
    o->precision = INFER_PRECISION_FP32;
    o->threads = 1;
    o->max_batch = 1;
    o->pack_cache = NULL;
}

/* Why: the profile measures this thread's CPU time, which a busy machine barely disturbs (with
 * threads > 1 it misses the pool workers' share). */
static int64_t thread_cpu_ns(void)
{
    return infer_cpu_ns();
}

/* Why: integer inputs small enough to be shapes, axes or indices that shapes depend on. */
static bool is_small_int(const infer_tensor *t)
{
    int64_t n = infer_tensor_numel(t);
    return t->data &&
           ((n <= 64 && (t->dtype == INFER_DTYPE_INT64 || t->dtype == INFER_DTYPE_INT32)) ||
            (n == 1 && infer_dtype_size(t->dtype) > 0));
}

/* Why: alias chains (Reshape of Reshape) resolve to the value that owns the storage. */
int infer__session_root(const infer_session *s, int v)
{
    while (s->vals[v].alias >= 0)
        v = s->vals[v].alias;
    return v;
}

static void release_steps(infer_session *s)
{
    s->steps = NULL;
    s->n_steps = 0;
    fm_arena_reset(&s->plan_arena);
    s->planned = false;
}

/* Why: activations of a few MB or more on huge pages where the kernel gives them: the first run
 * of a fresh process otherwise takes one page fault per 4 KiB of them. */
static void act_alloc(infer_session *s, size_t want)
{
    size_t huge = (size_t)2 << 20;
    s->act_mapped = false;
    if (want >= huge) {
        size_t cap = (want + huge - 1) & ~(huge - 1);
        void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            madvise(p, cap, MADV_HUGEPAGE);
            s->act = p;
            s->act_cap = cap;
            s->act_mapped = true;
            return;
        }
    }
    s->act = aligned_alloc(64, want);
    s->act_cap = s->act ? want : 0;
}

static void act_free(infer_session *s)
{
    if (s->act_mapped)
        munmap(s->act, s->act_cap);
    else
        free(s->act);
    s->act = NULL;
    s->act_cap = 0;
    s->act_mapped = false;
}

typedef struct block {
    int v; /* value index, or -1 - step index for scratch */
    size_t bytes, off;
    int def, last;
} block;

static int cmp_block(const void *a, const void *b)
{
    const block *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Why: greedy by size, lowest offset that fits among blocks alive at the same time; intermediate
 * buffers are reused, and the peak is what the plan reports. */
static size_t assign_offsets(block *b, size_t n)
{
    qsort(b, n, sizeof *b, cmp_block);
    size_t peak = 0;
    size_t *cand = malloc((n + 1) * sizeof *cand);
    if (!cand)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (size_t j = 0; j < i; j++) {
                if (b[j].def > b[i].last || b[i].def > b[j].last)
                    continue;
                if (off < b[j].off + b[j].bytes && b[j].off < off + b[i].bytes) {
                    off = (b[j].off + b[j].bytes + 63) & ~(size_t)63;
                    moved = true;
                }
            }
        }
        b[i].off = off;
        peak = FM_MAX(peak, off + b[i].bytes);
    }
    free(cand);
    return peak;
}

/* Why: the plan for one set of input shapes: walk nodes in order, infer shapes, fold what is
 * known, fuse, place buffers, set up library operators. */
static int plan(infer_session *s, const infer_tensor *const *ins, fm_err *err)
{
    infer_model *m = s->m;
    int64_t t0 = fm_now_ns(), c0 = infer_cpu_ns();
    release_steps(s);
    memset(s->fused, 0, m->n_nodes);
    s->st.packed_bytes = s->st.packed_bytes; /* kept: operators persist */
    for (size_t i = 0; i < m->n_vals; i++) {
        rt_val *r = &s->vals[i];
        const ival *v = &m->vals[i];
        memset(r, 0, sizeof *r);
        r->alias = -1;
        r->first_use = r->last_use = -2;
        r->ndim = -1;
        if (v->kind == VAL_INIT) {
            r->dtype = v->dtype;
            r->ndim = v->ndim;
            memcpy(r->dims, v->dims, sizeof r->dims);
            r->bytes = v->bytes;
            r->numel = (int64_t)(v->bytes / FM_MAX(infer_dtype_size(v->dtype), 1));
            r->data = (void *)v->data;
            r->is_const = true;
        }
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        rt_val *r = &s->vals[m->inputs[i]];
        const infer_tensor *t = ins[i];
        r->dtype = t->dtype;
        r->ndim = t->ndim;
        memcpy(r->dims, t->dims, sizeof r->dims);
        r->numel = infer_tensor_numel(t);
        r->bytes = (size_t)r->numel * infer_dtype_size(t->dtype);
        r->first_use = -1;
        r->last_use = 0;
        if (s->ints_as_consts && is_small_int(t)) {
            r->data = fm_arena_alloc(&s->plan_arena, r->bytes + 1);
            if (!r->data)
                return fm_err_set(err, FM_ENOMEM, "out of memory");
            if (r->bytes)
                memcpy(r->data, t->data, r->bytes);
            r->is_const = true;
        }
        memcpy(s->plan_dims[i], t->dims, sizeof t->dims);
        s->plan_ndim[i] = t->ndim;
    }
    step *steps = fm_arena_calloc(&s->plan_arena, m->n_nodes + 1, sizeof *steps);
    if (!steps)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    size_t ns = 0;
    int rc = 0;
    int *qend = fm_arena_alloc(&s->plan_arena, (m->n_nodes + 1) * sizeof *qend);
    int *qact = fm_arena_alloc(&s->plan_arena, (m->n_nodes + 1) * sizeof *qact);
    if (!qend || !qact)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    infer__qdq_prepass(s, qend, qact);
    for (size_t ni = 0; ni < m->n_nodes; ni++) {
        const inode *n = &m->nodes[ni];
        if (s->fused[ni] == 2)
            continue; /* inside a fused GELU/LayerNorm chain */
        step tmp = {.node = n,
                    .op = n->op,
                    .n_in = n->n_in,
                    .n_out = n->n_out,
                    .s = s,
                    .state = &s->node_state[ni],
                    .dstate = &s->node_dnnl[ni],
                    .fuse_min = -INFINITY,
                    .fuse_max = INFINITY,
                    .eps = NAN};
        for (int k = 0; k < n->n_in; k++)
            tmp.in[k] = n->in[k] >= 0 ? &s->vals[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++)
            tmp.out[k] = &s->vals[n->out[k]];
        if (qend[ni] >= 0) { /* a QDQ group: one integer convolution or residual join */
            rc = infer__qdq_group_step(s, &tmp, (int)ni, qend[ni], qact[ni], err);
            if (!rc)
                rc = infer__ops[tmp.op].shape(&tmp, err);
            if (rc)
                goto fail;
            steps[ns++] = tmp;
            continue;
        }
        if (s->fused[ni]) { /* absorbed by its producer: pass the storage through */
            int src = n->in[0];
            if (n->op == INFER_OP_ADD && s->vals[src].is_const)
                src = n->in[1];
            rt_val *o = tmp.out[0], *iv = &s->vals[src];
            o->dtype = iv->dtype;
            o->ndim = iv->ndim;
            memcpy(o->dims, iv->dims, sizeof o->dims);
            o->numel = iv->numel;
            o->bytes = iv->bytes;
            o->alias = infer__session_root(s, src);
            continue;
        }
        bool all_const = true;
        for (int k = 0; k < n->n_in; k++)
            if (tmp.in[k] && !tmp.in[k]->is_const)
                all_const = false;
        if (tmp.op == INFER_OP_SHAPE || tmp.op == INFER_OP_SIZE)
            all_const = true;
        int chain[8], nc = 0, gamma = -1, beta = -1, last = -1;
        int fop = -1; /* the op of a fused chain: Gelu or LayerNormalization */
        if (!all_const && !s->reference && !s->calibrating) {
            if ((last = infer__match_gelu(s, (int)ni, chain, &nc)) >= 0)
                fop = INFER_OP_GELU;
            else if ((last = infer__match_layernorm(s, (int)ni, chain, &nc, &gamma, &beta,
                                                    &tmp.eps)) >= 0)
                fop = INFER_OP_LAYER_NORMALIZATION;
        }
        if (fop >= 0) { /* one step from this node's input to the chain's output */
            tmp.op = fop;
            tmp.n_in = fop == INFER_OP_GELU ? 1 : 3;
            if (fop == INFER_OP_LAYER_NORMALIZATION) {
                tmp.in[1] = &s->vals[gamma];
                tmp.in[2] = &s->vals[beta];
            }
            tmp.n_out = 1;
            tmp.out[0] = &s->vals[m->nodes[last].out[0]];
            for (int k = 0; k < nc; k++)
                s->fused[chain[k]] = 2;
        }
        const op_def *d = &infer__ops[tmp.op];
        rc = d->shape(&tmp, err);
        if (rc)
            goto fail;
        if (all_const && d->alias && n->n_out == 1 && tmp.out[0]->bytes == tmp.in[0]->bytes) {
            tmp.out[0]->data = tmp.in[0]->data; /* Identity/Reshape of a constant: no copy */
            tmp.out[0]->is_const = true;
            continue;
        }
        if (all_const) {
            for (int k = 0; k < n->n_out; k++) {
                tmp.out[k]->data = fm_arena_alloc(&s->plan_arena, tmp.out[k]->bytes + 1);
                if (!tmp.out[k]->data) {
                    rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                    goto fail;
                }
            }
            if (tmp.scratch_bytes) {
                tmp.scratch = fm_arena_alloc(&s->plan_arena, tmp.scratch_bytes);
                if (!tmp.scratch) {
                    rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                    goto fail;
                }
            }
            void *keep = NULL;
            void *keep_d = NULL;
            tmp.state = &keep;
            tmp.dstate = &keep_d;
            rc = d->exec(&tmp, err);
            if (rc)
                goto fail;
            for (int k = 0; k < n->n_out; k++)
                tmp.out[k]->is_const = true;
            continue;
        }
        if (d->alias && tmp.in[0] && tmp.out[0]->bytes == tmp.in[0]->bytes)
            tmp.out[0]->alias = infer__session_root(s, n->in[0]);
        steps[ns] = tmp;
        infer__fuse_producer(s, &steps[ns], (int)ni);
        ns++;
    }
    s->steps = steps;
    s->n_steps = ns;
    if (!s->reference && !s->env.nchw && infer__layout_pass(s)) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto fail;
    }
    /* lifetimes */
    for (size_t j = 0; j < ns; j++) {
        step *st = &steps[j];
        for (int k = 0; k < st->n_in; k++) {
            if (!st->in[k] || st->in[k]->is_const)
                continue;
            rt_val *r = &s->vals[infer__session_root(s, (int)(st->in[k] - s->vals))];
            r->last_use = FM_MAX(r->last_use, (int)j);
        }
        for (int k = 0; k < st->n_out; k++) {
            rt_val *r = &s->vals[infer__session_root(s, (int)(st->out[k] - s->vals))];
            if (r->first_use == -2)
                r->first_use = (int)j;
            r->last_use = FM_MAX(r->last_use, (int)j);
        }
    }
    for (size_t i = 0; i < m->n_outputs; i++) {
        rt_val *r = &s->vals[infer__session_root(s, m->outputs[i])];
        if (!r->is_const)
            r->last_use = (int)ns;
    }
    size_t nb = 0;
    block *blocks = malloc((m->n_vals + ns + 1) * sizeof *blocks);
    if (!blocks) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto fail;
    }
    size_t naive = 0;
    for (size_t i = 0; i < m->n_vals; i++) {
        rt_val *r = &s->vals[i];
        if (r->is_const || r->alias >= 0 || r->first_use == -2)
            continue;
        blocks[nb++] = (block){(int)i, (r->bytes + 63) & ~(size_t)63, 0, r->first_use, r->last_use};
        naive += r->bytes;
    }
    for (size_t j = 0; j < ns; j++)
        if (steps[j].scratch_bytes) {
            blocks[nb++] = (block){-1 - (int)j, (steps[j].scratch_bytes + 63) & ~(size_t)63, 0,
                                   (int)j, (int)j};
            naive += steps[j].scratch_bytes;
        }
    size_t peak = assign_offsets(blocks, nb);
    if (peak == SIZE_MAX) {
        free(blocks);
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto fail;
    }
    if (peak > INFER_PLAN_LIMIT) {
        free(blocks);
        rc = fm_err_set(err, FM_ELIMIT, "plan needs %zu bytes of activations (limit %zu)", peak,
                        (size_t)INFER_PLAN_LIMIT);
        goto fail;
    }
    if (peak > s->act_cap || !s->act) { /* at least 64 bytes: empty tensors get a real pointer */
        act_free(s);
        size_t want = FM_MAX((peak + 63) & ~(size_t)63, 64);
        act_alloc(s, want);
        if (!s->act) {
            free(blocks);
            rc = fm_err_set(err, FM_ENOMEM, "cannot allocate %zu bytes for activations", peak);
            goto fail;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        uint8_t *p = s->act ? s->act + blocks[i].off : NULL;
        if (blocks[i].v >= 0)
            s->vals[blocks[i].v].data = p;
        else
            steps[-1 - blocks[i].v].scratch = p;
    }
    free(blocks);
    for (size_t i = 0; i < m->n_vals; i++)
        if (s->vals[i].alias >= 0)
            s->vals[i].data = s->vals[infer__session_root(s, (int)i)].data;
    int64_t t1 = fm_now_ns(), c1 = infer_cpu_ns();
    for (size_t j = 0; j < ns; j++) {
        const op_def *d = &infer__ops[steps[j].op];
        if (d->setup && (rc = d->setup(&steps[j], err)))
            goto fail;
    }
    s->st.plan_bytes = peak;
    s->st.naive_bytes = naive;
    s->st.planned_batch = m->n_inputs && s->plan_ndim[0] > 0 ? s->plan_dims[0][0] : 1;
    s->t.pack_ns += fm_now_ns() - t1;
    s->t.plan_ns += t1 - t0;
    s->t.pack_cpu_ns += infer_cpu_ns() - c1;
    s->t.plan_cpu_ns += c1 - c0;
    s->planned = true;
    return 0;
fail:
    release_steps(s);
    return rc;
}

/* Why: default input shapes for the plan made at session creation: declared dims, with the
 * first symbolic dim set to max_batch and other symbolic dims to 1. */
/* Why: a node that reads one value twice (Add(x, x)) consumes it once; the consumer counts and
 * lists below must agree on that, so they ask the same question. */
static bool input_first_seen(const inode *n, int k)
{
    for (int j = 0; j < k; j++)
        if (n->in[j] == n->in[k])
            return false;
    return true;
}

static int default_plan(infer_session *s, fm_err *err)
{
    infer_model *m = s->m;
    infer_tensor *ts = calloc(m->n_inputs + 1, sizeof *ts);
    const infer_tensor **ps = calloc(m->n_inputs + 1, sizeof *ps);
    if (!ts || !ps) {
        free(ts);
        free(ps);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        const ival *v = &m->vals[m->inputs[i]];
        ts[i].dtype = v->dtype;
        ts[i].ndim = v->ndim < 0 ? 0 : v->ndim;
        for (int k = 0; k < ts[i].ndim; k++)
            ts[i].dims[k] = v->dims[k] >= 0 ? v->dims[k] : (k == 0 ? s->o.max_batch : 1);
        ps[i] = &ts[i];
    }
    int rc = plan(s, ps, err);
    free(ts);
    free(ps);
    return rc;
}

static int session_create(infer_model *m, const infer_session_opts *opts, bool calibrating,
                          infer_session **out, fm_err *err);

int infer_session_new(infer_model *m, const infer_session_opts *opts, infer_session **out,
                      fm_err *err)
{
    return session_create(m, opts, false, out, err);
}

/* Why: calibration reads every node's output, so it plans without fusion and observes steps. */
int infer__session_new_calibrating(infer_model *m, void (*observe)(void *, int, const rt_val *),
                                   void *ctx, infer_session **out, fm_err *err)
{
    int rc = session_create(m, NULL, true, out, err);
    if (!rc) {
        (*out)->observe = observe;
        (*out)->observe_ctx = ctx;
    }
    return rc;
}

/* Why: the FM_INFER_* switches (listed at infer_opts in infer_int.h) are read in one place, once
 * per session, so kernels never call getenv and a session's behaviour is fixed at creation. */
static void opts_from_env(infer_opts *o)
{
    const char *v = getenv("FM_INFER_PACK_CACHE");
    o->pack_cache = v && *v ? v : NULL;
    v = getenv("FM_INFER_PROFILE");
    o->profile = v && *v && strcmp(v, "0");
    o->nchw = getenv("FM_INFER_NCHW") != NULL;
    o->no_dnnl = getenv("FM_INFER_NO_DNNL") != NULL;
    o->no_dnnl_matmul = getenv("FM_INFER_NO_DNNL_MATMUL") != NULL;
    o->no_qdnnl = getenv("FM_INFER_NO_QDNNL") != NULL;
    o->no_qdq = getenv("FM_INFER_NO_QDQ") != NULL;
    o->no_fc = getenv("FM_INFER_NO_FC") != NULL;
    o->xnn_fc = getenv("FM_INFER_XNN_FC") != NULL;
    o->xnn_1x1 = getenv("FM_INFER_XNN_1X1") != NULL;
    o->dnnl_verbose = getenv("FM_INFER_DNNL_VERBOSE") != NULL;
}

static int session_create(infer_model *m, const infer_session_opts *opts, bool calibrating,
                          infer_session **out, fm_err *err)
{
    *out = NULL;
    pthread_once(&lib_once, lib_init);
    if (lib_status != xnn_status_success)
        return fm_err_set(err, FM_EINTERNAL, "cannot initialise XNNPACK (status %d)",
                          (int)lib_status);
    infer_session *s = calloc(1, sizeof *s);
    if (!s)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    s->m = m;
    s->reference = infer__reference_mode;
    s->calibrating = calibrating;
    opts_from_env(&s->env);
    infer_session_opts_init(&s->o);
    if (opts)
        s->o = *opts;
    if (s->o.threads < 1)
        s->o.threads = 1;
    if (s->o.max_batch < 1)
        s->o.max_batch = 1;
    fm_arena_init(&s->plan_arena, 64 * 1024);
    size_t nv = m->n_vals + 1, nn = m->n_nodes + 1;
    s->vals = calloc(nv, sizeof *s->vals);
    s->node_state = calloc(nn, sizeof *s->node_state);
    s->node_dnnl = calloc(nn, sizeof *s->node_dnnl);
    s->consumers = calloc(nv, sizeof *s->consumers);
    s->cons_start = calloc(nv + 1, sizeof *s->cons_start);
    s->consumer = calloc(nv, sizeof *s->consumer);
    s->fused = calloc(nn, 1);
    s->plan_dims = calloc(m->n_inputs + 1, sizeof *s->plan_dims);
    s->plan_ndim = calloc(m->n_inputs + 1, sizeof *s->plan_ndim);
    if (!s->vals || !s->node_state || !s->node_dnnl || !s->consumers || !s->cons_start ||
        !s->consumer || !s->fused || !s->plan_dims || !s->plan_ndim) {
        infer_session_free(s);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) {
            int v = m->nodes[i].in[k];
            if (v < 0 || !input_first_seen(&m->nodes[i], k))
                continue;
            s->consumers[v]++;
            s->consumer[v] = (int)i;
        }
    size_t total = 0;
    for (size_t v = 0; v < m->n_vals; v++) {
        s->cons_start[v] = (int)total;
        total += (size_t)s->consumers[v];
    }
    s->cons_start[m->n_vals] = (int)total;
    s->cons_list = malloc((total + 1) * sizeof *s->cons_list);
    int *fill = calloc(nv, sizeof *fill);
    if (!s->cons_list || !fill) {
        free(fill);
        infer_session_free(s);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) {
            int v = m->nodes[i].in[k];
            if (v >= 0 && input_first_seen(&m->nodes[i], k))
                s->cons_list[s->cons_start[v] + fill[v]++] = (int)i;
        }
    free(fill);
    if (s->env.profile)
        s->prof_ns = calloc(INFER_OP__COUNT, sizeof *s->prof_ns);
    /* the cache holds what oneDNN packs, so only sessions that use oneDNN open it */
    int64_t tc = fm_now_ns(), cc = infer_cpu_ns();
    if (!calibrating && infer__dnnl_wanted(s) &&
        infer__packcache_open(m, s->o.pack_cache ? s->o.pack_cache : s->env.pack_cache, &s->pack)) {
        infer_session_free(s);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    s->o.pack_cache = NULL; /* borrowed for creation only */
    s->t.pack_cache_ns = fm_now_ns() - tc;
    s->t.pack_cache_cpu_ns = infer_cpu_ns() - cc;
    fm_err tmp = {0};
    int rc = default_plan(s, &tmp);
    if (rc == FM_ESTATE) { /* shapes depend on input values: plan at the first run */
        s->ints_as_consts = true;
        rc = 0;
    }
    if (rc) {
        fm_err_set(err, rc, "cannot plan model '%s': %s", m->label, tmp.msg);
        infer_session_free(s);
        return rc;
    }
    tc = fm_now_ns();
    cc = infer_cpu_ns();
    if (infer__packcache_commit(s->pack, &tmp)) /* not fatal: the next instance packs again */
        FM_INFO("infer", "%s", tmp.msg);
    s->t.pack_cache_ns += fm_now_ns() - tc;
    s->t.pack_cache_cpu_ns += infer_cpu_ns() - cc;
    *out = s;
    return 0;
}

/* Why: library objects are owned by the session (shared ones would be freed twice via nodes). */
int infer__session_own_fn(infer_session *s, void *obj, void (*free_fn)(void *))
{
    if (s->n_owned == s->cap_owned) {
        size_t cap = s->cap_owned ? s->cap_owned * 2 : 64;
        owned_obj *o = realloc(s->owned, cap * sizeof *o);
        if (!o) {
            free_fn(obj);
            return FM_ENOMEM;
        }
        s->owned = o;
        s->cap_owned = cap;
    }
    s->owned[s->n_owned++] = (owned_obj){obj, free_fn};
    return 0;
}

static void xnn_free(void *op)
{
    xnn_delete_operator(op);
}

int infer__session_own(infer_session *s, void *op)
{
    return infer__session_own_fn(s, op, xnn_free);
}

void infer_session_free(infer_session *s)
{
    if (!s)
        return;
    if (s->prof_ns) {
        for (size_t i = 0; i < INFER_OP__COUNT; i++)
            if (s->prof_ns[i])
                FM_INFO("infer", "profile op=%s cpu_ms=%.3f runs=%llu", infer__ops[i].name,
                        (double)s->prof_ns[i] / 1e6, (unsigned long long)s->st.runs);
        free(s->prof_ns);
    }
    for (size_t i = 0; i < s->n_owned; i++)
        s->owned[i].free_fn(s->owned[i].obj);
    free(s->owned);
    infer__packcache_free(s->pack); /* after the primitives that read its mapping */
    free(s->fc);
    if (s->pool)
        pthreadpool_destroy(s->pool);
    fm_arena_release(&s->plan_arena);
    free(s->vals);
    free(s->node_state);
    free(s->node_dnnl);
    free(s->consumers);
    free(s->cons_start);
    free(s->cons_list);
    free(s->consumer);
    free(s->fused);
    free(s->plan_dims);
    free(s->plan_ndim);
    act_free(s);
    free(s->bf16_buf);
    free(s);
}

/* Why: inputs are checked against the declaration before anything runs, with named errors. */
static int match_inputs(infer_session *s, const infer_tensor *inputs, size_t n_in,
                        const infer_tensor **by_idx, fm_err *err)
{
    infer_model *m = s->m;
    for (size_t i = 0; i < m->n_inputs; i++)
        by_idx[i] = NULL;
    for (size_t k = 0; k < n_in; k++) {
        const infer_tensor *t = &inputs[k];
        int i = t->name ? infer_model_find_input(m, t->name) : (int)k;
        if (t->name && i < 0)
            return fm_err_set(err, FM_ENOTFOUND, "model has no input '%s'", t->name);
        if (i < 0 || (size_t)i >= m->n_inputs)
            return fm_err_set(err, FM_EINVAL, "model has %zu inputs, got %zu", m->n_inputs, n_in);
        if (by_idx[i])
            return fm_err_set(err, FM_EINVAL, "input '%s' given twice", m->vals[m->inputs[i]].name);
        by_idx[i] = t;
    }
    for (size_t i = 0; i < m->n_inputs; i++) {
        const ival *v = &m->vals[m->inputs[i]];
        const infer_tensor *t = by_idx[i];
        if (!t)
            return fm_err_set(err, FM_EINVAL, "input '%s' missing", v->name);
        if (t->dtype != v->dtype)
            return fm_err_set(err, FM_ETYPE, "input '%s' must be %s, not %s", v->name,
                              infer_dtype_name(v->dtype), infer_dtype_name(t->dtype));
        if (t->ndim < 0 || t->ndim > INFER_MAX_DIMS || (v->ndim >= 0 && t->ndim != v->ndim))
            return fm_err_set(err, FM_ESHAPE, "input '%s' must have rank %d, not %d", v->name,
                              v->ndim, t->ndim);
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] < 0 || (v->ndim >= 0 && v->dims[d] >= 0 && t->dims[d] != v->dims[d]))
                return fm_err_set(err, FM_ESHAPE, "input '%s' dim %d must be %lld, not %lld",
                                  v->name, d, (long long)v->dims[d], (long long)t->dims[d]);
        }
        int64_t n = infer_tensor_numel(t);
        if (n < 0 || (uint64_t)n > SIZE_MAX / 16 ||
            (size_t)n * infer_dtype_size(t->dtype) != t->bytes)
            return fm_err_set(err, FM_ESHAPE, "input '%s': %zu bytes do not match its shape",
                              v->name, t->bytes);
        if (n && !t->data)
            return fm_err_set(err, FM_EINVAL, "input '%s' has no data", v->name);
    }
    return 0;
}

int infer_session_run(infer_session *s, const infer_tensor *inputs, size_t n_in,
                      infer_tensor *outputs, size_t n_out, fm_err *err)
{
    infer_model *m = s->m;
    int64_t t0 = fm_now_ns(), c0 = s->t.first_run_ns ? 0 : infer_cpu_ns();
    const infer_tensor *stack[16];
    const infer_tensor **by_idx = m->n_inputs <= 16 ? stack : malloc(m->n_inputs * sizeof *by_idx);
    if (!by_idx)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = match_inputs(s, inputs, n_in, by_idx, err);
    if (rc)
        goto out;
    if (n_out > m->n_outputs) {
        rc =
            fm_err_set(err, FM_EINVAL, "model has %zu outputs, %zu requested", m->n_outputs, n_out);
        goto out;
    }
    bool replan = !s->planned;
    if (s->o.threads > 1 && !s->pool) {
        s->pool = pthreadpool_create((size_t)s->o.threads);
        if (!s->pool) {
            rc = fm_err_set(err, FM_ENOMEM, "cannot create thread pool");
            goto out;
        }
        replan = true; /* operators are set up for the pool they will run on */
    }
    for (size_t i = 0; i < m->n_inputs && !replan; i++) {
        if (by_idx[i]->ndim != s->plan_ndim[i] ||
            memcmp(by_idx[i]->dims, s->plan_dims[i], sizeof(int64_t) * (size_t)by_idx[i]->ndim))
            replan = true;
        const rt_val *r = &s->vals[m->inputs[i]];
        if (r->is_const &&
            (r->bytes != by_idx[i]->bytes || memcmp(r->data, by_idx[i]->data, r->bytes)))
            replan = true;
    }
    if (replan && (rc = plan(s, by_idx, err)))
        goto out;
    for (size_t i = 0; i < m->n_inputs; i++) {
        rt_val *r = &s->vals[m->inputs[i]];
        if (r->data && !r->is_const && by_idx[i]->bytes)
            memcpy(r->data, by_idx[i]->data, by_idx[i]->bytes);
    }
    for (size_t j = 0; j < s->n_steps; j++) {
        step *st = &s->steps[j];
        int64_t ts = s->prof_ns ? thread_cpu_ns() : 0;
        if ((rc = infer__ops[st->op].exec(st, err)))
            goto out;
        if (s->prof_ns)
            s->prof_ns[st->op] += thread_cpu_ns() - ts;
        for (int k = 0; s->observe && k < st->n_out; k++)
            if (st->out[k])
                s->observe(s->observe_ctx, (int)(st->out[k] - s->vals), st->out[k]);
    }
    for (size_t k = 0; k < n_out; k++) {
        infer_tensor *o = &outputs[k];
        int i = o->name ? infer_model_find_output(m, o->name) : (int)k;
        if (i < 0) {
            rc = fm_err_set(err, FM_ENOTFOUND, "model has no output '%s'", o->name);
            goto out;
        }
        const rt_val *r = &s->vals[m->outputs[i]];
        if (!o->name)
            o->name = m->vals[m->outputs[i]].name;
        if (o->data) {
            if (o->bytes < r->bytes) {
                rc = fm_err_set(err, FM_ERANGE, "output '%s' needs %zu bytes, buffer holds %zu",
                                o->name, r->bytes, o->bytes);
                goto out;
            }
            memcpy(o->data, r->data, r->bytes);
        } else {
            o->data = r->data;
        }
        o->dtype = r->dtype;
        o->ndim = r->ndim;
        memcpy(o->dims, r->dims, sizeof o->dims);
        o->bytes = r->bytes;
    }
    s->st.runs++;
    if (!s->t.first_run_ns) {
        s->t.first_run_ns = fm_now_ns() - t0;
        s->t.first_run_cpu_ns = infer_cpu_ns() - c0;
    }
out:
    if (by_idx != stack)
        free(by_idx);
    return rc;
}

void infer_session_timings(const infer_session *s, infer_timings *out)
{
    infer_model_timings(s->m, out);
    out->plan_ns = s->t.plan_ns;
    out->pack_ns = s->t.pack_ns;
    out->first_run_ns = s->t.first_run_ns;
    out->pack_cache_ns = s->t.pack_cache_ns;
    out->reorder_ns = s->t.reorder_ns;
    out->plan_cpu_ns = s->t.plan_cpu_ns;
    out->pack_cpu_ns = s->t.pack_cpu_ns;
    out->reorder_cpu_ns = s->t.reorder_cpu_ns;
    out->first_run_cpu_ns = s->t.first_run_cpu_ns;
    out->pack_cache_cpu_ns = s->t.pack_cache_cpu_ns;
}

void infer_session_get_stats(const infer_session *s, infer_session_stats *out)
{
    *out = s->st;
    infer__packcache_stats(s->pack, out);
}
