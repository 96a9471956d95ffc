/*
 * pb.c — a minimal protobuf wire-format reader. It never copies: fields point into the input, and
 * every length is checked against the end of the enclosing message before it is used.
 */
#include "infer/infer_int.h"

/* Why: varints carry every integer in ONNX; reading one must stop at the buffer end and at 10
 * bytes. */
static int read_varint(pb_rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return FM_EPARSE;
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return FM_EPARSE;
}

/* Why: the one entry point for walking a message; groups (wire types 3/4) are not used by ONNX. */
int infer__pb_next(pb_rd *r, pb_field *f)
{
    if (r->p >= r->end)
        return 0;
    uint64_t key;
    if (read_varint(r, &key))
        return FM_EPARSE;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return FM_EPARSE;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->ptr = r->p; /* never NULL, so callers may form [ptr, ptr + len) for any field */
    f->len = 0;
    f->v = 0;
    switch (f->wt) {
    case 0: return read_varint(r, &f->v) ? FM_EPARSE : 1;
    case 1:
        if (r->end - r->p < 8)
            return FM_EPARSE;
        for (int i = 0; i < 8; i++)
            f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += 8;
        return 1;
    case 5:
        if (r->end - r->p < 4)
            return FM_EPARSE;
        for (int i = 0; i < 4; i++)
            f->v |= (uint64_t)r->p[i] << (8 * i);
        r->p += 4;
        return 1;
    case 2: {
        uint64_t len;
        if (read_varint(r, &len))
            return FM_EPARSE;
        if (len > (uint64_t)(r->end - r->p))
            return FM_EPARSE;
        f->ptr = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default: return FM_EPARSE;
    }
}

/* Why: repeated int64 fields (dims, ints, int64_data) come packed or one per field; this reads
 * either. With out == NULL it only counts, so callers size arrays exactly. */
int infer__pb_varints(const pb_field *f, int64_t *out, size_t *n)
{
    if (f->wt == 0) {
        if (out)
            out[*n] = (int64_t)f->v;
        (*n)++;
        return 0;
    }
    if (f->wt != 2)
        return FM_EPARSE;
    pb_rd r = {f->ptr, f->ptr + f->len};
    while (r.p < r.end) {
        uint64_t v;
        if (read_varint(&r, &v))
            return FM_EPARSE;
        if (out)
            out[*n] = (int64_t)v;
        (*n)++;
    }
    return 0;
}
