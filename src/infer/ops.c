/*
 * ops.c — the operator table (name, honoured attributes, arity, shape and kernel functions),
 * generated from INFER_OP_MAP in ops_int.h, and the helpers kernels share.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "infer/ops_int.h"

const op_def infer__ops[] = {
#define INFER_XX(e, nm, at, i0, i1, o0, o1, sh, su, ex, re, al, ms)                                \
    [INFER_OP_##e] = {nm, at, i0, i1, o0, o1, sh, su, ex, re, al, ms},
    INFER_OP_MAP(INFER_XX)
#undef INFER_XX
};
_Static_assert(FM_ARRAY_LEN(infer__ops) == INFER_OP__COUNT, "one table row per op");

/* Why: loading looks every node's op up by name. */
int infer__op_find(const char *name)
{
    for (int i = 0; i < INFER_OP__COUNT; i++)
        if (!strcmp(infer__ops[i].name, name))
            return i;
    return -1;
}

const iattr *infer__node_attr(const inode *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
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
    if (!a || a->type != ATTR_INTS)
        return -1;
    int k = (int)FM_MIN(a->n, (size_t)max);
    if (a->n > (size_t)max)
        return -2;
    for (int i = 0; i < k; i++)
        out[i] = a->ints[i];
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
    if (!v)
        return infer__step_err(st, err, FM_EINVAL, "input %d missing", idx);
    if (!v->is_const)
        return infer__step_err(st, err, FM_ESTATE,
                               "input %d must be known before running "
                               "(computed from data, not shapes)",
                               idx);
    if (v->numel > max)
        return infer__step_err(st, err, FM_ELIMIT, "input %d has too many values", idx);
    if (v->dtype == INFER_DTYPE_INT64) {
        memcpy(out, v->data, (size_t)v->numel * 8);
    } else if (v->dtype == INFER_DTYPE_INT32) {
        for (int64_t i = 0; i < v->numel; i++)
            out[i] = ((const int32_t *)v->data)[i];
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
    if (!o)
        return 0;
    if (ndim < 0 || ndim > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "output rank %d", ndim);
    int64_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0 || __builtin_mul_overflow(n, dims[k], &n))
            return infer__step_err(st, err, FM_ERANGE, "output dimension out of range");
        o->dims[k] = dims[k];
    }
    size_t esz = infer_dtype_size(t);
    if (!esz)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "data type %s", infer_dtype_name(t));
    if (n > (int64_t)(INFER_TENSOR_LIMIT / esz))
        return infer__step_err(st, err, FM_ELIMIT, "output of %lld elements too large",
                               (long long)n);
    o->dtype = t;
    o->ndim = ndim;
    o->numel = n;
    o->bytes = (size_t)n * esz;
    return 0;
}

int infer__norm_axis(const step *st, int64_t axis, int rank, int *out, fm_err *err)
{
    if (axis < -rank || axis >= rank)
        return infer__step_err(st, err, FM_ERANGE, "axis %lld out of range for rank %d",
                               (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

/* Why: numpy-style broadcasting of two shapes, used by binary ops, Where and Expand. */
int infer__broadcast_shape(const step *st, const int64_t *a, int na, const int64_t *b, int nb,
                           int64_t *out, int *nout, fm_err *err)
{
    int n = FM_MAX(na, nb);
    int64_t tmp[INFER_MAX_DIMS];
    if (n > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", n);
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1)
            return infer__step_err(st, err, FM_ESHAPE,
                                   "shapes cannot broadcast (dim %d: %lld vs %lld)", i,
                                   (long long)da, (long long)db);
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
    if (st->out[0]->data != st->in[0]->data)
        memmove(st->out[0]->data, st->in[0]->data, st->in[0]->bytes);
    return 0;
}

pthreadpool_t infer__session_pool(const infer_session *s)
{
    return s ? s->pool : NULL;
}
