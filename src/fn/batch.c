/* Dynamic batching codecs: several KServe v2 requests (JSON, or the binary tensor extension)
 * merged along the batch dimension
 * (dim 0 of every input) into one request, and the merged response split back into one response
 * per caller, each with its own rows of every output. Used by the platform, which batches the
 * requests queued for one function into one invocation of the function host.
 *
 * Why not fn_v2_request_decode: merging must not cost more than the inference it saves. A v2
 * request's tensor data is by far its largest part, and decoding then re-printing every number is
 * slower than the inference of a small model. So a request is scanned once (fn_v2_batch_parse):
 * a small JSON walker finds each input's "data" array and counts its values without converting
 * them, the rest (names, datatypes, shapes, id, requested outputs) is read with cJSON from a
 * skeleton of the request with those arrays emptied, and the merge copies the arrays' text. The
 * function host still parses and checks every number of the merged request. Binary tensors are
 * byte spans after the JSON header, joined as bytes: a binary batch costs one copy of its tensors
 * and no number conversion at all. */
#include "fn_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_MAX_DEPTH 64

/* ---- a JSON walker: spans and value counts, no conversion ---------------------------------- */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
        if ((unsigned char)*p < 0x20)
            return NULL;
    }
    return NULL;
}

/* Skips one value starting at p (after whitespace); counts its scalar leaves. NULL: not JSON. */
static const char *skip_value(const char *p, const char *e, int depth, size_t *leaves)
{
    p = ws(p, e);
    if (p >= e || depth > WALK_MAX_DEPTH)
        return NULL;
    if (*p == '"') {
        (*leaves)++;
        return skip_string(p, e);
    }
    if (*p == '[' || *p == '{') {
        char close = *p == '[' ? ']' : '}';
        bool obj = *p == '{';
        p = ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                size_t dummy = 0;
                p = ws(p, e);
                if (p >= e || *p != '"' || !(p = skip_string(p, e)))
                    return NULL;
                p = ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p = skip_value(p + 1, e, depth + 1, &dummy);
            } else {
                p = skip_value(p, e, depth + 1, leaves);
            }
            if (!p || (p = ws(p, e)) >= e)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p++;
        }
    }
    const char *s = p;
    while (p < e && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' || *p == 'e' ||
                     *p == 'E' || (*p >= 'a' && *p <= 'z')))
        p++;
    if (p == s)
        return NULL;
    (*leaves)++;
    return p;
}

/* Is the string token at p (with its quotes, ending before end) equal to key? */
static bool key_is(const char *p, const char *end, const char *key)
{
    size_t n = strlen(key);
    return (size_t)(end - p) == n + 2 && memcmp(p + 1, key, n) == 0;
}

/* Finds the span of inputs[i].data for every input (i < FN_MAX_IO): offsets of '[' and after
 * ']' and its value count. Returns the number of inputs, or -1 when the text is not JSON. */
static int find_data(const char *b, size_t len, size_t *from, size_t *to, size_t *leaves)
{
    const char *p = ws(b, b + len), *e = b + len;
    if (p >= e || *p != '{')
        return -1;
    int n = 0;
    p = ws(p + 1, e);
    if (p < e && *p == '}')
        return 0;
    for (;;) {
        const char *k = ws(p, e), *ke;
        if (k >= e || *k != '"' || !(ke = skip_string(k, e)))
            return -1;
        p = ws(ke, e);
        if (p >= e || *p != ':')
            return -1;
        p = ws(p + 1, e);
        size_t dummy = 0;
        if (key_is(k, ke, "inputs") && p < e && *p == '[') {
            p = ws(p + 1, e);
            while (p < e && *p != ']') {
                if (*p != '{')
                    return -1;
                /* one input object: find its "data" member */
                p = ws(p + 1, e);
                while (p < e && *p != '}') {
                    const char *ik = p, *ike;
                    if (*ik != '"' || !(ike = skip_string(ik, e)))
                        return -1;
                    p = ws(ike, e);
                    if (p >= e || *p != ':')
                        return -1;
                    p = ws(p + 1, e);
                    const char *v = p;
                    size_t cnt = 0;
                    if (!(p = skip_value(p, e, 1, &cnt)))
                        return -1;
                    if (key_is(ik, ike, "data") && *v == '[' && n < FN_MAX_IO && !to[n]) {
                        from[n] = (size_t)(v - b);
                        to[n] = (size_t)(p - b);
                        leaves[n] = cnt;
                    }
                    p = ws(p, e);
                    if (p < e && *p == ',')
                        p = ws(p + 1, e);
                }
                if (p >= e)
                    return -1;
                n++;
                p = ws(p + 1, e);
                if (p < e && *p == ',')
                    p = ws(p + 1, e);
            }
            if (p >= e)
                return -1;
            p++;
        } else if (!(p = skip_value(p, e, 1, &dummy))) {
            return -1;
        }
        p = ws(p, e);
        if (p < e && *p == '}')
            return n;
        if (p >= e || *p != ',')
            return -1;
        p++;
    }
}

/* ---- parse --------------------------------------------------------------------------------- */

/* Why: KServe datatype strings are case-sensitive, unlike infer_dtype_parse. */
static bool dtype_ok(const char *s)
{
    infer_dtype t;
    return infer_dtype_parse(s, &t) == 0 && strcmp(infer_dtype_name(t), s) == 0 &&
           t != INFER_DTYPE_BYTES;
}

/* Reads one input's name, datatype and shape. has_data: the input has a JSON data array of
 * `leaves` values; otherwise, in a binary request (binary), its parameters give binary_data_size.
 */
static int read_input(const cJSON *in, int i, bool has_data, size_t leaves, bool binary,
                      fn_v2_batch_input *x, fm_err *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
    if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof x->name)
        return fm_err_set(err, FM_EPARSE, "inputs[%d]: 'name' must be a string", i);
    snprintf(x->name, sizeof x->name, "%s", name->valuestring);
    if (!cJSON_IsString(dt) || !dtype_ok(dt->valuestring))
        return fm_err_set(err, FM_ETYPE, "input '%s': datatype must be a KServe numeric type",
                          x->name);
    snprintf(x->datatype, sizeof x->datatype, "%s", dt->valuestring);
    if (params && (!cJSON_IsObject(params) || !bsize || cJSON_GetArraySize(params) != 1))
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "input '%s': parameters other than binary_data_size cannot be batched",
                          x->name);
    if (bsize && !binary)
        return fm_err_set(err, FM_EPROTO,
                          "input '%s': binary_data_size given but the request has no "
                          "Inference-Header-Content-Length",
                          x->name);
    if (bsize && has_data)
        return fm_err_set(err, FM_EPROTO, "input '%s': both 'data' and binary_data_size given",
                          x->name);
    if (!bsize && !has_data)
        return fm_err_set(err, FM_EPARSE, "inputs[%d]: no JSON 'data' array%s", i,
                          binary ? " and no binary_data_size" : "");
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > INFER_MAX_DIMS)
        return fm_err_set(err, FM_ESHAPE, "input '%s': 'shape' must be an array of at most %d",
                          x->name, INFER_MAX_DIMS);
    x->ndim = 0;
    int64_t numel = 1;
    for (const cJSON *d = shape->child; d; d = d->next) {
        if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) || d->valuedouble < 0 ||
            d->valuedouble > 1e12)
            return fm_err_set(err, FM_ESHAPE, "input '%s': shape dims must be integers >= 0",
                              x->name);
        x->dims[x->ndim++] = (int64_t)d->valuedouble;
        numel =
            numel > INT64_MAX / ((int64_t)d->valuedouble + 1) ? -1 : numel * x->dims[x->ndim - 1];
        if (numel < 0)
            return fm_err_set(err, FM_ESHAPE, "input '%s': shape too large", x->name);
    }
    if (x->ndim < 1)
        return fm_err_set(err, FM_ESHAPE, "input '%s' is a scalar: no batch dimension", x->name);
    if (has_data && (int64_t)leaves != numel)
        return fm_err_set(err, FM_ESHAPE, "input '%s': shape has %lld elements, data has %zu",
                          x->name, (long long)numel, leaves);
    if (bsize) {
        infer_dtype t;
        infer_dtype_parse(x->datatype, &t); /* dtype_ok said it parses */
        double want = (double)numel * (double)infer_dtype_size(t);
        if (!cJSON_IsNumber(bsize) || bsize->valuedouble != want)
            return fm_err_set(err, FM_ESHAPE,
                              "input '%s': binary_data_size must be %.0f bytes (shape of %lld "
                              "%s elements)",
                              x->name, want, (long long)numel, x->datatype);
        x->binary = true;
        x->data_len = (size_t)want;
    }
    return 0;
}

/* Why: a batched response is split as JSON, so a caller asking for binary outputs would get an
 * answer in another shape than it asked for; it is refused instead, by name. */
static int check_outputs_json(const cJSON *root, fm_err *err)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "binary_data_output")))
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "binary_data_output cannot be batched (a batched response is JSON)");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    for (const cJSON *o = cJSON_IsArray(outs) ? outs->child : NULL; o; o = o->next) {
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(op, "binary_data")))
            return fm_err_set(err, FM_EUNSUPPORTED,
                              "binary_data outputs cannot be batched (a batched response is JSON)");
    }
    return 0;
}

void fn_v2_batch_req_release(fn_v2_batch_req *r)
{
    free(r->id);
    for (size_t i = 0; i < r->n_outputs; i++)
        free(r->outputs[i]);
    memset(r, 0, sizeof *r);
}

int fn_v2_batch_parse(const char *body, size_t len, int64_t header_len, fn_v2_batch_req *r,
                      fm_err *err)
{
    memset(r, 0, sizeof *r);
    bool binary = header_len >= 0;
    if (binary && (uint64_t)header_len > len)
        return fm_err_set(err, FM_EPROTO,
                          "Inference-Header-Content-Length %lld is past the end of the body (%zu "
                          "bytes)",
                          (long long)header_len, len);
    size_t blen = len; /* the whole body */
    if (binary)
        len = (size_t)header_len; /* from here on: the JSON header */
    size_t from[FN_MAX_IO] = {0}, to[FN_MAX_IO] = {0}, leaves[FN_MAX_IO] = {0};
    int n = find_data(body, len, from, to, leaves);
    if (n < 0)
        return fm_err_set(err, FM_EPARSE, "the request is not a JSON object");
    if (n == 0)
        return fm_err_set(err, FM_EINVAL, "the request has no inputs");
    if (n > FN_MAX_IO)
        return fm_err_set(err, FM_ELIMIT, "more than %d inputs", FN_MAX_IO);
    /* The skeleton: the request with every data array emptied. */
    char *sk = malloc(len + 1);
    if (!sk)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    size_t sl = 0, at = 0;
    for (int i = 0; i < n; i++) {
        if (!to[i])
            continue;
        memcpy(sk + sl, body + at, from[i] - at);
        sl += from[i] - at;
        memcpy(sk + sl, "[]", 2);
        sl += 2;
        at = to[i];
    }
    memcpy(sk + sl, body + at, len - at);
    sl += len - at;
    cJSON *root = cJSON_ParseWithLength(sk, sl);
    free(sk);
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    int rc = 0;
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) != n)
        rc = fm_err_set(err, FM_EPARSE, "'inputs' must be an array of input objects");
    if (!rc)
        rc = check_outputs_json(root, err);
    int i = 0;
    size_t at_bin = len; /* binary tensors follow the header in input order */
    for (const cJSON *in = ins ? ins->child : NULL; !rc && in; in = in->next, i++) {
        fn_v2_batch_input *x = &r->inputs[i];
        rc = read_input(in, i, to[i] != 0, leaves[i], binary, x, err);
        if (!rc && x->binary) {
            if (x->data_len > blen - at_bin)
                rc = fm_err_set(err, FM_ESHAPE,
                                "input '%s': %zu bytes of binary data, %zu left in the body",
                                x->name, x->data_len, blen - at_bin);
            x->data_off = at_bin;
            at_bin += rc ? 0 : x->data_len;
        } else if (!rc) {
            x->data_off = from[i] + 1; /* inside the brackets */
            x->data_len = to[i] - from[i] - 2;
        }
        if (!rc && i > 0 && x->dims[0] != r->inputs[0].dims[0])
            rc = fm_err_set(err, FM_ESHAPE,
                            "inputs disagree on the batch dimension (%lld vs %lld for '%s')",
                            (long long)r->inputs[0].dims[0], (long long)x->dims[0], x->name);
    }
    r->n_inputs = (size_t)n;
    if (!rc && binary && at_bin != blen)
        rc = fm_err_set(err, FM_ESHAPE,
                        "binary_data_size values add up to %zu bytes, the body has %zu after the "
                        "header",
                        at_bin - len, blen - len);
    if (!rc && r->inputs[0].dims[0] < 1)
        rc = fm_err_set(err, FM_ESHAPE, "the batch dimension is 0");
    r->items = rc ? 0 : r->inputs[0].dims[0];
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!rc && cJSON_IsString(id) && !(r->id = strdup(id->valuestring)))
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    for (const cJSON *o = cJSON_IsArray(outs) ? outs->child : NULL; !rc && o; o = o->next) {
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsString(on) || r->n_outputs >= FN_MAX_IO)
            rc = fm_err_set(err, FM_EPARSE, "'outputs' must hold at most %d {\"name\"} objects",
                            FN_MAX_IO);
        else if (!(r->outputs[r->n_outputs++] = strdup(on->valuestring)))
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    cJSON_Delete(root);
    if (rc)
        fn_v2_batch_req_release(r);
    return rc;
}

/* ---- merge --------------------------------------------------------------------------------- */

static const fn_v2_batch_input *find_input(const fn_v2_batch_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].name, name) == 0)
            return &r->inputs[i];
    return NULL;
}

/* Why: requests can be merged only when every input agrees on everything but dim 0. */
static int check_compatible(const fn_v2_batch_req *a, const fn_v2_batch_req *b, size_t bi,
                            fm_err *err)
{
    if (a->n_inputs != b->n_inputs)
        return fm_err_set(err, FM_ESHAPE, "request %zu has %zu inputs, the first has %zu", bi,
                          b->n_inputs, a->n_inputs);
    for (size_t i = 0; i < a->n_inputs; i++) {
        const fn_v2_batch_input *x = &a->inputs[i], *y = find_input(b, x->name);
        if (!y)
            return fm_err_set(err, FM_ESHAPE, "request %zu lacks input '%s'", bi, x->name);
        bool same = strcmp(x->datatype, y->datatype) == 0 && x->ndim == y->ndim;
        for (int d = 1; same && d < x->ndim; d++)
            same = x->dims[d] == y->dims[d];
        if (!same) {
            char sx[128], sy[128];
            fn_shape_str(x->dims, x->ndim, sx, sizeof sx);
            fn_shape_str(y->dims, y->ndim, sy, sizeof sy);
            return fm_err_set(err, FM_ESHAPE,
                              "input '%s': request %zu has %s %s, the first has %s %s", x->name, bi,
                              y->datatype, sy, x->datatype, sx);
        }
    }
    return 0;
}

/* Why: one request of a mixed batch sends an input as JSON, another as binary; the merged input
 * is JSON, and the binary member's values are printed as the function host prints its own. */
static int put_binary_as_json(const fn_v2_batch_input *y, const char *body, fn_buf *out)
{
    infer_tensor t = {.ndim = y->ndim, .data = (void *)(body + y->data_off), .bytes = y->data_len};
    memcpy(t.dims, y->dims, sizeof t.dims);
    infer_dtype_parse(y->datatype, &t.dtype);
    fn_buf tmp = {0};
    int rc = fn_v2_data_encode(&t, &tmp); /* "[v,...]": the brackets are dropped */
    if (!rc && tmp.len > 2)
        rc = fn_buf_append(out, tmp.p + 1, tmp.len - 2);
    fn_buf_release(&tmp);
    return rc;
}

/* Does every request send input `name` as binary? */
static bool all_binary(const fn_v2_batch_req *const *reqs, size_t n, const char *name)
{
    for (size_t r = 0; r < n; r++)
        if (!find_input(reqs[r], name)->binary)
            return false;
    return true;
}

int fn_v2_batch_merge(const fn_v2_batch_req *const *reqs, const char *const *bodies, size_t n,
                      fn_buf *out, int64_t *header_len, fm_err *err)
{
    *header_len = -1;
    if (n == 0)
        return fm_err_set(err, FM_EINVAL, "nothing to merge");
    const fn_v2_batch_req *a = reqs[0];
    int64_t total = 0;
    for (size_t r = 0; r < n; r++) {
        int rc = r > 0 ? check_compatible(a, reqs[r], r, err) : 0;
        if (rc)
            return rc;
        total += reqs[r]->items;
    }
    bool bin[FN_MAX_IO], any_bin = false;
    int rc = fn_buf_puts(out, "{\"inputs\":[");
    for (size_t i = 0; i < a->n_inputs && !rc; i++) {
        const fn_v2_batch_input *x = &a->inputs[i];
        bin[i] = all_binary(reqs, n, x->name);
        any_bin = any_bin || bin[i];
        rc = fn_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : fn_buf_json_str(out, x->name);
        rc = rc ? rc
                : fn_buf_printf(out, ",\"datatype\":\"%s\",\"shape\":[%lld", x->datatype,
                                (long long)total);
        for (int d = 1; d < x->ndim && !rc; d++)
            rc = fn_buf_printf(out, ",%lld", (long long)x->dims[d]);
        if (bin[i]) {
            size_t bytes = 0;
            for (size_t r = 0; r < n; r++)
                bytes += find_input(reqs[r], x->name)->data_len;
            rc =
                rc ? rc : fn_buf_printf(out, "],\"parameters\":{\"binary_data_size\":%zu}}", bytes);
            continue;
        }
        rc = rc ? rc : fn_buf_puts(out, "],\"data\":[");
        /* Each request's values, joined: nested and flat data are equivalent in v2. */
        bool first = true;
        for (size_t r = 0; r < n && !rc; r++) {
            const fn_v2_batch_input *y = find_input(reqs[r], x->name);
            if (!y->data_len)
                continue;
            if (!first)
                rc = fn_buf_puts(out, ",");
            first = false;
            if (!rc)
                rc = y->binary ? put_binary_as_json(y, bodies[r], out)
                               : fn_buf_append(out, bodies[r] + y->data_off, y->data_len);
        }
        rc = rc ? rc : fn_buf_puts(out, "]}");
    }
    rc = rc ? rc : fn_buf_puts(out, "]}");
    if (!rc && any_bin) { /* the header ends here; the binary tensors follow in input order */
        *header_len = (int64_t)out->len;
        for (size_t i = 0; i < a->n_inputs && !rc; i++)
            for (size_t r = 0; bin[i] && r < n && !rc; r++) {
                const fn_v2_batch_input *y = find_input(reqs[r], a->inputs[i].name);
                rc = fn_buf_append(out, bodies[r] + y->data_off, y->data_len);
            }
    }
    return rc ? fm_err_set(err, rc, "out of memory merging a batch") : 0;
}

/* ---- split --------------------------------------------------------------------------------- */

/* Why: the function host prints floats with %.9g; printing the parsed value the same way gives
 * back the same text, so a caller's slice reads exactly as an unbatched response would. */
static int put_num(fn_buf *b, const char *dtype, const cJSON *v)
{
    if (cJSON_IsBool(v))
        return fn_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    if (!cJSON_IsNumber(v))
        return fn_buf_puts(b, "null");
    double d = v->valuedouble;
    if (strcmp(dtype, "FP64") == 0)
        return fn_buf_printf(b, "%.17g", d);
    if (dtype[0] == 'F' || dtype[0] == 'B')
        return fn_buf_printf(b, "%.9g", d);
    return fn_buf_printf(b, "%.0f", d);
}

static bool wanted(const fn_v2_batch_req *r, const char *name)
{
    if (!r || r->n_outputs == 0)
        return true;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i], name) == 0)
            return true;
    return false;
}

/* One caller's response: every (requested) output sliced to rows [row, row + rows). */
static int split_one(const cJSON *root, const cJSON *outs, const fn_v2_batch_req *req, int64_t row,
                     int64_t rows, int64_t total, fn_buf *b, fm_err *err)
{
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(root, "model_version");
    int rc = fn_buf_puts(b, "{\"model_name\":");
    rc = rc ? rc : fn_buf_json_str(b, cJSON_IsString(mn) ? mn->valuestring : "");
    rc = rc ? rc : fn_buf_puts(b, ",\"model_version\":");
    rc = rc ? rc : fn_buf_json_str(b, cJSON_IsString(mv) ? mv->valuestring : "1");
    if (!rc && req->id) {
        rc = fn_buf_puts(b, ",\"id\":");
        rc = rc ? rc : fn_buf_json_str(b, req->id);
    }
    rc = rc ? rc : fn_buf_puts(b, ",\"outputs\":[");
    bool first = true;
    for (const cJSON *o = outs->child; o && !rc; o = o->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "datatype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
        if (!cJSON_IsString(name) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) ||
            !cJSON_IsArray(data))
            return fm_err_set(err, FM_EPROTO,
                              "the batched response has an output without "
                              "name, datatype, shape or JSON data");
        int nd = cJSON_GetArraySize(shape);
        const cJSON *d0 = cJSON_GetArrayItem(shape, 0);
        if (nd < 1 || !cJSON_IsNumber(d0) || d0->valuedouble != (double)total)
            return fm_err_set(err, FM_ESHAPE,
                              "output '%s' has no batch dimension of %lld: cannot split it",
                              name->valuestring, (long long)total);
        int64_t per = 1;
        for (const cJSON *d = d0->next; d; d = d->next) {
            if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0 && d->valuedouble <= 1e9) ||
                d->valuedouble != floor(d->valuedouble) || per > (int64_t)1e9)
                return fm_err_set(err, FM_ESHAPE, "output '%s': bad shape", name->valuestring);
            per *= (int64_t)d->valuedouble;
        }
        if ((per > 0 && total > INT64_MAX / per) ||
            (int64_t)cJSON_GetArraySize(data) != per * total)
            return fm_err_set(err, FM_ESHAPE, "output '%s': data is not flat or not %lld values",
                              name->valuestring, (long long)(per * total));
        if (!wanted(req, name->valuestring))
            continue;
        rc = fn_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        rc = rc ? rc : fn_buf_json_str(b, name->valuestring);
        rc = rc ? rc : fn_buf_puts(b, ",\"datatype\":");
        rc = rc ? rc : fn_buf_json_str(b, dt->valuestring);
        rc = rc ? rc : fn_buf_printf(b, ",\"shape\":[%lld", (long long)rows);
        for (const cJSON *d = d0->next; d && !rc; d = d->next)
            rc = fn_buf_printf(b, ",%lld", (long long)d->valuedouble);
        rc = rc ? rc : fn_buf_puts(b, "],\"data\":[");
        /* cJSON arrays are linked lists: walk once to the slice. */
        const cJSON *v = data->child;
        for (int64_t k = 0; v && k < row * per; k++)
            v = v->next;
        for (int64_t k = 0; v && k < rows * per && !rc; k++, v = v->next) {
            if (k)
                rc = fn_buf_puts(b, ",");
            rc = rc ? rc : put_num(b, dt->valuestring, v);
        }
        rc = rc ? rc : fn_buf_puts(b, "]}");
    }
    rc = rc ? rc : fn_buf_puts(b, "]}");
    return rc ? fm_err_set(err, rc, "out of memory splitting a batch") : 0;
}

int fn_v2_batch_split(const void *resp, size_t len, const fn_v2_batch_req *const *reqs, size_t n,
                      fn_buf *outs, fm_err *err)
{
    cJSON *root = cJSON_ParseWithLength(resp, len);
    if (!root)
        return fm_err_set(err, FM_EPARSE, "the batched response is not JSON");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    int rc =
        cJSON_IsArray(o) ? 0 : fm_err_set(err, FM_EPROTO, "the batched response has no 'outputs'");
    int64_t total = 0;
    for (size_t r = 0; r < n; r++)
        total += reqs[r]->items;
    int64_t row = 0;
    for (size_t r = 0; r < n && !rc; r++) {
        rc = split_one(root, o, reqs[r], row, reqs[r]->items, total, &outs[r], err);
        row += reqs[r]->items;
    }
    cJSON_Delete(root);
    return rc;
}
