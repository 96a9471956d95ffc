/* The gateway's guards against callers nobody invited, checked before any route runs.
 *
 * Loopback is not a trust boundary for a browser: any web page the user visits can send requests
 * to 127.0.0.1. A cross-origin `text/plain` POST needs no CORS preflight, so without these checks
 * a page could deploy and run code on a local `faasml serve`; a page whose name rebinds to
 * 127.0.0.1 (DNS rebinding) could even read the answers. So:
 *   - on a loopback listener, every request must name a loopback host (or the listen address) in
 *     `Host` — a rebound page names its own;
 *   - requests that change state (anything but GET/HEAD), and every admin request, must carry no
 *     `Origin` — browsers add it to cross-origin and scripted requests, and the gateway serves no
 *     page of its own, so no browser request is legitimate;
 *   - admin deploys must be `application/json` — a type no cross-origin form can send without a
 *     preflight that the gateway never answers;
 *   - a non-loopback listener needs credentials, or the operator's explicit --insecure-listen. */
#include "fn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Why: one test for "only this machine can reach it", for the listen address and Host names. */
bool plat_host_is_loopback(const char *host)
{
    if (!host || !*host)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&a6))
            return a6.s6_addr[12] == 127;
    }
    return false;
}

/* The host part of a Host header: "[::1]:9000" -> "::1", "localhost:9000" -> "localhost". False
 * when it does not fit or is malformed. */
static bool host_name(const char *hdr, char *out, size_t cap)
{
    const char *s = hdr, *end;
    if (*s == '[') {
        end = strchr(++s, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
    } else {
        end = strchr(s, ':');
        if (!end)
            end = s + strlen(s);
        else if (strchr(end + 1, ':'))
            return false; /* a bare IPv6 address must be bracketed */
    }
    size_t n = (size_t)(end - s);
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, s, n);
    out[n] = 0;
    return true;
}

/* Why: a DNS-rebound page sends its own name as Host; this server's names are loopback ones. */
static bool host_allowed(const platform *p, const char *hdr)
{
    char name[256];
    if (!host_name(hdr, name, sizeof name))
        return false;
    return plat_host_is_loopback(name) || strcasecmp(name, p->cfg.listen_host) == 0;
}

/* The media type of a Content-Type value, compared without parameters (`; charset=utf-8`). */
static bool is_media_type(const char *ctype, const char *want)
{
    if (!ctype)
        return false;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    size_t n = strlen(want);
    if (strncasecmp(ctype, want, n) != 0)
        return false;
    char c = ctype[n];
    return c == 0 || c == ';' || c == ' ' || c == '\t';
}

int plat_guard_check(const platform *p, struct evhttp_request *req, bool admin, char *msg,
                     size_t cap)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const char *host = evhttp_find_header(h, "Host");
    if (host && p->listen_loopback && !host_allowed(p, host)) {
        snprintf(msg, cap,
                 "host '%.200s' is not this server: a loopback gateway answers only requests for "
                 "localhost or %s (DNS rebinding guard)",
                 host, p->cfg.listen_host);
        return 403;
    }
    const char *origin = evhttp_find_header(h, "Origin");
    bool safe = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
    if (origin && (admin || !safe)) {
        snprintf(msg, cap,
                 "cross-origin request from '%.200s' refused: the gateway serves no web pages, so "
                 "it accepts no browser requests that carry Origin",
                 origin);
        return 403;
    }
    if (admin && (m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT) &&
        !is_media_type(evhttp_find_header(h, "Content-Type"), "application/json")) {
        snprintf(msg, cap, "admin requests must be application/json, not '%.200s'",
                 evhttp_find_header(h, "Content-Type") ? evhttp_find_header(h, "Content-Type")
                                                       : "(none)");
        return 415;
    }
    return 0;
}

int plat_guard_listen(const platform_config *cfg, fm_err *err)
{
    if (plat_host_is_loopback(cfg->listen_host) || cfg->credentials)
        return 0; /* with credentials every request is verified with SigV4 (auth.h) */
    if (!cfg->insecure_listen)
        return fm_err_set(
            err, FM_EINVAL,
            "refusing to listen on '%s' without authentication: anyone who can reach "
            "it could deploy and run code as this user; listen on 127.0.0.1, configure "
            "--credentials, or pass --insecure-listen to accept that risk",
            cfg->listen_host);
    FM_WARN("platform",
            "listening on '%s' without authentication (--insecure-listen): anyone who can reach "
            "port %d can deploy and run code as this user",
            cfg->listen_host, cfg->listen_port);
    return 0;
}
