/* The lean client's HTTP/1.1 response parser: status line, headers, and the three body framings
 * (Content-Length, chunked, until close), one response at a time (no pipelining). Network input:
 * every read is bounded by len, nothing is trusted, every malformed byte is an error with its
 * reason. Debian 12 packages no HTTP parser library (llhttp, picohttpparser), and the measured
 * per-request cost of libcurl is what this client exists to avoid (docs/load.md). */
#include "http_int.h"

#include <string.h>
#include <strings.h>

void load_http_resp_init(load_http_resp *r, bool head_request)
{
    *r = (load_http_resp){.state = LOAD_HTTP_S_HEAD, .head_request = head_request};
}

/* The next line in [p, p+len) from offset `from`: returns the offset just past its '\n', or 0
 * when there is none yet. */
static size_t line_end(const char *p, size_t len, size_t from)
{
    const char *nl = from < len ? memchr(p + from, '\n', len - from) : NULL;
    return nl ? (size_t)(nl - p) + 1 : 0;
}

/* Length of a line without its "\r\n" or "\n". */
static size_t trim_eol(const char *p, size_t n)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    return n;
}

static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t b = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - b == tl && strncasecmp(v + b, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Matches "Name:" case-insensitively; returns the value without surrounding blanks. */
static bool header_is(const char *p, size_t n, const char *name, const char **v, size_t *vn)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
        return false;
    size_t b = k + 1, e = n;
    while (b < e && (p[b] == ' ' || p[b] == '\t'))
        b++;
    while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    *v = p + b;
    *vn = e - b;
    return true;
}

/* Parses one complete head [p, p+n) (status line to the empty line). Sets the framing; calls
 * `line` for each header when the response is final. *informational: a 1xx head to skip. */
static load_http_rc parse_head(load_http_resp *r, const char *p, size_t n, load_http_line_fn line,
                               void *ud, bool *informational, const char **why)
{
    size_t e = line_end(p, n, 0), sl = trim_eol(p, e);
    /* "HTTP/1.x SSS[ reason]" */
    if (sl < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return *why = "malformed status line", LOAD_HTTP_ERROR;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return *why = "malformed status code", LOAD_HTTP_ERROR;
    if (sl > 12 && p[12] != ' ')
        return *why = "malformed status line", LOAD_HTTP_ERROR;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status < 100)
        return *why = "malformed status code", LOAD_HTTP_ERROR;
    if (status == 101)
        return *why = "unexpected protocol switch (101)", LOAD_HTTP_ERROR;
    *informational = status < 200;
    bool http11 = p[7] == '1', keep = http11, chunked = false, have_len = false;
    uint64_t clen = 0;
    for (size_t pos = e; pos < n;) {
        size_t le = line_end(p, n, pos);
        if (!le)
            return *why = "malformed header line", LOAD_HTTP_ERROR;
        const char *h = p + pos;
        size_t hn = trim_eol(h, le - pos);
        pos = le;
        if (hn == 0)
            break; /* the empty line ends the head */
        if (h[0] == ' ' || h[0] == '\t')
            return *why = "folded header line", LOAD_HTTP_ERROR;
        const char *colon = memchr(h, ':', hn);
        if (!colon || colon == h)
            return *why = "malformed header line", LOAD_HTTP_ERROR;
        const char *v;
        size_t vn;
        if (header_is(h, hn, "Content-Length", &v, &vn)) {
            uint64_t x = 0;
            if (vn == 0 || vn > 18)
                return *why = "malformed content-length", LOAD_HTTP_ERROR;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return *why = "malformed content-length", LOAD_HTTP_ERROR;
                x = x * 10 + (uint64_t)(v[i] - '0');
            }
            if (have_len && x != clen)
                return *why = "conflicting content-length headers", LOAD_HTTP_ERROR;
            have_len = true;
            clen = x;
        } else if (header_is(h, hn, "Transfer-Encoding", &v, &vn)) {
            if (!has_token(v, vn, "chunked") ||
                !(vn >= 7 && !strncasecmp(v + vn - 7, "chunked", 7)))
                return *why = "unsupported transfer-encoding", LOAD_HTTP_ERROR;
            chunked = true;
        } else if (header_is(h, hn, "Connection", &v, &vn)) {
            if (has_token(v, vn, "close"))
                keep = false;
            else if (has_token(v, vn, "keep-alive"))
                keep = true;
        }
        if (!*informational && line)
            line(h, hn, ud);
    }
    if (*informational)
        return LOAD_HTTP_MORE;
    if (chunked && have_len)
        return *why = "both content-length and chunked", LOAD_HTTP_ERROR;
    r->status = status;
    r->keep_alive = keep;
    if (r->head_request || status == 204 || status == 304 || (have_len && clen == 0))
        r->state = LOAD_HTTP_S_DONE;
    else if (chunked)
        r->state = LOAD_HTTP_S_CHUNK_SIZE;
    else if (have_len)
        r->state = LOAD_HTTP_S_BODY, r->body_left = clen;
    else
        r->state = LOAD_HTTP_S_UNTIL_CLOSE, r->keep_alive = false;
    return LOAD_HTTP_MORE;
}

/* A chunk-size line "HEX[;ext]" without its line end. */
static bool parse_chunk_size(const char *p, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i < n; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            break;
        if (x >> 56)
            return false;
        x = x * 16 + (uint64_t)d;
    }
    if (i == 0)
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < n && p[i] != ';')
        return false;
    *out = x;
    return true;
}

load_http_rc load_http_parse(load_http_resp *r, const char *buf, size_t len, size_t *used,
                             load_http_line_fn line, void *ud, const char **why)
{
    size_t pos = 0;
    *why = NULL;
    for (;;) {
        const char *p = buf + pos;
        size_t n = len - pos;
        switch (r->state) {
        case LOAD_HTTP_S_HEAD: {
            /* find the empty line; r->scan marks where complete, non-empty lines end */
            size_t s = r->scan, end = 0;
            for (;;) {
                size_t le = line_end(p, n, s);
                if (!le)
                    break;
                if (trim_eol(p + s, le - s) == 0) {
                    end = le;
                    break;
                }
                s = le;
            }
            if (!end) {
                r->scan = s;
                if (n >= LOAD_HTTP_MAX_HEAD)
                    return *why = "response head over 64 KiB", *used = pos, LOAD_HTTP_ERROR;
                *used = pos;
                return LOAD_HTTP_MORE;
            }
            if (end > LOAD_HTTP_MAX_HEAD)
                return *why = "response head over 64 KiB", *used = pos, LOAD_HTTP_ERROR;
            if (end <= 2 && s == 0)
                return *why = "malformed status line", *used = pos, LOAD_HTTP_ERROR;
            bool info = false;
            if (parse_head(r, p, end, line, ud, &info, why) == LOAD_HTTP_ERROR)
                return *used = pos, LOAD_HTTP_ERROR;
            pos += end;
            r->scan = 0;
            break; /* a 1xx head stays in HEAD for the next one */
        }
        case LOAD_HTTP_S_BODY:
        case LOAD_HTTP_S_CHUNK_DATA: {
            uint64_t k = n < r->body_left ? n : r->body_left;
            pos += (size_t)k;
            r->body_left -= k;
            r->body_bytes += k;
            if (r->body_left) {
                *used = pos;
                return LOAD_HTTP_MORE;
            }
            r->state = r->state == LOAD_HTTP_S_BODY ? LOAD_HTTP_S_DONE : LOAD_HTTP_S_CHUNK_CRLF;
            break;
        }
        case LOAD_HTTP_S_CHUNK_SIZE:
        case LOAD_HTTP_S_TRAILER: {
            size_t le = line_end(p, n, r->scan);
            if (!le) {
                r->scan = n;
                *used = pos;
                if (n >= 4096)
                    return *why = r->state == LOAD_HTTP_S_TRAILER ? "trailer line over 4 KiB"
                                                                  : "chunk-size line over 4 KiB",
                           LOAD_HTTP_ERROR;
                return LOAD_HTTP_MORE;
            }
            size_t ln = trim_eol(p, le);
            if (le > 4096)
                return *why = r->state == LOAD_HTTP_S_TRAILER ? "trailer line over 4 KiB"
                                                              : "chunk-size line over 4 KiB",
                       *used = pos, LOAD_HTTP_ERROR;
            r->scan = 0;
            pos += le;
            if (r->state == LOAD_HTTP_S_TRAILER) {
                if (ln == 0)
                    r->state = LOAD_HTTP_S_DONE;
                break;
            }
            uint64_t sz;
            if (!parse_chunk_size(p, ln, &sz))
                return *why = "malformed chunk size", *used = pos, LOAD_HTTP_ERROR;
            if (sz == 0)
                r->state = LOAD_HTTP_S_TRAILER;
            else
                r->state = LOAD_HTTP_S_CHUNK_DATA, r->body_left = sz;
            break;
        }
        case LOAD_HTTP_S_CHUNK_CRLF:
            if (n == 0 || (p[0] == '\r' && n == 1)) {
                *used = pos;
                return LOAD_HTTP_MORE;
            }
            if (p[0] == '\n')
                pos += 1;
            else if (p[0] == '\r' && p[1] == '\n')
                pos += 2;
            else
                return *why = "missing CRLF after chunk data", *used = pos, LOAD_HTTP_ERROR;
            r->state = LOAD_HTTP_S_CHUNK_SIZE;
            break;
        case LOAD_HTTP_S_UNTIL_CLOSE:
            r->body_bytes += n;
            *used = len;
            return LOAD_HTTP_MORE;
        case LOAD_HTTP_S_DONE: *used = pos; return LOAD_HTTP_DONE;
        }
        if (pos == len && r->state != LOAD_HTTP_S_DONE) {
            *used = pos;
            return LOAD_HTTP_MORE;
        }
    }
}

load_http_rc load_http_parse_eof(load_http_resp *r, const char **why)
{
    if (r->state == LOAD_HTTP_S_DONE || r->state == LOAD_HTTP_S_UNTIL_CLOSE) {
        r->state = LOAD_HTTP_S_DONE;
        return LOAD_HTTP_DONE;
    }
    *why = "connection closed before the response was complete";
    return LOAD_HTTP_ERROR;
}
