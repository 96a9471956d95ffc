/*
 * ops_elem.c — elementwise kernels: unary activations, broadcasting binary ops, Where and Cast.
 * Broadcasting is reduced to an outer loop over coalesced dimensions and an inner loop whose
 * strides are 0 or 1, so the common cases (same shape, bias add, scalar) vectorize.
 */
#include <math.h>
#include <string.h>

#include "infer/fastmath.h"
#include "infer/ops_int.h"

/* ---- broadcasting iteration ---------------------------------------------------------------- */

typedef struct bcast {
    int nd;
    int64_t dims[INFER_MAX_DIMS];
    int64_t str[3][INFER_MAX_DIMS];
    int nin;
} bcast;

/* Why: one strides computation serves every broadcasting kernel; adjacent dims that broadcast the
 * same way are merged so the inner loop is as long as possible. */
static void bcast_init(bcast *b, const rt_val *out, const rt_val *const *ins, int nin)
{
    int n = out->ndim;
    b->nin = nin;
    int64_t d[INFER_MAX_DIMS], s[3][INFER_MAX_DIMS];
    for (int k = 0; k < nin; k++) {
        int64_t acc = 1;
        const rt_val *v = ins[k];
        for (int i = n - 1; i >= 0; i--) {
            int j = i - (n - v->ndim);
            int64_t dim = j >= 0 ? v->dims[j] : 1;
            s[k][i] = dim == 1 ? 0 : acc;
            acc *= dim;
        }
    }
    for (int i = 0; i < n; i++)
        d[i] = out->dims[i];
    /* coalesce */
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (d[i] == 1)
            continue;
        if (m > 0) {
            bool ok = true;
            for (int k = 0; k < nin; k++)
                if (b->str[k][m - 1] != s[k][i] * d[i])
                    ok = false;
            if (ok) {
                b->dims[m - 1] *= d[i];
                for (int k = 0; k < nin; k++)
                    b->str[k][m - 1] = s[k][i];
                continue;
            }
        }
        b->dims[m] = d[i];
        for (int k = 0; k < nin; k++)
            b->str[k][m] = s[k][i];
        m++;
    }
    if (m == 0) {
        b->dims[0] = 1;
        for (int k = 0; k < nin; k++)
            b->str[k][0] = 0;
        m = 1;
    }
    b->nd = m;
}

typedef void (*inner_fn)(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st);

/* Why: walks every inner run of the output in row-major order, tracking input offsets. */
static void bcast_run(const bcast *b, inner_fn fn, void *ctx)
{
    int nd = b->nd;
    int64_t idx[INFER_MAX_DIMS] = {0};
    int64_t off[3] = {0, 0, 0};
    int64_t inner = b->dims[nd - 1];
    int64_t ist[3] = {b->str[0][nd - 1], b->str[1][nd - 1], b->str[2][nd - 1]};
    int64_t outer = 1;
    for (int i = 0; i < nd - 1; i++)
        outer *= b->dims[i];
    for (int64_t o = 0; o < outer; o++) {
        fn(ctx, o * inner, off, inner, ist);
        for (int i = nd - 2; i >= 0; i--) {
            idx[i]++;
            for (int k = 0; k < b->nin; k++)
                off[k] += b->str[k][i];
            if (idx[i] < b->dims[i])
                break;
            for (int k = 0; k < b->nin; k++)
                off[k] -= b->str[k][i] * idx[i];
            idx[i] = 0;
        }
    }
}

/* ---- unary ---------------------------------------------------------------------------------- */

/* The parameterless ones: one expression of x each. */
#define UNARY(name, expr)                                                                          \
    static float f_##name(float x, const float *p)                                                 \
    {                                                                                              \
        (void)p;                                                                                   \
        return expr;                                                                               \
    }
UNARY(relu, x > 0 ? x : 0)
UNARY(sigmoid, 1.0f / (1.0f + expf(-x)))
UNARY(tanh, tanhf(x))
UNARY(erf, fm_erff(x))
UNARY(sqrt, sqrtf(x))
UNARY(exp, expf(x))
UNARY(log, logf(x))
UNARY(abs, fabsf(x))
UNARY(neg, -x)
UNARY(floor, floorf(x))
UNARY(ceil, ceilf(x))
UNARY(round, nearbyintf(x)) /* half to even */
UNARY(recip, 1.0f / x)
UNARY(sin, sinf(x))
UNARY(cos, cosf(x))
UNARY(softplus, x > 20 ? x : log1pf(expf(x)))
UNARY(hswish, (x * fminf(fmaxf(x + 3.0f, 0.0f), 6.0f) / 6.0f))
#undef UNARY

static float f_hsigmoid(float x, const float *p)
{
    return fmaxf(0.0f, fminf(1.0f, p[0] * x + p[1]));
}
static float f_leaky(float x, const float *p)
{
    return x >= 0 ? x : p[0] * x;
}
static float f_elu(float x, const float *p)
{
    return x >= 0 ? x : p[0] * (expf(x) - 1.0f);
}
static float f_clip(float x, const float *p)
{
    return fminf(fmaxf(x, p[0]), p[1]);
}
static float f_gelu(float x, const float *p)
{
    if (p[0] != 0)
        return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118f));
}

/* The scalar function of each float unary op (Not and the integer Neg/Abs have their own loops). */
static float (*const unary_fn[INFER_OP__COUNT])(float, const float *) = {
    [INFER_OP_RELU] = f_relu,         [INFER_OP_SIGMOID] = f_sigmoid,
    [INFER_OP_TANH] = f_tanh,         [INFER_OP_ERF] = f_erf,
    [INFER_OP_SQRT] = f_sqrt,         [INFER_OP_EXP] = f_exp,
    [INFER_OP_LOG] = f_log,           [INFER_OP_ABS] = f_abs,
    [INFER_OP_NEG] = f_neg,           [INFER_OP_FLOOR] = f_floor,
    [INFER_OP_CEIL] = f_ceil,         [INFER_OP_RECIPROCAL] = f_recip,
    [INFER_OP_HARD_SWISH] = f_hswish, [INFER_OP_HARD_SIGMOID] = f_hsigmoid,
    [INFER_OP_LEAKY_RELU] = f_leaky,  [INFER_OP_ELU] = f_elu,
    [INFER_OP_CLIP] = f_clip,         [INFER_OP_SIN] = f_sin,
    [INFER_OP_COS] = f_cos,           [INFER_OP_SOFTPLUS] = f_softplus,
    [INFER_OP_GELU] = f_gelu,         [INFER_OP_ROUND] = f_round,
};

/* Why: Clip's bounds come from attributes (opset < 11) or optional constant inputs. */
static int clip_bounds(step *st, float *p, fm_err *err)
{
    p[0] = infer__attr_f(st->node, "min", -INFINITY);
    p[1] = infer__attr_f(st->node, "max", INFINITY);
    for (int k = 1; k <= 2; k++) {
        if (k >= st->n_in || !st->in[k])
            continue;
        const rt_val *v = st->in[k];
        if (v->dtype != INFER_DTYPE_FP32 || v->numel != 1)
            return infer__step_err(st, err, FM_ETYPE, "bound must be a FP32 scalar");
        memcpy(&p[k - 1], v->data, 4);
    }
    return 0;
}

/* Why: all float activations share one loop; parameters come from attributes. */
int infer__exec_unary(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    int op = st->op; /* the step op (fused chains run as Gelu) */
    int64_t n = x->numel;
    if (op == INFER_OP_NOT) {
        if (x->dtype != INFER_DTYPE_BOOL)
            return infer__step_err(st, err, FM_ETYPE, "needs BOOL");
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)y->data)[i] = !((const uint8_t *)x->data)[i];
        return 0;
    }
    if ((op == INFER_OP_NEG || op == INFER_OP_ABS) && x->dtype == INFER_DTYPE_INT64) {
        const int64_t *a = x->data;
        int64_t *o = y->data;
        bool neg = op == INFER_OP_NEG;
        for (int64_t i = 0; i < n; i++)
            o[i] = neg ? (int64_t)(0 - (uint64_t)a[i])
                       : (a[i] < 0 ? (int64_t)(0 - (uint64_t)a[i]) : a[i]);
        return 0;
    }
    if ((op == INFER_OP_NEG || op == INFER_OP_ABS) && x->dtype == INFER_DTYPE_INT32) {
        const int32_t *a = x->data;
        int32_t *o = y->data;
        bool neg = op == INFER_OP_NEG;
        for (int64_t i = 0; i < n; i++)
            o[i] = neg ? (int32_t)(0 - (uint32_t)a[i])
                       : (a[i] < 0 ? (int32_t)(0 - (uint32_t)a[i]) : a[i]);
        return 0;
    }
    if (x->dtype != INFER_DTYPE_FP32)
        return infer__step_err(st, err, FM_ETYPE, "data type %s not supported",
                               infer_dtype_name(x->dtype));
    float p[2] = {0, 0};
    if (op == INFER_OP_HARD_SIGMOID) {
        p[0] = infer__attr_f(st->node, "alpha", 0.2f);
        p[1] = infer__attr_f(st->node, "beta", 0.5f);
    } else if (op == INFER_OP_LEAKY_RELU) {
        p[0] = infer__attr_f(st->node, "alpha", 0.01f);
    } else if (op == INFER_OP_ELU) {
        p[0] = infer__attr_f(st->node, "alpha", 1.0f);
    } else if (op == INFER_OP_CLIP) {
        int rc = clip_bounds(st, p, err);
        if (rc)
            return rc;
    } else if (op == INFER_OP_GELU) {
        p[0] = !strcmp(infer__attr_s(st->node, "approximate", "none"), "tanh");
    }
    const float *a = x->data;
    float *o = y->data;
    if (op == INFER_OP_RELU) {
        for (int64_t i = 0; i < n; i++)
            o[i] = a[i] > 0 ? a[i] : 0;
        return 0;
    }
    if (op == INFER_OP_ERF) {
        for (int64_t i = 0; i < n; i++)
            o[i] = fm_erff(a[i]);
        return 0;
    }
    if (op == INFER_OP_GELU && p[0] == 0) {
        for (int64_t i = 0; i < n; i++)
            o[i] = 0.5f * a[i] * (1.0f + fm_erff(a[i] * 0.70710678118f));
        return 0;
    }
    float (*fn)(float, const float *) = unary_fn[op];
    if (!fn)
        return infer__step_err(st, err, FM_EINTERNAL, "no unary kernel");
    for (int64_t i = 0; i < n; i++)
        o[i] = fn(a[i], p);
    return 0;
}

/* ---- binary ---------------------------------------------------------------------------------- */

enum {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_MAX,
    B_MIN,
    B_EQ,
    B_LT,
    B_GT,
    B_LE,
    B_GE,
    B_AND,
    B_OR,
    B_XOR
};

/* Why: the binary kernels switch on a small code; Sum is an n-ary Add. */
static int bin_code(int op)
{
    switch (op) {
    case INFER_OP_ADD:
    case INFER_OP_SUM: return B_ADD;
    case INFER_OP_SUB: return B_SUB;
    case INFER_OP_MUL: return B_MUL;
    case INFER_OP_DIV: return B_DIV;
    case INFER_OP_POW: return B_POW;
    case INFER_OP_MAX: return B_MAX;
    case INFER_OP_MIN: return B_MIN;
    case INFER_OP_EQUAL: return B_EQ;
    case INFER_OP_LESS: return B_LT;
    case INFER_OP_GREATER: return B_GT;
    case INFER_OP_LESS_OR_EQUAL: return B_LE;
    case INFER_OP_GREATER_OR_EQUAL: return B_GE;
    case INFER_OP_AND: return B_AND;
    case INFER_OP_OR: return B_OR;
    case INFER_OP_XOR: return B_XOR;
    default: return -1;
    }
}

static bool bin_is_cmp(int op)
{
    return op >= B_EQ && op <= B_GE;
}
static bool bin_is_logic(int op)
{
    return op >= B_AND;
}

int infer__shape_binary(step *st, fm_err *err)
{
    int64_t dims[INFER_MAX_DIMS];
    int nd = st->in[0]->ndim;
    memcpy(dims, st->in[0]->dims, sizeof dims);
    for (int k = 1; k < st->n_in; k++) {
        const rt_val *b = st->in[k];
        if (!b)
            return infer__step_err(st, err, FM_EINVAL, "input %d missing", k);
        if (b->dtype != st->in[0]->dtype && !(st->op == INFER_OP_POW))
            return infer__step_err(st, err, FM_ETYPE, "inputs of different types (%s, %s)",
                                   infer_dtype_name(st->in[0]->dtype), infer_dtype_name(b->dtype));
        int rc = infer__broadcast_shape(st, dims, nd, b->dims, b->ndim, dims, &nd, err);
        if (rc)
            return rc;
    }
    int op = bin_code(st->op);
    infer_dtype t = bin_is_cmp(op) ? INFER_DTYPE_BOOL : st->in[0]->dtype;
    if (op == B_POW && st->in[1]->dtype != st->in[0]->dtype)
        st->scratch_bytes = (size_t)st->in[1]->numel * sizeof(float);
    return infer__set_out(st, 0, t, nd, dims, err);
}

typedef struct bin_ctx {
    int op;
    bool relu; /* Add followed by Relu, fused */
    infer_dtype t, tb;
    const void *a, *b;
    void *o;
} bin_ctx;

#define BIN_RUN(T, TO, EXPR)                                                                       \
    do {                                                                                           \
        const T *A = (const T *)c->a + off[0];                                                     \
        const T *B = (const T *)c->b + off[1];                                                     \
        TO *O = (TO *)c->o + o;                                                                    \
        if (sa == 1 && sb == 1)                                                                    \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i], y = B[i];                                                              \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        else if (sa == 1 && sb == 0) {                                                             \
            T y = B[0];                                                                            \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i];                                                                        \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            T x = A[0];                                                                            \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T y = B[i];                                                                        \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else                                                                                     \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i * sa], y = B[i * sb];                                                    \
                O[i] = (EXPR);                                                                     \
            }                                                                                      \
    } while (0)

#define ARITH(T)                                                                                   \
    switch (c->op) {                                                                               \
    case B_ADD: BIN_RUN(T, T, x + y); break;                                                       \
    case B_SUB: BIN_RUN(T, T, x - y); break;                                                       \
    case B_MUL: BIN_RUN(T, T, x *y); break;                                                        \
    case B_MAX: BIN_RUN(T, T, x > y ? x : y); break;                                               \
    case B_MIN: BIN_RUN(T, T, x < y ? x : y); break;                                               \
    case B_EQ: BIN_RUN(T, uint8_t, x == y); break;                                                 \
    case B_LT: BIN_RUN(T, uint8_t, x < y); break;                                                  \
    case B_GT: BIN_RUN(T, uint8_t, x > y); break;                                                  \
    case B_LE: BIN_RUN(T, uint8_t, x <= y); break;                                                 \
    case B_GE: BIN_RUN(T, uint8_t, x >= y); break;                                                 \
    default: break;                                                                                \
    }

static int64_t ipow(int64_t b, int64_t e)
{
    int64_t r = 1;
    if (e < 0)
        return b == 1 ? 1 : (b == -1 ? (e % 2 ? -1 : 1) : 0);
    while (e) {
        if (e & 1)
            r = (int64_t)((uint64_t)r * (uint64_t)b);
        b = (int64_t)((uint64_t)b * (uint64_t)b);
        e >>= 1;
    }
    return r;
}

static int64_t idiv(int64_t x, int64_t y)
{
    if (y == 0)
        return 0;
    if (y == -1)
        return (int64_t)(0 - (uint64_t)x);
    return x / y;
}

/* Why: the inner loop of every binary op, specialised per type and op outside the loop. */
static void bin_inner(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st)
{
    bin_ctx *c = ctx;
    int64_t sa = st[0], sb = st[1];
    switch (c->t) {
    case INFER_DTYPE_FP32:
        if (c->relu)
            BIN_RUN(float, float, (x + y) > 0 ? (x + y) : 0);
        else if (c->op == B_DIV)
            BIN_RUN(float, float, x / y);
        else if (c->op == B_POW && c->tb == INFER_DTYPE_FP32)
            BIN_RUN(float, float, (y == 2.0f ? x * x : powf(x, y)));
        else
            ARITH(float);
        break;
    case INFER_DTYPE_FP64:
        if (c->op == B_DIV)
            BIN_RUN(double, double, x / y);
        else if (c->op == B_POW && c->tb == INFER_DTYPE_FP64)
            BIN_RUN(double, double, pow(x, y));
        else
            ARITH(double);
        break;
    case INFER_DTYPE_INT64:
        if (c->op == B_DIV)
            BIN_RUN(int64_t, int64_t, idiv(x, y));
        else if (c->op == B_POW && c->tb == INFER_DTYPE_INT64)
            BIN_RUN(int64_t, int64_t, ipow(x, y));
        else if (c->op == B_ADD)
            BIN_RUN(int64_t, int64_t, (int64_t)((uint64_t)x + (uint64_t)y));
        else if (c->op == B_SUB)
            BIN_RUN(int64_t, int64_t, (int64_t)((uint64_t)x - (uint64_t)y));
        else if (c->op == B_MUL)
            BIN_RUN(int64_t, int64_t, (int64_t)((uint64_t)x * (uint64_t)y));
        else
            ARITH(int64_t);
        break;
    case INFER_DTYPE_INT32:
        if (c->op == B_DIV)
            BIN_RUN(int32_t, int32_t, (int32_t)idiv(x, y));
        else if (c->op == B_POW && c->tb == INFER_DTYPE_INT32)
            BIN_RUN(int32_t, int32_t, (int32_t)ipow(x, y));
        else if (c->op == B_ADD)
            BIN_RUN(int32_t, int32_t, (int32_t)((uint32_t)x + (uint32_t)y));
        else if (c->op == B_SUB)
            BIN_RUN(int32_t, int32_t, (int32_t)((uint32_t)x - (uint32_t)y));
        else if (c->op == B_MUL)
            BIN_RUN(int32_t, int32_t, (int32_t)((uint32_t)x * (uint32_t)y));
        else
            ARITH(int32_t);
        break;
    case INFER_DTYPE_BOOL:
        if (c->op == B_AND)
            BIN_RUN(uint8_t, uint8_t, x && y);
        else if (c->op == B_OR)
            BIN_RUN(uint8_t, uint8_t, x || y);
        else if (c->op == B_XOR)
            BIN_RUN(uint8_t, uint8_t, !x != !y);
        else if (c->op == B_EQ)
            BIN_RUN(uint8_t, uint8_t, x == y);
        break;
    default: break;
    }
}

/* Why: binary and variadic (Sum/Max/Min) ops: the first pair writes the output, later inputs fold
 * into it in place. */
int infer__exec_binary(step *st, fm_err *err)
{
    int op = bin_code(st->op);
    infer_dtype t = st->in[0]->dtype;
    bool ok;
    if (bin_is_logic(op))
        ok = t == INFER_DTYPE_BOOL;
    else if (op == B_EQ)
        ok = t == INFER_DTYPE_FP32 || t == INFER_DTYPE_FP64 || t == INFER_DTYPE_INT64 ||
             t == INFER_DTYPE_INT32 || t == INFER_DTYPE_BOOL;
    else
        ok = t == INFER_DTYPE_FP32 || t == INFER_DTYPE_FP64 || t == INFER_DTYPE_INT64 ||
             t == INFER_DTYPE_INT32;
    if (!ok)
        return infer__step_err(st, err, FM_ETYPE, "data type %s not supported",
                               infer_dtype_name(t));
    rt_val *out = st->out[0];
    if (st->n_in == 1) {
        memmove(out->data, st->in[0]->data, out->bytes);
        return 0;
    }
    if (op == B_POW && st->in[1]->dtype != t) {
        /* mixed Pow: convert the exponent to the base type in the scratch buffer */
        const rt_val *e = st->in[1];
        if (t != INFER_DTYPE_FP32 || !st->scratch)
            return infer__step_err(st, err, FM_ETYPE, "Pow of %s by %s not supported",
                                   infer_dtype_name(t), infer_dtype_name(e->dtype));
        float *tmp = st->scratch;
        for (int64_t i = 0; i < e->numel; i++) {
            switch (e->dtype) {
            case INFER_DTYPE_INT64: tmp[i] = (float)((const int64_t *)e->data)[i]; break;
            case INFER_DTYPE_INT32: tmp[i] = (float)((const int32_t *)e->data)[i]; break;
            case INFER_DTYPE_FP64: tmp[i] = (float)((const double *)e->data)[i]; break;
            default:
                return infer__step_err(st, err, FM_ETYPE, "Pow exponent %s not supported",
                                       infer_dtype_name(e->dtype));
            }
        }
        rt_val ev = *e;
        ev.dtype = INFER_DTYPE_FP32;
        ev.data = tmp;
        const rt_val *ins[2] = {st->in[0], &ev};
        bcast b;
        bcast_init(&b, out, ins, 2);
        bin_ctx c = {op, false, t, t, st->in[0]->data, tmp, out->data};
        bcast_run(&b, bin_inner, &c);
        return 0;
    }
    for (int k = 1; k < st->n_in; k++) {
        const rt_val *a = k == 1 ? st->in[0] : out;
        const rt_val *ins[2] = {a, st->in[k]};
        bcast b;
        bcast_init(&b, out, ins, 2);
        bin_ctx c = {
            op,       st->fuse_min == 0 && op == B_ADD && t == INFER_DTYPE_FP32 && st->n_in == 2,
            t,        st->in[k]->dtype,
            a->data,  st->in[k]->data,
            out->data};
        bcast_run(&b, bin_inner, &c);
    }
    return 0;
}

/* ---- Where ---------------------------------------------------------------------------------- */

int infer__shape_where(step *st, fm_err *err)
{
    const rt_val *c = st->in[0], *x = st->in[1], *y = st->in[2];
    if (c->dtype != INFER_DTYPE_BOOL)
        return infer__step_err(st, err, FM_ETYPE, "condition must be BOOL");
    if (x->dtype != y->dtype)
        return infer__step_err(st, err, FM_ETYPE, "X and Y types differ");
    int64_t d[INFER_MAX_DIMS];
    int nd;
    int rc = infer__broadcast_shape(st, c->dims, c->ndim, x->dims, x->ndim, d, &nd, err);
    if (!rc)
        rc = infer__broadcast_shape(st, d, nd, y->dims, y->ndim, d, &nd, err);
    if (rc)
        return rc;
    return infer__set_out(st, 0, x->dtype, nd, d, err);
}

typedef struct where_ctx {
    const uint8_t *c;
    const uint8_t *x, *y;
    uint8_t *o;
    size_t esz;
    int64_t sx, sy;
} where_ctx;

static void where_inner(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st)
{
    where_ctx *w = ctx;
    for (int64_t i = 0; i < len; i++) {
        bool c = w->c[off[0] + i * st[0]];
        const uint8_t *src =
            c ? w->x + (off[1] + i * st[1]) * w->esz : w->y + (off[2] + i * st[2]) * w->esz;
        memcpy(w->o + (o + i) * w->esz, src, w->esz);
    }
}

int infer__exec_where(step *st, fm_err *err)
{
    (void)err;
    const rt_val *ins[3] = {st->in[0], st->in[1], st->in[2]};
    bcast b;
    bcast_init(&b, st->out[0], ins, 3);
    where_ctx w = {st->in[0]->data,
                   st->in[1]->data,
                   st->in[2]->data,
                   st->out[0]->data,
                   infer_dtype_size(st->in[1]->dtype),
                   0,
                   0};
    bcast_run(&b, where_inner, &w);
    return 0;
}

/* ---- Cast ----------------------------------------------------------------------------------- */

static bool cast_ok(infer_dtype t)
{
    switch (t) {
    case INFER_DTYPE_FP32:
    case INFER_DTYPE_FP64:
    case INFER_DTYPE_INT8:
    case INFER_DTYPE_UINT8:
    case INFER_DTYPE_INT16:
    case INFER_DTYPE_UINT16:
    case INFER_DTYPE_INT32:
    case INFER_DTYPE_UINT32:
    case INFER_DTYPE_INT64:
    case INFER_DTYPE_UINT64:
    case INFER_DTYPE_BOOL: return true;
    default: return false;
    }
}

int infer__shape_cast(step *st, fm_err *err)
{
    infer_dtype to = (infer_dtype)infer__attr_i(st->node, "to", 0);
    if (!cast_ok(to) || !cast_ok(st->in[0]->dtype))
        return infer__step_err(st, err, FM_EUNSUPPORTED, "cast from %s to %s not supported",
                               infer_dtype_name(st->in[0]->dtype), infer_dtype_name(to));
    return infer__set_out(st, 0, to, st->in[0]->ndim, st->in[0]->dims, err);
}

static bool is_float(infer_dtype t)
{
    return t == INFER_DTYPE_FP32 || t == INFER_DTYPE_FP64;
}

static double load_f(const void *p, infer_dtype t, int64_t i)
{
    return t == INFER_DTYPE_FP32 ? ((const float *)p)[i] : ((const double *)p)[i];
}

static int64_t load_i(const void *p, infer_dtype t, int64_t i)
{
    switch (t) {
    case INFER_DTYPE_INT8: return ((const int8_t *)p)[i];
    case INFER_DTYPE_UINT8:
    case INFER_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case INFER_DTYPE_INT16: return ((const int16_t *)p)[i];
    case INFER_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case INFER_DTYPE_INT32: return ((const int32_t *)p)[i];
    case INFER_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case INFER_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

static void store_i(void *p, infer_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case INFER_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case INFER_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case INFER_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case INFER_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case INFER_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case INFER_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case INFER_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case INFER_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: ((int64_t *)p)[i] = v; break;
    }
}

/* Why: float -> int conversion of out-of-range values is undefined in C; clamp it instead. */
static int64_t f2i(double x)
{
    if (x != x)
        return 0;
    if (x >= 9.2233720368547758e18)
        return INT64_MAX;
    if (x <= -9.2233720368547758e18)
        return INT64_MIN;
    return (int64_t)x;
}

int infer__exec_cast(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    infer_dtype f = x->dtype, t = y->dtype;
    if (f == INFER_DTYPE_INT32 && t == INFER_DTYPE_FP32) { /* MatMulInteger's output: vectorized */
        const int32_t *a = x->data;
        float *b = y->data;
        for (int64_t i = 0; i < x->numel; i++)
            b[i] = (float)a[i];
        return 0;
    }
    for (int64_t i = 0; i < x->numel; i++) {
        if (is_float(f) && is_float(t)) {
            double v = load_f(x->data, f, i);
            if (t == INFER_DTYPE_FP32)
                ((float *)y->data)[i] = (float)v;
            else
                ((double *)y->data)[i] = v;
        } else if (is_float(f)) {
            double v = load_f(x->data, f, i);
            store_i(y->data, t, i, t == INFER_DTYPE_BOOL ? (v != 0) : f2i(v));
        } else if (is_float(t)) {
            int64_t v = load_i(x->data, f, i);
            double d = f == INFER_DTYPE_UINT64 ? (double)(uint64_t)v : (double)v;
            if (t == INFER_DTYPE_FP32)
                ((float *)y->data)[i] = (float)d;
            else
                ((double *)y->data)[i] = d;
        } else {
            store_i(y->data, t, i, load_i(x->data, f, i));
        }
    }
    return 0;
}
