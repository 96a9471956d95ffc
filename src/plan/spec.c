/* Experiment specs: YAML → models, workloads, platforms with their sweeps. */
#include "plan.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Why: specs name models as "${FAASML_MODELS}/mobilenetv2/model.onnx" so one spec works on any
 * machine; the variable defaults to the cache that tools/models/export.py fills. */
static char *expand_path(const char *base, const char *p)
{
    char buf[4096], models[2048];
    const char *env = getenv("FAASML_MODELS"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (env && *env)
        snprintf(models, sizeof models, "%s", env);
    else if (xdg && *xdg)
        snprintf(models, sizeof models, "%s/faasml/models", xdg);
    else
        snprintf(models, sizeof models, "%s/.cache/faasml/models", home ? home : "/tmp");
    const char *var = "${FAASML_MODELS}";
    const char *at = strstr(p, var);
    if (at)
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - p), p, models, at + strlen(var));
    else
        snprintf(buf, sizeof buf, "%s", p);
    if (buf[0] != '/' && base) {
        char rel[4096 + 512];
        snprintf(rel, sizeof rel, "%s/%s", base, buf);
        if (access(rel, F_OK) == 0)
            return strdup(rel);
    }
    return strdup(buf);
}

/* A swept setting is one value or a list of values: the nodes of map[key] (none when absent). */
static int sweep_nodes(const fm_yaml *y, const fm_ynode *map, const char *key,
                       const fm_ynode **items, int *n, fm_err *err)
{
    const fm_ynode *v = fm_ynode_get(map, key);
    if (!v)
        return 0;
    bool seq = fm_ynode_kind_of(v) == FM_YAML_SEQ;
    size_t cnt = seq ? fm_ynode_len(v) : 1;
    if (cnt == 0 || cnt > PLAN_SWEEP_MAX)
        return fm_yaml_error(y, v, err, FM_EPARSE, "'%s' must be a value or a list of 1 to %d", key,
                             PLAN_SWEEP_MAX);
    for (size_t i = 0; i < cnt; i++)
        items[i] = seq ? fm_ynode_item(v, i) : v;
    *n = (int)cnt;
    return 0;
}

/* Why: each value of a sweep makes cells of its own; a repeated value would make two cells of one
 * name, so the lists are checked here (int_list: integers in [lo, hi]; str_list: strings). */
static int int_list(const fm_yaml *y, const fm_ynode *map, const char *key, int64_t lo, int64_t hi,
                    int *out, int *n, fm_err *err)
{
    const fm_ynode *items[PLAN_SWEEP_MAX];
    int cnt = 0, rc = sweep_nodes(y, map, key, items, &cnt, err);
    for (int i = 0; !rc && i < cnt; i++) {
        int64_t x;
        if (fm_parse_i64(fm_ynode_str(items[i]), &x) || x < lo || x > hi)
            return fm_yaml_error(y, items[i], err, FM_ERANGE,
                                 "'%s' values must be integers in [%lld, %lld]", key, (long long)lo,
                                 (long long)hi);
        for (int j = 0; j < i; j++)
            if (out[j] == (int)x) /* the same cell twice, under one run name */
                return fm_yaml_error(y, items[i], err, FM_EPARSE, "'%s' lists %lld twice", key,
                                     (long long)x);
        out[i] = (int)x;
    }
    if (!rc && cnt)
        *n = cnt;
    return rc;
}

static int str_list(const fm_yaml *y, const fm_ynode *map, const char *key, const char **out,
                    int *n, fm_err *err)
{
    const fm_ynode *items[PLAN_SWEEP_MAX];
    int cnt = 0, rc = sweep_nodes(y, map, key, items, &cnt, err);
    for (int i = 0; !rc && i < cnt; i++) {
        if (!(out[i] = fm_ynode_str(items[i])))
            return fm_yaml_error(y, items[i], err, FM_EPARSE, "'%s' values must be strings", key);
        for (int j = 0; j < i; j++)
            if (strcmp(out[j], out[i]) == 0)
                return fm_yaml_error(y, items[i], err, FM_EPARSE, "'%s' lists '%s' twice", key,
                                     out[i]);
    }
    if (!rc && cnt)
        *n = cnt;
    return rc;
}

static int parse_modes(const fm_yaml *y, const fm_ynode *n, int *modes, fm_err *err)
{
    const char *m = fm_ynode_str(n);
    if (m && strcmp(m, "live") == 0)
        *modes = PLAN_LIVE;
    else if (m && strcmp(m, "sim") == 0)
        *modes = PLAN_SIM;
    else if (m && strcmp(m, "both") == 0)
        *modes = PLAN_LIVE | PLAN_SIM;
    else
        return fm_yaml_error(y, n, err, FM_EPARSE, "mode must be live, sim or both");
    return 0;
}

static int read_model(plan_spec *s, const fm_ynode *key, const fm_ynode *v, plan_model *m,
                      fm_err *err)
{
    const fm_yaml *y = s->doc;
    static const char *const keys[] = {"path",     "int8_path", "input", "shape",
                                       "datatype", "payload",   NULL};
    int rc = fm_yaml_check_keys(y, v, keys, err);
    const char *path = NULL, *int8_path = NULL;
    m->name = fm_ynode_str(key);
    m->input = "input";
    m->datatype = "FP32";
    if (!rc)
        rc = fm_yaml_get_str(y, v, "path", false, &path, err);
    if (!rc)
        rc = fm_yaml_get_str(y, v, "int8_path", false, &int8_path, err);
    if (!rc)
        rc = fm_yaml_get_str(y, v, "input", false, &m->input, err);
    if (!rc)
        rc = fm_yaml_get_str(y, v, "datatype", false, &m->datatype, err);
    const char *payload = "json";
    if (!rc)
        rc = fm_yaml_get_str(y, v, "payload", false, &payload, err);
    if (rc)
        return rc;
    if (strcmp(payload, "binary") == 0)
        m->binary = true;
    else if (strcmp(payload, "json") != 0)
        return fm_yaml_error(y, fm_ynode_get(v, "payload"), err, FM_EPARSE,
                             "payload must be json or binary, got '%s'", payload);
    const fm_ynode *sh = fm_ynode_get(v, "shape");
    snprintf(m->shape, sizeof m->shape, "1x3x224x224");
    if (sh) {
        if (fm_ynode_kind_of(sh) != FM_YAML_SEQ || fm_ynode_len(sh) == 0 || fm_ynode_len(sh) > 8)
            return fm_yaml_error(y, sh, err, FM_EPARSE, "'shape' must be a list of 1 to 8 dims");
        size_t off = 0;
        for (size_t i = 0; i < fm_ynode_len(sh); i++) {
            int64_t d;
            if (fm_parse_i64(fm_ynode_str(fm_ynode_item(sh, i)), &d) || d < 1 || d > 1 << 20)
                return fm_yaml_error(y, fm_ynode_item(sh, i), err, FM_ERANGE,
                                     "shape dims must be integers >= 1");
            off += (size_t)snprintf(m->shape + off, sizeof m->shape - off, "%s%lld", i ? "x" : "",
                                    (long long)d);
        }
    }
    if (path && !(m->path = expand_path(s->base_dir, path)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    if (int8_path && !(m->int8_path = expand_path(s->base_dir, int8_path)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    return 0;
}

static int read_platform(plan_spec *s, const fm_ynode *key, const fm_ynode *v, plan_platform *p,
                         fm_err *err)
{
    const fm_yaml *y = s->doc;
    static const char *const keys[] = {"profile",     "platform",    "memory_mb", "batch",
                                       "batch_delay", "provisioned", "runtime",   "precision",
                                       "device",      "instances",   "modes",     "threads",
                                       "policy",      "offer",       NULL};
    int rc = fm_yaml_check_keys(y, v, keys, err);
    if (rc)
        return rc;
    const char *profile = NULL, *delay = NULL;
    int64_t inst = 0;
    p->name = fm_ynode_str(key);
    p->memory_mb[0] = 1769;
    p->nmemory = 1;
    p->batch[0] = 1;
    p->nbatch = 1;
    p->provisioned[0] = 0;
    p->nprovisioned = 1;
    p->runtime[0] = "faasml";
    p->nruntime = 1;
    p->precision[0] = "fp32";
    p->nprecision = 1;
    p->device = "cpu";
    p->modes = PLAN_LIVE | PLAN_SIM;
    p->threads = 1;
    p->batch_delay_ns = 10000000;
    if ((rc = fm_yaml_get_str(y, v, "profile", true, &profile, err)) ||
        (rc = fm_yaml_get_str(y, v, "platform", false, &p->entry, err)) ||
        (rc = int_list(y, v, "memory_mb", 128, 10240, p->memory_mb, &p->nmemory, err)) ||
        (rc = int_list(y, v, "batch", 1, 4096, p->batch, &p->nbatch, err)) ||
        (rc = int_list(y, v, "provisioned", 0, 100000, p->provisioned, &p->nprovisioned, err)) ||
        (rc = str_list(y, v, "runtime", p->runtime, &p->nruntime, err)) ||
        (rc = str_list(y, v, "precision", p->precision, &p->nprecision, err)) ||
        (rc = fm_yaml_get_str(y, v, "device", false, &p->device, err)) ||
        (rc = fm_yaml_get_int(y, v, "instances", false, 1, 100000, &inst, err)) ||
        (rc = fm_yaml_get_double(y, v, "threads", false, 0.1, 64, &p->threads, err)) ||
        (rc = fm_yaml_get_str(y, v, "batch_delay", false, &delay, err)) ||
        (rc = fm_yaml_get_str(y, v, "offer", false, &p->offer, err)))
        return rc;
    if (delay && fm_parse_duration_ns(delay, &p->batch_delay_ns))
        return fm_yaml_error(y, fm_ynode_get(v, "batch_delay"), err, FM_EPARSE,
                             "'batch_delay' must be a duration such as 10ms");
    for (int i = 0; i < p->nprecision; i++)
        if (!sim_precision_is_known(p->precision[i]))
            return fm_yaml_error(y, fm_ynode_get(v, "precision"), err, FM_EPARSE,
                                 "unknown precision '%s' (fp32, bf16 or int8)", p->precision[i]);
    p->instances = (int)inst;
    if (policy_profile_parse(profile, &p->profile))
        return fm_yaml_error(y, fm_ynode_get(v, "profile"), err, FM_EPARSE,
                             "unknown profile '%s' (lambda, gcf, managed, server)", profile);
    const fm_ynode *m = fm_ynode_get(v, "modes");
    if (m && (rc = parse_modes(y, m, &p->modes, err)))
        return rc;
    p->policy = fm_ynode_get(v, "policy");
    return 0;
}

/* Why: names make up run names ("exp/model/workload/platform/..."), a run's identity in the
 * results database, so each must be a non-empty string without '/' and unique in its map. */
static int check_name(const plan_spec *s, const fm_ynode *map, size_t i, const char *what,
                      fm_err *err)
{
    const fm_ynode *k = fm_ynode_key(map, i);
    const char *name = fm_ynode_str(k);
    if (!name || !*name || strchr(name, '/'))
        return fm_yaml_error(s->doc, k, err, FM_EPARSE,
                             "'%s' names must be non-empty strings without '/'", what);
    for (size_t j = 0; j < i; j++) {
        const char *other = fm_ynode_str(fm_ynode_key(map, j));
        if (other && strcmp(other, name) == 0)
            return fm_yaml_error(s->doc, k, err, FM_EPARSE, "duplicate name '%s' in '%s'", name,
                                 what);
    }
    return 0;
}

/* Reads a map of name → entry into an array with reader `fn`. */
#define READ_MAP(s, root, key, arr, n, fn, required)                                               \
    do {                                                                                           \
        const fm_ynode *m_ = fm_ynode_get(root, key);                                              \
        if (!m_) {                                                                                 \
            if (required)                                                                          \
                return fm_yaml_error((s)->doc, root, err, FM_EPARSE, "missing key '%s'", key);     \
            break;                                                                                 \
        }                                                                                          \
        if (fm_ynode_kind_of(m_) != FM_YAML_MAP || fm_ynode_len(m_) == 0)                          \
            return fm_yaml_error((s)->doc, m_, err, FM_EPARSE, "'%s' must map names to entries",   \
                                 key);                                                             \
        (n) = (int)fm_ynode_len(m_);                                                               \
        (arr) = calloc((size_t)(n), sizeof *(arr));                                                \
        if (!(arr))                                                                                \
            return fm_err_set(err, FM_ENOMEM, "out of memory");                                    \
        for (int i_ = 0; i_ < (n); i_++) {                                                         \
            int rc_ = check_name(s, m_, (size_t)i_, key, err);                                     \
            if (!rc_)                                                                              \
                rc_ = fn(s, fm_ynode_key(m_, (size_t)i_), fm_ynode_value(m_, (size_t)i_),          \
                         &(arr)[i_], err);                                                         \
            if (rc_)                                                                               \
                return rc_;                                                                        \
        }                                                                                          \
    } while (0)

static int read_workload(plan_spec *s, const fm_ynode *key, const fm_ynode *v, plan_workload *w,
                         fm_err *err)
{
    w->name = fm_ynode_str(key);
    load_spec_init(&w->spec);
    w->spec.seed = s->seed;
    return load_spec_from_yaml(s->doc, v, &w->spec, err);
}

/* Why: a spec names data files relative to itself, to the current directory, or as faasml's own
 * data ("data/prices.yaml" finds the shipped catalogue from anywhere). */
static char *data_path(const plan_spec *s, const char *p)
{
    char buf[4096 + 512];
    if (p[0] != '/' && s->base_dir) {
        snprintf(buf, sizeof buf, "%s/%s", s->base_dir, p);
        if (access(buf, F_OK) == 0)
            return strdup(buf);
    }
    if (access(p, F_OK) != 0 && strncmp(p, "data/", 5) == 0 && fm_data_file(p + 5, buf, sizeof buf))
        return strdup(buf);
    return strdup(p);
}

/* Why: "is int8 good enough" is the user's call, so the spec states the floor and plan applies
 * it to measured figures; at least one bound, each in its own range. */
static int read_accuracy(plan_spec *s, const fm_ynode *n, fm_err *err)
{
    const fm_yaml *y = s->doc;
    s->accuracy = (plan_accuracy){.min_cosine = -2, .min_top1 = -1, .max_rel_err = -1};
    if (!n)
        return 0;
    static const char *const keys[] = {"min_cosine", "min_top1", "max_rel_err", NULL};
    if (fm_ynode_kind_of(n) != FM_YAML_MAP || fm_ynode_len(n) == 0)
        return fm_yaml_error(y, n, err, FM_EPARSE,
                             "'accuracy' must be a map of min_cosine, min_top1 or max_rel_err");
    int rc = fm_yaml_check_keys(y, n, keys, err);
    if (!rc)
        rc = fm_yaml_get_double(y, n, "min_cosine", false, -1, 1, &s->accuracy.min_cosine, err);
    if (!rc)
        rc = fm_yaml_get_double(y, n, "min_top1", false, 0, 1, &s->accuracy.min_top1, err);
    if (!rc)
        rc = fm_yaml_get_double(y, n, "max_rel_err", false, 0, 1e30, &s->accuracy.max_rel_err, err);
    s->accuracy.set = !rc;
    return rc;
}

static int parse(plan_spec *s, fm_err *err)
{
    const fm_yaml *y = s->doc;
    const fm_ynode *root = fm_yaml_root(y);
    static const char *const keys[] = {"name",
                                       "seed",
                                       "mode",
                                       "slo_ms",
                                       "success_target",
                                       "prices",
                                       "price_catalog",
                                       "results",
                                       "report",
                                       "calibration",
                                       "simulation",
                                       "models",
                                       "workloads",
                                       "platforms",
                                       "client_timeout",
                                       "accuracy",
                                       NULL};
    if (!root)
        return fm_yaml_error(y, NULL, err, FM_EPARSE, "empty experiment spec");
    int rc = fm_yaml_check_keys(y, root, keys, err);
    const char *name = "experiment", *results = NULL, *report = NULL, *prices = NULL;
    int64_t seed = 1;
    s->slo_ms = 1000;
    s->success_target = 0.99;
    s->snapshot = "current";
    s->modes = PLAN_LIVE | PLAN_SIM;
    s->sim_host = (sim_host){.kind = SIM_HOST_CLOUD};
    s->sim_scale = 1;
    s->client_timeout_ns = 60000000000LL;
    const char *ct = NULL;
    if (!rc && (rc = fm_yaml_get_str(y, root, "client_timeout", false, &ct, err)))
        return rc;
    if (ct && (fm_parse_duration_ns(ct, &s->client_timeout_ns) || s->client_timeout_ns <= 0))
        return fm_yaml_error(y, fm_ynode_get(root, "client_timeout"), err, FM_EPARSE,
                             "'client_timeout' must be a duration such as 60s");
    if (rc || (rc = fm_yaml_get_str(y, root, "name", false, &name, err)) ||
        (rc = fm_yaml_get_int(y, root, "seed", false, 0, INT64_MAX, &seed, err)) ||
        (rc = fm_yaml_get_double(y, root, "slo_ms", false, 0.001, 1e9, &s->slo_ms, err)) ||
        (rc =
             fm_yaml_get_double(y, root, "success_target", false, 0, 1, &s->success_target, err)) ||
        (rc = fm_yaml_get_str(y, root, "prices", false, &s->snapshot, err)) ||
        (rc = fm_yaml_get_str(y, root, "price_catalog", false, &prices, err)) ||
        (rc = fm_yaml_get_str(y, root, "results", false, &results, err)) ||
        (rc = fm_yaml_get_str(y, root, "report", false, &report, err)))
        return rc;
    s->seed = (uint64_t)seed;
    if ((rc = read_accuracy(s, fm_ynode_get(root, "accuracy"), err)))
        return rc;
    const fm_ynode *mode = fm_ynode_get(root, "mode");
    if (mode && (rc = parse_modes(y, mode, &s->modes, err)))
        return rc;
    char def[512];
    s->name = strdup(name);
    snprintf(def, sizeof def, "results/%s.db", name);
    s->results = strdup(results ? results : def);
    snprintf(def, sizeof def, "results/%s", name);
    s->report = strdup(report ? report : def);
    s->prices = data_path(s, prices ? prices : "data/prices.yaml");
    if (!s->name || !s->results || !s->report || !s->prices)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    const fm_ynode *sim = fm_ynode_get(root, "simulation");
    if (sim) {
        static const char *const skeys[] = {"host", "scale", NULL};
        if ((rc = fm_yaml_check_keys(y, sim, skeys, err)) ||
            (rc = fm_yaml_get_double(y, sim, "scale", false, 1e-6, 1e6, &s->sim_scale, err)))
            return rc;
        const fm_ynode *h = fm_ynode_get(sim, "host");
        if (h) {
            const char *hs = fm_ynode_str(h);
            if (hs && strcmp(hs, "cloud") == 0)
                s->sim_host.kind = SIM_HOST_CLOUD;
            else if (fm_ynode_kind_of(h) == FM_YAML_MAP) {
                s->sim_host.kind = SIM_HOST_CORES;
                if ((rc = fm_yaml_get_double(y, h, "cores", true, 0.01, 1e6, &s->sim_host.cores,
                                             err)))
                    return rc;
            } else
                return fm_yaml_error(y, h, err, FM_EPARSE, "host must be cloud or {cores: N}");
        }
    }
    const fm_ynode *cal = fm_ynode_get(root, "calibration");
    for (size_t i = 0; cal && i < (fm_ynode_kind_of(cal) == FM_YAML_SEQ ? fm_ynode_len(cal) : 1);
         i++) {
        const fm_ynode *it = fm_ynode_kind_of(cal) == FM_YAML_SEQ ? fm_ynode_item(cal, i) : cal;
        if (!fm_ynode_str(it))
            return fm_yaml_error(y, it, err, FM_EPARSE, "'calibration' must list file paths");
        char *p = data_path(s, fm_ynode_str(it));
        if (access(p, R_OK) != 0) { /* a calibration this machine has not measured yet */
            FM_WARN("plan", "calibration file '%s' not found; skipped", p);
            free(p);
            continue;
        }
        rc = s->calib ? sim_calib_load_more(s->calib, p, err) : sim_calib_load(p, &s->calib, err);
        free(p);
        if (rc)
            return rc;
    }
    READ_MAP(s, root, "models", s->models, s->nmodels, read_model, true);
    READ_MAP(s, root, "workloads", s->workloads, s->nworkloads, read_workload, true);
    READ_MAP(s, root, "platforms", s->platforms, s->nplatforms, read_platform, true);
    /* a spec whose matrix does not expand (a policy a cell's values make invalid, a run name
     * too long) is refused now, with its file and line, not after results were opened */
    plan_run *runs = NULL;
    size_t n = 0;
    if ((rc = plan_matrix(s, &runs, &n, err)))
        return fm_yaml_error(y, fm_ynode_get(root, "platforms"), err, rc, "%s", err->msg);
    free(runs);
    return 0;
}

/* Why: the buffer form lets fuzzing and tests reach the very parser the file form uses;
 * base_dir resolves the spec's relative paths (NULL: the current directory). */
int plan_spec_load_buf(const char *buf, size_t len, const char *name, const char *base_dir,
                       plan_spec *s, fm_err *err)
{
    memset(s, 0, sizeof *s);
    int rc = fm_yaml_load_buf(buf, len, name, &s->doc, err);
    if (rc)
        return rc;
    s->base_dir = strdup(base_dir ? base_dir : ".");
    if (!s->base_dir)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!rc)
        rc = parse(s, err);
    if (rc)
        plan_spec_release(s);
    return rc;
}

int plan_spec_load(const char *path, plan_spec *s, fm_err *err)
{
    memset(s, 0, sizeof *s);
    char *buf, *dup = strdup(path);
    size_t len;
    if (!dup)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = fm_read_file(path, &buf, &len, err);
    if (!rc) {
        rc = plan_spec_load_buf(buf, len, path, dirname(dup), s, err);
        free(buf);
    }
    free(dup);
    return rc;
}

void plan_spec_release(plan_spec *s)
{
    for (int i = 0; s->models && i < s->nmodels; i++) {
        free(s->models[i].path);
        free(s->models[i].int8_path);
    }
    for (int i = 0; s->workloads && i < s->nworkloads; i++)
        load_spec_release(&s->workloads[i].spec);
    free(s->models);
    free(s->workloads);
    free(s->platforms);
    sim_calib_free(s->calib);
    fm_yaml_free(s->doc);
    free(s->name);
    free(s->results);
    free(s->report);
    free(s->prices);
    free(s->base_dir);
    memset(s, 0, sizeof *s);
}
