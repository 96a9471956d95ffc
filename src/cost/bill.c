/* Billing formulas: recorded quantities × catalogue prices, one function per profile. */
#include "cost.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Rounds up to a multiple of g; the epsilon keeps 300.0000000001 (float noise) at 300. */
static double round_up(double v, double g)
{
    if (g <= 0)
        return v;
    return ceil(v / g - 1e-9) * g;
}

static void no_price(cost_result *r, const char *fmt, const char *a, const char *b)
{
    r->priced = false;
    snprintf(r->why, sizeof r->why, fmt, a, b);
}

/* Adds a line when its quantity is nonzero. Returns false (and says why) when the offer has no
 * price for an item the usage needs. */
static bool add_line(cost_result *r, cost_item it, double qty)
{
    const cost_offer *o = r->offer;
    if (qty <= 0)
        return true;
    if (!o->price[it].set) {
        no_price(r, "no price for %s in catalogue entry '%s'", cost_item_key(it), o->id);
        return false;
    }
    if (r->n_lines >= COST_MAX_LINES)
        return true;
    cost_line *l = &r->lines[r->n_lines++];
    l->item = it;
    l->quantity = qty;
    l->unit_price = o->price[it].usd;
    l->amount = qty * l->unit_price;
    r->total += l->amount;
    fm_provenance st;
    if (fm_provenance_parse(o->price[it].status, &st) || st == FM_PROVENANCE_UNVERIFIED ||
        st == FM_PROVENANCE_ASSUMPTION)
        r->unverified = true; /* an unverified price or a local assumption: say so */
    return true;
}

bool cost_gcf_ghz(const cost_offer *o, int memory_mb, double *ghz)
{
    for (int i = 0; i < o->n_tiers; i++)
        if (memory_mb <= o->tier_mb[i]) {
            *ghz = o->tier_ghz[i];
            return true;
        }
    return false;
}

/* The duration an invocation is billed for on this offer: the platform's own billed time when
 * the run was recorded on this offer, else the execution time (plus INIT where the offer bills
 * it) rounded up to the offer's step, times the request's share of a server-side batch. */
static double billed_ms(const cost_offer *o, const cost_invocation *v, bool own)
{
    if ((own || v->duration_ms <= 0) && v->billed_ms > 0)
        return v->billed_ms;
    if (v->duration_ms <= 0)
        return 0;
    return cost_invocation_billed_ms(o, v->duration_ms, v->init_ms, v->share);
}

double cost_invocation_billed_ms(const cost_offer *o, double duration_ms, double init_ms,
                                 double share)
{
    double ms = duration_ms + (o->bills_init && init_ms > 0 ? init_ms : 0);
    return round_up(ms, o->granularity_ms) * (share > 0 ? share : 1);
}

/* Why the same items as bill_per_invocation: a simulated invocation, a metered live one and a
 * re-priced recorded one must come to the same dollars. */
void cost_invocation_bill(const cost_offer *o, double duration_ms, double init_ms, int memory_mb,
                          bool provisioned, double share, cost_one *out)
{
    memset(out, 0, sizeof *out);
    double part = share > 0 ? share : 1;
    out->billed_ms = duration_ms > 0 ? cost_invocation_billed_ms(o, duration_ms, init_ms, part) : 0;
    double gb = memory_mb / 1024.0, s = out->billed_ms / 1000.0;
    out->gb_s = gb * s;
    const cost_price *req = &o->price[COST_REQUEST];
    out->priced = o->profile == COST_LAMBDA || o->profile == COST_GCF;
    double usd = req->set ? req->usd : 0; /* every request pays the fee, batched or not */
    if (o->profile == COST_GCF) {
        double ghz;
        if (!cost_gcf_ghz(o, memory_mb, &ghz) || !o->price[COST_GB_S].set ||
            !o->price[COST_GHZ_S].set)
            out->priced = false;
        else
            usd += out->gb_s * o->price[COST_GB_S].usd + ghz * s * o->price[COST_GHZ_S].usd;
    } else {
        const cost_price *p = &o->price[provisioned ? COST_PC_DURATION_GB_S : COST_GB_S];
        if (!p->set)
            out->priced = false;
        else
            usd += out->gb_s * p->usd;
    }
    out->usd = out->priced ? usd : 0;
}

const cost_offer *cost_offer_default(const cost_catalog *c, const char *snap, cost_profile p,
                                     const char *arch, const char *instance_type)
{
    if (p == COST_MANAGED || p == COST_SERVER) {
        if (!instance_type)
            return NULL;
        const cost_offer *all;
        size_t n = cost_catalog_offers(c, &all);
        for (size_t i = 0; i < n; i++)
            if (all[i].profile == p && strcmp(all[i].snapshot, snap) == 0 && all[i].instance_type &&
                strcmp(all[i].instance_type, instance_type) == 0)
                return &all[i];
        return NULL;
    }
    const char *id = p == COST_GCF ? "gcf-gen1"
                     : arch && (strcmp(arch, "arm64") == 0 || strcmp(arch, "arm") == 0)
                         ? "aws-lambda-arm"
                         : "aws-lambda-x86";
    return cost_offer_find(c, snap, id);
}

double cost_instance_billed_s(const cost_offer *o, double lifetime_s)
{
    double s = round_up(lifetime_s > 0 ? lifetime_s : 0, o->granularity_s);
    return s > o->min_billed_s ? s : o->min_billed_s;
}

/* Why one function for lambda and gcf: both bill each invocation's rounded duration times its
 * memory (and gcf its CPU tier), plus a fee per request; only the items differ. */
static void bill_per_invocation(const cost_usage *u, bool own, cost_result *r)
{
    const cost_offer *o = r->offer;
    double gb_s = 0, pc_dur_gb_s = 0, ghz_s = 0, requests = 0, pc_gb_s = 0;
    size_t timed = 0, invoked = 0;
    for (size_t i = 0; i < u->n_inv; i++) {
        const cost_invocation *v = &u->inv[i];
        if (!v->invoked)
            continue;
        invoked++;
        requests += 1;
        double ms = billed_ms(o, v, own);
        if (ms <= 0)
            continue;
        timed++;
        if (v->memory_mb <= 0) {
            no_price(r, "memory size not recorded, cannot bill on '%s'%s", o->id, "");
            return;
        }
        double gb = v->memory_mb / 1024.0, s = ms / 1000.0;
        if (o->profile == COST_GCF) {
            double ghz;
            char mb[32];
            snprintf(mb, sizeof mb, "%d", v->memory_mb);
            if (!cost_gcf_ghz(o, v->memory_mb, &ghz)) {
                no_price(r, "no CPU tier for %s MB in catalogue entry '%s'", mb, o->id);
                return;
            }
            ghz_s += ghz * s;
            gb_s += gb * s;
        } else if (v->on_provisioned) {
            pc_dur_gb_s += gb * s;
        } else {
            gb_s += gb * s;
        }
    }
    if (invoked > 0 && timed == 0) {
        no_price(r, "no invocation durations recorded, cannot bill on '%s'%s", o->id, "");
        return;
    }
    for (size_t i = 0; i < u->n_spans; i++)
        if (u->spans[i].provisioned && o->profile == COST_LAMBDA)
            pc_gb_s +=
                round_up(u->spans[i].seconds, o->pc_granularity_s) * u->spans[i].memory_mb / 1024.0;
    if (add_line(r, COST_GB_S, gb_s) && add_line(r, COST_GHZ_S, ghz_s) &&
        add_line(r, COST_PC_GB_S, pc_gb_s) && add_line(r, COST_PC_DURATION_GB_S, pc_dur_gb_s))
        add_line(r, COST_REQUEST, requests);
}

/* Managed endpoints and servers bill every instance for its lifetime, rounded up to the offer's
 * step with a minimum, whether it served anything or not. */
static void bill_per_instance(const cost_usage *u, cost_result *r)
{
    const cost_offer *o = r->offer;
    double seconds = 0;
    for (size_t i = 0; i < u->n_spans; i++)
        seconds += cost_instance_billed_s(o, u->spans[i].seconds);
    if (u->n_spans == 0) {
        no_price(r, "no instance lifetimes recorded, cannot bill on '%s'%s", o->id, "");
        return;
    }
    double hours = seconds / 3600.0;
    if (!add_line(r, COST_INSTANCE_HOUR, hours))
        return;
    if (o->gpus > 0 && o->price[COST_ACCEL_HOUR].set)
        add_line(r, COST_ACCEL_HOUR, hours * o->gpus);
}

void cost_bill(const cost_offer *o, const cost_usage *u, bool own, cost_result *r)
{
    memset(r, 0, sizeof *r);
    r->offer = o;
    r->priced = true;
    if (o->profile == COST_LAMBDA || o->profile == COST_GCF)
        bill_per_invocation(u, own, r);
    else
        bill_per_instance(u, r);
    if (!r->priced) {
        r->total = 0;
        r->n_lines = 0;
        return;
    }
    if (u->n_ok > 0) {
        r->has_per_1m = true;
        r->per_1m = r->total / (double)u->n_ok * 1e6;
    }
}

bool cost_offer_applies(const cost_offer *o, const cost_usage *u)
{
    if (o->profile == COST_MANAGED || o->profile == COST_SERVER)
        return (u->profile == COST_MANAGED || u->profile == COST_SERVER) && u->n_spans > 0;
    for (size_t i = 0; i < u->n_inv; i++)
        if (u->inv[i].duration_ms > 0 || u->inv[i].billed_ms > 0)
            return true;
    return false;
}
