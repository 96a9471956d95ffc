/* faasml simulate: run a simulation spec on the virtual clock and print what happened. */
#include "analyze/analyze.h"
#include "cli.h"
#include "sim/sim.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int parse_host(const char *s, sim_host *h)
{
    if (strcmp(s, "cloud") == 0) {
        *h = (sim_host){.kind = SIM_HOST_CLOUD};
        return 0;
    }
    if (strncmp(s, "cores:", 6) == 0) {
        *h = (sim_host){.kind = SIM_HOST_CORES};
        return fm_parse_double(s + 6, &h->cores) || h->cores <= 0 ? FM_EINVAL : 0;
    }
    return FM_EINVAL;
}

static int parse_record(const char *s, sim_opts *o)
{
    if (strcmp(s, "all") == 0)
        o->record = SIM_RECORD_ALL;
    else if (strcmp(s, "none") == 0)
        o->record = SIM_RECORD_NONE;
    else if (strncmp(s, "sample:", 7) == 0) {
        int64_t n;
        if (fm_parse_i64(s + 7, &n) || n < 1)
            return FM_EINVAL;
        o->record = SIM_RECORD_SAMPLE;
        o->sample_every = (uint64_t)n;
    } else
        return FM_EINVAL;
    return 0;
}

static void print_table(const sim_spec *sp, const sim_result *r)
{
    printf("%-16s %-8s %10s %8s %8s %8s %9s %9s %9s %7s %6s %12s\n", "function", "profile",
           "requests", "ok%", "throttl", "rejected", "p50_ms", "p99_ms", "mean_ms", "cold", "peak",
           "GB-s");
    for (int i = 0; i < r->nfn; i++) {
        const sim_fn_result *f = &r->fn[i];
        double sr = f->arrivals ? 100.0 * (double)f->ok / (double)f->arrivals : 0;
        printf("%-16s %-8s %10" PRIu64 " %8.2f %8" PRIu64 " %8" PRIu64
               " %9.2f %9.2f %9.2f %7" PRIu64 " %6d %12.2f\n",
               sp->fns[i].name, policy_profile_name(sp->fns[i].policy.profile), f->arrivals, sr,
               f->throttled, f->rejected + f->timeouts + f->failed,
               (double)fm_hist_quantile(f->latency, 0.5) / 1e6,
               (double)fm_hist_quantile(f->latency, 0.99) / 1e6, fm_hist_mean(f->latency) / 1e6,
               f->cold_starts, f->peak_instances, f->gb_s);
    }
    printf("simulated %.1f s in %.2f s wall (%" PRIu64 " policy events, %.0f events/s)\n",
           (double)r->end_ns / 1e9, r->wall_s, r->events,
           r->wall_s > 0 ? (double)r->events / r->wall_s : 0);
}

static void print_json(const sim_spec *sp, const sim_result *r)
{
    printf("{\"run_id\":%" PRId64 ",\"simulated_s\":%.6f,\"wall_s\":%.6f,\"events\":%" PRIu64
           ",\"functions\":[",
           r->run_id, (double)r->end_ns / 1e9, r->wall_s, r->events);
    for (int i = 0; i < r->nfn; i++) {
        const sim_fn_result *f = &r->fn[i];
        char name[256];
        fm_json_quote(name, sizeof name, sp->fns[i].name);
        printf("%s{\"name\":%s,\"profile\":\"%s\",\"arrivals\":%" PRIu64 ",\"ok\":%" PRIu64
               ",\"throttled\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"timeouts\":%" PRIu64
               ",\"cold_starts\":%" PRIu64 ",\"instances_started\":%" PRIu64
               ",\"peak_instances\":%d,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f,"
               "\"gb_s\":%.6f,\"billed_ms\":%.3f,\"instance_s\":%.3f,\"busy_s\":%.3f}",
               i ? "," : "", name, policy_profile_name(sp->fns[i].policy.profile), f->arrivals,
               f->ok, f->throttled, f->rejected, f->timeouts, f->cold_starts, f->instances_started,
               f->peak_instances, (double)fm_hist_quantile(f->latency, 0.5) / 1e6,
               (double)fm_hist_quantile(f->latency, 0.99) / 1e6, fm_hist_mean(f->latency) / 1e6,
               f->gb_s, f->billed_ms_total, f->instance_s, f->busy_s);
    }
    printf("]}\n");
}

/* One row of the keep-alive comparison (a variant, or a trace run without variants). */
static void print_summary(const char *variant, const sim_result *r, bool json, bool first)
{
    sim_keepalive_summary ks;
    sim_keepalive_summarize(r, &ks);
    if (json) {
        char name[256];
        fm_json_quote(name, sizeof name, variant);
        printf("%s{\"variant\":%s,\"run_id\":%" PRId64 ",\"invocations\":%" PRIu64
               ",\"cold_starts\":%" PRIu64 ",\"cold_pct\":%.6f,\"cold_pct_p75_fn\":%.6f,"
               "\"wasted_gb_s\":%.3f,\"instances_started\":%" PRIu64 ",\"wall_s\":%.6f}",
               first ? "" : ",", name, r->run_id, ks.invocations, ks.cold_starts, ks.cold_pct,
               ks.cold_pct_p75_fn, ks.wasted_gb_s, ks.instances_started, r->wall_s);
        return;
    }
    if (first)
        printf("%-20s %12s %10s %8s %12s %14s %10s %8s\n", "variant", "invocations", "cold",
               "cold%", "p75fn_cold%", "wasted_GB-s", "starts", "wall_s");
    printf("%-20s %12" PRIu64 " %10" PRIu64 " %8.3f %12.3f %14.1f %10" PRIu64 " %8.2f\n", variant,
           ks.invocations, ks.cold_starts, ks.cold_pct, ks.cold_pct_p75_fn, ks.wasted_gb_s,
           ks.instances_started, r->wall_s);
}

/* Why: the variants of a spec (keep-alive policies, say) are the same functions and arrivals
 * under different policy overrides, so each runs with the same seed and they compare row by row. */
static int run_variants(sim_spec *sp, sim_opts *o, const char *only, bool json, bool per_fn,
                        fm_err *err)
{
    int rc = 0;
    bool first = true;
    char rn[300];
    const char *base_name = o->run_name;
    if (json)
        printf("{\"simulation\":\"%s\",\"variants\":[", sp->name ? sp->name : "sim");
    int nv = sp->nvariants > 0 ? sp->nvariants : 1;
    for (int v = 0; v < nv && !rc && !stop_flag; v++) {
        const char *vn = sp->nvariants > 0 ? sp->variants[v].name : "base";
        if (only && strcmp(only, vn) != 0)
            continue;
        if ((rc = sim_spec_use_variant(sp, sp->nvariants > 0 ? v : -1, err)))
            break;
        snprintf(rn, sizeof rn, "%s/%s", base_name, vn);
        o->run_name = rn;
        sim_result r;
        if (!(rc = sim_run(sp->fns, sp->nfn, o, &r, err))) {
            print_summary(vn, &r, json, first);
            first = false;
            if (per_fn && !json)
                print_table(sp, &r);
        }
        sim_result_release(&r);
    }
    if (json)
        printf("]}\n");
    if (!rc && first)
        rc = fm_err_set(err, FM_EINVAL, "no variant named '%s'", only ? only : "?");
    o->run_name = base_name;
    return rc;
}

static int resolve_run(store *db, const char *s, int64_t *id, fm_err *err)
{
    if (fm_parse_i64(s, id) == 0)
        return 0;
    return store_run_find(db, s, id, err);
}

/* Relative error of the simulation against the live value, in percent; words when undefined. */
static void rel(char *buf, size_t cap, double live, double sim)
{
    if (live == 0)
        snprintf(buf, cap, "%s", sim == 0 ? "0.0%" : "n/a (live 0)");
    else
        snprintf(buf, cap, "%+.1f%%", 100 * (sim - live) / live);
}

static void cmp_row(const char *what, an_num live, an_num sim, int dec)
{
    char a[64], b[64], r[32];
    an_fmt(a, sizeof a, live, dec);
    an_fmt(b, sizeof b, sim, dec);
    if (live.why || sim.why)
        snprintf(r, sizeof r, "-");
    else
        rel(r, sizeof r, live.v, sim.v);
    printf("%-22s %22s %22s %12s\n", what, a, b, r);
}

/* Why: a simulated run is trusted only as far as it matches a live one on the same arrivals; this
 * prints both through the same analyzer, side by side, with the relative error. */
static int compare_runs(store *db, int64_t live_id, int64_t sim_id, fm_err *err)
{
    cost_catalog *cat = NULL;
    char found[4096];
    const char *pp = fm_data_file("prices.yaml", found, sizeof found);
    if (!pp || cost_catalog_load(pp, &cat, err))
        fm_err_clear(err);
    an_opts ao = {.prices = cat};
    an_run *l = NULL, *s = NULL;
    int rc = analyze_run(db, live_id, &ao, &l, err);
    if (!rc)
        rc = analyze_run(db, sim_id, &ao, &s, err);
    if (!rc) {
        printf("%-22s %22s %22s %12s\n", "metric", "live", "simulated", "sim vs live");
        cmp_row("p50 latency (ms)", l->total.latency_q[AN_P50].est, s->total.latency_q[AN_P50].est,
                2);
        cmp_row("p99 latency (ms)", l->total.latency_q[AN_P99].est, s->total.latency_q[AN_P99].est,
                2);
        cmp_row("mean latency (ms)", l->total.latency_mean.est, s->total.latency_mean.est, 2);
        cmp_row("success ratio", l->total.success_ratio.est, s->total.success_ratio.est, 4);
        cmp_row("cold starts", (an_num){(double)l->total.cold_starts, NULL},
                (an_num){(double)s->total.cold_starts, NULL}, 0);
        an_num lc = {0, "no price"}, sc = {0, "no price"};
        if (l->has_own && l->own.priced)
            lc = (an_num){l->own.total, NULL};
        if (s->has_own && s->own.priced)
            sc = (an_num){s->own.total, NULL};
        cmp_row("cost (USD)", lc, sc, 8);
    }
    analyze_run_free(l);
    analyze_run_free(s);
    cost_catalog_free(cat);
    return rc;
}

int cmd_simulate(int argc, char **argv)
{
    const char *db_path = NULL, *host = NULL, *record = "all", *name = NULL;
    const char *against = NULL, *variant = NULL;
    int64_t seed = -1, series_ms = 1000;
    bool json = false, per_fn = false;
    const cli_opt opts[] = {
        {"db", 0, CLI_OPT_STR, &db_path, "PATH", "record the run in this results database"},
        {"name", 0, CLI_OPT_STR, &name, "NAME", "run name (default: the spec's name)"},
        {"seed", 0, CLI_OPT_INT, &seed, "N", "seed (default: the spec's seed)"},
        {"host", 0, CLI_OPT_STR, &host, "cloud|cores:N",
         "host capacity: every instance its own CPU share, or N shared cores"},
        {"record", 0, CLI_OPT_STR, &record, "all|sample:N|none",
         "which requests to store (default all)"},
        {"series-ms", 0, CLI_OPT_INT, &series_ms, "MS",
         "step of the instances-by-state series (default 1000)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output"},
        {"against", 0, CLI_OPT_STR, &against, "RUN",
         "replay the arrival schedule of recorded run RUN (id or name, needs --db) and compare"},
        {"per-function", 0, CLI_OPT_FLAG, &per_fn, NULL,
         "with variants or a trace: also print each function's row"},
        {"variant", 0, CLI_OPT_STR, &variant, "NAME",
         "run only this variant of the spec's `variants:` (default: each in turn)"},
        {0},
    };
    const cli_spec spec = {
        "simulate",
        "SPEC.yaml [options]",
        "Runs the functions of a simulation spec through the platform policies (the same code the "
        "live platform runs) on a virtual clock, with service and cold-start times sampled from "
        "calibration files, or a production trace's functions (`trace:`). A spec with "
        "`variants:` runs once per variant and prints the keep-alive comparison (cold starts, "
        "75th-percentile function, wasted GB-s). See docs/simulator.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("simulate", argv, npos)))
        return rc;
    fm_err err = {0};
    sim_spec sp;
    /* a spec that does not load (syntax, values, a missing calibration) is invalid input: exit 2,
     * as bench and plan do */
    if ((rc = sim_spec_load(argv[0], &sp, &err)))
        return cli_fail("simulate", rc == FM_ENOMEM ? 1 : 2, "%s", err.msg);
    sim_opts o = {.host = sp.host,
                  .seed = seed >= 0 ? (uint64_t)seed : sp.seed,
                  .calib = sp.calib,
                  .run_name = name ? name : sp.name,
                  .stop = &stop_flag,
                  .series_step_ns = series_ms * 1000000};
    if (host && parse_host(host, &o.host)) {
        sim_spec_release(&sp);
        return cli_fail("simulate", 2, "invalid --host '%s' (cloud or cores:N)", host);
    }
    o.host.capacity = sp.host.capacity; /* --host sets the cores; the memory is the spec's */
    if (parse_record(record, &o) || series_ms < 1) {
        sim_spec_release(&sp);
        return cli_fail("simulate", 2, "invalid --record '%s' or --series-ms", record);
    }
    store *db = NULL;
    if (db_path && (rc = store_open(db_path, &db, &err))) {
        sim_spec_release(&sp);
        return cli_fail("simulate", 1, "%s", err.msg);
    }
    o.db = db;
    /* invocations are billed on the catalogue, as the analyzer prices them (granularity, INIT) */
    cost_catalog *prices = NULL;
    char pfound[4096];
    const char *ppath = getenv("FAASML_PRICES");
    if (!ppath)
        ppath = fm_data_file("prices.yaml", pfound, sizeof pfound);
    if (ppath && cost_catalog_load(ppath, &prices, &err)) {
        fprintf(stderr, "faasml simulate: warning: %s; billing without a catalogue\n", err.msg);
        fm_err_clear(&err);
        prices = NULL;
    }
    o.prices = prices;
    char *cfg = sim_spec_config_json(&sp, &o);
    o.config_json = cfg;
    int64_t live_id = 0, *sched = NULL;
    char replay_name[300];
    if (against) {
        size_t n;
        if (!db || sp.nfn != 1) {
            rc = fm_err_set(&err, FM_EINVAL, "--against needs --db and a spec with one function");
        } else if (!(rc = resolve_run(db, against, &live_id, &err)) &&
                   !(rc = sim_schedule_from_run(db, live_id, NULL, &sched, &n, &err))) {
            sp.fns[0].schedule_ns = sched;
            sp.fns[0].schedule_n = n;
            snprintf(replay_name, sizeof replay_name, "%s/replay", against);
            if (!name)
                o.run_name = replay_name;
        }
        if (rc) {
            free(cfg);
            store_close(db);
            cost_catalog_free(prices);
            sim_spec_release(&sp);
            return cli_fail("simulate", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sim_result r = {0};
    if ((sp.nvariants > 0 || sp.trace.n > 0 || variant) && !against) {
        rc = run_variants(&sp, &o, variant, json, per_fn, &err);
        free(cfg);
        store_close(db);
        cost_catalog_free(prices);
        sim_spec_release(&sp);
        if (rc)
            return cli_fail("simulate", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
        return stop_flag ? 1 : 0;
    }
    rc = sim_run(sp.fns, sp.nfn, &o, &r, &err);
    if (!rc) {
        if (json)
            print_json(&sp, &r);
        else
            print_table(&sp, &r);
        if (against) {
            printf("\nreplay of run %lld against the simulation (run %lld):\n", (long long)live_id,
                   (long long)r.run_id);
            rc = compare_runs(db, live_id, r.run_id, &err);
        }
    }
    free(sched);
    free(cfg);
    sim_result_release(&r);
    store_close(db);
    cost_catalog_free(prices);
    sim_spec_release(&sp);
    if (rc)
        return cli_fail("simulate", 1, "%s", err.msg);
    return stop_flag ? 1 : 0;
}
