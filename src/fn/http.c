/*
 * HTTP mode: the function host behind its own libevent server, for KServe/Knative and SageMaker.
 * KServe v2 REST (health, metadata, infer with the binary tensor extension), SageMaker's /ping
 * and /invocations, Knative's contract ($PORT, ready when listening, SIGTERM drains). Requests
 * are served one at a time on the event loop thread, as a one-request-per-instance function.
 */
#include "fn/fn_int.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct http_srv {
    fn_host *host;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    fm_http_guard *guard; /* connection cap, request timeouts, accept back-off */
    struct event *sig_term, *sig_int, *drain_timer;
    int inflight;
    bool draining;
    int64_t drain_ns;
} http_srv;

typedef void (*route_fn)(http_srv *s, struct evhttp_request *req, const char *model);

/* ---- replies ----------------------------------------------------------------------------------
 */
/* Why: every reply goes through here so headers and in-flight accounting stay in one place. */
static void reply(struct evhttp_request *req, int status, const char *ctype, const void *body,
                  size_t len, int64_t header_len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (ctype)
        evhttp_add_header(h, "Content-Type", ctype);
    if (header_len >= 0) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)header_len);
        evhttp_add_header(h, "Inference-Header-Content-Length", v);
    }
    struct evbuffer *out = evbuffer_new();
    if (out && len)
        evbuffer_add(out, body, len);
    static const struct {
        int code;
        const char *reason;
    } reasons[] = {{200, "OK"},
                   {400, "Bad Request"},
                   {404, "Not Found"},
                   {405, "Method Not Allowed"},
                   {415, "Unsupported Media Type"},
                   {500, "Internal Server Error"},
                   {503, "Service Unavailable"},
                   {504, "Gateway Timeout"}};
    const char *reason = "Error";
    for (size_t i = 0; i < FM_ARRAY_LEN(reasons); i++)
        if (reasons[i].code == status)
            reason = reasons[i].reason;
    evhttp_send_reply(req, status, reason, out);
    if (out)
        evbuffer_free(out);
}

static void reply_json(struct evhttp_request *req, int status, const char *json)
{
    reply(req, status, "application/json", json, strlen(json), -1);
}

/* Why: {"error": "..."} with the message escaped. */
static void reply_error(struct evhttp_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(struct evhttp_request *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn_reply r = {0};
    fn_reply_error(&r, status, NULL, msg);
    reply(req, status, "application/json", r.body.p, r.body.len, -1);
    fn_reply_release(&r);
}

/* ---- routes -----------------------------------------------------------------------------------
 */
static void on_live(http_srv *s, struct evhttp_request *req, const char *model)
{
    reply_json(req, 200, "{\"live\":true}");
}

static void on_ready(http_srv *s, struct evhttp_request *req, const char *model)
{
    reply_json(req, s->draining ? 503 : 200,
               s->draining ? "{\"ready\":false}" : "{\"ready\":true}");
}

static void on_server_meta(http_srv *s, struct evhttp_request *req, const char *model)
{
    reply_json(req, 200,
               "{\"name\":\"faasml\",\"version\":\"" FM_VERSION
               "\",\"extensions\":[\"binary_tensor_data\"]}");
}

/* Why: a v2 path names the model; only the one this host serves exists. */
static bool model_known(http_srv *s, struct evhttp_request *req, const char *model)
{
    if (strcmp(model, fn_host_model_name(s->host)) == 0)
        return true;
    reply_error(req, 404, "model '%s' is not served here (this host serves '%s')", model,
                fn_host_model_name(s->host));
    return false;
}

static void on_model_meta(http_srv *s, struct evhttp_request *req, const char *model)
{
    if (!model_known(s, req, model))
        return;
    fn_buf b = {0};
    if (fn_v2_metadata_encode(model, fn_host_handler(s->host), &b))
        reply_error(req, 500, "out of memory");
    else
        reply(req, 200, "application/json", b.p, b.len, -1);
    fn_buf_release(&b);
}

static void on_model_ready(http_srv *s, struct evhttp_request *req, const char *model)
{
    if (!model_known(s, req, model))
        return;
    fn_buf b = {0};
    fn_buf_puts(&b, "{\"name\":");
    fn_buf_json_str(&b, model);
    fn_buf_printf(&b, ",\"ready\":%s}", s->draining ? "false" : "true");
    reply(req, s->draining ? 503 : 200, "application/json", b.p, b.len, -1);
    fn_buf_release(&b);
}

static void on_ping(http_srv *s, struct evhttp_request *req, const char *model)
{
    reply(req, s->draining ? 503 : 200, NULL, NULL, 0, -1);
}

/* Why: the shared path for infer and invocations: body, headers, fn_host_handle, reply. */
static void handle(http_srv *s, struct evhttp_request *req, fn_payload kind)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *hl = NULL;
    int64_t header_len = -1;
    int seen = 0;
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next)
        if (evutil_ascii_strcasecmp(kv->key, "Inference-Header-Content-Length") == 0)
            hl = seen++ ? hl : kv->value;
    if (seen > 1) {
        reply_error(req, 400, "Inference-Header-Content-Length given %d times", seen);
        return;
    }
    /* digits only: no sign, no spaces, which strtoll would take */
    if (hl && (!*hl || strspn(hl, "0123456789") != strlen(hl) || fm_parse_i64(hl, &header_len))) {
        reply_error(req, 400,
                    "invalid Inference-Header-Content-Length '%.64s' (want a byte count: digits "
                    "only)",
                    hl);
        return;
    }
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    const void *body = len ? (const void *)evbuffer_pullup(b, -1) : (const void *)"";
    if (!body) {
        reply_error(req, 500, "out of memory");
        return;
    }
    fn_reply r;
    fn_host_handle(s->host, kind, evhttp_find_header(in, "Content-Type"), body, len, header_len, 0,
                   &r);
    if (r.status != 200)
        FM_INFO("fn", "%s %s: %d %s",
                evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
                evhttp_request_get_uri(req), r.status, r.message);
    reply(req, r.status, r.content_type, r.body.p, r.body.len, r.header_len);
    fn_reply_release(&r);
}

static void on_infer(http_srv *s, struct evhttp_request *req, const char *model)
{
    if (model_known(s, req, model))
        handle(s, req, FN_PAYLOAD_V2);
}

static void on_invocations(http_srv *s, struct evhttp_request *req, const char *model)
{
    handle(s, req, FN_PAYLOAD_AUTO);
}

/* The route table; "*" matches one path segment (the model name). */
static const struct route {
    enum evhttp_cmd_type method;
    const char *pattern;
    route_fn fn;
} routes[] = {
    {EVHTTP_REQ_GET, "/v2/health/live", on_live},
    {EVHTTP_REQ_GET, "/v2/health/ready", on_ready},
    {EVHTTP_REQ_GET, "/v2", on_server_meta},
    {EVHTTP_REQ_GET, "/v2/models/*", on_model_meta},
    {EVHTTP_REQ_GET, "/v2/models/*/ready", on_model_ready},
    {EVHTTP_REQ_POST, "/v2/models/*/infer", on_infer},
    {EVHTTP_REQ_GET, "/ping", on_ping},
    {EVHTTP_REQ_POST, "/invocations", on_invocations},
};

/* Why: segment-wise match; the "*" segment is copied to model. */
static bool route_match(const char *pattern, const char *path, char *model, size_t cap)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= cap)
                return false;
            snprintf(model, cap, "%.*s", (int)n, path);
            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return !*pattern && (!*path || strcmp(path, "/") == 0);
}

/* Why: KServe allows /v2/models/{m}/versions/{v}/...; this host serves version "1" only, so the
 * versions segment is dropped before routing. */
static void strip_version(char *path)
{
    char *v = strstr(path, "/versions/");
    if (strncmp(path, "/v2/models/", 11) != 0 || !v)
        return;
    char *end = strchr(v + 10, '/');
    memmove(v, end ? end : v + strlen(v), strlen(end ? end : v + strlen(v)) + 1);
}

static void on_complete(struct evhttp_request *req, void *ud)
{
    http_srv *s = ud;
    fm_http_guard_end(s->guard, req);
    if (--s->inflight == 0 && s->draining)
        event_base_loopexit(s->base, NULL);
}

static void dispatch(struct evhttp_request *req, void *ud)
{
    http_srv *s = ud;
    if (!fm_http_guard_begin(s->guard, req))
        return; /* past the connection cap: answered 503 */
    s->inflight++;
    evhttp_request_set_on_complete_cb(req, on_complete, s);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    char path[1024], model[256];
    snprintf(path, sizeof path, "%s", raw && *raw ? raw : "/");
    strip_version(path);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    bool path_known = false;
    for (size_t i = 0; i < FM_ARRAY_LEN(routes); i++) {
        if (!route_match(routes[i].pattern, path, model, sizeof model))
            continue;
        path_known = true;
        if (routes[i].method == m || (m == EVHTTP_REQ_HEAD && routes[i].method == EVHTTP_REQ_GET)) {
            routes[i].fn(s, req, model);
            return;
        }
    }
    if (path_known)
        reply_error(req, 405, "method not allowed on '%s'", path);
    else
        reply_error(req, 404, "no such endpoint '%s'", path);
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */
static void on_drain_timeout(evutil_socket_t fd, short what, void *ud)
{
    http_srv *s = ud;
    FM_WARN("fn", "drain timed out with %d requests in flight", s->inflight);
    event_base_loopexit(s->base, NULL);
}

/* Why: Knative's SIGTERM: stop accepting, let in-flight replies finish, then exit. */
static void on_signal(evutil_socket_t sig, short what, void *ud)
{
    http_srv *s = ud;
    if (s->draining)
        return;
    s->draining = true;
    FM_INFO("fn", "signal %d: draining %d in-flight requests", (int)sig, s->inflight);
    if (s->sock) {
        fm_http_guard_unbind(s->guard);
        evhttp_del_accept_socket(s->http, s->sock);
        s->sock = NULL;
    }
    if (s->inflight == 0) {
        event_base_loopexit(s->base, NULL);
        return;
    }
    struct timeval tv = {(time_t)(s->drain_ns / 1000000000),
                         (long)(s->drain_ns % 1000000000 / 1000)};
    s->drain_timer = evtimer_new(s->base, on_drain_timeout, s);
    if (s->drain_timer)
        evtimer_add(s->drain_timer, &tv);
}

/* Why: the URL of the ready line, with the port the kernel picked for port 0. */
static int bound_url(http_srv *s, const char *host, char *url, size_t cap, fm_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(s->sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return fm_err_set(err, FM_EIO, "cannot read the bound address");
    int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(host, ':') != NULL;
    snprintf(url, cap, "http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    return 0;
}

int fn_http_run(const fn_spec *spec, const char *host, int port, const fn_run_opts *opts,
                fm_err *err)
{
    http_srv s = {0};
    s.drain_ns = opts && opts->drain_ns > 0 ? opts->drain_ns : 30LL * 1000000000;
    int rc = fn_host_new(spec, &s.host, err);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN); /* a client that goes away must not kill the server */
    s.base = event_base_new();
    s.http = s.base ? evhttp_new(s.base) : NULL;
    if (!s.http) {
        rc = fm_err_set(err, FM_ENOMEM, "cannot start the HTTP server");
        goto out;
    }
    fm_http_limits lim;
    if (opts && opts->limits)
        lim = *opts->limits;
    else
        fm_http_limits_default(&lim);
    if (opts && opts->max_body)
        lim.max_body_bytes = opts->max_body;
    if ((rc = fm_http_limits_check(&lim, err)))
        goto out;
    fm_http_limits_apply(&lim, s.http);
    evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(s.http, dispatch, &s);
    s.sock = evhttp_bind_socket_with_handle(s.http, host, (ev_uint16_t)port);
    if (!s.sock) {
        rc = fm_err_set(err, FM_EIO, "cannot listen on '%s:%d'", host, port);
        goto out;
    }
    char url[300], init_json[512];
    if ((rc = bound_url(&s, host, url, sizeof url, err)))
        goto out;
    if ((rc = fm_http_guard_new(s.http, s.sock, &lim, "fn", &s.guard, err)))
        goto out;
    s.sig_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
    s.sig_int = evsignal_new(s.base, SIGINT, on_signal, &s);
    if (!s.sig_term || !s.sig_int || evsignal_add(s.sig_term, NULL) ||
        evsignal_add(s.sig_int, NULL)) {
        rc = fm_err_set(err, FM_EIO, "cannot install signal handlers");
        goto out;
    }
    fn_host_init_json(s.host, init_json, sizeof init_json);
    if (opts && opts->on_ready)
        opts->on_ready(opts->ud, init_json, url);
    event_base_dispatch(s.base);
out:
    if (s.drain_timer)
        event_free(s.drain_timer);
    if (s.sig_term)
        event_free(s.sig_term);
    if (s.sig_int)
        event_free(s.sig_int);
    if (s.http)
        evhttp_free(s.http);
    fm_http_guard_free(s.guard); /* after evhttp_free: it holds the connections' bufferevents */
    if (s.base)
        event_base_free(s.base);
    fn_host_free(s.host);
    return rc;
}
