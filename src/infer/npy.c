/*
 * npy.c — NumPy .npy files (format 1.0 to 3.0, little-endian, C order), for the CLI and the
 * function host. The header is a Python dict literal; only the three keys NumPy writes are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer.h"

static const struct {
    const char *descr;
    infer_dtype t;
} npy_types[] = {
    {"<f4", INFER_DTYPE_FP32},   {"<f8", INFER_DTYPE_FP64},   {"<f2", INFER_DTYPE_FP16},
    {"|i1", INFER_DTYPE_INT8},   {"|u1", INFER_DTYPE_UINT8},  {"<i2", INFER_DTYPE_INT16},
    {"<u2", INFER_DTYPE_UINT16}, {"<i4", INFER_DTYPE_INT32},  {"<u4", INFER_DTYPE_UINT32},
    {"<i8", INFER_DTYPE_INT64},  {"<u8", INFER_DTYPE_UINT64}, {"|b1", INFER_DTYPE_BOOL},
};

/* Why: the value of 'key' in the header dict, as the text after "'key':" (spaces skipped). */
static const char *dict_value(const char *h, size_t hl, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 < hl; i++) {
        if ((h[i] == '\'' || h[i] == '"') && !memcmp(h + i + 1, key, kl) && h[i + 1 + kl] == h[i]) {
            size_t j = i + kl + 2;
            while (j < hl && (h[j] == ' ' || h[j] == ':'))
                j++;
            return j < hl ? h + j : NULL;
        }
    }
    return NULL;
}

int infer_npy_parse(const void *buf, size_t len, infer_tensor *t, fm_err *err)
{
    const uint8_t *p = buf;
    memset(t, 0, sizeof *t);
    if (len < 10 || memcmp(p, "\x93NUMPY", 6))
        return fm_err_set(err, FM_EPARSE, "not an .npy file (bad magic)");
    size_t hl, off;
    if (p[6] == 1) {
        hl = p[8] | (size_t)p[9] << 8;
        off = 10;
    } else if (p[6] == 2 || p[6] == 3) {
        if (len < 12)
            return fm_err_set(err, FM_EPARSE, "truncated .npy header");
        hl = p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        off = 12;
    } else {
        return fm_err_set(err, FM_EUNSUPPORTED, ".npy format version %d", p[6]);
    }
    if (hl > len - off)
        return fm_err_set(err, FM_EPARSE, "truncated .npy header");
    char h[4096];
    if (hl >= sizeof h)
        return fm_err_set(err, FM_ELIMIT, ".npy header too long");
    memcpy(h, p + off, hl);
    h[hl] = 0;
    const char *d = dict_value(h, hl, "descr");
    if (!d || (*d != '\'' && *d != '"'))
        return fm_err_set(err, FM_EPARSE, ".npy header lacks 'descr'");
    char descr[16] = {0};
    for (int i = 0; i < 15 && d[i + 1] && d[i + 1] != *d; i++)
        descr[i] = d[i + 1];
    if (descr[0] == '=')
        descr[0] = '<';
    if (!strcmp(descr, "<i1"))
        descr[0] = '|';
    if (!strcmp(descr, "<u1"))
        descr[0] = '|';
    if (!strcmp(descr, "<b1"))
        descr[0] = '|';
    t->dtype = INFER_DTYPE_UNDEFINED;
    for (size_t i = 0; i < FM_ARRAY_LEN(npy_types); i++)
        if (!strcmp(npy_types[i].descr, descr))
            t->dtype = npy_types[i].t;
    if (!t->dtype)
        return fm_err_set(err, FM_EUNSUPPORTED, ".npy dtype '%s'", descr);
    const char *fo = dict_value(h, hl, "fortran_order");
    if (!fo || strncmp(fo, "False", 5))
        return fm_err_set(err, FM_EUNSUPPORTED, ".npy in Fortran order");
    const char *sh = dict_value(h, hl, "shape");
    if (!sh || *sh != '(')
        return fm_err_set(err, FM_EPARSE, ".npy header lacks 'shape'");
    sh++;
    while (*sh && *sh != ')') {
        while (*sh == ' ' || *sh == ',')
            sh++;
        if (*sh == ')')
            break;
        char *end;
        long long v = strtoll(sh, &end, 10);
        if (end == sh || v < 0)
            return fm_err_set(err, FM_EPARSE, "bad .npy shape");
        if (t->ndim >= INFER_MAX_DIMS)
            return fm_err_set(err, FM_EUNSUPPORTED, ".npy rank > %d", INFER_MAX_DIMS);
        t->dims[t->ndim++] = v;
        sh = end;
        if (*end == 'L')
            sh++;
    }
    if (*sh != ')')
        return fm_err_set(err, FM_EPARSE, "bad .npy shape");
    int64_t n = infer_tensor_numel(t);
    size_t esz = infer_dtype_size(t->dtype);
    if (n < 0 || (uint64_t)n > SIZE_MAX / esz)
        return fm_err_set(err, FM_ERANGE, ".npy shape too large");
    t->bytes = (size_t)n * esz;
    if (t->bytes > len - off - hl)
        return fm_err_set(err, FM_EPARSE, ".npy data truncated (%zu of %zu bytes)", len - off - hl,
                          t->bytes);
    t->data = (void *)(p + off + hl);
    return 0;
}

int infer_npy_load(const char *path, infer_tensor *t, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = infer_npy_parse(buf, len, t, err);
    if (rc) {
        fm_err_prefix(err, "'%s': ", path);
        free(buf);
        return rc;
    }
    void *d = malloc(t->bytes ? t->bytes : 1);
    if (!d) {
        free(buf);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    memcpy(d, t->data, t->bytes);
    t->data = d;
    free(buf);
    return 0;
}

int infer_npy_encode(const infer_tensor *t, void **out, size_t *out_len, fm_err *err)
{
    const char *descr = NULL;
    for (size_t i = 0; i < FM_ARRAY_LEN(npy_types); i++)
        if (npy_types[i].t == t->dtype)
            descr = npy_types[i].descr;
    if (!descr)
        return fm_err_set(err, FM_EUNSUPPORTED, "no .npy type for %s", infer_dtype_name(t->dtype));
    int64_t n = infer_tensor_numel(t);
    if (n < 0 || (size_t)n * infer_dtype_size(t->dtype) != t->bytes)
        return fm_err_set(err, FM_ESHAPE, "tensor bytes do not match its shape");
    char h[512];
    int hl = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        hl += snprintf(h + hl, sizeof h - (size_t)hl, "%lld,%s", (long long)t->dims[i],
                       i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1)
        hl--; /* numpy writes (2, 3) but (2,) */
    hl += snprintf(h + hl, sizeof h - (size_t)hl, "), }");
    size_t total = 10 + (size_t)hl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hdr = (size_t)hl + pad + 1;
    uint8_t *b = malloc(10 + hdr + t->bytes);
    if (!b)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(hdr & 0xff);
    b[9] = (uint8_t)(hdr >> 8);
    memcpy(b + 10, h, (size_t)hl);
    memset(b + 10 + hl, ' ', pad);
    b[10 + hdr - 1] = '\n';
    if (t->bytes)
        memcpy(b + 10 + hdr, t->data, t->bytes);
    *out = b;
    *out_len = 10 + hdr + t->bytes;
    return 0;
}

int infer_npy_save(const char *path, const infer_tensor *t, fm_err *err)
{
    void *b;
    size_t len;
    int rc = infer_npy_encode(t, &b, &len, err);
    if (rc)
        return rc;
    rc = fm_write_file_atomic(path, b, len, err);
    free(b);
    return rc;
}
