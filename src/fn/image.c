/*
 * Images: JPEG (libjpeg) and PNG (libpng) decoded to 8-bit RGB or grayscale, then resized
 * (bilinear) and normalised into the model's input tensor. The format is sniffed from the magic
 * bytes, never trusted from a content type; dimensions are checked before pixels are allocated.
 */
#include "fn/fn_int.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* ---- JPEG ------------------------------------------------------------------------------------ */
typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_fail;

/* Why: libjpeg's default error handler exits the process; a bad image must not. */
static void jpeg_on_error(j_common_ptr c)
{
    jpeg_fail *f = (jpeg_fail *)c->err;
    f->mgr.format_message(c, f->msg);
    longjmp(f->jmp, 1);
}

/* Why: warnings (corrupt-data recoveries) go nowhere instead of stderr. */
static void jpeg_on_message(j_common_ptr c)
{
    (void)c;
}

static int decode_jpeg(const uint8_t *buf, size_t len, int channels, fn_image *img, fm_err *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_fail fail;
    uint8_t *volatile pixels = NULL;
    cinfo.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_on_error;
    fail.mgr.output_message = jpeg_on_message;
    if (setjmp(fail.jmp)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return fm_err_set(err, FM_EPARSE, "cannot decode JPEG image: %s", fail.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((int64_t)cinfo.image_width * cinfo.image_height > FN_MAX_IMAGE_PIXELS) {
        int w = (int)cinfo.image_width, h = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return fm_err_set(err, FM_ELIMIT, "JPEG image is too large (%dx%d, at most %ld pixels)", w,
                          h, FN_MAX_IMAGE_PIXELS);
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        return fm_err_set(err, FM_EUNSUPPORTED, "cannot decode JPEG image: CMYK is not supported");
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return fm_err_set(err, FM_ENOMEM, "out of memory decoding a JPEG image");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    img->width = (int)cinfo.output_width;
    img->height = (int)cinfo.output_height;
    img->channels = cinfo.output_components;
    img->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/* ---- PNG ------------------------------------------------------------------------------------- */
/* Why: libpng's simplified API handles palettes, 16-bit, gray and alpha in one call. */
static int decode_png(const uint8_t *buf, size_t len, int channels, fn_image *img, fm_err *err)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, buf, len)) {
        fm_err_set(err, FM_EPARSE, "cannot decode PNG image: %s", pi.message);
        png_image_free(&pi);
        return err ? err->code : FM_EPARSE;
    }
    if ((int64_t)pi.width * pi.height > FN_MAX_IMAGE_PIXELS) {
        fm_err_set(err, FM_ELIMIT, "PNG image is too large (%ux%u, at most %ld pixels)", pi.width,
                   pi.height, FN_MAX_IMAGE_PIXELS);
        png_image_free(&pi);
        return FM_ELIMIT;
    }
    pi.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    uint8_t *pixels = malloc(PNG_IMAGE_SIZE(pi));
    if (!pixels) {
        png_image_free(&pi);
        return fm_err_set(err, FM_ENOMEM, "out of memory decoding a PNG image");
    }
    if (!png_image_finish_read(&pi, NULL, pixels, 0, NULL)) {
        fm_err_set(err, FM_EPARSE, "cannot decode PNG image: %s", pi.message);
        free(pixels);
        png_image_free(&pi);
        return FM_EPARSE;
    }
    img->width = (int)pi.width;
    img->height = (int)pi.height;
    img->channels = channels == 1 ? 1 : 3;
    img->pixels = pixels;
    png_image_free(&pi);
    return 0;
}

int fn_image_decode(const void *buf, size_t len, int channels, fn_image *img, fm_err *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = buf;
    memset(img, 0, sizeof *img);
    if (len >= 8 && memcmp(b, png_magic, 8) == 0)
        return decode_png(b, len, channels, img, err);
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return decode_jpeg(b, len, channels, img, err);
    return fm_err_set(err, FM_EPARSE,
                      "cannot decode image: not a PNG or JPEG file (%zu bytes, starting %02x %02x)",
                      len, len > 0 ? b[0] : 0, len > 1 ? b[1] : 0);
}

void fn_image_release(fn_image *img)
{
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* Why: bilinear sampling with half-pixel centres (as PIL and OpenCV's INTER_LINEAR do for
 * upscaling), so a resize to the same size is the identity. */
static float sample(const fn_image *im, float x, float y, int c)
{
    float fx = x < 0 ? 0 : x, fy = y < 0 ? 0 : y;
    int x0 = (int)fx, y0 = (int)fy;
    if (x0 > im->width - 1)
        x0 = im->width - 1;
    if (y0 > im->height - 1)
        y0 = im->height - 1;
    int x1 = x0 + 1 < im->width ? x0 + 1 : x0, y1 = y0 + 1 < im->height ? y0 + 1 : y0;
    float ax = fx - (float)x0, ay = fy - (float)y0;
    if (ax > 1)
        ax = 1;
    if (ay > 1)
        ay = 1;
    const uint8_t *p = im->pixels;
    size_t w = (size_t)im->width, ch = (size_t)im->channels;
    float p00 = p[((size_t)y0 * w + (size_t)x0) * ch + (size_t)c];
    float p01 = p[((size_t)y0 * w + (size_t)x1) * ch + (size_t)c];
    float p10 = p[((size_t)y1 * w + (size_t)x0) * ch + (size_t)c];
    float p11 = p[((size_t)y1 * w + (size_t)x1) * ch + (size_t)c];
    float top = p00 + (p01 - p00) * ax, bot = p10 + (p11 - p10) * ax;
    return top + (bot - top) * ay;
}

void fn_image_to_tensor(const fn_image *img, const fn_preprocess *pp, int height, int width,
                        float *out)
{
    int C = pp->channels;
    size_t plane = (size_t)height * (size_t)width;
    const fn_image *im = img;
    float sx = (float)im->width / (float)width, sy = (float)im->height / (float)height;
    for (int y = 0; y < height; y++) {
        float srcy = ((float)y + 0.5f) * sy - 0.5f;
        for (int x = 0; x < width; x++) {
            float srcx = ((float)x + 0.5f) * sx - 0.5f;
            for (int c = 0; c < C; c++) {
                float v = sample(im, srcx, srcy, c);
                v = (v * (float)pp->scale - pp->mean[c]) / pp->std[c];
                size_t at = pp->layout == FN_LAYOUT_NCHW
                                ? (size_t)c * plane + (size_t)y * (size_t)width + (size_t)x
                                : ((size_t)y * (size_t)width + (size_t)x) * (size_t)C + (size_t)c;
                out[at] = v;
            }
        }
    }
}
