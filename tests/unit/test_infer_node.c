/*
 * ONNX backend node tests from Debian's libonnx-testdata: every test whose model loads runs and
 * must match the expected outputs (rtol 1e-3, atol 1e-5, as onnx's backend tests use); a model
 * that does not load must fail with FM_EUNSUPPORTED naming what is missing. Each supported test
 * runs twice: as shipped, and with every input but the first turned into an initializer, which
 * drives the constant-weight paths (XNNPACK, folding). The list of skipped tests and reasons is
 * written to $FM_BUILD_DIR/infer_node_skipped.txt.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer/infer.h"
#include "infer/infer_int.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

/* Tests that load but whose results we do not match, each with the reason. Kept empty when
 * everything that loads passes. */
static const struct {
    const char *name, *why;
} known_fail[] = {
    {NULL, NULL},
};

static const char *known(const char *name)
{
    for (size_t i = 0; known_fail[i].name; i++)
        if (!strcmp(known_fail[i].name, name))
            return known_fail[i].why;
    return NULL;
}

static int load_pb(const char *path, infer_tensor *t)
{
    char *buf;
    size_t len;
    fm_err err = {0};
    if (fm_read_file(path, &buf, &len, &err))
        return -1;
    int rc = infer__onnx_parse_tensor_alloc(buf, len, t, NULL, &err);
    free(buf);
    return rc;
}

static bool close_enough(const infer_tensor *got, const infer_tensor *want, char *why, size_t wl)
{
    if (got->dtype != want->dtype) {
        snprintf(why, wl, "dtype %s, want %s", infer_dtype_name(got->dtype),
                 infer_dtype_name(want->dtype));
        return false;
    }
    if (got->ndim != want->ndim ||
        memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->ndim)) {
        snprintf(why, wl, "shape differs (rank %d vs %d)", got->ndim, want->ndim);
        return false;
    }
    int64_t n = infer_tensor_numel(want);
    for (int64_t i = 0; i < n; i++) {
        double a, b;
        switch (want->dtype) {
        case INFER_DTYPE_FP32:
            a = ((float *)got->data)[i];
            b = ((float *)want->data)[i];
            break;
        case INFER_DTYPE_FP64:
            a = ((double *)got->data)[i];
            b = ((double *)want->data)[i];
            break;
        case INFER_DTYPE_INT64:
            a = (double)((int64_t *)got->data)[i];
            b = (double)((int64_t *)want->data)[i];
            break;
        case INFER_DTYPE_INT32:
            a = ((int32_t *)got->data)[i];
            b = ((int32_t *)want->data)[i];
            break;
        default: {
            size_t es = infer_dtype_size(want->dtype);
            if (memcmp((char *)got->data + i * es, (char *)want->data + i * es, es)) {
                snprintf(why, wl, "element %lld differs", (long long)i);
                return false;
            }
            continue;
        }
        }
        if (isnan(a) && isnan(b))
            continue;
        if (isinf(b) && a == b)
            continue;
        if (!(fabs(a - b) <= 1e-5 + 1e-3 * fabs(b))) {
            snprintf(why, wl, "element %lld: %g, want %g", (long long)i, a, b);
            return false;
        }
    }
    return true;
}

/* Turns inputs 1.. of a loaded model into initializers holding the test's values. */
static void bind_consts(infer_model *m, infer_tensor *ins, size_t n_in)
{
    for (size_t i = n_in; i-- > 1;) {
        ival *v = &m->vals[m->inputs[i]];
        v->kind = VAL_INIT;
        v->data = ins[i].data;
        v->bytes = ins[i].bytes;
        v->ndim = ins[i].ndim;
        memcpy(v->dims, ins[i].dims, sizeof v->dims);
    }
    m->n_inputs = n_in ? 1 : 0;
}

/* Runs one data set; returns 0 on match, 1 on mismatch (why filled), -1 when files are missing. */
static int run_set(const char *dir, const char *set, bool consts, char *why, size_t wl)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    fm_err err = {0};
    infer_model *m;
    if (infer_model_open(path, &m, &err)) {
        snprintf(why, wl, "%s", err.msg);
        return 1;
    }
    infer_tensor ins[16] = {0}, want[16] = {0}, got[16] = {0};
    size_t n_in = 0, n_out = 0;
    for (; n_in < 16; n_in++) {
        snprintf(path, sizeof path, "%s/%s/input_%zu.pb", dir, set, n_in);
        if (load_pb(path, &ins[n_in]))
            break;
    }
    for (; n_out < 16; n_out++) {
        snprintf(path, sizeof path, "%s/%s/output_%zu.pb", dir, set, n_out);
        if (load_pb(path, &want[n_out]))
            break;
    }
    int rc = 0;
    if (n_in != infer_model_n_inputs(m) || n_out != infer_model_n_outputs(m)) {
        snprintf(why, wl, "data set has %zu inputs, %zu outputs", n_in, n_out);
        rc = 1;
        goto out;
    }
    if (consts)
        bind_consts(m, ins, n_in);
    infer_session *s;
    if (infer_session_new(m, NULL, &s, &err)) {
        snprintf(why, wl, "%s", err.msg);
        rc = 1;
        goto out;
    }
    if (infer_session_run(s, ins, consts ? FM_MIN(n_in, 1) : n_in, got, n_out, &err)) {
        snprintf(why, wl, "%s", err.msg);
        rc = 1;
    } else {
        for (size_t k = 0; k < n_out && !rc; k++)
            if (!close_enough(&got[k], &want[k], why, wl))
                rc = 1;
    }
    infer_session_free(s);
out:
    infer_model_free(m);
    for (size_t k = 0; k < 16; k++) {
        free(ins[k].data);
        free(want[k].data);
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_node_suite(void **state)
{
    (void)state;
    DIR *d = opendir(NODE_DIR);
    if (!d) {
        print_message("libonnx-testdata not installed (%s): skipped\n", NODE_DIR);
        skip();
    }
    char *names[4096];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 4096)
        if (!strncmp(e->d_name, "test_", 5))
            names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    const char *bd = getenv("FM_BUILD_DIR");
    char lp[1024];
    snprintf(lp, sizeof lp, "%s/infer_node_skipped.txt", bd ? bd : ".");
    FILE *log = fopen(lp, "w");
    const char *only = getenv("FM_NODE_TEST");
    int pass = 0, skipped = 0, failed = 0, known_n = 0;
    for (size_t i = 0; i < nn; i++) {
        if (only && !strstr(names[i], only))
            continue;
        char dir[1024], path[1100];
        snprintf(dir, sizeof dir, "%s/%s", NODE_DIR, names[i]);
        snprintf(path, sizeof path, "%s/model.onnx", dir);
        fm_err err = {0};
        infer_model *m;
        int rc = infer_model_open(path, &m, &err);
        if (rc) {
            if (rc != FM_EUNSUPPORTED) {
                print_message("FAIL %s: load: %s\n", names[i], err.msg);
                failed++;
            } else {
                if (log)
                    fprintf(log, "%s\t%s\n", names[i], err.msg);
                skipped++;
            }
            continue;
        }
        infer_model_free(m);
        char why[600] = "";
        int bad = 0;
        for (int pass_no = 0; pass_no < 2 && !bad; pass_no++) {
            for (int k = 0; k < 4 && !bad; k++) {
                char set[32], sp[1200];
                snprintf(set, sizeof set, "test_data_set_%d", k);
                snprintf(sp, sizeof sp, "%s/%s/output_0.pb", dir, set);
                FILE *f = fopen(sp, "r");
                if (!f)
                    break;
                fclose(f);
                bad = run_set(dir, set, pass_no == 1, why, sizeof why);
                if (bad && pass_no == 1)
                    strncat(why, " (inputs as initializers)", sizeof why - strlen(why) - 1);
            }
        }
        /* a run-time "unsupported" (e.g. a data type only seen at plan time) counts as skipped */
        if (bad && (strstr(why, "not supported") || strstr(why, "unsupported") ||
                    strstr(why, "must be known"))) {
            if (log)
                fprintf(log, "%s\t%s\n", names[i], why);
            skipped++;
        } else if (bad && known(names[i])) {
            if (log)
                fprintf(log, "%s\tknown failure: %s\n", names[i], known(names[i]));
            known_n++;
        } else if (bad) {
            print_message("FAIL %s: %s\n", names[i], why);
            failed++;
        } else {
            pass++;
        }
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    if (log)
        fclose(log);
    print_message("node tests: %d passed, %d skipped (unsupported, listed in %s), %d known "
                  "failures, %d failed\n",
                  pass, skipped, lp, known_n, failed);
    assert_int_equal(failed, 0);
    assert_true(pass > 0 || only);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_node_suite)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
