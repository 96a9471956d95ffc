/*
 * Handlers: what computes a response. The ONNX handler runs a model with faasml's inference
 * runtime; the identity handler returns its input and lets the protocols be tested without one.
 */
#include "fn/fn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int fn_handler_run(fn_handler *h, const infer_tensor *in, infer_tensor *out, fm_err *err)
{
    for (size_t i = 0; i < h->n_outputs; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].name = h->outputs[i].name;
    }
    return h->ops->run(h, in, out, err);
}

void fn_handler_free(fn_handler *h)
{
    if (!h)
        return;
    if (h->ops && h->ops->free)
        h->ops->free(h);
    free(h);
}

/* ---- identity -------------------------------------------------------------------------------- */
static int identity_run(fn_handler *h, const infer_tensor *in, infer_tensor *out, fm_err *err)
{
    (void)err;
    const char *name = out[0].name;
    out[0] = in[0];
    out[0].name = name;
    (void)h;
    return 0;
}

static const fn_handler_ops identity_ops = {identity_run, NULL};

/* Why: "identity[:DTYPE[:D0xD1x...]]" declares the tensor the test handler accepts. */
int fn_handler_identity_new(const char *desc, fn_handler **out, fm_err *err)
{
    *out = NULL;
    fn_handler *h = calloc(1, sizeof *h);
    if (!h)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    h->ops = &identity_ops;
    h->platform = "faasml_identity";
    h->n_inputs = h->n_outputs = 1;
    infer_io_info *io = &h->inputs[0];
    io->name = "input";
    io->dtype = INFER_DTYPE_FP32;
    io->ndim = 2;
    io->dims[0] = io->dims[1] = -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", desc);
    char *save = NULL, *kind = strtok_r(buf, ":", &save), *dt = strtok_r(NULL, ":", &save),
         *shape = strtok_r(NULL, ":", &save);
    int rc = 0;
    if (!kind || strcmp(kind, "identity") != 0)
        rc = fm_err_set(err, FM_EINVAL, "unknown builtin handler '%s' (known: identity)", desc);
    else if (dt && (infer_dtype_parse(dt, &io->dtype) || infer_dtype_size(io->dtype) == 0))
        rc = fm_err_set(err, FM_EINVAL, "builtin handler '%s': unknown datatype '%s'", desc, dt);
    if (!rc && shape) {
        io->ndim = 0;
        for (char *s2 = NULL, *d = strtok_r(shape, "x", &s2); d && !rc;
             d = strtok_r(NULL, "x", &s2)) {
            int64_t v;
            if (io->ndim == INFER_MAX_DIMS || fm_parse_i64(d, &v) || v < -1 || v == 0)
                rc = fm_err_set(err, FM_EINVAL, "builtin handler '%s': invalid shape", desc);
            else
                io->dims[io->ndim++] = v;
        }
        if (!rc && io->ndim == 0)
            rc = fm_err_set(err, FM_EINVAL, "builtin handler '%s': invalid shape", desc);
    }
    if (rc) {
        free(h);
        return rc;
    }
    h->outputs[0] = *io;
    h->outputs[0].name = "output";
    *out = h;
    return 0;
}

/* ---- ONNX --------------------------------------------------------------------------------- */
typedef struct onnx_impl {
    infer_model *model;
    infer_session *session;
} onnx_impl;

static int onnx_run(fn_handler *h, const infer_tensor *in, infer_tensor *out, fm_err *err)
{
    onnx_impl *o = h->impl;
    return infer_session_run(o->session, in, h->n_inputs, out, h->n_outputs, err);
}

static void onnx_free(fn_handler *h)
{
    onnx_impl *o = h->impl;
    if (!o)
        return;
    infer_session_free(o->session);
    infer_model_free(o->model);
    free(o);
}

static const fn_handler_ops onnx_ops = {onnx_run, onnx_free};

int fn_precision_parse(const char *s, fn_precision *out)
{
    for (int p = FN_PRECISION_FP32; p <= FN_PRECISION_INT8; p++)
        if (strcasecmp(s, fn_precision_name((fn_precision)p)) == 0) {
            *out = (fn_precision)p;
            return 0;
        }
    return FM_EINVAL;
}

const char *fn_precision_name(fn_precision p)
{
    return p == FN_PRECISION_BF16 ? "bf16" : p == FN_PRECISION_INT8 ? "int8" : "fp32";
}

int fn_handler_onnx_new(const char *path, int threads, int max_batch, fn_precision precision,
                        fn_handler **out, fm_err *err)
{
    *out = NULL;
    fn_handler *h = calloc(1, sizeof *h);
    onnx_impl *o = calloc(1, sizeof *o);
    if (!h || !o) {
        free(h);
        free(o);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    h->ops = &onnx_ops;
    h->impl = o;
    h->platform = "onnx_onnxv1";
    int rc = infer_model_open(path, &o->model, err);
    if (!rc) {
        h->n_inputs = infer_model_n_inputs(o->model);
        h->n_outputs = infer_model_n_outputs(o->model);
        if (h->n_inputs > FN_MAX_IO || h->n_outputs > FN_MAX_IO || h->n_outputs == 0)
            rc = fm_err_set(err, FM_ELIMIT,
                            "cannot serve model '%s': %zu inputs and %zu outputs (1 to %d each)",
                            path, h->n_inputs, h->n_outputs, FN_MAX_IO);
    }
    if (!rc && precision == FN_PRECISION_INT8) {
        infer_model_info mi;
        infer_model_get_info(o->model, &mi);
        if (mi.n_int_nodes == 0)
            rc = fm_err_set(err, FM_ESCHEMA,
                            "precision 'int8' needs a quantized model, and '%s' has no "
                            "quantization nodes (make one with `faasml quantize`)",
                            path);
    }
    for (size_t i = 0; !rc && i < h->n_inputs; i++)
        rc = infer_model_input(o->model, i, &h->inputs[i]);
    for (size_t i = 0; !rc && i < h->n_outputs; i++)
        rc = infer_model_output(o->model, i, &h->outputs[i]);
    if (!rc) {
        infer_session_opts so;
        infer_session_opts_init(&so);
        so.threads = threads;
        so.max_batch = max_batch;
        so.precision = precision == FN_PRECISION_BF16 ? INFER_PRECISION_BF16 : INFER_PRECISION_FP32;
        rc = infer_session_new(o->model, &so, &o->session, err);
    }
    if (rc) {
        fn_handler_free(h);
        return rc;
    }
    infer_timings t;
    infer_session_timings(o->session, &t);
    h->load_ns = t.read_ns + t.parse_ns + t.graph_ns + t.weights_ns;
    h->plan_ns = t.plan_ns + t.pack_ns;
    *out = h;
    return 0;
}
