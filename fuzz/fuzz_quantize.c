/*
 * Fuzz target for the quantizer: any bytes that load as a model (infer_model_open_buffer) are
 * quantized dynamically and statically (one calibration sample of zeros at the declared shapes,
 * symbolic dims = 1), and every file written must load again. Inputs larger than 1 MiB of data
 * are not calibrated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infer/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Why: a written model that does not load is a bug of the writer, not of the input. */
static void check_reloads(const char *path)
{
    fm_err err = {0};
    infer_model *q;
    if (infer_model_open(path, &q, &err)) {
        fprintf(stderr, "fuzz_quantize: written model does not load: %s\n", err.msg);
        abort();
    }
    infer_model_free(q);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    fm_err err = {0};
    infer_model *m;
    char path[128];
    snprintf(path, sizeof path, "/tmp/fm_fuzz_quantize_%d.onnx", (int)getpid());
    if (infer_model_open_buffer(copy, size, "fuzz", &m, &err) == 0) {
        infer_quant_opts o;
        infer_quant_opts_init(&o);
        o.mode = INFER_QUANT_DYNAMIC;
        if (infer_quantize(m, &o, path, NULL, &err) == 0)
            check_reloads(path);
        size_t n = infer_model_n_inputs(m);
        infer_tensor in[8] = {0};
        bool ok = n <= 8;
        for (size_t i = 0; i < n && ok; i++) {
            infer_io_info info;
            infer_model_input(m, i, &info);
            in[i].name = info.name;
            in[i].dtype = info.dtype;
            in[i].ndim = info.ndim < 0 ? 0 : info.ndim;
            for (int k = 0; k < in[i].ndim; k++)
                in[i].dims[k] = info.dims[k] < 0 ? 1 : info.dims[k];
            int64_t cnt = infer_tensor_numel(&in[i]);
            size_t esz = infer_dtype_size(info.dtype);
            ok = cnt >= 0 && esz && (uint64_t)cnt <= (1u << 20) / esz;
            if (ok) {
                in[i].bytes = (size_t)cnt * esz;
                in[i].data = calloc(1, in[i].bytes + 1);
                ok = in[i].data != NULL;
            }
        }
        if (ok) {
            o.mode = INFER_QUANT_STATIC;
            o.calib = in;
            o.n_calib = 1;
            o.method = size % 2 ? INFER_CALIB_PERCENTILE : INFER_CALIB_MINMAX;
            if (infer_quantize(m, &o, path, NULL, &err) == 0)
                check_reloads(path);
        }
        for (size_t i = 0; i < 8; i++)
            free(in[i].data);
        infer_model_free(m);
    }
    free(copy);
    return 0;
}
