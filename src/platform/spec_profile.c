/* Function-spec keys for platform profiles: `policy` (overrides with the keys of
 * data/platforms.yaml), checks across `platform`, `batch` and `cold_start`, and their JSON form.
 * The policy overrides travel as JSON text, which is also YAML, so the admin API's JSON form and
 * `faasml deploy`'s YAML form share one checker: policy_config_apply_yaml. */
#include "spec_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int plat_spec_parse_policy(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj,
                           void *ctx, fm_err *err)
{
    platform_spec *out = obj;
    if (fm_ynode_kind_of(n) != FM_YAML_MAP)
        return fm_yaml_error(y, n, err, FM_EINVAL, "'policy' must be a mapping");
    /* Checked here against the keys, with file:line:col, before it becomes JSON. */
    policy_config probe;
    policy_config_init(&probe, POLICY_PROFILE_LAMBDA);
    int rc = policy_config_apply_yaml(&probe, y, n, err);
    if (rc)
        return rc;
    free(out->policy);
    out->policy = fm_ynode_to_json(n); /* scalars travel as JSON strings */
    return out->policy ? 0 : fm_err_set(err, FM_ENOMEM, "out of memory");
}

void plat_spec_ext_to_json(const platform_spec *s, cJSON *o)
{
    if (s->platform[0])
        cJSON_AddStringToObject(o, "platform", s->platform);
    if (strcmp(s->cold_start, "exec") != 0)
        cJSON_AddStringToObject(o, "cold_start", s->cold_start);
    if (s->batch_max_size > 0) {
        cJSON *b = cJSON_AddObjectToObject(o, "batch");
        if (b) {
            cJSON_AddNumberToObject(b, "max_size", s->batch_max_size);
            cJSON_AddNumberToObject(b, "max_delay_ms", s->batch_max_delay_ms);
        }
    }
    if (s->policy)
        cJSON_AddItemToObject(o, "policy", cJSON_Parse(s->policy));
}

/* Why: the JSON form arrives from the network; its policy text must pass the same key and value
 * checks as a YAML spec's before a deploy can use it. */
int plat_spec_ext_validate(const platform_spec *s, const char *where, fm_err *err)
{
    if (strcmp(s->cold_start, "zygote") == 0 && s->runtime != PLATFORM_RUNTIME_ONNX)
        return fm_err_set(err, FM_EINVAL, "%s: cold_start 'zygote' needs runtime 'builtin-onnx'",
                          where);
    if (s->batch_max_size > 1 && s->runtime != PLATFORM_RUNTIME_ONNX)
        return fm_err_set(err, FM_EINVAL,
                          "%s: 'batch' needs runtime 'builtin-onnx' (the "
                          "platform merges KServe v2 tensors)",
                          where);
    if (!s->policy)
        return 0;
    return plat_spec_policy_apply(s, NULL, where, err);
}

int plat_spec_policy_apply(const platform_spec *s, policy_config *cfg, const char *where,
                           fm_err *err)
{
    if (!s->policy)
        return 0;
    policy_config probe;
    if (!cfg) {
        policy_config_init(&probe, POLICY_PROFILE_LAMBDA);
        cfg = &probe;
    }
    fm_yaml *y;
    char name[96];
    snprintf(name, sizeof name, "%s: policy", where);
    int rc = fm_yaml_load_buf(s->policy, strlen(s->policy), name, &y, err);
    if (rc)
        return rc;
    rc = policy_config_apply_yaml(cfg, y, fm_yaml_root(y), err);
    fm_yaml_free(y);
    return rc;
}
