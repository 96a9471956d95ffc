/*
 * core/http — HTTP plumbing shared by every faasml server and client, so that they all keep the
 * same limits and survive the same faults.
 *
 * Servers (the gateway, `faasml fn` in HTTP mode) describe their limits in one fm_http_limits and
 * attach one fm_http_guard to their evhttp:
 *
 *     fm_http_limits lim;
 *     fm_http_limits_default(&lim);            // then override from flags or configuration
 *     fm_http_limits_apply(&lim, http);        // header and body sizes
 *     sock = evhttp_bind_socket_with_handle(http, host, port);
 *     fm_http_guard_new(http, sock, &lim, "fn", &guard, &err);
 *     ...in every request callback: if (!fm_http_guard_begin(guard, req)) return;
 *     ...in every request's completion: fm_http_guard_end(guard, req);
 *     evhttp_free(http); fm_http_guard_free(guard);
 *
 * The guard counts client connections (past max_connections a new one is answered 503 and
 * closed), closes connections whose request does not arrive within header_timeout (idle and
 * slowloris clients), closes keep-alive connections idle for idle_timeout, and on EMFILE/ENFILE
 * stops accepting for a moment instead of retrying at once, with one warning per second that
 * counts what it suppressed. It runs on the server's event loop thread and never blocks.
 *
 * Clients (the CLI, `faasml bench`) use fm_http_call: one blocking libcurl exchange, body in an
 * fm_buf. Process start-up raises the open-files limit with fm_nofile_raise.
 */
#ifndef FM_CORE_HTTP_H
#define FM_CORE_HTTP_H

#include "core/core.h"

struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

/* ---- server limits -------------------------------------------------------------------------- */
typedef struct fm_http_limits {
    size_t max_header_bytes;   /* request line plus headers; past it the request is refused */
    size_t max_body_bytes;     /* request body; past it 413 */
    int64_t header_timeout_ns; /* a new connection's first request must arrive within this */
    int64_t idle_timeout_ns;   /* a keep-alive connection's next request must arrive within this */
    int max_connections;       /* client connections at once; 0 = 3/4 of RLIMIT_NOFILE */
} fm_http_limits;

#define FM_HTTP_MAX_HEADER_BYTES (64 * 1024)
#define FM_HTTP_MAX_BODY_BYTES (64 * 1024 * 1024)
#define FM_HTTP_HEADER_TIMEOUT_NS (30 * INT64_C(1000000000))
#define FM_HTTP_IDLE_TIMEOUT_NS (960 * INT64_C(1000000000)) /* > the longest invocation, 900 s */

/* The defaults above, the same for every server. */
void fm_http_limits_default(fm_http_limits *l);
/* Fails with a message naming the field when a limit is out of range (sizes and timeouts > 0). */
int fm_http_limits_check(const fm_http_limits *l, fm_err *err);
/* Sets evhttp's header and body size limits from l. */
void fm_http_limits_apply(const fm_http_limits *l, struct evhttp *http);
/* The connection cap l gives on this process: max_connections, or 3/4 of RLIMIT_NOFILE's soft
 * limit (at least 16) when it is 0, so a server refuses connections before it runs out of fds. */
int fm_http_limits_connections(const fm_http_limits *l);

/* ---- server guard ----------------------------------------------------------------------------
 * Owned by the caller; borrows http (create the guard after binding sock). It keeps a reference
 * on each connection's bufferevent, so free it after evhttp_free and before event_base_free. */
typedef struct fm_http_guard fm_http_guard;

typedef struct fm_http_guard_stats {
    uint64_t accepted;      /* connections taken in */
    uint64_t refused;       /* answered 503 past the connection cap */
    uint64_t timed_out;     /* closed by header_timeout or idle_timeout */
    uint64_t accept_errors; /* accept() failures (EMFILE, ENFILE, ...) */
    uint64_t pauses;        /* times accepting was paused for them */
    int open;               /* connections open now */
    int cap;                /* the connection cap in force */
} fm_http_guard_stats;

/* TLS (libevent's OpenSSL bufferevents): one server context from a PEM certificate chain and its
 * private key. Owned by the caller; a guard borrows it, so free it after the guard. */
typedef struct fm_http_tls fm_http_tls;
/* Fails naming the file and OpenSSL's reason (unreadable, not PEM, key not matching). */
int fm_http_tls_new(const char *cert_pem, const char *key_pem, fm_http_tls **out, fm_err *err);
void fm_http_tls_free(fm_http_tls *t); /* NULL is fine */
/* Every connection accepted from now on speaks TLS (handshake first, then HTTP/1.1). */
void fm_http_guard_set_tls(fm_http_guard *g, fm_http_tls *t);

/* module names the log lines ("fn", "gateway"). */
int fm_http_guard_new(struct evhttp *http, struct evhttp_bound_socket *sock,
                      const fm_http_limits *l, const char *module, fm_http_guard **out,
                      fm_err *err);
void fm_http_guard_free(fm_http_guard *g); /* after evhttp_free; NULL is fine */
/* A request has arrived on its connection: no timeout closes it until fm_http_guard_end. Returns
 * false when the connection is past the cap: the guard has answered 503 (and closes the
 * connection), and the caller must not touch req again. */
bool fm_http_guard_begin(fm_http_guard *g, struct evhttp_request *req);
/* The bound socket is about to be removed (a draining server): accepting is never resumed. */
void fm_http_guard_unbind(fm_http_guard *g);
/* Its reply is sent: the connection's idle timeout starts. */
void fm_http_guard_end(fm_http_guard *g, struct evhttp_request *req);
void fm_http_guard_stats_get(const fm_http_guard *g, fm_http_guard_stats *out);

/* ---- process resources ---------------------------------------------------------------------- */
/* Raises the soft RLIMIT_NOFILE to the hard limit (systemd and shells start servers at 1024) and
 * logs the result (info when raised, warn when it cannot be). Sets *before and *after (either may
 * be NULL) to the soft limit before and after. */
int fm_nofile_raise(uint64_t *before, uint64_t *after);

/* ---- client ----------------------------------------------------------------------------------
 * One blocking HTTP exchange with libcurl, for commands and tools talking to a local server. */
typedef struct fm_http_reply {
    long status;             /* HTTP status; 0 when no answer came */
    fm_buf body;             /* the body, NUL-terminated; release with fm_http_reply_release */
    char function_error[64]; /* X-Amz-Function-Error, when the server sent it */
    char log_result[8192];   /* X-Amz-Log-Result (base64) */
    char request_id[64];     /* x-amzn-RequestId */
} fm_http_reply;

typedef struct fm_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const void *body; /* NULL for none */
    size_t len;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    int64_t timeout_ns;         /* whole exchange; 0 = no limit */
    /* AWS SigV4 (libcurl's CURLOPT_AWS_SIGV4, service lambda): signed when key and secret are
     * both set; region NULL means us-east-1. */
    const char *sigv4_key, *sigv4_secret, *sigv4_region;
} fm_http_req;

/* Sends r and fills *out (always initialised, even on failure). Returns 0 when an answer came,
 * whatever its status, or FM_EIO with a message naming the URL when none did. */
int fm_http_call(const fm_http_req *r, fm_http_reply *out, fm_err *err);
void fm_http_reply_release(fm_http_reply *r);

#endif
