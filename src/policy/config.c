/*
 * config.c — policy_config: neutral init, defaults from data/platforms.yaml (every cloud number
 * with its source), overrides from a function spec, and validation. One key table drives the
 * data file, the spec overrides and docs/policies.md, so a key means the same thing everywhere.
 */
#include "policy/policy_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum key_type { K_I32, K_DUR, K_DBL, K_BOOL, K_STR, K_COLD, K_SCALING, K_KEEP } key_type;

typedef struct key_def {
    const char *sec, *key;
    key_type type;
    size_t off;
    double min, max; /* K_I32/K_DBL ranges; K_DUR ranges in ns */
} key_def;

#define F(field) offsetof(policy_config, field)
/* the longest configured duration, about a year: time + duration sums in the policy and the
 * simulator then stay far below INT64_MAX (292 years) */
#define DMAX 3.2e16
static const key_def keys[] = {
    {"fn", "memory_mb", K_I32, F(fn.memory_mb), 0, 10240},
    {"fn", "timeout", K_DUR, F(fn.timeout_ns), 0, DMAX},
    {"inst", "min", K_I32, F(inst.min), 0, 1e6},
    {"inst", "max", K_I32, F(inst.max), 1, 1e6},
    {"inst", "workers", K_I32, F(inst.workers), 1, PI_MAX_WORKERS},
    {"inst", "provisioned", K_I32, F(inst.provisioned), 0, 1e6},
    {"inst", "keep_alive", K_DUR, F(inst.keep_alive_ns), 0, DMAX},
    {"inst", "keep_alive_policy", K_KEEP, F(inst.keep_alive_policy), 0, 0},
    {"inst", "provision_delay", K_DUR, F(inst.provision_delay_ns), 0, DMAX},
    {"inst", "retry", K_DUR, F(inst.retry_ns), 0, DMAX},
    {"inst", "cold_wait", K_COLD, F(inst.cold_wait), 0, 0},
    {"inst", "overprovision", K_DBL, F(inst.overprovision), 0, 100},
    {"inst", "type", K_STR, F(inst.type), 0, 0},
    {"inst", "type_vcpu", K_DBL, F(inst.type_vcpu), 0, 1e4},
    {"inst", "type_memory_mb", K_I32, F(inst.type_memory_mb), 0, 1e8},
    {"limit", "reserved", K_I32, F(limit.reserved), 0, 1e7},
    {"limit", "account", K_I32, F(limit.account), 0, 1e7},
    {"limit", "scaling", K_SCALING, F(limit.scaling), 0, 0},
    {"limit", "rate_burst", K_I32, F(limit.rate.burst), 0, 1e9},
    {"limit", "rate_refill", K_I32, F(limit.rate.refill), 0, 1e9},
    {"limit", "rate_period", K_DUR, F(limit.rate.period_ns), 0, DMAX},
    {"limit", "rate_continuous", K_BOOL, F(limit.rate.continuous), 0, 0},
    {"queue", "capacity", K_I32, F(queue.capacity), 1, 1e7},
    {"batch", "max_size", K_I32, F(batch.max_size), 1, 4096},
    {"batch", "max_delay", K_DUR, F(batch.max_delay_ns), 0, DMAX},
    {"scale", "target_per_min", K_DBL, F(scale.target_per_min), 0, 1e12},
    {"scale", "period", K_DUR, F(scale.period_ns), 1e9, DMAX}, /* a metric period: >= 1 s */
    {"scale", "out_datapoints", K_I32, F(scale.out_datapoints), 1, 1e6},
    {"scale", "in_datapoints", K_I32, F(scale.in_datapoints), 1, 1e6},
    {"scale", "in_ratio", K_DBL, F(scale.in_ratio), 0, 1},
    {"scale", "out_cooldown", K_DUR, F(scale.out_cooldown_ns), 0, DMAX},
    {"scale", "in_cooldown", K_DUR, F(scale.in_cooldown_ns), 0, DMAX},
    {"histogram", "bin", K_DUR, F(histogram.bin_ns), 1e6, DMAX}, /* >= 1 ms */
    {"histogram", "range", K_DUR, F(histogram.range_ns), 1e6, DMAX},
    {"histogram", "head_pct", K_DBL, F(histogram.head_pct), 0, 100},
    {"histogram", "tail_pct", K_DBL, F(histogram.tail_pct), 0, 100},
    {"histogram", "margin", K_DBL, F(histogram.margin), 0, 0.99},
    {"histogram", "cv_min", K_DBL, F(histogram.cv_min), 0, 1e6},
    {"histogram", "oob_max", K_DBL, F(histogram.oob_max), 0, 1},
    {"histogram", "forecast_margin", K_DBL, F(histogram.forecast_margin), 0, 0.99},
    {"greedy_dual", "budget_mb", K_I32, F(greedy_dual.budget_mb), 0, 1e9},
    {"greedy_dual", "cold_cost", K_DUR, F(greedy_dual.cold_cost_ns), 0, DMAX},
};
#undef F

static const char *const sections[] = {"fn",    "inst",      "limit",       "queue", "batch",
                                       "scale", "histogram", "greedy_dual", NULL};
static const char *const sourced_keys[] = {"value", "status", "date", "source", NULL};
static const char *const cold_names[] = {"bind", "first_free"};
_Static_assert(FM_ARRAY_LEN(cold_names) == POLICY_COLD_WAIT__COUNT, "cold_wait names");

/* Why: a config that sets no cloud number is still a valid, predictable one (tests, callers
 * that bring every number themselves). */
void policy_config_init(policy_config *cfg, policy_profile profile)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->profile = profile;
    snprintf(cfg->platform, sizeof(cfg->platform), "%s", "custom");
    cfg->inst.max = 1;
    cfg->inst.workers = 1;
    cfg->inst.retry_ns = 1000000000LL;
    cfg->queue.capacity = 1;
    cfg->batch.max_size = 1;
    cfg->scale.period_ns = 60000000000LL;
    cfg->scale.out_datapoints = 1;
    cfg->scale.in_datapoints = 1;
    cfg->scale.in_ratio = 1.0;
    if (profile == POLICY_PROFILE_MANAGED || profile == POLICY_PROFILE_SERVER)
        cfg->inst.min = 1;
}

/* Parses one scalar into its field; why: the data file and spec overrides share the table. */
static int set_field(policy_config *cfg, const key_def *k, const fm_yaml *y, const fm_ynode *n,
                     fm_err *err)
{
    const char *s = fm_ynode_str(n);
    char *p = (char *)cfg + k->off;
    if (!s)
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s' must be a scalar", k->sec, k->key);
    int64_t i;
    double d;
    switch (k->type) {
    case K_I32:
    case K_DUR:
        if (k->type == K_I32 ? fm_parse_i64(s, &i) != 0 : fm_parse_duration_ns(s, &i) != 0)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': invalid %s '%s'", k->sec, k->key,
                                 k->type == K_I32 ? "integer" : "duration", s);
        if ((double)i < k->min || (double)i > k->max)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': %s is out of range", k->sec,
                                 k->key, s);
        if (k->type == K_DUR || k->off == offsetof(policy_config, limit.rate.burst) ||
            k->off == offsetof(policy_config, limit.rate.refill))
            memcpy(p, &i, sizeof(int64_t));
        else {
            int32_t v = (int32_t)i;
            memcpy(p, &v, sizeof(v));
        }
        return 0;
    case K_DBL:
        if (fm_parse_double(s, &d) != 0 || d < k->min || d > k->max)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': invalid value '%s'", k->sec,
                                 k->key, s);
        memcpy(p, &d, sizeof(d));
        return 0;
    case K_BOOL: {
        bool b;
        if (strcmp(s, "true") == 0)
            b = true;
        else if (strcmp(s, "false") == 0)
            b = false;
        else
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': expected true or false, got '%s'",
                                 k->sec, k->key, s);
        memcpy(p, &b, sizeof(b));
        return 0;
    }
    case K_STR:
        if (strlen(s) >= sizeof(cfg->inst.type))
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': '%s' is too long", k->sec, k->key,
                                 s);
        snprintf(p, sizeof(cfg->inst.type), "%s", s);
        return 0;
    case K_COLD:
        for (int c = 0; c < POLICY_COLD_WAIT__COUNT; c++)
            if (strcmp(s, cold_names[c]) == 0) {
                policy_cold_wait v = (policy_cold_wait)c;
                memcpy(p, &v, sizeof(v));
                return 0;
            }
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': unknown value '%s' (bind, first_free)",
                             k->sec, k->key, s);
    case K_KEEP: {
        policy_keep_alive v;
        if (policy_keep_alive_parse(s, &v) != 0)
            return fm_yaml_error(y, n, err, FM_EPARSE,
                                 "'%s.%s': unknown value '%s' (fixed, histogram, greedy-dual)",
                                 k->sec, k->key, s);
        memcpy(p, &v, sizeof(v));
        return 0;
    }
    case K_SCALING: {
        policy_scaling v;
        if (policy_scaling_parse(s, &v) != 0)
            return fm_yaml_error(y, n, err, FM_EPARSE,
                                 "'%s.%s': unknown value '%s' (none, lambda-2021, lambda-2023)",
                                 k->sec, k->key, s);
        memcpy(p, &v, sizeof(v));
        return 0;
    }
    }
    return FM_EINTERNAL;
}

/* Applies one value node: a bare scalar, or {value, status, date, source}; why: the data file
 * must say where each number comes from (sourced), a spec override need not. */
static int apply_value(policy_config *cfg, const key_def *k, const fm_yaml *y, const fm_ynode *n,
                       bool sourced, fm_err *err)
{
    if (fm_ynode_kind_of(n) == FM_YAML_MAP) {
        int rc = fm_yaml_check_keys(y, n, sourced_keys, err);
        if (rc)
            return rc;
        const fm_ynode *v = fm_ynode_get(n, "value");
        if (!v)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': missing 'value'", k->sec, k->key);
        if (sourced) {
            const char *st = NULL, *src = NULL, *date = NULL;
            if ((rc = fm_yaml_get_str(y, n, "status", true, &st, err)) ||
                (rc = fm_yaml_get_str(y, n, "source", true, &src, err)) ||
                (rc = fm_yaml_get_str(y, n, "date", true, &date, err)))
                return rc;
            fm_provenance pv;
            if (fm_provenance_parse(st, &pv))
                return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': unknown status '%s' (%s)",
                                     k->sec, k->key, st, fm_provenance_words());
        }
        return set_field(cfg, k, y, v, err);
    }
    if (sourced)
        return fm_yaml_error(y, n, err, FM_EPARSE,
                             "'%s.%s' needs {value, status, date, source} in the data file", k->sec,
                             k->key);
    return set_field(cfg, k, y, n, err);
}

/* Applies the sections of one map; why: shared by data-file entries and spec overrides. */
static int apply_sections(policy_config *cfg, const fm_yaml *y, const fm_ynode *map, bool sourced,
                          fm_err *err)
{
    for (size_t s = 0; sections[s]; s++) {
        const fm_ynode *sec = fm_ynode_get(map, sections[s]);
        if (!sec)
            continue;
        if (fm_ynode_kind_of(sec) != FM_YAML_MAP)
            return fm_yaml_error(y, sec, err, FM_EPARSE, "'%s' must be a map", sections[s]);
        for (size_t i = 0; i < fm_ynode_len(sec); i++) {
            const char *name = fm_ynode_str(fm_ynode_key(sec, i));
            const key_def *k = NULL;
            for (size_t j = 0; j < FM_ARRAY_LEN(keys) && !k; j++)
                if (strcmp(keys[j].sec, sections[s]) == 0 && name && strcmp(keys[j].key, name) == 0)
                    k = &keys[j];
            if (!k && name && strcmp(sections[s], "fn") == 0 &&
                (strcmp(name, "billing_granularity") == 0 || strcmp(name, "min_billed") == 0))
                return fm_yaml_error(y, fm_ynode_key(sec, i), err, FM_EPARSE,
                                     "'fn.%s' is no longer a policy key: billing rounds to the "
                                     "price catalogue's granularity_ms (granularity_s, "
                                     "min_billed_s), data/prices.yaml",
                                     name);
            if (!k)
                return fm_yaml_error(y, fm_ynode_key(sec, i), err, FM_EPARSE, "unknown key '%s.%s'",
                                     sections[s], name ? name : "?");
            int rc = apply_value(cfg, k, y, fm_ynode_value(sec, i), sourced, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Why: a function spec's `policy:` section overrides the platform defaults, same keys. */
int policy_config_apply_yaml(policy_config *cfg, const fm_yaml *y, const fm_ynode *map, fm_err *err)
{
    if (!map)
        return 0;
    if (fm_ynode_kind_of(map) != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EPARSE, "policy overrides must be a map");
    int rc = fm_yaml_check_keys(y, map, sections, err);
    return rc ? rc : apply_sections(cfg, y, map, false, err);
}

/* Applies a data-file entry after its `inherit` parent; why: variants (lambda-2021, a GPU
 * server) restate only what differs. depth bounds inheritance cycles. */
static int apply_entry(policy_config *cfg, const fm_yaml *y, const fm_ynode *plats,
                       const char *name, int depth, fm_err *err)
{
    static const char *const allowed[] = {"profile",   "inherit",     "fn",    "inst",
                                          "limit",     "queue",       "batch", "scale",
                                          "histogram", "greedy_dual", NULL};
    const fm_ynode *e = fm_ynode_get(plats, name);
    if (!e)
        return fm_err_set(err, FM_ENOTFOUND, "%s: unknown platform '%s'", fm_yaml_name(y), name);
    if (depth > 4)
        return fm_yaml_error(y, e, err, FM_EPARSE, "platform '%s': inherit chain too deep", name);
    int rc = fm_yaml_check_keys(y, e, allowed, err);
    const char *prof = NULL, *parent = NULL;
    if (rc || (rc = fm_yaml_get_str(y, e, "profile", true, &prof, err)) ||
        (rc = fm_yaml_get_str(y, e, "inherit", false, &parent, err)))
        return rc;
    policy_profile p;
    if (policy_profile_parse(prof, &p) != 0 || p != cfg->profile)
        return fm_yaml_error(y, fm_ynode_get(e, "profile"), err, FM_EINVAL,
                             "platform '%s' has profile '%s', not '%s'", name, prof,
                             policy_profile_name(cfg->profile));
    if (parent && (rc = apply_entry(cfg, y, plats, parent, depth + 1, err)))
        return rc;
    return apply_sections(cfg, y, e, true, err);
}

/* Why: every number describing a real cloud comes from the data file, with its source. */
int policy_config_defaults(policy_config *cfg, policy_profile profile, const char *path,
                           const char *entry, fm_err *err)
{
    if ((unsigned)profile >= POLICY_PROFILE__COUNT)
        return fm_err_set(err, FM_EINVAL, "unknown policy profile %d", (int)profile);
    char found[4096];
    if (!path)
        path = getenv("FAASML_PLATFORMS");
    if (!path)
        path = fm_data_file("platforms.yaml", found, sizeof found);
    if (!path)
        path = "data/platforms.yaml";
    policy_config_init(cfg, profile);
    fm_yaml *y = NULL;
    int rc = fm_yaml_load_file(path, &y, err);
    if (rc)
        return rc;
    static const char *const top[] = {"format", "defaults", "platforms", NULL};
    const fm_ynode *root = fm_yaml_root(y);
    const fm_ynode *plats = root ? fm_ynode_get(root, "platforms") : NULL;
    if (!root || fm_ynode_kind_of(root) != FM_YAML_MAP || !plats) {
        rc = fm_err_set(err, FM_EPARSE, "%s: expected a map with 'platforms'", path);
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, top, err)))
        goto out;
    if (!entry) {
        const fm_ynode *defs = fm_ynode_get(root, "defaults");
        if (!defs ||
            (rc = fm_yaml_get_str(y, defs, policy_profile_name(profile), true, &entry, err))) {
            if (!rc)
                rc = fm_err_set(err, FM_EPARSE, "%s: no 'defaults' map", path);
            goto out;
        }
    }
    if ((rc = apply_entry(cfg, y, plats, entry, 0, err)))
        goto out;
    snprintf(cfg->platform, sizeof(cfg->platform), "%s", entry);
    rc = policy_config_validate(cfg, err);
out:
    fm_yaml_free(y);
    return rc;
}

/* Checks what the key table's ranges cannot see: cross-field rules and per-profile rules; why:
 * a bad config is refused at deploy with a message naming the field, never mid-run. */
int policy_config_validate(const policy_config *c, fm_err *err)
{
    if ((unsigned)c->profile >= POLICY_PROFILE__COUNT)
        return fm_err_set(err, FM_EINVAL, "unknown policy profile %d", (int)c->profile);
    const char *p = policy_profile_name(c->profile);
    bool lambda_like = c->profile == POLICY_PROFILE_LAMBDA || c->profile == POLICY_PROFILE_GCF;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return fm_err_set(err, FM_EINVAL, __VA_ARGS__);                                        \
    } while (0)
    CHECK(c->inst.max >= 1 && c->inst.max <= 1000000, "policy '%s': inst.max must be 1..1000000",
          p);
    CHECK(c->inst.workers >= 1 && c->inst.workers <= PI_MAX_WORKERS,
          "policy '%s': inst.workers must be 1..%d", p, PI_MAX_WORKERS);
    CHECK(!lambda_like || c->inst.workers == 1, "policy '%s': inst.workers must be 1", p);
    CHECK(c->inst.provisioned >= 0 && c->inst.provisioned <= c->inst.max,
          "policy '%s': inst.provisioned must be 0..inst.max", p);
    CHECK(lambda_like || c->inst.provisioned == 0,
          "policy '%s': inst.provisioned applies to lambda and gcf only (use inst.min)", p);
    CHECK(c->inst.min >= 0 && c->inst.min <= c->inst.max,
          "policy '%s': inst.min must be 0..inst.max", p);
    CHECK(lambda_like || c->inst.min >= 1, "policy '%s': inst.min must be >= 1", p);
    CHECK(!lambda_like || c->inst.min == 0,
          "policy '%s': inst.min applies to managed and server (use inst.provisioned)", p);
    CHECK(c->profile != POLICY_PROFILE_SERVER || c->inst.max >= c->inst.min,
          "policy '%s': inst.max must be >= inst.min", p);
    CHECK(c->inst.keep_alive_ns >= 0 && c->inst.provision_delay_ns >= 0 && c->inst.retry_ns > 0,
          "policy '%s': keep_alive and provision_delay must be >= 0, retry > 0", p);
    CHECK((unsigned)c->inst.cold_wait < POLICY_COLD_WAIT__COUNT, "policy '%s': bad cold_wait", p);
    CHECK(c->inst.overprovision >= 0 && c->inst.overprovision <= 100,
          "policy '%s': inst.overprovision must be 0..100", p);
    CHECK(c->queue.capacity >= 1 && c->queue.capacity <= 10000000,
          "policy '%s': queue.capacity must be 1..10000000", p);
    CHECK(c->batch.max_size >= 1 && c->batch.max_size <= 4096,
          "policy '%s': batch.max_size must be 1..4096", p);
    CHECK(c->batch.max_delay_ns >= 0, "policy '%s': batch.max_delay must be >= 0", p);
    CHECK(c->limit.reserved >= 0 && c->limit.account >= 0,
          "policy '%s': limit.reserved and limit.account must be >= 0", p);
    CHECK((unsigned)c->limit.scaling < POLICY_SCALING__COUNT, "policy '%s': bad limit.scaling", p);
    CHECK(
        c->limit.scaling == POLICY_SCALING_NONE ||
            (c->limit.rate.burst >= 1 && c->limit.rate.refill >= 0 && c->limit.rate.period_ns > 0),
        "policy '%s': limit.scaling '%s' needs rate_burst >= 1, rate_refill >= 0, rate_period > 0",
        p, policy_scaling_name(c->limit.scaling));
    CHECK(c->fn.memory_mb == 0 || !lambda_like ||
              (c->fn.memory_mb >= 128 && c->fn.memory_mb <= 10240),
          "policy '%s': fn.memory_mb must be 128..10240", p);
    CHECK((unsigned)c->inst.keep_alive_policy < POLICY_KEEP_ALIVE__COUNT,
          "policy '%s': bad inst.keep_alive_policy", p);
    CHECK(lambda_like || c->inst.keep_alive_policy == POLICY_KEEP_ALIVE_FIXED,
          "policy '%s': inst.keep_alive_policy applies to lambda and gcf only", p);
    if (c->inst.keep_alive_policy == POLICY_KEEP_ALIVE_HISTOGRAM) {
        CHECK(c->histogram.bin_ns > 0 && c->histogram.range_ns >= c->histogram.bin_ns &&
                  c->histogram.range_ns / c->histogram.bin_ns <= 100000,
              "policy '%s': keep-alive 'histogram' needs histogram.bin > 0 and histogram.range "
              "of 1..100000 bins",
              p);
        CHECK(c->histogram.head_pct >= 0 && c->histogram.head_pct <= c->histogram.tail_pct &&
                  c->histogram.tail_pct <= 100,
              "policy '%s': histogram.head_pct must be <= histogram.tail_pct, both 0..100", p);
        CHECK(c->histogram.margin >= 0 && c->histogram.margin < 1 &&
                  c->histogram.forecast_margin >= 0 && c->histogram.forecast_margin < 1,
              "policy '%s': histogram.margin and forecast_margin must be in [0, 1)", p);
        CHECK(c->histogram.cv_min >= 0 && c->histogram.oob_max > 0 && c->histogram.oob_max <= 1,
              "policy '%s': histogram.cv_min must be >= 0 and oob_max in (0, 1]", p);
    }
    if (c->inst.keep_alive_policy == POLICY_KEEP_ALIVE_GREEDY_DUAL)
        CHECK(c->greedy_dual.budget_mb >= 1 && c->fn.memory_mb >= 1,
              "policy '%s': keep-alive 'greedy-dual' needs greedy_dual.budget_mb >= 1 and "
              "fn.memory_mb >= 1",
              p);
    if (c->profile == POLICY_PROFILE_MANAGED) {
        CHECK(c->scale.period_ns > 0, "policy 'managed': scale.period must be > 0");
        CHECK(c->scale.target_per_min >= 0, "policy 'managed': scale.target_per_min must be >= 0");
        CHECK(c->scale.out_datapoints >= 1 && c->scale.in_datapoints >= 1,
              "policy 'managed': scale.out_datapoints and in_datapoints must be >= 1");
        CHECK(c->scale.in_ratio > 0 && c->scale.in_ratio <= 1,
              "policy 'managed': scale.in_ratio must be in (0, 1]");
        CHECK(c->scale.out_cooldown_ns >= 0 && c->scale.in_cooldown_ns >= 0,
              "policy 'managed': cooldowns must be >= 0");
    }
#undef CHECK
    return 0;
}
