/*
 * Fuzz target for the ONNX loader: any bytes go through infer_model_open_buffer; models that load
 * get a session and one run on zero inputs of their declared shapes (symbolic dims = 1), so the
 * planner and kernels see fuzzed graphs too. Inputs larger than 1 MiB of data are not run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so reads past the end are caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open_buffer(copy, size, "fuzz", &m, &err) == 0) {
        infer_session *s;
        if (infer_session_new(m, NULL, &s, &err) == 0) {
            size_t n = infer_model_n_inputs(m);
            infer_tensor in[8] = {0};
            bool ok = n <= 8;
            for (size_t i = 0; i < n && ok; i++) {
                infer_io_info info;
                infer_model_input(m, i, &info);
                in[i].dtype = info.dtype;
                in[i].ndim = info.ndim < 0 ? 0 : info.ndim;
                for (int k = 0; k < in[i].ndim; k++)
                    in[i].dims[k] = info.dims[k] < 0 ? 1 : info.dims[k];
                int64_t cnt = infer_tensor_numel(&in[i]);
                size_t esz = infer_dtype_size(info.dtype);
                if (cnt < 0 || !esz || (uint64_t)cnt > (1u << 20) / esz) {
                    ok = false;
                    break;
                }
                in[i].bytes = (size_t)cnt * esz;
                in[i].data = calloc(1, in[i].bytes + 1);
                ok = in[i].data != NULL;
            }
            if (ok) {
                infer_tensor out[8] = {0};
                size_t no = infer_model_n_outputs(m);
                (void)infer_session_run(s, in, n, out, no < 8 ? no : 8, &err);
            }
            for (size_t i = 0; i < 8; i++)
                free(in[i].data);
            infer_session_free(s);
        }
        infer_model_free(m);
    }
    free(copy);
    return 0;
}
