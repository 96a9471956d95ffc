/* Writes the benchmark's JPEG: a 224x224 RGB image made from an NCHW FP32 .npy input (its values
 * mapped to 0..255), so the JPEG request carries the same picture the tensor requests carry.
 *   make_jpeg INPUT.npy OUT.jpg */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_jpeg INPUT.npy OUT.jpg\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return perror(argv[1]), 1;
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return fprintf(stderr, "%s: not a .npy file\n", argv[1]), 1;
    size_t hlen = pre[8] | (pre[9] << 8);
    if (pre[6] != 1) { /* version 2/3: 4-byte header length */
        if (fread(pre + 10, 1, 2, f) != 2)
            return 1;
        hlen = pre[8] | (pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
    }
    fseek(f, (long)hlen, SEEK_CUR);
    enum { H = 224, W = 224 };
    static float x[3 * H * W];
    if (fread(x, sizeof *x, 3 * H * W, f) != 3 * H * W)
        return fprintf(stderr, "%s: expected 3x224x224 floats\n", argv[1]), 1;
    fclose(f);
    float lo = x[0], hi = x[0];
    for (int i = 0; i < 3 * H * W; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    static unsigned char rgb[H * W * 3];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < H * W; i++)
            rgb[i * 3 + c] = (unsigned char)(255.0f * (x[c * H * W + i] - lo) / (hi - lo + 1e-9f));
    struct jpeg_compress_struct cj;
    struct jpeg_error_mgr jerr;
    cj.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cj);
    FILE *o = fopen(argv[2], "wb");
    if (!o)
        return perror(argv[2]), 1;
    jpeg_stdio_dest(&cj, o);
    cj.image_width = W;
    cj.image_height = H;
    cj.input_components = 3;
    cj.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cj);
    jpeg_set_quality(&cj, 90, TRUE);
    jpeg_start_compress(&cj, TRUE);
    while (cj.next_scanline < H) {
        JSAMPROW row = &rgb[cj.next_scanline * W * 3];
        jpeg_write_scanlines(&cj, &row, 1);
    }
    jpeg_finish_compress(&cj);
    jpeg_destroy_compress(&cj);
    fclose(o);
    return 0;
}
