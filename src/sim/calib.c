/* Calibration files: measured service and cold-start times, looked up and interpolated. */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct centry {
    char model[64], runtime[64], device[16];
    int memory_mb; /* 0: not memory-dependent (GPU) */
    int batch;     /* service entries */
    sim_dist d;    /* service entries */
    bool has_overhead;
    sim_dist overhead; /* service entries: latency outside the function (gateway, transfer) */
    sim_cold cold; /* cold-start entries */
} centry;

struct sim_calib {
    centry *svc, *cold;
    size_t nsvc, ncold, capsvc, capcold;
};


double sim_cpu_share(int memory_mb)
{
    if (memory_mb <= 0)
        return 1; /* not memory-sized: one core */
    double s = memory_mb / 1769.0;
    return s > 6 ? 6 : s;
}

/* Why: the grid on which interpolated distributions are kept; fine in the tail where SLOs live. */
static const double qgrid[] = {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};

static int key_match(const centry *e, const sim_key *k)
{
    return strcmp(e->model, k->model) == 0 && strcmp(e->runtime, k->runtime) == 0 &&
           strcmp(e->device, k->device ? k->device : "cpu") == 0;
}

/* The longest duration a calibration may hold, in ms (11.6 days): scaled by batch and memory
 * lookups it stays finite, and in ns it stays far below INT64_MAX. */
#define MAX_MS 1e9

/* Reads a duration distribution: a number (constant ms), {p50, p99} or {quantiles: {q: ms}}.
 * Why the bounds: every value here becomes virtual time, so none may be negative or unbounded. */
static int read_dist(const fm_yaml *y, const fm_ynode *n, const char *what, sim_dist *d,
                     fm_err *err)
{
    double v;
    if (fm_ynode_kind_of(n) == FM_YAML_SCALAR) {
        if (fm_parse_double(fm_ynode_str(n), &v) || v < 0 || v > MAX_MS)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be a duration in ms in [0, %g]",
                                 what, MAX_MS);
        *d = (sim_dist){.kind = SIM_DIST_CONST, .value = v};
        return 0;
    }
    static const char *const keys[] = {"p50", "p99", "quantiles", "exp_mean", NULL};
    int rc = fm_yaml_check_keys(y, n, keys, err);
    if (rc)
        return rc;
    const fm_ynode *qs = fm_ynode_get(n, "quantiles");
    if (qs) {
        if (fm_ynode_kind_of(qs) != FM_YAML_MAP || fm_ynode_len(qs) < 2 ||
            fm_ynode_len(qs) > SIM_DIST_MAXQ)
            return fm_yaml_error(y, qs, err, FM_EPARSE,
                                 "'%s.quantiles' must map 2 to %d quantiles to ms", what,
                                 SIM_DIST_MAXQ);
        *d = (sim_dist){.kind = SIM_DIST_QUANTILES, .nq = (int)fm_ynode_len(qs)};
        for (int i = 0; i < d->nq; i++) {
            double p;
            if (fm_parse_double(fm_ynode_str(fm_ynode_key(qs, (size_t)i)), &p) || p < 0 || p > 1 ||
                (i && p <= d->p[i - 1]))
                return fm_yaml_error(y, fm_ynode_key(qs, (size_t)i), err, FM_EPARSE,
                                     "quantiles must be increasing numbers in [0, 1]");
            if (fm_parse_double(fm_ynode_str(fm_ynode_value(qs, (size_t)i)), &v) || v < 0 ||
                v > MAX_MS || (i && v < d->v[i - 1]))
                return fm_yaml_error(y, fm_ynode_value(qs, (size_t)i), err, FM_EPARSE,
                                     "quantile values must be non-decreasing ms in [0, %g]",
                                     MAX_MS);
            d->p[i] = p;
            d->v[i] = v;
        }
        return 0;
    }
    if (fm_ynode_get(n, "exp_mean")) {
        *d = (sim_dist){.kind = SIM_DIST_EXP};
        return fm_yaml_get_double(y, n, "exp_mean", true, 1e-9, MAX_MS, &d->value, err);
    }
    double p50 = 0, p99 = -1;
    if ((rc = fm_yaml_get_double(y, n, "p50", true, 1e-9, MAX_MS, &p50, err)))
        return rc;
    if ((rc = fm_yaml_get_double(y, n, "p99", false, 1e-9, MAX_MS, &p99, err)))
        return rc;
    if (p99 < 0)
        p99 = p50;
    if (p99 < p50)
        return fm_yaml_error(y, n, err, FM_ERANGE, "'%s': p99 %g is below p50 %g", what, p99, p50);
    sim_dist_from_p50_p99(d, p50, p99);
    return 0;
}

/* Why: an entry is found by its exact key, so a name that does not fit is an error, not a
 * silently truncated key that no lookup will ever match. */
static int read_key(const fm_yaml *y, const fm_ynode *n, centry *e, fm_err *err)
{
    const char *model = NULL, *runtime = "faasml", *device = "cpu";
    int64_t mem = 0;
    int rc = fm_yaml_get_str(y, n, "model", true, &model, err);
    if (!rc)
        rc = fm_yaml_get_str(y, n, "runtime", false, &runtime, err);
    if (!rc)
        rc = fm_yaml_get_str(y, n, "device", false, &device, err);
    if (!rc)
        rc = fm_yaml_get_int(y, n, "memory_mb", false, 0, 1 << 20, &mem, err);
    if (rc)
        return rc;
    if (strlen(model) >= sizeof e->model || strlen(runtime) >= sizeof e->runtime ||
        strlen(device) >= sizeof e->device)
        return fm_yaml_error(y, n, err, FM_EPARSE,
                             "model, runtime or device name too long (%zu, %zu, %zu characters at "
                             "most)",
                             sizeof e->model - 1, sizeof e->runtime - 1, sizeof e->device - 1);
    snprintf(e->model, sizeof e->model, "%s", model);
    snprintf(e->runtime, sizeof e->runtime, "%s", runtime);
    snprintf(e->device, sizeof e->device, "%s", device);
    e->memory_mb = (int)mem;
    return 0;
}

static int grow(centry **v, size_t *cap, size_t n)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    centry *nv = realloc(*v, nc * sizeof *nv);
    if (!nv)
        return FM_ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

/* Why: files and in-memory buffers (fuzzing, tests) share this one parser; `name` labels
 * errors as name:line:col. */
static int load_into(sim_calib *c, fm_yaml *y, const char *name, fm_err *err)
{
    int rc;
    const char *path = name;
    const fm_ynode *root = fm_yaml_root(y);
    static const char *const top[] = {"source", "date", "machine", "method", "service",
                                      "cold_start", NULL};
    static const char *const svc_keys[] = {"model", "runtime", "device", "memory_mb", "batch",
                                           "latency_ms", "overhead_ms", NULL};
#define PHASE_KEY(name, key, label) #key "_ms",
    static const char *const cold_keys[] = {
        "model", "runtime", "device", "memory_mb", FM_PHASE_MAP(PHASE_KEY) "provision_ms", NULL};
#undef PHASE_KEY
    if (!root) {
        rc = fm_yaml_error(y, NULL, err, FM_EPARSE, "empty calibration file");
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, top, err)))
        goto out;
    const fm_ynode *svc = fm_ynode_get(root, "service");
    for (size_t i = 0; svc && i < fm_ynode_len(svc); i++) {
        const fm_ynode *n = fm_ynode_item(svc, i);
        centry e = {0};
        int64_t batch = 1;
        if ((rc = fm_yaml_check_keys(y, n, svc_keys, err)) || (rc = read_key(y, n, &e, err)) ||
            (rc = fm_yaml_get_int(y, n, "batch", false, 1, 1 << 16, &batch, err)))
            goto out;
        const fm_ynode *lat = fm_ynode_get(n, "latency_ms");
        if (!lat) {
            rc = fm_yaml_error(y, n, err, FM_EPARSE, "missing key 'latency_ms'");
            goto out;
        }
        if ((rc = read_dist(y, lat, "latency_ms", &e.d, err)))
            goto out;
        const fm_ynode *ovh = fm_ynode_get(n, "overhead_ms");
        if (ovh && (rc = read_dist(y, ovh, "overhead_ms", &e.overhead, err)))
            goto out;
        e.has_overhead = ovh != NULL;
        e.batch = (int)batch;
        if (grow(&c->svc, &c->capsvc, c->nsvc)) {
            rc = fm_err_set(err, FM_ENOMEM, "%s: out of memory", path);
            goto out;
        }
        c->svc[c->nsvc++] = e;
    }
    const fm_ynode *cold = fm_ynode_get(root, "cold_start");
    for (size_t i = 0; cold && i < fm_ynode_len(cold); i++) {
        const fm_ynode *n = fm_ynode_item(cold, i);
        centry e = {0};
        if ((rc = fm_yaml_check_keys(y, n, cold_keys, err)) || (rc = read_key(y, n, &e, err)))
            goto out;
        for (int p = 0; p < FM_PHASE__COUNT; p++) {
            char key[40];
            snprintf(key, sizeof key, "%s_ms", fm_phase_key((fm_phase)p));
            const fm_ynode *pn = fm_ynode_get(n, key);
            e.cold.phase[p] = (sim_dist){.kind = SIM_DIST_CONST, .value = 0};
            if (pn && (rc = read_dist(y, pn, key, &e.cold.phase[p], err)))
                goto out;
        }
        if ((rc = fm_yaml_get_double(y, n, "provision_ms", false, 0, MAX_MS, &e.cold.provision_ms,
                                     err)))
            goto out;
        if (grow(&c->cold, &c->capcold, c->ncold)) {
            rc = fm_err_set(err, FM_ENOMEM, "%s: out of memory", path);
            goto out;
        }
        c->cold[c->ncold++] = e;
    }
out:
    fm_yaml_free(y);
    return rc;
}

/* Why: a failed load must leave the calibration as it was, so entries are committed only when
 * the whole file parsed. */
static int load_yaml(sim_calib *c, fm_yaml *y, const char *name, fm_err *err)
{
    size_t nsvc = c->nsvc, ncold = c->ncold;
    int rc = load_into(c, y, name, err);
    if (rc) {
        c->nsvc = nsvc;
        c->ncold = ncold;
    }
    return rc;
}

int sim_calib_load_buf(const char *buf, size_t len, const char *name, sim_calib **out,
                       fm_err *err)
{
    sim_calib *c = calloc(1, sizeof *c);
    if (!c)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = sim_calib_load_more_buf(c, buf, len, name, err);
    if (rc) {
        sim_calib_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sim_calib_load_more_buf(sim_calib *c, const char *buf, size_t len, const char *name,
                            fm_err *err)
{
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    return rc ? rc : load_yaml(c, y, name, err);
}

/* Why: the file forms read the file and go through the buffer parser: one code path. */
int sim_calib_load(const char *path, sim_calib **out, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = sim_calib_load_buf(buf, len, path, out, err);
    free(buf);
    return rc;
}

int sim_calib_load_more(sim_calib *c, const char *path, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = sim_calib_load_more_buf(c, buf, len, path, err);
    free(buf);
    return rc;
}

void sim_calib_free(sim_calib *c)
{
    if (!c)
        return;
    free(c->svc);
    free(c->cold);
    free(c);
}

/* Why: interpolating two distributions quantile by quantile keeps the shape of both (a mix of
 * their CDFs would be bimodal, which no measured service time between them is). */
static void dist_lerp(const sim_dist *a, const sim_dist *b, double f, sim_dist *out)
{
    if (f == 0) {
        *out = *a;
        return;
    }
    if (f == 1) {
        *out = *b;
        return;
    }
    sim_dist r = {.kind = SIM_DIST_QUANTILES, .nq = (int)FM_ARRAY_LEN(qgrid)};
    for (int i = 0; i < r.nq; i++) {
        double q = qgrid[i] == 0 ? 0.001 : qgrid[i] == 1 ? 0.9999 : qgrid[i];
        double va = sim_dist_quantile(a, q), vb = sim_dist_quantile(b, q);
        double v = va + f * (vb - va);
        r.p[i] = qgrid[i];
        r.v[i] = v < 0 ? 0 : v;
        if (i && r.v[i] < r.v[i - 1])
            r.v[i] = r.v[i - 1];
    }
    *out = r;
}

/* Distribution at `batch` among the entries of one memory size (indices in idx, any order). */
static void at_batch(const centry *v, const size_t *idx, size_t n, int batch, sim_dist *out)
{
    const centry *lo = NULL, *hi = NULL; /* nearest measured below/at and above/at */
    for (size_t i = 0; i < n; i++) {
        const centry *e = &v[idx[i]];
        /* ties go to the later entry: a later file overrides an earlier one */
        if (e->batch <= batch && (!lo || e->batch >= lo->batch))
            lo = e;
        if (e->batch >= batch && (!hi || e->batch <= hi->batch))
            hi = e;
    }
    if (lo && hi) {
        if (lo == hi)
            *out = lo->d;
        else
            dist_lerp(&lo->d, &hi->d, (double)(batch - lo->batch) / (hi->batch - lo->batch), out);
        return;
    }
    /* outside the measured range: extrapolate from the two nearest points, never below
     * proportional scaling's floor of zero */
    const centry *a = NULL, *b = NULL;
    for (size_t i = 0; i < n; i++) {
        const centry *e = &v[idx[i]];
        int d = abs(e->batch - batch); /* all on one side: equal distance is equal batch */
        if (!a || d < abs(a->batch - batch)) {
            b = a;
            a = e;
        } else if (d == abs(a->batch - batch)) {
            a = e;
        } else if (!b || d <= abs(b->batch - batch)) {
            b = e;
        }
    }
    if (!b || a->batch == b->batch) {
        *out = a->d;
        sim_dist_scale(out, (double)batch / a->batch);
        return;
    }
    double f = (double)(batch - a->batch) / (b->batch - a->batch);
    dist_lerp(&a->d, &b->d, f, out);
    if (out->kind == SIM_DIST_QUANTILES && out->v[0] <= 0) {
        *out = a->d;
        sim_dist_scale(out, (double)batch / a->batch);
    }
}

int sim_calib_service(const sim_calib *c, const sim_key *k, int memory_mb, int batch,
                      sim_dist *out, fm_err *err)
{
    size_t n = 0;
    size_t *idx = malloc((c->nsvc ? c->nsvc : 1) * sizeof *idx);
    if (!idx)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    /* the measured memory sizes just below and above memory_mb */
    int mlo = -1, mhi = -1;
    for (size_t i = 0; i < c->nsvc; i++) {
        if (!key_match(&c->svc[i], k))
            continue;
        int m = c->svc[i].memory_mb;
        if (m == 0 || m == memory_mb) {
            mlo = mhi = m;
            break;
        }
        if (m < memory_mb && m > mlo)
            mlo = m;
        if (m > memory_mb && (mhi < 0 || m < mhi))
            mhi = m;
    }
    if (mlo < 0 && mhi < 0) {
        free(idx);
        return fm_err_set(err, FM_ENOTFOUND,
                          "no calibration for model '%s' runtime '%s' device '%s'", k->model,
                          k->runtime, k->device ? k->device : "cpu");
    }
    sim_dist dlo, dhi;
    int mems[2] = {mlo, mhi};
    sim_dist *ds[2] = {&dlo, &dhi};
    for (int j = 0; j < 2; j++) {
        if (mems[j] < 0)
            continue;
        n = 0;
        for (size_t i = 0; i < c->nsvc; i++)
            if (key_match(&c->svc[i], k) && c->svc[i].memory_mb == mems[j])
                idx[n++] = i;
        at_batch(c->svc, idx, n, batch, ds[j]);
    }
    free(idx);
    if (mlo == mhi) {
        *out = dlo;
    } else if (mlo < 0) {
        /* below the smallest measured size: CPU time scales with 1/share (a CPU quota) */
        *out = dhi;
        sim_dist_scale(out, sim_cpu_share(mhi) / sim_cpu_share(memory_mb));
    } else if (mhi < 0) {
        *out = dlo; /* above the largest: no faster than measured (one thread saturates) */
    } else {
        double x = 1 / sim_cpu_share(memory_mb), xl = 1 / sim_cpu_share(mlo),
               xh = 1 / sim_cpu_share(mhi);
        dist_lerp(&dlo, &dhi, (x - xl) / (xh - xl), out);
    }
    return 0;
}

int sim_calib_cold(const sim_calib *c, const sim_key *k, int memory_mb, sim_cold *out,
                   fm_err *err)
{
    const centry *best = NULL;
    for (size_t i = 0; i < c->ncold; i++) {
        const centry *e = &c->cold[i];
        if (!key_match(e, k))
            continue;
        if (!best || abs(e->memory_mb - memory_mb) <= abs(best->memory_mb - memory_mb))
            best = e;
    }
    if (!best)
        return fm_err_set(err, FM_ENOTFOUND,
                          "no cold-start calibration for model '%s' runtime '%s' device '%s'",
                          k->model, k->runtime, k->device ? k->device : "cpu");
    *out = best->cold;
    /* CPU-bound phases stretch with a smaller CPU share, as inference does */
    if (best->memory_mb && memory_mb && memory_mb < best->memory_mb) {
        double f = sim_cpu_share(best->memory_mb) / sim_cpu_share(memory_mb);
        if (sim_cpu_share(best->memory_mb) > 1)
            f = 1 / sim_cpu_share(memory_mb);
        if (f > 1)
            for (int p = FM_PHASE_RUNTIME_INIT; p < FM_PHASE__COUNT; p++)
                sim_dist_scale(&out->phase[p], f);
    }
    return 0;
}

/* Why: a client sees more than the function's execution: the gateway, the Runtime API hop and
 * moving the payload. Calibrations taken from live runs measure that share per model and runtime;
 * the latest entry that has one wins. */
int sim_calib_overhead(const sim_calib *c, const sim_key *k, sim_dist *out)
{
    for (size_t i = c->nsvc; i-- > 0;)
        if (c->svc[i].has_overhead && key_match(&c->svc[i], k)) {
            *out = c->svc[i].overhead;
            return 0;
        }
    *out = (sim_dist){.kind = SIM_DIST_CONST, .value = 0};
    return FM_ENOTFOUND;
}
