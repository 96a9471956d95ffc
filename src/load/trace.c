/* Trace parsers: timestamp files and the Azure Functions 2019 per-minute invocation counts.
 * Both read untrusted files, so every line is checked and an error names the file, the line and
 * the problem; neither ever reads past len (the buffer need not be NUL-terminated). */
#include "load.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct line_iter {
    const char *p, *end;
    size_t lineno;
} line_iter;

/* Next line without its end-of-line (\n or \r\n) and with surrounding blanks trimmed. */
static bool line_next(line_iter *it, const char **s, size_t *n)
{
    if (it->p >= it->end)
        return false;
    const char *b = it->p, *e = memchr(b, '\n', (size_t)(it->end - b));
    it->p = e ? e + 1 : it->end;
    if (!e)
        e = it->end;
    it->lineno++;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *s = b;
    *n = (size_t)(e - b);
    return true;
}

static const int64_t unit_ns[] = {1000000000, 1000000, 1000, 1};
static const char *const unit_label[] = {"s", "ms", "us", "ns"};

/* Why: exact decimal to integer ns (a double would round epoch-scale nanoseconds). Accepts
 * digits with an optional fraction; digits past 1 ns are truncated. */
static int parse_time(const char *s, size_t n, load_unit unit, int64_t *out)
{
    if (n == 0 || n > 64)
        return FM_EPARSE;
    int64_t mul = unit_ns[unit], ip = 0, frac = 0;
    size_t i = 0;
    bool any = false;
    for (; i < n && isdigit((unsigned char)s[i]); i++) {
        if (ip > (INT64_MAX - 9) / 10)
            return FM_ERANGE;
        ip = ip * 10 + (s[i] - '0');
        any = true;
    }
    if (i < n && s[i] == '.') {
        i++;
        int64_t scale = mul;
        for (; i < n && isdigit((unsigned char)s[i]); i++) {
            any = true;
            if (scale >= 10) {
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
        }
    }
    if (!any || i != n)
        return FM_EPARSE;
    if (ip > (INT64_MAX - frac) / mul)
        return FM_ERANGE;
    *out = ip * mul + frac;
    return 0;
}

int load_trace_parse(const char *buf, size_t len, load_unit unit, const char *name, int64_t **out,
                     size_t *n_out, fm_err *err)
{
    *out = NULL;
    *n_out = 0;
    if ((unsigned)unit > LOAD_UNIT_NS)
        return fm_err_set(err, FM_EINVAL, "unknown trace unit");
    line_iter it = {buf, buf + len, 0};
    const char *s;
    size_t sn, n = 0, cap = 0;
    int64_t *v = NULL, prev = 0;
    while (line_next(&it, &s, &sn)) {
        if (sn == 0 || s[0] == '#')
            continue;
        int64_t t;
        int rc = parse_time(s, sn, unit, &t);
        if (rc) {
            free(v);
            return fm_err_set(err, FM_EPARSE,
                              "trace '%s' line %zu: %s '%.*s' (expected a time in %s, one per "
                              "line)",
                              name, it.lineno,
                              rc == FM_ERANGE ? "time out of range" : "malformed time",
                              (int)FM_MIN(sn, 40), s, unit_label[unit]);
        }
        if (n > 0 && t < prev) {
            free(v);
            return fm_err_set(err, FM_EPARSE,
                              "trace '%s' line %zu: time '%.*s' is before the previous line's "
                              "(traces must be sorted)",
                              name, it.lineno, (int)FM_MIN(sn, 40), s);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return fm_err_set(err, FM_ENOMEM, "trace '%s': out of memory", name);
            }
            v = nv;
        }
        v[n++] = t;
        prev = t;
    }
    if (n == 0) {
        free(v);
        return fm_err_set(err, FM_EPARSE, "trace '%s' has no arrivals", name);
    }
    int64_t t0 = v[0];
    for (size_t i = 0; i < n; i++)
        v[i] -= t0;
    *out = v;
    *n_out = n;
    return 0;
}

/* Splits a line on commas into at most max fields (no quoting in this format). */
static size_t split_csv(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    const char *b = s, *e = s + n;
    while (k < max) {
        const char *c = memchr(b, ',', (size_t)(e - b));
        f[k] = b;
        fl[k] = (size_t)((c ? c : e) - b);
        k++;
        if (!c)
            return k;
        b = c + 1;
    }
    return k + 1; /* more fields than max */
}

static bool field_is(const char *f, size_t fl, const char *want)
{
    return fl == strlen(want) && memcmp(f, want, fl) == 0;
}

static int parse_count(const char *f, size_t fl, uint64_t *out)
{
    if (fl == 0 || fl > 19)
        return FM_EPARSE;
    uint64_t v = 0;
    for (size_t i = 0; i < fl; i++) {
        if (!isdigit((unsigned char)f[i]))
            return FM_EPARSE;
        v = v * 10 + (uint64_t)(f[i] - '0');
    }
    *out = v;
    return 0;
}

#define AZ_MAX_MINUTES 1440
#define AZ_FIELDS (4 + AZ_MAX_MINUTES)
#define AZ_MAX_PER_MINUTE UINT64_C(10000000) /* 166k/s: far past one machine */

int load_azure_parse(const char *buf, size_t len, const char *name, const char *function,
                     uint64_t **counts, size_t *minutes, fm_err *err)
{
    static const char *const head[] = {"HashOwner", "HashApp", "HashFunction", "Trigger"};
    *counts = NULL;
    *minutes = 0;
    const char **f = malloc(AZ_FIELDS * sizeof *f);
    size_t *fl = malloc(AZ_FIELDS * sizeof *fl);
    uint64_t *c = calloc(AZ_MAX_MINUTES, sizeof *c);
    int rc = 0;
    if (!f || !fl || !c) {
        rc = fm_err_set(err, FM_ENOMEM, "azure trace '%s': out of memory", name);
        goto out;
    }
    line_iter it = {buf, buf + len, 0};
    const char *s;
    size_t sn, nmin = 0, rows = 0;
    while (line_next(&it, &s, &sn) && sn == 0) {
    }
    if (it.lineno == 0 || sn == 0) {
        rc = fm_err_set(err, FM_EPARSE, "azure trace '%s' is empty", name);
        goto out;
    }
    size_t k = split_csv(s, sn, f, fl, AZ_FIELDS);
    bool ok = k > 4 && k <= AZ_FIELDS;
    for (size_t i = 0; ok && i < 4; i++)
        ok = field_is(f[i], fl[i], head[i]);
    for (size_t i = 4; ok && i < k; i++) {
        char want[16];
        snprintf(want, sizeof want, "%zu", i - 3);
        ok = field_is(f[i], fl[i], want);
    }
    if (!ok) {
        rc = fm_err_set(err, FM_EPARSE,
                        "azure trace '%s' line %zu: header must be "
                        "HashOwner,HashApp,HashFunction,Trigger,1,2,...,N (N <= 1440)",
                        name, it.lineno);
        goto out;
    }
    nmin = k - 4;
    while (line_next(&it, &s, &sn)) {
        if (sn == 0)
            continue;
        k = split_csv(s, sn, f, fl, AZ_FIELDS);
        if (k != nmin + 4) {
            rc = fm_err_set(err, FM_EPARSE, "azure trace '%s' line %zu: %zu fields, expected %zu",
                            name, it.lineno, k > AZ_FIELDS ? k - 1 : k, nmin + 4);
            goto out;
        }
        bool take = !function || (fl[2] == strlen(function) && memcmp(f[2], function, fl[2]) == 0);
        for (size_t m = 0; m < nmin; m++) {
            uint64_t v;
            if (parse_count(f[4 + m], fl[4 + m], &v)) {
                rc = fm_err_set(err, FM_EPARSE,
                                "azure trace '%s' line %zu: minute %zu: count '%.*s' is not a "
                                "non-negative integer",
                                name, it.lineno, m + 1, (int)FM_MIN(fl[4 + m], 24), f[4 + m]);
                goto out;
            }
            if (!take)
                continue;
            if (v > AZ_MAX_PER_MINUTE - c[m]) {
                rc = fm_err_set(err, FM_ERANGE,
                                "azure trace '%s' line %zu: minute %zu: more than %llu "
                                "invocations in the minute",
                                name, it.lineno, m + 1, (unsigned long long)AZ_MAX_PER_MINUTE);
                goto out;
            }
            c[m] += v;
        }
        rows += take;
    }
    if (rows == 0) {
        rc = function ? fm_err_set(err, FM_ENOTFOUND,
                                   "azure trace '%s': no row has HashFunction '%s'", name, function)
                      : fm_err_set(err, FM_EPARSE, "azure trace '%s' has no rows", name);
        goto out;
    }
    *counts = c;
    *minutes = nmin;
    c = NULL;
out:
    free(f);
    free(fl);
    free(c);
    return rc;
}
