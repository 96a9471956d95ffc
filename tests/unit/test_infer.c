/*
 * Unit tests for src/infer: API behaviour, bad input (named errors, no crash), fast paths
 * (XNNPACK, fusion, NHWC layout, OpenBLAS) against the plain reference kernels, replanning for a
 * new batch, thread and fork safety, and the .npy codec. Fixtures: tests/fixtures/infer, written
 * by tools/gen_infer_fixtures.py.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "infer/fastmath.h"
#include "infer/infer.h"
#include "infer/infer_int.h"

static char fixture_dir[1024];

static const char *fx(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", fixture_dir, name);
    return buf[k];
}

static bool sanitized(void)
{
    const char *s = getenv("FM_SANITIZED");
    return s && (!strcmp(s, "1") || !strcmp(s, "ON") || !strcmp(s, "TRUE"));
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_dtypes(void **state)
{
    (void)state;
    assert_string_equal(infer_dtype_name(INFER_DTYPE_FP32), "FP32");
    assert_string_equal(infer_dtype_name(INFER_DTYPE_INT64), "INT64");
    assert_string_equal(infer_dtype_name((infer_dtype)99), "UNDEFINED");
    infer_dtype t;
    assert_int_equal(infer_dtype_parse("int32", &t), 0);
    assert_int_equal(t, INFER_DTYPE_INT32);
    assert_int_equal(infer_dtype_parse("FLOAT", &t), FM_EINVAL);
    assert_int_equal(infer_dtype_size(INFER_DTYPE_FP64), 8);
    infer_tensor x = {.ndim = 3, .dims = {2, 3, 4}};
    assert_int_equal(infer_tensor_numel(&x), 24);
    x.dims[1] = INT64_MAX / 2;
    assert_int_equal(infer_tensor_numel(&x), -1);
    x.dims[1] = -1;
    assert_int_equal(infer_tensor_numel(&x), -1);
}

/* every malformed model fails to load with the expected code and a message naming the problem */
static void test_bad_models(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int code;
        const char *msg;
    } cases[] = {
        {"unsupported_op.onnx", FM_EUNSUPPORTED, "(Hardmax): unsupported operator"},
        {"bad_opset.onnx", FM_EUNSUPPORTED, "unsupported opset 4"},
        {"bad_attr.onnx", FM_EUNSUPPORTED, "unsupported attribute 'foo'"},
        {"cycle.onnx", FM_EPARSE, "cycle"},
        {"missing_init.onnx", FM_ENOTFOUND, "'missing_w' is not an initializer"},
        {"short_raw.onnx", FM_EPARSE, "raw_data holds 8 bytes, dims need 16"},
        {"huge_dims.onnx", FM_ERANGE, "overflows"},
        {"does_not_exist.onnx", -2, "No such file"},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(cases); i++) {
        fm_err err = {0};
        infer_model *m = (infer_model *)1;
        int rc = infer_model_open(fx(cases[i].file), &m, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
            fail_msg("%s: rc %d msg '%s'", cases[i].file, rc, err.msg);
        assert_null(m);
        assert_non_null(strstr(err.msg, "cannot load model '"));
    }
    /* not protobuf at all */
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open_buffer("\xff\xff\xff\xff", 4, "junk", &m, &err), FM_EPARSE);
    assert_non_null(strstr(err.msg, "'junk'"));
    assert_int_equal(infer_model_open_buffer("", 0, "empty", &m, &err), FM_EPARSE);
}

/* every prefix and many corrupted copies of a real model: an error or a model, never a crash */
static void test_truncated_and_corrupted(void **state)
{
    (void)state;
    char *buf;
    size_t len;
    fm_err err = {0};
    assert_int_equal(fm_read_file(fx("conv_net.onnx"), &buf, &len, &err), 0);
    size_t step = sanitized() ? 7 : 1;
    int ok = 0;
    for (size_t n = 0; n < len; n += step) {
        char *copy = malloc(n + 1); /* exact-size copy so ASan catches any over-read */
        memcpy(copy, buf, n);
        infer_model *m;
        if (infer_model_open_buffer(copy, n, "prefix", &m, &err) == 0) {
            ok++;
            infer_model_free(m);
        } else {
            assert_true(err.msg[0] != 0);
        }
        free(copy);
    }
    fm_rng rng;
    fm_rng_seed(&rng, 42);
    int rounds = sanitized() ? 150 : 1500;
    for (int r = 0; r < rounds; r++) {
        char *copy = malloc(len);
        memcpy(copy, buf, len);
        int flips = 1 + (int)fm_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++)
            copy[fm_rng_below(&rng, len)] = (char)fm_rng_below(&rng, 256);
        infer_model *m;
        if (infer_model_open_buffer(copy, len, "flipped", &m, &err) == 0) {
            infer_session *s;
            if (infer_session_new(m, NULL, &s, &err) == 0) {
                float x[3 * 16 * 16] = {0};
                infer_tensor in = {.dtype = INFER_DTYPE_FP32,
                                   .ndim = 4,
                                   .dims = {1, 3, 16, 16},
                                   .data = x,
                                   .bytes = sizeof x};
                infer_tensor out[2] = {0};
                (void)infer_session_run(s, &in, 1, out, 2, &err);
                infer_session_free(s);
            }
            infer_model_free(m);
        }
        free(copy);
    }
    free(buf);
    assert_true(ok <= 1); /* only the whole file (or a prefix ending on a field boundary) loads */
}

static void fill_normal(float *p, size_t n, uint64_t seed)
{
    fm_rng r;
    fm_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)fm_rng_normal(&r, 0, 1);
}

static double max_abs(const float *p, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(p[i]));
    return m;
}

static void expect_close(const infer_tensor *got, const infer_tensor *ref)
{
    assert_int_equal(got->dtype, ref->dtype);
    assert_int_equal(got->ndim, ref->ndim);
    assert_memory_equal(got->dims, ref->dims, sizeof(int64_t) * (size_t)got->ndim);
    size_t n = got->bytes / 4;
    const float *a = got->data, *b = ref->data;
    double tol = 1e-4 * fmax(max_abs(b, n), 1e-3), worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    if (!(worst <= tol))
        fail_msg("max abs error %g > %g", worst, tol);
}

/* runs a model with the fast paths and with reference kernels; outputs must agree */
static void compare_fast_ref(const char *file, infer_tensor *in, size_t n_in, int threads,
                             size_t n_out)
{
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx(file), &m, &err), 0);
    infer_session_opts o;
    infer_session_opts_init(&o);
    o.threads = threads;
    infer_session *fast, *ref;
    assert_int_equal(infer_session_new(m, &o, &fast, &err), 0);
    infer__reference_mode = true;
    int rc = infer_session_new(m, NULL, &ref, &err);
    infer__reference_mode = false;
    assert_int_equal(rc, 0);
    infer_tensor a[4] = {0}, b[4] = {0};
    if (infer_session_run(fast, in, n_in, a, n_out, &err))
        fail_msg("%s", err.msg);
    if (infer_session_run(ref, in, n_in, b, n_out, &err))
        fail_msg("%s", err.msg);
    for (size_t k = 0; k < n_out; k++)
        expect_close(&a[k], &b[k]);
    infer_session_stats st;
    infer_session_get_stats(fast, &st);
    assert_true(st.plan_bytes > 0 && st.plan_bytes <= st.naive_bytes);
    assert_true(st.packed_bytes > 0); /* the fast session really used XNNPACK */
    infer_session_free(fast);
    infer_session_free(ref);
    infer_model_free(m);
}

static void test_conv_net_fast_vs_reference(void **state)
{
    (void)state;
    for (int batch = 1; batch <= 3; batch += 2)
        for (int threads = 1; threads <= 2; threads++) {
            size_t n = (size_t)batch * 3 * 16 * 16;
            float *x = malloc(n * 4);
            fill_normal(x, n, (uint64_t)batch);
            infer_tensor in = {.dtype = INFER_DTYPE_FP32,
                               .ndim = 4,
                               .dims = {batch, 3, 16, 16},
                               .data = x,
                               .bytes = n * 4};
            compare_fast_ref("conv_net.onnx", &in, 1, threads, 2);
            free(x);
        }
}

/* wide 1x1 convolutions between NHWC tensors run on sgemm; compare with the reference */
static void test_pointwise_fast_vs_reference(void **state)
{
    (void)state;
    for (int batch = 1; batch <= 2; batch++) {
        size_t n = (size_t)batch * 64 * 6 * 6;
        float *x = malloc(n * 4);
        fill_normal(x, n, 11 + (uint64_t)batch);
        infer_tensor in = {.dtype = INFER_DTYPE_FP32,
                           .ndim = 4,
                           .dims = {batch, 64, 6, 6},
                           .data = x,
                           .bytes = n * 4};
        compare_fast_ref("pointwise.onnx", &in, 1, batch, 1);
        free(x);
    }
}

static void test_transformer_fast_vs_reference(void **state)
{
    (void)state;
    int64_t shapes[][2] = {{2, 5}, {1, 7}, {3, 12}}; /* 36 rows: the sgemm path */
    for (size_t c = 0; c < FM_ARRAY_LEN(shapes); c++) {
        int64_t n = shapes[c][0] * shapes[c][1], ids[64];
        for (int64_t i = 0; i < n; i++)
            ids[i] = (i * 7 + 3) % 50;
        infer_tensor in = {.dtype = INFER_DTYPE_INT64,
                           .ndim = 2,
                           .dims = {shapes[c][0], shapes[c][1]},
                           .data = ids,
                           .bytes = (size_t)n * 8};
        compare_fast_ref("transformer.onnx", &in, 1, (int)(c % 2) + 1, 2);
    }
}

/* a session replans for a new batch and sequence length, and its results match fresh sessions */
static void test_replan(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx("transformer.onnx"), &m, &err), 0);
    infer_session *s;
    assert_int_equal(infer_session_new(m, NULL, &s, &err), 0);
    int64_t ids[12];
    for (int i = 0; i < 12; i++)
        ids[i] = i * 3 % 50;
    infer_tensor in = {.name = "ids",
                       .dtype = INFER_DTYPE_INT64,
                       .ndim = 2,
                       .dims = {3, 4},
                       .data = ids,
                       .bytes = sizeof ids};
    infer_tensor out = {.name = "idsum"};
    assert_int_equal(infer_session_run(s, &in, 1, &out, 1, &err), 0);
    assert_int_equal(out.ndim, 1);
    assert_int_equal(out.dims[0], 3);
    float sums[3];
    memcpy(sums, out.data, sizeof sums);
    for (int b = 0; b < 3; b++) {
        float want = 0;
        for (int i = 0; i < 4; i++)
            want += (float)ids[b * 4 + i];
        assert_float_equal(sums[b], want, 1e-4);
    }
    in.dims[0] = 2;
    in.dims[1] = 6;
    memset(&out, 0, sizeof out);
    out.name = "out0";
    assert_int_equal(infer_session_run(s, &in, 1, &out, 1, &err), 0);
    assert_int_equal(out.dims[0], 2);
    assert_int_equal(out.dims[1], 6);
    assert_int_equal(out.dims[2], 16);
    infer_session_free(s);
    infer_model_free(m);
}

/* wrong inputs give named errors; output buffers provided by the caller are checked */
static void test_run_errors(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx("conv_net.onnx"), &m, &err), 0);
    assert_int_equal(infer_model_n_inputs(m), 1);
    assert_int_equal(infer_model_n_outputs(m), 2);
    infer_io_info info;
    assert_int_equal(infer_model_input(m, 0, &info), 0);
    assert_string_equal(info.name, "x");
    assert_int_equal(info.dims[0], -1);
    assert_string_equal(info.dim_names[0], "batch");
    assert_int_equal(info.dims[1], 3);
    assert_int_equal(infer_model_input(m, 1, &info), FM_ERANGE);
    assert_int_equal(infer_model_find_output(m, "prob"), 0);
    infer_session *s;
    assert_int_equal(infer_session_new(m, NULL, &s, &err), 0);
    float x[2 * 3 * 16 * 16] = {0};
    infer_tensor in = {.dtype = INFER_DTYPE_INT32,
                       .ndim = 4,
                       .dims = {1, 3, 16, 16},
                       .data = x,
                       .bytes = 3 * 16 * 16 * 4};
    infer_tensor out[2] = {0};
    assert_int_equal(infer_session_run(s, &in, 1, out, 1, &err), FM_ETYPE);
    assert_non_null(strstr(err.msg, "input 'x' must be FP32, not INT32"));
    in.dtype = INFER_DTYPE_FP32;
    in.dims[2] = 15;
    assert_int_equal(infer_session_run(s, &in, 1, out, 1, &err), FM_ESHAPE);
    assert_non_null(strstr(err.msg, "input 'x' dim 2 must be 16"));
    in.dims[2] = 16;
    in.ndim = 3;
    assert_int_equal(infer_session_run(s, &in, 1, out, 1, &err), FM_ESHAPE);
    in.ndim = 4;
    in.bytes = 12;
    assert_int_equal(infer_session_run(s, &in, 1, out, 1, &err), FM_ESHAPE);
    in.bytes = 3 * 16 * 16 * 4;
    in.name = "nope";
    assert_int_equal(infer_session_run(s, &in, 1, out, 1, &err), FM_ENOTFOUND);
    in.name = NULL;
    assert_int_equal(infer_session_run(s, &in, 0, out, 1, &err), FM_EINVAL);
    assert_int_equal(infer_session_run(s, &in, 1, out, 3, &err), FM_EINVAL);
    float small[4];
    infer_tensor o1 = {.name = "prob", .data = small, .bytes = sizeof small};
    assert_int_equal(infer_session_run(s, &in, 1, &o1, 1, &err), FM_ERANGE);
    float big[10];
    o1 = (infer_tensor){.name = "prob", .data = big, .bytes = sizeof big};
    assert_int_equal(infer_session_run(s, &in, 1, &o1, 1, &err), 0);
    assert_ptr_equal(o1.data, big);
    float sum = 0;
    for (int i = 0; i < 10; i++)
        sum += big[i];
    assert_float_equal(sum, 1.0, 1e-5); /* softmax */
    infer_session_free(s);
    infer_model_free(m);
}

/* creating a session starts no thread (fork after load); the first run with threads=2 does */
static void test_lazy_threads(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx("conv_net.onnx"), &m, &err), 0);
    float x1[3 * 16 * 16] = {0};
    infer_tensor in1 = {.dtype = INFER_DTYPE_FP32,
                        .ndim = 4,
                        .dims = {1, 3, 16, 16},
                        .data = x1,
                        .bytes = sizeof x1};
    infer_tensor out1[2] = {0};
    infer_session *s1;
    int before = count_threads();
    assert_int_equal(infer_session_new(m, NULL, &s1, &err), 0); /* 1 thread (oneDNN, OpenBLAS) */
    assert_int_equal(infer_session_run(s1, &in1, 1, out1, 2, &err), 0);
    assert_int_equal(count_threads(), before); /* a 1-thread session never starts a thread */
    infer_session_free(s1);
    infer_session_opts o;
    infer_session_opts_init(&o);
    o.threads = 2;
    infer_session *s;
    assert_int_equal(infer_session_new(m, &o, &s, &err), 0);
    assert_int_equal(count_threads(), before);
    float x[3 * 16 * 16] = {0};
    infer_tensor in = {
        .dtype = INFER_DTYPE_FP32, .ndim = 4, .dims = {1, 3, 16, 16}, .data = x, .bytes = sizeof x};
    infer_tensor out[2] = {0};
    assert_int_equal(infer_session_run(s, &in, 1, out, 2, &err), 0);
    assert_true(count_threads() > before);
    infer_timings t;
    infer_session_timings(s, &t);
    assert_true(t.parse_ns > 0 && t.first_run_ns > 0);
    infer_session_free(s);
    infer_model_free(m);
}

typedef struct worker {
    infer_model *m;
    float out[10];
    int rc;
} worker;

static void *run_worker(void *p)
{
    worker *w = p;
    fm_err err = {0};
    infer_session *s;
    w->rc = infer_session_new(w->m, NULL, &s, &err);
    if (w->rc)
        return NULL;
    float x[3 * 16 * 16];
    fill_normal(x, FM_ARRAY_LEN(x), 5);
    infer_tensor in = {
        .dtype = INFER_DTYPE_FP32, .ndim = 4, .dims = {1, 3, 16, 16}, .data = x, .bytes = sizeof x};
    for (int i = 0; i < 20 && !w->rc; i++) {
        infer_tensor o = {.name = "prob", .data = w->out, .bytes = sizeof w->out};
        w->rc = infer_session_run(s, &in, 1, &o, 1, &err);
    }
    infer_session_free(s);
    return NULL;
}

/* one model, sessions on four threads at once: identical results */
static void test_shared_model_threads(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    assert_int_equal(infer_model_open(fx("conv_net.onnx"), &m, &err), 0);
    worker w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i].m = m;
        w[i].rc = -1;
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].rc, 0);
        assert_memory_equal(w[i].out, w[0].out, sizeof w[0].out);
    }
    infer_model_free(m);
}

static void test_npy(void **state)
{
    (void)state;
    int64_t v[6] = {1, -2, 3, 4, 5, 1LL << 40};
    infer_tensor t = {
        .dtype = INFER_DTYPE_INT64, .ndim = 2, .dims = {2, 3}, .data = v, .bytes = sizeof v};
    void *buf;
    size_t len;
    fm_err err = {0};
    assert_int_equal(infer_npy_encode(&t, &buf, &len, &err), 0);
    assert_int_equal((len - sizeof v) % 64, 0);
    assert_non_null(memmem(buf, len, "'shape': (2, 3)", 15));
    infer_tensor u;
    assert_int_equal(infer_npy_parse(buf, len, &u, &err), 0);
    assert_int_equal(u.dtype, INFER_DTYPE_INT64);
    assert_int_equal(u.ndim, 2);
    assert_int_equal(u.dims[1], 3);
    assert_memory_equal(u.data, v, sizeof v);
    for (size_t n = 0; n < len; n++) /* every truncation is an error */
        assert_int_not_equal(infer_npy_parse(buf, n, &u, &err), 0);
    free(buf);
    float one = 2.5f;
    infer_tensor s = {.dtype = INFER_DTYPE_FP32, .ndim = 1, .dims = {1}, .data = &one, .bytes = 4};
    assert_int_equal(infer_npy_encode(&s, &buf, &len, &err), 0);
    assert_non_null(memmem(buf, len, "(1,)", 4));
    free(buf);
    const char bad[] = "\x93NUMPY\x01\x00\x20\x00{'descr': '>f4', 'shape': (1,)} ";
    assert_int_equal(infer_npy_parse(bad, sizeof bad - 1, &u, &err), FM_EUNSUPPORTED);
    assert_int_equal(infer_npy_parse("garbage!!!", 10, &u, &err), FM_EPARSE);
}

/* initializers in an external-data file beside the model; paths may not leave its directory */
static void test_external_data(void **state)
{
    (void)state;
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open(fx("external.onnx"), &m, &err))
        fail_msg("%s", err.msg);
    infer_session *s;
    assert_int_equal(infer_session_new(m, NULL, &s, &err), 0);
    float x[256], y[256];
    for (int i = 0; i < 256; i++)
        x[i] = 0.5f;
    infer_tensor in = {
        .dtype = INFER_DTYPE_FP32, .ndim = 1, .dims = {256}, .data = x, .bytes = sizeof x};
    infer_tensor out = {.data = y, .bytes = sizeof y};
    assert_int_equal(infer_session_run(s, &in, 1, &out, 1, &err), 0);
    for (int i = 0; i < 256; i++)
        assert_float_equal(y[i], i + 0.5, 0);
    infer_session_free(s);
    infer_model_free(m);
    assert_int_equal(infer_model_open(fx("external_escape.onnx"), &m, &err), FM_EINVAL);
    assert_non_null(strstr(err.msg, "leaves the model directory"));
    char *buf;
    size_t len;
    assert_int_equal(fm_read_file(fx("external.onnx"), &buf, &len, &err), 0);
    assert_int_equal(infer_model_open_buffer(buf, len, "mem", &m, &err), FM_EUNSUPPORTED);
    free(buf);
}

/* a symlink inside the model directory that points out of it is refused (RESOLVE_BENEATH) */
static void test_external_symlink(void **state)
{
    (void)state;
    char dir[] = "/tmp/faasml-ext.XXXXXX", model[1200], link[1200], cmd[3000];
    assert_non_null(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/external.onnx", dir);
    snprintf(link, sizeof link, "%s/ext_weights.bin", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", fx("external.onnx"), model);
    assert_int_equal(system(cmd), 0);
    char *target = realpath(fx("ext_weights.bin"), NULL);
    assert_non_null(target);
    assert_int_equal(symlink(target, link), 0); /* absolute, out of dir */
    free(target);
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open(model, &m, &err) != FM_EINVAL)
        fail_msg("accepted or other error: %s", err.msg);
    assert_non_null(strstr(err.msg, "leaves the model directory"));
    unlink(link);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", fx("ext_weights.bin"), link);
    assert_int_equal(system(cmd), 0); /* the same bytes, inside: accepted */
    assert_int_equal(infer_model_open(model, &m, &err), 0);
    infer_model_free(m);
    unlink(link);
    unlink(model);
    rmdir(dir);
}

/* the vectorizable exp/erf used by Softmax and GELU against libm */
static void test_fastmath(void **state)
{
    (void)state;
    double worst_exp = 0, worst_erf = 0;
    for (float x = -80.0f; x <= 80.0f; x += 0.00731f) {
        double want = exp((double)x);
        worst_exp = fmax(worst_exp, fabs(fm_expf(x) - want) / want);
    }
    for (float x = -6.0f; x <= 6.0f; x += 0.000173f)
        worst_erf = fmax(worst_erf, fabs(fm_erff(x) - erf((double)x)));
    if (worst_exp > 2e-7 || worst_erf > 5e-7)
        fail_msg("exp rel err %g, erf abs err %g", worst_exp, worst_erf);
    assert_true(fm_expf(-1000.0f) >= 0.0f && fm_expf(-1000.0f) < 1e-37f);
    assert_true(isfinite(fm_expf(1000.0f)) && fm_expf(1000.0f) > 1e38f);
    assert_true(isnan(fm_expf(NAN)) && isnan(fm_erff(NAN)));
}

int main(void)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(fixture_dir, sizeof fixture_dir, "%s/tests/fixtures/infer", src ? src : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_truncated_and_corrupted),
        cmocka_unit_test(test_conv_net_fast_vs_reference),
        cmocka_unit_test(test_pointwise_fast_vs_reference),
        cmocka_unit_test(test_transformer_fast_vs_reference),
        cmocka_unit_test(test_replan),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_lazy_threads),
        cmocka_unit_test(test_shared_model_threads),
        cmocka_unit_test(test_npy),
        cmocka_unit_test(test_fastmath),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_external_symlink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
