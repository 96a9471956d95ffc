/* libcurl client for deploy, functions and invoke. */
#include "plat_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Which platform the client commands talk to. */
const char *plat_gateway_url(const char *opt)
{
    const char *env = getenv("FAASML_GATEWAY");
    if (opt && *opt)
        return opt;
    return env && *env ? env : "http://127.0.0.1:9000";
}

/* libcurl body callback: appends to the reply. */
static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    plat_http_reply *r = ud;
    size_t add = size * n;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, ptr, add);
    r->body = nb;
    r->len += add;
    nb[r->len] = 0;
    return add;
}

/* Why: a few response headers carry the Lambda outcome; keep them, drop the rest. */
static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    plat_http_reply *r = ud;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off, cap;
    } keep[] = {
        {"X-Amz-Function-Error:", offsetof(plat_http_reply, function_error), 64},
        {"X-Amz-Log-Result:", offsetof(plat_http_reply, log_result), 8192},
        {"x-amzn-RequestId:", offsetof(plat_http_reply, request_id), 64},
    };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        size_t kl = strlen(keep[i].name);
        if (len > kl && strncasecmp(ptr, keep[i].name, kl) == 0) {
            const char *v = ptr + kl;
            size_t vl = len - kl;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
                vl--;
            if (vl >= keep[i].cap)
                vl = keep[i].cap - 1;
            char *dst = (char *)r + keep[i].off;
            memcpy(dst, v, vl);
            dst[vl] = 0;
        }
    }
    return len;
}

/* Why: "connection refused" alone leaves a newcomer guessing; the likely cause is a platform
 * that is not running, or running on another port than the one this command talks to. */
static void reach_error(const char *url, CURLcode rc, const char *cerr, char *errbuf, size_t errcap)
{
    const char *why = cerr[0] ? cerr : curl_easy_strerror(rc);
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    int hl = (int)strcspn(host, "/");
    const char *hint = "";
    char buf[512];
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        snprintf(buf, sizeof buf,
                 " (is `faasml serve` running on %.*s? start it with `faasml serve --listen "
                 "%.*s`, or name its URL with --gateway or $FAASML_GATEWAY)",
                 hl, host, hl, host);
        hint = buf;
        break;
    case CURLE_COULDNT_RESOLVE_HOST: hint = " (check the host name in the URL)"; break;
    case CURLE_OPERATION_TIMEDOUT:
        hint = " (the platform accepted but did not answer in time)";
        break;
    default: break;
    }
    snprintf(errbuf, errcap, "cannot reach '%s': %s%s", url, why, hint);
}

/* One blocking HTTP exchange; enough for the client commands. */
int plat_http(const char *method, const char *url, const char *body, size_t len,
              const char *const *headers, plat_http_reply *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(errbuf, errcap, "cannot initialise libcurl");
        return -1;
    }
    struct curl_slist *hl = NULL;
    for (const char *const *h = headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    hl = curl_slist_append(hl, "Expect:");
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        reach_error(url, rc, cerr, errbuf, errcap);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!out->body && (out->body = malloc(1)))
        out->body[0] = 0;
    return rc == CURLE_OK ? 0 : -1;
}

/* Frees the reply body. */
void plat_http_reply_release(plat_http_reply *r)
{
    free(r->body);
    r->body = NULL;
}
