/*
 * ops_shape.c — shape and data-movement operators. Reshape-like ops alias their input's storage
 * (the plan makes them free); shape-only subgraphs (Shape -> Gather -> Concat -> Reshape) are
 * evaluated while planning, because their inputs are known then.
 */
#include <math.h>
#include <string.h>

#include "infer/ops_int.h"

int infer__shape_dropout(step *st, fm_err *err)
{
    if (st->n_in >= 3 && st->in[2]) {
        const rt_val *tm = st->in[2];
        if (!tm->is_const || tm->dtype != INFER_DTYPE_BOOL || tm->numel != 1)
            return infer__step_err(st, err, FM_EUNSUPPORTED,
                                   "training_mode not supported unless a constant false");
        if (*(const uint8_t *)tm->data)
            return infer__step_err(st, err, FM_EUNSUPPORTED, "training mode is not supported");
    }
    int rc = infer__shape_same(st, err);
    if (!rc && st->n_out > 1)
        rc = infer__set_out(st, 1, INFER_DTYPE_BOOL, st->in[0]->ndim, st->in[0]->dims, err);
    return rc;
}

int infer__exec_dropout(step *st, fm_err *err)
{
    if (st->n_out > 1 && st->out[1])
        memset(st->out[1]->data, 1, st->out[1]->bytes);
    return infer__exec_copy(st, err);
}

int infer__shape_reshape(step *st, fm_err *err)
{
    int64_t shp[INFER_MAX_DIMS];
    int n;
    int rc = infer__const_ints(st, 1, shp, INFER_MAX_DIMS, &n, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    bool allowzero = infer__attr_i(st->node, "allowzero", 0) != 0;
    int neg = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (shp[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return infer__step_err(st, err, FM_ESHAPE, "0 in shape beyond input rank");
            shp[i] = x->dims[i];
        }
        if (shp[i] == -1) {
            if (neg >= 0)
                return infer__step_err(st, err, FM_ESHAPE, "more than one -1 in shape");
            neg = i;
            continue;
        }
        if (shp[i] < 0)
            return infer__step_err(st, err, FM_ESHAPE, "negative dimension in shape");
        if (__builtin_mul_overflow(known, shp[i], &known))
            return infer__step_err(st, err, FM_ERANGE, "shape overflows");
    }
    if (neg >= 0) {
        if (known == 0 || x->numel % known)
            return infer__step_err(st, err, FM_ESHAPE, "cannot infer -1 for %lld elements",
                                   (long long)x->numel);
        shp[neg] = x->numel / known;
        known *= shp[neg];
    }
    if (known != x->numel)
        return infer__step_err(st, err, FM_ESHAPE, "cannot reshape %lld elements into %lld",
                               (long long)x->numel, (long long)known);
    return infer__set_out(st, 0, x->dtype, n, shp, err);
}

int infer__shape_flatten(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int64_t axis = infer__attr_i(st->node, "axis", 1);
    if (axis < -x->ndim || axis > x->ndim)
        return infer__step_err(st, err, FM_ERANGE, "axis out of range");
    if (axis < 0)
        axis += x->ndim;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++)
        d[i >= axis] *= x->dims[i];
    return infer__set_out(st, 0, x->dtype, 2, d, err);
}

/* Why: Squeeze/Unsqueeze take axes as an attribute before opset 13 and as an input after. */
static int get_axes(step *st, int64_t *axes, int *n, fm_err *err)
{
    if (st->n_in >= 2 && st->in[1])
        return infer__const_ints(st, 1, axes, INFER_MAX_DIMS, n, err);
    int k = infer__attr_ints(st->node, "axes", axes, INFER_MAX_DIMS);
    if (k == -2)
        return infer__step_err(st, err, FM_ELIMIT, "too many axes");
    *n = k < 0 ? -1 : k;
    return 0;
}

int infer__shape_squeeze(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int64_t axes[INFER_MAX_DIMS];
    int n;
    int rc = get_axes(st, axes, &n, err);
    if (rc)
        return rc;
    bool drop[INFER_MAX_DIMS] = {false};
    if (n < 0) {
        for (int i = 0; i < x->ndim; i++)
            drop[i] = x->dims[i] == 1;
    } else {
        for (int k = 0; k < n; k++) {
            int a;
            if ((rc = infer__norm_axis(st, axes[k], x->ndim, &a, err)))
                return rc;
            if (x->dims[a] != 1)
                return infer__step_err(st, err, FM_ESHAPE, "cannot squeeze dim %d of size %lld", a,
                                       (long long)x->dims[a]);
            drop[a] = true;
        }
    }
    int64_t d[INFER_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i])
            d[m++] = x->dims[i];
    return infer__set_out(st, 0, x->dtype, m, d, err);
}

int infer__shape_unsqueeze(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int64_t axes[INFER_MAX_DIMS];
    int n;
    int rc = get_axes(st, axes, &n, err);
    if (rc)
        return rc;
    if (n < 0)
        return infer__step_err(st, err, FM_EINVAL, "axes missing");
    int r = x->ndim + n;
    if (r > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", r);
    bool ins[INFER_MAX_DIMS] = {false};
    for (int k = 0; k < n; k++) {
        int a;
        if ((rc = infer__norm_axis(st, axes[k], r, &a, err)))
            return rc;
        if (ins[a])
            return infer__step_err(st, err, FM_EINVAL, "repeated axis");
        ins[a] = true;
    }
    int64_t d[INFER_MAX_DIMS];
    int j = 0;
    for (int i = 0; i < r; i++)
        d[i] = ins[i] ? 1 : x->dims[j++];
    return infer__set_out(st, 0, x->dtype, r, d, err);
}

/* ---- Transpose ------------------------------------------------------------------------------ */

/* Why: cache-blocked 2-D transpose, the workhorse of NCHW <-> NHWC and attention reshapes. */
void infer__transpose2d_f32(const float *src, float *dst, size_t rows, size_t cols)
{
    const size_t B = 32;
    for (size_t i0 = 0; i0 < rows; i0 += B)
        for (size_t j0 = 0; j0 < cols; j0 += B) {
            size_t i1 = FM_MIN(rows, i0 + B), j1 = FM_MIN(cols, j0 + B);
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++)
                    dst[j * rows + i] = src[i * cols + j];
        }
}

static int get_perm(const step *st, int64_t *perm, fm_err *err)
{
    int r = st->in[0]->ndim;
    int k = infer__attr_ints(st->node, "perm", perm, INFER_MAX_DIMS);
    if (k < 0) {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return 0;
    }
    if (k != r)
        return infer__step_err(st, err, FM_ESHAPE, "perm has %d entries for rank %d", k, r);
    bool seen[INFER_MAX_DIMS] = {false};
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return infer__step_err(st, err, FM_EINVAL, "perm is not a permutation");
        seen[perm[i]] = true;
    }
    return 0;
}

int infer__shape_transpose(step *st, fm_err *err)
{
    int64_t perm[INFER_MAX_DIMS], d[INFER_MAX_DIMS];
    int rc = get_perm(st, perm, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    for (int i = 0; i < x->ndim; i++)
        d[i] = x->dims[perm[i]];
    return infer__set_out(st, 0, x->dtype, x->ndim, d, err);
}

int infer__exec_transpose(step *st, fm_err *err)
{
    int64_t perm[INFER_MAX_DIMS];
    int rc = get_perm(st, perm, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    int r = x->ndim;
    size_t esz = infer_dtype_size(x->dtype);
    int64_t xs[INFER_MAX_DIMS], s[INFER_MAX_DIMS];
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = acc;
        acc *= x->dims[i];
    }
    for (int i = 0; i < r; i++)
        s[i] = xs[perm[i]];
    /* batched 2-D fast path: perm = (0..k-1, k+1, k) for floats */
    if (esz == 4 && r >= 2 && perm[r - 1] == r - 2 && perm[r - 2] == r - 1) {
        bool lead = true;
        for (int i = 0; i < r - 2; i++)
            lead &= perm[i] == i;
        if (lead) {
            int64_t rows = x->dims[r - 2], cols = x->dims[r - 1],
                    nb = x->numel / FM_MAX(1, rows * cols);
            for (int64_t b = 0; b < nb && rows * cols != 0; b++)
                infer__transpose2d_f32((const float *)x->data + b * rows * cols,
                                       (float *)y->data + b * rows * cols, (size_t)rows,
                                       (size_t)cols);
            return 0;
        }
    }
    int64_t idx[INFER_MAX_DIMS] = {0};
    int64_t off = 0;
    const uint8_t *src = x->data;
    uint8_t *dst = y->data;
    int64_t inner = r ? y->dims[r - 1] : 1, is = r ? s[r - 1] : 0;
    int64_t outer = inner ? y->numel / inner : 0;
    for (int64_t o = 0; o < outer; o++) {
        if (is == 1) /* last axis kept (attention's head split/merge): whole rows */
            memcpy(dst + o * inner * (int64_t)esz, src + off * (int64_t)esz, (size_t)inner * esz);
        else if (esz == 4)
            for (int64_t j = 0; j < inner; j++)
                memcpy(dst + (o * inner + j) * 4, src + (off + j * is) * 4, 4);
        else
            for (int64_t j = 0; j < inner; j++)
                memcpy(dst + (o * inner + j) * esz, src + (off + j * is) * esz, esz);
        for (int i = r - 2; i >= 0; i--) {
            idx[i]++;
            off += s[i];
            if (idx[i] < y->dims[i])
                break;
            off -= s[i] * idx[i];
            idx[i] = 0;
        }
    }
    return 0;
}

/* ---- Concat --------------------------------------------------------------------------------- */

int infer__shape_concat(step *st, fm_err *err)
{
    const rt_val *x = st->in[0];
    int a, rc;
    if ((rc = infer__norm_axis(st, infer__attr_i(st->node, "axis", 0), x->ndim, &a, err)))
        return rc;
    int64_t d[INFER_MAX_DIMS];
    memcpy(d, x->dims, sizeof d);
    d[a] = 0;
    for (int k = 0; k < st->n_in; k++) {
        const rt_val *v = st->in[k];
        if (!v)
            return infer__step_err(st, err, FM_EINVAL, "input %d missing", k);
        if (v->ndim != x->ndim || v->dtype != x->dtype)
            return infer__step_err(st, err, FM_ESHAPE, "input %d has another rank or type", k);
        for (int i = 0; i < x->ndim; i++)
            if (i != a && v->dims[i] != x->dims[i])
                return infer__step_err(st, err, FM_ESHAPE, "input %d differs in dim %d", k, i);
        d[a] += v->dims[a];
    }
    return infer__set_out(st, 0, x->dtype, x->ndim, d, err);
}

int infer__exec_concat(step *st, fm_err *err)
{
    rt_val *y = st->out[0];
    int a;
    infer__norm_axis(st, infer__attr_i(st->node, "axis", 0), y->ndim, &a, err);
    size_t esz = infer_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < a; i++)
        outer *= y->dims[i];
    for (int i = a + 1; i < y->ndim; i++)
        inner *= y->dims[i];
    size_t yrow = (size_t)(y->dims[a] * inner) * esz, pos = 0;
    for (int k = 0; k < st->n_in; k++) {
        const rt_val *v = st->in[k];
        size_t row = (size_t)(v->dims[a] * inner) * esz;
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)y->data + o * yrow + pos, (const uint8_t *)v->data + o * row, row);
        pos += row;
    }
    return 0;
}

/* ---- Slice ---------------------------------------------------------------------------------- */

typedef struct slice_p {
    int64_t start[INFER_MAX_DIMS], step[INFER_MAX_DIMS], len[INFER_MAX_DIMS];
} slice_p;

/* Why: ONNX slice semantics (negative indices, clamping, negative steps) resolved once for shape
 * inference and execution alike. */
static int slice_params(step *st, slice_p *p, fm_err *err)
{
    const rt_val *x = st->in[0];
    int r = x->ndim;
    int64_t starts[INFER_MAX_DIMS], ends[INFER_MAX_DIMS], axes[INFER_MAX_DIMS],
        steps[INFER_MAX_DIMS];
    int ns, ne, na = -1, nst = -1, rc;
    if (st->n_in >= 3) {
        if ((rc = infer__const_ints(st, 1, starts, INFER_MAX_DIMS, &ns, err)))
            return rc;
        if ((rc = infer__const_ints(st, 2, ends, INFER_MAX_DIMS, &ne, err)))
            return rc;
        if (st->n_in >= 4 && st->in[3] &&
            (rc = infer__const_ints(st, 3, axes, INFER_MAX_DIMS, &na, err)))
            return rc;
        if (st->n_in >= 5 && st->in[4] &&
            (rc = infer__const_ints(st, 4, steps, INFER_MAX_DIMS, &nst, err)))
            return rc;
    } else {
        ns = infer__attr_ints(st->node, "starts", starts, INFER_MAX_DIMS);
        ne = infer__attr_ints(st->node, "ends", ends, INFER_MAX_DIMS);
        na = infer__attr_ints(st->node, "axes", axes, INFER_MAX_DIMS);
        if (ns < 0 || ne < 0)
            return infer__step_err(st, err, FM_EINVAL, "starts/ends missing");
    }
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return infer__step_err(st, err, FM_ESHAPE, "starts, ends, axes and steps differ in length");
    for (int i = 0; i < r; i++) {
        p->start[i] = 0;
        p->step[i] = 1;
        p->len[i] = x->dims[i];
    }
    bool seen[INFER_MAX_DIMS] = {false};
    for (int k = 0; k < ns; k++) {
        int a;
        if ((rc = infer__norm_axis(st, na >= 0 ? axes[k] : k, r, &a, err)))
            return rc;
        if (seen[a])
            return infer__step_err(st, err, FM_EINVAL, "repeated axis");
        seen[a] = true;
        int64_t dim = x->dims[a], s = starts[k], e = ends[k], sp = nst >= 0 ? steps[k] : 1;
        if (sp == 0)
            return infer__step_err(st, err, FM_EINVAL, "step 0");
        if (s < 0)
            s += dim;
        if (e < 0 && e > INT64_MIN / 2)
            e += dim;
        if (sp > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            p->len[a] = e > s ? (e - s + sp - 1) / sp : 0;
        } else {
            s = s < 0 ? -1 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            p->len[a] = s > e ? (s - e + (-sp) - 1) / (-sp) : 0;
        }
        p->start[a] = s;
        p->step[a] = sp;
    }
    return 0;
}

int infer__shape_slice(step *st, fm_err *err)
{
    slice_p p;
    int rc = slice_params(st, &p, err);
    if (rc)
        return rc;
    return infer__set_out(st, 0, st->in[0]->dtype, st->in[0]->ndim, p.len, err);
}

int infer__exec_slice(step *st, fm_err *err)
{
    slice_p p;
    int rc = slice_params(st, &p, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    if (!y->numel)
        return 0;
    int r = x->ndim;
    size_t esz = infer_dtype_size(x->dtype);
    int64_t xs[INFER_MAX_DIMS], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = acc;
        acc *= x->dims[i];
    }
    int64_t base = 0;
    for (int i = 0; i < r; i++)
        base += p.start[i] * xs[i];
    if (r == 0) {
        memcpy(y->data, x->data, esz);
        return 0;
    }
    int64_t inner = p.len[r - 1], is = p.step[r - 1] * xs[r - 1];
    int64_t idx[INFER_MAX_DIMS] = {0}, off = base;
    int64_t outer = y->numel / inner;
    uint8_t *dst = y->data;
    const uint8_t *src = x->data;
    for (int64_t o = 0; o < outer; o++) {
        if (is == 1)
            memcpy(dst + o * inner * esz, src + off * esz, (size_t)inner * esz);
        else
            for (int64_t j = 0; j < inner; j++)
                memcpy(dst + (o * inner + j) * esz, src + (off + j * is) * esz, esz);
        for (int i = r - 2; i >= 0; i--) {
            idx[i]++;
            off += p.step[i] * xs[i];
            if (idx[i] < p.len[i])
                break;
            off -= p.step[i] * xs[i] * idx[i];
            idx[i] = 0;
        }
    }
    return 0;
}

/* ---- Gather --------------------------------------------------------------------------------- */

int infer__shape_gather(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *ix = st->in[1];
    int a, rc;
    if ((rc = infer__norm_axis(st, infer__attr_i(st->node, "axis", 0), x->ndim, &a, err)))
        return rc;
    if (ix->dtype != INFER_DTYPE_INT64 && ix->dtype != INFER_DTYPE_INT32)
        return infer__step_err(st, err, FM_ETYPE, "indices must be INT64 or INT32");
    int r = x->ndim - 1 + ix->ndim;
    if (r > INFER_MAX_DIMS)
        return infer__step_err(st, err, FM_EUNSUPPORTED, "rank %d", r);
    int64_t d[INFER_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < a; i++)
        d[m++] = x->dims[i];
    for (int i = 0; i < ix->ndim; i++)
        d[m++] = ix->dims[i];
    for (int i = a + 1; i < x->ndim; i++)
        d[m++] = x->dims[i];
    return infer__set_out(st, 0, x->dtype, r, d, err);
}

int infer__exec_gather(step *st, fm_err *err)
{
    const rt_val *x = st->in[0], *ix = st->in[1];
    rt_val *y = st->out[0];
    int a;
    infer__norm_axis(st, infer__attr_i(st->node, "axis", 0), x->ndim, &a, err);
    size_t esz = infer_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, dim = x->dims[a];
    for (int i = 0; i < a; i++)
        outer *= x->dims[i];
    for (int i = a + 1; i < x->ndim; i++)
        inner *= x->dims[i];
    size_t row = (size_t)inner * esz;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ix->numel; k++) {
            int64_t j = ix->dtype == INFER_DTYPE_INT64 ? ((const int64_t *)ix->data)[k]
                                                       : ((const int32_t *)ix->data)[k];
            if (j < 0)
                j += dim;
            if (j < 0 || j >= dim)
                return infer__step_err(st, err, FM_ERANGE, "index %lld out of range [0, %lld)",
                                       (long long)j, (long long)dim);
            memcpy((uint8_t *)y->data + (o * ix->numel + k) * row,
                   (const uint8_t *)x->data + (o * dim + j) * row, row);
        }
    return 0;
}

/* ---- Shape, Size ---------------------------------------------------------------------------- */

static void shape_range_of(const step *st, int *b, int *e)
{
    int r = st->in[0]->ndim;
    int64_t s = infer__attr_i(st->node, "start", 0), en = infer__attr_i(st->node, "end", r);
    if (s < 0)
        s += r;
    if (en < 0)
        en += r;
    s = s < 0 ? 0 : (s > r ? r : s);
    en = en < 0 ? 0 : (en > r ? r : en);
    *b = (int)s;
    *e = (int)FM_MAX(s, en);
}

int infer__shape_shape(step *st, fm_err *err)
{
    int b, e;
    shape_range_of(st, &b, &e);
    int64_t d = e - b;
    return infer__set_out(st, 0, INFER_DTYPE_INT64, 1, &d, err);
}

int infer__exec_shape(step *st, fm_err *err)
{
    (void)err;
    int b, e;
    shape_range_of(st, &b, &e);
    for (int i = b; i < e; i++)
        ((int64_t *)st->out[0]->data)[i - b] = st->in[0]->dims[i];
    return 0;
}

int infer__shape_size(step *st, fm_err *err)
{
    return infer__set_out(st, 0, INFER_DTYPE_INT64, 0, NULL, err);
}

int infer__exec_size(step *st, fm_err *err)
{
    (void)err;
    *(int64_t *)st->out[0]->data = st->in[0]->numel;
    return 0;
}

/* ---- ConstantOfShape, Expand, Range --------------------------------------------------------- */

int infer__shape_cofs(step *st, fm_err *err)
{
    int64_t d[INFER_MAX_DIMS];
    int n;
    int rc = infer__const_ints(st, 0, d, INFER_MAX_DIMS, &n, err);
    if (rc)
        return rc;
    infer_dtype t = INFER_DTYPE_FP32;
    const iattr *a = infer__node_attr(st->node, "value");
    if (a && a->type == ATTR_TENSOR && a->tensor >= 0)
        t = st->s->m->vals[a->tensor].dtype;
    return infer__set_out(st, 0, t, n, d, err);
}

int infer__exec_cofs(step *st, fm_err *err)
{
    const iattr *a = infer__node_attr(st->node, "value");
    rt_val *y = st->out[0];
    size_t esz = infer_dtype_size(y->dtype);
    uint8_t v[8] = {0};
    if (a && a->type == ATTR_TENSOR && a->tensor >= 0) {
        const ival *t = &st->s->m->vals[a->tensor];
        if (t->bytes < esz)
            return infer__step_err(st, err, FM_EINVAL, "value is empty");
        memcpy(v, t->data, esz);
    }
    for (int64_t i = 0; i < y->numel; i++)
        memcpy((uint8_t *)y->data + i * esz, v, esz);
    return 0;
}

int infer__shape_expand(step *st, fm_err *err)
{
    int64_t shp[INFER_MAX_DIMS], d[INFER_MAX_DIMS];
    int n, nd;
    int rc = infer__const_ints(st, 1, shp, INFER_MAX_DIMS, &n, err);
    if (rc)
        return rc;
    const rt_val *x = st->in[0];
    if ((rc = infer__broadcast_shape(st, x->dims, x->ndim, shp, n, d, &nd, err)))
        return rc;
    return infer__set_out(st, 0, x->dtype, nd, d, err);
}

int infer__exec_expand(step *st, fm_err *err)
{
    (void)err;
    const rt_val *x = st->in[0];
    rt_val *y = st->out[0];
    size_t esz = infer_dtype_size(x->dtype);
    int r = y->ndim;
    int64_t xs[INFER_MAX_DIMS], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        int j = i - (r - x->ndim);
        int64_t dim = j >= 0 ? x->dims[j] : 1;
        xs[i] = dim == 1 ? 0 : acc;
        acc *= dim;
    }
    int64_t idx[INFER_MAX_DIMS] = {0}, off = 0;
    for (int64_t o = 0; o < y->numel; o++) {
        memcpy((uint8_t *)y->data + o * esz, (const uint8_t *)x->data + off * esz, esz);
        for (int i = r - 1; i >= 0; i--) {
            idx[i]++;
            off += xs[i];
            if (idx[i] < y->dims[i])
                break;
            off -= xs[i] * idx[i];
            idx[i] = 0;
        }
    }
    return 0;
}

static double scalar_d(const rt_val *v)
{
    switch (v->dtype) {
    case INFER_DTYPE_FP32: return *(const float *)v->data;
    case INFER_DTYPE_FP64: return *(const double *)v->data;
    case INFER_DTYPE_INT32: return *(const int32_t *)v->data;
    case INFER_DTYPE_INT16: return *(const int16_t *)v->data;
    default: return (double)*(const int64_t *)v->data;
    }
}

int infer__shape_range(step *st, fm_err *err)
{
    for (int k = 0; k < 3; k++)
        if (!st->in[k]->is_const)
            return infer__step_err(st, err, FM_ESTATE,
                                   "start, limit and delta must be known before running");
        else if (st->in[k]->numel != 1 || st->in[k]->dtype != st->in[0]->dtype)
            return infer__step_err(st, err, FM_EINVAL,
                                   "start, limit and delta must be scalars of one type");
    double s = scalar_d(st->in[0]), l = scalar_d(st->in[1]), d = scalar_d(st->in[2]);
    if (d == 0)
        return infer__step_err(st, err, FM_EINVAL, "delta is 0");
    double n = ceil((l - s) / d);
    if (!(n >= 0))
        n = 0;
    if (n > 1e9)
        return infer__step_err(st, err, FM_ELIMIT, "range too long");
    int64_t len = (int64_t)n;
    infer_dtype t = st->in[0]->dtype;
    if (t != INFER_DTYPE_FP32 && t != INFER_DTYPE_FP64 && t != INFER_DTYPE_INT32 &&
        t != INFER_DTYPE_INT64 && t != INFER_DTYPE_INT16)
        return infer__step_err(st, err, FM_ETYPE, "type %s", infer_dtype_name(t));
    return infer__set_out(st, 0, t, 1, &len, err);
}

int infer__exec_range(step *st, fm_err *err)
{
    (void)err;
    rt_val *y = st->out[0];
    for (int64_t i = 0; i < y->numel; i++) {
        switch (y->dtype) {
        case INFER_DTYPE_FP32:
            ((float *)y->data)[i] =
                *(const float *)st->in[0]->data + (float)i * *(const float *)st->in[2]->data;
            break;
        case INFER_DTYPE_FP64:
            ((double *)y->data)[i] = scalar_d(st->in[0]) + (double)i * scalar_d(st->in[2]);
            break;
        case INFER_DTYPE_INT32:
            ((int32_t *)y->data)[i] = (int32_t)(*(const int32_t *)st->in[0]->data +
                                                i * *(const int32_t *)st->in[2]->data);
            break;
        case INFER_DTYPE_INT16:
            ((int16_t *)y->data)[i] = (int16_t)(*(const int16_t *)st->in[0]->data +
                                                i * *(const int16_t *)st->in[2]->data);
            break;
        default:
            ((int64_t *)y->data)[i] =
                *(const int64_t *)st->in[0]->data + i * *(const int64_t *)st->in[2]->data;
            break;
        }
    }
    return 0;
}
