/* faasml plan: the design-space search — cheapest configuration under an SLO, and the Pareto
 * front of cost against p99 latency, found with the simulator. */
#include "analyze/analyze.h"
#include "cli.h"
#include "plan/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int progress(size_t done, size_t total, const plan_point *p, void *ud)
{
    (void)ud;
    fprintf(stderr, "\rsimulated %zu/%zu configurations", done, total);
    if (done == total)
        fputc('\n', stderr);
    (void)p;
    return 0;
}

static const char *cfg_name(const plan_run *r, char *buf, size_t cap)
{
    bool fn =
        r->platform->profile == POLICY_PROFILE_LAMBDA || r->platform->profile == POLICY_PROFILE_GCF;
    char mem[32] = "";
    if (fn)
        snprintf(mem, sizeof mem, " %dMB", r->memory_mb);
    snprintf(buf, cap, "%s %s %s %s%s b%d%s", r->model->name, r->platform->name, r->runtime,
             r->precision, mem, r->batch, r->provisioned ? " pc" : "");
    if (r->provisioned)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%d", r->provisioned);
    return buf;
}

/* The accuracy floor in words, for the closing line ("" when the spec sets none). */
static const char *floor_text(const plan_spec *sp, char *buf, size_t cap)
{
    const plan_accuracy *a = &sp->accuracy;
    size_t n = 0;
    buf[0] = 0;
    if (!a->set)
        return buf;
    n += (size_t)snprintf(buf + n, cap - n, " and accuracy");
    if (a->min_cosine >= -1 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " cosine >= %g", a->min_cosine);
    if (a->min_top1 >= 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " top-1 >= %g", a->min_top1);
    if (a->max_rel_err >= 0 && n < cap)
        snprintf(buf + n, cap - n, " rel.err <= %g", a->max_rel_err);
    return buf;
}

static void print_table(const plan_spec *sp, const plan_result *res, double slo)
{
    printf("%-48s %10s %10s %8s %12s %8s %7s  %s\n", "configuration", "p50_ms", "p99_ms", "SR%",
           "USD/1M req", "cos_min", "top1%", "");
    for (size_t i = 0; i < res->n; i++) {
        const plan_point *p = &res->points[i];
        char name[160], cost[32], cos[16] = "-", top1[16] = "-";
        if (p->priced)
            snprintf(cost, sizeof cost, "%.4f", p->cost_per_1m);
        else
            snprintf(cost, sizeof cost, "no price");
        if (p->has_accuracy) {
            snprintf(cos, sizeof cos, "%.4f", p->acc.cosine_min);
            snprintf(top1, sizeof top1, "%.1f", 100 * p->acc.top1);
        }
        printf("%-48s %10.2f %10.2f %8.2f %12s %8s %7s  %s%s%s%s\n",
               cfg_name(p->run, name, sizeof name), p->p50_ms, p->p99_ms, 100 * p->success_ratio,
               cost, cos, top1, p->pareto ? "pareto " : "", p->meets_slo ? "meets-slo" : "",
               p->meets_accuracy ? ""
               : p->has_accuracy ? " below-accuracy"
                                 : " accuracy-unmeasured",
               (int)i == res->best ? " BEST" : "");
    }
    char fl[160];
    floor_text(sp, fl, sizeof fl);
    if (res->best >= 0) {
        char name[160];
        const plan_point *b = &res->points[res->best];
        printf("\ncheapest configuration meeting p99 <= %.0f ms%s: %s (%.4f USD per 1M requests, "
               "p99 %.2f ms)\n",
               slo, fl, cfg_name(b->run, name, sizeof name), b->cost_per_1m, b->p99_ms);
    } else {
        printf("\nno configuration meets p99 <= %.0f ms with the success target%s\n", slo, fl);
    }
}

static void print_json(const plan_result *res, double slo)
{
    printf("{\"slo_ms\":%g,\"best\":%d,\"points\":[", slo, res->best);
    for (size_t i = 0; i < res->n; i++) {
        const plan_point *p = &res->points[i];
        char name[400];
        fm_json_quote(name, sizeof name, p->run->name);
        char acc[200] = "null";
        if (p->has_accuracy)
            snprintf(acc, sizeof acc,
                     "{\"cosine_min\":%.6f,\"cosine_mean\":%.6f,\"max_rel_err\":%.6f,"
                     "\"top1_agreement\":%.4f,\"top5_agreement\":%.4f}",
                     p->acc.cosine_min, p->acc.cosine_mean, p->acc.max_rel_err, p->acc.top1,
                     p->acc.top5);
        printf("%s{\"run\":%s,\"platform\":\"%s\",\"runtime\":\"%s\",\"precision\":\"%s\","
               "\"memory_mb\":%d,\"batch\":%d,\"provisioned\":%d,\"p50_ms\":%.4f,"
               "\"p99_ms\":%.4f,\"success_ratio\":%.6f,\"priced\":%s,\"usd_per_1m\":%.6f,"
               "\"pareto\":%s,\"meets_slo\":%s,\"accuracy\":%s,\"meets_accuracy\":%s}",
               i ? "," : "", name, p->run->platform->name, p->run->runtime, p->run->precision,
               p->run->memory_mb, p->run->batch, p->run->provisioned,
               isfinite(p->p50_ms) ? p->p50_ms : -1, isfinite(p->p99_ms) ? p->p99_ms : -1,
               p->success_ratio, p->priced ? "true" : "false", p->priced ? p->cost_per_1m : 0,
               p->pareto ? "true" : "false", p->meets_slo ? "true" : "false", acc,
               p->meets_accuracy ? "true" : "false");
    }
    printf("]}\n");
}

/* Why: a plan is a prediction; running its top choices live on this machine and printing the
 * measurements beside the predictions is how a user learns how far to trust it. */
static int verify(plan_spec *sp, const plan_result *res, int64_t n, fm_err *err)
{
    const char *names[16];
    char bufs[16][210];
    const plan_point *pts[16];
    size_t k = 0;
    /* the best, then the next cheapest configurations that meet the SLO */
    bool used[4096] = {0};
    while ((int64_t)k < n && k < 16) {
        int pick = -1;
        for (size_t i = 0; i < res->n && i < 4096; i++) {
            const plan_point *p = &res->points[i];
            if (used[i] || !p->meets_slo || !p->meets_accuracy || !p->priced ||
                strcmp(p->run->platform->device, "cpu") != 0)
                continue;
            if (pick < 0 || p->cost_per_1m < res->points[pick].cost_per_1m)
                pick = (int)i;
        }
        if (pick < 0)
            break;
        used[pick] = true;
        pts[k] = &res->points[pick];
        snprintf(bufs[k], sizeof bufs[k], "%.*s/live", (int)(strlen(pts[k]->run->name) - 4),
                 pts[k]->run->name);
        names[k] = bufs[k];
        k++;
    }
    if (k == 0) {
        printf("\nnothing to verify live: no configuration on a CPU meets the SLO\n");
        return 0;
    }
    sp->modes |= PLAN_LIVE;
    for (int i = 0; i < sp->nplatforms; i++)
        if (strcmp(sp->platforms[i].device, "cpu") == 0)
            sp->platforms[i].modes |= PLAN_LIVE;
    store *db;
    int rc = store_open(sp->results, &db, err);
    if (rc)
        return rc;
    plan_bench_opts bo = {.modes = PLAN_LIVE, .only = names, .n_only = k};
    plan_bench_summary sum;
    rc = plan_bench_run(sp, &bo, db, &sum, err);
    cost_catalog *cat = NULL;
    if (!rc && cost_catalog_load(sp->prices, &cat, err))
        fm_err_clear(err);
    an_opts ao = {.prices = cat, .snapshot = sp->snapshot};
    printf("\nverified live on this machine (results in %s):\n", sp->results);
    printf("%-44s %14s %14s %16s %16s\n", "configuration", "p99 sim", "p99 live", "USD/1M sim",
           "USD/1M live");
    for (size_t i = 0; !rc && i < k; i++) {
        int64_t id;
        an_run *ar = NULL;
        if (store_run_find(db, names[i], &id, NULL) || analyze_run(db, id, &ao, &ar, err)) {
            printf("%-44s %14.2f %14s\n", pts[i]->run->name, pts[i]->p99_ms, "failed");
            fm_err_clear(err);
            continue;
        }
        const an_metrics *m = &ar->total;
        char p99[32], cost[32];
        an_fmt(p99, sizeof p99, m->latency_q[AN_P99].est, 2);
        if (ar->has_own && ar->own.priced && ar->own.has_per_1m)
            snprintf(cost, sizeof cost, "%.4f", ar->own.per_1m);
        else
            snprintf(cost, sizeof cost, "no price");
        printf("%-44s %14.2f %14s %16.4f %16s\n", pts[i]->run->name, pts[i]->p99_ms, p99,
               pts[i]->cost_per_1m, cost);
        analyze_run_free(ar);
    }
    plan_bench_summary_release(&sum);
    cost_catalog_free(cat);
    store_close(db);
    return rc;
}

int cmd_plan(int argc, char **argv)
{
    double slo = 0, scale = 0;
    const char *prices = NULL;
    bool json = false, quiet = false;
    int64_t verify_n = 0;
    const char *seed_s = NULL;
    const cli_opt opts[] = {
        {"slo-ms", 0, CLI_OPT_DOUBLE, &slo, "MS", "p99 latency objective (default: the spec's)"},
        {"scale", 0, CLI_OPT_DOUBLE, &scale, "K",
         "multiply the workloads' rates by K (default: the spec's simulation scale)"},
        {"prices", 0, CLI_OPT_STR, &prices, "FILE", "price catalogue (default data/prices.yaml)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output"},
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "no progress on stderr"},
        {"seed", 0, CLI_OPT_STR, &seed_s, "N", "seed of the simulations (default: the spec's)"},
        {"verify", 0, CLI_OPT_INT, &verify_n, "N",
         "run the N cheapest configurations meeting the SLO live on this machine and print the "
         "measurements beside the predictions (the search then simulates this machine: scale 1, "
         "its cores, unless --scale is given)"},
        {0},
    };
    const cli_spec spec = {
        "plan",
        "SPEC.yaml [--slo-ms N] [options]",
        "Explores every configuration of an experiment spec (profile x runtime x precision x "
        "memory size x batch size x provisioned concurrency) with the simulator, calibrated from "
        "measurements, and prints the Pareto front of cost against p99 latency and the cheapest "
        "configuration whose p99 meets the SLO with the spec's success-ratio target and whose "
        "measured accuracy against FP32 (the calibration's accuracy entries) keeps the spec's "
        "accuracy floor. The same spec and seed give the same answer.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("plan", argv, npos)))
        return rc;
    if (slo < 0 || scale < 0)
        return cli_fail("plan", 2, "--slo-ms and --scale must be > 0");
    fm_err err = {0};
    plan_spec sp;
    uint64_t seed = 0;
    if (seed_s && cli_parse_seed(seed_s, &seed))
        return cli_fail("plan", 2, "invalid value '%s' for --seed", seed_s);
    if ((rc = plan_spec_load(argv[0], &sp, &err)))
        return cli_fail("plan", 2, "%s", err.msg);
    if (seed_s)
        sp.seed = seed;
    if (verify_n < 0 || verify_n > 16) {
        plan_spec_release(&sp);
        return cli_fail("plan", 2, "--verify takes 0 to 16 configurations");
    }
    if (verify_n > 0 && scale == 0) { /* predict what this machine will measure */
        scale = 1;
        sp.sim_host =
            (sim_host){.kind = SIM_HOST_CORES, .cores = (double)sysconf(_SC_NPROCESSORS_ONLN)};
    }
    plan_search_opts o = {.slo_ms = slo,
                          .scale = scale,
                          .prices = prices,
                          .progress = quiet || json || !isatty(2) ? NULL : progress};
    plan_result res;
    rc = plan_search(&sp, &o, &res, &err);
    if (!rc) {
        double s = slo > 0 ? slo : sp.slo_ms;
        if (json)
            print_json(&res, s);
        else
            print_table(&sp, &res, s);
        if (verify_n > 0 && !json)
            rc = verify(&sp, &res, verify_n, &err);
    }
    plan_result_release(&res);
    plan_spec_release(&sp);
    if (rc)
        return cli_fail("plan", 1, "%s", err.msg);
    return 0;
}
