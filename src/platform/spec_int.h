/* Private to the platform module: the spec keys of platform profiles, batching and cold-start
 * paths (spec_profile.c), kept apart from spec.c's Lambda fields. */
#ifndef FM_PLAT_SPEC_INT_H
#define FM_PLAT_SPEC_INT_H

#include <cjson/cJSON.h>

#include "platform.h"
#include "policy/policy.h"

/* YAML form: reads `platform`, `policy`, `batch` and `cold_start` from a spec's root map. */
int plat_spec_ext_yaml(const fm_yaml *y, const fm_ynode *root, platform_spec *out, fm_err *err);
/* JSON form: 1 when `it` is one of those keys and was taken, 0 when it is not, < 0 on error. */
int plat_spec_ext_json(const cJSON *it, platform_spec *out, fm_err *err);
void plat_spec_ext_to_json(const platform_spec *s, cJSON *o);
/* Checks the fields (the policy overrides parse against the profile's keys). */
int plat_spec_ext_validate(const platform_spec *s, const char *where, fm_err *err);
/* Isolation keys (spec_sandbox.c): `isolation`, `network`, `ephemeral_storage_mb`; the same
 * contracts as the plat_spec_ext_* functions above. */
#define PLAT_SPEC_SB_KEYS "isolation", "network", "ephemeral_storage_mb"
int plat_spec_sb_yaml(const fm_yaml *y, const fm_ynode *root, platform_spec *out, fm_err *err);
int plat_spec_sb_json(const cJSON *it, platform_spec *out, fm_err *err);
void plat_spec_sb_to_json(const platform_spec *s, cJSON *o);
/* Applies the spec's policy overrides to cfg (NULL: only checks them). */
int plat_spec_policy_apply(const platform_spec *s, policy_config *cfg, const char *where,
                           fm_err *err);

#endif
