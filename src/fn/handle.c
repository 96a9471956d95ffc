/*
 * One request end to end, shared by the Runtime API loop and the HTTP server: pick the payload
 * form, decode, check against the model, run, encode. Input problems give 400 (a Lambda
 * Function.InvalidInput error); a failed run gives 500; the host stays usable either way.
 */
#include "fn/fn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fn_reply_error(fn_reply *r, int status, const char *error_type, const char *msg)
{
    r->body.len = 0;
    r->status = status;
    r->error_type = error_type;
    r->content_type = "application/json";
    r->header_len = -1;
    snprintf(r->message, sizeof r->message, "%s", msg);
    if (fn_buf_puts(&r->body, "{\"error\":") || fn_buf_json_str(&r->body, msg) ||
        fn_buf_puts(&r->body, "}")) {
        fn_buf_release(&r->body);
    }
}

void fn_reply_release(fn_reply *r)
{
    fn_buf_release(&r->body);
}

/* Why: input problems are the client's (400); anything else failed on our side (500). */
static void fail(fn_reply *r, const fm_err *err)
{
    bool client = err->code == FM_EPARSE || err->code == FM_ESHAPE || err->code == FM_ETYPE ||
                  err->code == FM_ESCHEMA || err->code == FM_EPROTO || err->code == FM_ERANGE ||
                  err->code == FM_ELIMIT || err->code == FM_EUNSUPPORTED || err->code == FM_EINVAL;
    fn_reply_error(r, client ? 400 : 500,
                   client ? "Function.InvalidInput" : "Function.InferenceError",
                   err->msg[0] ? err->msg : fm_strerror(err->code));
}

/* Why: the v2 path: check, run, encode (with binary outputs when asked). */
static int run_v2(fn_host *host, fn_v2_request *req, fn_reply *r, fm_err *err)
{
    infer_tensor out[FN_MAX_IO];
    int rc = fn_v2_request_check(host->h, req, err);
    rc = rc ? rc : fn_handler_run(host->h, req->inputs, out, err);
    rc = rc ? rc
            : fn_v2_response_encode(host->name, req, out, host->h->n_outputs, &r->body,
                                    &r->header_len, err);
    if (!rc && r->header_len >= 0)
        r->content_type = "application/octet-stream";
    return rc;
}

/* Why: an image request needs one FP32 4-D input; its size comes from preprocess or the model.
 * Shared with the request builder, so a body built from an image fits what the host accepts. */
int fn_image_geometry(const fn_handler *h, const fn_preprocess *pp, int *H, int *W, fm_err *err)
{
    const infer_io_info *io = &h->inputs[0];
    char s[128];
    fn_shape_str(io->dims, io->ndim, s, sizeof s);
    if (h->n_inputs != 1 || io->dtype != INFER_DTYPE_FP32 || io->ndim != 4)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "model input '%s' (%s %s) cannot take images: images need a model with "
                          "one FP32 input of 4 dimensions",
                          io->name, infer_dtype_name(io->dtype), s);
    bool nchw = pp->layout == FN_LAYOUT_NCHW;
    int64_t c = io->dims[nchw ? 1 : 3], mh = io->dims[nchw ? 2 : 1], mw = io->dims[nchw ? 3 : 2];
    if (c >= 0 && c != pp->channels)
        return fm_err_set(err, FM_ESHAPE,
                          "model input '%s' %s has %lld channels in %s layout, preprocess gives %d",
                          io->name, s, (long long)c, nchw ? "NCHW" : "NHWC", pp->channels);
    *H = pp->height > 0 ? pp->height : (int)mh;
    *W = pp->width > 0 ? pp->width : (int)mw;
    if (*H <= 0 || *W <= 0)
        return fm_err_set(err, FM_EINVAL,
                          "model input '%s' %s has a variable image size: set "
                          "preprocess.size",
                          io->name, s);
    if ((mh >= 0 && mh != *H) || (mw >= 0 && mw != *W))
        return fm_err_set(err, FM_ESHAPE,
                          "preprocess size %dx%d does not match model input '%s' %s", *H, *W,
                          io->name, s);
    return 0;
}

/* Why: decodes n images into one batch, runs once, answers top-k or the output tensors. */
static int run_images(fn_host *host, uint8_t *const *imgs, const size_t *lens, size_t n,
                      fn_reply *r, fm_err *err)
{
    int H = 0, W = 0, rc = fn_image_geometry(host->h, &host->spec.pre, &H, &W, err);
    if (rc)
        return rc;
    const fn_preprocess *pp = &host->spec.pre;
    const infer_io_info *io = &host->h->inputs[0];
    if (io->dims[0] >= 0 && (size_t)io->dims[0] != n)
        return fm_err_set(err, FM_ESHAPE, "model input '%s' takes a batch of %lld, got %zu images",
                          io->name, (long long)io->dims[0], n);
    size_t per = (size_t)pp->channels * (size_t)H * (size_t)W;
    float *data = malloc(n * per * sizeof *data);
    if (!data)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        fn_image img;
        rc = fn_image_decode(imgs[i], lens[i], pp->channels, &img, err);
        if (rc) {
            if (n > 1)
                fm_err_prefix(err, "image %zu: ", i);
            break;
        }
        fn_image_to_tensor(&img, pp, H, W, data + i * per);
        fn_image_release(&img);
    }
    infer_tensor in = {.name = io->name,
                       .dtype = INFER_DTYPE_FP32,
                       .ndim = 4,
                       .data = data,
                       .bytes = n * per * sizeof *data};
    bool nchw = pp->layout == FN_LAYOUT_NCHW;
    int64_t dims[4] = {(int64_t)n, nchw ? pp->channels : H, nchw ? H : W, nchw ? W : pp->channels};
    memcpy(in.dims, dims, sizeof dims);
    infer_tensor out[FN_MAX_IO];
    rc = rc ? rc : fn_handler_run(host->h, &in, out, err);
    if (!rc && host->spec.post.topk > 0)
        rc = fn_topk_encode(&out[host->topk_output], host->spec.post.topk, host->spec.post.softmax,
                            host->labels, host->n_labels, &r->body, err);
    else if (!rc)
        rc = fn_v2_response_encode(host->name, NULL, out, host->h->n_outputs, &r->body,
                                   &r->header_len, err);
    free(data);
    return rc;
}

/* Why: an API Gateway proxy event gets a proxy response; the client's status is inside. */
static void wrap_api_gateway(fn_reply *r)
{
    fn_buf w = {0};
    int rc = fn_buf_printf(&w,
                           "{\"statusCode\":%d,\"headers\":{\"Content-Type\":"
                           "\"application/json\"},\"body\":",
                           r->status);
    rc = rc ? rc : fn_buf_json_str(&w, r->body.p ? r->body.p : "");
    rc = rc ? rc : fn_buf_puts(&w, "}");
    if (rc) {
        fn_buf_release(&w);
        return;
    }
    fn_buf_release(&r->body);
    r->body = w;
    r->status = 200;
    r->error_type = NULL;
    r->content_type = "application/json";
}

/* Why: Lambda events: a v2 request or images, possibly inside an API Gateway envelope. */
static int run_event(fn_host *host, const void *body, size_t len, fn_reply *r, fm_err *err)
{
    fn_event ev;
    int rc = fn_event_decode(body, len, &ev, err);
    if (!rc && ev.kind == FN_EVENT_V2) {
        fn_v2_request req;
        rc = fn_v2_request_from_json(ev.v2, &req, err);
        rc = rc ? rc : run_v2(host, &req, r, err);
        fn_v2_request_release(&req);
        if (!rc && r->header_len >= 0) /* a JSON event cannot carry binary outputs */
            rc = fm_err_set(err, FM_EUNSUPPORTED,
                            "binary outputs are not available in Lambda "
                            "events");
    } else if (!rc) {
        rc = run_images(host, ev.images, ev.image_lens, ev.n_images, r, err);
    }
    bool apigw = ev.api_gateway;
    fn_event_release(&ev);
    if (rc)
        fail(r, err);
    if (apigw && r->body.p && r->header_len < 0)
        wrap_api_gateway(r);
    return rc;
}

/* Why: SageMaker /invocations and Knative clients say what they send in Content-Type. */
static fn_payload payload_of(const char *ct, int64_t header_len)
{
    if (header_len >= 0)
        return FN_PAYLOAD_V2;
    size_t n = ct ? strcspn(ct, ";") : 0;
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    if (n == 0 || (n == 16 && strncasecmp(ct, "application/json", 16) == 0))
        return FN_PAYLOAD_EVENT;
    if ((n > 6 && strncasecmp(ct, "image/", 6) == 0) ||
        (n == 19 && strncasecmp(ct, "application/x-image", 19) == 0) ||
        (n == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0))
        return FN_PAYLOAD_IMAGE;
    return FN_PAYLOAD_AUTO;
}

int fn_host_handle(fn_host *host, fn_payload kind, const char *content_type, const void *body,
                   size_t len, int64_t header_len, int64_t deadline_ms, fn_reply *r)
{
    fm_err err = {0};
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = "application/json";
    r->header_len = -1;
    if (deadline_ms > 0 && fm_wall_ns() / 1000000 >= deadline_ms) {
        fn_reply_error(r, 504, "Function.DeadlineExceeded",
                       "the invocation deadline passed before inference started");
        return FM_ETIMEOUT;
    }
    if (kind == FN_PAYLOAD_AUTO) {
        kind = payload_of(content_type, header_len);
        if (kind == FN_PAYLOAD_AUTO) {
            fm_err_set(&err, FM_EUNSUPPORTED,
                       "unsupported content type '%s' (use "
                       "application/json, image/jpeg, image/png or the binary tensor extension)",
                       content_type);
            fail(r, &err);
            r->status = 415;
            return err.code;
        }
    }
    int rc;
    if (kind == FN_PAYLOAD_EVENT)
        return run_event(host, body, len, r, &err);
    if (kind == FN_PAYLOAD_V2) {
        fn_v2_request req;
        rc = fn_v2_request_decode(body, len, header_len, &req, &err);
        rc = rc ? rc : run_v2(host, &req, r, &err);
        fn_v2_request_release(&req);
    } else {
        uint8_t *img = (uint8_t *)body;
        rc = run_images(host, &img, &len, 1, r, &err);
    }
    if (rc)
        fail(r, &err);
    return rc;
}
