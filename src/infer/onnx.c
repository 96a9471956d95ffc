/*
 * onnx.c — ONNX ModelProto -> infer_model, read in place from the mapped file with pb.c.
 * Field numbers follow onnx.proto (onnx/onnx.proto in libonnx-dev). Names are copied into the
 * model's arena (they are short); tensor data is used in place when it is aligned, else copied.
 * Constant nodes become initializers here. Every unknown operator, domain, attribute, data type
 * or opset is an error that names it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/ops_int.h"

#define OPSET_MIN 7
#define OPSET_MAX 19
#define MAX_NODES (1u << 22)
#define MAX_VALS (1u << 23)

typedef struct parse_ctx {
    infer_model *m;
    fm_err *err;
    /* name -> value index hash (open addressing) */
    int *hash;
    size_t hcap;
} parse_ctx;

/* Why: error text must quote a name even when the file holds non-printable bytes. */
char *infer__onnx_name(infer_model *m, const uint8_t *p, size_t len)
{
    char *s = fm_arena_alloc(&m->arena, len + 1);
    if (!s)
        return NULL;
    if (len)
        memcpy(s, p, len);
    s[len] = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = '?';
    return s;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

/* Why: nodes refer to values by name; a hash keeps loading linear in the graph size. */
static int val_find(parse_ctx *c, const char *name)
{
    if (!c->hcap)
        return -1;
    size_t i = hash_str(name) & (c->hcap - 1);
    while (c->hash[i] >= 0) {
        if (strcmp(c->m->vals[c->hash[i]].name, name) == 0)
            return c->hash[i];
        i = (i + 1) & (c->hcap - 1);
    }
    return -1;
}

/* Why: one place that grows the value table and keeps the hash in step (name NULL: anonymous). */
static int val_add(parse_ctx *c, const char *name)
{
    infer_model *m = c->m;
    if (m->n_vals == m->cap_vals) {
        size_t cap = m->cap_vals ? m->cap_vals * 2 : 256;
        if (cap > MAX_VALS)
            return fm_err_set(c->err, FM_ELIMIT, "too many values in graph");
        ival *v = realloc(m->vals, cap * sizeof *v);
        if (!v)
            return fm_err_set(c->err, FM_ENOMEM, "out of memory");
        m->vals = v;
        m->cap_vals = cap;
    }
    if (name && (m->n_vals + 1) * 2 > c->hcap) {
        size_t cap = c->hcap ? c->hcap * 2 : 1024;
        int *h = malloc(cap * sizeof *h);
        if (!h)
            return fm_err_set(c->err, FM_ENOMEM, "out of memory");
        for (size_t i = 0; i < cap; i++)
            h[i] = -1;
        for (size_t k = 0; k < c->hcap; k++) {
            if (c->hash[k] < 0)
                continue;
            size_t i = hash_str(m->vals[c->hash[k]].name) & (cap - 1);
            while (h[i] >= 0)
                i = (i + 1) & (cap - 1);
            h[i] = c->hash[k];
        }
        free(c->hash);
        c->hash = h;
        c->hcap = cap;
    }
    int idx = (int)m->n_vals++;
    ival *v = &m->vals[idx];
    memset(v, 0, sizeof *v);
    v->name = name ? name : "";
    v->ndim = -1;
    v->producer = -1;
    if (name) {
        size_t i = hash_str(name) & (c->hcap - 1);
        while (c->hash[i] >= 0)
            i = (i + 1) & (c->hcap - 1);
        c->hash[i] = idx;
    }
    return idx;
}

/* Why: a value referenced by name is created on first mention and shared afterwards. */
static int val_get(parse_ctx *c, const char *name)
{
    int i = val_find(c, name);
    return i >= 0 ? i : val_add(c, name);
}

/* Why: weights copied out of the file (unaligned in it) go to one region backed by huge pages
 * where the kernel gives them (a cold process otherwise takes one page fault per 4 KiB of
 * weights, which costs more than the copy); small ones and overflow go to the arena. */
static void *weight_alloc_cb(void *mv, size_t n)
{
    infer_model *m = mv;
    if (n >= 4096 && m->wbuf) {
        size_t off = (m->wused + 63) & ~(size_t)63;
        if (off <= m->wcap && n <= m->wcap - off) {
            m->wused = off + n;
            return m->wbuf + off;
        }
    }
    return fm_arena_alloc(&m->arena, n);
}

/* Why: an initializer or Constant becomes a VAL_INIT value holding aligned data. */
static int add_tensor_value(parse_ctx *c, const uint8_t *msg, size_t len, const char *force_name,
                            int *idx)
{
    tensor_fields tf;
    const void *data;
    size_t bytes;
    int rc =
        infer__onnx_read_tensor(c->m, msg, len, &tf, &data, &bytes, weight_alloc_cb, c->m, c->err);
    if (rc)
        return rc;
    const char *name = force_name ? force_name : tf.name;
    int i;
    if (name && name[0]) {
        i = val_find(c, name);
        if (i >= 0 && c->m->vals[i].kind == VAL_INIT)
            return fm_err_set(c->err, FM_EPARSE, "value '%s' defined twice", name);
        if (i < 0)
            i = val_add(c, name);
    } else {
        i = val_add(c, NULL);
    }
    if (i < 0)
        return i;
    ival *v = &c->m->vals[i];
    v->kind = VAL_INIT;
    v->dtype = (infer_dtype)tf.dtype;
    v->ndim = tf.ndim;
    memcpy(v->dims, tf.dims, sizeof tf.dims);
    v->data = data;
    v->bytes = bytes;
    c->m->weight_bytes += bytes;
    *idx = i;
    return 0;
}

/* ---- value info ----------------------------------------------------------------------------- */

/* Why: graph inputs/outputs declare dtype and shape (with symbolic dims) that callers must see. */
static int read_value_info(parse_ctx *c, const uint8_t *msg, size_t len, ival *tmp)
{
    memset(tmp, 0, sizeof *tmp);
    tmp->ndim = -1;
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.wt != 2)
            continue;
        if (f.num == 1) {
            tmp->name = infer__onnx_name(c->m, f.ptr, f.len);
            if (!tmp->name)
                return fm_err_set(c->err, FM_ENOMEM, "out of memory");
        } else if (f.num == 2) { /* TypeProto */
            pb_rd t = {f.ptr, f.ptr + f.len};
            pb_field g;
            int rc2;
            while ((rc2 = infer__pb_next(&t, &g)) == 1) {
                if (g.num != 1 || g.wt != 2) {
                    if (g.num == 4 || g.num == 5 || g.num == 8 || g.num == 9)
                        return fm_err_set(c->err, FM_EUNSUPPORTED, "value '%s': non-tensor type",
                                          tmp->name ? tmp->name : "");
                    continue;
                }
                pb_rd tt = {g.ptr, g.ptr + g.len};
                pb_field h;
                int rc3;
                while ((rc3 = infer__pb_next(&tt, &h)) == 1) {
                    if (h.num == 1 && h.wt == 0)
                        tmp->dtype = (infer_dtype)h.v;
                    if (h.num == 2 && h.wt == 2) {
                        tmp->ndim = 0;
                        pb_rd sh = {h.ptr, h.ptr + h.len};
                        pb_field d;
                        int rc4;
                        while ((rc4 = infer__pb_next(&sh, &d)) == 1) {
                            if (d.num != 1 || d.wt != 2)
                                continue;
                            if (tmp->ndim >= INFER_MAX_DIMS)
                                return fm_err_set(c->err, FM_EUNSUPPORTED, "rank > %d",
                                                  INFER_MAX_DIMS);
                            int k = tmp->ndim++;
                            tmp->dims[k] = -1;
                            pb_rd dd = {d.ptr, d.ptr + d.len};
                            pb_field e;
                            int rc5;
                            while ((rc5 = infer__pb_next(&dd, &e)) == 1) {
                                if (e.num == 1 && e.wt == 0 && (int64_t)e.v >= 0)
                                    tmp->dims[k] = (int64_t)e.v;
                                if (e.num == 2 && e.wt == 2)
                                    tmp->dim_names[k] = infer__onnx_name(c->m, e.ptr, e.len);
                            }
                            if (rc5 < 0)
                                return FM_EPARSE;
                        }
                        if (rc4 < 0)
                            return FM_EPARSE;
                    }
                }
                if (rc3 < 0)
                    return FM_EPARSE;
            }
            if (rc2 < 0)
                return FM_EPARSE;
        }
    }
    if (rc < 0)
        return FM_EPARSE;
    if (!tmp->name || !tmp->name[0])
        return fm_err_set(c->err, FM_EPARSE, "graph value without a name");
    return 0;
}

/* ---- nodes ---------------------------------------------------------------------------------- */

/* Why: attributes keep only what kernels read; sub-graphs and sparse tensors are refused by
 * name. */
static int read_attr(parse_ctx *c, const uint8_t *msg, size_t len, iattr *a, const char *node)
{
    memset(a, 0, sizeof *a);
    a->tensor = -1;
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    size_t n_ints = 0, n_floats = 0;
    /* pass 1: counts and scalars */
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1: a->name = infer__onnx_name(c->m, f.ptr, f.len); break;
        case 20: a->type = (attr_type)f.v; break;
        case 2: {
            uint32_t u = (uint32_t)f.v;
            memcpy(&a->f, &u, 4);
            break;
        }
        case 3: a->i = (int64_t)f.v; break;
        case 4:
            if (f.wt == 2)
                a->s = infer__onnx_name(c->m, f.ptr, f.len);
            break;
        case 7:
            if (f.wt == 2)
                n_floats += f.len / 4;
            else
                n_floats++;
            break;
        case 8:
            if (infer__pb_varints(&f, NULL, &n_ints))
                return FM_EPARSE;
            break;
        case 5: {
            int idx;
            if (f.wt != 2)
                return FM_EPARSE;
            int e = add_tensor_value(c, f.ptr, f.len, "", &idx);
            if (e)
                return fm_err_prefix(c->err, "node '%s': attribute tensor: ", node);
            a->tensor = idx;
            break;
        }
        case 6:
        case 9:
        case 10:
        case 11:
        case 14:
        case 15:
        case 21:
        case 22:
        case 23: a->type = a->type ? a->type : ATTR_GRAPH; break;
        default: break;
        }
    }
    if (rc < 0)
        return FM_EPARSE;
    if (!a->name)
        return fm_err_set(c->err, FM_EPARSE, "node '%s': attribute without a name", node);
    if (n_ints) {
        a->ints = fm_arena_calloc(&c->m->arena, n_ints, sizeof *a->ints);
        if (!a->ints)
            return FM_ENOMEM;
    }
    if (n_floats) {
        a->floats = fm_arena_calloc(&c->m->arena, n_floats, sizeof *a->floats);
        if (!a->floats)
            return FM_ENOMEM;
    }
    r = (pb_rd){msg, msg + len};
    size_t ki = 0, kf = 0;
    while (infer__pb_next(&r, &f) == 1) {
        if (f.num == 8)
            infer__pb_varints(&f, a->ints, &ki);
        if (f.num == 7) {
            if (f.wt == 2) {
                if (f.len >= 4)
                    memcpy(a->floats + kf, f.ptr, (f.len / 4) * 4);
                kf += f.len / 4;
            } else {
                uint32_t u = (uint32_t)f.v;
                memcpy(a->floats + kf++, &u, 4);
            }
        }
    }
    if (a->type == ATTR_INTS)
        a->n = n_ints;
    if (a->type == ATTR_FLOATS)
        a->n = n_floats;
    if (a->type != ATTR_FLOAT && a->type != ATTR_INT && a->type != ATTR_STRING &&
        a->type != ATTR_TENSOR && a->type != ATTR_FLOATS && a->type != ATTR_INTS)
        return fm_err_set(c->err, FM_EUNSUPPORTED,
                          "node '%s': attribute '%s' of unsupported type %d", node, a->name,
                          (int)a->type);
    if (a->type == ATTR_STRING && !a->s)
        a->s = "";
    return 0;
}

/* Why: the op table lists the attributes each kernel honours; anything else would be ignored
 * silently, so it is reported instead. */
static bool attr_allowed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, name, n))
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* Why: Constant nodes are folded at load: their output becomes an initializer. */
static int fold_constant(parse_ctx *c, inode *n)
{
    infer_model *m = c->m;
    if (n->n_out != 1 || n->n_attrs != 1)
        return fm_err_set(c->err, FM_EPARSE,
                          "node '%s' (Constant): needs one output, one attribute", n->name);
    iattr *a = &n->attrs[0];
    ival *v = &m->vals[n->out[0]];
    if (v->kind == VAL_INIT || v->producer >= 0)
        return fm_err_set(c->err, FM_EPARSE, "value '%s' defined twice", v->name);
    v->kind = VAL_INIT;
    v->ndim = 0;
    if (!strcmp(a->name, "value") && a->type == ATTR_TENSOR && a->tensor >= 0) {
        ival *t = &m->vals[a->tensor];
        v->dtype = t->dtype;
        v->ndim = t->ndim;
        memcpy(v->dims, t->dims, sizeof v->dims);
        v->data = t->data;
        v->bytes = t->bytes;
        return 0;
    }
    size_t cnt = 1, esz;
    const void *src;
    if (!strcmp(a->name, "value_float") && a->type == ATTR_FLOAT) {
        v->dtype = INFER_DTYPE_FP32, src = &a->f;
    } else if (!strcmp(a->name, "value_int") && a->type == ATTR_INT) {
        v->dtype = INFER_DTYPE_INT64, src = &a->i;
    } else if (!strcmp(a->name, "value_floats") && a->type == ATTR_FLOATS) {
        v->dtype = INFER_DTYPE_FP32, src = a->floats, cnt = a->n, v->ndim = 1,
        v->dims[0] = (int64_t)cnt;
    } else if (!strcmp(a->name, "value_ints") && a->type == ATTR_INTS) {
        v->dtype = INFER_DTYPE_INT64, src = a->ints, cnt = a->n, v->ndim = 1,
        v->dims[0] = (int64_t)cnt;
    } else {
        return fm_err_set(c->err, FM_EUNSUPPORTED,
                          "node '%s' (Constant): unsupported attribute '%s'", n->name, a->name);
    }
    esz = infer_dtype_size(v->dtype);
    void *d = fm_arena_alloc(&m->arena, cnt * esz + 1);
    if (!d)
        return FM_ENOMEM;
    if (cnt)
        memcpy(d, src, cnt * esz);
    v->data = d;
    v->bytes = cnt * esz;
    return 0;
}

/* Why: names, inputs, outputs and attributes of one node, checked against the op table. */
static int read_node(parse_ctx *c, const uint8_t *msg, size_t len, inode *n, int idx, bool *drop)
{
    infer_model *m = c->m;
    memset(n, 0, sizeof *n);
    *drop = false;
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    const char *domain = "";
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.wt != 2)
            continue;
        if (f.num == 1)
            n->n_in++;
        else if (f.num == 2)
            n->n_out++;
        else if (f.num == 5)
            n->n_attrs++;
        else if (f.num == 3)
            n->name = infer__onnx_name(m, f.ptr, f.len);
        else if (f.num == 4)
            n->op_type = infer__onnx_name(m, f.ptr, f.len);
        else if (f.num == 7)
            domain = infer__onnx_name(m, f.ptr, f.len);
    }
    if (rc < 0)
        return fm_err_set(c->err, FM_EPARSE, "malformed node %d", idx);
    if (!n->op_type)
        return fm_err_set(c->err, FM_EPARSE, "node %d without op_type", idx);
    if (!n->name || !n->name[0]) {
        char buf[32];
        snprintf(buf, sizeof buf, "#%d", idx);
        n->name = fm_arena_strdup(&m->arena, buf);
    }
    if (!domain)
        return FM_ENOMEM;
    bool ms = !strcmp(domain, "com.microsoft");
    if ((domain[0] && strcmp(domain, "ai.onnx") && !(ms && infer__quant_is_ms_op(n->op_type))) ||
        (!ms && infer__quant_is_ms_op(n->op_type)))
        return fm_err_set(c->err, FM_EUNSUPPORTED, "node '%s' (%s): unsupported domain '%s'",
                          n->name, n->op_type, domain);
    n->op = infer__op_find(n->op_type);
    bool is_const = !strcmp(n->op_type, "Constant");
    if (n->op < 0 && !is_const)
        return fm_err_set(c->err, FM_EUNSUPPORTED, "node '%s' (%s): unsupported operator", n->name,
                          n->op_type);
    if (n->n_in > 64 || n->n_out > 4 || n->n_attrs > 64)
        return fm_err_set(c->err, FM_EUNSUPPORTED,
                          "node '%s' (%s): too many inputs/outputs/attributes", n->name,
                          n->op_type);
    n->in = fm_arena_calloc(&m->arena, (size_t)n->n_in + 1, sizeof(int));
    n->out = fm_arena_calloc(&m->arena, (size_t)n->n_out + 1, sizeof(int));
    n->attrs = fm_arena_calloc(&m->arena, (size_t)n->n_attrs + 1, sizeof(iattr));
    if (!n->in || !n->out || !n->attrs)
        return FM_ENOMEM;
    int ki = 0, ko = 0, ka = 0;
    r = (pb_rd){msg, msg + len};
    while (infer__pb_next(&r, &f) == 1) {
        if (f.wt != 2)
            continue;
        if (f.num == 1 || f.num == 2) {
            int vi = -1;
            if (f.len) {
                char *nm = infer__onnx_name(m, f.ptr, f.len);
                if (!nm)
                    return FM_ENOMEM;
                vi = val_get(c, nm);
                if (vi < 0)
                    return vi;
            }
            if (f.num == 1)
                n->in[ki++] = vi;
            else
                n->out[ko++] = vi;
        } else if (f.num == 5) {
            int e = read_attr(c, f.ptr, f.len, &n->attrs[ka], n->name);
            if (e)
                return e == FM_EPARSE ? fm_err_set(c->err, FM_EPARSE,
                                                   "node '%s': malformed attribute", n->name)
                                      : e;
            ka++;
        }
    }
    if (is_const) {
        *drop = true;
        return fold_constant(c, n);
    }
    const op_def *d = &infer__ops[n->op];
    int n_in = n->n_in;
    while (n_in > 0 && n->in[n_in - 1] < 0)
        n_in--;
    if (n_in < d->min_in || n->n_in > d->max_in || n->n_out < d->min_out || n->n_out > d->max_out)
        return fm_err_set(c->err, FM_EUNSUPPORTED,
                          "node '%s' (%s): %d inputs and %d outputs not supported", n->name,
                          n->op_type, n->n_in, n->n_out);
    for (int i = 0; i < d->min_in; i++)
        if (n->in[i] < 0)
            return fm_err_set(c->err, FM_EPARSE, "node '%s' (%s): required input %d is empty",
                              n->name, n->op_type, i);
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] < 0)
            return fm_err_set(c->err, FM_EUNSUPPORTED, "node '%s' (%s): omitted output", n->name,
                              n->op_type);
    for (int i = 0; i < n->n_attrs; i++)
        if (!attr_allowed(d->attrs, n->attrs[i].name))
            return fm_err_set(c->err, FM_EUNSUPPORTED, "node '%s' (%s): unsupported attribute '%s'",
                              n->name, n->op_type, n->attrs[i].name);
    return 0;
}

/* Why: execution and planning walk nodes in dependency order; a cycle is reported by name. */
static int topo_sort(parse_ctx *c)
{
    infer_model *m = c->m;
    size_t nn = m->n_nodes;
    int *indeg = calloc(nn + 1, sizeof *indeg);
    int *order = malloc((nn + 1) * sizeof *order);
    /* consumers lists: for each value, count, then CSR */
    int *cnt = calloc(m->n_vals + 1, sizeof *cnt);
    int *start = NULL, *cons = NULL;
    int rc = 0;
    if (!indeg || !order || !cnt) {
        rc = FM_ENOMEM;
        goto out;
    }
    size_t total = 0;
    for (size_t i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) {
            int v = m->nodes[i].in[k];
            if (v >= 0 && m->vals[v].producer >= 0) {
                cnt[v]++;
                total++;
                indeg[i]++;
            }
        }
    start = calloc(m->n_vals + 1, sizeof *start);
    cons = malloc((total + 1) * sizeof *cons);
    if (!start || !cons) {
        rc = FM_ENOMEM;
        goto out;
    }
    for (size_t v = 0; v < m->n_vals; v++)
        start[v + 1] = start[v] + cnt[v];
    memset(cnt, 0, (m->n_vals + 1) * sizeof *cnt);
    for (size_t i = 0; i < nn; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) {
            int v = m->nodes[i].in[k];
            if (v >= 0 && m->vals[v].producer >= 0)
                cons[start[v] + cnt[v]++] = (int)i;
        }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < nn; i++)
        if (!indeg[i])
            order[tail++] = (int)i;
    while (head < tail) {
        const inode *n = &m->nodes[order[head++]];
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            for (int j = start[v]; j < start[v + 1]; j++)
                if (--indeg[cons[j]] == 0)
                    order[tail++] = cons[j];
        }
    }
    if (tail != nn) {
        for (size_t i = 0; i < nn; i++)
            if (indeg[i]) {
                rc = fm_err_set(c->err, FM_EPARSE, "graph has a cycle through node '%s'",
                                m->nodes[i].name);
                goto out;
            }
    }
    inode *sorted = fm_arena_calloc(&m->arena, nn + 1, sizeof *sorted);
    if (!sorted) {
        rc = FM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nn; i++)
        sorted[i] = m->nodes[order[i]];
    m->nodes = sorted;
    for (size_t i = 0; i < nn; i++)
        for (int k = 0; k < sorted[i].n_out; k++)
            m->vals[sorted[i].out[k]].producer = (int)i;
out:
    free(indeg);
    free(order);
    free(cnt);
    free(start);
    free(cons);
    return rc;
}

/* Why: the graph walk: initializers, inputs, nodes, outputs, then wiring checks. */
static int read_graph(parse_ctx *c, const uint8_t *msg, size_t len)
{
    infer_model *m = c->m;
    pb_rd r = {msg, msg + len};
    pb_field f;
    int rc;
    size_t n_nodes = 0, n_in = 0, n_out = 0;
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.wt != 2)
            continue;
        if (f.num == 1)
            n_nodes++;
        else if (f.num == 11)
            n_in++;
        else if (f.num == 12)
            n_out++;
        else if (f.num == 5) {
            int idx;
            int e = add_tensor_value(c, f.ptr, f.len, NULL, &idx);
            if (e)
                return fm_err_prefix(c->err, "initializer: ");
            if (!m->vals[idx].name[0])
                return fm_err_set(c->err, FM_EPARSE, "initializer without a name");
        } else if (f.num == 15) {
            return fm_err_set(c->err, FM_EUNSUPPORTED, "sparse initializers");
        }
    }
    if (rc < 0)
        return fm_err_set(c->err, FM_EPARSE, "malformed graph");
    if (n_nodes > MAX_NODES)
        return fm_err_set(c->err, FM_ELIMIT, "too many nodes");
    m->nodes = fm_arena_calloc(&m->arena, n_nodes + 1, sizeof *m->nodes);
    m->inputs = fm_arena_calloc(&m->arena, n_in + 1, sizeof(int));
    m->outputs = fm_arena_calloc(&m->arena, n_out + 1, sizeof(int));
    if (!m->nodes || !m->inputs || !m->outputs)
        return FM_ENOMEM;
    r = (pb_rd){msg, msg + len};
    while (infer__pb_next(&r, &f) == 1) {
        if (f.wt != 2 || (f.num != 11 && f.num != 12))
            continue;
        ival tmp;
        int e = read_value_info(c, f.ptr, f.len, &tmp);
        if (e)
            return e == FM_EPARSE ? fm_err_set(c->err, FM_EPARSE, "malformed value info") : e;
        int vi = val_get(c, tmp.name);
        if (vi < 0)
            return vi;
        ival *v = &m->vals[vi];
        if (f.num == 11) {
            if (v->kind == VAL_INIT)
                continue; /* old exporters list initializers as inputs */
            if (!infer__onnx_dtype_known(tmp.dtype))
                return fm_err_set(c->err, FM_EUNSUPPORTED, "input '%s': unsupported data type %d",
                                  tmp.name, (int)tmp.dtype);
            if (v->kind == VAL_INPUT)
                return fm_err_set(c->err, FM_EPARSE, "input '%s' listed twice", tmp.name);
            v->kind = VAL_INPUT;
            m->inputs[m->n_inputs++] = vi;
        } else {
            if (tmp.dtype && !infer__onnx_dtype_known(tmp.dtype))
                return fm_err_set(c->err, FM_EUNSUPPORTED, "output '%s': unsupported data type %d",
                                  tmp.name, (int)tmp.dtype);
            v->is_output = true;
            m->outputs[m->n_outputs++] = vi;
        }
        if (tmp.dtype)
            v->dtype = tmp.dtype;
        if (tmp.ndim >= 0) {
            v->ndim = tmp.ndim;
            memcpy(v->dims, tmp.dims, sizeof v->dims);
            memcpy(v->dim_names, tmp.dim_names, sizeof v->dim_names);
        }
    }
    r = (pb_rd){msg, msg + len};
    int idx = 0;
    while (infer__pb_next(&r, &f) == 1) {
        if (f.wt != 2 || f.num != 1)
            continue;
        bool drop;
        inode *n = &m->nodes[m->n_nodes];
        int e = read_node(c, f.ptr, f.len, n, idx++, &drop);
        if (e)
            return e;
        if (drop) {
            m->n_const_nodes++;
            continue;
        }
        for (int k = 0; k < n->n_out; k++) {
            ival *v = &m->vals[n->out[k]];
            if (v->producer >= 0 || v->kind != VAL_INTER)
                return fm_err_set(c->err, FM_EPARSE, "value '%s' defined twice (node '%s')",
                                  v->name, n->name);
            v->producer = (int)m->n_nodes;
        }
        m->n_nodes++;
    }
    for (size_t i = 0; i < m->n_nodes; i++) {
        const inode *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && m->vals[v].kind == VAL_INTER && m->vals[v].producer < 0)
                return fm_err_set(c->err, FM_ENOTFOUND,
                                  "node '%s' (%s): input '%s' is not an "
                                  "initializer, graph input or node output",
                                  n->name, n->op_type, m->vals[v].name);
        }
    }
    for (size_t i = 0; i < m->n_outputs; i++) {
        ival *v = &m->vals[m->outputs[i]];
        if (v->kind == VAL_INTER && v->producer < 0)
            return fm_err_set(c->err, FM_ENOTFOUND, "output '%s' is produced by no node", v->name);
    }
    if (!m->n_outputs)
        return fm_err_set(c->err, FM_EPARSE, "graph has no outputs");
    for (size_t i = 0; i < m->n_nodes; i++) {
        int e = infer__quant_check_node(m, &m->nodes[i], c->err);
        if (e)
            return e;
    }
    return topo_sort(c);
}

/* Why: entry point: ModelProto fields, opset checks, then the graph. */
int infer__onnx_parse_model(infer_model *m, fm_err *err)
{
    parse_ctx c = {.m = m, .err = err};
    pb_rd r = {m->map, m->map + m->map_len};
    pb_field f;
    int rc;
    const uint8_t *graph = NULL;
    size_t graph_len = 0;
    m->opset = -1;
    m->producer = "";
    while ((rc = infer__pb_next(&r, &f)) == 1) {
        if (f.num == 1 && f.wt == 0)
            m->ir_version = (int64_t)f.v;
        else if (f.num == 2 && f.wt == 2)
            m->producer = infer__onnx_name(m, f.ptr, f.len);
        else if (f.num == 7 && f.wt == 2)
            graph = f.ptr, graph_len = f.len;
        else if (f.num == 8 && f.wt == 2) {
            pb_rd o = {f.ptr, f.ptr + f.len};
            pb_field g;
            const uint8_t *dom = NULL;
            size_t dl = 0;
            int64_t ver = -1;
            int rc2;
            while ((rc2 = infer__pb_next(&o, &g)) == 1) {
                if (g.num == 1 && g.wt == 2)
                    dom = g.ptr, dl = g.len;
                if (g.num == 2 && g.wt == 0)
                    ver = (int64_t)g.v;
            }
            if (rc2 < 0)
                return fm_err_set(err, FM_EPARSE, "malformed opset_import");
            if (!dom || dl == 0 || (dl == 7 && !memcmp(dom, "ai.onnx", 7)))
                m->opset = ver;
        } else if (f.num == 25 && f.wt == 2) {
            return fm_err_set(err, FM_EUNSUPPORTED, "model-local functions");
        }
    }
    if (rc < 0)
        return fm_err_set(err, FM_EPARSE, "not an ONNX model (malformed protobuf)");
    if (!m->producer)
        return FM_ENOMEM;
    if (!graph)
        return fm_err_set(err, FM_EPARSE, "not an ONNX model (no graph)");
    if (m->opset < 0)
        return fm_err_set(err, FM_EUNSUPPORTED, "no default-domain opset imported");
    if (m->opset < OPSET_MIN || m->opset > OPSET_MAX)
        return fm_err_set(err, FM_EUNSUPPORTED, "unsupported opset %lld (supported %d to %d)",
                          (long long)m->opset, OPSET_MIN, OPSET_MAX);
    rc = read_graph(&c, graph, graph_len);
    free(c.hash);
    if (rc == FM_ENOMEM && err && err->code != FM_ENOMEM)
        fm_err_set(err, FM_ENOMEM, "out of memory");
    return rc;
}
