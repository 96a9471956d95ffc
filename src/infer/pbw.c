/*
 * pbw.c — a minimal protobuf wire-format writer, the counterpart of pb.c, for the models that
 * quant.c writes. Messages are built bottom-up: a nested message is written into its own buffer,
 * then appended with its length. A failed allocation marks the buffer; the caller checks once.
 */
#include <stdlib.h>
#include <string.h>

#include "infer/infer_int.h"

/* Why: every write goes through one growth path, so out-of-memory is a flag checked at the end. */
void infer__pbw_raw(pb_buf *b, const void *p, size_t n)
{
    if (b->oom || !n)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void infer__pbw_varint(pb_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    infer__pbw_raw(b, tmp, n);
}

void infer__pbw_uint(pb_buf *b, uint32_t num, uint64_t v)
{
    infer__pbw_varint(b, (uint64_t)num << 3);
    infer__pbw_varint(b, v);
}

void infer__pbw_bytes(pb_buf *b, uint32_t num, const void *p, size_t n)
{
    infer__pbw_varint(b, (uint64_t)num << 3 | 2);
    infer__pbw_varint(b, n);
    infer__pbw_raw(b, p, n);
}

void infer__pbw_str(pb_buf *b, uint32_t num, const char *s)
{
    infer__pbw_bytes(b, num, s, strlen(s));
}

/* Why: appends a nested message and frees its buffer (an out-of-memory sub-buffer marks b). */
void infer__pbw_msg(pb_buf *b, uint32_t num, pb_buf *sub)
{
    if (sub->oom)
        b->oom = true;
    infer__pbw_bytes(b, num, sub->p, sub->len);
    infer__pbw_free(sub);
}

void infer__pbw_free(pb_buf *b)
{
    free(b->p);
    *b = (pb_buf){0};
}
