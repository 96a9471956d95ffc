/* faasml bench: the study in one command — plan the matrix of an experiment spec, run every cell
 * live on this machine's platform or simulated at cloud scale, and report. */
#include "analyze/analyze.h"
#include "cli.h"
#include "plan/plan.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static volatile int stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_progress(const plan_bench_progress *p, void *ud)
{
    (void)ud;
    const char *what = p->ev == PLAN_EV_START  ? "run "
                       : p->ev == PLAN_EV_DONE ? "done"
                       : p->ev == PLAN_EV_SKIP ? "skip"
                                               : "FAIL";
    if (p->ev == PLAN_EV_START)
        fprintf(stderr, "[%zu/%zu] %s %s (about %.0f s left)\n", p->index + 1, p->total, what,
                p->run->name, p->eta_s > 0 ? p->eta_s : 0);
    else
        fprintf(stderr, "[%zu/%zu] %s %s%s%s\n", p->index + 1, p->total, what, p->run->name,
                p->message ? ": " : "", p->message ? p->message : "");
}

/* mkdir -p of the directory that will hold path. */
static void make_parent(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *d = dirname(tmp);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(d, 0755);
            *p = '/';
        }
    mkdir(d, 0755);
}

int cmd_bench(int argc, char **argv)
{
    const char *gateway = NULL, *db_path = NULL, *report = NULL, *prices = NULL;
    bool force = false, live_only = false, sim_only = false, no_html = false, json = false;
    const char *seed_s = NULL;
    const cli_opt opts[] = {
        {"gateway", 0, CLI_OPT_STR, &gateway, "URL",
         "use a running platform (default: start 'faasml serve' on 127.0.0.1)"},
        {"db", 0, CLI_OPT_STR, &db_path, "PATH", "results database (default: the spec's)"},
        {"report", 0, CLI_OPT_STR, &report, "DIR", "HTML report directory (default: the spec's)"},
        {"prices", 0, CLI_OPT_STR, &prices, "FILE", "price catalogue (default: the spec's)"},
        {"force", 0, CLI_OPT_FLAG, &force, NULL, "redo runs already complete in the database"},
        {"live-only", 0, CLI_OPT_FLAG, &live_only, NULL, "run only the live cells"},
        {"sim-only", 0, CLI_OPT_FLAG, &sim_only, NULL, "run only the simulated cells"},
        {"no-html", 0, CLI_OPT_FLAG, &no_html, NULL, "skip the HTML report"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "print the comparison as JSON"},
        {"seed", 0, CLI_OPT_STR, &seed_s, "N",
         "seed for arrivals, payloads and the simulator (default: the spec's); runs already "
         "complete keep theirs unless --force redoes them"},
        {0},
    };
    const cli_spec spec = {
        "bench",
        "SPEC.yaml [options]",
        "Expands an experiment spec (models x workloads x platforms x swept settings) into runs, "
        "executes each one open-loop against faasml's platform on this machine (live) or with "
        "the simulator at cloud scale (sim), records everything in the results database, and "
        "prints the comparison and writes the HTML report. Ctrl-C stops after the current run "
        "and keeps every finished run; running again skips runs already complete. See "
        "docs/experiments.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("bench", argv, npos)))
        return rc;
    if (live_only && sim_only)
        return cli_fail("bench", 2, "--live-only and --sim-only exclude each other");
    fm_err err = {0};
    plan_spec sp;
    uint64_t seed = 0;
    if (seed_s && cli_parse_seed(seed_s, &seed))
        return cli_fail("bench", 2, "invalid value '%s' for --seed", seed_s);
    if ((rc = plan_spec_load(argv[0], &sp, &err)))
        return cli_fail("bench", 2, "%s", err.msg);
    if (seed_s)
        sp.seed = seed;
    if (db_path && strcmp(db_path, "none") == 0) {
        plan_spec_release(&sp);
        return cli_fail("bench", 2,
                        "--db none: bench records every run (it skips complete ones when rerun "
                        "and writes the report from them); give a file, or use 'faasml plan' to "
                        "only simulate");
    }
    const char *dbp = db_path ? db_path : sp.results;
    const char *rep = report ? report : sp.report;
    make_parent(dbp);
    store *db;
    if ((rc = store_open(dbp, &db, &err))) {
        plan_spec_release(&sp);
        return cli_fail("bench", 1, "%s", err.msg);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    plan_bench_opts bo = {.gateway = gateway,
                          .force = force,
                          .modes = live_only  ? PLAN_LIVE
                                   : sim_only ? PLAN_SIM
                                              : 0,
                          .stop = &stop_flag,
                          .progress = on_progress};
    plan_bench_summary sum;
    rc = plan_bench_run(&sp, &bo, db, &sum, &err);
    if (rc) {
        cli_fail("bench", 1, "%s", err.msg);
        goto out;
    }
    fprintf(stderr, "%zu runs done, %zu already complete, %zu failed%s\n", sum.done, sum.skipped,
            sum.failed, stop_flag ? ", interrupted" : "");
    cost_catalog *cat = NULL;
    const char *pp = prices ? prices : sp.prices;
    if (cost_catalog_load(pp, &cat, &err)) {
        fprintf(stderr, "faasml bench: no costs: %s\n", err.msg);
        fm_err_clear(&err);
    }
    an_opts ao = {.prices = cat, .snapshot = sp.snapshot};
    an_run **runs = calloc(sum.n_run_ids ? sum.n_run_ids : 1, sizeof *runs);
    size_t nr = 0;
    for (size_t i = 0; runs && i < sum.n_run_ids && !rc; i++)
        if (!(rc = analyze_run(db, sum.run_ids[i], &ao, &runs[nr], &err)))
            nr++;
    if (!rc && nr) {
        rc = json ? analyze_write_json(runs, nr, &ao, stdout)
                  : analyze_write_table(runs, nr, &ao, stdout);
        if (!rc && !no_html) {
            make_parent(rep);
            rc = analyze_write_html(runs, nr, &ao, rep, &err);
            if (!rc)
                printf("\nresults: %s\nreport:  %s/index.html\n", dbp, rep);
        }
    }
    if (rc && !err.msg[0])
        fm_err_set(&err, rc, "writing the report: %s", fm_strerror(rc));
    if (rc)
        cli_fail("bench", 1, "%s", err.msg);
    for (size_t i = 0; i < nr; i++)
        analyze_run_free(runs[i]);
    free(runs);
    cost_catalog_free(cat);
out:
    plan_bench_summary_release(&sum);
    store_close(db);
    plan_spec_release(&sp);
    if (rc)
        return 1;
    return sum.failed || stop_flag ? 1 : 0;
}
