/* Base64 (RFC 4648), for Lambda's log tails and client contexts and for images in events. */
#include "core.h"

#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t fm_base64_encode(const void *data, size_t len, char *out)
{
    const uint8_t *d = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

/* Why: value of one base64 character; -1 for anything else (the URL-safe forms are accepted). */
static int value(unsigned char c)
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

/* Why: input comes from clients; a bad character is reported with its offset. */
int fm_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len, fm_err *err)
{
    uint8_t *o = malloc(len / 4 * 3 + 4);
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
        int v = value(c);
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
    o[n] = 0;
    *out = o;
    *out_len = n;
    return 0;
}
