/* Dynamic batching codecs: several KServe v2 requests merged along the batch dimension (dim 0 of
 * every input) into one request, and the merged response split back into one response per
 * caller, each with its own slice of every output. Used by the platform, which batches requests
 * queued for one function into one invocation of the function host. */
#include "fn_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int fn_v2_batch_items(const fn_v2_request *req, int64_t *items, fm_err *err)
{
    if (req->n_inputs == 0)
        return fm_err_set(err, FM_EINVAL, "the request has no inputs");
    int64_t n = -1;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const infer_tensor *t = &req->inputs[i];
        if (t->ndim < 1)
            return fm_err_set(err, FM_ESHAPE, "input '%s' is a scalar: no batch dimension",
                              t->name);
        if (n >= 0 && t->dims[0] != n)
            return fm_err_set(err, FM_ESHAPE,
                              "inputs disagree on the batch dimension (%lld vs %lld for '%s')",
                              (long long)n, (long long)t->dims[0], t->name);
        n = t->dims[0];
    }
    if (n < 1)
        return fm_err_set(err, FM_ESHAPE, "the batch dimension is 0");
    *items = n;
    return 0;
}

static const infer_tensor *find_input(const fn_v2_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].name, name) == 0)
            return &r->inputs[i];
    return NULL;
}

/* Why: requests can be merged only when every input agrees on everything but dim 0. */
static int check_compatible(const fn_v2_request *a, const fn_v2_request *b, size_t bi,
                            fm_err *err)
{
    if (a->n_inputs != b->n_inputs)
        return fm_err_set(err, FM_ESHAPE, "request %zu has %zu inputs, the first has %zu", bi,
                          b->n_inputs, a->n_inputs);
    for (size_t i = 0; i < a->n_inputs; i++) {
        const infer_tensor *x = &a->inputs[i], *y = find_input(b, x->name);
        if (!y)
            return fm_err_set(err, FM_ESHAPE, "request %zu lacks input '%s'", bi, x->name);
        bool same = x->dtype == y->dtype && x->ndim == y->ndim;
        for (int d = 1; same && d < x->ndim; d++)
            same = x->dims[d] == y->dims[d];
        if (!same) {
            char sx[128], sy[128];
            fn_shape_str(x->dims, x->ndim, sx, sizeof sx);
            fn_shape_str(y->dims, y->ndim, sy, sizeof sy);
            return fm_err_set(err, FM_ESHAPE,
                              "input '%s': request %zu has %s %s, the first has %s %s", x->name,
                              bi, infer_dtype_name(y->dtype), sy, infer_dtype_name(x->dtype), sx);
        }
    }
    return 0;
}

int fn_v2_batch_merge(const fn_v2_request *const *reqs, size_t n, fn_buf *out, fm_err *err)
{
    if (n == 0)
        return fm_err_set(err, FM_EINVAL, "nothing to merge");
    const fn_v2_request *a = reqs[0];
    int64_t total = 0;
    for (size_t r = 0; r < n; r++) {
        int64_t items;
        int rc = fn_v2_batch_items(reqs[r], &items, err);
        if (!rc && r > 0)
            rc = check_compatible(a, reqs[r], r, err);
        if (rc)
            return rc;
        total += items;
    }
    int rc = fn_buf_puts(out, "{\"inputs\":[");
    fn_buf tmp = {0};
    for (size_t i = 0; i < a->n_inputs && !rc; i++) {
        const infer_tensor *x = &a->inputs[i];
        rc = fn_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : fn_buf_json_str(out, x->name);
        rc = rc ? rc : fn_buf_printf(out, ",\"datatype\":\"%s\",\"shape\":[%lld",
                                     infer_dtype_name(x->dtype), (long long)total);
        for (int d = 1; d < x->ndim && !rc; d++)
            rc = fn_buf_printf(out, ",%lld", (long long)x->dims[d]);
        rc = rc ? rc : fn_buf_puts(out, "],\"data\":[");
        /* Each request's data, flat, joined: the arrays' brackets are dropped. */
        for (size_t r = 0; r < n && !rc; r++) {
            tmp.len = 0;
            rc = fn_v2_data_encode(find_input(reqs[r], x->name), &tmp);
            if (!rc && tmp.len > 2) {
                if (r)
                    rc = fn_buf_puts(out, ",");
                rc = rc ? rc : fn_buf_append(out, tmp.p + 1, tmp.len - 2);
            }
        }
        rc = rc ? rc : fn_buf_puts(out, "]}");
    }
    fn_buf_release(&tmp);
    rc = rc ? rc : fn_buf_puts(out, "]}");
    if (rc == FM_EUNSUPPORTED)
        return fm_err_set(err, rc, "an input has a datatype that cannot be batched as JSON");
    return rc ? fm_err_set(err, rc, "out of memory merging a batch") : 0;
}

/* Why: the function host prints floats with %.9g; printing the parsed value the same way gives
 * back the same text, so a caller's slice reads exactly as an unbatched response would. */
static int put_num(fn_buf *b, const char *dtype, const cJSON *v)
{
    if (cJSON_IsBool(v))
        return fn_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    if (!cJSON_IsNumber(v))
        return fn_buf_puts(b, "null");
    double d = v->valuedouble;
    if (strcmp(dtype, "FP64") == 0)
        return fn_buf_printf(b, "%.17g", d);
    if (dtype[0] == 'F' || dtype[0] == 'B')
        return fn_buf_printf(b, "%.9g", d);
    return fn_buf_printf(b, "%.0f", d);
}

static bool wanted(const fn_v2_request *r, const char *name)
{
    if (!r || r->n_outputs == 0)
        return true;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].name, name) == 0)
            return true;
    return false;
}

/* One caller's response: every (requested) output sliced to rows [row, row + rows). */
static int split_one(const cJSON *root, const cJSON *outs, const fn_v2_request *req, int64_t row,
                     int64_t rows, int64_t total, fn_buf *b, fm_err *err)
{
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(root, "model_version");
    int rc = fn_buf_puts(b, "{\"model_name\":");
    rc = rc ? rc : fn_buf_json_str(b, cJSON_IsString(mn) ? mn->valuestring : "");
    rc = rc ? rc : fn_buf_puts(b, ",\"model_version\":");
    rc = rc ? rc : fn_buf_json_str(b, cJSON_IsString(mv) ? mv->valuestring : "1");
    if (!rc && req && req->id) {
        rc = fn_buf_puts(b, ",\"id\":");
        rc = rc ? rc : fn_buf_json_str(b, req->id);
    }
    rc = rc ? rc : fn_buf_puts(b, ",\"outputs\":[");
    bool first = true;
    for (const cJSON *o = outs->child; o && !rc; o = o->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        if (!cJSON_IsString(name) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) ||
            !cJSON_IsArray(data))
            return fm_err_set(err, FM_EPROTO, "the batched response has an output without "
                                              "name, datatype, shape or JSON data");
        int nd = cJSON_GetArraySize(shape);
        const cJSON *d0 = cJSON_GetArrayItem(shape, 0);
        if (nd < 1 || !cJSON_IsNumber(d0) || (int64_t)d0->valuedouble != total)
            return fm_err_set(err, FM_ESHAPE,
                              "output '%s' has no batch dimension of %lld: cannot split it",
                              name->valuestring, (long long)total);
        int64_t per = 1;
        for (const cJSON *d = d0->next; d; d = d->next)
            per *= cJSON_IsNumber(d) ? (int64_t)d->valuedouble : 0;
        if ((int64_t)cJSON_GetArraySize(data) != per * total)
            return fm_err_set(err, FM_ESHAPE, "output '%s': data is not flat or not %lld values",
                              name->valuestring, (long long)(per * total));
        if (!wanted(req, name->valuestring))
            continue;
        rc = fn_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        rc = rc ? rc : fn_buf_json_str(b, name->valuestring);
        rc = rc ? rc : fn_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[%lld", dt->valuestring,
                                     (long long)rows);
        for (const cJSON *d = d0->next; d && !rc; d = d->next)
            rc = fn_buf_printf(b, ",%lld", (long long)d->valuedouble);
        rc = rc ? rc : fn_buf_puts(b, "],\"data\":[");
        /* cJSON arrays are linked lists: walk once to the slice. */
        const cJSON *v = data->child;
        for (int64_t k = 0; v && k < row * per; k++)
            v = v->next;
        for (int64_t k = 0; v && k < rows * per && !rc; k++, v = v->next) {
            if (k)
                rc = fn_buf_puts(b, ",");
            rc = rc ? rc : put_num(b, dt->valuestring, v);
        }
        rc = rc ? rc : fn_buf_puts(b, "]}");
    }
    rc = rc ? rc : fn_buf_puts(b, "]}");
    return rc ? fm_err_set(err, rc, "out of memory splitting a batch") : 0;
}

int fn_v2_batch_split(const void *resp, size_t len, const fn_v2_request *const *reqs, size_t n,
                      fn_buf *outs, fm_err *err)
{
    cJSON *root = cJSON_ParseWithLength(resp, len);
    if (!root)
        return fm_err_set(err, FM_EPARSE, "the batched response is not JSON");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    int rc = cJSON_IsArray(o) ? 0 : fm_err_set(err, FM_EPROTO, "the batched response has no "
                                                               "'outputs'");
    int64_t total = 0;
    for (size_t r = 0; r < n && !rc; r++) {
        int64_t items;
        rc = fn_v2_batch_items(reqs[r], &items, err);
        total += rc ? 0 : items;
    }
    int64_t row = 0;
    for (size_t r = 0; r < n && !rc; r++) {
        int64_t items = 0;
        fn_v2_batch_items(reqs[r], &items, err);
        rc = split_one(root, o, reqs[r], row, items, total, &outs[r], err);
        row += items;
    }
    cJSON_Delete(root);
    return rc;
}
