/*
 * Lambda events: what a function host receives from /runtime/invocation/next. Three forms:
 * a KServe v2 request, base64 images ({"image": ...} or {"images": [...]}), or an API Gateway
 * proxy event whose body (base64 when isBase64Encoded) holds one of those or raw image bytes.
 */
#include "fn/fn_int.h"

#include <stdlib.h>
#include <string.h>

#define EVENT_MAX_IMAGES 256

/* Why: adds one base64 string to the event's image list. */
static int add_image(fn_event *ev, const fj *s, size_t idx, fm_err *err)
{
    if (!s || s->type != FJ_STR)
        return fm_err_set(err, FM_EPARSE, "image %zu must be a base64 string", idx);
    int rc = fm_base64_decode(s->str, s->len, &ev->images[idx], &ev->image_lens[idx], err);
    if (rc)
        return fm_err_prefix(err, "image %zu: ", idx);
    ev->n_images = idx + 1;
    return 0;
}

/* Why: room for n images, counted so that release frees exactly what was decoded. */
static int alloc_images(fn_event *ev, size_t n, fm_err *err)
{
    ev->images = calloc(n, sizeof *ev->images);
    ev->image_lens = calloc(n, sizeof *ev->image_lens);
    if (!ev->images || !ev->image_lens)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    return 0;
}

/* Why: the two payload forms, shared by direct events and API Gateway bodies. */
static int decode_payload(fn_event *ev, const fj *obj, fm_err *err)
{
    const fj *img = fj_get(obj, "image"), *imgs = fj_get(obj, "images");
    if (fj_get(obj, "inputs")) {
        ev->kind = FN_EVENT_V2;
        ev->v2 = obj;
        return 0;
    }
    ev->kind = FN_EVENT_IMAGES;
    if (img) {
        int rc = alloc_images(ev, 1, err);
        return rc ? rc : add_image(ev, img, 0, err);
    }
    if (imgs) {
        size_t n = imgs->type == FJ_ARR ? imgs->n : 0;
        if (n == 0)
            return fm_err_set(err, FM_EPARSE,
                              "'images' must be a non-empty array of base64 "
                              "strings");
        if (n > EVENT_MAX_IMAGES)
            return fm_err_set(err, FM_ELIMIT, "too many images (%zu, at most %d)", n,
                              EVENT_MAX_IMAGES);
        if (imgs->nums)
            return fm_err_set(err, FM_EPARSE, "image 0 must be a base64 string");
        int rc = alloc_images(ev, n, err);
        size_t i = 0;
        for (const fj *c = imgs->child; c && !rc; c = c->next, i++)
            rc = add_image(ev, c, i, err);
        return rc;
    }
    return fm_err_set(err, FM_EPARSE,
                      "event has none of 'inputs' (KServe v2), 'image', 'images' or 'body'");
}

/* Why: API Gateway proxy events wrap the client's body, possibly base64 encoded; the body is a
 * JSON payload or the raw bytes of an image. */
static int decode_api_gateway(fn_event *ev, const fj *body, const fj *b64, fm_err *err)
{
    ev->api_gateway = true;
    if (body->type != FJ_STR)
        return fm_err_set(err, FM_EPARSE, "API Gateway event: 'body' must be a string");
    uint8_t *bytes;
    size_t n;
    if (b64 && b64->type == FJ_TRUE) {
        int rc = fm_base64_decode(body->str, body->len, &bytes, &n, err);
        if (rc)
            return fm_err_prefix(err, "API Gateway event body: ");
    } else {
        n = body->len;
        if (!(bytes = malloc(n + 1)))
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        memcpy(bytes, body->str, n);
    }
    size_t i = 0;
    while (i < n && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t'))
        i++;
    if (i < n && bytes[i] == '{') {
        fj *inner;
        int rc = fj_parse((const char *)bytes, n, &ev->arena, &inner, err);
        free(bytes);
        if (rc)
            return fm_err_prefix(err, "API Gateway event body: ");
        return decode_payload(ev, inner, err);
    }
    ev->kind = FN_EVENT_IMAGES;
    int rc = alloc_images(ev, 1, err);
    if (rc) {
        free(bytes);
        return rc;
    }
    ev->images[0] = bytes;
    ev->image_lens[0] = n;
    ev->n_images = 1;
    return 0;
}

int fn_event_decode(const void *body, size_t len, fn_event *ev, fm_err *err)
{
    memset(ev, 0, sizeof *ev);
    fm_arena_init(&ev->arena, 0);
    fj *root;
    int rc = fj_parse(body, len, &ev->arena, &root, err);
    if (rc) {
        fm_err_prefix(err, "event is not valid JSON: ");
    } else if (root->type != FJ_OBJ) {
        rc = fm_err_set(err, FM_EPARSE, "event must be a JSON object");
    } else {
        const fj *b = fj_get(root, "body");
        if (b && !fj_get(root, "inputs"))
            rc = decode_api_gateway(ev, b, fj_get(root, "isBase64Encoded"), err);
        else
            rc = decode_payload(ev, root, err);
    }
    if (rc) {
        bool apigw = ev->api_gateway;
        fn_event_release(ev);
        ev->api_gateway = apigw; /* so the error reply keeps the API Gateway shape */
    }
    return rc;
}

void fn_event_release(fn_event *ev)
{
    for (size_t i = 0; i < ev->n_images; i++)
        free(ev->images[i]);
    free(ev->images);
    free(ev->image_lens);
    fm_arena_release(&ev->arena);
    memset(ev, 0, sizeof *ev);
}
