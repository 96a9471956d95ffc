/*
 * Fuzz target for the packed-weight cache reader (infer__packcache_parse): any bytes are checked
 * against a key. The key is taken from the input's own header when it has one, and for inputs whose
 * first byte is odd the checksum is recomputed first, so the checks behind the checksum (key
 * fields, entry lookups) see fuzzed data too. Every entry of an accepted file is read in full.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool fix = data[0] & 1;
    data++;
    size--;
    uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end are caught */
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    pack_key key = {0};
    if (size >= sizeof(pack_hdr)) {
        pack_hdr h;
        memcpy(&h, copy, sizeof h);
        if (fix) {
            h.checksum = infer__packcache_checksum(copy, size);
            memcpy(copy, &h, sizeof h);
        }
        key.model_hash = h.model_hash;
        key.model_bytes = h.model_bytes;
        key.cpu_key = (data[size - 1] & 1) ? h.cpu_key : infer__packcache_cpu_key();
        memcpy(key.runtime, h.runtime, sizeof key.runtime);
    }
    pack_view v;
    fm_err err = {0};
    if (infer__packcache_parse(copy, size, &key, &v, &err) == 0) {
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < v.n; i++) {
            pack_ent e;
            memcpy(&e, &v.ents[i], sizeof e);
            for (uint64_t k = 0; k < e.key_bytes; k++)
                sink ^= v.base[e.key_off + k];
            for (uint64_t k = 0; k < e.data_bytes; k += 61)
                sink ^= v.base[e.data_off + k];
        }
        (void)sink;
    } else if (!err.msg[0]) {
        abort(); /* every rejection names its reason */
    }
    free(copy);
    return 0;
}
