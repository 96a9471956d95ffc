/*
 * cost — the price catalogue (data/prices.yaml: every price with its source, date and status) and
 * the billing formulas of the four platform profiles. It turns quantities a run recorded
 * (invocation durations, memory sizes, instance lifetimes, provisioned time) into dollars. No price
 * lives in code: a missing price is reported as "no price" with the reason, never as 0.
 *
 * Profiles and formulas (docs/costs.md has the details and the sources):
 *   lambda   Σ ceil(ms / g)·g / 1000 · GB · gb_s  +  requests · request
 *            + PC instances: ceil(lifetime / pc_g)·pc_g · GB · pc_gb_s, and invocations that ran
 *              on a provisioned instance pay pc_duration_gb_s instead of gb_s
 *   gcf      Σ ceil(ms / 100)·100 / 1000 · (GB · gb_s + GHz(memory tier) · ghz_s) + requests · fee
 *   managed  Σ instances max(min, ceil(lifetime / g)·g) / 3600 · (instance_hour +
 * n·accelerator_hour) server   same as managed (a fixed fleet; lifetimes are the whole run)
 */
#ifndef FM_COST_H
#define FM_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum cost_profile {
    COST_LAMBDA,
    COST_GCF,
    COST_MANAGED,
    COST_SERVER,
    COST__PROFILES
} cost_profile;

/* Priced items, in the order of the cost_items table (key, unit). */
typedef enum cost_item {
    COST_GB_S,             /* on-demand duration, per GB-s */
    COST_REQUEST,          /* per request */
    COST_PC_GB_S,          /* provisioned concurrency allocated, per GB-s */
    COST_PC_DURATION_GB_S, /* duration on a provisioned instance, per GB-s */
    COST_GHZ_S,            /* GCF CPU, per GHz-s */
    COST_INSTANCE_HOUR,    /* per instance-hour */
    COST_ACCEL_HOUR,       /* per accelerator (GPU) hour */
    COST__ITEMS
} cost_item;

const char *cost_profile_name(cost_profile p);
int cost_profile_parse(const char *s, cost_profile *out); /* FM_EINVAL when unknown */
const char *cost_item_key(cost_item i);                   /* "gb_s" ... */
const char *cost_item_unit(cost_item i);                  /* "GB-s" ... */

typedef struct cost_price {
    bool set; /* false: the catalogue gives no price for this item */
    double usd;
    const char *status; /* doc, src, 2nd, unverified */
    const char *date;
    const char *source;
} cost_price;

#define COST_MAX_TIERS 16

/* One catalogue entry: a product in one snapshot. Strings are owned by the catalogue. */
typedef struct cost_offer {
    const char *id, *snapshot, *name;
    cost_profile profile;
    const char *arch;          /* lambda: x86 or arm64; NULL otherwise */
    const char *instance_type; /* managed/server */
    int gpus;                  /* accelerators per instance (priced by accelerator_hour) */
    double granularity_ms;     /* lambda/gcf: duration rounding */
    bool bills_init;           /* lambda: the INIT phase of a cold start is billed as duration */
    double pc_granularity_s;   /* lambda: PC time rounding (0: none) */
    double granularity_s, min_billed_s; /* managed/server: per-instance rounding and minimum */
    const char *source, *date;
    cost_price price[COST__ITEMS];
    int n_tiers; /* gcf: memory tier → GHz */
    int tier_mb[COST_MAX_TIERS];
    double tier_ghz[COST_MAX_TIERS];
    cost_price tiers; /* source/date/status of the tier table (usd unused) */
} cost_offer;

typedef struct cost_snapshot {
    const char *name, *date, *note;
} cost_snapshot;

typedef struct cost_catalog cost_catalog;

/* Loads a catalogue; errors name file:line:col. The caller frees it with cost_catalog_free. */
int cost_catalog_load(const char *path, cost_catalog **out, fm_err *err);
int cost_catalog_load_buf(const char *buf, size_t len, const char *name, cost_catalog **out,
                          fm_err *err);
void cost_catalog_free(cost_catalog *c);
const char *cost_catalog_path(const cost_catalog *c);

size_t cost_catalog_snapshots(const cost_catalog *c, const cost_snapshot **out);
const cost_snapshot *cost_catalog_snapshot(const cost_catalog *c, const char *name);
/* Every offer, in file order; filter by snapshot yourself. */
size_t cost_catalog_offers(const cost_catalog *c, const cost_offer **out);
const cost_offer *cost_offer_find(const cost_catalog *c, const char *snapshot, const char *id);

/* ---- usage: what a run recorded, in the units the formulas need --------------------------- */
typedef struct cost_invocation {
    double duration_ms; /* execution time; 0 when unknown */
    double billed_ms;   /* what the platform billed; 0 when unknown */
    double init_ms;     /* INIT time of a cold start; 0 when warm or unknown */
    double share;       /* this request's share of a server-side batch (1/n); 0 means 1 */
    int memory_mb;
    bool on_provisioned; /* ran on a provisioned-concurrency instance */
    bool invoked;        /* reached the function (pays the request fee) */
} cost_invocation;

typedef struct cost_span {
    double seconds; /* lifetime: launch (or PC enable) to stop */
    int memory_mb;
    bool provisioned;
} cost_span;

typedef struct cost_usage {
    const cost_invocation *inv;
    size_t n_inv;
    const cost_span *spans; /* instances */
    size_t n_spans;
    int64_t n_ok;         /* successful requests, for the cost per 1M */
    cost_profile profile; /* the profile the run was recorded on */
} cost_usage;

#define COST_MAX_LINES 8

typedef struct cost_line {
    cost_item item;
    double quantity; /* in cost_item_unit(item) */
    double unit_price;
    double amount;
} cost_line;

typedef struct cost_result {
    const cost_offer *offer;
    bool priced; /* false: why says why there is no number */
    char why[200];
    double total; /* USD */
    bool has_per_1m;
    double per_1m;   /* USD per 1M successful requests */
    bool unverified; /* a price used is marked unverified */
    int n_lines;
    cost_line lines[COST_MAX_LINES];
} cost_result;

/* Is the offer a sensible what-if for a run recorded on this profile? Per-invocation offers
 * (lambda, gcf) apply to every run that recorded invocation durations; per-instance offers
 * (managed, server) apply to runs recorded on a per-instance profile. */
bool cost_offer_applies(const cost_offer *o, const cost_usage *u);

/* Bills usage on offer. own: the run was recorded on this offer, so recorded billed_ms is used
 * where present; otherwise durations are re-rounded to the offer's granularity. Always returns a
 * result: priced, or not priced with the reason in words. */
void cost_bill(const cost_offer *o, const cost_usage *u, bool own, cost_result *out);

/* ---- one invocation ---------------------------------------------------------------------------
 * The one place an invocation's bill is computed, for the simulator as it runs and for the
 * analyzer re-pricing a recorded run: execution time plus INIT where the offer bills it
 * (bills_init), rounded up to the offer's granularity_ms (the catalogue is the only source of
 * the step), times the request's share of a server-side batch (0 means 1). */
double cost_invocation_billed_ms(const cost_offer *o, double duration_ms, double init_ms,
                                 double share);

typedef struct cost_one {
    double billed_ms; /* cost_invocation_billed_ms */
    double gb_s;      /* billed_ms x memory */
    double usd;       /* duration (on-demand, provisioned or GCF GB + GHz) + the request fee;
                         0 with priced false when the offer lacks a price it needs */
    bool priced;
} cost_one;

/* Bills one invocation of a per-invocation offer (lambda, gcf) from its (duration, init, memory,
 * provisioned), or one request's share of a server-side batch (share 1/n; 0 means 1). The live
 * meter, the simulator and (through cost_bill) the analyzer all bill here, so the same recorded
 * invocation costs the same on every path. */
void cost_invocation_bill(const cost_offer *o, double duration_ms, double init_ms, int memory_mb,
                          bool provisioned, double share, cost_one *out);

/* Seconds a per-instance offer (managed, server) bills one instance's lifetime for: rounded up to
 * the offer's granularity_s, at least its min_billed_s. The one place an instance is billed, for
 * the live meter as instances stop and for the analyzer re-pricing a recorded run. */
double cost_instance_billed_s(const cost_offer *o, double lifetime_s);

/* The catalogue entry a run is billed on when it names none: lambda aws-lambda-x86 (or -arm for
 * arch arm64/arm), gcf gcf-gen1, managed/server the entry of instance_type; in snapshot snap.
 * NULL when absent (or, for managed/server, when instance_type is NULL). */
const cost_offer *cost_offer_default(const cost_catalog *c, const char *snap, cost_profile p,
                                     const char *arch, const char *instance_type);

/* GHz of the GCF tier that a memory size gets (the smallest tier >= memory); false when none. */
bool cost_gcf_ghz(const cost_offer *o, int memory_mb, double *ghz);

#endif
