/* faasml report: latency, success ratio, cold starts and cost of recorded runs, as a terminal
 * table, JSON, CSV or an HTML report with gnuplot figures. */
#include "analyze/analyze.h"
#include "cli.h"
#include "cost/cost.h"
#include "store/store.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RUNS 256

typedef struct report_ctx {
    an_opts opts;
    an_run *runs[MAX_RUNS];
    size_t n;
    int n_dbs;
    int64_t ids[MAX_RUNS]; /* run ids of the store being read */
    size_t n_ids;
} report_ctx;

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Why look beside the binary: `build/faasml` finds the repository's data/prices.yaml, and an
 * installed binary finds share/faasml/prices.yaml, without the user naming the file. */
static const char *default_prices(char *buf, size_t cap)
{
    const char *env = getenv("FAASML_PRICES");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        const char *dir = dirname(exe);
        static const char *const rel[] = {"../data/prices.yaml", "../share/faasml/prices.yaml",
                                          "../../data/prices.yaml"};
        for (size_t i = 0; i < FM_ARRAY_LEN(rel); i++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof p, "%s/%s", dir, rel[i]);
            if (is_file(p) && cap >= PATH_MAX && realpath(p, buf))
                return buf;
        }
    }
    return is_file("data/prices.yaml") ? "data/prices.yaml" : NULL;
}

static int add_id(const store_run *r, void *ud)
{
    report_ctx *c = ud;
    if (c->n_ids >= MAX_RUNS)
        return FM_ELIMIT;
    c->ids[c->n_ids++] = r->id;
    return 0;
}

static int found_cb(const store_run *r, void *ud)
{
    (void)r;
    *(bool *)ud = true;
    return 0;
}

/* A run by id, else by name (the latest run of that name). */
static int find_run(store *s, const char *key, int64_t *id, fm_err *err)
{
    if (fm_parse_i64(key, id) == 0) {
        bool found = false;
        int rc = store_run_get(s, *id, found_cb, &found, err);
        if (rc)
            return rc;
        if (found)
            return 0;
    }
    return store_run_find(s, key, id, err);
}

/* Analyses the selected runs of one database: every run, or those named by keys. */
static int report_db(report_ctx *c, const char *db, const char *const *keys, int n_keys,
                     fm_err *err)
{
    store *s;
    int rc = store_open(db, &s, err);
    if (rc)
        return rc;
    c->n_ids = 0;
    if (n_keys == 0) {
        rc = store_runs_each(s, add_id, c, err);
        if (rc == FM_ELIMIT)
            fm_err_set(err, rc, "'%s' holds more than %d runs; choose some with --run", db,
                       MAX_RUNS);
        if (!rc && c->n_ids == 0)
            rc = fm_err_set(err, FM_ENOTFOUND, "no runs recorded in '%s'", db);
    }
    for (int i = 0; !rc && i < n_keys && c->n_ids < MAX_RUNS; i++) {
        rc = find_run(s, keys[i], &c->ids[c->n_ids], err);
        if (rc == FM_ENOTFOUND)
            fm_err_set(err, rc, "no run '%s' in '%s'", keys[i], db);
        c->n_ids++;
    }
    for (size_t i = 0; !rc && i < c->n_ids; i++) {
        if (c->n >= MAX_RUNS) {
            rc = fm_err_set(err, FM_ELIMIT, "more than %d runs; choose fewer", MAX_RUNS);
            break;
        }
        rc = analyze_run(s, c->ids[i], &c->opts, &c->runs[c->n], err);
        if (rc)
            break;
        if (c->n_dbs > 1) {
            char label[600], path[PATH_MAX];
            snprintf(path, sizeof path, "%s", db);
            snprintf(label, sizeof label, "%s:%s", basename(path), c->runs[c->n]->label);
            rc = analyze_run_label(c->runs[c->n], label);
        }
        c->n++;
    }
    store_close(s);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *db = NULL, *format = "table", *html = NULL, *prices = NULL, *snapshot = "current";
    double slo_ms = 0, level = 0.95;
    bool json = false, wide = false, costs = false;
    const char *baseline = NULL;
    cli_strlist runs = {0};
    const cli_opt opts[] = {
        {"db", 0, CLI_OPT_STR, &db, "PATH", "results database holding the runs named as arguments"},
        {"run", 0, CLI_OPT_LIST, &runs, "NAME|ID",
         "report this run of each database (repeatable; default: every run)"},
        {"slo-ms", 0, CLI_OPT_DOUBLE, &slo_ms, "N",
         "latency SLO in ms: success = 2xx within N ms (default: the run's slo_ms, else none)"},
        {"format", 0, CLI_OPT_STR, &format, "FMT", "table (default), json or csv, on stdout"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "machine-readable output (same as --format json)"},
        {"html", 0, CLI_OPT_STR, &html, "DIR",
         "also write an HTML report with SVG figures (gnuplot) to DIR"},
        {"prices", 0, CLI_OPT_STR, &prices, "FILE",
         "price catalogue (default: $FAASML_PRICES, else data/prices.yaml)"},
        {"snapshot", 0, CLI_OPT_STR, &snapshot, "NAME",
         "price snapshot: 2021 or current (default)"},
        {"level", 0, CLI_OPT_DOUBLE, &level, "P", "confidence level of intervals (default 0.95)"},
        {"wide", 0, CLI_OPT_FLAG, &wide, NULL,
         "terminal table: every column in one wide table (default: fits 100 columns)"},
        {"costs", 0, CLI_OPT_FLAG, &costs, NULL,
         "terminal table: each run's cost on every catalogue entry that applies"},
        {"baseline", 0, CLI_OPT_STR, &baseline, "RUN",
         "compare every run with RUN (name, id or label; default: the first run of each "
         "workload, and only runs of that workload)"},
        {0},
    };
    const cli_spec spec = {
        "report",
        "RUN_OR_DB... [--db PATH] [--run NAME|ID]... [options]",
        "Reports latency (mean, p50/p90/p95/p99, max, with confidence intervals), success ratio "
        "under an SLO, throughput, cold starts and their phases, instances over time, "
        "utilisation, load-generator dispatch error and cost of recorded runs, one row per run, "
        "side by side. Each argument is a results database (all its runs, or those chosen "
        "with --run) or, with --db, a run name or id in that database. Costs come from the "
        "price catalogue; the cost of each run on every other applicable catalogue entry is "
        "listed too. Metric definitions: docs/report.md; cost formulas: docs/costs.md.\n\n"
        "examples:\n  faasml report results.db\n  faasml report --db results.db lambda-1024 "
        "gcf-1024 --slo-ms 500\n  faasml report results.db --html report/ --snapshot 2021",
        opts,
        0,
        -1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (json)
        format = "json";
    if (strcmp(format, "table") && strcmp(format, "json") && strcmp(format, "csv"))
        return cli_fail("report", 2, "unknown format '%s' (table, json, csv)", format);
    if (slo_ms < 0)
        return cli_fail("report", 2, "invalid --slo-ms '%g': must be positive", slo_ms);
    if (!(level > 0.5 && level < 1))
        return cli_fail("report", 2, "invalid --level '%g': must be in (0.5, 1)", level);
    if (npos == 0 && !db)
        return cli_fail("report", 2, "name a results database (see --help)");

    fm_err err = {0};
    char pbuf[PATH_MAX];
    cost_catalog *cat = NULL;
    const char *ppath = prices ? prices : default_prices(pbuf, sizeof pbuf);
    if (ppath && cost_catalog_load(ppath, &cat, &err))
        return cli_fail("report", prices ? 2 : 1, "%s", err.msg);
    if (cat && !cost_catalog_snapshot(cat, snapshot)) {
        cost_catalog_free(cat);
        return cli_fail("report", 2, "unknown price snapshot '%s' in '%s'", snapshot, ppath);
    }
    report_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        cost_catalog_free(cat);
        return cli_fail("report", 1, "out of memory");
    }
    c->opts = (an_opts){.slo_ms = slo_ms,
                        .level = level,
                        .prices = cat,
                        .snapshot = snapshot,
                        .wide = wide,
                        .costs = costs};

    /* arguments: database files, and run names/ids looked up in --db */
    const char *keys[CLI_LIST_MAX + 64];
    int n_keys = 0;
    c->n_dbs = db ? 1 : 0;
    for (int i = 0; i < npos; i++)
        c->n_dbs += is_file(argv[i]) && !(db && strcmp(argv[i], db) == 0);
    for (int i = 0; i < npos; i++) {
        if (is_file(argv[i]) && !(db && strcmp(argv[i], db) == 0))
            continue;
        if (db && strcmp(argv[i], db) == 0)
            continue;
        if (!db && access(argv[i], F_OK) != 0) {
            rc = cli_need_file("report", argv[i]);
            goto out;
        }
        if (!db) {
            rc = cli_fail("report", 2,
                          "'%s' is not a results database file (to name a run, "
                          "give --db PATH)",
                          argv[i]);
            goto out;
        }
        if (n_keys < (int)FM_ARRAY_LEN(keys))
            keys[n_keys++] = argv[i];
    }
    for (int i = 0; i < runs.n && n_keys < (int)FM_ARRAY_LEN(keys); i++)
        keys[n_keys++] = runs.v[i];
    rc = 0;
    if (db) {
        if (!is_file(db)) {
            rc = cli_need_file("report", db);
            if (rc == 0)
                rc = cli_fail("report", 2, "'%s' is not a results database file", db);
            goto out;
        }
        rc = report_db(c, db, keys, n_keys, &err);
    }
    for (int i = 0; !rc && i < npos; i++)
        if (is_file(argv[i]) && !(db && strcmp(argv[i], db) == 0))
            rc = report_db(c, argv[i], runs.v, runs.n, &err);
    if (rc) {
        rc = cli_fail("report", rc == FM_ENOTFOUND ? 2 : 1, "%s", err.msg);
        goto out;
    }
    if (baseline) {
        int64_t id = 0;
        bool by_id = fm_parse_i64(baseline, &id) == 0;
        for (size_t i = c->n; i-- > 0;) /* a name picks its latest run, as --run does */
            if (strcmp(c->runs[i]->label, baseline) == 0 ||
                (c->runs[i]->info.name && strcmp(c->runs[i]->info.name, baseline) == 0) ||
                (by_id && c->runs[i]->info.id == id)) {
                c->opts.baseline = c->runs[i];
                break;
            }
        if (!c->opts.baseline) {
            rc = cli_fail("report", 2, "baseline '%s' is not one of the reported runs", baseline);
            goto out;
        }
    }
    if (strcmp(format, "json") == 0)
        rc = analyze_write_json(c->runs, c->n, &c->opts, stdout);
    else if (strcmp(format, "csv") == 0)
        rc = analyze_write_csv(c->runs, c->n, &c->opts, stdout);
    else
        rc = analyze_write_table(c->runs, c->n, &c->opts, stdout);
    if (rc) {
        rc = cli_fail("report", 1, "cannot write the report: %s", fm_strerror(rc));
        goto out;
    }
    if (!cat)
        fprintf(stderr, "faasml report: no price catalogue found (give --prices FILE); costs "
                        "are left out\n");
    if (html) {
        if (analyze_write_html(c->runs, c->n, &c->opts, html, &err)) {
            rc = cli_fail("report", 1, "%s", err.msg);
            goto out;
        }
        fprintf(stderr, "faasml report: wrote %s/index.html\n", html);
    }
out:
    for (size_t i = 0; i < c->n; i++)
        analyze_run_free(c->runs[i]);
    free(c);
    cost_catalog_free(cat);
    return rc;
}
