/* Reading `ldd`'s output: which files a binary loads. The text comes from a child process, so it is
 * parsed as untrusted input (fuzz/fuzz_ldd.c): bounded lines, only absolute paths kept. */
#include "package.h"

#include <stdio.h>
#include <string.h>

#define LDD_LINE_MAX 4096

/* Copies the path that starts at s (up to a space or the end) into out. */
static bool take_path(const char *s, const char *end, char *out, size_t cap)
{
    const char *e = s;
    while (e < end && *e != ' ' && *e != '\t')
        e++;
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= cap || s[0] != '/')
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

int package_ldd_parse(const char *text, size_t len, package_lib_fn fn, void *ud, fm_err *err)
{
    const char *p = text, *end = text + len;
    char path[LDD_LINE_MAX];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        p = nl ? nl + 1 : end;
        while (s < le && (*s == ' ' || *s == '\t'))
            s++;
        if (s == le)
            continue;
        if ((size_t)(le - s) >= LDD_LINE_MAX)
            return fm_err_set(err, FM_EPARSE, "ldd: line longer than %d bytes", LDD_LINE_MAX);
        const char *arrow = NULL;
        for (const char *c = s; c + 3 < le; c++)
            if (c[0] == ' ' && c[1] == '=' && c[2] == '>' && c[3] == ' ') {
                arrow = c;
                break;
            }
        if (arrow) {
            const char *target = arrow + 4;
            while (target < le && *target == ' ')
                target++;
            if ((size_t)(le - target) >= 9 && strncmp(target, "not found", 9) == 0)
                return fm_err_set(err, FM_ENOTFOUND, "ldd: library '%.*s' not found",
                                  (int)(arrow - s), s);
            if (target < le && *target == '(')
                continue; /* "name =>  (0x...)": a vDSO with no file */
            if (!take_path(target, le, path, sizeof path))
                return fm_err_set(err, FM_EPARSE, "ldd: cannot read line '%.*s'",
                                  (int)FM_MIN(le - s, 200), s);
        } else if (s[0] == '/') {
            if (!take_path(s, le, path, sizeof path))
                continue;
        } else {
            continue; /* linux-vdso.so.1 (0x...), "statically linked" */
        }
        int rc = fn(ud, path);
        if (rc)
            return fm_err_set(err, rc, "ldd: %s", fm_strerror(rc));
    }
    return 0;
}
