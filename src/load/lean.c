/* The lean transport of the driver: plain HTTP/1.1 with keep-alive, one connection per slot and
 * one request at a time on it (no pipelining), on the timing loop's own epoll set.
 *
 * Why it exists: per request libcurl's multi interface costs several syscalls (a liveness poll
 * of the reused connection, sched_yield, epoll_ctl updates) and its handle bookkeeping; this
 * client makes one sendmsg and one recv per request on an established connection, and its parser
 * (http.c) touches each byte once. docs/load.md has the measurements.
 *
 * A request's send time is taken just before its first byte is written (after the connection is
 * up), its first-byte time when the first response bytes are read, its done time when the
 * response is complete. A request on a reused connection that the server had closed (EOF or
 * reset before any response byte) is sent again once on a new connection, as browsers and
 * libcurl do. */
#include "driver_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define RBUF_INIT 4096 /* a first response buffer: one page, grown while a head needs more */
#define RBUF_ROOM 1024 /* the least room a recv is given */

/* ---- the target, once per run ------------------------------------------------------------- */
static bool method_has_length(const char *m)
{
    return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "DELETE") && strcmp(m, "OPTIONS");
}

int lean_setup(run_ctx *c, fm_err *err)
{
    const load_target *t = c->target;
    lean_target *L = &c->lean;
    const char *u = t->url + 7; /* after "http://"; pick_client checked the scheme */
    size_t alen = strcspn(u, "/?#");
    const char *path = u + alen;
    if (alen == 0)
        return fm_err_set(err, FM_EINVAL, "target '%s' has no host", t->url);
    if (memchr(u, '@', alen))
        return fm_err_set(err, FM_EINVAL,
                          "target '%s': credentials in the URL need --client libcurl", t->url);
    char host[256], port[16] = "80";
    const char *hb = u, *he, *colon;
    if (u[0] == '[') {
        const char *rb = memchr(u, ']', alen);
        if (!rb)
            return fm_err_set(err, FM_EINVAL, "target '%s': unclosed '[' in the host", t->url);
        hb = u + 1;
        he = rb;
        colon = rb + 1 < u + alen && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(u, ':', alen);
        he = colon ? colon : u + alen;
    }
    if (he - hb <= 0 || (size_t)(he - hb) >= sizeof host)
        return fm_err_set(err, FM_EINVAL, "target '%s': bad host", t->url);
    memcpy(host, hb, (size_t)(he - hb));
    host[he - hb] = 0;
    if (colon) {
        size_t pl = (size_t)(u + alen - colon - 1);
        if (pl == 0 || pl >= sizeof port || strspn(colon + 1, "0123456789") < pl)
            return fm_err_set(err, FM_EINVAL, "target '%s': bad port", t->url);
        memcpy(port, colon + 1, pl);
        port[pl] = 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0 || !ai)
        return fm_err_set(err, FM_EIO, "cannot resolve '%s': %s", host, gai_strerror(g));
    memcpy(&L->addr, ai->ai_addr, ai->ai_addrlen);
    L->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(L->where, sizeof L->where, "%.*s", (int)alen, u);
    /* the request line and headers that every request shares */
    const char *method = t->method ? t->method : c->has_body ? "POST" : "GET";
    L->head_request = strcasecmp(method, "HEAD") == 0;
    size_t plen = strcspn(path, "#");
    for (const char *m = method; *m; m++)
        if (*m <= ' ' || *m >= 127)
            return fm_err_set(err, FM_EINVAL, "method '%s' is not an HTTP token", method);
    for (size_t i = 0; i < plen; i++)
        if (path[i] <= ' ' || path[i] >= 127)
            return fm_err_set(err, FM_EINVAL, "target '%s': the path needs percent-encoding",
                              t->url);
    size_t cap =
        512 + plen + alen + strlen(method) + (t->content_type ? strlen(t->content_type) : 0);
    for (int i = 0; i < t->nheaders; i++)
        cap += strlen(t->headers[i]) + 2;
    char *h = L->head = malloc(cap);
    if (!h)
        return fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
    size_t n =
        (size_t)snprintf(h, cap, "%s %.*s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: faasml-load\r\n",
                         method, plen ? (int)plen : 1, plen ? path : "/", (int)alen, u);
    if (c->has_body)
        n += (size_t)snprintf(h + n, cap - n, "Content-Type: %s\r\n",
                              t->content_type ? t->content_type : "application/json");
    if (t->lambda_log_tail)
        n += (size_t)snprintf(h + n, cap - n, "X-Amz-Log-Type: Tail\r\n");
    for (int i = 0; i < t->nheaders; i++) {
        if (strpbrk(t->headers[i], "\r\n"))
            return fm_err_set(err, FM_EINVAL, "header '%s' holds a line break", t->headers[i]);
        n += (size_t)snprintf(h + n, cap - n, "%s\r\n", t->headers[i]);
    }
    L->head_len = n;
    L->body_length = c->has_body || method_has_length(method);
    return 0;
}

void lean_teardown(run_ctx *c)
{
    free(c->lean.head);
    c->lean.head = NULL;
}

/* ---- connections -------------------------------------------------------------------------- */
static void watch(worker *d, slot *s, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = s};
    epoll_ctl(d->ep, op, s->fd, &ev);
}

static void close_conn(worker *d, slot *s)
{
    if (s->fd >= 0) {
        epoll_ctl(d->ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->cs = CONN_CLOSED;
    s->rlen = 0;
    s->want_out = false;
}

static void unlink_in_flight(worker *d, slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (d->fl_head == s)
        d->fl_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else if (d->fl_tail == s)
        d->fl_tail = s->prev;
    s->prev = s->next = NULL;
}

/* The request in s ends without a response. */
static void fail(worker *d, slot *s, load_status st, const char *fmt, const char *arg)
{
    s->rec.status = st;
    snprintf(s->rec.error, sizeof s->rec.error, fmt, d->rc->lean.where, arg);
    s->rec.done_ns = clk(d);
    s->rec.reused_conn = s->reused;
    close_conn(d, s);
    unlink_in_flight(d, s);
    drv_slot_done(d, s);
}

static void write_more(worker *d, slot *s);

static void write_request(worker *d, slot *s)
{
    const run_ctx *c = d->rc;
    s->iov[0] = (struct iovec){c->lean.head, c->lean.head_len};
    s->iov_n = 2;
    if (c->has_body) {
        const char *data;
        size_t len;
        load_payloads_get(c->p, s->rec.id, &data, &len);
        int k = snprintf(s->clen, sizeof s->clen, "Content-Length: %zu\r\n\r\n", len);
        s->iov[1] = (struct iovec){s->clen, (size_t)k};
        s->iov[2] = (struct iovec){(void *)data, len};
        s->iov_n = 3;
    } else if (c->lean.body_length) {
        s->iov[1] = (struct iovec){"Content-Length: 0\r\n\r\n", 21};
    } else {
        s->iov[1] = (struct iovec){"\r\n", 2};
    }
    load_http_resp_init(&s->resp, c->lean.head_request);
    s->rlen = 0;
    s->got_byte = false;
    s->cs = CONN_BUSY;
    drv_sent(d, s, clk(d));
    write_more(d, s);
}

static void open_conn(worker *d, slot *s);

/* The server closed a reused connection before answering: send once more on a new one. */
static bool retry(worker *d, slot *s)
{
    if (!s->reused || s->retried || s->got_byte)
        return false;
    close_conn(d, s);
    s->retried = true;
    s->reused = false;
    open_conn(d, s);
    return true;
}

static void write_more(worker *d, slot *s)
{
    struct iovec *v = s->iov;
    int n = s->iov_n;
    while (n && v->iov_len == 0)
        v++, n--;
    ssize_t w = 0;
    if (n) {
        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
        w = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            if (!retry(d, s))
                fail(d, s, LOAD_ST_CONN_ERROR, "cannot send to %s: %s", strerror(e));
            return;
        }
        for (size_t k = w > 0 ? (size_t)w : 0; n && k;) {
            size_t t = FM_MIN(k, v->iov_len);
            v->iov_base = (char *)v->iov_base + t;
            v->iov_len -= t;
            k -= t;
            if (v->iov_len == 0)
                v++, n--;
        }
        while (n && v->iov_len == 0)
            v++, n--;
    }
    /* remember what is left for EPOLLOUT */
    memmove(s->iov, v, (size_t)n * sizeof *v);
    s->iov_n = n;
    bool want = n > 0;
    if (want != s->want_out)
        watch(d, s, EPOLLIN | (want ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
    s->want_out = want;
}

static void open_conn(worker *d, slot *s)
{
    const lean_target *L = &d->rc->lean;
    int fd = socket(L->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(d, s, LOAD_ST_CONN_ERROR, "cannot connect to %s: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->fd = fd;
    int r = connect(fd, (const struct sockaddr *)&L->addr, L->addrlen);
    if (r != 0 && errno != EINPROGRESS) {
        fail(d, s, LOAD_ST_CONN_ERROR, "cannot connect to %s: %s", strerror(errno));
        return;
    }
    s->cs = r == 0 ? CONN_IDLE : CONN_CONNECTING;
    s->want_out = r != 0;
    watch(d, s, r == 0 ? EPOLLIN : EPOLLOUT, EPOLL_CTL_ADD);
    if (r == 0)
        write_request(d, s);
}

/* ---- requests ----------------------------------------------------------------------------- */
bool lean_start(worker *d, slot *s)
{
    s->retried = false;
    s->deadline = s->rec.dispatch_ns + d->o->timeout_ns;
    s->prev = d->fl_tail;
    s->next = NULL;
    if (d->fl_tail)
        d->fl_tail->next = s;
    else
        d->fl_head = s;
    d->fl_tail = s;
    s->reused = s->cs == CONN_IDLE;
    if (s->reused)
        write_request(d, s);
    else
        open_conn(d, s);
    return true;
}

static void on_line(const char *p, size_t len, void *ud)
{
    slot *s = ud;
    load_headers_parse_line(p, len, &s->rec, &s->fn_error);
}

static void complete(worker *d, slot *s)
{
    load_record *r = &s->rec;
    r->done_ns = clk(d);
    if (!r->first_byte_ns)
        r->first_byte_ns = r->done_ns;
    int code = s->resp.status;
    r->http_code = code;
    r->reused_conn = s->reused;
    if (code == 429)
        r->status = LOAD_ST_THROTTLED;
    else if (code >= 400 || s->fn_error)
        r->status = LOAD_ST_ERROR;
    else
        r->status = LOAD_ST_OK;
    if (r->status != LOAD_ST_OK)
        snprintf(r->error, sizeof r->error, s->fn_error ? "function error (http %d)" : "http %d",
                 code);
    /* a connection the server will close, or that holds bytes past the response, goes */
    if (!s->resp.keep_alive || s->rlen)
        close_conn(d, s);
    else
        s->cs = CONN_IDLE;
    unlink_in_flight(d, s);
    drv_slot_done(d, s);
}

static void on_readable(worker *d, slot *s)
{
    for (;;) {
        if (s->cs != CONN_BUSY) { /* idle: the server closed it, or says something unasked */
            char b[256];
            ssize_t n = recv(s->fd, b, sizeof b, 0);
            if (n >= 0 || (errno != EAGAIN && errno != EINTR))
                close_conn(d, s);
            return;
        }
        if (s->rcap - s->rlen < RBUF_ROOM) {
            size_t c = s->rcap ? s->rcap * 2 : RBUF_INIT;
            char *nb = c <= 2 * LOAD_HTTP_MAX_HEAD ? realloc(s->rbuf, c) : NULL;
            if (!nb) {
                fail(d, s, LOAD_ST_CONN_ERROR, "bad response from %s: %s", "out of buffer space");
                return;
            }
            s->rbuf = nb;
            s->rcap = c;
        }
        size_t room = s->rcap - s->rlen;
        ssize_t n = recv(s->fd, s->rbuf + s->rlen, room, 0);
        const char *why = NULL;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            if (n == 0 && load_http_parse_eof(&s->resp, &why) == LOAD_HTTP_DONE) {
                s->resp.keep_alive = false;
                complete(d, s);
            } else if (!retry(d, s)) {
                fail(d, s, LOAD_ST_CONN_ERROR, "connection to %s ended: %s",
                     e             ? strerror(e)
                     : s->got_byte ? why
                                   : "closed before a response");
            }
            return;
        }
        if (!s->got_byte) {
            s->got_byte = true;
            s->rec.first_byte_ns = clk(d);
        }
        s->rlen += (size_t)n;
        size_t used = 0;
        load_http_rc rc = load_http_parse(&s->resp, s->rbuf, s->rlen, &used, on_line, s, &why);
        memmove(s->rbuf, s->rbuf + used, s->rlen - used);
        s->rlen -= used;
        if (rc == LOAD_HTTP_DONE) {
            complete(d, s);
            return;
        }
        if (rc == LOAD_HTTP_ERROR) {
            fail(d, s, LOAD_ST_CONN_ERROR, "bad response from %s: %s", why);
            return;
        }
        if ((size_t)n < room)
            return; /* drained for now */
    }
}

void lean_event(worker *d, const struct epoll_event *ev)
{
    slot *s = ev->data.ptr;
    if (s->cs == CONN_CONNECTING) {
        int e = 0;
        socklen_t el = sizeof e;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
            e = errno;
        if (e == 0 && !(ev->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        if (e != 0 || (ev->events & (EPOLLERR | EPOLLHUP))) {
            fail(d, s, LOAD_ST_CONN_ERROR, "cannot connect to %s: %s",
                 strerror(e ? e : ECONNREFUSED));
            return;
        }
        s->cs = CONN_IDLE;
        s->want_out = true; /* write_request settles the events */
        write_request(d, s);
        return;
    }
    if ((ev->events & EPOLLOUT) && s->want_out && s->cs == CONN_BUSY) {
        write_more(d, s);
        if (s->cs != CONN_BUSY)
            return;
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(d, s);
}

void lean_tick(worker *d)
{
    int64_t now = clk(d);
    char ms[32];
    while (d->fl_head && d->fl_head->deadline <= now) {
        snprintf(ms, sizeof ms, "%.0f ms", (double)d->o->timeout_ns / 1e6);
        fail(d, d->fl_head, LOAD_ST_TIMEOUT, "no response from %s after %s", ms);
    }
}

int64_t lean_deadline(worker *d)
{
    return d->fl_head ? d->fl_head->deadline : -1;
}

void lean_worker_release(worker *d)
{
    for (int i = 0; d->slots && i < d->nslots; i++) {
        slot *s = &d->slots[i];
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        free(s->rbuf);
        s->rbuf = NULL;
    }
}
