/* Response headers that tell the client about the platform side of a request: faasml's own
 * (X-Faasml-Instance, X-Faasml-Cold) and Lambda's (X-Amz-Function-Error, and the REPORT line in
 * the base64 X-Amz-Log-Result tail sent when the request asked for X-Amz-Log-Type: Tail).
 * Network input: every read is bounded by len and nothing is trusted. */
#include "load_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Matches "Name:" case-insensitively; returns the trimmed value. */
static bool header_is(const char *p, size_t len, const char *name, const char **v, size_t *vn)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return false;
    const char *b = p + n + 1, *e = p + len;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *v = b;
    *vn = (size_t)(e - b);
    return true;
}

/* The number after "label" inside [p, p+len), or -1. */
static double field_after(const char *p, size_t len, const char *label)
{
    size_t ln = strlen(label);
    for (size_t i = 0; i + ln <= len; i++) {
        if (memcmp(p + i, label, ln) != 0)
            continue;
        char num[32];
        size_t j = i + ln, k = 0;
        while (j < len && p[j] == ' ')
            j++;
        while (j < len && k + 1 < sizeof num && (isdigit((unsigned char)p[j]) || p[j] == '.'))
            num[k++] = p[j++];
        num[k] = 0;
        double v;
        return k && fm_parse_double(num, &v) == 0 ? v : -1;
    }
    return -1;
}

bool load_report_parse(const char *p, size_t len, load_record *r)
{
    /* the last "REPORT RequestId:" line: a tail may also hold INIT_REPORT lines and earlier
     * invocations' output */
    static const char key[] = "REPORT RequestId:";
    const size_t kl = sizeof key - 1;
    const char *rep = NULL;
    for (size_t i = 0; i + kl <= len; i++)
        if (memcmp(p + i, key, kl) == 0 && (i == 0 || p[i - 1] == '\n'))
            rep = p + i;
    if (!rep)
        return false;
    size_t rn = len - (size_t)(rep - p);
    const char *nl = memchr(rep, '\n', rn);
    if (nl)
        rn = (size_t)(nl - rep);
    /* "Billed Duration" and "Init Duration" contain "Duration", so find the plain one by its
     * tab-separated position: "\tDuration: " or right after the RequestId field */
    double billed = field_after(rep, rn, "Billed Duration:");
    double init = field_after(rep, rn, "Init Duration:");
    double dur = field_after(rep, rn, "\tDuration:");
    if (dur < 0) {
        const char *q = rep;
        size_t left = rn;
        while (left >= 9) {
            const char *h = memmem(q, left, "Duration:", 9);
            if (!h)
                break;
            if (h == rep || h[-1] == ' ' || h[-1] == '\t') {
                bool plain = h - rep < 7 || (memcmp(h - 7, "Billed ", 7) != 0 &&
                                             (h - rep < 5 || memcmp(h - 5, "Init ", 5) != 0));
                if (plain) {
                    dur = field_after(h, rn - (size_t)(h - rep), "Duration:");
                    break;
                }
            }
            left -= (size_t)(h - q) + 9;
            q = h + 9;
        }
    }
    double mem = field_after(rep, rn, "Memory Size:");
    r->duration_ms = dur;
    r->billed_ms = billed;
    r->init_ms = init;
    r->cold = init >= 0 ? 1 : 0;
    if (mem > 0 && mem < 1e7)
        r->memory_mb = (int)mem;
    return true;
}

void load_headers_parse_line(const char *p, size_t len, load_record *r, bool *fn_error)
{
    const char *v;
    size_t vn;
    if (header_is(p, len, "X-Faasml-Instance", &v, &vn)) {
        char num[24];
        int64_t x;
        if (vn < sizeof num) {
            memcpy(num, v, vn);
            num[vn] = 0;
            if (fm_parse_i64(num, &x) == 0 && x >= 0)
                r->instance = x;
        }
    } else if (header_is(p, len, "X-Faasml-Cold", &v, &vn)) {
        if ((vn == 1 && v[0] == '1') || (vn == 4 && strncasecmp(v, "true", 4) == 0))
            r->cold = 1;
        else if ((vn == 1 && v[0] == '0') || (vn == 5 && strncasecmp(v, "false", 5) == 0))
            r->cold = 0;
    } else if (header_is(p, len, "X-Amz-Function-Error", &v, &vn)) {
        *fn_error = true;
    } else if (header_is(p, len, "X-Amz-Log-Result", &v, &vn)) {
        uint8_t *buf;
        size_t n;
        if (fm_base64_decode(v, vn, &buf, &n, NULL) == 0) { /* not base64: no REPORT to read */
            load_report_parse((const char *)buf, n, r);
            free(buf);
        }
    }
}
