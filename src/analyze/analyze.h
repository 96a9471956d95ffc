/*
 * analyze — metrics of recorded runs, with confidence intervals, and the report renderers
 * (terminal table, JSON, CSV, HTML with gnuplot figures). It reads the results store only, so a
 * live run and a simulated run are analysed by the same code.
 *
 * Every number may be missing for a reason (an empty run, no successful request, no price): a
 * missing number is an an_num with `why` set to words saying so, never 0 or NaN. Definitions of
 * every metric are in docs/report.md.
 */
#ifndef FM_ANALYZE_H
#define FM_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "cost/cost.h"
#include "store/store.h"

/* ---- statistics (stats.c) ------------------------------------------------------------------ */

/* Nearest-rank quantile of sorted x: x[ceil(p·n) − 1] (p = 0 gives the minimum). n > 0. */
double an_quantile_sorted(const double *x, size_t n, double p);
/* Distribution-free confidence interval for the p-quantile from order statistics: ranks lo < hi
 * (1-based) with P(X(lo) <= q_p <= X(hi)) >= level for any continuous distribution, the
 * narrowest such pair in ranks (ties broken by the coverage nearest to level). *coverage is the
 * exact binomial coverage. FM_ERANGE when n is too small for that level. */
int an_quantile_ci(size_t n, double p, double level, size_t *lo, size_t *hi, double *coverage);
/* Wilson score interval for a proportion k/n at the given level; n > 0. */
void an_wilson(int64_t k, int64_t n, double level, double *lo, double *hi);

/* ---- metrics (metrics.c) ------------------------------------------------------------------- */

/* A number, or the words that stand where it would be. */
typedef struct an_num {
    double v;
    const char *why; /* NULL: v is valid; else a static phrase such as "no successful requests" */
} an_num;

/* An estimate with its confidence interval (has_ci false: ci_why says why there is none). */
typedef struct an_est {
    an_num est;
    bool has_ci;
    double lo, hi;
    double coverage; /* exact coverage of an order-statistic interval; the level otherwise */
    const char *ci_why;
} an_est;

enum { AN_P50, AN_P90, AN_P95, AN_P99, AN__QUANTILES };
extern const double an_quantile_p[AN__QUANTILES];
extern const char *const an_quantile_name[AN__QUANTILES]; /* "p50" ... */

/* Cold-start phases, in the order of store_instance's fields. */
/* The cold-start phases are core's FM_PHASE_MAP (fm_phase); an_phase_name holds their labels. */
#define AN__PHASES FM_PHASE__COUNT
extern const char *const an_phase_name[AN__PHASES];

typedef struct an_metrics {
    const char *function; /* NULL for the whole run */
    int64_t n_requests;   /* every request recorded (scheduled) */
    int64_t n_2xx, n_success, n_invoked, n_throttled, n_failed;
    an_est latency_mean; /* ms, 2xx requests; normal-approximation CI */
    an_est latency_q[AN__QUANTILES];
    an_num latency_max;
    an_est success_ratio; /* Wilson CI */
    an_num throughput_rps, offered_rps;
    int64_t cold_starts;
    an_num cold_rate;
    int64_t n_instances;
    an_num phase_ms[AN__PHASES]; /* mean over instances that recorded the phase */
    an_num init_ms;              /* mean init_ms of cold requests */
    an_num instances_max, instances_mean;
    an_num busy_s, billed_s, utilisation;
    an_num dispatch_mean_ms, dispatch_p99_ms, dispatch_max_ms;
} an_metrics;

typedef struct an_opts {
    double slo_ms; /* > 0: overrides the run's own "slo_ms"; 0: use the run's, else none */
    double level;  /* confidence level, 0 picks 0.95 */
    const cost_catalog *prices; /* NULL: no costs ("no price catalogue") */
    const char *snapshot;       /* NULL picks "current" */
    /* terminal table only */
    bool wide;                     /* every column in one table per kind (no 100-column fit) */
    bool costs;                    /* the cost of each run on every catalogue entry that applies */
    const struct an_run *baseline; /* compare every run with this one (NULL: each workload's
                                      first run, and only runs of that workload) */
} an_opts;

typedef struct an_point2 {
    double x, y;
} an_point2;

typedef struct an_run {
    char *label;            /* "name (#id)", or "db:name (#id)" when several databases */
    char *workload;         /* the workload's identity from the run configuration; NULL: none */
    store_run info;         /* strings owned by the an_run */
    double slo_ms;          /* 0: none */
    const char *slo_source; /* "--slo-ms", "run configuration" or "none" */
    int workers;            /* invocations one instance serves at once (run configuration's
                               "workers", default 1): per-instance utilisation counts worker time */
    an_metrics total;
    an_metrics *funcs;
    int n_funcs;
    /* raw series for the figures (whole run) */
    double *lat_sorted; /* ms of 2xx requests, sorted */
    size_t n_lat;
    an_point2 *timeline; /* (s since start, latency ms) of answered requests */
    size_t n_timeline;
    int *timeline_ok;    /* 1 when that point succeeded */
    an_point2 *arrivals; /* (s, requests scheduled in that second) */
    size_t n_arrivals;
    an_point2 *instances; /* (s, instances alive) steps */
    size_t n_instances;
    const char *instances_source; /* "points table" or "instances table" */
    an_point2 *busy;              /* (s, instances busy), when the points table has it */
    size_t n_busy;
    /* cost */
    cost_usage usage;
    bool has_own;
    cost_result own;     /* valid when has_own; own.priced false says why */
    char own_why[200];   /* when !has_own: why no catalogue entry matches the run */
    cost_result *whatif; /* every applicable entry of the snapshot (own included) */
    size_t n_whatif;
    const char *snapshot;
} an_run;

/* Analyses one run of an open store. *out is owned by the caller (analyze_run_free). */
int analyze_run(store *s, int64_t run_id, const an_opts *opts, an_run **out, fm_err *err);
void analyze_run_free(an_run *r);
/* Were a and b driven by the same workload (arrivals, count and scale), so that comparing their
 * latency and cost is fair? Runs without a recorded workload compare by requests and offered/s. */
bool an_same_workload(const an_run *a, const an_run *b);
/* Sets a run's label (copies it). */
int analyze_run_label(an_run *r, const char *label);

/* ---- rendering (render_text.c, render_html.c) ---------------------------------------------- */

/* One row per run (and per function when a run has several), then notes and the definitions. */
int analyze_write_table(an_run *const *runs, size_t n, const an_opts *o, FILE *out);
int analyze_write_json(an_run *const *runs, size_t n, const an_opts *o, FILE *out);
int analyze_write_csv(an_run *const *runs, size_t n, const an_opts *o, FILE *out);
/* Writes dir/index.html, the SVG figures and beside each figure its .gp script and .dat data, by
 * running gnuplot. Atomic: everything is written to a temporary directory next to dir and renamed
 * into place; on error nothing is left behind. An existing dir is replaced only when it holds a
 * previous faasml report. */
int analyze_write_html(an_run *const *runs, size_t n, const an_opts *o, const char *dir,
                       fm_err *err);

/* Formats a number or its words ("%.*f"), for renderers. */
const char *an_fmt(char *buf, size_t cap, an_num v, int decimals);

#endif
