/*
 * model.c — opening, describing and freeing models. A model is immutable once open, so sessions
 * on several threads may share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infer/infer_int.h"

/* Why: both open paths share parsing and timing; on failure the model is freed and err prefixed. */
/* Why: raw weights never take more room than the file holds them in, so one reservation of the
 * file's size (plus a huge page of slack) takes every copy; pages are only used once written. */
static void reserve_weights(infer_model *m)
{
    size_t huge = (size_t)2 << 20;
    size_t cap = (m->map_len + 2 * huge - 1) & ~(huge - 1);
    void *p =
        mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return; /* the arena takes them */
    madvise(p, cap, MADV_HUGEPAGE);
    m->wbuf = p;
    m->wcap = cap;
}

static int finish_open(infer_model *m, int64_t t0, int64_t c0, infer_model **out, fm_err *err)
{
    reserve_weights(m);
    int64_t t1 = fm_now_ns(), c1 = infer_cpu_ns();
    m->t.read_ns = t1 - t0;
    m->t.read_cpu_ns = c1 - c0;
    fm_err tmp = {0};
    int rc = infer__onnx_parse_model(m, &tmp);
    m->t.parse_ns = fm_now_ns() - t1;
    m->t.parse_cpu_ns = infer_cpu_ns() - c1;
    if (rc) {
        if (!tmp.code)
            fm_err_set(&tmp, rc, "%s", fm_strerror(rc));
        fm_err_set(err, rc, "cannot load model '%s': %s", m->label, tmp.msg);
        infer_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static infer_model *model_alloc(const char *label)
{
    infer_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    fm_arena_init(&m->arena, 64 * 1024);
    m->label = strdup(label ? label : "(buffer)");
    if (!m->label) {
        free(m);
        return NULL;
    }
    return m;
}

/* Why: mapping the file makes loading cost proportional to the graph, not to the weights. */
int infer_model_open(const char *path, infer_model **out, fm_err *err)
{
    *out = NULL;
    int64_t t0 = fm_now_ns(), c0 = infer_cpu_ns();
    infer_model *m = model_alloc(path);
    if (!m)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        infer_model_free(m);
        return fm_err_set(err, -e, "cannot load model '%s': %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        infer_model_free(m);
        return fm_err_set(err, FM_EIO, "cannot load model '%s': not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        infer_model_free(m);
        return fm_err_set(err, FM_EPARSE, "cannot load model '%s': empty file", path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        int e = errno;
        infer_model_free(m);
        return fm_err_set(err, -e, "cannot load model '%s': mmap: %s", path, strerror(e));
    }
    m->map = p;
    m->map_len = (size_t)sb.st_size;
    m->mapped = true;
    char *dup = strdup(path);
    if (!dup) {
        infer_model_free(m);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    m->dir = strdup(dirname(dup));
    free(dup);
    return finish_open(m, t0, c0, out, err);
}

int infer_model_open_buffer(const void *buf, size_t len, const char *name, infer_model **out,
                            fm_err *err)
{
    *out = NULL;
    int64_t t0 = fm_now_ns(), c0 = infer_cpu_ns();
    infer_model *m = model_alloc(name);
    if (!m)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!buf || !len) {
        infer_model_free(m);
        return fm_err_set(err, FM_EPARSE, "cannot load model '%s': empty buffer",
                          name ? name : "(buffer)");
    }
    m->map = buf;
    m->map_len = len;
    return finish_open(m, t0, c0, out, err);
}

void infer_model_free(infer_model *m)
{
    if (!m)
        return;
    if (m->mapped)
        munmap((void *)m->map, m->map_len);
    for (size_t i = 0; i < m->n_ext; i++)
        munmap(m->ext_maps[i], m->ext_lens[i]);
    free(m->ext_maps);
    free(m->ext_lens);
    if (m->wbuf)
        munmap(m->wbuf, m->wcap);
    free(m->vals);
    free(m->dir);
    free(m->label);
    fm_arena_release(&m->arena);
    free(m);
}

size_t infer_model_n_inputs(const infer_model *m)
{
    return m->n_inputs;
}
size_t infer_model_n_outputs(const infer_model *m)
{
    return m->n_outputs;
}

/* Why: callers (CLI, function host) build requests from declared names, types and shapes. */
static void fill_info(const ival *v, infer_io_info *o)
{
    memset(o, 0, sizeof *o);
    o->name = v->name;
    o->dtype = v->dtype;
    o->ndim = v->ndim;
    for (int i = 0; i < v->ndim && i < INFER_MAX_DIMS; i++) {
        o->dims[i] = v->dims[i];
        o->dim_names[i] = v->dim_names[i];
    }
}

int infer_model_input(const infer_model *m, size_t i, infer_io_info *out)
{
    if (i >= m->n_inputs)
        return FM_ERANGE;
    fill_info(&m->vals[m->inputs[i]], out);
    return 0;
}

int infer_model_output(const infer_model *m, size_t i, infer_io_info *out)
{
    if (i >= m->n_outputs)
        return FM_ERANGE;
    fill_info(&m->vals[m->outputs[i]], out);
    return 0;
}

int infer_model_find_input(const infer_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_inputs; i++)
        if (!strcmp(m->vals[m->inputs[i]].name, name))
            return (int)i;
    return -1;
}

int infer_model_find_output(const infer_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_outputs; i++)
        if (!strcmp(m->vals[m->outputs[i]].name, name))
            return (int)i;
    return -1;
}

void infer_model_get_info(const infer_model *m, infer_model_info *o)
{
    memset(o, 0, sizeof *o);
    o->opset = m->opset;
    o->ir_version = m->ir_version;
    o->producer = m->producer;
    o->n_nodes = m->n_nodes;
    o->n_nodes_file = m->n_nodes + m->n_const_nodes;
    o->weight_bytes = m->weight_bytes;
    o->file_bytes = m->map_len;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const char *t = m->nodes[i].op_type;
        size_t n = strlen(t);
        if (strcmp(t, "QuantizeLinear") == 0 || strcmp(t, "DequantizeLinear") == 0 ||
            strcmp(t, "DynamicQuantizeLinear") == 0 || strncmp(t, "QLinear", 7) == 0 ||
            (n > 7 && strcmp(t + n - 7, "Integer") == 0))
            o->n_int_nodes++;
    }
}

void infer_model_timings(const infer_model *m, infer_timings *out)
{
    memset(out, 0, sizeof *out);
    out->read_ns = m->t.read_ns;
    out->parse_ns = m->t.parse_ns;
    out->graph_ns = m->t.graph_ns;
    out->weights_ns = m->t.weights_ns;
    out->read_cpu_ns = m->t.read_cpu_ns;
    out->parse_cpu_ns = m->t.parse_cpu_ns;
}
