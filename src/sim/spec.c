/* Simulation specs: YAML → functions with policy configs, workloads and calibration. */
#include "sim.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load_calib(sim_spec *s, const fm_yaml *y, const fm_ynode *n, const char *base,
                      fm_err *err)
{
    const char *p = fm_ynode_str(n);
    if (!p)
        return fm_yaml_error(y, n, err, FM_EPARSE,
                             "'calibration' must be a path or a list of paths");
    /* relative paths: beside the spec first, then from the current directory */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", base ? base : ".", p);
    if (p[0] == '/' || !base || access(path, R_OK) != 0) {
        snprintf(path, sizeof path, "%s", p);
        char found[4096];
        if (access(p, R_OK) != 0 && strncmp(p, "data/", 5) == 0 &&
            fm_data_file(p + 5, found, sizeof found))
            snprintf(path, sizeof path, "%s", found);
    }
    int rc =
        s->calib ? sim_calib_load_more(s->calib, path, err) : sim_calib_load(path, &s->calib, err);
    if (rc)
        return fm_yaml_error(y, n, err, rc, "calibration: %s", err->msg);
    return 0;
}

static int read_host(const fm_yaml *y, const fm_ynode *n, sim_host *h, fm_err *err)
{
    const char *s = fm_ynode_str(n);
    if (s && strcmp(s, "cloud") == 0) {
        *h = (sim_host){.kind = SIM_HOST_CLOUD};
        return 0;
    }
    if (fm_ynode_kind_of(n) == FM_YAML_MAP) {
        static const char *const keys[] = {"cores", NULL};
        int rc = fm_yaml_check_keys(y, n, keys, err);
        if (rc)
            return rc;
        *h = (sim_host){.kind = SIM_HOST_CORES};
        return fm_yaml_get_double(y, n, "cores", true, 0.01, 1e6, &h->cores, err);
    }
    return fm_yaml_error(y, n, err, FM_EPARSE, "'host' must be 'cloud' or {cores: N}");
}

static int read_function(const fm_yaml *y, const fm_ynode *n, sim_function *f, fm_err *err)
{
    static const char *const keys[] = {"name",   "model",    "runtime", "device",
                                       "items",  "threads",  "profile", "platform",
                                       "policy", "workload", NULL};
    int rc = fm_yaml_check_keys(y, n, keys, err);
    if (rc)
        return rc;
    const char *profile = "lambda", *platform = NULL;
    int64_t items = 1;
    double threads = 1;
    f->key.runtime = "faasml";
    f->key.device = "cpu";
    if ((rc = fm_yaml_get_str(y, n, "name", true, &f->name, err)) ||
        (rc = fm_yaml_get_str(y, n, "model", true, &f->key.model, err)) ||
        (rc = fm_yaml_get_str(y, n, "runtime", false, &f->key.runtime, err)) ||
        (rc = fm_yaml_get_str(y, n, "device", false, &f->key.device, err)) ||
        (rc = fm_yaml_get_int(y, n, "items", false, 1, 4096, &items, err)) ||
        (rc = fm_yaml_get_double(y, n, "threads", false, 0.01, 256, &threads, err)) ||
        (rc = fm_yaml_get_str(y, n, "profile", false, &profile, err)) ||
        (rc = fm_yaml_get_str(y, n, "platform", false, &platform, err)))
        return rc;
    f->items = (int)items;
    f->threads = threads;
    policy_profile p;
    if (policy_profile_parse(profile, &p))
        return fm_yaml_error(y, fm_ynode_get(n, "profile"), err, FM_EPARSE,
                             "unknown profile '%s' (lambda, gcf, managed, server)", profile);
    if ((rc = policy_config_defaults(&f->policy, p, NULL, platform, err)))
        return fm_yaml_error(y, n, err, rc, "function '%s': %s", f->name, err->msg);
    const fm_ynode *pol = fm_ynode_get(n, "policy");
    if (pol && (rc = policy_config_apply_yaml(&f->policy, y, pol, err)))
        return rc;
    if ((rc = policy_config_validate(&f->policy, err)))
        return fm_yaml_error(y, n, err, rc, "function '%s': %s", f->name, err->msg);
    const fm_ynode *w = fm_ynode_get(n, "workload");
    if (!w)
        return fm_yaml_error(y, n, err, FM_EPARSE, "function '%s': missing key 'workload'",
                             f->name);
    load_spec_init(&f->workload);
    return load_spec_from_yaml(y, w, &f->workload, err);
}

/* Resolves a path beside the spec first, then from the current directory. */
static void resolve(const char *base, const char *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", base ? base : ".", p);
    if (p[0] == '/' || !base || access(out, R_OK) != 0)
        snprintf(out, cap, "%s", p);
}

/* Why: a production trace is hundreds of functions; the spec names the trace and one policy for
 * all of them, and each row becomes a function with its own arrivals (the per-minute counts,
 * spread inside each minute), execution times (its percentile row) and memory (its app's). */
static int read_trace(sim_spec *s, const fm_yaml *y, const fm_ynode *n, const char *base,
                      fm_err *err)
{
    static const char *const keys[] = {"dir",        "prefix",  "functions", "minutes", "spread",
                                       "cold_start", "profile", "platform",  "policy",  NULL};
    int rc = fm_yaml_check_keys(y, n, keys, err);
    if (rc)
        return rc;
    const char *dir = NULL, *prefix = "200", *spread = "uniform", *cold = NULL;
    const char *profile = "lambda", *platform = NULL;
    int64_t nfn = 0, minutes = 0;
    if ((rc = fm_yaml_get_str(y, n, "dir", true, &dir, err)) ||
        (rc = fm_yaml_get_str(y, n, "prefix", false, &prefix, err)) ||
        (rc = fm_yaml_get_int(y, n, "functions", false, 0, 1000000, &nfn, err)) ||
        (rc = fm_yaml_get_int(y, n, "minutes", false, 0, 1000000, &minutes, err)) ||
        (rc = fm_yaml_get_str(y, n, "spread", false, &spread, err)) ||
        (rc = fm_yaml_get_str(y, n, "cold_start", true, &cold, err)) ||
        (rc = fm_yaml_get_str(y, n, "profile", false, &profile, err)) ||
        (rc = fm_yaml_get_str(y, n, "platform", false, &platform, err)))
        return rc;
    load_spread sp;
    if (load_spread_parse(spread, &sp))
        return fm_yaml_error(y, fm_ynode_get(n, "spread"), err, FM_EPARSE,
                             "unknown spread '%s' (uniform, poisson, equal)", spread);
    int64_t cold_ns;
    if (fm_parse_duration_ns(cold, &cold_ns) || cold_ns < 0)
        return fm_yaml_error(y, fm_ynode_get(n, "cold_start"), err, FM_EPARSE,
                             "invalid cold_start '%s' (a duration such as 500ms)", cold);
    policy_profile p;
    if (policy_profile_parse(profile, &p))
        return fm_yaml_error(y, fm_ynode_get(n, "profile"), err, FM_EPARSE,
                             "unknown profile '%s' (lambda, gcf, managed, server)", profile);
    char path[4096];
    resolve(base, dir, path, sizeof path);
    if ((rc = sim_trace_load_dir(path, prefix, (int)nfn, &s->trace, err)))
        return fm_yaml_error(y, n, err, rc, "trace: %s", err->msg);
    if (minutes == 0 || minutes > s->trace.minutes)
        minutes = s->trace.minutes;
    policy_config base_cfg;
    if ((rc = policy_config_defaults(&base_cfg, p, NULL, platform, err)))
        return fm_yaml_error(y, n, err, rc, "trace: %s", err->msg);
    const fm_ynode *pol = fm_ynode_get(n, "policy");
    if (pol && (rc = policy_config_apply_yaml(&base_cfg, y, pol, err)))
        return rc;
    s->nfn = s->trace.n;
    s->fns = calloc((size_t)s->nfn, sizeof *s->fns);
    if (!s->fns)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (int i = 0; i < s->nfn; i++) {
        sim_trace_fn *tf = &s->trace.fn[i];
        sim_function *f = &s->fns[i];
        f->name = tf->function;
        f->key = (sim_key){.model = "trace", .runtime = "trace", .device = "cpu"};
        f->items = 1;
        f->threads = 1;
        f->policy = base_cfg;
        /* the app's memory, within what the profile sells */
        int mb = (int)(tf->memory_mb + 0.999);
        f->policy.fn.memory_mb = mb < 128 ? 128 : mb > 10240 ? 10240 : mb;
        /* every instance is started by an invocation (or one pre-warm): a function never needs
         * more slots than that, and the policy allocates them all up front */
        uint64_t need = 0;
        for (int64_t m = 0; m < minutes; m++)
            need += tf->counts[m];
        if ((uint64_t)f->policy.inst.max > need + 2)
            f->policy.inst.max = (int32_t)(need + 2);
        if (f->policy.inst.provisioned > f->policy.inst.max)
            f->policy.inst.max = f->policy.inst.provisioned;
        if ((rc = policy_config_validate(&f->policy, err)))
            return fm_yaml_error(y, n, err, rc, "trace function at %s_inv.csv:%d: %s", prefix,
                                 tf->line, err->msg);
        load_spec_init(&f->workload);
        f->workload.process = LOAD_PROC_AZURE;
        f->workload.spread = sp;
        f->workload.azure_minutes = (size_t)minutes;
        f->workload.azure_counts = malloc((size_t)minutes * sizeof(uint64_t));
        if (!f->workload.azure_counts)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        memcpy(f->workload.azure_counts, tf->counts, (size_t)minutes * sizeof(uint64_t));
        f->service = &tf->duration;
        f->cold_const = true;
        f->cold_ms = (double)cold_ns / 1e6;
    }
    return 0;
}

/* Why: a variant is a name and policy overrides; they are checked against every function when
 * the spec loads, so a bad key is reported at its line before any run. */
static int read_variants(sim_spec *s, const fm_yaml *y, const fm_ynode *n, fm_err *err)
{
    if (fm_ynode_kind_of(n) != FM_YAML_SEQ || fm_ynode_len(n) == 0)
        return fm_yaml_error(y, n, err, FM_EPARSE, "'variants' must be a non-empty list");
    s->nvariants = (int)fm_ynode_len(n);
    s->variants = calloc((size_t)s->nvariants, sizeof *s->variants);
    if (!s->variants)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    static const char *const keys[] = {"name", "policy", NULL};
    for (int v = 0; v < s->nvariants; v++) {
        const fm_ynode *it = fm_ynode_item(n, (size_t)v);
        int rc = fm_yaml_check_keys(y, it, keys, err);
        if (rc || (rc = fm_yaml_get_str(y, it, "name", true, &s->variants[v].name, err)))
            return rc;
        s->variants[v].doc = y;
        s->variants[v].policy = fm_ynode_get(it, "policy");
        for (int j = 0; j < v; j++)
            if (strcmp(s->variants[j].name, s->variants[v].name) == 0)
                return fm_yaml_error(y, it, err, FM_EPARSE, "duplicate variant name '%s'",
                                     s->variants[v].name);
        for (int i = 0; i < s->nfn; i++) {
            policy_config c = s->fns[i].policy;
            if ((rc = policy_config_apply_yaml(&c, y, s->variants[v].policy, err)))
                return rc;
            if ((rc = policy_config_validate(&c, err)))
                return fm_yaml_error(y, it, err, rc, "variant '%s', function '%s': %s",
                                     s->variants[v].name, s->fns[i].name, err->msg);
        }
    }
    return 0;
}

int sim_spec_use_variant(sim_spec *s, int v, fm_err *err)
{
    if (v >= s->nvariants)
        return fm_err_set(err, FM_EINVAL, "no variant %d", v);
    for (int i = 0; i < s->nfn; i++) {
        s->fns[i].policy = s->base[i];
        int rc = v < 0 ? 0
                       : policy_config_apply_yaml(&s->fns[i].policy, s->variants[v].doc,
                                                  s->variants[v].policy, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Why: a function the calibration does not cover is an error in the spec, so it is reported at
 * the function's line when the spec loads, not as a bare message when the run starts. */
static int check_calibrated(const sim_spec *s, const fm_yaml *y, const fm_ynode *n,
                            const sim_function *f, fm_err *err)
{
    sim_cold cold;
    sim_dist d;
    int rc = sim_calib_cold(s->calib, &f->key, 1769, &cold, err);
    if (!rc)
        rc = sim_calib_service(s->calib, &f->key, 1769, 1, &d, err);
    if (rc)
        return fm_yaml_error(y, n, err, rc, "function '%s': %s", f->name, err->msg);
    return 0;
}

int sim_spec_from_yaml(const fm_yaml *y, const fm_ynode *root, const char *base_dir, sim_spec *s,
                       fm_err *err)
{
    static const char *const keys[] = {"name",        "seed",          "host",
                                       "calibration", "functions",     "trace",
                                       "variants",    "host_capacity", NULL};
    int rc = fm_yaml_check_keys(y, root, keys, err);
    if (rc)
        return rc;
    const char *name = "sim";
    int64_t seed = 1;
    if ((rc = fm_yaml_get_str(y, root, "name", false, &name, err)) ||
        (rc = fm_yaml_get_int(y, root, "seed", false, 0, INT64_MAX, &seed, err)))
        return rc;
    s->name = strdup(name);
    s->seed = (uint64_t)seed;
    s->host = (sim_host){.kind = SIM_HOST_CLOUD};
    const fm_ynode *h = fm_ynode_get(root, "host");
    if (h && (rc = read_host(y, h, &s->host, err)))
        return rc;
    policy_host_config_init(&s->host.capacity);
    const fm_ynode *hc = fm_ynode_get(root, "host_capacity");
    if (hc && s->host.kind != SIM_HOST_CORES)
        return fm_yaml_error(y, hc, err, FM_EINVAL,
                             "'host_capacity' needs a host of its own ('host: {cores: N}')");
    if ((rc = policy_host_config_apply_yaml(&s->host.capacity, y, hc, err)))
        return rc;
    const fm_ynode *c = fm_ynode_get(root, "calibration");
    const fm_ynode *tr = fm_ynode_get(root, "trace");
    if (tr && fm_ynode_get(root, "functions"))
        return fm_yaml_error(y, tr, err, FM_EPARSE, "a spec has 'functions' or 'trace', not both");
    if (tr) {
        if (c)
            return fm_yaml_error(y, c, err, FM_EPARSE,
                                 "a trace spec takes its times from the trace and cold_start");
        if ((rc = read_trace(s, y, tr, base_dir, err)))
            return rc;
        goto functions_done;
    }
    if (!c)
        return fm_yaml_error(y, root, err, FM_EPARSE, "missing key 'calibration'");
    if (fm_ynode_kind_of(c) == FM_YAML_SEQ) {
        if (fm_ynode_len(c) == 0)
            return fm_yaml_error(y, c, err, FM_EPARSE, "'calibration' must name at least one file");
        for (size_t i = 0; i < fm_ynode_len(c); i++)
            if ((rc = load_calib(s, y, fm_ynode_item(c, i), base_dir, err)))
                return rc;
    } else if ((rc = load_calib(s, y, c, base_dir, err))) {
        return rc;
    }
    const fm_ynode *fl = fm_ynode_get(root, "functions");
    if (!fl || fm_ynode_kind_of(fl) != FM_YAML_SEQ || fm_ynode_len(fl) == 0)
        return fm_yaml_error(y, fl ? fl : root, err, FM_EPARSE,
                             "'functions' must be a non-empty list");
    s->nfn = (int)fm_ynode_len(fl);
    s->fns = calloc((size_t)s->nfn, sizeof *s->fns);
    if (!s->fns || !s->name)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (int i = 0; i < s->nfn; i++) {
        if ((rc = read_function(y, fm_ynode_item(fl, (size_t)i), &s->fns[i], err)) ||
            (rc = check_calibrated(s, y, fm_ynode_item(fl, (size_t)i), &s->fns[i], err)))
            return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(s->fns[j].name, s->fns[i].name) == 0)
                return fm_yaml_error(y, fm_ynode_item(fl, (size_t)i), err, FM_EPARSE,
                                     "duplicate function name '%s'", s->fns[i].name);
    }
functions_done:
    s->base = malloc((size_t)s->nfn * sizeof *s->base);
    if (!s->base)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (int i = 0; i < s->nfn; i++)
        s->base[i] = s->fns[i].policy;
    const fm_ynode *vn = fm_ynode_get(root, "variants");
    if (vn && (rc = read_variants(s, y, vn, err)))
        return rc;
    return 0;
}

/* Why: the spec owns its document, so every failure path must release it (and whatever the
 * partial parse loaded) before returning. */
int sim_spec_load(const char *path, sim_spec *s, fm_err *err)
{
    memset(s, 0, sizeof *s);
    int rc = fm_yaml_load_file(path, &s->doc, err);
    if (rc)
        return rc;
    char *dup = strdup(path);
    if (!fm_yaml_root(s->doc))
        rc = fm_yaml_error(s->doc, NULL, err, FM_EPARSE, "empty simulation spec");
    else if (!dup)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    else
        rc = sim_spec_from_yaml(s->doc, fm_yaml_root(s->doc), dirname(dup), s, err);
    free(dup);
    if (rc) /* every failure frees what was loaded, the document included */
        sim_spec_release(s);
    return rc;
}

void sim_spec_release(sim_spec *s)
{
    for (int i = 0; s->fns && i < s->nfn; i++)
        load_spec_release(&s->fns[i].workload);
    free(s->fns);
    free(s->base);
    free(s->variants);
    sim_trace_release(&s->trace);
    sim_calib_free(s->calib);
    fm_yaml_free(s->doc);
    free(s->name);
    memset(s, 0, sizeof *s);
}

/* Why: the analyzer prices a run from its stored configuration (instance type, memory size,
 * workers), so a simulated run records what each function ran as; with one function its fields
 * are also at the top level, where the analyzer looks. */
char *sim_spec_config_json(const sim_spec *s, const sim_opts *o)
{
    cJSON *root = cJSON_CreateObject(), *fl = cJSON_AddArrayToObject(root, "functions");
    cJSON_AddStringToObject(root, "simulation", s->name ? s->name : "sim");
    char host[48];
    if (o->host.kind == SIM_HOST_CORES)
        snprintf(host, sizeof host, "cores:%g", o->host.cores);
    else
        snprintf(host, sizeof host, "cloud");
    cJSON_AddStringToObject(root, "host", host);
    for (int i = 0; i < s->nfn; i++) {
        const sim_function *f = &s->fns[i];
        const policy_config *c = &f->policy;
        cJSON *fj = s->nfn == 1 ? root : cJSON_CreateObject();
        if (s->nfn > 1)
            cJSON_AddItemToArray(fl, fj);
        cJSON_AddStringToObject(fj, "function", f->name);
        cJSON_AddStringToObject(fj, "profile", policy_profile_name(c->profile));
        cJSON_AddStringToObject(fj, "entry", c->platform);
        cJSON_AddStringToObject(fj, "model", f->key.model);
        cJSON_AddStringToObject(fj, "runtime", f->key.runtime);
        cJSON_AddStringToObject(fj, "device", f->key.device ? f->key.device : "cpu");
        if (c->fn.memory_mb > 0)
            cJSON_AddNumberToObject(fj, "memory_mb", c->fn.memory_mb);
        if (c->inst.type[0])
            cJSON_AddStringToObject(fj, "instance_type", c->inst.type);
        cJSON_AddNumberToObject(fj, "workers", c->inst.workers);
    }
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return txt;
}
