/* The plan: the numbers every format maps, read once from the spec and the policy configuration the
 * platform would run it with, so a Knative Service, a SAM template and `faasml serve` agree. */
#include "package_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: the platform builds a function's policy from the data file's defaults, then the spec's own
 * fields, then its `policy` overrides (platform.c make_policy, profile.c); the same order here
 * gives the same numbers without a running platform. */
static int effective_policy(const platform_spec *s, const char *platforms, policy_config *cfg,
                            fm_err *err)
{
    policy_profile prof;
    if (policy_profile_parse(s->profile, &prof))
        return fm_err_set(err, FM_EINVAL, "%s: unknown profile '%s'", s->name, s->profile);
    int rc = policy_config_defaults(cfg, prof, platforms, s->platform[0] ? s->platform : NULL, err);
    if (rc)
        return rc;
    cfg->fn.memory_mb = s->memory_mb;
    cfg->fn.timeout_ns = (int64_t)(s->timeout_s * 1e9);
    if (prof == POLICY_PROFILE_LAMBDA || prof == POLICY_PROFILE_GCF) {
        platform_config pc;
        platform_config_init(&pc);
        double ka = s->keep_alive_s >= 0 ? s->keep_alive_s : pc.keep_alive_s;
        cfg->inst.provisioned = s->provisioned_concurrency;
        cfg->inst.keep_alive_ns = (int64_t)(ka * 1e9);
        cfg->inst.workers = 1;
        cfg->limit.reserved = s->reserved_concurrency > 0 ? s->reserved_concurrency : 0;
    }
    if (s->batch_max_size > 0) {
        cfg->batch.max_size = s->batch_max_size;
        cfg->batch.max_delay_ns = (int64_t)(s->batch_max_delay_ms * 1e6);
    }
    if (s->policy) {
        fm_yaml *y;
        char where[96];
        snprintf(where, sizeof where, "%s: policy", s->name);
        if ((rc = fm_yaml_load_buf(s->policy, strlen(s->policy), where, &y, err)))
            return rc;
        rc = policy_config_apply_yaml(cfg, y, fm_yaml_root(y), err);
        fm_yaml_free(y);
        if (rc)
            return rc;
    }
    return 0;
}

int package_plan_make(const platform_spec *s, const char *platforms, package_plan *p, fm_err *err)
{
    memset(p, 0, sizeof *p);
    if (s->runtime != PLATFORM_RUNTIME_ONNX)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "%s: runtime 'custom' cannot be packaged: package builds the "
                          "builtin-onnx function host (runtime: builtin-onnx, model: FILE)",
                          s->name);
    if (!s->model || (strstr(s->model, "://") && strncmp(s->model, "file://", 7) != 0))
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "%s: model '%s' is not a local file: package copies the model into the "
                          "artifact",
                          s->name, s->model ? s->model : "");
    policy_config cfg;
    int rc = effective_policy(s, platforms, &cfg, err);
    if (rc)
        return rc;
    snprintf(p->name, sizeof p->name, "%s", s->name);
    p->profile = cfg.profile;
    bool lambda_like = cfg.profile == POLICY_PROFILE_LAMBDA || cfg.profile == POLICY_PROFILE_GCF;
    p->memory_mb =
        !lambda_like && cfg.inst.type_memory_mb > 0 ? cfg.inst.type_memory_mb : s->memory_mb;
    p->vcpu = lambda_like ? platform_lambda_vcpu(s->memory_mb) : cfg.inst.type_vcpu;
    p->timeout_s = (double)cfg.fn.timeout_ns / 1e9;
    p->workers = cfg.inst.workers > 0 ? cfg.inst.workers : 1;
    p->reserved = s->reserved_concurrency;
    p->provisioned = lambda_like ? cfg.inst.provisioned : 0;
    p->min_instances = lambda_like ? cfg.inst.provisioned : cfg.inst.min;
    /* Lambda-like: the reserved concurrency caps instances (one request each); the data file's
     * inst.max is the account's default quota, not a per-function cap. */
    p->max_instances =
        lambda_like ? (cfg.limit.reserved > 0 ? cfg.limit.reserved : 0) : cfg.inst.max;
    p->keep_alive_s = (double)cfg.inst.keep_alive_ns / 1e9;
    snprintf(p->instance_type, sizeof p->instance_type, "%s", cfg.inst.type);
    p->target_per_min = cfg.scale.target_per_min;
    p->scale_out_cooldown_s = (double)cfg.scale.out_cooldown_ns / 1e9;
    p->scale_in_cooldown_s = (double)cfg.scale.in_cooldown_ns / 1e9;
    p->batch_max_size = cfg.batch.max_size;
    p->model_path = strncmp(s->model, "file://", 7) == 0 ? s->model + 7 : s->model;
    if (strncmp(s->model, "builtin:", 8) != 0) {
        const char *base = strrchr(p->model_path, '/');
        snprintf(p->model_file, sizeof p->model_file, "%s", base ? base + 1 : p->model_path);
    }
    /* The function host's argv after `fn`, as the platform starts it (instance.c). */
    if (p->batch_max_size > 1) {
        snprintf(p->batch_arg, sizeof p->batch_arg, "%d", p->batch_max_size);
        p->args[p->nargs++] = "--max-batch";
        p->args[p->nargs++] = p->batch_arg;
    }
    for (int i = 0; i < s->nargs; i++)
        p->args[p->nargs++] = s->args[i];
    return 0;
}
