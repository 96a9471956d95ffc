/* Calibration on this machine: measures the built-in runtime's cold-start phases and inference
 * latency per batch size, and writes them in the calibration file format the simulator reads. */
#include "calib.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "infer/infer.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Why: the simulator samples from an inverse CDF, so the file keeps a quantile table, not just
 * p50/p99; nearest-rank quantiles of the sorted samples. */
static const double cal_q[] = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1};

static void write_quantiles(FILE *f, int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    fprintf(f, "{quantiles: {");
    for (size_t i = 0; i < FM_ARRAY_LEN(cal_q); i++) {
        int k = (int)ceil(cal_q[i] * n) - 1;
        if (k < 0)
            k = 0;
        if (k >= n)
            k = n - 1;
        fprintf(f, "%s%g: %.4f", i ? ", " : "", cal_q[i], (double)v[k] / 1e6);
    }
    fprintf(f, "}}");
}

/* Random inputs for every model input at batch b (symbolic dims other than the first take 1). */
static int make_inputs(infer_model *m, int b, fm_rng *rng, infer_tensor *in, size_t *n, fm_err *err)
{
    *n = infer_model_n_inputs(m);
    if (*n > 8)
        return fm_err_set(err, FM_EUNSUPPORTED, "models with more than 8 inputs");
    for (size_t i = 0; i < *n; i++) {
        infer_io_info io;
        infer_model_input(m, i, &io);
        infer_tensor *t = &in[i];
        *t = (infer_tensor){.name = io.name, .dtype = io.dtype, .ndim = io.ndim};
        int64_t numel = 1;
        for (int d = 0; d < io.ndim; d++) {
            t->dims[d] = io.dims[d] >= 0 ? io.dims[d] : d == 0 ? b : 1;
            numel *= t->dims[d];
        }
        size_t es = infer_dtype_size(io.dtype);
        if (!es)
            return fm_err_set(err, FM_EUNSUPPORTED, "input '%s' of type %s", io.name,
                              infer_dtype_name(io.dtype));
        t->bytes = (size_t)numel * es;
        t->data = malloc(t->bytes ? t->bytes : 1);
        if (!t->data)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        for (int64_t k = 0; k < numel; k++) {
            switch (io.dtype) {
            case INFER_DTYPE_FP32: ((float *)t->data)[k] = (float)fm_rng_normal(rng, 0, 1); break;
            case INFER_DTYPE_INT64:
                ((int64_t *)t->data)[k] = (int64_t)fm_rng_below(rng, 100);
                break;
            case INFER_DTYPE_INT32:
                ((int32_t *)t->data)[k] = (int32_t)fm_rng_below(rng, 100);
                break;
            default: memset((char *)t->data + (size_t)k * es, 0, es); break;
            }
        }
    }
    return 0;
}

static void free_inputs(infer_tensor *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(in[i].data);
}

/* Time of fork+exec of `exe --version` to its exit: the process part of a cold start. */
static int64_t spawn_ns(const char *exe)
{
    int64_t t0 = fm_now_ns();
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", 1);
        if (fd >= 0)
            dup2(fd, 1);
        execl(exe, exe, "--version", (char *)NULL);
        _exit(127);
    }
    if (p < 0)
        return -1;
    int st;
    waitpid(p, &st, 0);
    return fm_now_ns() - t0;
}

/* Why: an accuracy entry is what lets `faasml plan` weigh a cheaper precision against a floor;
 * it is measured on the very session configuration the service times were measured on. */
static int measure_accuracy(const calib_opts *o, const char *name, const char *path,
                            const char *ref_path, const char *prec, FILE *out, fm_err *err)
{
    infer_model *m = NULL, *rm = NULL;
    infer_session *s = NULL, *rs = NULL;
    infer_session_opts so;
    infer_session_opts_init(&so);
    so.precision = strcmp(prec, "bf16") == 0 ? INFER_PRECISION_BF16 : INFER_PRECISION_FP32;
    infer_accuracy a;
    int rc = infer_model_open(path, &m, err);
    if (!rc)
        rc = ref_path ? infer_model_open(ref_path, &rm, err) : 0;
    if (!rc)
        rc = infer_session_new(m, &so, &s, err);
    if (!rc)
        rc = infer_session_new(rm ? rm : m, NULL, &rs, err);
    if (!rc)
        rc = infer_accuracy_measure(m, s, rs, o->accuracy_samples, o->vocab, 2, &a, err);
    if (!rc) {
        char ref[4200];
        fm_json_quote(ref, sizeof ref, ref_path ? ref_path : path);
        fprintf(out,
                "  - {model: %s, runtime: faasml, precision: %s, reference: %s, samples: %zu, "
                "cosine_min: %.6f, cosine_mean: %.6f, max_rel_err: %.6f, top1_agreement: %.4f, "
                "top5_agreement: %.4f}\n",
                name, prec, ref, a.samples, a.cos_min, a.cos_mean, a.max_rel_err, a.top1, a.top5);
    }
    infer_session_free(s);
    infer_session_free(rs);
    infer_model_free(m);
    infer_model_free(rm);
    if (rc)
        fm_err_prefix(err, "accuracy: ");
    return rc;
}

int calib_model(const calib_opts *o, const char *name, const char *path, const char *ref_path,
                FILE *svc, FILE *cold, FILE *acc, fm_err *err)
{
    const char *prec = o->precision ? o->precision : "fp32";
    int runs = o->runs > 0 ? o->runs : 30, cold_runs = o->cold_runs > 0 ? o->cold_runs : 5;
    int64_t *load = calloc((size_t)cold_runs, sizeof *load);
    int64_t *warm = calloc((size_t)cold_runs, sizeof *warm);
    int64_t *spawn = calloc((size_t)cold_runs, sizeof *spawn);
    int64_t *lat = calloc((size_t)runs, sizeof *lat);
    fm_rng rng;
    fm_rng_seed(&rng, 1);
    int rc = 0;
    if (!load || !warm || !spawn || !lat) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto out;
    }
    infer_session_opts so;
    infer_session_opts_init(&so);
    so.threads = o->threads > 0 ? o->threads : 1;
    so.precision = strcmp(prec, "bf16") == 0 ? INFER_PRECISION_BF16 : INFER_PRECISION_FP32;
    if (strcmp(prec, "int8") == 0) { /* a label: the file must be quantized already */
        infer_model *m = NULL;
        if ((rc = infer_model_open(path, &m, err)))
            goto out;
        infer_model_info mi;
        infer_model_get_info(m, &mi);
        infer_model_free(m);
        if (mi.n_int_nodes == 0) {
            rc = fm_err_set(err, FM_EINVAL,
                            "precision 'int8' needs a quantized model, and '%s' has no "
                            "quantization nodes (make one with `faasml quantize`)",
                            path);
            goto out;
        }
    }
    /* cold-start phases: a fresh model and session each time */
    for (int r = 0; r < cold_runs && !rc; r++) {
        spawn[r] = o->exe ? spawn_ns(o->exe) : 0;
        int64_t t0 = fm_now_ns();
        infer_model *m = NULL;
        infer_session *s = NULL;
        if ((rc = infer_model_open(path, &m, err)))
            break;
        if ((rc = infer_session_new(m, &so, &s, err))) {
            infer_model_free(m);
            break;
        }
        load[r] = fm_now_ns() - t0;
        infer_tensor in[8], outp[8] = {0};
        size_t nin;
        if (!(rc = make_inputs(m, 1, &rng, in, &nin, err))) {
            int64_t t1 = fm_now_ns();
            rc = infer_session_run(s, in, nin, outp, 1, err);
            warm[r] = fm_now_ns() - t1;
        }
        free_inputs(in, nin);
        infer_session_free(s);
        infer_model_free(m);
    }
    if (rc)
        goto out;
    fprintf(cold,
            "  - model: %s\n    runtime: faasml\n    device: cpu\n    precision: %s\n"
            "    memory_mb: %d\n",
            name, prec, o->memory_mb);
    fprintf(cold, "    spawn_ms: ");
    write_quantiles(cold, spawn, cold_runs);
    fprintf(cold, "\n    load_ms: ");
    write_quantiles(cold, load, cold_runs);
    fprintf(cold, "\n    warmup_ms: ");
    write_quantiles(cold, warm, cold_runs);
    fprintf(cold, "\n");
    /* warm latency per batch size, on one session */
    infer_model *m = NULL;
    infer_session *s = NULL;
    if ((rc = infer_model_open(path, &m, err)))
        goto out;
    for (int bi = 0; bi < o->nbatch && !rc; bi++) {
        int b = o->batch[bi];
        so.max_batch = b;
        if ((rc = infer_session_new(m, &so, &s, err)))
            break;
        infer_tensor in[8], outp[8] = {0};
        size_t nin;
        if (!(rc = make_inputs(m, b, &rng, in, &nin, err))) {
            for (int w = 0; w < 3 && !rc; w++)
                rc = infer_session_run(s, in, nin, outp, 1, err);
            int64_t deadline = fm_now_ns() + o->max_seconds_per_point * 1000000000LL;
            int done = 0;
            for (; done < runs && !rc; done++) {
                int64_t t0 = fm_now_ns();
                rc = infer_session_run(s, in, nin, outp, 1, err);
                lat[done] = fm_now_ns() - t0;
                if (o->max_seconds_per_point > 0 && fm_now_ns() > deadline && done >= 4) {
                    done++;
                    break;
                }
            }
            if (!rc) {
                fprintf(svc,
                        "  - {model: %s, runtime: faasml, device: cpu, precision: %s, "
                        "memory_mb: %d, batch: %d, latency_ms: ",
                        name, prec, o->memory_mb, b);
                write_quantiles(svc, lat, done);
                fprintf(svc, "}\n");
            }
        }
        free_inputs(in, nin);
        infer_session_free(s);
        s = NULL;
    }
    infer_model_free(m);
    if (!rc && o->accuracy_samples > 0)
        rc = measure_accuracy(o, name, path, ref_path, prec, acc, err);
out:
    free(load);
    free(warm);
    free(spawn);
    free(lat);
    if (rc)
        fm_err_prefix(err, "calibrating '%s': ", name);
    return rc;
}

/* ---- from a recorded run -------------------------------------------------------------------- */

typedef struct vec {
    int64_t *v;
    int n, cap;
} vec;

static int vec_push(vec *x, int64_t v)
{
    if (x->n == x->cap) {
        int nc = x->cap ? x->cap * 2 : 256;
        int64_t *nv = realloc(x->v, (size_t)nc * sizeof *nv);
        if (!nv)
            return FM_ENOMEM;
        x->v = nv;
        x->cap = nc;
    }
    x->v[x->n++] = v;
    return 0;
}

#define MAX_BATCH 64
typedef struct from_run {
    vec by_batch[MAX_BATCH + 1];
    vec overhead; /* client latency minus execution, warm successful requests */
    vec phase[FM_PHASE__COUNT];
    int memory_mb;
    int rc;
} from_run;

static int take_request(const store_request *r, void *ud)
{
    from_run *f = ud;
    if (r->http_code != 200 || r->cold || r->duration_ms <= 0)
        return 0;
    int b = r->batch_size > 0 ? r->batch_size : 1;
    if (b > MAX_BATCH)
        return 0;
    if (!f->memory_mb)
        f->memory_mb = r->memory_mb;
    if (r->sent_ns > 0 && r->done_ns > r->sent_ns) {
        double out_ms = (double)(r->done_ns - r->sent_ns) / 1e6 - r->duration_ms;
        if (out_ms >= 0 && (f->rc = vec_push(&f->overhead, (int64_t)(out_ms * 1e6))))
            return f->rc;
    }
    return f->rc = vec_push(&f->by_batch[b], (int64_t)(r->duration_ms * 1e6));
}

static int take_instance(const store_instance *i, void *ud)
{
    from_run *f = ud;
    if (!i->ready_ns)
        return 0;
    const double *ph = i->phase_ms;
    for (int p = 0; p < FM_PHASE__COUNT && !f->rc; p++)
        if (ph[p] > 0)
            f->rc = vec_push(&f->phase[p], (int64_t)(ph[p] * 1e6));
    if (!f->memory_mb)
        f->memory_mb = i->memory_mb;
    return f->rc;
}

int calib_from_run(store *db, int64_t run_id, const char *model, const char *runtime,
                   const char *precision, FILE *svc, FILE *cold, fm_err *err)
{
    if (!precision)
        precision = "fp32";
    from_run f = {0};
    int rc = store_requests_each(db, run_id, take_request, &f, err);
    if (!rc)
        rc = store_instances_each(db, run_id, take_instance, &f, err);
    if (!rc && f.rc)
        rc = fm_err_set(err, f.rc, "out of memory");
    int nsvc = 0;
    for (int b = 1; !rc && b <= MAX_BATCH; b++) {
        if (f.by_batch[b].n < 5)
            continue; /* too few warm invocations to say anything about the distribution */
        fprintf(svc,
                "  - {model: %s, runtime: %s, device: cpu, precision: %s, memory_mb: %d, batch: "
                "%d, latency_ms: ",
                model, runtime, precision, f.memory_mb, b);
        write_quantiles(svc, f.by_batch[b].v, f.by_batch[b].n);
        if (f.overhead.n >= 5) {
            fprintf(svc, ", overhead_ms: ");
            write_quantiles(svc, f.overhead.v, f.overhead.n);
        }
        fprintf(svc, "}\n");
        nsvc++;
    }
    if (!rc && nsvc == 0)
        rc = fm_err_set(err, FM_ENOTFOUND,
                        "run %lld has fewer than 5 warm successful invocations of any batch size",
                        (long long)run_id);
    if (!rc) {
        fprintf(cold,
                "  - model: %s\n    runtime: %s\n    device: cpu\n    precision: %s\n"
                "    memory_mb: %d\n",
                model, runtime, precision, f.memory_mb);
        for (int p = 0; p < FM_PHASE__COUNT; p++) {
            if (!f.phase[p].n)
                continue;
            fprintf(cold, "    %s_ms: ", fm_phase_key((fm_phase)p));
            write_quantiles(cold, f.phase[p].v, f.phase[p].n);
            fprintf(cold, "\n");
        }
    }
    for (int b = 0; b <= MAX_BATCH; b++)
        free(f.by_batch[b].v);
    free(f.overhead.v);
    for (int p = 0; p < FM_PHASE__COUNT; p++)
        free(f.phase[p].v);
    return rc;
}
