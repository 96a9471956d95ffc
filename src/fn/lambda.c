/*
 * Runtime API mode: the function host as an AWS Lambda custom runtime. Init (on failure POST
 * /runtime/init/error and stop), then GET /runtime/invocation/next -> handle -> POST .../response
 * or .../error, forever, over one keep-alive libcurl handle. The init phases go out once as the
 * X-Faasml-Init header of the first POST (Lambda's Runtime API ignores headers it does not know)
 * and through opts->on_ready as the FAASML_INIT log line.
 */
#include "fn/fn_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct rapi {
    CURL *c;
    char base[512]; /* http://host:port/2018-06-01/runtime */
    fn_buf body;
    char request_id[256];
    char deadline[32];
    char trace[1024];
    char content_type[128]; /* of the event: faasml's platform forwards KServe bodies unchanged */
    char header_len[32];    /* Inference-Header-Content-Length of a binary KServe request */
    char payload[16];       /* X-Faasml-Payload: "v2" for a KServe JSON request */
    char cerr[CURL_ERROR_SIZE];
} rapi;

/* The /next headers the loop reads, and where each goes. */
static const struct {
    const char *name;
    size_t off, cap;
} next_headers[] = {
    {"Lambda-Runtime-Aws-Request-Id", offsetof(rapi, request_id), sizeof(((rapi *)0)->request_id)},
    {"Lambda-Runtime-Deadline-Ms", offsetof(rapi, deadline), sizeof(((rapi *)0)->deadline)},
    {"Lambda-Runtime-Trace-Id", offsetof(rapi, trace), sizeof(((rapi *)0)->trace)},
    {"Content-Type", offsetof(rapi, content_type), sizeof(((rapi *)0)->content_type)},
    {"Inference-Header-Content-Length", offsetof(rapi, header_len),
     sizeof(((rapi *)0)->header_len)},
    {"X-Faasml-Payload", offsetof(rapi, payload), sizeof(((rapi *)0)->payload)},
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    rapi *r = ud;
    return fn_buf_append(&r->body, p, size * n) ? 0 : size * n;
}

/* Why: picks the Lambda-Runtime-* headers out of each header line of /next. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    rapi *r = ud;
    size_t len = size * n;
    for (size_t i = 0; i < FM_ARRAY_LEN(next_headers); i++) {
        size_t nl = strlen(next_headers[i].name);
        if (len <= nl || p[nl] != ':' || strncasecmp(p, next_headers[i].name, nl) != 0)
            continue;
        const char *v = p + nl + 1;
        size_t vl = len - nl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        char *dst = (char *)r + next_headers[i].off;
        snprintf(dst, next_headers[i].cap, "%.*s", (int)vl, v);
    }
    return len;
}

/* Why: one request over the shared handle (connection kept alive); the GET has no timeout, as
 * the Runtime API asks, since the process may be frozen between events. */
static int perform(rapi *r, const char *path, const fn_buf *post, struct curl_slist *hdrs,
                   long *status, fm_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", r->base, path);
    r->body.len = 0;
    r->request_id[0] = r->deadline[0] = r->trace[0] = r->content_type[0] = r->header_len[0] =
        r->payload[0] = '\0';
    curl_easy_setopt(r->c, CURLOPT_URL, url);
    curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, hdrs);
    if (post) {
        curl_easy_setopt(r->c, CURLOPT_POST, 1L);
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, post->p ? post->p : "");
        curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->len);
    } else {
        curl_easy_setopt(r->c, CURLOPT_HTTPGET, 1L);
    }
    CURLcode cc = curl_easy_perform(r->c);
    if (cc != CURLE_OK)
        return fm_err_set(err, FM_EIO, "cannot reach the Runtime API at '%s': %s", url,
                          r->cerr[0] ? r->cerr : curl_easy_strerror(cc));
    curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* Why: builds the headers of a POST; the first one carries the init phases. */
static struct curl_slist *post_headers(const char *content_type, const char *error_type,
                                       const char *init_json, int64_t header_len)
{
    char line[1200];
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    h = curl_slist_append(h, line);
    if (header_len >= 0) {
        snprintf(line, sizeof line, "Inference-Header-Content-Length: %lld", (long long)header_len);
        h = curl_slist_append(h, line);
    }
    if (error_type) {
        snprintf(line, sizeof line, "Lambda-Runtime-Function-Error-Type: %s", error_type);
        h = curl_slist_append(h, line);
    }
    if (init_json) {
        snprintf(line, sizeof line, "X-Faasml-Init: %s", init_json);
        h = curl_slist_append(h, line);
    }
    return h;
}

/* Why: Lambda's error document, {"errorMessage","errorType"}. */
static int error_body(fn_buf *b, const char *msg, const char *type)
{
    int rc = fn_buf_puts(b, "{\"errorMessage\":");
    rc = rc ? rc : fn_buf_json_str(b, msg);
    rc = rc ? rc : fn_buf_puts(b, ",\"errorType\":");
    rc = rc ? rc : fn_buf_json_str(b, type);
    return rc ? rc : fn_buf_puts(b, "}");
}

/* Why: POSTs a response or an error and checks the Runtime API accepted it (202). A 500 means
 * "container error, runtime should exit"; other refusals are logged and the loop goes on. */
static int post(rapi *r, const char *path, const fn_buf *body, const char *ctype,
                const char *error_type, const char *init_json, int64_t header_len, fm_err *err)
{
    struct curl_slist *h = post_headers(ctype, error_type, init_json, header_len);
    long status = 0;
    int rc = perform(r, path, body, h, &status, err);
    curl_slist_free_all(h);
    if (rc)
        return rc;
    if (status == 500)
        return fm_err_set(err, FM_EPROTO, "Runtime API answered 500 to '%s': %.200s", path,
                          r->body.p ? r->body.p : "");
    if (status != 202)
        FM_WARN("fn", "Runtime API answered %ld to '%s': %.200s", status, path,
                r->body.p ? r->body.p : "");
    return 0;
}

/* Why: the init failure path: tell Lambda why, then the caller exits 1. */
static void post_init_error(rapi *r, const fm_err *cause)
{
    fn_buf b = {0};
    fm_err e2 = {0};
    if (error_body(&b, cause->msg, "Runtime.InitError") == 0 &&
        post(r, "/init/error", &b, "application/json", "Runtime.InitError", NULL, -1, &e2) != 0)
        FM_ERROR("fn", "%s", e2.msg);
    fn_buf_release(&b);
}

/* Why: one event: headers to environment and deadline, handle, answer. */
static int serve_event(rapi *r, fn_host *host, const char *init_json, fm_err *err)
{
    char *id = curl_easy_escape(r->c, r->request_id, 0);
    if (!id)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    if (r->trace[0])
        setenv("_X_AMZN_TRACE_ID", r->trace, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
    FM_DEBUG("fn", "event '%s': deadline %s, _X_AMZN_TRACE_ID=%s", r->request_id, r->deadline,
             getenv("_X_AMZN_TRACE_ID") ? getenv("_X_AMZN_TRACE_ID") : "");
    int64_t deadline = 0;
    if (r->deadline[0] && fm_parse_i64(r->deadline, &deadline))
        deadline = 0;
    fn_buf event = r->body; /* r->body is reused by the POST below */
    r->body = (fn_buf){0};
    /* A Lambda event is JSON. faasml's platform also forwards KServe bodies unchanged: a v2
     * JSON request (X-Faasml-Payload: v2), the binary extension (with its header length), raw
     * tensors and images (by Content-Type); each is decoded as `faasml fn` decodes it over HTTP. */
    int64_t header_len = -1;
    if (r->header_len[0] && (fm_parse_i64(r->header_len, &header_len) || header_len < 0))
        header_len = -1;
    size_t ctn = strcspn(r->content_type, ";");
    bool json =
        ctn == 0 || (ctn == 16 && strncasecmp(r->content_type, "application/json", 16) == 0);
    bool v2 = header_len >= 0 || strcmp(r->payload, "v2") == 0;
    fn_payload kind = v2 ? FN_PAYLOAD_V2 : json ? FN_PAYLOAD_EVENT : FN_PAYLOAD_AUTO;
    fn_reply reply;
    fn_host_handle(host, kind, json ? "application/json" : r->content_type, event.p ? event.p : "",
                   event.len, header_len, deadline, &reply);
    fn_buf_release(&event);
    char path[1024];
    int rc;
    if (reply.status == 200) {
        snprintf(path, sizeof path, "/invocation/%s/response", id);
        rc = post(r, path, &reply.body, reply.content_type, NULL, init_json, reply.header_len, err);
    } else {
        fn_buf b = {0};
        snprintf(path, sizeof path, "/invocation/%s/error", id);
        rc = error_body(&b, reply.message, reply.error_type);
        rc = rc ? fm_err_set(err, rc, "out of memory")
                : post(r, path, &b, "application/json", reply.error_type, init_json, -1, err);
        fn_buf_release(&b);
    }
    fn_reply_release(&reply);
    curl_free(id);
    return rc;
}

/* Why: the Runtime API client is the same for a freshly started host and for one forked from a
 * zygote (zygote.c), which already holds an initialised host. */
static int rapi_open(rapi *r, const char *api, fm_err *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->base, sizeof r->base, "http://%s/2018-06-01/runtime", api);
    r->c = curl_easy_init();
    if (!r->c)
        return fm_err_set(err, FM_ENOMEM, "cannot start libcurl");
    curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->c, CURLOPT_ERRORBUFFER, r->cerr);
    curl_easy_setopt(r->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->c, CURLOPT_NOPROXY, "*"); /* the Runtime API is local */
    curl_easy_setopt(r->c, CURLOPT_TCP_NODELAY, 1L);
    return 0;
}

static int serve_loop(rapi *r, fn_host *host, const char *init_json, const fn_run_opts *opts,
                      fm_err *err)
{
    int rc = 0;
    for (int64_t n = 0; !rc && !(opts && opts->max_events && n >= opts->max_events); n++) {
        long status = 0;
        rc = perform(r, "/invocation/next", NULL, NULL, &status, err);
        if (!rc && status != 200)
            rc = fm_err_set(err, FM_EPROTO, "Runtime API answered %ld to /invocation/next", status);
        if (!rc && !r->request_id[0])
            rc = fm_err_set(err, FM_EPROTO,
                            "Runtime API sent an event without Lambda-Runtime-Aws-Request-Id");
        if (!rc)
            rc = serve_event(r, host, n == 0 ? init_json : NULL, err);
    }
    return rc;
}

int fn_lambda_serve(fn_host *host, const char *api, const char *init_json, const fn_run_opts *opts,
                    fm_err *err)
{
    rapi r;
    int rc = rapi_open(&r, api, err);
    if (!rc)
        rc = serve_loop(&r, host, init_json, opts, err);
    fn_buf_release(&r.body);
    if (r.c)
        curl_easy_cleanup(r.c);
    return rc;
}

int fn_lambda_run(const fn_spec *spec, const char *api, const fn_run_opts *opts, fm_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return fm_err_set(err, FM_EIO, "cannot initialise libcurl");
    rapi r;
    int rc = rapi_open(&r, api, err);
    if (rc) {
        curl_global_cleanup();
        return rc;
    }
    fn_host *host = NULL;
    if (opts && opts->config_error && opts->config_error->code) {
        *err = *opts->config_error;
        rc = err->code;
        post_init_error(&r, err);
    } else if ((rc = fn_host_new(spec, &host, err))) {
        post_init_error(&r, err);
    } else {
        char init_json[512];
        fn_host_init_json(host, init_json, sizeof init_json);
        if (opts && opts->on_ready)
            opts->on_ready(opts->ud, init_json, NULL);
        rc = serve_loop(&r, host, init_json, opts, err);
    }
    fn_host_free(host);
    fn_buf_release(&r.body);
    curl_easy_cleanup(r.c);
    curl_global_cleanup();
    return rc;
}
