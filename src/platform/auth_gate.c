/* The gateway's side of SigV4 (auth.h): turns an evhttp request into the verifier's view (the
 * wire path and query, the headers in order, the body's SHA-256 read in place) and answers a
 * refused one with Lambda's 403 shape. */
#include "auth.h"
#include "fn.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GATE_MAX_HEADERS 100

int plat_auth_init(platform *p, fm_err *err)
{
    if (!p->cfg.credentials)
        return 0;
    if (!(p->creds = calloc(1, sizeof *p->creds)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = plat_creds_load(p->cfg.credentials, p->creds, err);
    if (rc) {
        free(p->creds);
        p->creds = NULL;
        return rc;
    }
    FM_INFO("platform", "requests are verified with AWS SigV4 against %d credential(s) from '%s'",
            p->creds->n, p->cfg.credentials);
    return 0;
}

void plat_auth_release(platform *p)
{
    plat_creds_release(p->creds);
    free(p->creds);
    p->creds = NULL;
}

/* The body's hash without copying it: evbuffer chunks fed to one digest. */
static void body_sha256(struct evbuffer *b, char hex[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    int n = evbuffer_peek(b, -1, NULL, NULL, 0);
    struct evbuffer_iovec one, *v = n > 1 ? calloc((size_t)n, sizeof *v) : &one;
    if (v && n > 0)
        n = evbuffer_peek(b, -1, NULL, v, n);
    for (int i = 0; v && i < n; i++)
        EVP_DigestUpdate(ctx, v[i].iov_base, v[i].iov_len);
    if (v != &one)
        free(v);
    EVP_DigestFinal_ex(ctx, md, &ml);
    EVP_MD_CTX_free(ctx);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = 0;
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "OTHER";
    }
}

bool plat_auth_gate(platform *p, struct evhttp_request *req, const char *path)
{
    if (!p->creds)
        return true;
    /* Kubernetes-style probes carry no signature; they reveal only that the server is up. */
    if (strcmp(path, "/v2/health/live") == 0 || strcmp(path, "/v2/health/ready") == 0)
        return true;
    unsigned need = strncmp(path, "/admin", 6) == 0 || strcmp(path, "/metrics") == 0
                        ? PLAT_AUTH_ADMIN
                        : PLAT_AUTH_INVOKE;
    plat_http_header hs[GATE_MAX_HEADERS];
    int nh = 0;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next)
    if (nh < GATE_MAX_HEADERS)
        hs[nh++] = (plat_http_header){kv->key, kv->value};
    char hash[65];
    body_sha256(evhttp_request_get_input_buffer(req), hash);
    const char *uri = evhttp_request_get_uri(req);
    char raw_path[4096];
    const char *q = strchr(uri, '?');
    size_t pl = q ? (size_t)(q - uri) : strlen(uri);
    snprintf(raw_path, sizeof raw_path, "%.*s", (int)(pl < sizeof raw_path ? pl : 0), uri);
    plat_sigv4_req r = {
        method_name(evhttp_request_get_command(req)), raw_path, q ? q + 1 : NULL, hs, nh, hash};
    plat_auth_result res;
    plat_auth_verify(p->creds, &r, evhttp_find_header(in, "Authorization"), p->cfg.region,
                     (int64_t)time(NULL), need, &res);
    if (res.outcome == PLAT_AUTH_OK)
        return true;
    FM_INFO("platform", "refused %s %s (%s%s%s): %s", r.method, raw_path, res.type,
            res.access_key[0] ? ", key " : "", res.access_key, res.msg);
    char q2[700], body[800];
    fm_json_quote(q2, sizeof q2, res.msg);
    snprintf(body, sizeof body, "{\"Type\":\"User\",\"message\":%s}", q2);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "x-amzn-ErrorType", res.type);
    evhttp_add_header(h, "Content-Type", "application/json");
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, 403, "Forbidden", b);
    if (b)
        evbuffer_free(b);
    return false;
}
