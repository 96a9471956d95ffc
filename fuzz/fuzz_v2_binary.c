/* Fuzzes the binary tensor extension: the first two bytes give Inference-Header-Content-Length
 * (little-endian), the rest is the body (JSON header, then tensor bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fn_handler *h;
    fm_err err = {0};
    if (!h && fn_handler_identity_new("identity:UINT8:-1x4", &h, &err) != 0)
        abort();
    if (size < 2)
        return 0;
    int64_t hl = data[0] | (data[1] << 8);
    size_t len = size - 2;
    uint8_t *body = malloc(len ? len : 1); /* exact size, so overreads are caught */
    memcpy(body, data + 2, len);
    fn_v2_request req;
    if (fn_v2_request_decode(body, len, hl, &req, &err) == 0) {
        if (fn_v2_request_check(h, &req, &err) == 0) {
            infer_tensor out[FN_MAX_IO];
            fn_buf b = {0};
            int64_t rhl;
            if (fn_handler_run(h, req.inputs, out, &err) == 0)
                fn_v2_response_encode("m", &req, out, h->n_outputs, &b, &rhl, &err);
            fn_buf_release(&b);
        }
        fn_v2_request_release(&req);
    }
    free(body);
    return 0;
}
