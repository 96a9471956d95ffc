/*
 * ops.c — the operator table (name, honoured attributes, arity, shape and kernel functions) and
 * the helpers kernels share. One row per ONNX operator; the loader refuses anything not listed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer/ops_int.h"

#define ROW(nm, at, i0, i1, o0, o1, sh, su, ex, re, al) {nm, at, i0, i1, o0, o1, sh, su, ex, re, al}
#define UNARY(nm, at) ROW(#nm, at, 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false)
#define BINARY(nm) ROW(#nm, "", 2, 2, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false)

const op_def infer__ops[] = {
    /* elementwise */
    UNARY(Relu, ""), UNARY(Sigmoid, ""), UNARY(Tanh, ""), UNARY(Erf, ""), UNARY(Sqrt, ""),
    UNARY(Exp, ""), UNARY(Log, ""), UNARY(Abs, ""), UNARY(Neg, ""), UNARY(Floor, ""),
    UNARY(Ceil, ""), UNARY(Reciprocal, ""), UNARY(HardSwish, ""), UNARY(Softplus, ""),
    UNARY(HardSigmoid, "alpha,beta"), UNARY(LeakyRelu, "alpha"), UNARY(Elu, "alpha"),
    UNARY(Not, ""), UNARY(Sin, ""), UNARY(Cos, ""), UNARY(Gelu, "approximate"), UNARY(Round, ""),
    ROW("Clip", "min,max", 1, 3, 1, 1, infer__shape_same, NULL, infer__exec_unary, NULL, false),
    BINARY(Add), BINARY(Sub), BINARY(Mul), BINARY(Div), BINARY(Pow), BINARY(Equal),
    BINARY(Less), BINARY(Greater), BINARY(LessOrEqual), BINARY(GreaterOrEqual), BINARY(And),
    BINARY(Or), BINARY(Xor),
    ROW("Max", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false),
    ROW("Min", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false),
    ROW("Sum", "", 1, 8, 1, 1, infer__shape_binary, NULL, infer__exec_binary, NULL, false),
    ROW("Where", "", 3, 3, 1, 1, infer__shape_where, NULL, infer__exec_where, NULL, false),
    ROW("Cast", "to,saturate", 1, 1, 1, 1, infer__shape_cast, NULL, infer__exec_cast, NULL, false),
    /* shapes and data movement */
    ROW("Identity", "", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_copy, NULL, true),
    ROW("Dropout", "ratio,seed", 1, 3, 1, 2, infer__shape_dropout, NULL, infer__exec_dropout, NULL, true),
    ROW("Reshape", "allowzero", 2, 2, 1, 1, infer__shape_reshape, NULL, infer__exec_copy, NULL, true),
    ROW("Flatten", "axis", 1, 1, 1, 1, infer__shape_flatten, NULL, infer__exec_copy, NULL, true),
    ROW("Squeeze", "axes", 1, 2, 1, 1, infer__shape_squeeze, NULL, infer__exec_copy, NULL, true),
    ROW("Unsqueeze", "axes", 1, 2, 1, 1, infer__shape_unsqueeze, NULL, infer__exec_copy, NULL, true),
    ROW("Transpose", "perm", 1, 1, 1, 1, infer__shape_transpose, NULL, infer__exec_transpose, NULL, false),
    ROW("Concat", "axis", 1, 64, 1, 1, infer__shape_concat, NULL, infer__exec_concat, NULL, false),
    ROW("Slice", "starts,ends,axes", 1, 5, 1, 1, infer__shape_slice, NULL, infer__exec_slice, NULL, false),
    ROW("Gather", "axis", 2, 2, 1, 1, infer__shape_gather, NULL, infer__exec_gather, NULL, false),
    ROW("Shape", "start,end", 1, 1, 1, 1, infer__shape_shape, NULL, infer__exec_shape, NULL, false),
    ROW("Size", "", 1, 1, 1, 1, infer__shape_size, NULL, infer__exec_size, NULL, false),
    ROW("ConstantOfShape", "value", 1, 1, 1, 1, infer__shape_cofs, NULL, infer__exec_cofs, NULL, false),
    ROW("Expand", "", 2, 2, 1, 1, infer__shape_expand, NULL, infer__exec_expand, NULL, false),
    ROW("Range", "", 3, 3, 1, 1, infer__shape_range, NULL, infer__exec_range, NULL, false),
    /* neural network */
    ROW("Conv", "auto_pad,dilations,group,kernel_shape,pads,strides", 2, 3, 1, 1, infer__shape_conv,
        infer__setup_conv, infer__exec_conv, infer__release_xnn, false),
    ROW("MaxPool", "auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides", 1, 1,
        1, 1, infer__shape_pool, infer__setup_pool, infer__exec_pool, infer__release_xnn, false),
    ROW("AveragePool", "auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides", 1, 1, 1,
        1, infer__shape_pool, NULL, infer__exec_pool, NULL, false),
    ROW("GlobalAveragePool", "", 1, 1, 1, 1, infer__shape_gpool, NULL, infer__exec_gpool, NULL, false),
    ROW("GlobalMaxPool", "", 1, 1, 1, 1, infer__shape_gpool, NULL, infer__exec_gpool, NULL, false),
    ROW("BatchNormalization", "epsilon,momentum,training_mode,spatial", 5, 5, 1, 1, infer__shape_same,
        NULL, infer__exec_batchnorm, NULL, false),
    ROW("MatMul", "", 2, 2, 1, 1, infer__shape_matmul, infer__setup_matmul, infer__exec_matmul, infer__release_xnn, false),
    ROW("Gemm", "alpha,beta,transA,transB", 2, 3, 1, 1, infer__shape_gemm, infer__setup_gemm, infer__exec_gemm,
        infer__release_xnn, false),
    ROW("Softmax", "axis", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_softmax, NULL, false),
    ROW("LogSoftmax", "axis", 1, 1, 1, 1, infer__shape_same, NULL, infer__exec_softmax, NULL, false),
    ROW("LayerNormalization", "axis,epsilon,stash_type", 2, 3, 1, 3, infer__shape_layernorm, NULL,
        infer__exec_layernorm, NULL, false),
    ROW("ReduceMean", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceSum", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceMax", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceMin", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceProd", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceSumSquare", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    ROW("ReduceL2", "axes,keepdims,noop_with_empty_axes", 1, 2, 1, 1, infer__shape_reduce, NULL,
        infer__exec_reduce, NULL, false),
    /* quantized (ops_quant.c); the QLinear elementwise and pooling ops are com.microsoft's */
    ROW("QuantizeLinear", "axis", 2, 3, 1, 1, infer__shape_quantize, NULL, infer__exec_quantize, NULL, false),
    ROW("DequantizeLinear", "axis", 2, 3, 1, 1, infer__shape_dequantize, NULL, infer__exec_dequantize, NULL, false),
    ROW("DynamicQuantizeLinear", "", 1, 1, 3, 3, infer__shape_dynquant, NULL, infer__exec_dynquant, NULL, false),
    ROW("MatMulInteger", "", 2, 4, 1, 1, infer__shape_matmulint, infer__setup_matmulint, infer__exec_matmulint, NULL,
        false),
    ROW("QLinearMatMul", "", 8, 8, 1, 1, infer__shape_qlmatmul, NULL, infer__exec_qlmatmul, NULL, false),
    ROW("ConvInteger", "auto_pad,dilations,group,kernel_shape,pads,strides", 2, 4, 1, 1,
        infer__shape_convint, NULL, infer__exec_convint, NULL, false),
    ROW("QLinearConv", "auto_pad,dilations,group,kernel_shape,pads,strides", 8, 9, 1, 1,
        infer__shape_qlconv, infer__setup_qlconv, infer__exec_qlconv, NULL, false),
    ROW("QLinearAdd", "", 7, 8, 1, 1, infer__shape_qlbinary, NULL, infer__exec_qlbinary, NULL, false),
    ROW("QLinearMul", "", 7, 8, 1, 1, infer__shape_qlbinary, NULL, infer__exec_qlbinary, NULL, false),
    ROW("QLinearSigmoid", "", 4, 5, 1, 1, infer__shape_qlsigmoid, NULL, infer__exec_qlsigmoid, NULL, false),
    ROW("QLinearGlobalAveragePool", "channels_last", 4, 5, 1, 1, infer__shape_qlgpool, NULL, infer__exec_qlgpool,
        NULL, false),
};
const size_t infer__n_ops = FM_ARRAY_LEN(infer__ops);

/* Why: loading looks every node's op up by name. */
int infer__op_find(const char *name)
{
    for (size_t i = 0; i < infer__n_ops; i++)
        if (!strcmp(infer__ops[i].name, name)) return (int)i;
    return -1;
}

bool infer__op_is(const step *st, const char *name)
{
    return !strcmp(infer__ops[st->op].name, name);
}

const iattr *infer__node_attr(const inode *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t infer__attr_i(const inode *n, const char *name, int64_t def)
{
    const iattr *a = infer__node_attr(n, name);
    return a && a->type == ATTR_INT ? a->i : def;
}

float infer__attr_f(const inode *n, const char *name, float def)
{
    const iattr *a = infer__node_attr(n, name);
    return a && a->type == ATTR_FLOAT ? a->f : def;
}

const char *infer__attr_s(const inode *n, const char *name, const char *def)
{
    const iattr *a = infer__node_attr(n, name);
    return a && a->type == ATTR_STRING ? a->s : def;
}

int infer__attr_ints(const inode *n, const char *name, int64_t *out, int max)
{
    const iattr *a = infer__node_attr(n, name);
    if (!a || a->type != ATTR_INTS) return -1;
    int k = (int)FM_MIN(a->n, (size_t)max);
    if (a->n > (size_t)max) return -2;
    for (int i = 0; i < k; i++) out[i] = a->ints[i];
    return k;
}

/* Why: kernels report errors that name the node and its op, as a user reads them. */
int infer__step_err(const step *st, fm_err *err, int code, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return fm_err_set(err, code, "node '%s' (%s): %s", st->node->name, st->node->op_type, buf);
}

/* Why: shape-carrying inputs (Reshape's shape, Slice's starts, ...) must be known at plan time. */
int infer__const_ints(const step *st, int idx, int64_t *out, int max, int *n, fm_err *err)
{
    const rt_val *v = idx < st->n_in ? st->in[idx] : NULL;
    if (!v) return infer__step_err(st, err, FM_EINVAL, "input %d missing", idx);
    if (!v->is_const)
        return infer__step_err(st, err, FM_ESTATE, "input %d must be known before running "
                        "(computed from data, not shapes)", idx);
    if (v->numel > max) return infer__step_err(st, err, FM_ELIMIT, "input %d has too many values", idx);
    if (v->dtype == INFER_DTYPE_INT64) {
        memcpy(out, v->data, (size_t)v->numel * 8);
    } else if (v->dtype == INFER_DTYPE_INT32) {
        for (int64_t i = 0; i < v->numel; i++) out[i] = ((const int32_t *)v->data)[i];
    } else {
        return infer__step_err(st, err, FM_ETYPE, "input %d must be INT64 or INT32, not %s", idx,
                        infer_dtype_name(v->dtype));
    }
    *n = (int)v->numel;
    return 0;
}

/* Why: every shape function ends here, so sizes are overflow-checked in one place. */
int infer__set_out(step *st, int i, infer_dtype t, int ndim, const int64_t *dims, fm_err *err)
{
    rt_val *o = st->out[i];
    if (!o) return 0;
    if (ndim < 0 || ndim > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "output rank %d", ndim);
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0 || __builtin_mul_overflow(n, dims[k], &n))
            return infer__step_err(st, err, FM_ERANGE, "output dimension out of range");
        o->dims[k] = dims[k];
    }
    size_t esz = infer_dtype_size(t);
    if (!esz) return infer__step_err(st, err, FM_EUNSUPPORTED, "data type %s", infer_dtype_name(t));
    if (n > (int64_t)(INFER_TENSOR_LIMIT / esz))
        return infer__step_err(st, err, FM_ELIMIT, "output of %lld elements too large", (long long)n);
    o->dtype = t;
    o->ndim = ndim;
    o->numel = n;
    o->bytes = (size_t)n * esz;
    return 0;
}

int infer__norm_axis(const step *st, int64_t axis, int rank, int *out, fm_err *err)
{
    if (axis < -rank || axis >= rank)
        return infer__step_err(st, err, FM_ERANGE, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

/* Why: numpy-style broadcasting of two shapes, used by binary ops, Where and Expand. */
int infer__broadcast_shape(const step *st, const int64_t *a, int na, const int64_t *b, int nb,
                    int64_t *out, int *nout, fm_err *err)
{
    int n = FM_MAX(na, nb);
    int64_t tmp[INFER_MAX_DIMS];
    if (n > INFER_MAX_DIMS) return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", n);
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1)
            return infer__step_err(st, err, FM_ESHAPE, "shapes cannot broadcast (dim %d: %lld vs %lld)",
                            i, (long long)da, (long long)db);
        tmp[i] = da == 1 ? db : da;
    }
    memcpy(out, tmp, (size_t)n * sizeof *out);
    *nout = n;
    return 0;
}

int infer__shape_same(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int rc = infer__set_out(st, 0, x->dtype, x->ndim, x->dims, err);
    return rc;
}

/* Why: reshape-like ops alias storage, so a copy is needed only when storage is not shared (for
 * constant folding, where outputs get their own buffer). */
int infer__exec_copy(step *st, fm_err *err)
{
    (void)err;
    if (st->out[0]->data != st->in[0]->data) memmove(st->out[0]->data, st->in[0]->data, st->in[0]->bytes);
    return 0;
}

pthreadpool_t infer__session_pool(const infer_session *s)
{
    return s ? s->pool : NULL;
}
