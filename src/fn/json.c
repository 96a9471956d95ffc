/*
 * A JSON reader for request payloads, built for tensors: values live in one arena (no allocation
 * per value), arrays of numbers are kept as flat double vectors (8 bytes per number), and numbers
 * are read correctly rounded without strtod (see "numbers" below). A general-purpose DOM (cJSON)
 * spends most of its time on a malloc and a strtod per element, which for a 224x224x3 image is
 * longer than the inference.
 * Strict RFC 8259: no trailing commas, comments, NaN or trailing data; depth is bounded; a member
 * name given twice in one object is refused (RFC 8259 leaves its meaning open, and a request read
 * one way here and another way by a proxy is how smuggling starts).
 */
#include "fn/fn_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FJ_MAX_DEPTH 128

typedef struct fj_parser {
    const char *p, *end, *start;
    fm_arena *arena;
    const char *why; /* what went wrong, at p */
    double *stack;   /* numbers of the array being read (reused scratch, malloc'd) */
    size_t stack_cap;
} fj_parser;

static fj *fj_value(fj_parser *ps, int depth);

static void skip_ws(fj_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static fj *fail(fj_parser *ps, const char *why)
{
    if (!ps->why)
        ps->why = why;
    return NULL;
}

static fj *node(fj_parser *ps, fj_type t)
{
    fj *n = fm_arena_alloc(ps->arena, sizeof *n);
    if (!n)
        return fail(ps, "out of memory");
    memset(n, 0, sizeof *n);
    n->type = t;
    return n;
}

/* ---- numbers -----------------------------------------------------------------------------------
 * Every number is read to the correctly rounded double (what strtod gives), at about a gigabyte
 * of numbers per second: digits eight at a time (SWAR), then Clinger's exact fast path when the
 * mantissa and the power of ten are both exact doubles, else the Eisel-Lemire algorithm on a
 * 128-bit power of five (Lemire 2021; Mushtak & Lemire 2023 prove one 128-bit product enough for
 * up to 19 digits). A mantissa of more than 19 digits is bracketed by its truncation m and m+1;
 * when both round to the same double that is the answer, else (about one number in 10^4 of such
 * long ones) strtod decides. */
#include "fn/pow5.h"

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static inline uint64_t load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Why: eight ASCII digits tested and converted with a handful of 64-bit operations (the bytes
 * are little-endian, first digit in the lowest byte). */
static inline bool is_8digits(uint64_t v)
{
    return ((v & 0xF0F0F0F0F0F0F0F0ULL) |
            (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
}

static inline uint32_t parse_8digits(uint64_t v)
{
    v -= 0x3030303030303030ULL;
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000FF000000FFULL) * 0x000F424000000064ULL) +
         (((v >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >>
        32;
    return (uint32_t)v;
}

/* Why: the core of Eisel-Lemire: w * 10^q as a double's bits, or false for the one case it leaves
 * open (w * 10^q within a hair of halfway, possible only with a truncated w). w > 0. */
static bool eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    if (q < FJ_POW5_MIN) {
        *bits = 0;
        return true;
    }
    if (q > FJ_POW5_MAX) {
        *bits = 0x7FFULL << 52;
        return true;
    }
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *t = fj_pow5[q - FJ_POW5_MIN];
    unsigned __int128 prod = (unsigned __int128)w * t[0];
    uint64_t hi = (uint64_t)(prod >> 64), lo = (uint64_t)prod;
    if ((hi & 0x1FF) == 0x1FF) { /* the low bits may carry into the 55 we keep: refine */
        uint64_t hi2 = (uint64_t)(((unsigned __int128)w * t[1]) >> 64);
        lo += hi2;
        hi += lo < hi2;
    }
    int upper = (int)(hi >> 63);
    int shift = upper + 64 - 52 - 3;
    uint64_t mant = hi >> shift;
    /* floor(log2(10^q)) + 63, exact for |q| < 1700 */
    int64_t p2 = ((((152170 + 65536) * q) >> 16) + 63) + upper - lz + 1023;
    if (p2 <= 0) { /* subnormal, or zero */
        if (-p2 + 1 >= 64) {
            *bits = 0;
            return true;
        }
        mant >>= -p2 + 1;
        mant += mant & 1;
        mant >>= 1;
        /* rounding up may have made it the smallest normal */
        p2 = mant < (1ULL << 52) ? 0 : 1;
        *bits = (mant & ((1ULL << 52) - 1)) | ((uint64_t)p2 << 52);
        return true;
    }
    /* exactly halfway is possible only where 5^q fits in 64 bits: round to even there */
    if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
        mant &= ~1ULL;
    mant += mant & 1;
    mant >>= 1;
    if (mant >= (2ULL << 52)) {
        mant = 1ULL << 52;
        p2++;
    }
    mant &= ~(1ULL << 52);
    if (p2 >= 0x7FF) {
        *bits = 0x7FFULL << 52;
        return true;
    }
    *bits = mant | ((uint64_t)p2 << 52);
    return true;
}

/* Why: the rare numbers the fast paths leave open go to the C library, on a NUL-terminated copy
 * (the text is a buffer of known length, not a C string). */
static double slow_number(const char *s, size_t n)
{
    char buf[128], *b = n < sizeof buf ? buf : malloc(n + 1);
    if (!b)
        return NAN; /* out of memory: refused by the caller */
    memcpy(b, s, n);
    b[n] = 0;
    double v = strtod(b, NULL);
    if (b != buf)
        free(b);
    return v;
}

/* Why: a JSON number in one pass, correctly rounded (see above). */
static bool read_number(fj_parser *ps, double *out, bool *exact)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = ps->p, *end = ps->end, *start = p;
    bool neg = false;
    if (p < end && *p == '-')
        neg = true, p++;
    if (p == end || !is_digit(*p))
        return fail(ps, "invalid number"), false;
    uint64_t m = 0;
    int nd = 0;         /* significant digits in m (at most 19, so m < 10^19 < 2^64) */
    int64_t e10 = 0;    /* value = m * 10^e10, before dropped digits */
    bool trunc = false; /* a non-zero digit did not fit in m */
    if (*p == '0') {
        p++;
    } else {
        while (end - p >= 8 && nd <= 11 && is_8digits(load8(p))) {
            m = m * 100000000 + parse_8digits(load8(p));
            nd += 8, p += 8;
        }
        for (; p < end && is_digit(*p); p++) {
            if (nd < 19)
                m = m * 10 + (uint64_t)(*p - '0'), nd++;
            else
                e10++, trunc |= *p != '0';
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return fail(ps, "invalid number"), false;
        if (nd == 0) { /* zeros before the first significant digit only move the point */
            const char *z = p;
            while (p < end && *p == '0')
                p++;
            e10 -= p - z;
        }
        while (end - p >= 8 && nd <= 11 && is_8digits(load8(p))) {
            m = m * 100000000 + parse_8digits(load8(p));
            nd += 8, p += 8, e10 -= 8;
        }
        for (; p < end && is_digit(*p); p++) {
            if (nd < 19)
                m = m * 10 + (uint64_t)(*p - '0'), nd++, e10--;
            else
                trunc |= *p != '0';
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !is_digit(*p))
            return fail(ps, "invalid number"), false;
        int64_t x = 0;
        for (; p < end && is_digit(*p); p++)
            if (x < 100000)
                x = x * 10 + (*p - '0');
        e10 += eneg ? -x : x;
    }
    ps->p = p;
    *exact = true;
    double v;
    if (m == 0) {
        v = 0;
    } else if (!trunc && m <= (1ULL << 53) && e10 >= 0 && e10 <= 22) {
        v = (double)m * p10[e10]; /* exact: both factors are (Clinger's fast path) */
    } else { /* also for negative exponents, where Clinger's path would divide (slower) */
        uint64_t b1, b2;
        if (eisel_lemire(m, e10, &b1) && (!trunc || (eisel_lemire(m + 1, e10, &b2) && b1 == b2))) {
            memcpy(&v, &b1, 8);
        } else {
            v = slow_number(start, (size_t)(p - start));
            if (isnan(v))
                return fail(ps, "out of memory"), false;
            *out = v;
            return true;
        }
    }
    *out = neg ? -v : v;
    return true;
}

/* Why: one UTF-8 encoding of a code point from a \u escape. */
static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3f)), o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Why: strings are unescaped into the arena, NUL-terminated; \u0000 is refused so that names
 * stay C strings. The output is never longer than the input. */
static const char *read_string(fj_parser *ps, size_t *len)
{
    const char *p = ps->p + 1; /* after the quote */
    const char *q = p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\')
            q++;
        q++;
    }
    if (q >= ps->end)
        return fail(ps, "unterminated string"), NULL;
    char *o = fm_arena_alloc(ps->arena, (size_t)(q - p) + 1), *w = o;
    if (!o)
        return fail(ps, "out of memory"), NULL;
    while (p < q) {
        unsigned char c = (unsigned char)*p++;
        if (c < 0x20)
            return ps->p = p - 1, fail(ps, "control character in string"), NULL;
        if (c != '\\') {
            *w++ = (char)c;
            continue;
        }
        char e = *p++;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            int u = q - p >= 4 ? hex4(p) : -1;
            if (u <= 0)
                return ps->p = p - 2, fail(ps, u == 0 ? "\\u0000 in string" : "invalid \\u escape"),
                       NULL;
            p += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xd800 && cp < 0xdc00 && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                int lo = hex4(p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
                    p += 6;
                }
            }
            w += put_utf8(w, cp); /* a lone surrogate is kept as its 3-byte form */
            break;
        }
        default: return ps->p = p - 2, fail(ps, "invalid escape in string"), NULL;
        }
    }
    *w = '\0';
    *len = (size_t)(w - o);
    ps->p = q + 1;
    return o;
}

/* Why: arrays of numbers (the tensor data) are read into a flat vector; an array that turns out
 * to hold something else becomes a list of nodes. */
static fj *read_array(fj_parser *ps, int depth)
{
    fj *a = node(ps, FJ_ARR);
    if (!a)
        return NULL;
    a->src = ps->p;
    ps->p++; /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return a;
    }
    size_t nn = 0;
    bool numeric = true, exact = true;
    fj **tail = &a->child;
    for (;;) {
        skip_ws(ps);
        if (ps->p == ps->end)
            return fail(ps, "unterminated array");
        char c = *ps->p;
        if (numeric && (c == '-' || (c >= '0' && c <= '9'))) {
            double v;
            bool ex;
            if (!read_number(ps, &v, &ex))
                return NULL;
            exact &= ex;
            if (nn == ps->stack_cap) {
                size_t cap = ps->stack_cap ? ps->stack_cap * 2 : 1024;
                double *s = realloc(ps->stack, cap * sizeof *s);
                if (!s)
                    return fail(ps, "out of memory");
                ps->stack = s, ps->stack_cap = cap;
            }
            ps->stack[nn++] = v;
        } else {
            if (numeric && nn) { /* mixed array: the numbers read so far become nodes */
                for (size_t i = 0; i < nn; i++) {
                    fj *n = node(ps, FJ_NUM);
                    if (!n)
                        return NULL;
                    n->num = ps->stack[i];
                    n->exact = exact;
                    *tail = n, tail = &n->next;
                }
            }
            numeric = false;
            fj *v = fj_value(ps, depth + 1);
            if (!v)
                return NULL;
            *tail = v, tail = &v->next;
            nn++;
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            break;
        }
        return fail(ps, "expected ',' or ']' in array");
    }
    a->n = nn;
    if (numeric) {
        a->nums = fm_arena_alloc(ps->arena, nn * sizeof *a->nums);
        if (!a->nums)
            return fail(ps, "out of memory");
        memcpy(a->nums, ps->stack, nn * sizeof *a->nums);
        a->exact = exact;
    }
    return a;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Why: small objects (the protocol's) are checked member by member as they are read; a large one
 * is checked once at its end by sorting its names, so a hostile object costs n log n, not n^2. */
#define FJ_DUP_LINEAR 16
static const char *duplicate_key(fj_parser *ps, const fj *o, bool *oom)
{
    const char **keys = malloc(o->n * sizeof *keys);
    *oom = !keys;
    if (!keys)
        return NULL;
    size_t n = 0;
    for (const fj *c = o->child; c; c = c->next)
        keys[n++] = c->key;
    qsort(keys, n, sizeof *keys, cmp_key);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            dup = keys[i];
    free(keys);
    return dup;
}

/* Why: the message names the member, quoted and cut to fit. */
static fj *fail_duplicate(fj_parser *ps, const char *key)
{
    char *msg = fm_arena_alloc(ps->arena, 128);
    if (!msg)
        return fail(ps, "duplicate member name");
    snprintf(msg, 128, "duplicate member name '%.80s'", key);
    return fail(ps, msg);
}

static fj *read_object(fj_parser *ps, int depth)
{
    fj *o = node(ps, FJ_OBJ);
    if (!o)
        return NULL;
    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return o;
    }
    fj **tail = &o->child;
    for (;;) {
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '"')
            return fail(ps, "expected a member name");
        size_t klen;
        const char *kpos = ps->p;
        const char *key = read_string(ps, &klen);
        if (!key)
            return NULL;
        if (o->n < FJ_DUP_LINEAR) {
            for (const fj *c = o->child; c; c = c->next)
                if (strcmp(c->key, key) == 0)
                    return ps->p = kpos, fail_duplicate(ps, key);
        }
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != ':')
            return fail(ps, "expected ':'");
        ps->p++;
        fj *v = fj_value(ps, depth + 1);
        if (!v)
            return NULL;
        v->key = key;
        *tail = v, tail = &v->next;
        o->n++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            if (o->n > FJ_DUP_LINEAR) {
                bool oom;
                const char *dup = duplicate_key(ps, o, &oom);
                if (oom)
                    return fail(ps, "out of memory");
                if (dup)
                    return fail_duplicate(ps, dup);
            }
            ps->p++;
            return o;
        }
        return fail(ps, "expected ',' or '}' in object");
    }
}

static bool literal(fj_parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static fj *fj_value(fj_parser *ps, int depth)
{
    if (depth > FJ_MAX_DEPTH)
        return fail(ps, "nested too deeply");
    skip_ws(ps);
    if (ps->p == ps->end)
        return fail(ps, "unexpected end of input");
    char c = *ps->p;
    fj *n;
    switch (c) {
    case '{': return read_object(ps, depth);
    case '[': return read_array(ps, depth);
    case '"':
        if (!(n = node(ps, FJ_STR)))
            return NULL;
        n->str = read_string(ps, &n->len);
        return n->str ? n : NULL;
    case 't': return literal(ps, "true") ? node(ps, FJ_TRUE) : fail(ps, "invalid literal");
    case 'f': return literal(ps, "false") ? node(ps, FJ_FALSE) : fail(ps, "invalid literal");
    case 'n': return literal(ps, "null") ? node(ps, FJ_NULL) : fail(ps, "invalid literal");
    default:
        if (!(n = node(ps, FJ_NUM)))
            return NULL;
        n->src = ps->p;
        return read_number(ps, &n->num, &n->exact) ? n : NULL;
    }
}

int fj_parse(const char *text, size_t len, fm_arena *arena, fj **out, fm_err *err)
{
    fj_parser ps = {.p = text, .end = text + len, .start = text, .arena = arena};
    fj *root = fj_value(&ps, 0);
    if (root) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            root = fail(&ps, "unexpected data after the JSON value");
    }
    free(ps.stack);
    if (!root)
        return fm_err_set(err, FM_EPARSE, "invalid JSON at byte %zu: %s", (size_t)(ps.p - text),
                          ps.why ? ps.why : "syntax error");
    *out = root;
    return 0;
}

const fj *fj_get(const fj *obj, const char *key)
{
    if (!obj || obj->type != FJ_OBJ)
        return NULL;
    for (const fj *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

/* Why: FP64 tensors need correctly rounded doubles; the fast path is exact only for short
 * numbers, so inexact ones are read again from the text with strtod. */
double fj_num_exact(const char *src, bool exact, double fast)
{
    return exact || !src ? fast : strtod(src, NULL);
}
