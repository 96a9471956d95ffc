/* One bill, live and simulated: the same invocations billed through the live platform's meter
 * (plat_meter_invocation) and through the simulator (sim_run) come to the same billed
 * milliseconds, GB-s and nano-dollars, exactly. Both call cost_invocation_bill on the same
 * catalogue entry; this test is what keeps a second rounding from creeping back into either. */
/* cmocka.h needs these first */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost/cost.h"
#include "platform/inst.h"
#include "sim/sim.h"
#include "store/store.h"

/* Current-style offers with round prices: Lambda bills INIT in 1 ms steps, GCF gen1 does not and
 * rounds to 100 ms. */
static const char catalogue[] =
    "format: 1\ncurrency: USD\nsnapshots:\n  - {name: current, date: '2026-01-01'}\noffers:\n"
    "  - {id: aws-lambda-x86, snapshot: current, profile: lambda, name: x86, granularity_ms: 1,\n"
    "     bills_init: true, source: hand, date: '2026',\n"
    "     prices: {gb_s: {usd: 0.0000166667, status: doc, date: '2026', source: h},\n"
    "              request: {usd: 0.0000002, status: doc, date: '2026', source: h},\n"
    "              pc_gb_s: {usd: 0.0000041667, status: doc, date: '2026', source: h},\n"
    "              pc_duration_gb_s: {usd: 0.0000097222, status: doc, date: '2026', source: h}}}\n"
    "  - {id: gcf-gen1, snapshot: current, profile: gcf, name: gen1, granularity_ms: 100,\n"
    "     source: hand, date: '2026',\n"
    "     prices: {gb_s: {usd: 0.0000025, status: doc, date: '2026', source: h},\n"
    "              ghz_s: {usd: 0.00001, status: doc, date: '2026', source: h},\n"
    "              request: {usd: 0.0000004, status: doc, date: '2026', source: h}},\n"
    "     tiers: {status: doc, date: '2026', source: h,\n"
    "             ghz: {128: 0.2, 256: 0.4, 512: 0.8, 1024: 1.4, 2048: 2.4}}}\n";

/* The recorded invocations, one function each: its memory, execution time, INIT of a cold start,
 * and how it was reached (cold once; warm after a cold primer; on a provisioned instance). */
typedef enum { COLD, WARM, PROVISIONED } reach;
static const struct entry {
    const char *name;
    policy_profile profile;
    int memory_mb;
    double duration_ms, init_ms;
    reach how;
} entries[] = {
    {"lam_cold", POLICY_PROFILE_LAMBDA, 1024, 10.2, 211.4, COLD},
    {"lam_warm", POLICY_PROFILE_LAMBDA, 1769, 1370.7, 95.05, WARM},
    {"lam_pc", POLICY_PROFILE_LAMBDA, 512, 0.4, 180, PROVISIONED},
    {"gcf_cold", POLICY_PROFILE_GCF, 256, 99.97, 500, COLD},
    {"gcf_warm", POLICY_PROFILE_GCF, 2048, 100.01, 300, WARM},
};
enum { N_ENTRIES = sizeof entries / sizeof entries[0], MAX_REQ = 16 };

/* What each path recorded for one request. */
typedef struct rec {
    int entry;
    bool cold;
    double duration_ms, init_ms, billed_ms, gb_s;
} rec;

typedef struct recs {
    rec v[MAX_REQ];
    int n;
} recs;

static int entry_of(const char *name)
{
    for (int i = 0; i < N_ENTRIES; i++)
        if (strcmp(entries[i].name, name) == 0)
            return i;
    return -1;
}

static int on_request(const store_request *r, void *ud)
{
    recs *s = ud;
    assert_true(s->n < MAX_REQ);
    int e = entry_of(r->function);
    assert_true(e >= 0);
    assert_string_equal(r->status, "ok");
    s->v[s->n++] =
        (rec){e,          r->cold,      r->duration_ms,
              r->init_ms, r->billed_ms, r->billed_ms / 1000.0 * entries[e].memory_mb / 1024.0};
    return 0;
}

/* The simulator's path: every entry a function of its own, served in exactly its duration after
 * a cold start of exactly its INIT, every request recorded in a store. */
static void simulate(const cost_catalog *cat, recs *out, double *gb_s)
{
    static const int64_t once[] = {1000000000LL}, twice[] = {0, 5000000000LL};
    sim_function f[N_ENTRIES];
    sim_dist service[N_ENTRIES];
    for (int i = 0; i < N_ENTRIES; i++) {
        const struct entry *e = &entries[i];
        service[i] = (sim_dist){.kind = SIM_DIST_CONST, .value = e->duration_ms};
        f[i] = (sim_function){.name = e->name,
                              .key = {"m", "faasml", "cpu"},
                              .items = 1,
                              .threads = 1,
                              .schedule_ns = e->how == WARM ? twice : once,
                              .schedule_n = e->how == WARM ? 2 : 1,
                              .service = &service[i],
                              .cold_const = true,
                              .cold_ms = e->init_ms};
        policy_config_init(&f[i].policy, e->profile);
        f[i].policy.fn.memory_mb = e->memory_mb;
        f[i].policy.inst.max = 1;
        f[i].policy.inst.keep_alive_ns = 60000000000LL;
        f[i].policy.inst.provisioned = e->how == PROVISIONED;
    }
    store *db;
    fm_err err = {0};
    assert_int_equal(store_open(":memory:", &db, &err), 0);
    sim_opts o = {.host = {SIM_HOST_CLOUD, 0},
                  .seed = 1,
                  .db = db,
                  .run_name = "billing",
                  .record = SIM_RECORD_ALL,
                  .prices = cat};
    sim_result r;
    if (sim_run(f, N_ENTRIES, &o, &r, &err))
        fail_msg("sim_run: %s", err.msg);
    *gb_s = 0;
    for (int i = 0; i < N_ENTRIES; i++)
        *gb_s += r.fn[i].gb_s;
    memset(out, 0, sizeof *out);
    if (store_requests_each(db, r.run_id, on_request, out, &err))
        fail_msg("%s", err.msg);
    sim_result_release(&r);
    store_close(db);
}

/* The live path: each request the simulator recorded, as the platform meters it when its
 * invocation ends (dispatch → done is its duration; a cold one waited created → ready). */
static void meter_live(const cost_catalog *cat, const recs *in, recs *out, double *gb_s)
{
    platform *p = calloc(1, sizeof *p);
    plat_fn *fns = calloc(N_ENTRIES, sizeof *fns);
    assert_non_null(p);
    assert_non_null(fns);
    for (int i = 0; i < N_ENTRIES; i++) {
        cost_profile cp = entries[i].profile == POLICY_PROFILE_GCF ? COST_GCF : COST_LAMBDA;
        fns[i].p = p;
        fns[i].spec.memory_mb = entries[i].memory_mb;
        snprintf(fns[i].spec.name, sizeof fns[i].spec.name, "%s", entries[i].name);
        fns[i].offer = cost_offer_default(cat, "current", cp, NULL, NULL);
        assert_non_null(fns[i].offer);
    }
    *out = (recs){.n = in->n};
    for (int k = 0; k < in->n; k++) {
        const rec *r = &in->v[k];
        plat_inst inst = {.fn = &fns[r->entry],
                          .provisioned = entries[r->entry].how == PROVISIONED,
                          .created_ns = 1000000000LL};
        /* every instance had its INIT; the meter bills it only for the cold request */
        inst.ready_ns = inst.created_ns + llround(entries[r->entry].init_ms * 1e6);
        plat_inv inv = {.fn = &fns[r->entry], .inst = &inst, .cold = r->cold};
        inv.arrive_ns = inv.dispatch_ns = inst.ready_ns + 7;
        inv.done_ns = inv.dispatch_ns + llround(r->duration_ms * 1e6);
        plat_bill b;
        plat_meter_invocation(&inv, "ok", 200, NULL, &b);
        out->v[k] = (rec){r->entry, r->cold, b.duration_ms, b.init_ms, b.billed_ms, b.gb_s};
    }
    *gb_s = 0;
    for (int i = 0; i < N_ENTRIES; i++)
        *gb_s += fns[i].m.billed_gb_s;
    free(fns);
    free(p);
}

/* Prices one path's invocations on one profile's offer, as the analyzer prices a recorded run
 * (own: the billed times recorded); returns nano-dollars. */
static long long nano_usd(const cost_catalog *cat, const recs *s, cost_profile cp)
{
    cost_invocation inv[MAX_REQ];
    size_t n = 0;
    for (int k = 0; k < s->n; k++) {
        const struct entry *e = &entries[s->v[k].entry];
        if ((e->profile == POLICY_PROFILE_GCF) != (cp == COST_GCF))
            continue;
        inv[n++] = (cost_invocation){.duration_ms = s->v[k].duration_ms,
                                     .billed_ms = s->v[k].billed_ms,
                                     .init_ms = s->v[k].cold ? s->v[k].init_ms : 0,
                                     .memory_mb = e->memory_mb,
                                     .on_provisioned = e->how == PROVISIONED,
                                     .invoked = true};
    }
    cost_usage u = {.inv = inv, .n_inv = n, .profile = cp};
    cost_result r;
    cost_bill(cost_offer_default(cat, "current", cp, NULL, NULL), &u, true, &r);
    assert_true(r.priced);
    return llround(r.total * 1e9);
}

static void test_live_equals_simulated(void **state)
{
    (void)state;
    cost_catalog *cat = NULL;
    fm_err err = {0};
    if (cost_catalog_load_buf(catalogue, strlen(catalogue), "prices.yaml", &cat, &err))
        fail_msg("%s", err.msg);
    recs sim, live;
    double sim_gb_s, live_gb_s;
    simulate(cat, &sim, &sim_gb_s);
    meter_live(cat, &sim, &live, &live_gb_s);

    /* the simulator ran what the list says: 7 requests, cold where expected */
    assert_int_equal(sim.n, 7);
    int cold = 0;
    double lam_ms = 0, gcf_ms = 0;
    for (int k = 0; k < sim.n; k++) {
        const struct entry *e = &entries[sim.v[k].entry];
        cold += sim.v[k].cold;
        assert_true(sim.v[k].duration_ms == e->duration_ms);
        assert_true(sim.v[k].init_ms == (sim.v[k].cold ? e->init_ms : 0));
        if (e->how == PROVISIONED)
            assert_false(sim.v[k].cold);
        *(e->profile == POLICY_PROFILE_GCF ? &gcf_ms : &lam_ms) += sim.v[k].billed_ms;
    }
    assert_int_equal(cold, 4);
    /* by hand: lambda bills INIT in 1 ms steps: ceil(10.2 + 211.4) = 222, ceil(1370.7 + 95.05)
     * = 1466 and 1371 warm, 0.4 ms on the provisioned instance = 1; gcf gen1 does not bill INIT
     * and rounds to 100 ms: 99.97 → 100, 100.01 → 200 twice */
    assert_true(lam_ms == 222 + 1466 + 1371 + 1);
    assert_true(gcf_ms == 100 + 200 + 200);

    /* the live meter, fed the same invocations, bills each exactly as the simulator did */
    for (int k = 0; k < sim.n; k++) {
        if (live.v[k].duration_ms != sim.v[k].duration_ms ||
            live.v[k].init_ms != sim.v[k].init_ms || live.v[k].billed_ms != sim.v[k].billed_ms ||
            live.v[k].gb_s != sim.v[k].gb_s)
            fail_msg("request %d (%s): live %.6f ms billed %.6f, simulated %.6f ms billed %.6f", k,
                     entries[sim.v[k].entry].name, live.v[k].duration_ms, live.v[k].billed_ms,
                     sim.v[k].duration_ms, sim.v[k].billed_ms);
    }
    assert_true(live_gb_s == sim_gb_s);
    assert_true(sim_gb_s > 0);

    /* and the same nano-dollars on both offers, so the same cent */
    for (cost_profile cp = COST_LAMBDA; cp <= COST_GCF; cp++) {
        long long s = nano_usd(cat, &sim, cp), l = nano_usd(cat, &live, cp);
        assert_true(s > 0);
        if (s != l)
            fail_msg("%s: simulated %lld n$, live %lld n$", cost_profile_name(cp), s, l);
    }
    cost_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_equals_simulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
