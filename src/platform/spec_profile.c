/* Function-spec keys for platform profiles: `platform` (the data-file entry the policy defaults
 * come from), `policy` (overrides with the keys of data/platforms.yaml), `batch` (dynamic
 * batching) and `cold_start` (exec or zygote). The policy overrides travel as JSON text, which is
 * also YAML, so the admin API's JSON form and `faasml deploy`'s YAML form share one checker:
 * policy_config_apply_yaml. */
#include "spec_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static int set_cold_start(platform_spec *s, const char *v)
{
    if (strcmp(v, "exec") != 0 && strcmp(v, "zygote") != 0)
        return FM_EINVAL;
    snprintf(s->cold_start, sizeof s->cold_start, "%s", v);
    return 0;
}

int plat_spec_ext_yaml(const fm_yaml *y, const fm_ynode *root, platform_spec *out, fm_err *err)
{
    const char *str = NULL;
    int rc = fm_yaml_get_str(y, root, "platform", false, &str, err);
    if (rc)
        return rc;
    if (str) {
        if (strlen(str) >= sizeof out->platform)
            return fm_yaml_error(y, fm_ynode_get(root, "platform"), err, FM_EINVAL,
                                 "platform name '%s' is too long", str);
        snprintf(out->platform, sizeof out->platform, "%s", str);
    }
    str = NULL;
    if ((rc = fm_yaml_get_str(y, root, "cold_start", false, &str, err)))
        return rc;
    if (str && set_cold_start(out, str))
        return fm_yaml_error(y, fm_ynode_get(root, "cold_start"), err, FM_EINVAL,
                             "unknown cold_start '%s' (exec, zygote)", str);
    const fm_ynode *b = fm_ynode_get(root, "batch");
    if (b) {
        static const char *const bkeys[] = {"max_size", "max_delay_ms", NULL};
        if (fm_ynode_kind_of(b) != FM_YAML_MAP)
            return fm_yaml_error(y, b, err, FM_EINVAL, "'batch' must be a mapping");
        int64_t iv = 1;
        if ((rc = fm_yaml_check_keys(y, b, bkeys, err)) ||
            (rc = fm_yaml_get_int(y, b, "max_size", true, 1, 4096, &iv, err)) ||
            (rc = fm_yaml_get_double(y, b, "max_delay_ms", false, 0, 60000,
                                     &out->batch_max_delay_ms, err)))
            return rc;
        out->batch_max_size = (int)iv;
    }
    const fm_ynode *pol = fm_ynode_get(root, "policy");
    if (pol) {
        if (fm_ynode_kind_of(pol) != FM_YAML_MAP)
            return fm_yaml_error(y, pol, err, FM_EINVAL, "'policy' must be a mapping");
        /* Checked here against the keys, with file:line:col, before it becomes JSON. */
        policy_config probe;
        policy_config_init(&probe, POLICY_PROFILE_LAMBDA);
        if ((rc = policy_config_apply_yaml(&probe, y, pol, err)))
            return rc;
        out->policy = fm_ynode_to_json(pol); /* scalars travel as JSON strings */
        if (!out->policy)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
}

int plat_spec_ext_json(const cJSON *it, platform_spec *out, fm_err *err)
{
    const char *k = it->string;
    const char *sv = cJSON_IsString(it) ? it->valuestring : NULL;
    if (strcmp(k, "platform") == 0) {
        if (!sv || strlen(sv) >= sizeof out->platform)
            return fm_err_set(err, FM_EINVAL, "spec: 'platform' must be a data-file entry name");
        snprintf(out->platform, sizeof out->platform, "%s", sv);
        return 1;
    }
    if (strcmp(k, "cold_start") == 0) {
        if (!sv || set_cold_start(out, sv))
            return fm_err_set(err, FM_EINVAL, "spec: 'cold_start' must be 'exec' or 'zygote'");
        return 1;
    }
    if (strcmp(k, "batch") == 0) {
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(it, "max_size");
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(it, "max_delay_ms");
        int nkeys = cJSON_GetArraySize(it);
        if (!cJSON_IsObject(it) || !cJSON_IsNumber(ms) ||
            ms->valuedouble != floor(ms->valuedouble) || ms->valuedouble < 1 ||
            ms->valuedouble > 4096 ||
            (md && (!cJSON_IsNumber(md) || !(md->valuedouble >= 0 && md->valuedouble <= 60000))) ||
            nkeys != 1 + (md != NULL))
            return fm_err_set(err, FM_EINVAL,
                              "spec: 'batch' must be {max_size: 1-4096, max_delay_ms: 0-60000}");
        out->batch_max_size = (int)ms->valuedouble;
        out->batch_max_delay_ms = md ? md->valuedouble : 0;
        return 1;
    }
    if (strcmp(k, "policy") == 0) {
        if (!cJSON_IsObject(it))
            return fm_err_set(err, FM_EINVAL, "spec: 'policy' must be an object");
        free(out->policy);
        out->policy = cJSON_PrintUnformatted(it);
        return out->policy ? 1 : fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
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
