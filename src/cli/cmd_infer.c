/*
 * faasml infer: run an ONNX model on .npy inputs (or random ones), write or summarise the outputs,
 * compare them with expected .npy files, or benchmark the model with load-phase timings.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infer/infer.h"

#define MAX_IO 64

typedef struct io_arg {
    const char *name; /* NULL: the only input/output */
    const char *path;
    char buf[256]; /* holds name */
} io_arg;

/* Why: NAME=FILE pairs; the NAME= part may be left out when the model has one input/output. */
static void split_arg(const char *s, io_arg *a)
{
    const char *eq = strchr(s, '=');
    if (!eq) {
        a->name = NULL;
        a->path = s;
        return;
    }
    size_t n = FM_MIN((size_t)(eq - s), sizeof a->buf - 1);
    memcpy(a->buf, s, n);
    a->buf[n] = 0;
    a->name = a->buf;
    a->path = eq + 1;
}

static int find_io(const infer_model *m, const io_arg *a, bool input, int *idx)
{
    size_t n = input ? infer_model_n_inputs(m) : infer_model_n_outputs(m);
    if (!a->name) {
        if (n != 1)
            return -1;
        *idx = 0;
        return 0;
    }
    *idx = input ? infer_model_find_input(m, a->name) : infer_model_find_output(m, a->name);
    return *idx < 0 ? -1 : 0;
}

/* Why: --random fills inputs reproducibly: floats from N(0,1), integers (token ids) below 1000. */
static int random_input(const infer_io_info *info, int64_t batch, fm_rng *rng, infer_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->name = info->name;
    t->dtype = info->dtype;
    t->ndim = info->ndim < 0 ? 0 : info->ndim;
    for (int k = 0; k < t->ndim; k++)
        t->dims[k] = info->dims[k] >= 0 ? info->dims[k] : (k == 0 ? batch : 1);
    int64_t n = infer_tensor_numel(t);
    size_t esz = infer_dtype_size(t->dtype);
    if (n < 0 || !esz)
        return -1;
    t->bytes = (size_t)n * esz;
    t->data = malloc(t->bytes ? t->bytes : 1);
    if (!t->data)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case INFER_DTYPE_FP32: ((float *)t->data)[i] = (float)fm_rng_normal(rng, 0, 1); break;
        case INFER_DTYPE_FP64: ((double *)t->data)[i] = fm_rng_normal(rng, 0, 1); break;
        case INFER_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)fm_rng_below(rng, 1000); break;
        case INFER_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)fm_rng_below(rng, 1000); break;
        default: memset((char *)t->data + i * (int64_t)esz, (int)fm_rng_below(rng, 2), esz); break;
        }
    }
    return 0;
}

static void shape_str(const infer_tensor *t, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < t->ndim && o < cap; k++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, k ? "," : "", t->dims[k]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static double elem(const infer_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case INFER_DTYPE_FP32: return ((const float *)t->data)[i];
    case INFER_DTYPE_FP64: return ((const double *)t->data)[i];
    case INFER_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case INFER_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case INFER_DTYPE_BOOL:
    case INFER_DTYPE_UINT8: return ((const uint8_t *)t->data)[i];
    default: return NAN;
    }
}

/* Why: a summary lets a user eyeball outputs without numpy: shape, range, mean, argmax. */
static void summarise(const infer_tensor *t, bool json, bool last)
{
    int64_t n = infer_tensor_numel(t), am = 0;
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = elem(t, i);
        if (v < mn)
            mn = v;
        if (v > mx) {
            mx = v;
            am = i;
        }
        sum += v;
    }
    char shp[256], nm[512];
    shape_str(t, shp, sizeof shp);
    if (json) {
        fm_json_quote(nm, sizeof nm, t->name);
        printf(
            "{\"name\":%s,\"datatype\":\"%s\",\"shape\":%s,\"min\":%.9g,\"max\":%.9g,\"mean\":%.9g,"
            "\"argmax\":%" PRId64 "}%s",
            nm, infer_dtype_name(t->dtype), shp, n ? mn : 0, n ? mx : 0, n ? sum / (double)n : 0,
            am, last ? "" : ",");
    } else {
        printf("%s %s %s min %.6g max %.6g mean %.6g argmax %" PRId64 "\n", t->name,
               infer_dtype_name(t->dtype), shp, n ? mn : 0, n ? mx : 0, n ? sum / (double)n : 0,
               am);
    }
}

/* Why: --expect checks outputs against a reference: max abs error relative to max |expected|. */
static int compare(const infer_tensor *got, const infer_tensor *want, double *max_err,
                   double *max_ref, bool *top1)
{
    if (got->ndim != want->ndim ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->ndim))
        return -1;
    int64_t n = infer_tensor_numel(got);
    *max_err = 0;
    *max_ref = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = elem(got, i), b = elem(want, i);
        double e = fabs(a - b);
        if (e > *max_err || isnan(e))
            *max_err = isnan(e) ? INFINITY : e;
        if (fabs(b) > *max_ref)
            *max_ref = fabs(b);
    }
    /* top-1 over the last axis, row by row */
    *top1 = true;
    int64_t cls = got->ndim ? got->dims[got->ndim - 1] : 1;
    for (int64_t r = 0; cls > 0 && r < n / cls; r++) {
        int64_t ga = 0, wa = 0;
        for (int64_t j = 1; j < cls; j++) {
            if (elem(got, r * cls + j) > elem(got, r * cls + ga))
                ga = j;
            if (elem(want, r * cls + j) > elem(want, r * cls + wa))
                wa = j;
        }
        if (ga != wa)
            *top1 = false;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Why: --accuracy: the session as configured (precision) against the FP32 reference model (the
 * same file unless --reference names another, e.g. the FP32 original of a quantized one). */
static int accuracy(infer_model *m, infer_session *s, const char *ref_path, int64_t samples,
                    int64_t vocab, uint64_t seed, infer_accuracy *acc, fm_err *err)
{
    infer_model *rm = m;
    infer_session *rs = NULL;
    int rc = 0;
    if (ref_path)
        rc = infer_model_open(ref_path, &rm, err);
    if (!rc)
        rc = infer_session_new(rm, NULL, &rs, err);
    if (!rc)
        rc = infer_accuracy_measure(m, s, rs, samples, vocab, seed, acc, err);
    infer_session_free(rs);
    if (rm != m)
        infer_model_free(rm);
    return rc;
}

int cmd_infer(int argc, char **argv)
{
    cli_strlist in_args = {0}, out_args = {0}, exp_args = {0};
    bool random = false, json = false;
    const char *precision = "fp32", *ref_model = NULL;
    int64_t acc_n = 0, vocab = 0;
    int64_t batch = 1, threads = 1, bench = 0, seed = 1, warmup = 3;
    const cli_opt opts[] = {
        {"input", 'i', CLI_OPT_LIST, &in_args, "NAME=FILE.npy",
         "an input (NAME= may be left out for a one-input model)"},
        {"random", 0, CLI_OPT_FLAG, &random, NULL,
         "random inputs (floats N(0,1), integers below 1000)"},
        {"output", 'o', CLI_OPT_LIST, &out_args, "NAME=FILE.npy",
         "write an output as .npy (default: print a summary of every output)"},
        {"expect", 0, CLI_OPT_LIST, &exp_args, "NAME=FILE.npy",
         "compare an output with a reference; fails when max abs error > 1e-4 x max |reference|"},
        {"batch", 'b', CLI_OPT_INT, &batch, "N",
         "batch size for --random (first symbolic dimension; default 1)"},
        {"threads", 0, CLI_OPT_INT, &threads, "N", "worker threads (default 1)"},
        {"precision", 0, CLI_OPT_STR, &precision, "fp32|bf16",
         "arithmetic of convolutions and matrix products: bf16 packs weights to bfloat16 and "
         "accumulates in FP32 (1-thread sessions; default fp32)"},
        {"bench", 0, CLI_OPT_INT, &bench, "N",
         "run N times after warm-up and print latency p50/p99/mean and load phases"},
        {"warmup", 0, CLI_OPT_INT, &warmup, "N", "warm-up runs before --bench (default 3)"},
        {"seed", 0, CLI_OPT_INT, &seed, "N", "seed for --random (default 1)"},
        {"accuracy", 0, CLI_OPT_INT, &acc_n, "N",
         "compare with FP32 on N seeded samples (image-like for images): cosine, max relative "
         "error, top-1/top-5 agreement"},
        {"reference", 0, CLI_OPT_STR, &ref_model, "MODEL",
         "FP32 model for --accuracy (default: MODEL itself at FP32)"},
        {"vocab", 0, CLI_OPT_INT, &vocab, "N",
         "token ids below N in --accuracy samples (default 1000)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output"},
        {0},
    };
    const cli_spec spec = {
        "infer",
        "MODEL [--input NAME=FILE.npy ...|--random] [--output NAME=FILE.npy ...] [--bench N]",
        "Loads an ONNX model with faasml's runtime and runs it once on the given .npy inputs (or "
        "random ones), writing outputs as .npy or printing a summary of each. With --bench N it "
        "prints latency percentiles over N runs and the load phases (read, parse, plan, pack, "
        "first "
        "run; --json adds them in CPU time and the packed-weight cache's state). oneDNN's packed "
        "weights are cached in MODEL.fmpack ($FM_INFER_PACK_CACHE: a directory, or off). "
        "Supported operators and limits: docs/infer.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("infer", argv, npos)))
        return rc;
    if (batch < 1 || threads < 1 || threads > 256 || bench < 0 || warmup < 0)
        return cli_fail("infer", 2, "--batch, --threads, --bench and --warmup must be positive");
    if (acc_n > 0)
        random = true;
    if (!random && in_args.n == 0)
        return cli_fail("infer", 2, "give --input NAME=FILE.npy or --random");
    infer_precision prec;
    if (infer_precision_parse(precision, &prec))
        return cli_fail("infer", 2, "unknown --precision '%s' (fp32 or bf16)", precision);
    int64_t t_start = fm_now_ns();
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open(argv[0], &m, &err))
        return cli_fail("infer", 1, "%s", err.msg);
    int64_t t_loaded = fm_now_ns();
    size_t n_in = infer_model_n_inputs(m), n_out = infer_model_n_outputs(m);
    if (n_in > MAX_IO || n_out > MAX_IO) {
        infer_model_free(m);
        return cli_fail("infer", 1, "model has too many inputs/outputs");
    }
    infer_tensor ins[MAX_IO] = {0}, outs[MAX_IO] = {0};
    int code = 0;
    infer_session *s = NULL;
    if (random) {
        fm_rng rng;
        fm_rng_seed(&rng, (uint64_t)seed);
        for (size_t i = 0; i < n_in; i++) {
            infer_io_info info;
            infer_model_input(m, i, &info);
            if (random_input(&info, batch, &rng, &ins[i])) {
                code = cli_fail("infer", 1, "cannot make a random input '%s' of type %s", info.name,
                                infer_dtype_name(info.dtype));
                goto done;
            }
        }
    }
    for (int k = 0; k < in_args.n; k++) {
        io_arg a;
        int idx;
        split_arg(in_args.v[k], &a);
        if (find_io(m, &a, true, &idx)) {
            code = cli_fail("infer", 2, "model has no input '%s' (give NAME=FILE)",
                            a.name ? a.name : "");
            goto done;
        }
        free(ins[idx].data);
        if (infer_npy_load(a.path, &ins[idx], &err)) {
            code = cli_fail("infer", 2, "%s", err.msg);
            goto done;
        }
        infer_io_info info;
        infer_model_input(m, (size_t)idx, &info);
        ins[idx].name = info.name;
        if (ins[idx].ndim > 0 && batch < ins[idx].dims[0])
            batch = ins[idx].dims[0];
    }
    for (size_t i = 0; i < n_in; i++)
        if (!ins[i].data) {
            infer_io_info info;
            infer_model_input(m, i, &info);
            code = cli_fail("infer", 2, "input '%s' not given", info.name);
            goto done;
        }
    infer_session_opts so;
    infer_session_opts_init(&so);
    so.threads = (int)threads;
    so.max_batch = (int)batch;
    so.precision = prec;
    if (infer_session_new(m, &so, &s, &err)) {
        code = cli_fail("infer", 1, "%s", err.msg);
        goto done;
    }
    if (infer_session_run(s, ins, n_in, outs, n_out, &err)) {
        code = cli_fail("infer", 1, "cannot run '%s': %s", argv[0], err.msg);
        goto done;
    }
    int64_t t_first = fm_now_ns();
    if (acc_n > 0) {
        infer_accuracy acc;
        if (accuracy(m, s, ref_model, acc_n, vocab, (uint64_t)seed, &acc, &err)) {
            code = cli_fail("infer", 1, "--accuracy: %s", err.msg);
            goto done;
        }
        if (json)
            printf("{\"model\":\"%s\",\"precision\":\"%s\",\"reference\":\"%s\",\"samples\":%zu,"
                   "\"cosine_min\":%.6f,"
                   "\"cosine_mean\":%.6f,\"max_rel_err\":%.6f,\"top1_agreement\":%.4f,\"top5_"
                   "agreement\":%.4f}\n",
                   argv[0], precision, ref_model ? ref_model : argv[0], acc.samples, acc.cos_min,
                   acc.cos_mean, acc.max_rel_err, acc.top1, acc.top5);
        else
            printf("accuracy of %s (%s) vs %s (fp32) on %zu samples: cosine min %.5f mean %.5f, "
                   "max relative error %.4f, top-1 agreement %.1f%%, top-5 %.1f%%\n",
                   argv[0], precision, ref_model ? ref_model : argv[0], acc.samples, acc.cos_min,
                   acc.cos_mean, acc.max_rel_err, 100 * acc.top1, 100 * acc.top5);
        goto done;
    }
    if (bench > 0) {
        for (int64_t i = 0; i < warmup; i++)
            if (infer_session_run(s, ins, n_in, outs, n_out, &err)) {
                code = cli_fail("infer", 1, "%s", err.msg);
                goto done;
            }
        int64_t *lat = malloc((size_t)bench * sizeof *lat);
        if (!lat) {
            code = cli_fail("infer", 1, "out of memory");
            goto done;
        }
        double sum = 0;
        for (int64_t i = 0; i < bench; i++) {
            int64_t t0 = fm_now_ns();
            if (infer_session_run(s, ins, n_in, outs, n_out, &err)) {
                free(lat);
                code = cli_fail("infer", 1, "%s", err.msg);
                goto done;
            }
            lat[i] = fm_now_ns() - t0;
            sum += (double)lat[i];
        }
        qsort(lat, (size_t)bench, sizeof *lat, cmp_i64);
        double p50 = (double)lat[(bench - 1) / 2] / 1e6,
               p99 = (double)lat[(int64_t)((double)(bench - 1) * 0.99)] / 1e6;
        double mean = sum / (double)bench / 1e6, mn = (double)lat[0] / 1e6;
        free(lat);
        infer_timings t;
        infer_session_timings(s, &t);
        infer_session_stats st;
        infer_session_get_stats(s, &st);
        infer_model_info mi;
        infer_model_get_info(m, &mi);
        if (json) {
            printf(
                "{\"model\":\"%s\",\"batch\":%" PRId64 ",\"threads\":%" PRId64 ",\"runs\":%" PRId64
                ",\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f,\"min_ms\":%.4f,"
                "\"load\":{\"read_ms\":%.4f,\"parse_ms\":%.4f,\"plan_ms\":%.4f,\"pack_ms\":%.4f,"
                "\"first_run_ms\":%.4f,\"open_to_first_output_ms\":%.4f,\"reorder_ms\":%.4f,"
                "\"pack_cache_ms\":%.4f},"
                "\"load_cpu\":{\"read_ms\":%.4f,\"parse_ms\":%.4f,\"plan_ms\":%.4f,\"pack_ms\":%."
                "4f,\"reorder_ms\":%.4f,\"first_run_ms\":%.4f,\"pack_cache_ms\":%.4f},"
                "\"pack_cache\":{\"state\":\"%s\",\"written\":%s,\"hits\":%zu,\"misses\":%zu,"
                "\"mapped_bytes\":%zu},"
                "\"plan_bytes\":%zu,\"naive_bytes\":%zu,\"weight_bytes\":%zu,\"packed_bytes\":%zu,"
                "\"nodes\":%zu}\n",
                argv[0], batch, threads, bench, p50, p99, mean, mn, t.read_ns / 1e6,
                t.parse_ns / 1e6, t.plan_ns / 1e6, t.pack_ns / 1e6, t.first_run_ns / 1e6,
                (t_first - t_start) / 1e6, t.reorder_ns / 1e6, t.pack_cache_ns / 1e6,
                t.read_cpu_ns / 1e6, t.parse_cpu_ns / 1e6, t.plan_cpu_ns / 1e6, t.pack_cpu_ns / 1e6,
                t.reorder_cpu_ns / 1e6, t.first_run_cpu_ns / 1e6, t.pack_cache_cpu_ns / 1e6,
                infer_pack_state_name(st.pack_cache), st.pack_written ? "true" : "false",
                st.pack_hits, st.pack_misses, st.pack_mapped_bytes, st.plan_bytes, st.naive_bytes,
                mi.weight_bytes, st.packed_bytes, mi.n_nodes);
        } else {
            printf("model %s  batch %" PRId64 "  threads %" PRId64 "  runs %" PRId64 "\n", argv[0],
                   batch, threads, bench);
            printf("latency ms: p50 %.3f  p99 %.3f  mean %.3f  min %.3f\n", p50, p99, mean, mn);
            printf("load ms: read %.3f  parse %.3f  plan %.3f  pack %.3f  first run %.3f  (open to "
                   "first output %.3f)\n",
                   t.read_ns / 1e6, t.parse_ns / 1e6, t.plan_ns / 1e6, t.pack_ns / 1e6,
                   t.first_run_ns / 1e6, (t_first - t_start) / 1e6);
            printf("memory: plan %.2f MB (%.2f MB without reuse), weights %.2f MB, packed %.2f MB; "
                   "%zu nodes\n",
                   st.plan_bytes / 1e6, st.naive_bytes / 1e6, mi.weight_bytes / 1e6,
                   st.packed_bytes / 1e6, mi.n_nodes);
            printf("packed-weight cache: %s%s, %zu weights mapped, %zu packed here\n",
                   infer_pack_state_name(st.pack_cache), st.pack_written ? " (written)" : "",
                   st.pack_hits, st.pack_misses);
        }
    }
    (void)t_loaded;
    for (int k = 0; k < out_args.n; k++) {
        io_arg a;
        int idx;
        split_arg(out_args.v[k], &a);
        if (find_io(m, &a, false, &idx)) {
            code = cli_fail("infer", 2, "model has no output '%s' (give NAME=FILE)",
                            a.name ? a.name : "");
            goto done;
        }
        if (infer_npy_save(a.path, &outs[idx], &err)) {
            code = cli_fail("infer", 1, "%s", err.msg);
            goto done;
        }
    }
    for (int k = 0; k < exp_args.n; k++) {
        io_arg a;
        int idx;
        split_arg(exp_args.v[k], &a);
        if (find_io(m, &a, false, &idx)) {
            code = cli_fail("infer", 2, "model has no output '%s' (give NAME=FILE)",
                            a.name ? a.name : "");
            goto done;
        }
        infer_tensor want;
        if (infer_npy_load(a.path, &want, &err)) {
            code = cli_fail("infer", 2, "%s", err.msg);
            goto done;
        }
        double me, mr;
        bool top1;
        int c = compare(&outs[idx], &want, &me, &mr, &top1);
        free(want.data);
        if (c) {
            code = cli_fail("infer", 1, "output '%s': shape differs from '%s'", outs[idx].name,
                            a.path);
            goto done;
        }
        bool ok = me <= 1e-4 * mr;
        if (json)
            printf("{\"expect\":\"%s\",\"max_abs_err\":%.9g,\"max_abs_ref\":%.9g,\"top1_equal\":%s,"
                   "\"ok\":%s}\n",
                   outs[idx].name, me, mr, top1 ? "true" : "false", ok ? "true" : "false");
        else
            printf("expect %s: max abs error %.3g (%.3g of max |ref| %.4g), top-1 %s: %s\n",
                   outs[idx].name, me, mr > 0 ? me / mr : me, mr, top1 ? "equal" : "DIFFERS",
                   ok ? "ok" : "MISMATCH");
        if (!ok)
            code = 1;
    }
    if (!out_args.n && !bench && !exp_args.n) {
        if (json)
            printf("{\"outputs\":[");
        for (size_t i = 0; i < n_out; i++)
            summarise(&outs[i], json, i + 1 == n_out);
        if (json)
            printf("]}\n");
    }
done:
    for (size_t i = 0; i < n_in; i++)
        free(ins[i].data);
    infer_session_free(s);
    infer_model_free(m);
    return code;
}
