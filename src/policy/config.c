/*
 * config.c — policy_config: neutral init, defaults from data/platforms.yaml (every cloud number
 * with its source), overrides from a function spec, and validation. One key table (core's fm_key:
 * a table per section, each key with its field, range and doc) drives the data file, the spec
 * overrides and the key table of docs/policies.md, so a key means the same thing everywhere.
 */
#include "policy/policy_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a key's parser needs beyond the key: the section it sits in (messages name "inst.max") and
 * whether a value must say where it comes from (the data file). */
typedef struct key_ctx {
    const char *sec;
    bool sourced;
} key_ctx;

typedef enum key_type {
    K_I32,
    K_I64,
    K_DUR,
    K_DBL,
    K_BOOL,
    K_STR,
    K_COLD,
    K_SCALING,
    K_KEEP
} key_type;

static const char *const sourced_keys[] = {"value", "status", "date", "source", NULL};
static const char *const cold_names[] = {"bind", "first_free", NULL};
_Static_assert(FM_ARRAY_LEN(cold_names) == POLICY_COLD_WAIT__COUNT + 1, "cold_wait names");
static const char *const keep_names[] = {
#define POLICY_XX(name, str) str,
    POLICY_KEEP_ALIVE_MAP(POLICY_XX)
#undef POLICY_XX
        NULL};
static const char *const scaling_names[] = {
#define POLICY_XX(name, str) str,
    POLICY_SCALING_MAP(POLICY_XX)
#undef POLICY_XX
        NULL};

/* Parses one scalar into its field; why: the data file and spec overrides share the table. */
static int set_field(policy_config *cfg, const fm_key *k, key_type t, const char *sec,
                     const fm_yaml *y, const fm_ynode *n, fm_err *err)
{
    const char *s = fm_ynode_str(n);
    char *p = (char *)cfg + k->off;
    if (!s)
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s' must be a scalar", sec, k->name);
    int64_t i;
    double d;
    switch (t) {
    case K_I32:
    case K_I64:
    case K_DUR:
        if (t == K_DUR ? fm_parse_duration_ns(s, &i) != 0 : fm_parse_i64(s, &i) != 0)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': invalid %s '%s'", sec, k->name,
                                 t == K_DUR ? "duration" : "integer", s);
        if ((double)i < k->min || (double)i > k->max)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': %s is out of range", sec, k->name,
                                 s);
        if (t == K_I32) {
            int32_t v = (int32_t)i;
            memcpy(p, &v, sizeof(v));
        } else {
            memcpy(p, &i, sizeof(int64_t));
        }
        return 0;
    case K_DBL:
        if (fm_parse_double(s, &d) != 0 || d < k->min || d > k->max)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': invalid value '%s'", sec, k->name,
                                 s);
        memcpy(p, &d, sizeof(d));
        return 0;
    case K_BOOL: {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': expected true or false, got '%s'",
                                 sec, k->name, s);
        bool b = s[0] == 't';
        memcpy(p, &b, sizeof(b));
        return 0;
    }
    case K_STR:
        if (strlen(s) >= k->cap)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s.%s': '%s' is too long", sec, k->name,
                                 s);
        snprintf(p, k->cap, "%s", s);
        return 0;
    case K_COLD:
    case K_SCALING:
    case K_KEEP: {
        /* an enum: the index of its name, so the names are the enum's own X-macro strings */
        char list[128] = "";
        for (int v = 0; k->names[v]; v++) {
            if (strcmp(s, k->names[v]) == 0) {
                memcpy(p, &v, sizeof(v)); /* every policy enum is an int-sized enum */
                return 0;
            }
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", v ? ", " : "", k->names[v]);
        }
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': unknown value '%s' (%s)", sec, k->name,
                             s, list);
    }
    }
    return FM_EINTERNAL;
}

/* Applies one value node: a bare scalar, or {value, status, date, source}; why: the data file
 * must say where each number comes from (sourced), a spec override need not. */
static int apply_value(const fm_key *k, key_type t, const fm_yaml *y, const fm_ynode *n, void *obj,
                       void *ctx, fm_err *err)
{
    const key_ctx *c = ctx;
    if (fm_ynode_kind_of(n) == FM_YAML_MAP) {
        int rc = fm_yaml_check_keys(y, n, sourced_keys, err);
        if (rc)
            return rc;
        const fm_ynode *v = fm_ynode_get(n, "value");
        if (!v)
            return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': missing 'value'", c->sec, k->name);
        if (c->sourced) {
            const char *st = NULL, *src = NULL, *date = NULL;
            if ((rc = fm_yaml_get_str(y, n, "status", true, &st, err)) ||
                (rc = fm_yaml_get_str(y, n, "source", true, &src, err)) ||
                (rc = fm_yaml_get_str(y, n, "date", true, &date, err)))
                return rc;
            fm_provenance pv;
            if (fm_provenance_parse(st, &pv))
                return fm_yaml_error(y, n, err, FM_EPARSE, "'%s.%s': unknown status '%s' (%s)",
                                     c->sec, k->name, st, fm_provenance_words());
        }
        return set_field(obj, k, t, c->sec, y, v, err);
    }
    if (c->sourced)
        return fm_yaml_error(y, n, err, FM_EPARSE,
                             "'%s.%s' needs {value, status, date, source} in the data file", c->sec,
                             k->name);
    return set_field(obj, k, t, c->sec, y, n, err);
}

/* One fm_key parser per field type (the table's rows carry no type tag of their own). */
#define PARSER(fname, t)                                                                           \
    static int fname(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,   \
                     fm_err *err)                                                                  \
    {                                                                                              \
        return apply_value(k, t, y, n, obj, ctx, err);                                             \
    }
PARSER(parse_i32, K_I32)
PARSER(parse_i64, K_I64)
PARSER(parse_dur, K_DUR)
PARSER(parse_dbl, K_DBL)
PARSER(parse_bool, K_BOOL)
PARSER(parse_str, K_STR)
PARSER(parse_cold, K_COLD)
PARSER(parse_scaling, K_SCALING)
PARSER(parse_keep, K_KEEP)
#undef PARSER

#define F(field) offsetof(policy_config, field)
#define KEY(name_, p, td, field, lo, hi, doc_)                                                     \
    {                                                                                              \
        .name = name_, .type = FM_KEY_CUSTOM, .off = F(field), .min = lo, .max = hi, .parse = p,   \
        .type_doc = td, .doc = doc_                                                                \
    }
#define I32(n, f, lo, hi, d) KEY(n, parse_i32, "integer", f, lo, hi, d)
#define I64(n, f, lo, hi, d) KEY(n, parse_i64, "integer", f, lo, hi, d)
#define DBL(n, f, lo, hi, d) KEY(n, parse_dbl, "number", f, lo, hi, d)
/* durations: ranges in ns; the longest configured duration is about a year, so time + duration
 * sums in the policy and the simulator stay far below INT64_MAX (292 years) */
#define DMAX 3.2e16
#define DUR(n, f, lo, d) KEY(n, parse_dur, "duration", f, lo, DMAX, d)
#define ENUM(n, p, f, names_, d)                                                                   \
    {                                                                                              \
        .name = n, .type = FM_KEY_CUSTOM, .off = F(f), .names = names_, .parse = p,                \
        .type_doc = "string", .doc = d                                                             \
    }

static const fm_key fn_keys[] = {
    I32("memory_mb", fn.memory_mb, 0, 10240, "memory size (128–10240 for lambda); all profiles"),
    DUR("timeout", fn.timeout_ns, 0, "enforced by the caller (it reports STOPPED); all"),
};
static const fm_key inst_keys[] = {
    I32("min", inst.min, 0, 1e6, "always-on instances / fleet size; managed, server"),
    I32("max", inst.max, 1, 1e6, "instance cap (also the state's capacity); all"),
    I32("workers", inst.workers, 1, PI_MAX_WORKERS,
        "dispatches in flight per instance (1 for lambda, gcf); all"),
    I32("provisioned", inst.provisioned, 0, 1e6, "provisioned concurrency; lambda, gcf"),
    DUR("keep_alive", inst.keep_alive_ns, 0,
        "idle TTL of on-demand instances (`fixed`); lambda, gcf"),
    ENUM("keep_alive_policy", parse_keep, inst.keep_alive_policy, keep_names,
         "the keep-alive policy; lambda, gcf"),
    DUR("provision_delay", inst.provision_delay_ns, 0, "earliest serve time after START; all"),
    DUR("retry", inst.retry_ns, 0,
        "back-off before replacing after a failed start, or retrying one the host could not hold; "
        "all"),
    ENUM("cold_wait", parse_cold, inst.cold_wait, cold_names,
         "what a request that started an instance waits for; lambda, gcf"),
    DBL("overprovision", inst.overprovision, 0, 100, "extra starts per demand start; gcf"),
    {.name = "type",
     .type = FM_KEY_CUSTOM,
     .off = F(inst.type),
     .cap = sizeof(((policy_config *)0)->inst.type),
     .parse = parse_str,
     .type_doc = "string",
     .doc = "instance type name (informational); managed, server"},
    DBL("type_vcpu", inst.type_vcpu, 0, 1e4, "vCPUs of the instance type (informational)"),
    I32("type_memory_mb", inst.type_memory_mb, 0, 1e8,
        "memory of the instance type; counts against the host when fn.memory_mb is 0"),
};
static const fm_key limit_keys[] = {
    I32("reserved", limit.reserved, 0, 1e7, "reserved concurrency; lambda, gcf"),
    I32("account", limit.account, 0, 1e7, "account concurrency limit; lambda, gcf"),
    ENUM("scaling", parse_scaling, limit.scaling, scaling_names, "scaling-rate rule; lambda, gcf"),
    I64("rate_burst", limit.rate.burst, 0, 1e9, "starts available at once; lambda, gcf"),
    I64("rate_refill", limit.rate.refill, 0, 1e9, "starts added per rate_period; lambda, gcf"),
    DUR("rate_period", limit.rate.period_ns, 0, "the refill period; lambda, gcf"),
    KEY("rate_continuous", parse_bool, "boolean", limit.rate.continuous, 0, 0,
        "refill pro rata (2023) instead of in steps (2021); lambda, gcf"),
};
static const fm_key queue_keys[] = {
    I32("capacity", queue.capacity, 1, 1e7, "requests waiting; past it 503; all"),
};
static const fm_key batch_keys[] = {
    I32("max_size", batch.max_size, 1, 4096, "items per dispatch (1: no batching); all"),
    DUR("max_delay", batch.max_delay_ns, 0, "release a partial batch after this wait; all"),
};
static const fm_key scale_keys[] = {
    DBL("target_per_min", scale.target_per_min, 0, 1e12,
        "target invocations per instance per minute; managed"),
    DUR("period", scale.period_ns, 1e9, "metric period (>= 1 s); managed"),
    I32("out_datapoints", scale.out_datapoints, 1, 1e6, "periods above target before scale-out"),
    I32("in_datapoints", scale.in_datapoints, 1, 1e6, "periods below in_ratio before scale-in"),
    DBL("in_ratio", scale.in_ratio, 0, 1, "low-alarm threshold as a fraction of the target"),
    DUR("out_cooldown", scale.out_cooldown_ns, 0, "no scale-out this long after one"),
    DUR("in_cooldown", scale.in_cooldown_ns, 0, "no scale-in this long after a scaling"),
};
static const fm_key histogram_keys[] = {
    DUR("bin", histogram.bin_ns, 1e6, "width of one idle-time bin (>= 1 ms)"),
    DUR("range", histogram.range_ns, 1e6, "idle times the histogram covers"),
    DBL("head_pct", histogram.head_pct, 0, 100, "percentile pre-warming aims at"),
    DBL("tail_pct", histogram.tail_pct, 0, 100, "percentile the instance is kept until"),
    DBL("margin", histogram.margin, 0, 0.99, "pre-warm earlier, keep longer by this share"),
    DBL("cv_min", histogram.cv_min, 0, 1e6, "below this CV the histogram is not used"),
    DBL("oob_max", histogram.oob_max, 0, 1, "out-of-bounds share from which to forecast"),
    DBL("forecast_margin", histogram.forecast_margin, 0, 0.99, "margin around a forecast"),
};
static const fm_key greedy_dual_keys[] = {
    I32("budget_mb", greedy_dual.budget_mb, 0, 1e9, "memory the pool's live instances may hold"),
    DUR("cold_cost", greedy_dual.cold_cost_ns, 0, "cold-start cost until one is measured"),
};
#undef ENUM
#undef DUR
#undef DBL
#undef I64
#undef I32
#undef KEY
#undef F

#define SECTION(n, t, d)                                                                           \
    {                                                                                              \
        .name = n, .type = FM_KEY_TABLE, .sub = t, .nsub = FM_ARRAY_LEN(t), .doc = d               \
    }
/* The sections in the order they are applied (a section may read what an earlier one set). */
static const fm_key sections[] = {
    SECTION("fn", fn_keys, "the function"),
    SECTION("inst", inst_keys, "instances"),
    SECTION("limit", limit_keys, "concurrency and scaling limits"),
    SECTION("queue", queue_keys, "the request queue"),
    SECTION("batch", batch_keys, "dynamic batching"),
    SECTION("scale", scale_keys, "managed target tracking"),
    SECTION("histogram", histogram_keys, "the hybrid-histogram keep-alive"),
    SECTION("greedy_dual", greedy_dual_keys, "the greedy-dual keep-alive"),
};
#undef SECTION

size_t policy_config_keys_markdown(char *buf, size_t cap)
{
    return fm_keys_markdown(sections, FM_ARRAY_LEN(sections), buf, cap);
}

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

/* Checks a map's keys against the sections (and `extra`, names the caller reads itself); why:
 * an unknown key is named before anything is applied. */
static int check_top(const fm_yaml *y, const fm_ynode *map, const char *const *extra, fm_err *err)
{
    for (size_t i = 0; i < fm_ynode_len(map); i++) {
        const fm_ynode *kn = fm_ynode_key(map, i);
        const char *name = fm_ynode_str(kn);
        if (!name)
            return fm_yaml_error(y, kn, err, FM_EPARSE, "keys must be plain scalars");
        bool ok = fm_keys_find(sections, FM_ARRAY_LEN(sections), name) != NULL;
        for (const char *const *e = extra; e && *e && !ok; e++)
            ok = strcmp(*e, name) == 0;
        if (!ok)
            return fm_yaml_error(y, kn, err, FM_EPARSE, "unknown key '%s'", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(fm_ynode_str(fm_ynode_key(map, j)), name) == 0)
                return fm_yaml_error(y, kn, err, FM_EPARSE, "duplicate key '%s'", name);
    }
    return 0;
}

/* Applies the sections of one map through the key tables; why: shared by data-file entries and
 * spec overrides. A section's unknown key is named with its section ("inst.keep_alvie"). */
static int apply_sections(policy_config *cfg, const fm_yaml *y, const fm_ynode *map, bool sourced,
                          fm_err *err)
{
    for (size_t s = 0; s < FM_ARRAY_LEN(sections); s++) {
        const fm_key *sk = &sections[s];
        const fm_ynode *sec = fm_ynode_get(map, sk->name);
        if (!sec)
            continue;
        if (fm_ynode_kind_of(sec) != FM_YAML_MAP)
            return fm_yaml_error(y, sec, err, FM_EPARSE, "'%s' must be a map", sk->name);
        for (size_t i = 0; i < fm_ynode_len(sec); i++) {
            const char *name = fm_ynode_str(fm_ynode_key(sec, i));
            if (name && strcmp(sk->name, "fn") == 0 &&
                (strcmp(name, "billing_granularity") == 0 || strcmp(name, "min_billed") == 0))
                return fm_yaml_error(y, fm_ynode_key(sec, i), err, FM_EPARSE,
                                     "'fn.%s' is no longer a policy key: billing rounds to the "
                                     "price catalogue's granularity_ms (granularity_s, "
                                     "min_billed_s), data/prices.yaml",
                                     name);
            if (!name || !fm_keys_find(sk->sub, sk->nsub, name))
                return fm_yaml_error(y, fm_ynode_key(sec, i), err, FM_EPARSE, "unknown key '%s.%s'",
                                     sk->name, name ? name : "?");
        }
        key_ctx ctx = {.sec = sk->name, .sourced = sourced};
        int rc = fm_keys_parse(sk->sub, sk->nsub, y, sec, cfg, &ctx, err);
        if (rc)
            return rc;
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
    int rc = check_top(y, map, NULL, err);
    return rc ? rc : apply_sections(cfg, y, map, false, err);
}

/* Applies a data-file entry after its `inherit` parent; why: variants (lambda-2021, a GPU
 * server) restate only what differs. depth bounds inheritance cycles. */
static int apply_entry(policy_config *cfg, const fm_yaml *y, const fm_ynode *plats,
                       const char *name, int depth, fm_err *err)
{
    static const char *const extra[] = {"profile", "inherit", NULL};
    const fm_ynode *e = fm_ynode_get(plats, name);
    if (!e)
        return fm_err_set(err, FM_ENOTFOUND, "%s: unknown platform '%s'", fm_yaml_name(y), name);
    if (depth > 4)
        return fm_yaml_error(y, e, err, FM_EPARSE, "platform '%s': inherit chain too deep", name);
    int rc = fm_ynode_kind_of(e) == FM_YAML_MAP
                 ? check_top(y, e, extra, err)
                 : fm_yaml_check_keys(y, e, extra, err); /* names what it found instead */
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
