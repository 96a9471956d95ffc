/*
 * Request bodies: what a client sends to a served model, built from the model's declared inputs
 * with the same codecs the host reads them with. Random tensors (seeded) or one image, as KServe
 * v2 JSON, v2 binary, or a Lambda event.
 */
#include "fn/fn_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const format_names[] = {
#define FN_XX(name, str) str,
    FN_REQUEST_FORMAT_MAP(FN_XX)
#undef FN_XX
};

const char *fn_request_format_name(fn_request_format f)
{
    return (size_t)f < FM_ARRAY_LEN(format_names) ? format_names[f] : "unknown";
}

int fn_request_format_parse(const char *s, fn_request_format *out)
{
    for (size_t i = 0; i < FM_ARRAY_LEN(format_names); i++)
        if (strcmp(s, format_names[i]) == 0) {
            *out = (fn_request_format)i;
            return 0;
        }
    return FM_EINVAL;
}

/* Why: one input's concrete shape: variable dims become the batch (dim 0) or 1, and a fixed
 * batch dimension that disagrees with the asked batch is an error, not a silent change. */
static int concrete_shape(const infer_io_info *io, int64_t batch, infer_tensor *t, fm_err *err)
{
    t->name = io->name;
    t->dtype = io->dtype;
    t->ndim = io->ndim;
    for (int d = 0; d < io->ndim; d++) {
        int64_t v = io->dims[d];
        if (v < 0)
            v = d == 0 ? batch : 1;
        else if (d == 0 && batch > 1 && v != batch)
            return fm_err_set(err, FM_ESHAPE, "input '%s' has a fixed batch of %lld, not %lld",
                              io->name, (long long)v, (long long)batch);
        t->dims[d] = v;
    }
    int64_t n = infer_tensor_numel(t);
    size_t es = infer_dtype_size(io->dtype);
    if (es == 0)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "input '%s' is %s: random data needs a fixed-size "
                          "datatype",
                          io->name, infer_dtype_name(io->dtype));
    if (n < 0 || (uint64_t)n > (uint64_t)1 << 32)
        return fm_err_set(err, FM_ERANGE, "input '%s' is too large to generate", io->name);
    t->bytes = (size_t)n * es;
    return 0;
}

/* Why: the values `faasml infer --random` uses, so a body and a local run agree: floats from
 * N(0,1), integers (token ids) below 1000 (below 100 for 8-bit types), booleans 0/1; one seeded
 * stream per input, so inputs do not depend on each other. */
static void fill_random(infer_tensor *t, fm_rng *r)
{
    uint8_t *p = t->data;
    size_t es = infer_dtype_size(t->dtype), n = t->bytes / es;
    for (size_t i = 0; i < n; i++, p += es) {
        bool fp = t->dtype == INFER_DTYPE_FP32 || t->dtype == INFER_DTYPE_FP64 ||
                  t->dtype == INFER_DTYPE_FP16 || t->dtype == INFER_DTYPE_BF16;
        double u = fp ? fm_rng_normal(r, 0, 1) : 0;
        int64_t k = fp ? 0
                       : (int64_t)fm_rng_below(r, t->dtype == INFER_DTYPE_BOOL ? 2
                                                  : es == 1                    ? 100
                                                                               : 1000);
        float f = (float)u;
        uint16_t h;
        switch (t->dtype) {
        case INFER_DTYPE_FP32: memcpy(p, &f, 4); break;
        case INFER_DTYPE_FP64: memcpy(p, &u, 8); break;
        case INFER_DTYPE_FP16:
            h = fn_float_to_half(f);
            memcpy(p, &h, 2);
            break;
        case INFER_DTYPE_BF16:
            h = fn_float_to_bf16(f);
            memcpy(p, &h, 2);
            break;
        default: /* integers and BOOL, little-endian like the tensors themselves */
            for (size_t b = 0; b < es; b++)
                p[b] = b < 8 ? (uint8_t)((uint64_t)k >> (8 * b)) : 0;
            break;
        }
    }
}

/* Why: an image becomes the model's single input exactly as the host would preprocess it. */
static int image_tensor(const fn_handler *h, const fn_request_opts *o, const fn_preprocess *pp,
                        infer_tensor *t, fm_err *err)
{
    int H = 0, W = 0;
    int rc = fn_image_geometry(h, pp, &H, &W, err);
    if (rc)
        return rc;
    const infer_io_info *io = &h->inputs[0];
    int64_t batch = io->dims[0] >= 0 ? io->dims[0] : o->batch;
    if (io->dims[0] >= 0 && o->batch > 1 && io->dims[0] != o->batch)
        return fm_err_set(err, FM_ESHAPE, "input '%s' has a fixed batch of %lld, not %lld",
                          io->name, (long long)io->dims[0], (long long)o->batch);
    fn_image img;
    if ((rc = fn_image_decode(o->image, o->image_len, pp->channels, &img, err)))
        return rc;
    size_t per = (size_t)pp->channels * (size_t)H * (size_t)W;
    float *data = malloc((size_t)batch * per * sizeof *data);
    if (!data) {
        fn_image_release(&img);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    fn_image_to_tensor(&img, pp, H, W, data);
    fn_image_release(&img);
    for (int64_t i = 1; i < batch; i++)
        memcpy(data + (size_t)i * per, data, per * sizeof *data);
    bool nchw = pp->layout == FN_LAYOUT_NCHW;
    int64_t dims[4] = {batch, nchw ? pp->channels : H, nchw ? H : W, nchw ? W : pp->channels};
    *t = (infer_tensor){.name = io->name,
                        .dtype = INFER_DTYPE_FP32,
                        .ndim = 4,
                        .data = data,
                        .bytes = (size_t)batch * per * sizeof *data};
    memcpy(t->dims, dims, sizeof dims);
    return 0;
}

/* Why: a Lambda event carries the image itself; the function host preprocesses it, so the
 * event stays small and exercises the host's own decoding. */
static int image_event(const fn_request_opts *o, fn_buf *out, fm_err *err)
{
    size_t b64 = 4 * ((o->image_len + 2) / 3) + 1;
    char *s = malloc(b64);
    if (!s)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    fm_base64_encode(o->image, o->image_len, s);
    int rc = fn_buf_puts(out, o->batch > 1 ? "{\"images\":[" : "{\"image\":");
    for (int64_t i = 0; i < o->batch && !rc; i++) {
        rc = i ? fn_buf_puts(out, ",") : 0;
        rc = rc ? rc : fn_buf_printf(out, "\"%s\"", s);
    }
    rc = rc ? rc : fn_buf_puts(out, o->batch > 1 ? "]}" : "}");
    free(s);
    return rc ? fm_err_set(err, rc, "out of memory") : 0;
}

int fn_request_build(const fn_handler *h, const fn_request_opts *o, fn_buf *out,
                     int64_t *header_len, fm_err *err)
{
    *header_len = -1;
    if (o->batch < 1)
        return fm_err_set(err, FM_EINVAL, "batch must be at least 1, got %lld",
                          (long long)o->batch);
    fn_spec defaults;
    fn_spec_init(&defaults);
    const fn_preprocess *pp = o->pre ? o->pre : &defaults.pre;
    if (o->image && o->format == FN_REQUEST_LAMBDA_EVENT) {
        /* decode once here so a bad image is refused now, not by the function later */
        fn_image img;
        int rc = fn_image_decode(o->image, o->image_len, pp->channels, &img, err);
        if (rc)
            return rc;
        fn_image_release(&img);
        int H, W;
        if ((rc = fn_image_geometry(h, pp, &H, &W, err)))
            return rc;
        return image_event(o, out, err);
    }
    infer_tensor in[FN_MAX_IO];
    size_t n = o->image ? 1 : h->n_inputs;
    memset(in, 0, sizeof in);
    int rc = 0;
    if (o->image) {
        rc = image_tensor(h, o, pp, &in[0], err);
    } else {
        fm_rng root;
        fm_rng_seed(&root, o->seed);
        for (size_t i = 0; i < n && !rc; i++) {
            rc = concrete_shape(&h->inputs[i], o->batch, &in[i], err);
            if (!rc && !(in[i].data = malloc(in[i].bytes ? in[i].bytes : 1)))
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
            if (!rc) {
                fm_rng r = fm_rng_split(&root, i);
                fill_random(&in[i], &r);
            }
        }
    }
    if (!rc)
        rc = fn_v2_request_encode(in, n, o->format == FN_REQUEST_V2_BINARY, out, header_len, err);
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
    return rc;
}
