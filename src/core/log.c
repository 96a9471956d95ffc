/* Logging through a replaceable callback; the default writes logfmt lines to stderr. */
#include "core.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static fm_log_fn handler;
static void *handler_ud;
static fm_log_level min_level = FM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
_Static_assert(FM_ARRAY_LEN(level_names) == FM_LOG_OFF + 1, "level names out of sync");

/* Why: level names are shared by the default handler and --log-level parsing. */
const char *fm_log_level_name(fm_log_level level)
{
    return level <= FM_LOG_OFF ? level_names[level] : "?";
}

int fm_log_level_parse(const char *s, fm_log_level *out)
{
    for (int i = 0; i <= FM_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (fm_log_level)i;
            return 0;
        }
    return FM_EINVAL;
}

/* Why: embedders and tests route library logs elsewhere; NULL restores stderr. */
void fm_log_set_handler(fm_log_fn fn, void *ud)
{
    handler = fn;
    handler_ud = ud;
}

void fm_log_set_level(fm_log_level level)
{
    min_level = level;
}
fm_log_level fm_log_get_level(void)
{
    return min_level;
}

/* Why: logfmt is greppable by humans and parseable by tools; one write() per line keeps lines
 * whole when several processes share stderr. */
static void default_handler(fm_log_level level, const char *module, const char *msg, void *ud)
{
    (void)ud;
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char q[1200];
    fm_json_quote(q, sizeof q, msg);
    fprintf(stderr, "ts=%s.%03ldZ level=%s mod=%s msg=%s\n", ts, now.tv_nsec / 1000000,
            fm_log_level_name(level), module, q);
}

/* Why: filtering happens before formatting, so disabled debug logs cost one compare. */
void fm_log(fm_log_level level, const char *module, const char *fmt, ...)
{
    if (level < min_level || level >= FM_LOG_OFF)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!module)
        module = "-";
    if (handler)
        handler(level, module, msg, handler_ud);
    else
        default_handler(level, module, msg, NULL);
}
