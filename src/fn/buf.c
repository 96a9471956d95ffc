/* Byte buffers for response bodies, and base64 (Lambda events carry images as base64). */
#include "fn/fn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: grows geometrically so that encoding a large tensor stays linear. */
static int buf_reserve(fn_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return FM_ENOMEM;
    size_t need = b->len + extra + 1; /* keep room for a NUL terminator */
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return FM_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Why: the one primitive every encoder writes through; keeps the text NUL-terminated. */
int fn_buf_append(fn_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n))
        return FM_ENOMEM;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int fn_buf_puts(fn_buf *b, const char *s)
{
    return fn_buf_append(b, s, strlen(s));
}

/* Why: numbers and small fragments; formats in place without a temporary. */
int fn_buf_printf(fn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[128];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FM_EINVAL;
    if ((size_t)n < sizeof tmp)
        return fn_buf_append(b, tmp, (size_t)n);
    if (buf_reserve(b, (size_t)n))
        return FM_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Why: names and messages come from requests; they must be escaped, never pasted. */
int fn_buf_json_str(fn_buf *b, const char *s)
{
    size_t need = fm_json_quote(NULL, 0, s);
    if (buf_reserve(b, need))
        return FM_ENOMEM;
    fm_json_quote(b->p + b->len, need + 1, s);
    b->len += need;
    return 0;
}

void fn_buf_release(fn_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- base64 ---------------------------------------------------------------------------------- */
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Why: value of one base64 character; -1 for anything else (url-safe forms are accepted too). */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Why: images arrive base64 in Lambda events; a bad character is reported with its offset. */
int fn_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, fm_err *err)
{
    uint8_t *o = malloc(len / 4 * 3 + 3);
    if (!o)
        return fm_err_set(err, FM_ENOMEM, "out of memory decoding base64");
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) {
            free(o);
            return fm_err_set(err, FM_EPARSE, "invalid base64: unexpected character at offset %zu",
                              i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) {
        free(o);
        return fm_err_set(err, FM_EPARSE, "invalid base64: truncated input");
    }
    *out = o;
    *out_len = n;
    return 0;
}

/* Why: API Gateway replies and tests need the inverse. */
int fn_base64_encode(const void *data, size_t len, fn_buf *out)
{
    const uint8_t *d = data;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        char q[4] = {b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
                     i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=',
                     i + 2 < len ? b64_alphabet[v & 63] : '='};
        if (fn_buf_append(out, q, 4))
            return FM_ENOMEM;
    }
    return 0;
}
