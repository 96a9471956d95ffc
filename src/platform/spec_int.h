/* Private to the platform module: the profile part of function specs (spec_profile.c): policy
 * overrides and the checks across profile, batching and cold-start keys. */
#ifndef FM_PLAT_SPEC_INT_H
#define FM_PLAT_SPEC_INT_H

#include <cjson/cJSON.h>

#include "platform.h"
#include "policy/policy.h"

/* The `policy` key of the spec table (an fm_key parser): checked against the policy's keys, kept
 * as JSON text. */
int plat_spec_parse_policy(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj,
                           void *ctx, fm_err *err);
void plat_spec_ext_to_json(const platform_spec *s, cJSON *o);
/* Checks the fields (the policy overrides parse against the profile's keys). */
int plat_spec_ext_validate(const platform_spec *s, const char *where, fm_err *err);
/* Isolation keys (spec_sandbox.c): the `isolation` and `network` parsers of the key table, and
 * the JSON form of isolation, network and ephemeral_storage_mb. */
int plat_spec_parse_isolation(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj,
                              void *ctx, fm_err *err);
int plat_spec_parse_network(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj,
                            void *ctx, fm_err *err);
void plat_spec_sb_to_json(const platform_spec *s, cJSON *o);
/* Applies the spec's policy overrides to cfg (NULL: only checks them). */
int plat_spec_policy_apply(const platform_spec *s, policy_config *cfg, const char *where,
                           fm_err *err);

#endif
