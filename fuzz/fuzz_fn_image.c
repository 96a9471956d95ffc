/* Fuzzes image decoding (PNG/JPEG sniffing, libpng and libjpeg wrappers) and the resize into a
 * tensor: bad images must give an error, never a crash, a leak or an out-of-bounds read. */
#include <stdint.h>
#include <stdlib.h>

#include "fn/fn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_err err = {0};
    for (int channels = 1; channels <= 3; channels += 2) {
        fn_image img;
        if (fn_image_decode(data, size, channels, &img, &err) != 0)
            continue;
        if ((int64_t)img.width * img.height <= 1 << 20) {
            fn_preprocess pp = {.channels = channels,
                                .scale = 1.0 / 255,
                                .mean = {0, 0, 0},
                                .std = {1, 1, 1},
                                .layout = channels == 1 ? FN_LAYOUT_NHWC : FN_LAYOUT_NCHW};
            float *out = malloc(sizeof(float) * 3 * 7 * 5);
            fn_image_to_tensor(&img, &pp, 7, 5, out);
            free(out);
        }
        fn_image_release(&img);
    }
    return 0;
}
