/* The growable byte buffer every encoder, body and message writes through. */
#include "core/core.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: grows geometrically so that encoding a large tensor stays linear. */
static int buf_reserve(fm_buf *b, size_t extra)
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
int fm_buf_append(fm_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n))
        return FM_ENOMEM;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int fm_buf_puts(fm_buf *b, const char *s)
{
    return fm_buf_append(b, s, strlen(s));
}

/* Why: numbers and small fragments; formats in place without a temporary. */
int fm_buf_printf(fm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[128];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FM_EINVAL;
    if ((size_t)n < sizeof tmp)
        return fm_buf_append(b, tmp, (size_t)n);
    if (buf_reserve(b, (size_t)n))
        return FM_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Why: names and messages come from requests; they must be escaped, never pasted. */
int fm_buf_json_str(fm_buf *b, const char *s)
{
    size_t need = fm_json_quote(NULL, 0, s);
    if (buf_reserve(b, need))
        return FM_ENOMEM;
    fm_json_quote(b->p + b->len, need + 1, s);
    b->len += need;
    return 0;
}

/* Why: a caller that keeps the bytes (a reply body, a message) takes them without a copy. */
char *fm_buf_take(fm_buf *b)
{
    if (!b->p && buf_reserve(b, 0))
        return NULL;
    char *p = b->p;
    p[b->len] = '\0';
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void fm_buf_release(fm_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
