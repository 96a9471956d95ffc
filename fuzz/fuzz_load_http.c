/* Fuzzes the lean client's HTTP/1.1 response parser the way the client drives it: bytes arrive in
 * pieces, unconsumed bytes stay at the front of the buffer. The same input fed whole and fed in
 * small pieces (sizes from the first byte) must give the same outcome, status, header lines and
 * body length; nothing may read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "load/http_int.h"

typedef struct outcome {
    load_http_rc rc;
    int status;
    uint64_t body;
    size_t lines, line_bytes;
    bool keep;
} outcome;

static void on_line(const char *p, size_t len, void *ud)
{
    outcome *o = ud;
    o->lines++;
    o->line_bytes += len;
    if (len && (p[0] == 0x7f))
        o->line_bytes++; /* touch both ends: ASan checks the bounds */
    if (len && p[len - 1] == 0x7f)
        o->line_bytes++;
}

/* Feeds data in pieces of `step` bytes (0: whole) through a client-like buffer. */
static outcome run(const uint8_t *data, size_t size, size_t step, bool head)
{
    outcome o = {.rc = LOAD_HTTP_MORE};
    load_http_resp r;
    load_http_resp_init(&r, head);
    char *buf = malloc(size + 1);
    size_t have = 0, fed = 0;
    const char *why = NULL;
    while (buf && o.rc == LOAD_HTTP_MORE && fed < size) {
        size_t k = step ? step : size;
        if (k > size - fed)
            k = size - fed;
        memcpy(buf + have, data + fed, k);
        have += k;
        fed += k;
        size_t used = 0;
        o.rc = load_http_parse(&r, buf, have, &used, on_line, &o, &why);
        if (used > have)
            abort();
        if (o.rc == LOAD_HTTP_ERROR && !why)
            abort(); /* every error has its reason */
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    if (o.rc == LOAD_HTTP_MORE)
        o.rc = load_http_parse_eof(&r, &why);
    if (o.rc == LOAD_HTTP_DONE) {
        o.status = r.status;
        o.body = r.body_bytes;
        o.keep = r.keep_alive;
        if (r.status < 200 || r.status > 999)
            abort();
    }
    free(buf);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 7;
    bool head = data[0] & 0x80;
    outcome a = run(data + 1, size - 1, 0, head), b = run(data + 1, size - 1, step, head);
    if (a.rc != b.rc || a.status != b.status || a.body != b.body || a.keep != b.keep)
        abort();
    if (a.rc == LOAD_HTTP_DONE && (a.lines != b.lines || a.line_bytes != b.line_bytes))
        abort();
    return 0;
}
