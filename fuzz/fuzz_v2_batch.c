/* Fuzzes the batching codecs: the input is read as a v2 request, merged with itself, and as a
 * response split for it; none may crash, leak or read out of bounds, and a merge of two copies
 * must decode as twice the batch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fn_v2_request req;
    if (fn_v2_request_decode(data, size, -1, &req, &err) != 0)
        return 0;
    int64_t items;
    if (fn_v2_batch_items(&req, &items, &err) == 0) {
        const fn_v2_request *two[] = {&req, &req};
        fn_buf m = {0};
        if (fn_v2_batch_merge(two, 2, &m, &err) == 0) {
            fn_v2_request back;
            int64_t n2 = 0;
            if (fn_v2_request_decode(m.p, m.len, -1, &back, &err) != 0 ||
                fn_v2_batch_items(&back, &n2, &err) != 0 || n2 != 2 * items)
                abort();
            fn_v2_request_release(&back);
        }
        fn_buf_release(&m);
        fn_buf out = {0};
        const fn_v2_request *one[] = {&req};
        fn_v2_batch_split(data, size, one, 1, &out, &err);
        fn_buf_release(&out);
    }
    fn_v2_request_release(&req);
    return 0;
}
