/*
 * KServe / Open Inference Protocol v2 requests: JSON tensors (nested or flat data) and the binary
 * tensor extension (Inference-Header-Content-Length, binary_data_size), then the check against
 * the model's declared inputs. Every error names the input and what was expected.
 */
#include "fn/fn_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V2_MAX_INPUTS 64

/* Integer datatypes and their ranges; JSON numbers outside or non-integral are refused. */
static const struct {
    infer_dtype t;
    double min, max;
} int_ranges[] = {
    {INFER_DTYPE_INT8, -128.0, 127.0},
    {INFER_DTYPE_INT16, -32768.0, 32767.0},
    {INFER_DTYPE_INT32, -2147483648.0, 2147483647.0},
    {INFER_DTYPE_INT64, -9223372036854775808.0, 9223372036854774784.0},
    {INFER_DTYPE_UINT8, 0.0, 255.0},
    {INFER_DTYPE_UINT16, 0.0, 65535.0},
    {INFER_DTYPE_UINT32, 0.0, 4294967295.0},
    {INFER_DTYPE_UINT64, 0.0, 18446744073709549568.0},
};

/* Why: KServe datatype strings are case-sensitive, unlike infer_dtype_parse. */
static int parse_dtype(const char *s, infer_dtype *t)
{
    if (infer_dtype_parse(s, t) != 0 || strcmp(infer_dtype_name(*t), s) != 0)
        return FM_EINVAL;
    return 0;
}

void fn_shape_str(const int64_t *dims, int ndim, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/* Why: nested and flat data are equivalent; count the leaves before allocating. */
static size_t count_leaves(const fj *v)
{
    if (v->type != FJ_ARR)
        return 1;
    if (v->nums)
        return v->n;
    size_t n = 0;
    for (const fj *c = v->child; c; c = c->next)
        n += count_leaves(c);
    return n;
}

/* Why: one number into one element of the tensor's type, refusing lossy integer conversions. */
/* Why: a JSON number has no infinity; one too large for the datatype (-1e999, or 1e39 as FP32)
 * would become one silently, so it is refused, naming the element and its text. */
static int out_of_range(const infer_tensor *t, size_t i, const char *src, double d, fm_err *err)
{
    char num[48];
    size_t n = src ? strspn(src, "+-0123456789.eE") : 0;
    if (n)
        snprintf(num, sizeof num, "%.*s%s", (int)FM_MIN(n, 40), src, n > 40 ? "..." : "");
    else
        snprintf(num, sizeof num, "%g", d);
    return fm_err_set(err, FM_ERANGE, "input '%s': element %zu (%s) is out of range for %s",
                      t->name, i, num, infer_dtype_name(t->dtype));
}

static int put_num(const infer_tensor *t, double d, size_t i, const char *src, fm_err *err)
{
    uint8_t *dst = (uint8_t *)t->data + i * infer_dtype_size(t->dtype);
    switch (t->dtype) {
    case INFER_DTYPE_FP32: {
        float f = (float)d;
        if (isinf(f))
            return out_of_range(t, i, src, d, err);
        memcpy(dst, &f, 4);
        return 0;
    }
    case INFER_DTYPE_FP64:
        if (isinf(d))
            return out_of_range(t, i, src, d, err);
        memcpy(dst, &d, 8);
        return 0;
    case INFER_DTYPE_FP16: {
        uint16_t h = fn_float_to_half((float)d);
        if ((h & 0x7fff) == 0x7c00)
            return out_of_range(t, i, src, d, err);
        memcpy(dst, &h, 2);
        return 0;
    }
    case INFER_DTYPE_BF16: {
        uint16_t h = fn_float_to_bf16((float)d);
        if ((h & 0x7fff) == 0x7f80)
            return out_of_range(t, i, src, d, err);
        memcpy(dst, &h, 2);
        return 0;
    }
    case INFER_DTYPE_BOOL:
        return fm_err_set(err, FM_ETYPE, "input '%s': element %zu is not a boolean", t->name, i);
    default: break;
    }
    for (size_t k = 0; k < FM_ARRAY_LEN(int_ranges); k++) {
        if (int_ranges[k].t != t->dtype)
            continue;
        if (d != floor(d) || d < int_ranges[k].min || d > int_ranges[k].max)
            return fm_err_set(err, FM_ERANGE, "input '%s': element %zu (%g) is not a valid %s",
                              t->name, i, d, infer_dtype_name(t->dtype));
        switch (t->dtype) {
        case INFER_DTYPE_INT8: *(int8_t *)dst = (int8_t)d; break;
        case INFER_DTYPE_UINT8: *dst = (uint8_t)d; break;
        case INFER_DTYPE_INT16: {
            int16_t x = (int16_t)d;
            memcpy(dst, &x, 2);
        } break;
        case INFER_DTYPE_UINT16: {
            uint16_t x = (uint16_t)d;
            memcpy(dst, &x, 2);
        } break;
        case INFER_DTYPE_INT32: {
            int32_t x = (int32_t)d;
            memcpy(dst, &x, 4);
        } break;
        case INFER_DTYPE_UINT32: {
            uint32_t x = (uint32_t)d;
            memcpy(dst, &x, 4);
        } break;
        case INFER_DTYPE_INT64: {
            int64_t x = (int64_t)d;
            memcpy(dst, &x, 8);
        } break;
        default: {
            uint64_t x = (uint64_t)d;
            memcpy(dst, &x, 8);
        } break;
        }
        return 0;
    }
    return fm_err_set(err, FM_EUNSUPPORTED, "input '%s': datatype %s is not supported", t->name,
                      infer_dtype_name(t->dtype));
}

/* Why: a scalar JSON value (not an array) as element i. */
static int put_elem(const infer_tensor *t, const fj *v, size_t i, fm_err *err)
{
    if (t->dtype == INFER_DTYPE_BOOL) {
        if (v->type != FJ_TRUE && v->type != FJ_FALSE)
            return fm_err_set(err, FM_ETYPE, "input '%s': element %zu is not a boolean", t->name,
                              i);
        ((uint8_t *)t->data)[i] = v->type == FJ_TRUE;
        return 0;
    }
    if (v->type != FJ_NUM)
        return fm_err_set(err, FM_ETYPE, "input '%s': element %zu is not a number", t->name, i);
    double d = t->dtype == INFER_DTYPE_FP64 ? fj_num_exact(v->src, v->exact, v->num) : v->num;
    return put_num(t, d, i, v->src, err);
}

/* Why: a flat run of numbers; FP32 (the common case) is a plain conversion loop, FP64 re-reads
 * inexact numbers from the text for full precision. */
static int put_nums(const infer_tensor *t, const fj *a, size_t *i, fm_err *err)
{
    if (t->dtype == INFER_DTYPE_FP32) {
        float *dst = (float *)t->data + *i;
        bool inf = false;
        for (size_t k = 0; k < a->n; k++) {
            dst[k] = (float)a->nums[k];
            inf |= isinf(dst[k]);
        }
        if (!inf) {
            *i += a->n;
            return 0;
        } /* else the loop below finds the element and names it */
    }
    const char *p = a->src + 1; /* after '[': the numbers, separated by ',' and spaces */
    for (size_t k = 0; k < a->n; k++) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\r' || *p == '\t')
            p++;
        double d = a->nums[k];
        char *end;
        if (t->dtype == INFER_DTYPE_FP64 && !a->exact)
            d = strtod(p, &end);
        else
            end = (char *)p + strspn(p, "+-0123456789.eE");
        int rc = put_num(t, d, (*i)++, p, err);
        if (rc)
            return rc;
        p = end;
    }
    return 0;
}

/* Why: walks nested arrays in row-major order, writing leaves one after the other. */
static int fill(const infer_tensor *t, const fj *v, size_t *i, fm_err *err)
{
    if (v->type != FJ_ARR)
        return put_elem(t, v, (*i)++, err);
    if (v->nums)
        return put_nums(t, v, i, err);
    for (const fj *c = v->child; c; c = c->next) {
        int rc = fill(t, c, i, err);
        if (rc)
            return rc;
    }
    return 0;
}

static bool is_number(const fj *v)
{
    return v && v->type == FJ_NUM;
}

/* Why: a shape is a short array of non-negative integers whose product must not overflow. */
static int decode_shape(const fj *shape, infer_tensor *t, int64_t *numel, fm_err *err)
{
    if (!shape || shape->type != FJ_ARR || (shape->n && !shape->nums))
        return fm_err_set(err, FM_EPARSE, "input '%s': 'shape' must be an array of integers",
                          t->name);
    if (shape->n > INFER_MAX_DIMS)
        return fm_err_set(err, FM_ESHAPE, "input '%s': shape has %zu dimensions (at most %d)",
                          t->name, shape->n, INFER_MAX_DIMS);
    t->ndim = (int)shape->n;
    for (int k = 0; k < t->ndim; k++) {
        double v = shape->nums[k];
        if (v < 0 || v != floor(v) || v > 9.0e15)
            return fm_err_set(err, FM_ESHAPE,
                              "input '%s': shape dimension %d is not a non-negative integer",
                              t->name, k);
        t->dims[k] = (int64_t)v;
    }
    *numel = infer_tensor_numel(t);
    if (*numel < 0)
        return fm_err_set(err, FM_ERANGE, "input '%s': shape is too large", t->name);
    return 0;
}

/* Why: binary_data_size says the tensor's bytes follow the JSON header; it must match the shape
 * and lie inside the body. */
static int take_binary(infer_tensor *t, const fj *size, int64_t numel, const uint8_t *bin,
                       size_t bin_len, size_t *off, bool have_header, fm_err *err)
{
    if (!have_header)
        return fm_err_set(err, FM_EPROTO,
                          "input '%s': binary_data_size given but the request has no "
                          "Inference-Header-Content-Length",
                          t->name);
    double sz = is_number(size) ? size->num : -1;
    size_t es = infer_dtype_size(t->dtype);
    if (sz < 0 || sz != floor(sz))
        return fm_err_set(err, FM_EPARSE,
                          "input '%s': binary_data_size must be a non-negative "
                          "integer",
                          t->name);
    if ((double)numel * (double)es != sz) {
        char s[128];
        fn_shape_str(t->dims, t->ndim, s, sizeof s);
        return fm_err_set(err, FM_ESHAPE,
                          "input '%s': binary_data_size %.0f does not match shape %s of %s "
                          "(%.0f bytes)",
                          t->name, sz, s, infer_dtype_name(t->dtype), (double)numel * (double)es);
    }
    size_t n = (size_t)sz;
    if (n > bin_len - *off)
        return fm_err_set(err, FM_EPROTO,
                          "input '%s': binary data truncated: needs %zu bytes at offset %zu, the "
                          "body has %zu bytes after the header",
                          t->name, n, *off, bin_len);
    t->data = (void *)(bin + *off);
    t->bytes = n;
    *off += n;
    return 0;
}

/* Why: one input object: name, datatype, shape, then data from JSON or from the binary part. */
static int decode_input(fn_v2_request *req, const fj *in, int idx, const uint8_t *bin,
                        size_t bin_len, size_t *off, bool have_header, fm_err *err)
{
    infer_tensor *t = &req->inputs[idx];
    if (in->type != FJ_OBJ)
        return fm_err_set(err, FM_EPARSE, "inputs[%d] must be an object", idx);
    const fj *name = fj_get(in, "name");
    if (!name || name->type != FJ_STR)
        return fm_err_set(err, FM_EPARSE, "inputs[%d]: 'name' must be a string", idx);
    t->name = fm_arena_strdup(&req->arena, name->str);
    if (!t->name)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    const fj *dt = fj_get(in, "datatype");
    if (!dt || dt->type != FJ_STR)
        return fm_err_set(err, FM_EPARSE, "input '%s': 'datatype' must be a string", t->name);
    if (parse_dtype(dt->str, &t->dtype))
        return fm_err_set(err, FM_ETYPE, "input '%s': unknown datatype '%s'", t->name, dt->str);
    if (t->dtype == INFER_DTYPE_BYTES)
        return fm_err_set(err, FM_EUNSUPPORTED, "input '%s': datatype BYTES is not supported",
                          t->name);
    int64_t numel = 0;
    int rc = decode_shape(fj_get(in, "shape"), t, &numel, err);
    if (rc)
        return rc;
    const fj *bsize = fj_get(fj_get(in, "parameters"), "binary_data_size");
    const fj *data = fj_get(in, "data");
    if (bsize && data)
        return fm_err_set(err, FM_EPROTO, "input '%s': both 'data' and binary_data_size given",
                          t->name);
    if (bsize)
        return take_binary(t, bsize, numel, bin, bin_len, off, have_header, err);
    if (!data)
        return fm_err_set(err, FM_EPARSE, "input '%s': no 'data'", t->name);
    size_t have = count_leaves(data);
    if ((int64_t)have != numel) {
        char s[128];
        fn_shape_str(t->dims, t->ndim, s, sizeof s);
        return fm_err_set(err, FM_ESHAPE, "input '%s': shape %s has %lld elements, data has %zu",
                          t->name, s, (long long)numel, have);
    }
    t->bytes = have * infer_dtype_size(t->dtype);
    t->data = fm_arena_alloc(&req->arena, t->bytes ? t->bytes : 1);
    if (!t->data)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    size_t i = 0;
    return fill(t, data, &i, err);
}

/* Why: requested outputs, each optionally binary. */
static int decode_outputs(fn_v2_request *req, const fj *outs, fm_err *err)
{
    if (!outs)
        return 0;
    if (outs->type != FJ_ARR || (outs->n && outs->nums))
        return fm_err_set(err, FM_EPARSE, "'outputs' must be an array");
    if (outs->n > V2_MAX_INPUTS)
        return fm_err_set(err, FM_ELIMIT, "too many requested outputs (%zu)", outs->n);
    req->outputs = fm_arena_calloc(&req->arena, outs->n ? outs->n : 1, sizeof *req->outputs);
    if (!req->outputs)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int k = 0;
    for (const fj *o = outs->child; o; o = o->next, k++) {
        const fj *name = fj_get(o, "name");
        if (!name || name->type != FJ_STR)
            return fm_err_set(err, FM_EPARSE, "outputs[%d]: 'name' must be a string", k);
        req->outputs[k].name = fm_arena_strdup(&req->arena, name->str);
        const fj *b = fj_get(fj_get(o, "parameters"), "binary_data");
        if (b && b->type != FJ_TRUE && b->type != FJ_FALSE)
            return fm_err_set(err, FM_EPARSE, "output '%s': binary_data must be a boolean",
                              name->str);
        req->outputs[k].binary = b && b->type == FJ_TRUE;
        if (!req->outputs[k].name)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    req->n_outputs = outs->n;
    return 0;
}

/* Why: the body of a request once its JSON is parsed; shared by HTTP bodies and Lambda events. */
static int decode_root(const fj *root, const uint8_t *bin, size_t bin_len, bool have_header,
                       fn_v2_request *req, fm_err *err)
{
    if (root->type != FJ_OBJ)
        return fm_err_set(err, FM_EPARSE, "inference request must be a JSON object");
    const fj *id = fj_get(root, "id");
    if (id) {
        if (id->type != FJ_STR)
            return fm_err_set(err, FM_EPARSE, "'id' must be a string");
        if (!(req->id = fm_arena_strdup(&req->arena, id->str)))
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    const fj *params = fj_get(root, "parameters");
    if (params && params->type != FJ_OBJ)
        return fm_err_set(err, FM_EPARSE, "'parameters' must be an object");
    const fj *bo = fj_get(params, "binary_data_output");
    if (bo && bo->type != FJ_TRUE && bo->type != FJ_FALSE)
        return fm_err_set(err, FM_EPARSE, "binary_data_output must be a boolean");
    req->binary_output = bo && bo->type == FJ_TRUE;
    const fj *inputs = fj_get(root, "inputs");
    if (!inputs || inputs->type != FJ_ARR)
        return fm_err_set(err, FM_EPARSE, "inference request has no 'inputs' array");
    if (inputs->nums)
        return fm_err_set(err, FM_EPARSE, "inputs[0] must be an object");
    if (inputs->n == 0)
        return fm_err_set(err, FM_EPARSE, "inference request has no inputs");
    if (inputs->n > V2_MAX_INPUTS)
        return fm_err_set(err, FM_ELIMIT, "too many inputs (%zu, at most %d)", inputs->n,
                          V2_MAX_INPUTS);
    req->inputs = fm_arena_calloc(&req->arena, inputs->n, sizeof *req->inputs);
    if (!req->inputs)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    req->n_inputs = inputs->n;
    size_t off = 0;
    int k = 0;
    for (const fj *in = inputs->child; in; in = in->next, k++) {
        int rc = decode_input(req, in, k, bin, bin_len, &off, have_header, err);
        if (rc)
            return rc;
    }
    if (have_header && off != bin_len)
        return fm_err_set(err, FM_EPROTO,
                          "the body has %zu bytes after the header, but the inputs' "
                          "binary_data_size values add up to %zu",
                          bin_len, off);
    return decode_outputs(req, fj_get(root, "outputs"), err);
}

int fn_v2_request_from_json(const fj *root, fn_v2_request *req, fm_err *err)
{
    memset(req, 0, sizeof *req);
    fm_arena_init(&req->arena, 0);
    int rc = decode_root(root, NULL, 0, false, req, err);
    if (rc)
        fn_v2_request_release(req);
    return rc;
}

/* Why: the HTTP entry point; splits JSON header and binary part before parsing. The parsed JSON
 * lives in the request's arena with the decoded tensors. */
int fn_v2_request_decode(const void *body, size_t len, int64_t header_len, fn_v2_request *req,
                         fm_err *err)
{
    memset(req, 0, sizeof *req);
    fm_arena_init(&req->arena, 0);
    size_t json_len = len;
    if (header_len >= 0) {
        if ((uint64_t)header_len > len)
            return fm_err_set(err, FM_EPROTO,
                              "Inference-Header-Content-Length %lld is past the end of the body "
                              "(%zu bytes)",
                              (long long)header_len, len);
        json_len = (size_t)header_len;
    }
    fj *root;
    int rc = fj_parse(body, json_len, &req->arena, &root, err);
    if (rc) {
        fm_err_prefix(err, "inference request: ");
    } else {
        const uint8_t *bin = (const uint8_t *)body + json_len;
        rc = decode_root(root, bin, len - json_len, header_len >= 0, req, err);
    }
    if (rc)
        fn_v2_request_release(req);
    return rc;
}

void fn_v2_request_release(fn_v2_request *req)
{
    fm_arena_release(&req->arena);
    memset(req, 0, sizeof *req);
}

/* Why: a short list of the model's names makes "unknown input" errors actionable. */
static void names_list(const infer_io_info *io, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", io[i].name);
}

/* Why: shape check where a declared -1 matches any size. */
static bool shape_matches(const infer_io_info *d, const infer_tensor *t)
{
    if (d->ndim != t->ndim)
        return false;
    for (int i = 0; i < d->ndim; i++)
        if (d->dims[i] >= 0 && d->dims[i] != t->dims[i])
            return false;
    return true;
}

int fn_v2_request_check(const fn_handler *h, fn_v2_request *req, fm_err *err)
{
    char names[512];
    infer_tensor ordered[FN_MAX_IO];
    bool seen[FN_MAX_IO] = {0};
    for (size_t i = 0; i < req->n_inputs; i++) {
        infer_tensor *t = &req->inputs[i];
        size_t k = 0;
        while (k < h->n_inputs && strcmp(h->inputs[k].name, t->name) != 0)
            k++;
        if (k == h->n_inputs) {
            names_list(h->inputs, h->n_inputs, names, sizeof names);
            return fm_err_set(err, FM_ESCHEMA, "unknown input '%s' (the model's inputs are: %s)",
                              t->name, names);
        }
        if (seen[k])
            return fm_err_set(err, FM_ESCHEMA, "input '%s' is given twice", t->name);
        const infer_io_info *d = &h->inputs[k];
        if (d->dtype != t->dtype)
            return fm_err_set(err, FM_ETYPE, "input '%s': expected datatype %s, got %s", t->name,
                              infer_dtype_name(d->dtype), infer_dtype_name(t->dtype));
        if (!shape_matches(d, t)) {
            char want[128], got[128];
            fn_shape_str(d->dims, d->ndim, want, sizeof want);
            fn_shape_str(t->dims, t->ndim, got, sizeof got);
            return fm_err_set(err, FM_ESHAPE, "input '%s': expected shape %s, got %s", t->name,
                              want, got);
        }
        seen[k] = true;
        ordered[k] = *t;
        ordered[k].name = d->name;
    }
    for (size_t k = 0; k < h->n_inputs; k++)
        if (!seen[k])
            return fm_err_set(err, FM_ESCHEMA, "missing input '%s'", h->inputs[k].name);
    for (size_t i = 0; i < req->n_outputs; i++) {
        size_t k = 0;
        while (k < h->n_outputs && strcmp(h->outputs[k].name, req->outputs[i].name) != 0)
            k++;
        if (k == h->n_outputs) {
            names_list(h->outputs, h->n_outputs, names, sizeof names);
            return fm_err_set(err, FM_ESCHEMA, "unknown output '%s' (the model's outputs are: %s)",
                              req->outputs[i].name, names);
        }
    }
    memcpy(req->inputs, ordered, h->n_inputs * sizeof *ordered);
    req->n_inputs = h->n_inputs;
    return 0;
}
