/*
 * faasml quantize: writes an INT8 copy of an ONNX model (static QDQ from calibration samples, or
 * dynamic: MatMul weights INT8, activations quantized at run time), then optionally measures it
 * against the FP32 model on seeded samples. The quantization itself is infer_quantize.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "fn/fn.h"
#include "infer/infer.h"

#define MAX_CALIB 4096

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Why: a JPEG/PNG becomes the model's FP32 NCHW input, resized and ImageNet-normalised. */
static int load_image(const char *path, const infer_io_info *info, infer_tensor *t, fm_err *err)
{
    if (info->dtype != INFER_DTYPE_FP32 || info->ndim != 4 || info->dims[1] != 3 ||
        info->dims[2] < 1 || info->dims[3] < 1)
        return fm_err_set(err, FM_EINVAL,
                          "'%s': images need a model input of shape [N,3,H,W] with fixed H and W",
                          path);
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    fn_image img;
    rc = fn_image_decode(buf, len, 3, &img, err);
    free(buf);
    if (rc)
        return fm_err_prefix(err, "'%s': ", path);
    fn_preprocess pp = {.set = true,
                        .channels = 3,
                        .mean = {0.485f, 0.456f, 0.406f},
                        .std = {0.229f, 0.224f, 0.225f},
                        .scale = 1.0 / 255,
                        .layout = FN_LAYOUT_NCHW};
    memset(t, 0, sizeof *t);
    t->name = info->name;
    t->dtype = INFER_DTYPE_FP32;
    t->ndim = 4;
    t->dims[0] = 1, t->dims[1] = 3, t->dims[2] = info->dims[2], t->dims[3] = info->dims[3];
    t->bytes = (size_t)(3 * info->dims[2] * info->dims[3]) * 4;
    t->data = malloc(t->bytes);
    if (!t->data) {
        fn_image_release(&img);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    fn_image_to_tensor(&img, &pp, (int)info->dims[2], (int)info->dims[3], t->data);
    fn_image_release(&img);
    return 0;
}

/* Why: calibration samples from a directory: each .npy, .jpg or .png file is one sample of the
 * model's only input, in file-name order (at most limit). */
static int load_calib_dir(const char *dir, const infer_model *m, int64_t limit, infer_tensor **out,
                          size_t *n, fm_err *err)
{
    if (infer_model_n_inputs(m) != 1)
        return fm_err_set(
            err, FM_EUNSUPPORTED,
            "--calib DIR needs a one-input model (this one has %zu); use --calib-random",
            infer_model_n_inputs(m));
    infer_io_info info;
    infer_model_input(m, 0, &info);
    DIR *d = opendir(dir);
    if (!d)
        return fm_err_set(err, FM_ENOTFOUND, "cannot open calibration directory '%s'", dir);
    char **names = calloc(MAX_CALIB, sizeof *names);
    size_t k = 0;
    struct dirent *e;
    while (names && (e = readdir(d)) && k < MAX_CALIB)
        if (has_suffix(e->d_name, ".npy") || has_suffix(e->d_name, ".jpg") ||
            has_suffix(e->d_name, ".jpeg") || has_suffix(e->d_name, ".png"))
            names[k++] = strdup(e->d_name);
    closedir(d);
    if (!names)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    qsort(names, k, sizeof *names, cmp_str);
    size_t found = k;
    if (limit > 0 && (size_t)limit < k)
        k = (size_t)limit;
    int rc = 0;
    infer_tensor *t = calloc(k + 1, sizeof *t);
    if (!t)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!rc && !k)
        rc = fm_err_set(err, FM_ENOTFOUND, "no .npy, .jpg or .png files in '%s'", dir);
    size_t i = 0;
    for (; !rc && i < k; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rc = has_suffix(names[i], ".npy") ? infer_npy_load(path, &t[i], err)
                                          : load_image(path, &info, &t[i], err);
        t[i].name = info.name;
    }
    for (size_t j = 0; j < found; j++)
        free(names[j]);
    free(names);
    if (rc) {
        for (size_t j = 0; t && j < i; j++)
            free(t[j].data);
        free(t);
        return rc;
    }
    *out = t;
    *n = k;
    return 0;
}

/* Why: the accuracy figures of the quantized file against the FP32 model on seeded samples. */
static int evaluate(infer_model *ref, const char *qpath, int64_t samples, int64_t vocab,
                    uint64_t seed, infer_accuracy *acc, fm_err *err)
{
    infer_model *q = NULL;
    infer_session *sr = NULL, *sq = NULL;
    int rc = infer_model_open(qpath, &q, err);
    if (!rc)
        rc = infer_session_new(ref, NULL, &sr, err);
    if (!rc)
        rc = infer_session_new(q, NULL, &sq, err);
    if (!rc)
        rc = infer_accuracy_measure(ref, sq, sr, samples, vocab, seed, acc, err);
    infer_session_free(sq);
    infer_session_free(sr);
    infer_model_free(q);
    return rc;
}

int cmd_quantize(int argc, char **argv)
{
    const char *out = NULL, *mode = "static", *method = "minmax", *calib = NULL;
    int64_t calib_random = 0, calib_max = 0, eval = 0, seed = 1, vocab = 0;
    double pct = 99.99;
    bool per_tensor = false, json = false;
    const cli_opt opts[] = {
        {"output", 'o', CLI_OPT_STR, &out, "OUT.onnx",
         "where the quantized model is written (required)"},
        {"mode", 0, CLI_OPT_STR, &mode, "static|dynamic",
         "static: QDQ with calibrated activation ranges (default); dynamic: MatMul/Gemm weights "
         "INT8, activations quantized at run time"},
        {"calib", 0, CLI_OPT_STR, &calib, "DIR",
         "calibration samples: .npy files or .jpg/.png images (resized, ImageNet-normalised) of "
         "the model's input"},
        {"calib-random", 0, CLI_OPT_INT, &calib_random, "N",
         "calibrate on N seeded synthetic samples (smooth image-like planes for images)"},
        {"calib-max", 0, CLI_OPT_INT, &calib_max, "N", "use at most N files of --calib DIR"},
        {"method", 0, CLI_OPT_STR, &method, "minmax|percentile",
         "activation range: min-max (default) or the --percentile share of values"},
        {"percentile", 0, CLI_OPT_DOUBLE, &pct, "P",
         "share of values kept inside the range for --method percentile (default 99.99)"},
        {"per-tensor", 0, CLI_OPT_FLAG, &per_tensor, NULL,
         "one weight scale per tensor (default: per output channel)"},
        {"eval", 0, CLI_OPT_INT, &eval, "N",
         "then compare the quantized model with the FP32 one on N seeded samples (cosine, max "
         "relative error, top-1/top-5 agreement)"},
        {"vocab", 0, CLI_OPT_INT, &vocab, "N",
         "token ids below N for integer inputs of samples (default 1000)"},
        {"seed", 0, CLI_OPT_INT, &seed, "N",
         "seed of synthetic samples (default 1; --eval uses seed + 1)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output"},
        {0},
    };
    const cli_spec spec = {
        "quantize",
        "MODEL -o OUT.onnx [--mode static|dynamic] [--calib DIR|--calib-random N] [--eval N]",
        "Writes an INT8 copy of an ONNX model that faasml and ONNX Runtime both run. Static mode "
        "puts QuantizeLinear/DequantizeLinear pairs (UINT8, ranges from calibration) around every "
        "Conv, Gemm and MatMul with constant weights, whose weights become INT8 (symmetric, per "
        "output channel) and biases INT32. Dynamic mode (transformers) turns MatMul/Gemm into "
        "DynamicQuantizeLinear + MatMulInteger with INT8 weights. See docs/infer.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (!out)
        return cli_fail("quantize", 2, "give the output file with -o OUT.onnx");
    infer_quant_opts qo;
    infer_quant_opts_init(&qo);
    if (!strcmp(mode, "dynamic"))
        qo.mode = INFER_QUANT_DYNAMIC;
    else if (strcmp(mode, "static"))
        return cli_fail("quantize", 2, "unknown --mode '%s' (static or dynamic)", mode);
    if (!strcmp(method, "percentile"))
        qo.method = INFER_CALIB_PERCENTILE;
    else if (strcmp(method, "minmax"))
        return cli_fail("quantize", 2, "unknown --method '%s' (minmax or percentile)", method);
    if (!(pct > 50 && pct <= 100))
        return cli_fail("quantize", 2, "--percentile %g out of range (50, 100]", pct);
    qo.percentile = pct;
    qo.per_tensor = per_tensor;
    if (calib_random < 0 || calib_max < 0 || eval < 0 || vocab < 0)
        return cli_fail("quantize", 2, "counts must not be negative");
    if (qo.mode == INFER_QUANT_STATIC && !calib && !calib_random)
        return cli_fail("quantize", 2, "static quantization needs --calib DIR or --calib-random N");
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open(argv[0], &m, &err))
        return cli_fail("quantize", 1, "%s", err.msg);
    infer_tensor *samples = NULL;
    size_t n_samples = 0, ni = infer_model_n_inputs(m);
    int code = 0;
    if (qo.mode == INFER_QUANT_STATIC && calib) {
        if (load_calib_dir(calib, m, calib_max, &samples, &n_samples, &err)) {
            code = cli_fail("quantize", 2, "%s", err.msg);
            goto done;
        }
    } else if (qo.mode == INFER_QUANT_STATIC) {
        samples = calloc((size_t)calib_random * ni + 1, sizeof *samples);
        if (!samples) {
            code = cli_fail("quantize", 1, "out of memory");
            goto done;
        }
        fm_rng rng;
        fm_rng_seed(&rng, (uint64_t)seed);
        for (size_t k = 0; k < (size_t)calib_random * ni; k++) {
            infer_io_info info;
            infer_model_input(m, k % ni, &info);
            if (infer_sample_input(&info, 1, vocab, &rng, &samples[k], &err)) {
                code = cli_fail("quantize", 2, "%s", err.msg);
                n_samples = k / ni;
                goto done;
            }
            n_samples = k / ni + 1;
        }
    }
    qo.calib = samples;
    qo.n_calib = n_samples;
    infer_quant_stats st;
    int64_t t0 = fm_now_ns();
    if (infer_quantize(m, &qo, out, &st, &err)) {
        code = cli_fail("quantize", 1, "%s", err.msg);
        goto done;
    }
    double secs = (double)(fm_now_ns() - t0) / 1e9;
    infer_accuracy acc = {0};
    if (eval > 0 && evaluate(m, out, eval, vocab, (uint64_t)seed + 1, &acc, &err)) {
        code = cli_fail("quantize", 1, "cannot evaluate '%s': %s", out, err.msg);
        goto done;
    }
    if (json) {
        printf("{\"model\":\"%s\",\"output\":\"%s\",\"mode\":\"%s\",\"method\":\"%s\",\"per_"
               "channel\":%s,"
               "\"calibration_samples\":%zu,\"nodes\":%zu,\"activations\":%zu,\"weights\":%zu,"
               "\"bytes_in\":%zu,\"bytes_out\":%zu,\"seconds\":%.3f",
               argv[0], out, mode, method, per_tensor ? "false" : "true", n_samples, st.nodes,
               st.activations, st.weights, st.bytes_in, st.bytes_out, secs);
        if (eval > 0)
            printf(",\"accuracy\":{\"samples\":%zu,\"cosine_min\":%.6f,\"cosine_mean\":%.6f,\"max_"
                   "rel_err\":%.6f,"
                   "\"top1_agreement\":%.4f,\"top5_agreement\":%.4f}",
                   acc.samples, acc.cos_min, acc.cos_mean, acc.max_rel_err, acc.top1, acc.top5);
        printf("}\n");
    } else {
        printf("quantized %s -> %s (%s%s): %zu nodes, %zu activations, %zu weights; %.2f MB -> "
               "%.2f MB in %.2f s\n",
               argv[0], out, mode,
               qo.mode == INFER_QUANT_STATIC
                   ? (qo.method == INFER_CALIB_PERCENTILE ? ", percentile" : ", min-max")
                   : "",
               st.nodes, st.activations, st.weights, st.bytes_in / 1e6, st.bytes_out / 1e6, secs);
        if (eval > 0)
            printf("accuracy vs FP32 on %zu samples: cosine min %.5f mean %.5f, max relative error "
                   "%.4f, "
                   "top-1 agreement %.1f%%, top-5 %.1f%%\n",
                   acc.samples, acc.cos_min, acc.cos_mean, acc.max_rel_err, 100 * acc.top1,
                   100 * acc.top5);
    }
done:
    for (size_t k = 0; samples && k < n_samples * (calib ? 1 : ni); k++)
        free(samples[k].data);
    free(samples);
    infer_model_free(m);
    return code;
}
