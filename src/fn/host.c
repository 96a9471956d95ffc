/*
 * The host: init phases (model fetch, load, plan, warm-up, each timed) and the one request path
 * both protocol loops share: decode the payload, check it against the model, run, encode.
 */
#include "fn/fn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int64_t fn_process_age_ns(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long start = 0;
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ' && ++field == 22)
            start = strtoull(p + 1, NULL, 10);
    struct timespec ts;
    long hz = sysconf(_SC_CLK_TCK);
    if (!start || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
        return 0;
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t age = now - (int64_t)(start * (1000000000ULL / (unsigned long long)hz));
    return age > 0 ? age : 0;
}

/* Why: labels file, one class per line, indexed by class number. */
static int load_labels(fn_host *h, const char *path, fm_err *err)
{
    size_t len;
    int rc = fm_read_file(path, &h->labels_buf, &len, err);
    if (rc)
        return fm_err_prefix(err, "cannot read labels: ");
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += h->labels_buf[i] == '\n';
    h->labels = calloc(lines, sizeof *h->labels);
    if (!h->labels)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (char *save = NULL, *l = strtok_r(h->labels_buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r")] = '\0';
        h->labels[h->n_labels++] = l;
    }
    return 0;
}

/* Why: one inference on zeros at init moves first-run costs (thread start, page faults, lazy
 * setup) out of the first request; variable dimensions take 1, or the preprocess size. */
static int warm_up(fn_host *host, fm_err *err)
{
    fn_handler *h = host->h;
    infer_tensor in[FN_MAX_IO], out[FN_MAX_IO];
    void *bufs[FN_MAX_IO] = {0};
    int rc = 0;
    for (size_t i = 0; i < h->n_inputs && !rc; i++) {
        const infer_io_info *io = &h->inputs[i];
        memset(&in[i], 0, sizeof in[i]);
        in[i].name = io->name;
        in[i].dtype = io->dtype;
        in[i].ndim = io->ndim;
        for (int d = 0; d < io->ndim; d++)
            in[i].dims[d] = io->dims[d] >= 0 ? io->dims[d] : 1;
        if (h->n_inputs == 1 && io->ndim == 4 && host->spec.pre.height > 0) {
            bool nchw = host->spec.pre.layout == FN_LAYOUT_NCHW;
            in[i].dims[nchw ? 2 : 1] = host->spec.pre.height;
            in[i].dims[nchw ? 3 : 2] = host->spec.pre.width;
            in[i].dims[nchw ? 1 : 3] = host->spec.pre.channels;
        }
        int64_t n = infer_tensor_numel(&in[i]);
        size_t es = infer_dtype_size(io->dtype);
        if (n < 0 || es == 0)
            return fm_err_set(err, FM_EUNSUPPORTED, "input '%s' cannot be warmed up", io->name);
        in[i].bytes = (size_t)n * es;
        if (!(bufs[i] = in[i].data = calloc(1, in[i].bytes ? in[i].bytes : 1)))
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int64_t t0 = fm_now_ns();
    if (!rc)
        rc = fn_handler_run(h, in, out, err);
    host->times.warmup_ns = fm_now_ns() - t0;
    for (size_t i = 0; i < h->n_inputs; i++)
        free(bufs[i]);
    return rc;
}

/* Why: the KServe model name: the spec's, else the model file name without ".onnx", or the
 * directory name for a file called model.onnx (the model cache's layout: <name>/model.onnx). */
static void derive_name(fn_host *host, const char *model)
{
    if (host->spec.name[0]) {
        snprintf(host->name, sizeof host->name, "%s", host->spec.name);
        return;
    }
    if (strncmp(model, "builtin:", 8) == 0) {
        snprintf(host->name, sizeof host->name, "identity");
        return;
    }
    size_t end = strcspn(model, "?#"), start = end;
    while (start > 0 && model[start - 1] != '/')
        start--;
    size_t n = end - start;
    if (n == 10 && strncmp(model + start, "model.onnx", 10) == 0 && start > 1) {
        end = start - 1; /* use the parent directory */
        start = end;
        while (start > 0 && model[start - 1] != '/')
            start--;
        n = end - start;
    } else if (n > 5 && strncasecmp(model + start + n - 5, ".onnx", 5) == 0) {
        n -= 5;
    }
    if (n == 0 || n >= sizeof host->name)
        snprintf(host->name, sizeof host->name, "model");
    else
        snprintf(host->name, sizeof host->name, "%.*s", (int)n, model + start);
}

/* Why: the init phases in order; each failure names the model and the phase. */
static int host_init(fn_host *host, fm_err *err)
{
    const fn_spec *s = &host->spec;
    char local[4400];
    snprintf(local, sizeof local, "%s", s->model);
    if (!s->model[0])
        return fm_err_set(err, FM_EINVAL,
                          "no model given (--model, --spec, $FAASML_MODEL or $_HANDLER)");
    derive_name(host, s->model);
    if (fn_model_is_url(s->model)) {
        const char *dir = s->task_dir[0] ? s->task_dir : getenv("FAASML_TASK_DIR");
        int64_t t0 = fm_now_ns();
        int rc = fn_model_fetch(s->model, dir && *dir ? dir : "/tmp", local, sizeof local, err);
        host->times.download_ns = fm_now_ns() - t0;
        if (rc)
            return rc;
    }
    int64_t t0 = fm_now_ns();
    int rc =
        strncmp(local, "builtin:", 8) == 0
            ? fn_handler_identity_new(local + 8, &host->h, err)
            : fn_handler_onnx_new(local, s->threads, s->max_batch, s->precision, &host->h, err);
    int64_t wall = fm_now_ns() - t0;
    if (rc)
        return rc;
    host->times.load_ns = host->h->load_ns;
    host->times.plan_ns = host->h->plan_ns;
    if (host->times.load_ns + host->times.plan_ns == 0)
        host->times.load_ns = wall; /* the handler does not split its phases */
    host->topk_output = 0;
    if (s->post.output[0]) {
        size_t k = 0;
        while (k < host->h->n_outputs && strcmp(host->h->outputs[k].name, s->post.output))
            k++;
        if (k == host->h->n_outputs)
            return fm_err_set(err, FM_ESCHEMA,
                              "postprocess output '%s' is not an output of model '%s'",
                              s->post.output, host->name);
        host->topk_output = (int)k;
    }
    if (s->post.labels[0] && (rc = load_labels(host, s->post.labels, err)))
        return rc;
    if (s->warmup && (rc = warm_up(host, err)))
        FM_WARN("fn", "warm-up inference skipped: %s", err->msg);
    return 0;
}

int fn_host_new(const fn_spec *spec, fn_host **out, fm_err *err)
{
    int64_t t0 = fm_now_ns();
    fn_host *host = calloc(1, sizeof *host);
    if (!host)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    host->spec = *spec;
    host->times.runtime_ns = fn_process_age_ns();
    int rc = host_init(host, err);
    if (rc) {
        fn_host_free(host);
        *out = NULL;
        return rc;
    }
    host->times.total_ns = host->times.runtime_ns + (fm_now_ns() - t0);
    *out = host;
    return 0;
}

void fn_host_free(fn_host *h)
{
    if (!h)
        return;
    fn_handler_free(h->h);
    free(h->labels);
    free(h->labels_buf);
    free(h);
}

const char *fn_host_model_name(const fn_host *h)
{
    return h->name;
}

const fn_handler *fn_host_handler(const fn_host *h)
{
    return h->h;
}

void fn_host_init_times(const fn_host *h, fn_init_times *out)
{
    *out = h->times;
}

void fn_host_init_json(const fn_host *h, char *buf, size_t cap)
{
    const fn_init_times *t = &h->times;
    snprintf(buf, cap,
             "{\"runtime_ms\":%.3f,\"download_ms\":%.3f,\"load_ms\":%.3f,\"plan_ms\":%.3f,"
             "\"warmup_ms\":%.3f,\"init_ms\":%.3f}",
             (double)t->runtime_ns / 1e6, (double)t->download_ns / 1e6, (double)t->load_ns / 1e6,
             (double)t->plan_ns / 1e6, (double)t->warmup_ns / 1e6, (double)t->total_ns / 1e6);
}
