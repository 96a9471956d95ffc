/* Fuzzes the batching codecs: the input is scanned as a v2 request, merged with itself, and read
 * as a response split for it. None may crash, leak or read out of bounds, and whenever the
 * function host's own decoder accepts the request, the merge of two copies must decode to twice
 * its batch. An input starting with a NUL byte is a binary request: its next two bytes are the
 * header length (little-endian), the rest the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    fn_v2_batch_req req;
    int64_t header_len = -1;
    if (size >= 3 && data[0] == 0) {
        header_len = data[1] | (data[2] << 8);
        data += 3;
        size -= 3;
    }
    const char *body = (const char *)data;
    if (fn_v2_batch_parse(body, size, header_len, &req, &err) != 0)
        return 0;
    const fn_v2_batch_req *two[] = {&req, &req};
    const char *bodies[] = {body, body};
    fn_buf m = {0};
    fn_v2_request orig;
    bool host_ok = fn_v2_request_decode(data, size, header_len, &orig, &err) == 0;
    if (host_ok)
        fn_v2_request_release(&orig);
    int64_t merged_hl;
    if (fn_v2_batch_merge(two, bodies, 2, &m, &merged_hl, &err) == 0 && host_ok) {
        fn_v2_request back;
        if (fn_v2_request_decode(m.p, m.len, merged_hl, &back, &err) != 0 ||
            back.inputs[0].dims[0] != 2 * req.items)
            abort();
        fn_v2_request_release(&back);
    }
    fn_buf_release(&m);
    fn_buf out = {0};
    const fn_v2_batch_req *one[] = {&req};
    fn_v2_batch_split(data, size, one, 1, &out, &err);
    fn_buf_release(&out);
    fn_v2_batch_req_release(&req);
    return 0;
}
