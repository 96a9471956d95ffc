/* Function URLs: an HTTP request to /lambda-url/NAME[/path] reaches the function as the event a
 * Lambda function URL delivers (API Gateway payload format 2.0: rawPath, headers,
 * requestContext.http, body, isBase64Encoded), so a browser or curl can post an image or any
 * raw body to a function. A binary body travels base64 encoded inside the JSON event, as on AWS;
 * a text body (text, JSON, XML, form data) as a JSON string. The function's answer is read the
 * way function URLs read it: an object with statusCode gives the status, headers and (base64)
 * body; anything else is a 200 JSON body. A function error is a 502. */
#include "inst.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define URL_PREFIX "/lambda-url/"

/* {"error": msg}, the gateway's plain error shape. */
static void url_error(struct evhttp_request *req, int code, const char *msg)
{
    char q[600], body[700];
    fm_json_quote(q, sizeof q, msg);
    snprintf(body, sizeof body, "{\"error\":%s}", q);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

/* Why: function URLs send text bodies as text and everything else base64 encoded. */
static bool is_text(const char *ct)
{
    static const char *const text[] = {"text/", "application/json", "application/xml",
                                       "application/javascript",
                                       "application/x-www-form-urlencoded"};
    if (!ct)
        return false;
    size_t n = strcspn(ct, ";");
    for (size_t i = 0; i < FM_ARRAY_LEN(text); i++)
        if (strncasecmp(ct, text[i], strlen(text[i])) == 0)
            return true;
    return (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0) ||
           (n > 4 && strncasecmp(ct + n - 4, "+xml", 4) == 0);
}

/* Why: base64 of a body that may lie in several pieces, written straight into the event: pieces
 * are encoded in runs of whole 3-byte groups, with a carry across piece boundaries. */
int plat_url_base64(struct evbuffer *out, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    size_t cap = (len + 2) / 3 * 4 + 1;
    struct evbuffer_iovec dst;
    if (evbuffer_reserve_space(out, (ev_ssize_t)cap, &dst, 1) < 1 || dst.iov_len < cap)
        return -1;
    char *w = dst.iov_base;
    size_t k = 0;
    unsigned char carry[3];
    size_t nc = 0;
    int n = evbuffer_peek(in, -1, NULL, NULL, 0);
    struct evbuffer_iovec v[n > 0 ? n : 1];
    n = evbuffer_peek(in, -1, NULL, v, n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        const unsigned char *s = v[i].iov_base;
        size_t sl = v[i].iov_len;
        while (nc && nc < 3 && sl) {
            carry[nc++] = *s++;
            sl--;
        }
        if (nc == 3) {
            k += fm_base64_encode(carry, 3, w + k);
            nc = 0;
        }
        size_t whole = sl / 3 * 3;
        k += fm_base64_encode(s, whole, w + k);
        for (size_t j = whole; j < sl; j++)
            carry[nc++] = s[j];
    }
    if (nc)
        k += fm_base64_encode(carry, nc, w + k);
    dst.iov_len = k;
    return evbuffer_commit_space(out, &dst, 1);
}

/* Why: the parts of the event that describe the request (everything but the body). */
static cJSON *event_head(plat_inv *inv, struct evhttp_request *req, const char *raw_path)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
    static const char *const methods[] = {"GET",     "POST",  "HEAD",    "PUT",  "DELETE",
                                          "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const char *method = "GET";
    for (size_t i = 0; i < FM_ARRAY_LEN(methods); i++)
        if (m == (enum evhttp_cmd_type)(1 << i))
            method = methods[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "version", "2.0");
    cJSON_AddStringToObject(o, "routeKey", "$default");
    cJSON_AddStringToObject(o, "rawPath", raw_path);
    cJSON_AddStringToObject(o, "rawQueryString", q ? q : "");
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    for (struct evkeyval *kv = ih->tqh_first; kv; kv = kv->next.tqe_next) {
        char key[128];
        size_t n = strlen(kv->key) < sizeof key - 1 ? strlen(kv->key) : sizeof key - 1;
        for (size_t i = 0; i < n; i++)
            key[i] = (char)(kv->key[i] >= 'A' && kv->key[i] <= 'Z' ? kv->key[i] + 32 : kv->key[i]);
        key[n] = 0;
        if (!cJSON_GetObjectItemCaseSensitive(h, key)) /* repeated headers: the first */
            cJSON_AddStringToObject(h, key, kv->value);
    }
    cJSON *rc = cJSON_AddObjectToObject(o, "requestContext");
    cJSON_AddStringToObject(rc, "accountId", "anonymous");
    cJSON_AddStringToObject(rc, "apiId", inv->fn->spec.name);
    const char *host = evhttp_find_header(ih, "Host");
    cJSON_AddStringToObject(rc, "domainName", host ? host : "localhost");
    cJSON *http = cJSON_AddObjectToObject(rc, "http");
    cJSON_AddStringToObject(http, "method", method);
    cJSON_AddStringToObject(http, "path", raw_path);
    cJSON_AddStringToObject(http, "protocol", "HTTP/1.1");
    char *peer = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c)
        evhttp_connection_get_peer(c, &peer, &port);
    cJSON_AddStringToObject(http, "sourceIp", peer ? peer : "127.0.0.1");
    const char *ua = evhttp_find_header(ih, "User-Agent");
    cJSON_AddStringToObject(http, "userAgent", ua ? ua : "");
    cJSON_AddStringToObject(rc, "requestId", inv->rid);
    cJSON_AddStringToObject(rc, "routeKey", "$default");
    cJSON_AddStringToObject(rc, "stage", "$default");
    cJSON_AddNumberToObject(rc, "timeEpoch", (double)(inv->arrive_wall_ns / 1000000));
    return o;
}

/* Why: the event is the head's JSON with the body spliced in, so a binary body is encoded once,
 * straight into the payload, and never held as a JSON string. */
static int build_event(plat_inv *inv, struct evhttp_request *req, const char *raw_path)
{
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    bool text = is_text(ct);
    cJSON *head = event_head(inv, req, raw_path);
    if (!head)
        return -1;
    if (len && text) { /* a JSON string: copied once, escaped */
        char *s = malloc(len + 1);
        if (!s) {
            cJSON_Delete(head);
            return -1;
        }
        evbuffer_remove(body, s, len);
        s[len] = 0;
        cJSON_AddStringToObject(head, "body", s);
        free(s);
        inv->fn->m.copied_in += len;
    }
    cJSON_AddBoolToObject(head, "isBase64Encoded", len && !text);
    char *txt = cJSON_PrintUnformatted(head);
    cJSON_Delete(head);
    if (!txt)
        return -1;
    size_t tl = strlen(txt);
    int rc;
    if (len && !text) { /* ... "isBase64Encoded":true} -> ...,"body":"<base64>"} */
        rc = evbuffer_add(inv->payload, txt, tl - 1);
        rc = rc ? rc : evbuffer_add(inv->payload, ",\"body\":\"", 9);
        rc = rc ? rc : plat_url_base64(inv->payload, body);
        rc = rc ? rc : evbuffer_add(inv->payload, "\"}", 2);
        inv->fn->m.copied_in += len; /* encoded: base64 is a copy by nature */
    } else {
        rc = evbuffer_add(inv->payload, txt, tl);
    }
    free(txt);
    return rc;
}

void plat_url_handle(platform *p, struct evhttp_request *req, const char *path)
{
    char name[PLATFORM_NAME_MAX + 1], msg[256];
    const char *s = path + strlen(URL_PREFIX), *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n > PLATFORM_NAME_MAX) {
        url_error(req, 404, "no function named in the URL (use /lambda-url/NAME/...)");
        return;
    }
    memcpy(name, s, n);
    name[n] = 0;
    plat_fn *fn = plat_fn_find(p, name);
    if (!fn) {
        snprintf(msg, sizeof msg, "function '%s' not found", name);
        url_error(req, 404, msg);
        return;
    }
    if (p->draining) {
        url_error(req, 503, "the platform is shutting down");
        return;
    }
    size_t len = evbuffer_get_length(evhttp_request_get_input_buffer(req));
    if (len > PLAT_MAX_PAYLOAD) {
        snprintf(msg, sizeof msg, "request body of %zu bytes is larger than the limit of %d bytes",
                 len, PLAT_MAX_PAYLOAD);
        url_error(req, 413, msg);
        return;
    }
    plat_inv *inv =
        plat_inv_new(fn, PLAT_INV_URL,
                     evhttp_find_header(evhttp_request_get_input_headers(req), "X-Amzn-Trace-Id"));
    if (!inv || build_event(inv, req, slash ? slash : "/")) {
        if (inv)
            plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_DROPPED});
        url_error(req, 500, "out of memory");
        return;
    }
    plat_inv_submit(inv, req);
}

int plat_url_reply_decode(const char *bytes, size_t len, int *code, struct evkeyvalq *headers,
                          struct evbuffer *body)
{
    cJSON *o = cJSON_ParseWithLength(bytes, len);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "statusCode");
    if (!cJSON_IsObject(o) || !sc) {
        cJSON_Delete(o);
        return 1;
    }
    int rc = 0;
    double v = cJSON_IsNumber(sc) ? sc->valuedouble : -1;
    if (!(v >= 100 && v <= 599)) {
        cJSON_Delete(o);
        return -1;
    }
    *code = (int)v;
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(o, "headers"), *h;
    bool have_ct = false;
    cJSON_ArrayForEach(h, hs)
    {
        if (!cJSON_IsString(h) || !h->string || !h->string[0] || strpbrk(h->valuestring, "\r\n") ||
            strpbrk(h->string, "\r\n: "))
            continue;
        have_ct |= strcasecmp(h->string, "Content-Type") == 0;
        evhttp_add_header(headers, h->string, h->valuestring);
    }
    if (!have_ct)
        evhttp_add_header(headers, "Content-Type", "application/json");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "body");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(o, "isBase64Encoded");
    if (cJSON_IsString(b)) {
        size_t bl = strlen(b->valuestring);
        uint8_t *dec = NULL;
        size_t dl = 0;
        if (!cJSON_IsTrue(b64))
            rc = evbuffer_add(body, b->valuestring, bl);
        else if (fm_base64_decode(b->valuestring, bl, &dec, &dl, NULL) == 0) {
            rc = evbuffer_add(body, dec, dl);
            free(dec);
        } else
            rc = -1; /* a body that says base64 and is not */
    }
    cJSON_Delete(o);
    return rc;
}

void plat_url_answer(plat_inv *inv, struct evhttp_request *req, const plat_outcome *o)
{
    if (o->fn_error) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Amz-Function-Error",
                          o->fn_error);
        url_error(req, 502, "Internal Server Error");
        return;
    }
    size_t len;
    const char *bytes = plat_outcome_bytes(inv, o, &len);
    struct evbuffer *ob = evbuffer_new();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (!ob) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    int code = 200;
    int rc = plat_url_reply_decode(bytes, len, &code, out, ob);
    if (rc == 1) { /* any other result is the body of a 200 */
        evhttp_add_header(out, "Content-Type", "application/json");
        rc = evbuffer_add(ob, bytes, len);
    }
    inv->fn->m.copied_out += evbuffer_get_length(ob);
    if (rc) {
        evhttp_clear_headers(out);
        url_error(req, 502,
                  "the function's answer is not a valid function URL response "
                  "(statusCode 100-599, body base64 when isBase64Encoded)");
    } else {
        evhttp_add_header(out, "x-amzn-RequestId", inv->rid);
        evhttp_send_reply(req, code, NULL, ob);
    }
    evbuffer_free(ob);
}
