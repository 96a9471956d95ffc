/* Small helpers shared by every module: strict number parsing, files, JSON quoting. */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why: strtoll alone accepts leading spaces and trailing junk ("512MB" as 512); specs and options
 * must fail on those instead. */
int fm_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return FM_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return FM_EINVAL;
    *out = v;
    return 0;
}

/* Why: as fm_parse_i64; also refuses nan, inf and overflow, which no spec value means. */
int fm_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return FM_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return FM_EINVAL;
    *out = v;
    return 0;
}

/* Why: one duration syntax for specs and options; a bare number is seconds as in most tools. */
int fm_parse_duration_ns(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    /* digits or a point first: no sign, space, hex, "inf" or "nan", which strtod would take */
    if (!s || !(isdigit((unsigned char)*s) || *s == '.') || strpbrk(s, "xX"))
        return FM_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return FM_EINVAL;
    double mul = 1e9;
    if (*end) {
        mul = 0;
        for (size_t i = 0; i < FM_ARRAY_LEN(units); i++)
            if (strcmp(end, units[i].suffix) == 0)
                mul = units[i].ns;
        if (mul == 0)
            return FM_EINVAL;
    }
    double ns = v * mul;
    if (ns > 9.2e18)
        return FM_ERANGE;
    *out = (int64_t)llround(ns);
    return 0;
}

/* Why: specs, models' side files and payloads are small; one call that reads them whole, with a
 * message naming the path, keeps every caller short. */
int fm_read_file(const char *path, char **out, size_t *len, fm_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fm_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (cap - n < 2) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f), e = errno ? errno : EIO;
    fclose(f);
    if (!buf)
        return fm_err_set(err, FM_ENOMEM, "cannot read '%s': out of memory", path);
    if (bad) {
        free(buf);
        return fm_err_set(err, -e, "cannot read '%s': %s", path, strerror(e));
    }
    buf[n] = 0;
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

/* Why: results, reports and exports must never be seen half written, even when the process dies
 * or the disk fills: the data goes to a temporary file beside the target, is synced, and replaces
 * the target in one rename. On failure the temporary file is removed and the target untouched. */
int fm_write_file_atomic(const char *path, const void *data, size_t len, fm_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return fm_err_set(err, FM_ENOMEM, "cannot write '%s': out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(tmp);
            free(tmp);
            return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    fchmod(fd, 0644);
    int e = fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

/* Why: log lines and hand-built JSON must stay valid whatever text they carry. */
size_t fm_json_quote(char *buf, size_t cap, const char *s)
{
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < cap)                                                                           \
            buf[n] = (c);                                                                          \
        n++;                                                                                       \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            PUT('\\');
            PUT('"');
            break;
        case '\\':
            PUT('\\');
            PUT('\\');
            break;
        case '\n':
            PUT('\\');
            PUT('n');
            break;
        case '\r':
            PUT('\\');
            PUT('r');
            break;
        case '\t':
            PUT('\\');
            PUT('t');
            break;
        default:
            if (*p < 0x20) {
                char esc[8];
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                for (char *e = esc; *e; e++)
                    PUT(*e);
            } else {
                PUT((char)*p);
            }
        }
    }
    PUT('"');
#undef PUT
    if (cap)
        buf[n < cap ? n : cap - 1] = 0;
    return n;
}

static bool readable(const char *p)
{
    return access(p, R_OK) == 0;
}

const char *fm_data_file(const char *name, char *buf, size_t cap)
{
    const char *env = getenv("FAASML_DATA");
    if (env && *env) {
        snprintf(buf, cap, "%s/%s", env, name);
        if (readable(buf))
            return buf;
    }
    snprintf(buf, cap, "data/%s", name);
    if (readable(buf))
        return buf;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        static const char *const rel[] = {"data", "../data", "../../data", "../share/faasml"};
        for (size_t i = 0; i < FM_ARRAY_LEN(rel); i++) {
            snprintf(buf, cap, "%s/%s/%s", exe, rel[i], name);
            if (readable(buf))
                return buf;
        }
    }
#ifdef FM_DATA_DIR
    snprintf(buf, cap, "%s/%s", FM_DATA_DIR, name);
    if (readable(buf))
        return buf;
#endif
    return NULL;
}

/* ---- the lists of core.h ------------------------------------------------------------------- */

static const char *const phase_keys[] = {
#define FM_XX(name, key, label) #key,
    FM_PHASE_MAP(FM_XX)
#undef FM_XX
};
static const char *const phase_labels[] = {
#define FM_XX(name, key, label) label,
    FM_PHASE_MAP(FM_XX)
#undef FM_XX
};
_Static_assert(FM_ARRAY_LEN(phase_keys) == FM_PHASE__COUNT, "one key per phase");

const char *fm_phase_key(fm_phase p)
{
    return (unsigned)p < FM_PHASE__COUNT ? phase_keys[p] : "?";
}

const char *fm_phase_label(fm_phase p)
{
    return (unsigned)p < FM_PHASE__COUNT ? phase_labels[p] : "?";
}

static const char *const provenance_words[] = {
#define FM_XX(name, word, meaning) word,
    FM_PROVENANCE_MAP(FM_XX)
#undef FM_XX
};
_Static_assert(FM_ARRAY_LEN(provenance_words) == FM_PROVENANCE__COUNT, "one word per status");

int fm_provenance_parse(const char *s, fm_provenance *out)
{
    for (int i = 0; s && i < FM_PROVENANCE__COUNT; i++)
        if (strcmp(s, provenance_words[i]) == 0) {
            *out = (fm_provenance)i;
            return 0;
        }
    return FM_EINVAL;
}

const char *fm_provenance_word(fm_provenance p)
{
    return (unsigned)p < FM_PROVENANCE__COUNT ? provenance_words[p] : "?";
}

const char *fm_provenance_words(void)
{
#define FM_XX(name, word, meaning) ", " word
    static const char all[] = FM_PROVENANCE_MAP(FM_XX);
#undef FM_XX
    return all + 2;
}
