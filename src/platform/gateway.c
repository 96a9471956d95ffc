/* The gateway: libevent's HTTP server with one route table for the Lambda Invoke API
 * (cloud-platforms.md section 2), KServe v2 (section 6), the admin API and /metrics (section 8).
 * Handlers never block: an invocation is parked until its instance answers. */
#include "plat_int.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
 * once, whether or not anyone is still listening, and nothing dangles. */
static struct evhttp_request *take_client(plat_inv *inv)
{
    struct evhttp_request *req = inv->client;
    inv->client = NULL;
    return req;
}

/* Frees an invocation; one that was never answered is answered 500 first. */
void plat_inv_free(plat_inv *inv)
{
    if (!inv)
        return;
    struct evhttp_request *req = take_client(inv);
    if (req) /* never left unanswered: an answer also frees a detached request */
        send_aws_error(req, 500, "ServiceException", NULL, "the invocation was dropped", inv->rid);
    plat_batch_release(inv);
    if (inv->timer)
        event_free(inv->timer);
    if (inv->retry_ev)
        event_free(inv->retry_ev);
    if (inv->payload)
        evbuffer_free(inv->payload);
    if (inv->log)
        evbuffer_free(inv->log);
    free(inv->client_context);
    free(inv);
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
    if (inv->tail && inv->log) {
        size_t len = evbuffer_get_length(inv->log);
        size_t from = len > PLAT_LOG_TAIL ? len - PLAT_LOG_TAIL : 0;
        const unsigned char *s = evbuffer_pullup(inv->log, -1);
        char b64[PLAT_LOG_TAIL / 3 * 4 + 16];
        fm_base64_encode(s ? s + from : (const unsigned char *)"", len - from, b64);
        evhttp_add_header(h, "X-Amz-Log-Result", b64);
    }
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

/* One exit for results: Lambda's 200 (+ X-Amz-Function-Error) or KServe's shape. */
void plat_inv_answer(plat_inv *inv, int status, const char *fn_error, const char *body, size_t len)
{
    struct evhttp_request *req = take_client(inv);
    if (!req)
        return;
    if (inv->kind == PLAT_INV_KSERVE) {
        if (fn_error) {
            kserve_error(req, body, len);
        } else {
            evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", inv->rid);
            send_body(req, status, "application/json", body, len);
        }
        return;
    }
    add_lambda_headers(inv, req);
    if (fn_error)
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Amz-Function-Error", fn_error);
    send_body(req, status, "application/json", body, len);
}

/* One exit for requests that never ran: recorded, then answered in the caller's protocol. */
void plat_inv_fail(plat_inv *inv, int status, const char *type, const char *reason, const char *msg)
{
    plat_meter_invocation(inv, status == 429 ? "throttled" : "error", status, type, NULL);
    struct evhttp_request *req = take_client(inv);
    if (!req)
        return;
    if (inv->kind == PLAT_INV_KSERVE)
        send_json_error(req, status, msg);
    else
        send_aws_error(req, status, type, reason, msg, inv->rid);
}

/* Lambda answers a failed init like a function error: 200 + Unhandled. */
void plat_inv_init_failed(plat_inv *inv, const char *body)
{
    plat_meter_invocation(inv, "error", 200, "init_failed", NULL);
    plat_inv_answer(inv, 200, "Unhandled", body, strlen(body));
}

/* The function timeout fired. A dispatched invocation takes its instance down with it; one still
 * waiting (bound to a starting instance, or queued) is cancelled at the policy. */
static void on_inv_timeout(evutil_socket_t fd, short what, void *arg)
{
    plat_inv *inv = arg;
    if (inv->inst) {
        plat_inst_timeout(inv->inst, inv);
        return;
    }
    plat_fn *fn = inv->fn;
    platform *p = fn->p;
    char body[256];
    snprintf(body, sizeof body,
             "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"RequestId: %s Error: Task "
             "timed out after %.2f seconds\"}",
             inv->rid, fn->spec.timeout_s);
    plat_inv_hash_take(p, inv->id);
    fn->m.timeouts++;
    fn->m.errors++;
    plat_meter_invocation(inv, "timeout", 200, "Sandbox.Timedout", NULL);
    plat_inv_answer(inv, 200, "Unhandled", body, strlen(body));
    policy_event ev = {.type = POLICY_EV_CANCEL, .request = inv->id};
    plat_inv_free(inv);
    plat_feed(fn, &ev);
}

/* The deadline the runtime sees (Deadline-Ms) and the timer that enforces it agree. */
void plat_inv_arm_timeout(plat_inv *inv)
{
    if (!inv->timer && !(inv->timer = evtimer_new(inv->fn->p->base, on_inv_timeout, inv)))
        return;
    double t = inv->fn->spec.timeout_s;
    struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
    evtimer_add(inv->timer, &tv);
    inv->deadline_wall_ms = fm_wall_ns() / 1000000 + (int64_t)(t * 1000);
}

/* Request ids are UUIDv4 like Lambda's (RIE), from the platform's own RNG stream. */
static void make_rid(platform *p, char *out)
{
    uint64_t a = fm_rng_u64(&p->rng), b = fm_rng_u64(&p->rng);
    a = (a & ~0xF000ull) | 0x4000ull;                        /* version 4 */
    b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull; /* variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012" PRIx64, (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xFFFF, (unsigned)a & 0xFFFF, (unsigned)(b >> 48),
             (uint64_t)(b & 0xFFFFFFFFFFFFull));
}

/* A new invocation with its id, times and trace id (the caller's X-Amzn-Trace-Id if any). */
static plat_inv *inv_new(plat_fn *fn, plat_inv_kind kind, struct evhttp_request *req)
{
    platform *p = fn->p;
    plat_inv *inv = calloc(1, sizeof *inv);
    if (inv)
        inv->inst_id = -1;
    if (!inv || !(inv->payload = evbuffer_new()) || !(inv->log = evbuffer_new())) {
        plat_inv_free(inv);
        return NULL;
    }
    inv->id = ++p->next_req_id;
    inv->fn = fn;
    inv->kind = kind;
    inv->arrive_ns = fm_now_ns();
    inv->arrive_wall_ns = fm_wall_ns();
    make_rid(p, inv->rid);
    const char *trace =
        evhttp_find_header(evhttp_request_get_input_headers(req), "X-Amzn-Trace-Id");
    if (trace && strlen(trace) < sizeof inv->trace_id)
        snprintf(inv->trace_id, sizeof inv->trace_id, "%s", trace);
    else
        snprintf(inv->trace_id, sizeof inv->trace_id,
                 "Root=1-%08x-%024" PRIx64 ";Parent=%016" PRIx64 ";Sampled=0",
                 (unsigned)(inv->arrive_wall_ns / 1000000000), fm_rng_u64(&p->rng) >> 0,
                 (uint64_t)fm_rng_u64(&p->rng));
    return inv;
}

/* Why: the common tail of every invocation kind: register, arm the timeout (synchronous calls
 * count init against it, as on Lambda for custom runtimes) and tell the policy. */
static void inv_submit(plat_inv *inv, struct evhttp_request *client)
{
    platform *p = inv->fn->p;
    inv->fn->m.invocations[inv->kind]++;
    if (client) {
        inv->client = client;
        plat_inv_arm_timeout(inv);
    }
    if (!plat_batch_admit(inv)) { /* a batching function refused the input: answered */
        plat_inv_free(inv);
        return;
    }
    if (inv->kind == PLAT_INV_EVENT) {
        plat_event_enqueue(inv->fn, inv);
        return;
    }
    plat_inv_hash_put(p, inv);
    policy_event ev = {.type = POLICY_EV_ARRIVE, .items = inv->items, .request = inv->id};
    plat_feed(inv->fn, &ev);
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
    const char *data = len ? (const char *)evbuffer_pullup(body, -1) : "{}";
    if (!len)
        len = 2;
    if (!is_json(data, len)) {
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
    plat_inv *inv = inv_new(fn, kind, req);
    if (!inv || evbuffer_add(inv->payload, data, len)) {
        free(client_context);
        plat_inv_free(inv);
        send_aws_error(req, 500, "ServiceException", NULL, "out of memory", NULL);
        return;
    }
    inv->client_context = client_context;
    inv->tail = kind == PLAT_INV_SYNC && lt && strcmp(lt, "Tail") == 0;
    if (kind == PLAT_INV_EVENT && fn->nevents >= (size_t)p->cfg.event_queue_max) {
        plat_inv_free(inv);
        send_aws_error(req, 429, "TooManyRequestsException", "EventQueueFull",
                       "the function's asynchronous event queue is full", NULL);
        return;
    }
    if (kind == PLAT_INV_EVENT) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", inv->rid);
        send_body(req, 202, NULL, NULL, 0);
        inv_submit(inv, NULL);
    } else {
        inv_submit(inv, req);
    }
}

/* ---- KServe v2 --------------------------------------------------------------------------------
 */

static plat_fn *onnx_fn(platform *p, const char *name)
{
    plat_fn *fn = plat_fn_find(p, name);
    return fn && fn->spec.runtime == PLATFORM_RUNTIME_ONNX ? fn : NULL;
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
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON *v = cJSON_AddArrayToObject(o, "versions");
        cJSON_AddItemToArray(v, cJSON_CreateString("1"));
        cJSON_AddStringToObject(o, "platform", "onnx_onnxv1");
        send_json_obj(req, 200, o);
    } else if (strcmp(rest, "/ready") == 0 && m == EVHTTP_REQ_GET) {
        char b[128];
        snprintf(b, sizeof b, "{\"name\":\"%s\",\"ready\":%s}", name,
                 p->draining ? "false" : "true");
        send_body(req, p->draining ? 503 : 200, "application/json", b, strlen(b));
    } else if (strcmp(rest, "/infer") == 0 && m == EVHTTP_REQ_POST) {
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(body);
        if (evhttp_find_header(evhttp_request_get_input_headers(req),
                               "Inference-Header-Content-Length")) {
            send_json_error(req, 400,
                            "binary tensor data is not supported through the gateway: "
                            "send JSON tensors");
            return;
        }
        if (len > PLAT_MAX_PAYLOAD) {
            send_json_error(req, 413, "request larger than 6 MB");
            return;
        }
        const char *data = (const char *)evbuffer_pullup(body, -1);
        if (!len || !is_json(data, len)) {
            send_json_error(req, 400, "the request body is not valid JSON");
            return;
        }
        plat_inv *inv = inv_new(fn, PLAT_INV_KSERVE, req);
        if (!inv || evbuffer_add(inv->payload, data, len)) {
            plat_inv_free(inv);
            send_json_error(req, 500, "out of memory");
            return;
        }
        inv_submit(inv, req);
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
    cJSON_AddNumberToObject(o, "queue_depth", st.queue_depth);
    cJSON_AddNumberToObject(o, "in_flight", st.in_flight);
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

/* The route table of the gateway: Invoke API, KServe v2, admin, metrics, else 404. */
static void gateway_cb(struct evhttp_request *req, void *arg)
{
    platform *p = arg;
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

/* Binds the gateway; port 0 picks a free port, reported by platform_port. */
int plat_gateway_bind(platform *p, fm_err *err)
{
    if (!(p->http = evhttp_new(p->base)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    evhttp_set_gencb(p->http, gateway_cb, p);
    evhttp_set_max_body_size(p->http, MAX_BODY);
    evhttp_set_max_headers_size(p->http, 64 * 1024);
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(p->http, 960); /* idle keep-alive connections; > the 900 s max timeout */
    p->sock = evhttp_bind_socket_with_handle(p->http, p->cfg.listen_host,
                                             (ev_uint16_t)p->cfg.listen_port);
    if (!p->sock)
        return fm_err_set(err, FM_EIO, "cannot listen on %s:%d: %s", p->cfg.listen_host,
                          p->cfg.listen_port, strerror(errno));
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(p->sock), (struct sockaddr *)&sa, &sl) != 0)
        return fm_err_set(err, -errno, "getsockname: %s", strerror(errno));
    p->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    return 0;
}
