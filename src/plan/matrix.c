/* The run matrix: every combination of model, workload, platform and swept setting. */
#include "plan.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: the run's policy is the platform entry's defaults, then the spec's overrides, then the
 * cell's swept values, validated as one, exactly as a deployed function's would be. */
static int resolve_policy(const plan_spec *s, const plan_platform *p, plan_run *r, fm_err *err)
{
    policy_config *c = &r->policy;
    int rc = policy_config_defaults(c, p->profile, NULL, p->entry, err);
    if (!rc && p->policy)
        rc = policy_config_apply_yaml(c, s->doc, p->policy, err);
    if (rc)
        return fm_err_prefix(err, "platform '%s': ", p->name);
    if (p->profile == POLICY_PROFILE_LAMBDA || p->profile == POLICY_PROFILE_GCF)
        c->fn.memory_mb = r->memory_mb;
    if (p->profile == POLICY_PROFILE_LAMBDA)
        c->inst.provisioned = r->provisioned;
    c->batch.max_size = r->batch;
    if (r->batch > 1)
        c->batch.max_delay_ns = p->batch_delay_ns;
    if (p->instances > 0) {
        if (p->profile == POLICY_PROFILE_SERVER)
            c->inst.min = p->instances;
        c->inst.max = p->instances;
    }
    if ((rc = policy_config_validate(c, err)))
        return fm_err_prefix(err, "run '%s': ", r->name);
    return 0;
}

/* Why: a run's name is its identity in the results database (re-runs skip complete ones) and its
 * label in the report, so it names exactly the dimensions the spec varies, and no more:
 * "quick/lambda/live", or "paper/mobilenetv2/lambda/m1024/sim" for a memory sweep. */
static bool run_name(const plan_spec *s, const plan_run *r, char *buf, size_t cap)
{
    const plan_platform *p = r->platform;
    size_t n = (size_t)snprintf(buf, cap, "%s", s->name);
#define PART(...)                                                                                  \
    do {                                                                                           \
        if (n < cap)                                                                               \
            n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                                  \
    } while (0)
    if (s->nmodels > 1)
        PART("/%s", r->model->name);
    if (s->nworkloads > 1)
        PART("/%s", r->workload->name);
    PART("/%s", p->name);
    if (p->nruntime > 1)
        PART("/%s", r->runtime);
    if (p->nprecision > 1)
        PART("/%s", r->precision);
    if (p->nmemory > 1)
        PART("/m%d", r->memory_mb);
    if (p->nbatch > 1)
        PART("/b%d", r->batch);
    if (p->nprovisioned > 1)
        PART("/pc%d", r->provisioned);
    PART("/%s", r->mode == PLAN_LIVE ? "live" : "sim");
#undef PART
    return n < cap; /* false: truncated, and no longer unique */
}

int plan_matrix(const plan_spec *s, plan_run **out, size_t *nout, fm_err *err)
{
    size_t cap = 0, n = 0;
    plan_run *v = NULL;
    for (int pass = 0; pass < 2; pass++) {
        int mode = pass == 0 ? PLAN_LIVE : PLAN_SIM;
        if (!(s->modes & mode))
            continue;
        for (int pi = 0; pi < s->nplatforms; pi++) {
            const plan_platform *p = &s->platforms[pi];
            if (!(p->modes & mode))
                continue;
            if (mode == PLAN_LIVE && strcmp(p->device, "cpu") != 0)
                continue; /* this machine has no accelerator: such platforms are simulated */
            for (int mi = 0; mi < s->nmodels; mi++)
                for (int wi = 0; wi < s->nworkloads; wi++)
                    for (int ri = 0; ri < p->nruntime; ri++)
                        for (int qi = 0; qi < p->nprecision; qi++)
                            for (int a = 0; a < p->nmemory; a++)
                                for (int b = 0; b < p->nbatch; b++)
                                    for (int c = 0; c < p->nprovisioned; c++) {
                                        if (n == cap) {
                                            cap = cap ? cap * 2 : 32;
                                            plan_run *nv = realloc(v, cap * sizeof *nv);
                                            if (!nv) {
                                                free(v);
                                                return fm_err_set(err, FM_ENOMEM, "out of memory");
                                            }
                                            v = nv;
                                        }
                                        plan_run *r = &v[n];
                                        *r = (plan_run){.model = &s->models[mi],
                                                        .workload = &s->workloads[wi],
                                                        .platform = p,
                                                        .memory_mb = p->memory_mb[a],
                                                        .batch = p->batch[b],
                                                        .provisioned = p->provisioned[c],
                                                        .runtime = p->runtime[ri],
                                                        .precision = p->precision[qi],
                                                        .mode = mode};
                                        int rc = 0;
                                        if (!run_name(s, r, r->name, sizeof r->name))
                                            rc =
                                                fm_err_set(err, FM_EINVAL,
                                                           "run name '%.40s...' is longer than %zu "
                                                           "characters: shorten the names",
                                                           r->name, sizeof r->name - 1);
                                        if (!rc)
                                            rc = resolve_policy(s, p, r, err);
                                        if (rc) {
                                            free(v);
                                            return rc;
                                        }
                                        n++;
                                    }
        }
    }
    if (n == 0) {
        free(v);
        return fm_err_set(err, FM_EINVAL, "experiment '%s' expands to no run", s->name);
    }
    *out = v;
    *nout = n;
    return 0;
}

char *plan_run_config_json(const plan_spec *s, const plan_run *r)
{
    cJSON *o = cJSON_CreateObject();
    const policy_config *c = &r->policy;
    cJSON_AddStringToObject(o, "experiment", s->name);
    cJSON_AddStringToObject(o, "model", r->model->name);
    cJSON_AddStringToObject(o, "workload", r->workload->name);
    cJSON_AddStringToObject(o, "platform", r->platform->name);
    cJSON_AddStringToObject(o, "profile", policy_profile_name(r->platform->profile));
    cJSON_AddStringToObject(o, "entry", c->platform);
    cJSON_AddStringToObject(o, "runtime", r->runtime);
    cJSON_AddStringToObject(o, "precision", r->precision);
    cJSON_AddStringToObject(o, "device", r->platform->device);
    cJSON_AddStringToObject(o, "mode", r->mode == PLAN_LIVE ? "live" : "sim");
    cJSON_AddNumberToObject(o, "memory_mb", r->memory_mb);
    cJSON_AddNumberToObject(o, "batch", r->batch);
    cJSON_AddNumberToObject(o, "provisioned", r->provisioned);
    cJSON_AddNumberToObject(o, "slo_ms", s->slo_ms);
    cJSON_AddNumberToObject(o, "success_target", s->success_target);
    if (r->mode == PLAN_SIM)
        cJSON_AddNumberToObject(o, "scale", s->sim_scale);
    if (c->inst.type[0])
        cJSON_AddStringToObject(o, "instance_type", c->inst.type);
    if (r->platform->offer)
        cJSON_AddStringToObject(o, "offer", r->platform->offer);
    if (r->platform->profile == POLICY_PROFILE_MANAGED ||
        r->platform->profile == POLICY_PROFILE_SERVER) {
        cJSON_AddNumberToObject(o, "instances_min", c->inst.min);
        cJSON_AddNumberToObject(o, "instances_max", c->inst.max);
        cJSON_AddNumberToObject(o, "workers", c->inst.workers);
    }
    char *w = load_spec_to_json(&r->workload->spec);
    if (w) {
        cJSON *wj = cJSON_Parse(w);
        if (wj)
            cJSON_AddItemToObject(o, "workload_spec", wj);
        free(w);
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

void plan_scale_workload(load_spec *w, double k)
{
    w->rate *= k;
    for (int i = 0; i < w->mmpp.k; i++)
        w->mmpp.rate[i] *= k;
    for (int i = 0; i < w->nseg; i++) {
        w->seg[i].a *= k;
        w->seg[i].b *= k;
    }
    if (w->requests)
        w->requests = (uint64_t)((double)w->requests * k + 0.5);
}

sim_opts plan_sim_opts(const plan_spec *s, const plan_run *r, store *db, const char *cfg)
{
    return (sim_opts){.host = s->sim_host,
                      .seed = s->seed,
                      .calib = s->calib,
                      .db = db,
                      .run_name = r->name,
                      .config_json = cfg,
                      .record = SIM_RECORD_ALL,
                      .client_timeout_ns = s->client_timeout_ns};
}

int plan_sim_function(const plan_spec *s, const plan_run *r, double scale, sim_function *f,
                      fm_err *err)
{
    if (!s->calib)
        return fm_err_set(err, FM_ENOTFOUND,
                          "experiment '%s' names no calibration file, so nothing can be simulated",
                          s->name);
    if (r->workload->spec.process == LOAD_PROC_TRACE ||
        r->workload->spec.process == LOAD_PROC_AZURE)
        if (scale != 1)
            return fm_err_set(err, FM_EUNSUPPORTED,
                              "workload '%s': a trace cannot be scaled (simulation scale %g)",
                              r->workload->name, scale);
    *f = (sim_function){.name = r->model->name,
                        .policy = r->policy,
                        .workload = r->workload->spec,
                        .key = {r->model->name, r->runtime, r->platform->device, r->precision},
                        .items = 1,
                        .threads = r->platform->threads};
    plan_scale_workload(&f->workload, scale);
    return 0;
}
