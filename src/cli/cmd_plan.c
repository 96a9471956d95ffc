/* faasml plan: the design-space search — cheapest configuration under an SLO, and the Pareto
 * front of cost against p99 latency, found with the simulator. */
#include "cli.h"
#include "plan/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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
    snprintf(buf, cap, "%s/%s m%d b%d pc%d %s", r->platform->name, r->runtime, r->memory_mb,
             r->batch, r->provisioned, r->model->name);
    return buf;
}

static void print_table(const plan_result *res, double slo)
{
    printf("%-44s %10s %10s %8s %12s  %s\n", "configuration", "p50_ms", "p99_ms", "SR%",
           "USD/1M req", "");
    for (size_t i = 0; i < res->n; i++) {
        const plan_point *p = &res->points[i];
        char name[160], cost[32];
        if (p->priced)
            snprintf(cost, sizeof cost, "%.4f", p->cost_per_1m);
        else
            snprintf(cost, sizeof cost, "no price");
        printf("%-44s %10.2f %10.2f %8.2f %12s  %s%s%s\n", cfg_name(p->run, name, sizeof name),
               p->p50_ms, p->p99_ms, 100 * p->success_ratio, cost, p->pareto ? "pareto " : "",
               p->meets_slo ? "meets-slo" : "", (int)i == res->best ? " BEST" : "");
    }
    if (res->best >= 0) {
        char name[160];
        const plan_point *b = &res->points[res->best];
        printf("\ncheapest configuration meeting p99 <= %.0f ms: %s (%.4f USD per 1M requests, "
               "p99 %.2f ms)\n",
               slo, cfg_name(b->run, name, sizeof name), b->cost_per_1m, b->p99_ms);
    } else {
        printf("\nno configuration meets p99 <= %.0f ms with the success target\n", slo);
    }
}

static void print_json(const plan_result *res, double slo)
{
    printf("{\"slo_ms\":%g,\"best\":%d,\"points\":[", slo, res->best);
    for (size_t i = 0; i < res->n; i++) {
        const plan_point *p = &res->points[i];
        char name[400];
        fm_json_quote(name, sizeof name, p->run->name);
        printf("%s{\"run\":%s,\"platform\":\"%s\",\"runtime\":\"%s\",\"memory_mb\":%d,"
               "\"batch\":%d,\"provisioned\":%d,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
               "\"success_ratio\":%.6f,\"priced\":%s,\"usd_per_1m\":%.6f,\"pareto\":%s,"
               "\"meets_slo\":%s}",
               i ? "," : "", name, p->run->platform->name, p->run->runtime, p->run->memory_mb,
               p->run->batch, p->run->provisioned, isfinite(p->p50_ms) ? p->p50_ms : -1,
               isfinite(p->p99_ms) ? p->p99_ms : -1, p->success_ratio,
               p->priced ? "true" : "false", p->priced ? p->cost_per_1m : 0,
               p->pareto ? "true" : "false", p->meets_slo ? "true" : "false");
    }
    printf("]}\n");
}

int cmd_plan(int argc, char **argv)
{
    double slo = 0, scale = 0;
    const char *prices = NULL;
    bool json = false, quiet = false;
    const cli_opt opts[] = {
        {"slo-ms", 0, CLI_OPT_DOUBLE, &slo, "MS", "p99 latency objective (default: the spec's)"},
        {"scale", 0, CLI_OPT_DOUBLE, &scale, "K",
         "multiply the workloads' rates by K (default: the spec's simulation scale)"},
        {"prices", 0, CLI_OPT_STR, &prices, "FILE", "price catalogue (default data/prices.yaml)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output"},
        {"quiet", 'q', CLI_OPT_FLAG, &quiet, NULL, "no progress on stderr"},
        {0},
    };
    const cli_spec spec = {
        "plan", "SPEC.yaml [--slo-ms N] [options]",
        "Explores every configuration of an experiment spec (profile x runtime x memory size x "
        "batch size x provisioned concurrency) with the simulator, calibrated from measurements, "
        "and prints the Pareto front of cost against p99 latency and the cheapest configuration "
        "whose p99 meets the SLO with the spec's success-ratio target. The same spec and seed "
        "give the same answer.",
        opts, 1, 1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (slo < 0 || scale < 0)
        return cli_fail("plan", 2, "--slo-ms and --scale must be > 0");
    fm_err err = {0};
    plan_spec sp;
    if ((rc = plan_spec_load(argv[0], &sp, &err)))
        return cli_fail("plan", 2, "%s", err.msg);
    plan_search_opts o = {.slo_ms = slo, .scale = scale, .prices = prices,
                          .progress = quiet || json ? NULL : progress};
    plan_result res;
    rc = plan_search(&sp, &o, &res, &err);
    if (!rc) {
        double s = slo > 0 ? slo : sp.slo_ms;
        if (json)
            print_json(&res, s);
        else
            print_table(&res, s);
    }
    plan_result_release(&res);
    plan_spec_release(&sp);
    if (rc)
        return cli_fail("plan", 1, "%s", err.msg);
    return 0;
}
