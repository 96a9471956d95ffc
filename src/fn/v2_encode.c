/*
 * KServe v2 responses and model metadata, with the binary tensor extension for outputs
 * (binary_data / binary_data_output), plus the element conversions the codecs share.
 */
#include "fn/fn_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Why: FP16 tensors travel as JSON numbers; conversion must round to nearest even. */
uint16_t fn_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0)); /* inf, nan */
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (e <= 0) {                          /* subnormal or zero */
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* may carry into the exponent, which is the correct rounding */
    return (uint16_t)(sign | h);
}

float fn_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t x;
    if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (man << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t fn_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float fn_bf16_to_float(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Why: top-k and tests read elements of any numeric type the same way; data may be unaligned. */
double fn_tensor_get(const infer_tensor *t, size_t i)
{
    const uint8_t *p = (const uint8_t *)t->data + i * infer_dtype_size(t->dtype);
    union {
        float f;
        double d;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
    } v;
    memcpy(&v, p, infer_dtype_size(t->dtype));
    switch (t->dtype) {
    case INFER_DTYPE_FP32: return v.f;
    case INFER_DTYPE_FP64: return v.d;
    case INFER_DTYPE_FP16: return fn_half_to_float(v.u16);
    case INFER_DTYPE_BF16: return fn_bf16_to_float(v.u16);
    case INFER_DTYPE_INT8: return v.i8;
    case INFER_DTYPE_INT16: return v.i16;
    case INFER_DTYPE_INT32: return v.i32;
    case INFER_DTYPE_INT64: return (double)v.i64;
    case INFER_DTYPE_UINT8: return v.u8;
    case INFER_DTYPE_BOOL: return v.u8 ? 1 : 0;
    case INFER_DTYPE_UINT16: return v.u16;
    case INFER_DTYPE_UINT32: return v.u32;
    case INFER_DTYPE_UINT64: return (double)v.u64;
    default: return 0;
    }
}

/* Why: exact powers of ten for the float formatter; beyond 1e22, pow() (two roundings, far below
 * the precision that 9 digits need). */
static double scale10(double a, int k)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (k >= 0)
        return k <= 22 ? a * p10[k] : a * pow(10.0, k);
    return -k <= 22 ? a / p10[-k] : a * pow(10.0, k);
}

/* Why: FP32 outputs are most of a JSON response (ALBERT: 98304 numbers), and printf's "%.9g" costs
 * far more than the rest of encoding. This writes the same text as "%.9g" (9 significant digits,
 * trailing zeros dropped, exponent form below 1e-4 and from 1e9): 9 digits always read back as
 * the same float, so the output round-trips even where the last digit is rounded differently. */
int fn_put_float9(fn_buf *out, double v)
{
    char s[32];
    int n = 0;
    if (signbit(v)) {
        s[n++] = '-';
        v = -v;
    }
    if (v == 0) {
        s[n++] = '0';
        return fn_buf_append(out, s, (size_t)n);
    }
    int e2;
    frexp(v, &e2); /* v in [2^(e2-1), 2^e2): the decimal exponent is this estimate or one less */
    int e = (int)floor((e2 - 1) * 0.30102999566398120);
    double m = nearbyint(scale10(v, 8 - e));
    if (m >= 1e9) { /* log10 rounded up to the next power, or the digits rounded over */
        e++;
        m = nearbyint(scale10(v, 8 - e));
    } else if (m < 1e8) {
        e--;
        m = nearbyint(scale10(v, 8 - e));
    }
    uint32_t mi = (uint32_t)m;
    char d[9];
    for (int i = 8; i >= 0; i--, mi /= 10)
        d[i] = (char)('0' + mi % 10);
    int nd = 9;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    if (e < -4 || e >= 9) {
        s[n++] = d[0];
        if (nd > 1) {
            s[n++] = '.';
            for (int i = 1; i < nd; i++)
                s[n++] = d[i];
        }
        n += snprintf(s + n, sizeof s - (size_t)n, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++)
            s[n++] = d[i];
        if (nd > e + 1) {
            s[n++] = '.';
            for (int i = e + 1; i < nd; i++)
                s[n++] = d[i];
        }
    } else {
        s[n++] = '0';
        s[n++] = '.';
        for (int i = 0; i < -e - 1; i++)
            s[n++] = '0';
        for (int i = 0; i < nd; i++)
            s[n++] = d[i];
    }
    return fn_buf_append(out, s, (size_t)n);
}

/* Why: one element as JSON text; integers exactly, floats with enough digits to round-trip.
 * JSON has no NaN or infinity, so those are written as null. */
static int put_json_elem(const infer_tensor *t, size_t i, fn_buf *out)
{
    const uint8_t *p = (const uint8_t *)t->data + i * infer_dtype_size(t->dtype);
    int64_t s;
    uint64_t u;
    switch (t->dtype) {
    case INFER_DTYPE_BOOL: return fn_buf_puts(out, *p ? "true" : "false");
    case INFER_DTYPE_INT64: memcpy(&s, p, 8); return fn_buf_printf(out, "%lld", (long long)s);
    case INFER_DTYPE_UINT64:
        memcpy(&u, p, 8);
        return fn_buf_printf(out, "%llu", (unsigned long long)u);
    case INFER_DTYPE_FP32:
    case INFER_DTYPE_FP16:
    case INFER_DTYPE_BF16:
    case INFER_DTYPE_FP64: {
        double d = fn_tensor_get(t, i);
        if (!isfinite(d))
            return fn_buf_puts(out, "null");
        if (t->dtype == INFER_DTYPE_FP64)
            return fn_buf_printf(out, "%.17g", d);
        return fn_put_float9(out, d);
    }
    default: return fn_buf_printf(out, "%.0f", fn_tensor_get(t, i));
    }
}

int fn_v2_data_encode(const infer_tensor *t, fn_buf *out)
{
    int64_t n = infer_tensor_numel(t);
    if (n < 0 || t->dtype == INFER_DTYPE_BYTES || infer_dtype_size(t->dtype) == 0)
        return FM_EUNSUPPORTED;
    int rc = fn_buf_puts(out, "[");
    for (int64_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = fn_buf_puts(out, ",");
        if (!rc)
            rc = put_json_elem(t, (size_t)i, out);
    }
    return rc ? rc : fn_buf_puts(out, "]");
}

/* Why: name, datatype and shape head every tensor object and every metadata entry. */
static int put_tensor_head(fn_buf *out, const char *name, infer_dtype dt, const int64_t *dims,
                           int ndim)
{
    int rc = fn_buf_puts(out, "{\"name\":");
    rc = rc ? rc : fn_buf_json_str(out, name);
    rc = rc ? rc : fn_buf_printf(out, ",\"datatype\":\"%s\",\"shape\":[", infer_dtype_name(dt));
    for (int i = 0; i < ndim && !rc; i++)
        rc = fn_buf_printf(out, "%s%lld", i ? "," : "", (long long)dims[i]);
    return rc ? rc : fn_buf_puts(out, "]");
}

int fn_v2_response_encode(const char *model_name, const fn_v2_request *req,
                          const infer_tensor *outs, size_t n, fn_buf *out, int64_t *header_len,
                          fm_err *err)
{
    const infer_tensor *sel[FN_MAX_IO];
    bool bin[FN_MAX_IO];
    size_t ns = 0;
    if (req && req->n_outputs) {
        for (size_t i = 0; i < req->n_outputs && ns < FN_MAX_IO; i++)
            for (size_t k = 0; k < n; k++)
                if (strcmp(outs[k].name, req->outputs[i].name) == 0) {
                    sel[ns] = &outs[k];
                    bin[ns++] = req->outputs[i].binary || req->binary_output;
                    break;
                }
    } else {
        for (size_t k = 0; k < n && ns < FN_MAX_IO; k++) {
            sel[ns] = &outs[k];
            bin[ns++] = req && req->binary_output;
        }
    }
    int rc = fn_buf_puts(out, "{\"model_name\":");
    rc = rc ? rc : fn_buf_json_str(out, model_name);
    rc = rc ? rc : fn_buf_puts(out, ",\"model_version\":\"1\"");
    if (!rc && req && req->id) {
        rc = fn_buf_puts(out, ",\"id\":");
        rc = rc ? rc : fn_buf_json_str(out, req->id);
    }
    rc = rc ? rc : fn_buf_puts(out, ",\"outputs\":[");
    bool any_bin = false;
    for (size_t i = 0; i < ns && !rc; i++) {
        const infer_tensor *t = sel[i];
        if (i)
            rc = fn_buf_puts(out, ",");
        rc = rc ? rc : put_tensor_head(out, t->name, t->dtype, t->dims, t->ndim);
        if (rc)
            break;
        if (bin[i]) {
            any_bin = true;
            rc = fn_buf_printf(out, ",\"parameters\":{\"binary_data_size\":%zu}}", t->bytes);
        } else {
            rc = fn_buf_puts(out, ",\"data\":");
            rc = rc ? rc : fn_v2_data_encode(t, out);
            rc = rc ? rc : fn_buf_puts(out, "}");
        }
    }
    rc = rc ? rc : fn_buf_puts(out, "]}");
    *header_len = -1;
    if (!rc && any_bin) {
        *header_len = (int64_t)out->len;
        for (size_t i = 0; i < ns && !rc; i++)
            if (bin[i])
                rc = fn_buf_append(out, sel[i]->data, sel[i]->bytes);
    }
    if (rc == FM_EUNSUPPORTED)
        return fm_err_set(err, rc, "an output has a datatype that cannot be encoded as JSON");
    if (rc)
        return fm_err_set(err, rc, "out of memory encoding the response");
    return 0;
}

/* Why: one entry of the inputs/outputs lists of model metadata. */
static int put_io_list(fn_buf *out, const infer_io_info *io, size_t n)
{
    int rc = fn_buf_puts(out, "[");
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = fn_buf_puts(out, ",");
        rc = rc ? rc : put_tensor_head(out, io[i].name, io[i].dtype, io[i].dims, io[i].ndim);
        rc = rc ? rc : fn_buf_puts(out, "}");
    }
    return rc ? rc : fn_buf_puts(out, "]");
}

int fn_v2_metadata_encode(const char *model_name, const fn_handler *h, fn_buf *out)
{
    int rc = fn_buf_puts(out, "{\"name\":");
    rc = rc ? rc : fn_buf_json_str(out, model_name);
    rc = rc ? rc : fn_buf_puts(out, ",\"versions\":[\"1\"],\"platform\":");
    rc = rc ? rc : fn_buf_json_str(out, h->platform);
    rc = rc ? rc : fn_buf_puts(out, ",\"inputs\":");
    rc = rc ? rc : put_io_list(out, h->inputs, h->n_inputs);
    rc = rc ? rc : fn_buf_puts(out, ",\"outputs\":");
    rc = rc ? rc : put_io_list(out, h->outputs, h->n_outputs);
    return rc ? rc : fn_buf_puts(out, "}");
}

/* Why: the client side of the v2 protocol, so the bodies faasml sends and documents are written
 * by the same code that reads tensors back, in the same number format. */
int fn_v2_request_encode(const infer_tensor *in, size_t n, bool binary, fn_buf *out,
                         int64_t *header_len, fm_err *err)
{
    *header_len = -1;
    int rc = fn_buf_puts(out, "{\"inputs\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        const infer_tensor *t = &in[i];
        if (i)
            rc = fn_buf_puts(out, ",");
        rc =
            rc ? rc : put_tensor_head(out, t->name ? t->name : "input", t->dtype, t->dims, t->ndim);
        if (rc)
            break;
        if (binary) {
            rc = fn_buf_printf(out, ",\"parameters\":{\"binary_data_size\":%zu}}", t->bytes);
        } else {
            rc = fn_buf_puts(out, ",\"data\":");
            rc = rc ? rc : fn_v2_data_encode(t, out);
            rc = rc ? rc : fn_buf_puts(out, "}");
        }
    }
    rc = rc ? rc : fn_buf_puts(out, "]}");
    if (!rc && binary) {
        *header_len = (int64_t)out->len;
        for (size_t i = 0; i < n && !rc; i++)
            rc = fn_buf_append(out, in[i].data, in[i].bytes);
    }
    if (rc == FM_EUNSUPPORTED)
        return fm_err_set(err, rc, "an input has a datatype that cannot be encoded (BYTES)");
    if (rc)
        return fm_err_set(err, rc, "out of memory encoding the request");
    return 0;
}
