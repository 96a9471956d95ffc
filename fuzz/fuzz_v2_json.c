/* Fuzzes the KServe v2 JSON request decoder, the check against a model and the response encoder,
 * and the Lambda event decoder on the same bytes: none may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "fn/fn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fn_handler *h;
    fm_err err = {0};
    if (!h && fn_handler_identity_new("identity:FP32:-1x-1", &h, &err) != 0)
        abort();
    fn_v2_request req;
    if (fn_v2_request_decode(data, size, -1, &req, &err) == 0) {
        if (fn_v2_request_check(h, &req, &err) == 0) {
            infer_tensor out[FN_MAX_IO];
            fn_buf b = {0};
            int64_t hl;
            if (fn_handler_run(h, req.inputs, out, &err) == 0)
                fn_v2_response_encode("m", &req, out, h->n_outputs, &b, &hl, &err);
            fn_buf_release(&b);
        }
        fn_v2_request_release(&req);
    }
    fn_event ev;
    if (fn_event_decode(data, size, &ev, &err) == 0)
        fn_event_release(&ev);
    return 0;
}
