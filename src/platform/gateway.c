/* The gateway: libevent's HTTP server with one route table for the Lambda Invoke API
 * (cloud-platforms.md section 2), KServe v2 (section 6), the admin API and /metrics (section 8).
 * It only translates: a request becomes a plat_inv (plat_inv_new, plat_inv_submit, inv.h) and an
 * invocation's end becomes the answer in the caller's protocol (plat_gateway_answer). Handlers
 * never block: an invocation waits in the platform until it ends. */
#include "auth.h"
#include "inst.h"

#include "core/http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define ADMIN_PREFIX "/admin/functions"
#define MAX_BODY (32 * 1024 * 1024) /* beyond: evhttp's own 413; up to it: Lambda's 413 JSON */

/* ---- replies ----------------------------------------------------------------------------------
 */

static void send_body(struct evhttp_request *req, int code, const char *ctype, const char *body,
                      size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (len)
        evbuffer_add(b, body, len);
    if (ctype)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, code, NULL, b);
    evbuffer_free(b);
}

/* An AWS-style error: x-amzn-ErrorType names the exception (botocore reads it), the body carries
 * Type, message and, for throttles, Reason. */
static void send_aws_error(struct evhttp_request *req, int code, const char *type,
                           const char *reason, const char *msg, const char *rid)
{
    char q[1024], body[1400];
    fm_json_quote(q, sizeof q, msg);
    int n = snprintf(body, sizeof body, "{\"Type\":\"%s\",\"message\":%s",
                     code >= 500 ? "Service" : "User", q);
    if (reason)
        n += snprintf(body + n, sizeof body - (size_t)n, ",\"Reason\":\"%s\"", reason);
    snprintf(body + n, sizeof body - (size_t)n, "}");
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "x-amzn-ErrorType", type);
    if (rid)
        evhttp_add_header(h, "x-amzn-RequestId", rid);
    if (code == 429)
        evhttp_add_header(h, "Retry-After", "1");
    send_body(req, code, "application/json", body, strlen(body));
}

/* KServe and admin errors: {"error": msg}, the shape KServe clients parse. */
static void send_json_error(struct evhttp_request *req, int code, const char *msg)
{
    char q[1024], body[1100];
    fm_json_quote(q, sizeof q, msg);
    snprintf(body, sizeof body, "{\"error\":%s}", q);
    send_body(req, code, "application/json", body, strlen(body));
}

/* Sends a cJSON object and frees it, so handlers can build and forget. */
static void send_json_obj(struct evhttp_request *req, int code, cJSON *o)
{
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt) {
        send_json_error(req, 500, "out of memory");
        return;
    }
    send_body(req, code, "application/json", txt, strlen(txt));
    free(txt);
}

/* Decodes base64 (X-Amz-Client-Context) into a malloc'd string; NULL when it is not base64. */
static char *unbase64(const char *in)
{
    uint8_t *out;
    size_t n;
    return fm_base64_decode(in, strlen(in), &out, &n, NULL) == 0 ? (char *)out : NULL;
}

/* ---- invocations ------------------------------------------------------------------------------
 */

/* Why no close callback on client connections: when a client leaves while its invocation runs,
 * libevent detaches the request from the dead connection and keeps it for us; replying to a
 * detached request frees it (libevent 2.1 evhttp_send). So every request is answered exactly
 * once (at plat_inv_end), whether or not anyone is still listening, and nothing dangles. */
static struct evhttp_request *take_client(plat_inv *inv)
{
    struct evhttp_request *req = inv->client;
    inv->client = NULL;
    return req;
}

/* The headers every Lambda answer carries, and the Tail log when asked. */
static void add_lambda_headers(plat_inv *inv, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "x-amzn-RequestId", inv->rid);
    evhttp_add_header(h, "X-Amz-Executed-Version", "$LATEST");
    evhttp_add_header(h, "X-Amzn-Trace-Id", inv->trace_id);
    if (inv->inst_id >= 0) { /* faasml's own: which instance served it, and whether it started cold
                                (clients such as `faasml load` record them; Lambda has no such) */
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)inv->inst_id);
        evhttp_add_header(h, "X-Faasml-Instance", id);
        evhttp_add_header(h, "X-Faasml-Cold", inv->cold ? "1" : "0");
    }
    if (inv->log) { /* a Tail */
        size_t len = evbuffer_get_length(inv->log);
        size_t from = len > PLAT_LOG_TAIL ? len - PLAT_LOG_TAIL : 0;
        const unsigned char *s = evbuffer_pullup(inv->log, -1);
        char b64[PLAT_LOG_TAIL / 3 * 4 + 16];
        fm_base64_encode(s ? s + from : (const unsigned char *)"", len - from, b64);
        evhttp_add_header(h, "X-Amz-Log-Result", b64);
    }
}

/* The invocation's log is kept only for a Tail: the common call pays no buffer for it. */
static int keep_log(plat_inv *inv, bool tail)
{
    return tail && !(inv->log = evbuffer_new()) ? -1 : 0;
}

/* Why: KServe clients expect {"error": msg} with an error status, not Lambda's 200 + header. */
static void kserve_error(struct evhttp_request *req, const char *body, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "errorMessage");
    if (!m)
        m = cJSON_GetObjectItemCaseSensitive(o, "error");
    /* The function host names bad input Function.InvalidInput: a client error in KServe terms. */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "errorType");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    int status = strcmp(type, "Function.InvalidInput") == 0       ? 400
                 : strcmp(type, "Function.DeadlineExceeded") == 0 ? 504
                 : strcmp(type, "Sandbox.Timedout") == 0          ? 504
                                                                  : 500;
    send_json_error(req, status, cJSON_IsString(m) ? m->valuestring : "function error");
    cJSON_Delete(o);
}

/* Why: the bytes of an outcome's body, for the few answers that must read it (errors, function
 * URL responses); a body that arrived in several pieces is made contiguous, which is a copy. */
const char *plat_outcome_bytes(plat_inv *inv, const plat_outcome *o, size_t *len)
{
    if (!o->buf) {
        *len = o->len;
        return o->body ? o->body : "";
    }
    *len = evbuffer_get_length(o->buf);
    if (*len == 0)
        return "";
    if (evbuffer_get_contiguous_space(o->buf) < *len)
        inv->fn->m.copied_out += *len;
    return (const char *)evbuffer_pullup(o->buf, -1);
}

/* Why: a result body goes out as it came: moved when it is the instance's buffer, else (a
 * platform-made or batch-split body) added, which counts as a copy. */
static void send_result(plat_inv *inv, struct evhttp_request *req, const char *ctype,
                        const plat_outcome *o)
{
    if (ctype)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    if (o->buf) {
        evhttp_send_reply(req, 200, NULL, o->buf);
        return;
    }
    inv->fn->m.copied_out += o->len;
    send_body(req, 200, NULL, o->body, o->len);
}

/* Why: a result in the caller's protocol: Lambda's 200 (+ X-Amz-Function-Error) or KServe's
 * (its Content-Type and binary header as the function host sent them). */
static void answer_result(plat_inv *inv, struct evhttp_request *req, const plat_outcome *o)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (inv->kind == PLAT_INV_URL) {
        plat_url_answer(inv, req, o);
        return;
    }
    if (inv->kind == PLAT_INV_KSERVE) {
        if (o->fn_error) {
            size_t len;
            const char *b = plat_outcome_bytes(inv, o, &len);
            kserve_error(req, b, len);
            return;
        }
        if (inv->log) /* a Tail */
            add_lambda_headers(inv, req);
        else
            evhttp_add_header(h, "x-amzn-RequestId", inv->rid);
        if (o->header_len > 0) {
            char v[24];
            snprintf(v, sizeof v, "%lld", (long long)o->header_len);
            evhttp_add_header(h, "Inference-Header-Content-Length", v);
        }
        send_result(inv, req, o->ctype ? o->ctype : "application/json", o);
        return;
    }
    add_lambda_headers(inv, req);
    if (o->fn_error)
        evhttp_add_header(h, "X-Amz-Function-Error", o->fn_error);
    send_result(inv, req, "application/json", o);
}

void plat_gateway_answer(plat_inv *inv, const plat_outcome *o)
{
    struct evhttp_request *req = take_client(inv);
    if (!req)
        return;
    switch (o->how) {
    case PLAT_END_REFUSED:
        if (inv->kind == PLAT_INV_KSERVE || inv->kind == PLAT_INV_URL)
            send_json_error(req, o->code, o->msg);
        else
            send_aws_error(req, o->code, o->type, o->reason, o->msg, inv->rid);
        break;
    case PLAT_END_DROPPED: /* never left unanswered: an answer also frees a detached request */
        send_aws_error(req, 500, "ServiceException", NULL, "the invocation was dropped", inv->rid);
        break;
    default: answer_result(inv, req, o); break;
    }
}

/* Accepts a bare name, a partial ARN (123:function:name) or a full ARN, with an optional
 * ":qualifier". Only $LATEST exists here. */
static bool function_name(const char *raw, char *name, size_t cap, char *qual, size_t qcap)
{
    char *dec = evhttp_uridecode(raw, 0, NULL);
    if (!dec)
        return false;
    const char *s = dec, *f = strstr(dec, "function:");
    if (f)
        s = f + 9;
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    bool ok = n > 0 && n < cap;
    if (ok) {
        memcpy(name, s, n);
        name[n] = 0;
        snprintf(qual, qcap, "%s", colon ? colon + 1 : "");
    }
    free(dec);
    return ok;
}

/* Lambda refuses a payload that is not JSON (InvalidRequestContentException). */
static bool is_json(const char *s, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(s, len);
    cJSON_Delete(j);
    return j != NULL;
}

/* POST /2015-03-31/functions/{name}/invocations: checks in Lambda's order, then submit. */
static void h_invoke(platform *p, struct evhttp_request *req, const char *raw_name)
{
    char name[256], qual[128], msg[512];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        send_aws_error(req, 405, "InvalidParameterValueException", NULL, "use POST", NULL);
        return;
    }
    if (p->draining) {
        send_aws_error(req, 503, "ServiceException", NULL, "the platform is shutting down", NULL);
        return;
    }
    plat_fn *fn = NULL;
    if (function_name(raw_name, name, sizeof name, qual, sizeof qual))
        fn = plat_fn_find(p, name);
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq params;
    TAILQ_INIT(&params);
    if (q)
        evhttp_parse_query_str(q, &params);
    const char *qv = evhttp_find_header(&params, "Qualifier");
    if (qv && !qual[0])
        snprintf(qual, sizeof qual, "%s", qv);
    evhttp_clear_headers(&params);
    if (!fn || (qual[0] && strcmp(qual, "$LATEST") != 0)) {
        snprintf(msg, sizeof msg,
                 "Function not found: arn:aws:lambda:%s:000000000000:function:%s%s%s",
                 p->cfg.region, name, qual[0] ? ":" : "", qual);
        send_aws_error(req, 404, "ResourceNotFoundException", NULL, msg, NULL);
        return;
    }
    struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
    const char *type = evhttp_find_header(ih, "X-Amz-Invocation-Type");
    plat_inv_kind kind = PLAT_INV_SYNC;
    bool dry = false;
    if (type && strcmp(type, "Event") == 0)
        kind = PLAT_INV_EVENT;
    else if (type && strcmp(type, "DryRun") == 0)
        dry = true;
    else if (type && strcmp(type, "RequestResponse") != 0) {
        send_aws_error(req, 400, "InvalidParameterValueException", NULL,
                       "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun", NULL);
        return;
    }
    const char *cc = evhttp_find_header(ih, "X-Amz-Client-Context");
    char *client_context = NULL;
    if (cc && (strlen(cc) > 3583 || !(client_context = unbase64(cc)))) {
        send_aws_error(req, 400, "InvalidParameterValueException", NULL,
                       "X-Amz-Client-Context must be base64 of at most 3583 bytes", NULL);
        return;
    }
    const char *lt = evhttp_find_header(ih, "X-Amz-Log-Type");
    if (lt && strcmp(lt, "Tail") != 0 && strcmp(lt, "None") != 0) {
        free(client_context);
        send_aws_error(req, 400, "InvalidParameterValueException", NULL,
                       "X-Amz-Log-Type must be None or Tail", NULL);
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    size_t limit = kind == PLAT_INV_EVENT ? PLAT_MAX_EVENT_PAYLOAD : PLAT_MAX_PAYLOAD;
    if (len > limit) {
        free(client_context);
        snprintf(msg, sizeof msg,
                 "%zu byte payload is too large for the %s invocation type (limit %zu bytes)", len,
                 kind == PLAT_INV_EVENT ? "Event" : "RequestResponse", limit);
        send_aws_error(req, 413, "RequestTooLargeException", NULL, msg, NULL);
        return;
    }
    /* Lambda's rule needs one look at the payload; a body read in pieces is made contiguous
     * for it (a copy, counted), then moved, not copied, to the invocation. */
    bool split = len && evbuffer_get_contiguous_space(body) < len;
    const char *data = len ? (const char *)evbuffer_pullup(body, -1) : "{}";
    if (!len)
        len = 2;
    if (!data || !is_json(data, len)) {
        free(client_context);
        send_aws_error(req, 400, "InvalidRequestContentException", NULL,
                       "Could not parse request body into json: the payload is not valid JSON",
                       NULL);
        return;
    }
    if (dry) {
        free(client_context);
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Amz-Executed-Version",
                          "$LATEST");
        send_body(req, 204, NULL, NULL, 0);
        return;
    }
    plat_inv *inv = plat_inv_new(fn, kind, evhttp_find_header(ih, "X-Amzn-Trace-Id"));
    if (inv && kind == PLAT_INV_EVENT && fn->nevents >= (size_t)p->cfg.event_queue_max) {
        /* A throttle like any other: counted, recorded, answered with its request id. */
        free(client_context);
        fn->m.invocations[kind]++;
        fn->m.throttles[PLAT_THROTTLE_EVENT_QUEUE]++;
        inv->client = req;
        plat_inv_refuse(inv, 429, "TooManyRequestsException", "EventQueueFull",
                        "the function's asynchronous event queue is full");
        return;
    }
    bool tail = kind == PLAT_INV_SYNC && lt && strcmp(lt, "Tail") == 0;
    int mv = !inv || keep_log(inv, tail) ? -1
             : evbuffer_get_length(body) ? evbuffer_add_buffer(inv->payload, body)
                                         : evbuffer_add(inv->payload, "{}", 2);
    if (mv) {
        free(client_context);
        if (inv)
            plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_DROPPED});
        send_aws_error(req, 500, "ServiceException", NULL, "out of memory", NULL);
        return;
    }
    if (split)
        fn->m.copied_in += len;
    inv->client_context = client_context;
    if (kind == PLAT_INV_EVENT) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", inv->rid);
        send_body(req, 202, NULL, NULL, 0);
        plat_inv_submit(inv, NULL);
    } else {
        plat_inv_submit(inv, req);
    }
}

/* ---- KServe v2 --------------------------------------------------------------------------------
 */

static plat_fn *onnx_fn(platform *p, const char *name)
{
    plat_fn *fn = plat_fn_find(p, name);
    return fn && fn->spec.runtime == PLATFORM_RUNTIME_ONNX ? fn : NULL;
}

/* Why: which KServe v2 infer bodies go to the function host as raw bytes (an image, or
 * application/octet-stream) rather than as a v2 request: the function host decodes those by
 * their Content-Type. Any other type is a v2 JSON request, as `faasml fn` reads /infer (curl's
 * default form type included). */
static bool kserve_raw_body(const char *ct)
{
    static const char *const raw[] = {"application/octet-stream", "application/x-image"};
    size_t n = ct ? strcspn(ct, ";") : 0;
    if (n > 6 && strncasecmp(ct, "image/", 6) == 0)
        return true;
    for (size_t i = 0; i < FM_ARRAY_LEN(raw); i++)
        if (n == strlen(raw[i]) && strncasecmp(ct, raw[i], n) == 0)
            return true;
    return false;
}

/* POST /v2/models/{m}/infer: KServe v2 JSON, the binary tensor extension, raw tensors
 * (application/octet-stream) or an image, forwarded to the function host unchanged and by
 * reference. The gateway reads only the headers; the function host parses the body and names
 * what is wrong with it. */
static void h_infer(plat_fn *fn, struct evhttp_request *req)
{
    struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    char msg[256];
    if (len > PLAT_MAX_PAYLOAD) {
        snprintf(msg, sizeof msg, "request body of %zu bytes is larger than the limit of %d bytes",
                 len, PLAT_MAX_PAYLOAD);
        send_json_error(req, 413, msg);
        return;
    }
    if (len == 0) {
        send_json_error(req, 400, "the request body is empty");
        return;
    }
    const char *hl = evhttp_find_header(ih, "Inference-Header-Content-Length");
    int64_t header_len = -1;
    if (hl) {
        if (fm_parse_i64(hl, &header_len))
            snprintf(msg, sizeof msg, "invalid Inference-Header-Content-Length '%.64s'", hl);
        else if (header_len < 0)
            snprintf(msg, sizeof msg, "Inference-Header-Content-Length %lld is negative",
                     (long long)header_len);
        else if ((uint64_t)header_len > len)
            snprintf(msg, sizeof msg,
                     "Inference-Header-Content-Length %lld is past the end of the body (%zu bytes)",
                     (long long)header_len, len);
        else
            msg[0] = 0;
        if (msg[0]) {
            send_json_error(req, 400, msg);
            return;
        }
    }
    const char *ct = evhttp_find_header(ih, "Content-Type");
    /* faasml's extension, as on Invoke: X-Amz-Log-Type: Tail answers with the invocation's log
     * (START..REPORT) and the instance headers, so a client records billing and cold starts of
     * v2 requests too (faasml bench's `payload: binary`). KServe clients never send it. */
    const char *lt = evhttp_find_header(ih, "X-Amz-Log-Type");
    bool tail = lt && strcmp(lt, "Tail") == 0;
    plat_inv *inv = plat_inv_new(fn, PLAT_INV_KSERVE, evhttp_find_header(ih, "X-Amzn-Trace-Id"));
    if (!inv || keep_log(inv, tail) || evbuffer_add_buffer(inv->payload, body)) {
        if (inv)
            plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_DROPPED});
        send_json_error(req, 500, "out of memory");
        return;
    }
    inv->header_len = header_len;
    if (header_len < 0 && kserve_raw_body(ct))
        snprintf(inv->content_type, sizeof inv->content_type, "%s", ct);
    plat_inv_submit(inv, req);
}

/* /v2..., /v2/health/{live,ready}, /v2/models/{m}[/versions/{v}][/ready|/infer]. The instance
 * speaks only the Runtime API, so infer wraps the v2 request as the invocation event and the
 * function host answers it with the v2 response. */
static void h_v2(platform *p, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0) {
        const char *b = "{\"name\":\"faasml\",\"version\":\"" FM_VERSION "\",\"extensions\":[]}";
        send_body(req, 200, "application/json", b, strlen(b));
        return;
    }
    if (strcmp(path, "/v2/health/live") == 0) {
        send_body(req, 200, "application/json", "{\"live\":true}", 13);
        return;
    }
    if (strcmp(path, "/v2/health/ready") == 0) {
        if (p->draining)
            send_body(req, 503, "application/json", "{\"ready\":false}", 15);
        else
            send_body(req, 200, "application/json", "{\"ready\":true}", 14);
        return;
    }
    if (strncmp(path, "/v2/models/", 11) != 0) {
        send_json_error(req, 404, "unknown path");
        return;
    }
    char name[PLATFORM_NAME_MAX + 1], rest[256] = "";
    const char *s = path + 11, *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n > PLATFORM_NAME_MAX) {
        send_json_error(req, 404, "unknown model");
        return;
    }
    memcpy(name, s, n);
    name[n] = 0;
    if (slash)
        snprintf(rest, sizeof rest, "%s", slash);
    if (strncmp(rest, "/versions/", 10) == 0) { /* one version per function: any is accepted */
        const char *r = strchr(rest + 10, '/');
        memmove(rest, r ? r : "", strlen(r ? r : "") + 1);
    }
    plat_fn *fn = onnx_fn(p, name);
    char msg[160];
    if (!fn) {
        snprintf(msg, sizeof msg, "model '%s' is not deployed (or not a builtin-onnx function)",
                 name);
        send_json_error(req, 404, msg);
        return;
    }
    if (rest[0] == 0 && m == EVHTTP_REQ_GET) {
        fm_err err = {0};
        const char *meta = plat_fn_metadata(fn, &err);
        if (meta)
            send_body(req, 200, "application/json", meta, strlen(meta));
        else
            send_json_error(req, 500, err.msg);
    } else if (strcmp(rest, "/ready") == 0 && m == EVHTTP_REQ_GET) {
        char b[128];
        snprintf(b, sizeof b, "{\"name\":\"%s\",\"ready\":%s}", name,
                 p->draining ? "false" : "true");
        send_body(req, p->draining ? 503 : 200, "application/json", b, strlen(b));
    } else if (strcmp(rest, "/infer") == 0 && m == EVHTTP_REQ_POST) {
        h_infer(fn, req);
    } else {
        send_json_error(req, 404, "unknown path");
    }
}

/* ---- admin API --------------------------------------------------------------------------------
 */

static cJSON *describe(plat_fn *fn)
{
    char *txt = platform_spec_to_json(&fn->spec);
    cJSON *o = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "arn", fn->arn);
    policy_stats st;
    policy_fn_stats(fn->pol, &st);
    cJSON *inst = cJSON_AddObjectToObject(o, "instances");
    for (int s = 0; s < POLICY_INST__COUNT; s++)
        cJSON_AddNumberToObject(inst, policy_inst_state_name((policy_inst_state)s),
                                st.instances[s]);
    cJSON_AddNumberToObject(o, "queue_depth", (double)st.queue_depth + (double)fn->nevents);
    cJSON_AddNumberToObject(o, "in_flight", st.in_flight);
    /* the file `faasml logs` reads; null when instance logs go to a terminal or pipe */
    if (fn->p->log_path[0])
        cJSON_AddStringToObject(o, "log", fn->p->log_path);
    else
        cJSON_AddNullToObject(o, "log");
    return o;
}

/* /admin/functions[/NAME]: list, describe, deploy (POST new, PUT create or update), delete. */
static void h_admin(platform *p, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const char *rest = path + strlen(ADMIN_PREFIX);
    char name[PLATFORM_NAME_MAX + 1] = "";
    fm_err err = {0};
    if (rest[0] == '/' && rest[1]) {
        if (strlen(rest + 1) > PLATFORM_NAME_MAX || strchr(rest + 1, '/')) {
            send_json_error(req, 404, "unknown function");
            return;
        }
        snprintf(name, sizeof name, "%s", rest + 1);
    } else if (rest[0] && strcmp(rest, "/") != 0) {
        send_json_error(req, 404, "unknown path");
        return;
    }
    plat_fn *fn = name[0] ? plat_fn_find(p, name) : NULL;
    if (m == EVHTTP_REQ_GET && !name[0]) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(o, "functions");
        TAILQ_FOREACH(fn, &p->fns, link)
        if (!fn->retired)
            cJSON_AddItemToArray(a, describe(fn));
        send_json_obj(req, 200, o);
        return;
    }
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_DELETE) {
        if (!fn) {
            char msg[160];
            snprintf(msg, sizeof msg, "function '%s' not found", name);
            send_json_error(req, 404, msg);
        } else if (m == EVHTTP_REQ_GET) {
            send_json_obj(req, 200, describe(fn));
        } else {
            plat_fn_retire(fn);
            send_body(req, 204, NULL, NULL, 0);
        }
        return;
    }
    if (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT) {
        send_json_error(req, 405, "method not allowed");
        return;
    }
    if ((m == EVHTTP_REQ_POST) != (name[0] == 0)) {
        send_json_error(req, 405, "deploy with POST /admin/functions or PUT /admin/functions/NAME");
        return;
    }
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    platform_spec spec;
    if (platform_spec_parse_json(len ? (const char *)evbuffer_pullup(b, -1) : "", len, &spec,
                                 &err)) {
        send_json_error(req, 400, err.msg);
        return;
    }
    if (name[0] && strcmp(name, spec.name) != 0) {
        platform_spec_release(&spec);
        send_json_error(req, 400, "the spec's name differs from the name in the path");
        return;
    }
    if (m == EVHTTP_REQ_POST && plat_fn_find(p, spec.name)) {
        char msg[160];
        snprintf(msg, sizeof msg, "function '%s' already exists (update it with PUT)", spec.name);
        platform_spec_release(&spec);
        send_json_error(req, 409, msg);
        return;
    }
    bool created = false;
    int rc = platform_deploy(p, &spec, &created, &err);
    if (rc) {
        send_json_error(req, rc == FM_ESTATE ? 503 : 400, err.msg);
    } else {
        fn = plat_fn_find(p, spec.name);
        send_json_obj(req, created ? 201 : 200, fn ? describe(fn) : cJSON_CreateObject());
    }
    platform_spec_release(&spec);
}

/* ---- routing ----------------------------------------------------------------------------------
 */

static void h_metrics(platform *p, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    plat_metrics_render(p, b);
    plat_sandbox_metrics(&p->sb, b);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* The route table of the gateway: Invoke API, KServe v2, function URLs, admin, metrics, else
 * 404. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    fm_http_guard_end(((platform *)arg)->guard, req);
}

static void gateway_cb(struct evhttp_request *req, void *arg)
{
    platform *p = arg;
    if (!fm_http_guard_begin(p->guard, req))
        return; /* past the connection cap: answered 503 */
    /* Every answer, direct or from plat_gateway_answer, ends here once sent. */
    evhttp_request_set_on_complete_cb(req, on_complete, p);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path) {
        send_json_error(req, 400, "malformed request URI");
        return;
    }
    if (!plat_auth_gate(p, req, path)) /* SigV4, when credentials are configured (auth.h) */
        return;
    static const char inv_pre[] = "/2015-03-31/functions/";
    bool lambda = strncmp(path, inv_pre, sizeof inv_pre - 1) == 0;
    bool admin = strncmp(path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0 &&
                 (path[strlen(ADMIN_PREFIX)] == 0 || path[strlen(ADMIN_PREFIX)] == '/');
    char msg[600];
    int refused = plat_guard_check(p, req, admin, msg, sizeof msg);
    if (refused) {
        if (lambda)
            send_aws_error(req, refused, "AccessDeniedException", NULL, msg, NULL);
        else
            send_json_error(req, refused, msg);
        return;
    }
    if (lambda) {
        const char *name = path + sizeof inv_pre - 1, *slash = strchr(name, '/');
        if (slash && strcmp(slash, "/invocations") == 0 && slash - name < 250) {
            char raw[256];
            memcpy(raw, name, (size_t)(slash - name));
            raw[slash - name] = 0;
            h_invoke(p, req, raw);
            return;
        }
        send_aws_error(req, 404, "UnknownOperationException", NULL, "unknown operation", NULL);
        return;
    }
    if (strcmp(path, "/v2") == 0 || strncmp(path, "/v2/", 4) == 0) {
        h_v2(p, req, path);
        return;
    }
    if (strncmp(path, "/lambda-url/", 12) == 0) {
        plat_url_handle(p, req, path); /* function URLs (url.c) */
        return;
    }
    if (admin) {
        h_admin(p, req, path);
        return;
    }
    if (strcmp(path, "/metrics") == 0 && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        h_metrics(p, req);
        return;
    }
    send_json_error(req, 404, "unknown path");
}

/* Why: evhttp writes an answer's head and body as they come; with Nagle's algorithm on, a
 * last small segment waits for the peer's delayed ACK (40 ms on Linux). The platform sends whole
 * answers, so every connection it accepts has Nagle off (Linux copies TCP_NODELAY from the
 * listening socket to the sockets it accepts). */
void plat_listen_nodelay(struct evhttp_bound_socket *bs)
{
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Binds the gateway; port 0 picks a free port, reported by platform_port. */
int plat_gateway_bind(platform *p, fm_err *err)
{
    fm_http_limits lim;
    fm_http_limits_default(&lim);
    lim.max_body_bytes = MAX_BODY;
    lim.max_connections = p->cfg.max_connections;
    lim.header_timeout_ns = (int64_t)(p->cfg.header_timeout_s * 1e9);
    lim.idle_timeout_ns = (int64_t)(p->cfg.idle_timeout_s * 1e9);
    int rc = fm_http_limits_check(&lim, err);
    if (rc)
        return rc;
    if (!(p->http = evhttp_new(p->base)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    evhttp_set_gencb(p->http, gateway_cb, p);
    fm_http_limits_apply(&lim, p->http);
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    p->sock = evhttp_bind_socket_with_handle(p->http, p->cfg.listen_host,
                                             (ev_uint16_t)p->cfg.listen_port);
    if (!p->sock)
        return fm_err_set(err, FM_EIO, "cannot listen on %s:%d: %s", p->cfg.listen_host,
                          p->cfg.listen_port, strerror(errno));
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    plat_listen_nodelay(p->sock);
    if (getsockname(evhttp_bound_socket_get_fd(p->sock), (struct sockaddr *)&sa, &sl) != 0)
        return fm_err_set(err, -errno, "getsockname: %s", strerror(errno));
    if ((rc = fm_http_guard_new(p->http, p->sock, &lim, "gateway", &p->guard, err)))
        return rc;
    if (!p->cfg.tls_cert != !p->cfg.tls_key)
        return fm_err_set(err, FM_EINVAL, "TLS needs both a certificate and its key");
    if (p->cfg.tls_cert) {
        if ((rc = fm_http_tls_new(p->cfg.tls_cert, p->cfg.tls_key, &p->tls, err)))
            return rc;
        fm_http_guard_set_tls(p->guard, p->tls);
    }
    p->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    return 0;
}
