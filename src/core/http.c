/*
 * HTTP plumbing shared by servers and clients: limits, the server guard (connection cap, request
 * timeouts, accept back-off) and a blocking libcurl call.
 *
 * How the guard sees connections without owning the accept loop: evhttp asks the bufferevent
 * callback for each new connection's bufferevent, so the guard makes it (without
 * BEV_OPT_CLOSE_ON_FREE, so evhttp still closes the fd itself the moment it frees the connection)
 * and keeps one reference on it. When evhttp frees a connection, bufferevent_free clears its
 * callbacks, and the guard's sweep drops its reference then. To close a connection the guard shuts
 * its socket down; evhttp reads end-of-file and frees it as it would for any client that left.
 */
#include "core/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define NS_PER_S INT64_C(1000000000)
#define ACCEPT_PAUSE_NS (100 * INT64_C(1000000)) /* accepting stops this long after EMFILE */
#define WARN_INTERVAL_NS NS_PER_S                /* one accept warning per interval at most */
#define REFUSED_LINGER_NS NS_PER_S /* an over-cap connection that sends nothing is closed after */

/* ---- limits ---------------------------------------------------------------------------------- */

void fm_http_limits_default(fm_http_limits *l)
{
    *l = (fm_http_limits){
        .max_header_bytes = FM_HTTP_MAX_HEADER_BYTES,
        .max_body_bytes = FM_HTTP_MAX_BODY_BYTES,
        .header_timeout_ns = FM_HTTP_HEADER_TIMEOUT_NS,
        .idle_timeout_ns = FM_HTTP_IDLE_TIMEOUT_NS,
        .max_connections = 0,
    };
}

int fm_http_limits_check(const fm_http_limits *l, fm_err *err)
{
    if (l->max_header_bytes < 1024)
        return fm_err_set(err, FM_ERANGE, "header size limit %zu is below 1024 bytes",
                          l->max_header_bytes);
    if (l->max_body_bytes < 1)
        return fm_err_set(err, FM_ERANGE, "body size limit must be positive");
    if (l->header_timeout_ns <= 0 || l->idle_timeout_ns <= 0)
        return fm_err_set(err, FM_ERANGE, "header and idle timeouts must be positive");
    if (l->max_connections < 0)
        return fm_err_set(err, FM_ERANGE, "connection limit %d is negative", l->max_connections);
    return 0;
}

void fm_http_limits_apply(const fm_http_limits *l, struct evhttp *http)
{
    evhttp_set_max_headers_size(http, (ev_ssize_t)l->max_header_bytes);
    evhttp_set_max_body_size(http, (ev_ssize_t)l->max_body_bytes);
}

int fm_http_limits_connections(const fm_http_limits *l)
{
    if (l->max_connections > 0)
        return l->max_connections;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1 << 20;
    uint64_t cap = (uint64_t)rl.rlim_cur / 4 * 3;
    return (int)FM_MIN(FM_MAX(cap, 16), (uint64_t)1 << 20);
}

/* ---- process resources ----------------------------------------------------------------------- */

int fm_nofile_raise(uint64_t *before, uint64_t *after)
{
    struct rlimit rl;
    uint64_t was;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -errno;
    was = (uint64_t)rl.rlim_cur;
    if (before)
        *before = was;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY) { /* the kernel refuses more than fs.nr_open */
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        unsigned long long n = 1048576;
        if (f) {
            if (fscanf(f, "%llu", &n) != 1)
                n = 1048576;
            fclose(f);
        }
        want = (rlim_t)n;
    }
    int rc = 0;
    if (rl.rlim_cur < want) {
        struct rlimit nl = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
            rl.rlim_cur = want;
        else
            rc = -errno;
    }
    if (after)
        *after = (uint64_t)rl.rlim_cur;
    if (rc)
        FM_WARN("core", "open files: cannot raise the soft limit %llu to %llu: %s",
                (unsigned long long)rl.rlim_cur, (unsigned long long)want, strerror(-rc));
    else if (was != (uint64_t)rl.rlim_cur)
        FM_INFO("core", "open files: soft limit raised from %llu to %llu", (unsigned long long)was,
                (unsigned long long)rl.rlim_cur);
    else
        FM_DEBUG("core", "open files: soft limit %llu", (unsigned long long)rl.rlim_cur);
    return rc;
}

/* ---- server guard ---------------------------------------------------------------------------- */

typedef struct conn {
    struct bufferevent *bev; /* one reference held by the guard */
    int64_t deadline_ns;     /* the next request must have arrived by then */
    int busy;                /* requests begun and not ended */
    bool over_cap;           /* accepted past the cap: answered 503, then closed */
    bool closing;            /* shut down by the guard; waiting for evhttp to free it */
} conn;

struct fm_http_guard {
    struct evhttp *http;
    struct event_base *base;
    struct evconnlistener *lev;
    fm_http_limits lim;
    char module[32];
    conn *conns;
    size_t n, cap_alloc;
    struct event *sweep, *resume;
    fm_http_guard_stats st;
    int64_t warn_last_ns;
    uint64_t warn_quiet; /* accept failures since the last warning */
    int warn_errno;
    fm_http_guard *next; /* in the registry of guards (listener error callbacks) */
    fm_http_tls *tls;    /* borrowed; NULL: plain HTTP */
};

struct fm_http_tls {
    SSL_CTX *ctx;
};

/* OpenSSL's error queue as one line (the first reason is the useful one). */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (!e)
        return snprintf(buf, cap, "unknown OpenSSL error"), buf;
    ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

int fm_http_tls_new(const char *cert_pem, const char *key_pem, fm_http_tls **out, fm_err *err)
{
    *out = NULL;
    char why[256];
    fm_http_tls *t = calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
        free(t);
        return fm_err_set(err, FM_ENOMEM, "cannot create a TLS context: %s",
                          ssl_reason(why, sizeof why));
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
    int rc = 0;
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert_pem) != 1)
        rc = fm_err_set(err, FM_EINVAL, "TLS certificate '%s': %s", cert_pem,
                        ssl_reason(why, sizeof why));
    else if (SSL_CTX_use_PrivateKey_file(t->ctx, key_pem, SSL_FILETYPE_PEM) != 1)
        rc = fm_err_set(err, FM_EINVAL, "TLS key '%s' (of certificate '%s'): %s", key_pem, cert_pem,
                        ssl_reason(why, sizeof why)); /* a mismatch is caught here */
    else if (SSL_CTX_check_private_key(t->ctx) != 1)
        rc = fm_err_set(err, FM_EINVAL, "TLS key '%s' does not match certificate '%s'", key_pem,
                        cert_pem);
    if (rc) {
        fm_http_tls_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void fm_http_tls_free(fm_http_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

void fm_http_guard_set_tls(fm_http_guard *g, fm_http_tls *t)
{
    g->tls = t;
}

/* evconnlistener's error callback gets the listener and evhttp's pointer, not ours: the few
 * guards of a process are found by their listener. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static fm_http_guard *registry;

static fm_http_guard *guard_of_listener(struct evconnlistener *lev)
{
    pthread_mutex_lock(&registry_lock);
    fm_http_guard *g = registry;
    while (g && g->lev != lev)
        g = g->next;
    pthread_mutex_unlock(&registry_lock);
    return g;
}

/* Why: evhttp frees a connection with bufferevent_free, which clears every callback; a live
 * connection always has evhttp's error callback set. */
static bool conn_freed(const conn *c)
{
    bufferevent_data_cb r, w;
    bufferevent_event_cb e;
    void *arg;
    bufferevent_getcb(c->bev, &r, &w, &e, &arg);
    return !r && !w && !e && !arg;
}

/* Why: shutting the socket down is the one way to close a connection evhttp owns; it reads
 * end-of-file and frees the connection as for a client that went away. */
static void conn_close(conn *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    c->closing = true;
}

/* Why: drops the guard's reference on every connection evhttp has freed, so counts are current. */
static void prune(fm_http_guard *g)
{
    for (size_t i = 0; i < g->n;) {
        if (!conn_freed(&g->conns[i])) {
            i++;
            continue;
        }
        if (!g->conns[i].over_cap)
            g->st.open--;
        bufferevent_decref(g->conns[i].bev);
        g->conns[i] = g->conns[--g->n];
    }
}

static conn *find(fm_http_guard *g, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    for (size_t i = 0; bev && i < g->n; i++)
        if (g->conns[i].bev == bev)
            return &g->conns[i];
    return NULL;
}

/* Why: evhttp asks for each new connection's bufferevent; making it here is how the guard
 * learns of every connection, including those that never send a byte. */
static struct bufferevent *on_new_conn(struct event_base *base, void *ud)
{
    fm_http_guard *g = ud;
    if (g->n == g->cap_alloc) {
        size_t cap = g->cap_alloc ? g->cap_alloc * 2 : 64;
        conn *nc = realloc(g->conns, cap * sizeof *nc);
        if (!nc)
            return NULL; /* evhttp makes its own; this connection goes uncounted */
        g->conns = nc, g->cap_alloc = cap;
    }
    struct bufferevent *bev = NULL;
    if (g->tls) { /* the handshake runs first; evhttp then reads HTTP from the decrypted side */
        SSL *ssl = SSL_new(g->tls->ctx);
        bev = ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
        if (!bev && ssl)
            SSL_free(ssl);
    } else {
        bev = bufferevent_socket_new(base, -1, 0);
    }
    if (!bev)
        return NULL;
    bufferevent_incref(bev);
    if (g->st.open >= g->st.cap)
        prune(g);
    int64_t now = fm_now_ns();
    conn *c = &g->conns[g->n++];
    *c = (conn){.bev = bev, .deadline_ns = now + g->lim.header_timeout_ns};
    g->st.accepted++;
    if (g->st.open >= g->st.cap) {
        c->over_cap = true;
        c->deadline_ns = now + FM_MIN(g->lim.header_timeout_ns, REFUSED_LINGER_NS);
        g->st.refused++;
    } else {
        g->st.open++;
    }
    return bev;
}

static void sweep_cb(evutil_socket_t fd, short what, void *ud)
{
    fm_http_guard *g = ud;
    prune(g);
    int64_t now = fm_now_ns();
    for (size_t i = 0; i < g->n; i++) {
        conn *c = &g->conns[i];
        if (c->busy || c->closing || now < c->deadline_ns)
            continue;
        if (!c->over_cap)
            g->st.timed_out++;
        conn_close(c);
    }
}

static void resume_cb(evutil_socket_t fd, short what, void *ud)
{
    fm_http_guard *g = ud;
    if (g->lev)
        evconnlistener_enable(g->lev);
}

void fm_http_guard_unbind(fm_http_guard *g)
{
    if (!g)
        return;
    evtimer_del(g->resume);
    pthread_mutex_lock(&registry_lock);
    g->lev = NULL;
    pthread_mutex_unlock(&registry_lock);
}

/* Why: with no error callback libevent logs every failed accept() and retries at once, which
 * under EMFILE is a busy loop writing megabytes of log a second. Pause, and say so once. */
static void on_accept_error(struct evconnlistener *lev, void *ud)
{
    int e = EVUTIL_SOCKET_ERROR();
    fm_http_guard *g = lev ? guard_of_listener(lev) : NULL;
    if (!g)
        return;
    g->st.accept_errors++;
    g->st.pauses++;
    evconnlistener_disable(lev);
    struct timeval tv = {0, (long)(ACCEPT_PAUSE_NS / 1000)};
    evtimer_add(g->resume, &tv);
    int64_t now = fm_now_ns();
    if (g->warn_last_ns && now - g->warn_last_ns < WARN_INTERVAL_NS && e == g->warn_errno) {
        g->warn_quiet++;
        return;
    }
    prune(g);
    if (g->warn_quiet)
        FM_WARN(g->module,
                "cannot accept connections: %s (%llu more failures in the last %.1f s; %d "
                "connections open); accepting pauses %lld ms after each",
                strerror(e), (unsigned long long)g->warn_quiet,
                (double)(now - g->warn_last_ns) / 1e9, g->st.open,
                (long long)(ACCEPT_PAUSE_NS / 1000000));
    else
        FM_WARN(g->module,
                "cannot accept connections: %s (%d connections open); accepting pauses %lld ms",
                strerror(e), g->st.open, (long long)(ACCEPT_PAUSE_NS / 1000000));
    g->warn_last_ns = now;
    g->warn_quiet = 0;
    g->warn_errno = e;
}

int fm_http_guard_new(struct evhttp *http, struct evhttp_bound_socket *sock,
                      const fm_http_limits *l, const char *module, fm_http_guard **out, fm_err *err)
{
    *out = NULL;
    int rc = fm_http_limits_check(l, err);
    if (rc)
        return rc;
    fm_http_guard *g = calloc(1, sizeof *g);
    if (!g)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    g->http = http;
    g->lev = evhttp_bound_socket_get_listener(sock);
    g->base = g->lev ? evconnlistener_get_base(g->lev) : NULL;
    g->lim = *l;
    g->st.cap = fm_http_limits_connections(l);
    snprintf(g->module, sizeof g->module, "%s", module ? module : "http");
    g->sweep = g->base ? event_new(g->base, -1, EV_PERSIST, sweep_cb, g) : NULL;
    g->resume = g->base ? evtimer_new(g->base, resume_cb, g) : NULL;
    if (!g->sweep || !g->resume) {
        fm_http_guard_free(g);
        return fm_err_set(err, FM_ENOMEM, "cannot set up the connection guard");
    }
    /* the sweep runs a few times per shortest timeout, at least every second */
    int64_t period = FM_MIN(l->header_timeout_ns, l->idle_timeout_ns) / 4;
    period = FM_MAX(FM_MIN(period, NS_PER_S), 10000000);
    struct timeval tv = {(time_t)(period / NS_PER_S), (long)(period % NS_PER_S / 1000)};
    event_add(g->sweep, &tv);
    evhttp_set_bevcb(http, on_new_conn, g);
    pthread_mutex_lock(&registry_lock);
    g->next = registry;
    registry = g;
    pthread_mutex_unlock(&registry_lock);
    evconnlistener_set_error_cb(g->lev, on_accept_error);
    *out = g;
    return 0;
}

void fm_http_guard_free(fm_http_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&registry_lock);
    for (fm_http_guard **p = &registry; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    if (g->sweep)
        event_free(g->sweep);
    if (g->resume)
        event_free(g->resume);
    for (size_t i = 0; i < g->n; i++)
        bufferevent_decref(g->conns[i].bev);
    free(g->conns);
    free(g);
}

bool fm_http_guard_begin(fm_http_guard *g, struct evhttp_request *req)
{
    conn *c = g ? find(g, req) : NULL;
    if (!c)
        return true;
    if (c->over_cap) {
        struct evbuffer *b = evbuffer_new();
        if (b)
            evbuffer_add_printf(b, "{\"error\":\"too many connections (at most %d)\"}\n",
                                g->st.cap);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "application/json");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        evhttp_send_reply(req, 503, "Service Unavailable", b);
        if (b)
            evbuffer_free(b);
        return false;
    }
    c->busy++;
    return true;
}

void fm_http_guard_end(fm_http_guard *g, struct evhttp_request *req)
{
    conn *c = g ? find(g, req) : NULL;
    if (!c || c->busy == 0)
        return;
    if (--c->busy == 0)
        c->deadline_ns = fm_now_ns() + g->lim.idle_timeout_ns;
}

void fm_http_guard_stats_get(const fm_http_guard *g, fm_http_guard_stats *out)
{
    *out = g->st;
}

/* ---- client ---------------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    fm_http_reply *r = ud;
    return fm_buf_append(&r->body, ptr, size * n) ? 0 : size * n;
}

/* Why: a few response headers carry the Lambda outcome; keep them, drop the rest. */
static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    fm_http_reply *r = ud;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off, cap;
    } keep[] = {
        {"X-Amz-Function-Error:", offsetof(fm_http_reply, function_error), 64},
        {"X-Amz-Log-Result:", offsetof(fm_http_reply, log_result), 8192},
        {"x-amzn-RequestId:", offsetof(fm_http_reply, request_id), 64},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(keep); i++) {
        size_t kl = strlen(keep[i].name);
        if (len <= kl || strncasecmp(ptr, keep[i].name, kl) != 0)
            continue;
        const char *v = ptr + kl;
        size_t vl = len - kl;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        vl = FM_MIN(vl, keep[i].cap - 1);
        char *dst = (char *)r + keep[i].off;
        memcpy(dst, v, vl);
        dst[vl] = 0;
    }
    return len;
}

int fm_http_call(const fm_http_req *r, fm_http_reply *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c)
        return fm_err_set(err, FM_ENOMEM, "cannot initialise libcurl");
    struct curl_slist *hl = NULL;
    for (const char *const *h = r->headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    /* Why not when signing: libcurl signs a removed header as if it were sent empty, which a
     * SigV4 verifier refuses; a large signed body then goes with Expect: 100-continue. */
    bool sign = r->sigv4_key && r->sigv4_secret;
    if (!sign)
        hl = curl_slist_append(hl, "Expect:");
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method ? r->method : "GET");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (r->timeout_ns > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)FM_MAX(r->timeout_ns / 1000000, 1));
    char provider[96], userpwd[512];
    if (sign) {
        snprintf(provider, sizeof provider, "aws:amz:%s:lambda",
                 r->sigv4_region ? r->sigv4_region : "us-east-1");
        snprintf(userpwd, sizeof userpwd, "%s:%s", r->sigv4_key, r->sigv4_secret);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, provider);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    }
    CURLcode cc = curl_easy_perform(c);
    int rc = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        rc = fm_err_set(err, cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : FM_EIO,
                        "cannot reach '%s': %s", r->url, cerr[0] ? cerr : curl_easy_strerror(cc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!out->body.p && fm_buf_append(&out->body, "", 0) && !rc)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    return rc;
}

void fm_http_reply_release(fm_http_reply *r)
{
    fm_buf_release(&r->body);
}
