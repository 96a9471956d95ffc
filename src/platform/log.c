/* The instance log's format, written (plat_log_stamp, instance.c's plat_log_line) and read
 * (`faasml logs`) in one place: "STAMP NAME[INSTANCE] TEXT". */
#include "fn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The seconds part is formatted once per second, as lines come in bursts. */
void plat_log_stamp(platform *p, char out[32])
{
    int64_t ns = fm_wall_ns(), sec = ns / 1000000000;
    if (sec != p->log_sec || !p->log_sec_text[0]) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(p->log_sec_text, sizeof p->log_sec_text, "%Y-%m-%dT%H:%M:%S", &tm);
        p->log_sec = sec;
    }
    snprintf(out, 32, "%s.%03dZ", p->log_sec_text, (int)(ns % 1000000000 / 1000000));
}

/* Why: `faasml logs` reads instance logs from a file, so the platform says which file it writes
 * (the admin API and the serve run's record carry it), whether that is DIR/instances.log or a
 * file the process's stderr was redirected to. */
int platform_log_path(const platform_config *cfg, char *buf, size_t cap)
{
    char real[PATH_MAX];
    buf[0] = 0;
    if (cfg->log_dir && *cfg->log_dir) {
        if (!realpath(cfg->log_dir, real))
            return -errno;
        snprintf(buf, cap, "%s/instances.log", real);
        return 0;
    }
    struct stat stb;
    if (fstat(2, &stb) != 0 || !S_ISREG(stb.st_mode))
        return FM_ENOTFOUND;
    ssize_t n = readlink("/proc/self/fd/2", real, sizeof real - 1);
    if (n <= 0 || real[0] != '/')
        return FM_ENOTFOUND;
    real[n] = 0;
    snprintf(buf, cap, "%s", real);
    return 0;
}

/* Digits at s[*i..] (at most max of them, at least one) as a number. */
static bool digits(const char *s, size_t len, size_t *i, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (*i < len && n < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    *out = v;
    return n > 0;
}

static bool expect(const char *s, size_t len, size_t *i, const char *set)
{
    if (*i >= len || !strchr(set, s[*i]) || !s[*i])
        return false;
    (*i)++;
    return true;
}

/* Why: strptime is locale-bound and reads past a length; the stamp and --since need only the one
 * ISO form, checked field by field. */
int platform_log_time_parse(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int64_t y, mo, d, h, mi, sec, frac = 0, scale = 1000000000;
    if (!digits(s, len, &i, 4, &y) || i != 4 || !expect(s, len, &i, "-") ||
        !digits(s, len, &i, 2, &mo) || !expect(s, len, &i, "-") || !digits(s, len, &i, 2, &d) ||
        !expect(s, len, &i, "Tt ") || !digits(s, len, &i, 2, &h) || !expect(s, len, &i, ":") ||
        !digits(s, len, &i, 2, &mi) || !expect(s, len, &i, ":") || !digits(s, len, &i, 2, &sec))
        return FM_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return FM_EINVAL;
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || s[i] < '0' || s[i] > '9')
            return FM_EINVAL;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (scale > 1) {
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '+' ? 1 : -1;
        int64_t oh, om;
        if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ":") ||
            !digits(s, len, &i, 2, &om) || oh > 23 || om > 59)
            return FM_EINVAL;
        off = sign * (oh * 3600 + om * 60);
    }
    if (i != len)
        return FM_EINVAL;
    /* days from the civil date (Howard Hinnant's algorithm), so no libc time zone is involved */
    int64_t yy = y - (mo <= 2), era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400, mp = (mo + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    *out = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000000000 + frac;
    return 0;
}

int platform_log_parse(const char *line, platform_log_line *out)
{
    memset(out, 0, sizeof *out);
    out->t_ns = -1;
    const char *s = line, *sp = strchr(s, ' '), *br = strchr(s, '[');
    if (!br)
        return FM_EINVAL;
    if (sp && sp < br) { /* stamped: "STAMP NAME[ID] text" */
        if (platform_log_time_parse(s, (size_t)(sp - s), &out->t_ns))
            return FM_EINVAL;
        s = sp + 1;
    }
    br = strchr(s, '[');
    sp = strchr(s, ' ');
    if (!br || br == s || (sp && sp < br))
        return FM_EINVAL;
    const char *close = strchr(br, ']');
    if (!close || close == br + 1 || close - br > 19 || close[1] != ' ')
        return FM_EINVAL;
    int64_t id = 0;
    for (const char *c = br + 1; c < close; c++) {
        if (*c < '0' || *c > '9')
            return FM_EINVAL;
        id = id * 10 + (*c - '0');
    }
    out->name = s;
    out->name_len = (size_t)(br - s);
    out->instance = id;
    out->text = close + 2;
    return 0;
}
