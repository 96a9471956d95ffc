/* The libcurl transport of the driver: TLS, HTTP/2 and SigV4, on libcurl's multi socket
 * interface. Each timing loop has its own multi handle whose sockets sit in the loop's epoll set.
 *
 * The send time is taken in CURLOPT_PREREQFUNCTION, right before the request goes on the wire;
 * first byte and completion are that time plus libcurl's own STARTTRANSFER/TOTAL minus
 * PRETRANSFER intervals. */
#include "driver_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- libcurl callbacks ---------------------------------------------------------------------- */
static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int on_prereq(void *ud, char *ip, char *lip, int port, int lport)
{
    (void)ip;
    (void)lip;
    (void)port;
    (void)lport;
    slot *s = ud;
    drv_sent(s->d, s, clk(s->d));
    return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    slot *s = ud;
    size_t len = sz * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new header block (redirect, 100) */
        s->fn_error = false;
        s->rec.cold = -1;
        s->rec.instance = -1;
    } else {
        load_headers_parse_line(p, len, &s->rec, &s->fn_error);
    }
    return len;
}

/* Why: the socket interface touches only the transfers whose sockets are ready, so the cost of
 * a send does not grow with the number of requests outstanding (a stalled server). */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)e;
    (void)sockp;
    worker *d = ud;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(d->ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.u64 = (uint64_t)fd};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (epoll_ctl(d->ep, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    (void)m;
    worker *d = ud;
    d->curl_deadline = ms < 0 ? -1 : clk(d) + (int64_t)ms * 1000000;
    return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */
static int setup_easy(worker *d, slot *s, fm_err *err)
{
    const load_target *t = d->rc->target;
    CURL *e = s->easy = curl_easy_init();
    if (!e)
        return fm_err_set(err, FM_ENOMEM, "cannot create a libcurl handle");
    s->d = d;
    int rc = 0;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (!rc && curl_easy_setopt(e, opt, val) != CURLE_OK)                                      \
            rc = fm_err_set(err, FM_EUNSUPPORTED, "libcurl rejects option %s", #opt);              \
    } while (0)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_PRIVATE, s);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, s);
    SET(CURLOPT_TIMEOUT_MS, (long)((d->o->timeout_ns + 999999) / 1000000));
    SET(CURLOPT_HTTPHEADER, d->rc->headers);
    SET(CURLOPT_HTTP_VERSION,
        t->http2 ? (strncmp(t->url, "https:", 6) == 0 ? CURL_HTTP_VERSION_2TLS
                                                      : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                 : CURL_HTTP_VERSION_1_1);
    if (t->http2)
        SET(CURLOPT_PIPEWAIT, 1L);
    if (d->rc->has_body)
        SET(CURLOPT_POST, 1L);
    if (t->method)
        SET(CURLOPT_CUSTOMREQUEST, t->method);
    if (t->aws_sigv4) {
        SET(CURLOPT_AWS_SIGV4, t->aws_sigv4);
        SET(CURLOPT_USERPWD, t->aws_userpwd ? t->aws_userpwd : ":");
    }
#undef SET
    return rc;
}

static struct curl_slist *build_headers(const load_target *t, bool has_body)
{
    struct curl_slist *h = NULL, *n;
    char ct[512];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             t->content_type ? t->content_type : "application/json");
    const char *base[] = {"Expect:", has_body ? ct : NULL,
                          t->lambda_log_tail ? "X-Amz-Log-Type: Tail" : NULL};
    for (size_t i = 0; i < FM_ARRAY_LEN(base); i++) {
        if (!base[i])
            continue;
        if (!(n = curl_slist_append(h, base[i])))
            goto oom;
        h = n;
    }
    for (int i = 0; i < t->nheaders; i++) {
        if (!(n = curl_slist_append(h, t->headers[i])))
            goto oom;
        h = n;
    }
    return h;
oom:
    curl_slist_free_all(h);
    return NULL;
}

int load_target_check(const load_target *t, int64_t timeout_ns, fm_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *e = curl_easy_init();
    if (!e)
        return fm_err_set(err, FM_ENOMEM, "cannot create a libcurl handle");
    char eb[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, eb);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)FM_MAX(timeout_ns / 1000000, 1));
    CURLcode c = curl_easy_perform(e);
    curl_easy_cleanup(e);
    if (c != CURLE_OK)
        return fm_err_set(err, FM_EIO, "cannot connect to '%s': %s", t->url,
                          eb[0] ? eb : curl_easy_strerror(c));
    return 0;
}

int curl_setup(run_ctx *c, fm_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    const load_target *t = c->target;
    /* libcurl before 8.0 breaks HTTP/2 prior knowledge on connection reuse (curl issue 10634):
     * every request after the first fails with "Error in the HTTP2 framing layer" */
    if (t->http2 && strncmp(t->url, "https:", 6) != 0 &&
        curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "HTTP/2 without TLS fails on connection reuse in libcurl %s (curl issue "
                          "10634, fixed in 8.0): use an https:// URL or HTTP/1.1",
                          curl_version_info(CURLVERSION_NOW)->version);
    if (!(c->headers = build_headers(t, c->has_body)))
        return fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
    return 0;
}

void curl_teardown(run_ctx *c)
{
    curl_slist_free_all(c->headers);
    c->headers = NULL;
}

int curl_worker_init(worker *d, fm_err *err)
{
    if (!(d->multi = curl_multi_init()))
        return fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->nslots);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING,
                      d->rc->target->http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    /* the first handle now, so that an option libcurl refuses is an error before the run */
    return setup_easy(d, &d->slots[0], err);
}

void curl_worker_release(worker *d)
{
    for (int i = 0; d->slots && i < d->nslots; i++)
        if (d->slots[i].easy) {
            if (d->multi)
                curl_multi_remove_handle(d->multi, d->slots[i].easy);
            curl_easy_cleanup(d->slots[i].easy);
        }
    if (d->multi) /* before closing the epoll fd: closing connections calls on_socket */
        curl_multi_cleanup(d->multi);
    d->multi = NULL;
}

/* ---- requests -------------------------------------------------------------------------------- */
static void finish(worker *d, slot *s, CURLcode res)
{
    load_record *r = &s->rec;
    long code = 0;
    curl_off_t pre = 0, st = 0, tot = 0;
    long nconn = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(s->easy, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &tot);
    curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &nconn);
    int64_t now = clk(d);
    r->http_code = (int)code;
    r->reused_conn = nconn == 0;
    if (r->sent_ns && res == CURLE_OK) {
        r->first_byte_ns = st > pre ? r->sent_ns + (int64_t)(st - pre) * 1000 : r->sent_ns;
        r->done_ns = tot > pre ? r->sent_ns + (int64_t)(tot - pre) * 1000 : now;
        if (r->done_ns > now) /* libcurl rounds to us; never report the future */
            r->done_ns = now;
        if (r->first_byte_ns > r->done_ns)
            r->first_byte_ns = r->done_ns;
    } else {
        r->done_ns = now;
    }
    if (res == CURLE_OK) {
        if (code == 429)
            r->status = LOAD_ST_THROTTLED;
        else if (code >= 400 || s->fn_error)
            r->status = LOAD_ST_ERROR;
        else
            r->status = LOAD_ST_OK;
        if (r->status != LOAD_ST_OK)
            snprintf(r->error, sizeof r->error,
                     s->fn_error ? "function error (http %ld)" : "http %ld", code);
    } else {
        r->status = res == CURLE_OPERATION_TIMEDOUT ? LOAD_ST_TIMEOUT : LOAD_ST_CONN_ERROR;
        snprintf(r->error, sizeof r->error, "%s",
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(res));
    }
    curl_multi_remove_handle(d->multi, s->easy);
    drv_slot_done(d, s);
}

static void reap(worker *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish(d, s, m->data.result);
        }
}

bool curl_start(worker *d, slot *s)
{
    if (!s->easy) { /* handles are made on first use: --max-in-flight may be large */
        fm_err e = {0};
        if (setup_easy(d, s, &e)) {
            if (s->easy)
                curl_easy_cleanup(s->easy);
            s->easy = NULL;
            s->rec.status = LOAD_ST_CONN_ERROR;
            snprintf(s->rec.error, sizeof s->rec.error, "%s", e.msg);
            s->rec.done_ns = clk(d);
            drv_slot_done(d, s);
            return false;
        }
    }
    s->errbuf[0] = 0;
    if (d->rc->has_body) {
        const char *data;
        size_t len;
        load_payloads_get(d->rc->p, s->rec.id, &data, &len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, data);
    }
    curl_multi_add_handle(d->multi, s->easy);
    return true;
}

void curl_event(worker *d, const struct epoll_event *ev)
{
    int running;
    int f = (ev->events & EPOLLIN ? CURL_CSELECT_IN : 0) |
            (ev->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
            (ev->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(d->multi, (curl_socket_t)ev->data.u64, f, &running);
    reap(d);
}

/* New handles are due at once (kick); so is a libcurl timeout that has passed. */
void curl_tick(worker *d, bool kick)
{
    int running;
    bool fired = d->curl_deadline >= 0 && clk(d) >= d->curl_deadline;
    if (fired) /* one-shot: libcurl re-arms it through on_timer; a stale one would spin */
        d->curl_deadline = -1;
    if (kick || fired)
        curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    reap(d);
}

int64_t curl_deadline(worker *d)
{
    return d->curl_deadline;
}
