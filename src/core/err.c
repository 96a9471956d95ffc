/* Error codes, names and messages, generated from the one list in core.h. */
#include "core.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {
#define FM_XX(name, msg) "FM_E" #name,
    FM_ERRNO_MAP(FM_XX)
#undef FM_XX
};
static const char *const texts[] = {
#define FM_XX(name, msg) msg,
    FM_ERRNO_MAP(FM_XX)
#undef FM_XX
};
_Static_assert(FM_ARRAY_LEN(names) == FM__ELAST - FM__EBASE - 1, "error tables out of sync");

/* Why: callers log and compare codes by name; -errno codes keep their libc names. */
const char *fm_errname(int code)
{
    if (code == 0)
        return "OK";
    if (code > FM__EBASE && code < FM__ELAST)
        return names[code - FM__EBASE - 1];
    if (code < 0 && code > -4096) {
        const char *n = strerrorname_np(-code);
        return n ? n : "E?";
    }
    return "EUNKNOWN";
}

/* Why: one place turns any code, ours or the system's, into words. */
const char *fm_strerror(int code)
{
    if (code == 0)
        return "success";
    if (code > FM__EBASE && code < FM__ELAST)
        return texts[code - FM__EBASE - 1];
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

/* Why: the code and the message travel together, and `return fm_err_set(...)` keeps error
 * paths one line long. */
int fm_err_set(fm_err *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Why: lower layers say what failed, upper layers add which subject it failed on. */
int fm_err_prefix(fm_err *err, const char *fmt, ...)
{
    if (!err)
        return FM_EINTERNAL;
    char pre[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", pre, old);
    return err->code;
}

/* Why: a reused fm_err must not show a stale message. */
void fm_err_clear(fm_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = 0;
    }
}
