/* The price catalogue: loading data/prices.yaml into offers, checking that every price names its
 * source, date and status. Errors name file:line:col. */
#include "cost.h"

#include <stdlib.h>
#include <string.h>

struct cost_catalog {
    fm_yaml *y; /* owns every string the offers point at */
    char *path;
    cost_snapshot *snaps;
    size_t n_snaps;
    cost_offer *offers;
    size_t n_offers;
};

static const char *const profile_names[COST__PROFILES] = {"lambda", "gcf", "managed", "server"};

static const struct {
    const char *key, *unit;
} items[COST__ITEMS] = {
    [COST_GB_S] = {"gb_s", "GB-s"},
    [COST_REQUEST] = {"request", "requests"},
    [COST_PC_GB_S] = {"pc_gb_s", "GB-s"},
    [COST_PC_DURATION_GB_S] = {"pc_duration_gb_s", "GB-s"},
    [COST_GHZ_S] = {"ghz_s", "GHz-s"},
    [COST_INSTANCE_HOUR] = {"instance_hour", "instance-hours"},
    [COST_ACCEL_HOUR] = {"accelerator_hour", "GPU-hours"},
};

/* Which items each profile may price: a price for another item is a mistake in the file. */
static const bool allowed_items[COST__PROFILES][COST__ITEMS] = {
    [COST_LAMBDA] =
        {[COST_GB_S] = 1, [COST_REQUEST] = 1, [COST_PC_GB_S] = 1, [COST_PC_DURATION_GB_S] = 1},
    [COST_GCF] = {[COST_GB_S] = 1, [COST_REQUEST] = 1, [COST_GHZ_S] = 1},
    [COST_MANAGED] = {[COST_INSTANCE_HOUR] = 1, [COST_ACCEL_HOUR] = 1},
    [COST_SERVER] = {[COST_INSTANCE_HOUR] = 1, [COST_ACCEL_HOUR] = 1},
};

const char *cost_profile_name(cost_profile p)
{
    return p < COST__PROFILES ? profile_names[p] : "?";
}

int cost_profile_parse(const char *s, cost_profile *out)
{
    for (int i = 0; s && i < COST__PROFILES; i++)
        if (strcmp(s, profile_names[i]) == 0) {
            *out = (cost_profile)i;
            return 0;
        }
    return FM_EINVAL;
}

const char *cost_item_key(cost_item i)
{
    return i < COST__ITEMS ? items[i].key : "?";
}
const char *cost_item_unit(cost_item i)
{
    return i < COST__ITEMS ? items[i].unit : "?";
}

/* Why: a price without its provenance cannot be trusted or updated, so source, date and status
 * are required on every one; the status must be one of the reference's markers. */
static int load_provenance(const fm_yaml *y, const fm_ynode *m, cost_price *p, fm_err *err)
{
    if (fm_yaml_get_str(y, m, "source", true, &p->source, err) ||
        fm_yaml_get_str(y, m, "date", true, &p->date, err) ||
        fm_yaml_get_str(y, m, "status", true, &p->status, err))
        return err->code;
    fm_provenance st;
    if (fm_provenance_parse(p->status, &st) == 0)
        return 0;
    return fm_yaml_error(y, fm_ynode_get(m, "status"), err, FM_EINVAL, "unknown status '%s' (%s)",
                         p->status, fm_provenance_words());
}

static int load_price(const fm_yaml *y, const fm_ynode *m, cost_price *p, fm_err *err)
{
    static const char *const keys[] = {"usd", "status", "date", "source", "note", NULL};
    if (fm_ynode_kind_of(m) != FM_YAML_MAP)
        return fm_yaml_error(y, m, err, FM_EINVAL,
                             "a price must be a map {usd, status, date, source}");
    if (fm_yaml_check_keys(y, m, keys, err) ||
        fm_yaml_get_double(y, m, "usd", true, 0, 1e6, &p->usd, err))
        return err->code;
    p->set = true;
    return load_provenance(y, m, p, err);
}

static int load_tiers(const fm_yaml *y, const fm_ynode *m, cost_offer *o, fm_err *err)
{
    static const char *const keys[] = {"status", "date", "source", "ghz", NULL};
    if (fm_ynode_kind_of(m) != FM_YAML_MAP)
        return fm_yaml_error(y, m, err, FM_EINVAL, "'tiers' must be a map");
    if (fm_yaml_check_keys(y, m, keys, err) || load_provenance(y, m, &o->tiers, err))
        return err->code;
    const fm_ynode *g = fm_ynode_get(m, "ghz");
    if (!g || fm_ynode_kind_of(g) != FM_YAML_MAP || fm_ynode_len(g) == 0)
        return fm_yaml_error(y, g ? g : m, err, FM_EINVAL,
                             "'ghz' must map memory MB to GHz, e.g. {128: 0.2}");
    if (fm_ynode_len(g) > COST_MAX_TIERS)
        return fm_yaml_error(y, g, err, FM_ELIMIT, "at most %d tiers", COST_MAX_TIERS);
    for (size_t i = 0; i < fm_ynode_len(g); i++) {
        const fm_ynode *k = fm_ynode_key(g, i), *v = fm_ynode_value(g, i);
        int64_t mb;
        double ghz;
        if (fm_parse_i64(fm_ynode_str(k), &mb) || mb < 1 || mb > 1 << 20)
            return fm_yaml_error(y, k, err, FM_EINVAL, "tier key must be a memory size in MB");
        if (fm_parse_double(fm_ynode_str(v), &ghz) || ghz <= 0 || ghz > 100)
            return fm_yaml_error(y, v, err, FM_EINVAL, "tier value must be GHz in (0, 100]");
        if (i && mb <= o->tier_mb[i - 1])
            return fm_yaml_error(y, k, err, FM_EINVAL, "tiers must be in increasing memory order");
        o->tier_mb[i] = (int)mb;
        o->tier_ghz[i] = ghz;
    }
    o->n_tiers = (int)fm_ynode_len(g);
    return 0;
}

static int load_offer(cost_catalog *c, const fm_ynode *m, cost_offer *o, fm_err *err)
{
    static const char *const keys[] = {"id",
                                       "snapshot",
                                       "profile",
                                       "name",
                                       "arch",
                                       "instance_type",
                                       "gpus",
                                       "granularity_ms",
                                       "bills_init",
                                       "pc_granularity_s",
                                       "granularity_s",
                                       "min_billed_s",
                                       "source",
                                       "date",
                                       "prices",
                                       "tiers",
                                       "note",
                                       NULL};
    const fm_yaml *y = c->y;
    const char *profile = NULL;
    int64_t gpus = 0;
    if (fm_ynode_kind_of(m) != FM_YAML_MAP)
        return fm_yaml_error(y, m, err, FM_EINVAL, "an offer must be a map");
    if (fm_yaml_check_keys(y, m, keys, err) || fm_yaml_get_str(y, m, "id", true, &o->id, err) ||
        fm_yaml_get_str(y, m, "snapshot", true, &o->snapshot, err) ||
        fm_yaml_get_str(y, m, "profile", true, &profile, err) ||
        fm_yaml_get_str(y, m, "name", true, &o->name, err) ||
        fm_yaml_get_str(y, m, "arch", false, &o->arch, err) ||
        fm_yaml_get_str(y, m, "instance_type", false, &o->instance_type, err) ||
        fm_yaml_get_int(y, m, "gpus", false, 0, 64, &gpus, err) ||
        fm_yaml_get_double(y, m, "granularity_ms", false, 0.001, 3.6e6, &o->granularity_ms, err) ||
        fm_yaml_get_double(y, m, "pc_granularity_s", false, 0, 86400, &o->pc_granularity_s, err) ||
        fm_yaml_get_bool(y, m, "bills_init", false, &o->bills_init, err) ||
        fm_yaml_get_double(y, m, "granularity_s", false, 0.001, 86400, &o->granularity_s, err) ||
        fm_yaml_get_double(y, m, "min_billed_s", false, 0, 86400, &o->min_billed_s, err) ||
        fm_yaml_get_str(y, m, "source", true, &o->source, err) ||
        fm_yaml_get_str(y, m, "date", true, &o->date, err))
        return err->code;
    o->gpus = (int)gpus;
    if (cost_profile_parse(profile, &o->profile))
        return fm_yaml_error(y, fm_ynode_get(m, "profile"), err, FM_EINVAL,
                             "unknown profile '%s' (lambda, gcf, managed, server)", profile);
    if (!cost_catalog_snapshot(c, o->snapshot))
        return fm_yaml_error(y, fm_ynode_get(m, "snapshot"), err, FM_EINVAL,
                             "offer '%s': unknown snapshot '%s'", o->id, o->snapshot);
    bool per_inv = o->profile == COST_LAMBDA || o->profile == COST_GCF;
    if (per_inv && o->granularity_ms <= 0)
        return fm_yaml_error(y, m, err, FM_EINVAL, "offer '%s': missing 'granularity_ms'", o->id);
    if (!per_inv && o->granularity_s <= 0)
        o->granularity_s = 1;
    if (!per_inv && !o->instance_type)
        return fm_yaml_error(y, m, err, FM_EINVAL, "offer '%s': missing 'instance_type'", o->id);
    const fm_ynode *prices = fm_ynode_get(m, "prices");
    if (!prices || fm_ynode_kind_of(prices) != FM_YAML_MAP)
        return fm_yaml_error(y, prices ? prices : m, err, FM_EINVAL,
                             "offer '%s': 'prices' must be a map", o->id);
    for (size_t i = 0; i < fm_ynode_len(prices); i++) {
        const char *key = fm_ynode_str(fm_ynode_key(prices, i));
        int it = 0;
        while (it < COST__ITEMS && strcmp(items[it].key, key ? key : ""))
            it++;
        if (it == COST__ITEMS || !allowed_items[o->profile][it])
            return fm_yaml_error(y, fm_ynode_key(prices, i), err, FM_EINVAL,
                                 "offer '%s': item '%s' is not priced on profile %s", o->id,
                                 key ? key : "?", profile);
        if (load_price(y, fm_ynode_value(prices, i), &o->price[it], err))
            return err->code;
    }
    const fm_ynode *tiers = fm_ynode_get(m, "tiers");
    if (tiers && o->profile != COST_GCF)
        return fm_yaml_error(y, tiers, err, FM_EINVAL, "offer '%s': 'tiers' is for gcf only",
                             o->id);
    if (tiers && load_tiers(y, tiers, o, err))
        return err->code;
    if (cost_offer_find(c, o->snapshot, o->id))
        return fm_yaml_error(y, m, err, FM_EEXISTS, "offer '%s' appears twice in snapshot '%s'",
                             o->id, o->snapshot);
    return 0;
}

static int load_snapshots(cost_catalog *c, const fm_ynode *seq, fm_err *err)
{
    static const char *const keys[] = {"name", "date", "note", NULL};
    const fm_yaml *y = c->y;
    size_t n = fm_ynode_len(seq);
    if (fm_ynode_kind_of(seq) != FM_YAML_SEQ || n == 0)
        return fm_yaml_error(y, seq, err, FM_EINVAL, "'snapshots' must be a non-empty list");
    if (!(c->snaps = calloc(n, sizeof *c->snaps)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const fm_ynode *m = fm_ynode_item(seq, i);
        cost_snapshot *s = &c->snaps[i];
        if (fm_ynode_kind_of(m) != FM_YAML_MAP)
            return fm_yaml_error(y, m, err, FM_EINVAL, "a snapshot must be a map");
        if (fm_yaml_check_keys(y, m, keys, err) ||
            fm_yaml_get_str(y, m, "name", true, &s->name, err) ||
            fm_yaml_get_str(y, m, "date", true, &s->date, err) ||
            fm_yaml_get_str(y, m, "note", false, &s->note, err))
            return err->code;
        if (cost_catalog_snapshot(c, s->name))
            return fm_yaml_error(y, m, err, FM_EEXISTS, "snapshot '%s' appears twice", s->name);
        c->n_snaps = i + 1;
    }
    return 0;
}

static int load_root(cost_catalog *c, fm_err *err)
{
    static const char *const keys[] = {"format", "currency", "snapshots", "offers", NULL};
    const fm_yaml *y = c->y;
    const fm_ynode *root = fm_yaml_root(y);
    int64_t format = 0;
    const char *currency = NULL;
    if (!root || fm_ynode_kind_of(root) != FM_YAML_MAP)
        return fm_err_set(err, FM_EINVAL, "%s: a price catalogue must be a map", c->path);
    if (fm_yaml_check_keys(y, root, keys, err) ||
        fm_yaml_get_int(y, root, "format", true, 1, 1, &format, err) ||
        fm_yaml_get_str(y, root, "currency", true, &currency, err))
        return err->code;
    if (strcmp(currency, "USD"))
        return fm_yaml_error(y, fm_ynode_get(root, "currency"), err, FM_EUNSUPPORTED,
                             "currency '%s' is not supported (USD)", currency);
    const fm_ynode *snaps = fm_ynode_get(root, "snapshots"), *offers = fm_ynode_get(root, "offers");
    if (!snaps || !offers)
        return fm_yaml_error(y, root, err, FM_EINVAL, "missing '%s'",
                             snaps ? "offers" : "snapshots");
    if (load_snapshots(c, snaps, err))
        return err->code;
    if (fm_ynode_kind_of(offers) != FM_YAML_SEQ)
        return fm_yaml_error(y, offers, err, FM_EINVAL, "'offers' must be a list");
    size_t n = fm_ynode_len(offers);
    if (!(c->offers = calloc(n ? n : 1, sizeof *c->offers)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (load_offer(c, fm_ynode_item(offers, i), &c->offers[i], err))
            return err->code;
        c->n_offers = i + 1;
    }
    return 0;
}

int cost_catalog_load_buf(const char *buf, size_t len, const char *name, cost_catalog **out,
                          fm_err *err)
{
    *out = NULL;
    cost_catalog *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(name))) {
        free(c);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int rc = fm_yaml_load_buf(buf, len, name, &c->y, err);
    if (!rc)
        rc = load_root(c, err);
    if (rc) {
        cost_catalog_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cost_catalog_load(const char *path, cost_catalog **out, fm_err *err)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return fm_err_prefix(err, "cannot load price catalogue '%s': ", path);
    rc = cost_catalog_load_buf(buf, len, path, out, err);
    free(buf);
    return rc;
}

void cost_catalog_free(cost_catalog *c)
{
    if (!c)
        return;
    fm_yaml_free(c->y);
    free(c->snaps);
    free(c->offers);
    free(c->path);
    free(c);
}

const char *cost_catalog_path(const cost_catalog *c)
{
    return c->path;
}

size_t cost_catalog_snapshots(const cost_catalog *c, const cost_snapshot **out)
{
    *out = c->snaps;
    return c->n_snaps;
}

const cost_snapshot *cost_catalog_snapshot(const cost_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n_snaps; i++)
        if (strcmp(c->snaps[i].name, name) == 0)
            return &c->snaps[i];
    return NULL;
}

size_t cost_catalog_offers(const cost_catalog *c, const cost_offer **out)
{
    *out = c->offers;
    return c->n_offers;
}

const cost_offer *cost_offer_find(const cost_catalog *c, const char *snapshot, const char *id)
{
    for (size_t i = 0; i < c->n_offers; i++)
        if (strcmp(c->offers[i].id, id) == 0 && strcmp(c->offers[i].snapshot, snapshot) == 0)
            return &c->offers[i];
    return NULL;
}
