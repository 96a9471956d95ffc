/*
 * sim — faasml's discrete-event simulator: the platform policies (src/policy) on a virtual clock.
 *
 * The engine feeds arrivals from the load module's arrival processes into the very policy code the
 * live platform runs, and models what the live platform's processes do physically: instance
 * start-up (cold-start phases), service of each dispatch (per request or per batch), stops and
 * timeouts. Service and cold-start times are sampled from calibration files measured on real
 * hardware (`faasml calibrate`, or written by hand from measurements made elsewhere).
 *
 * Host capacity: `cloud` gives every instance its own CPU share (as a cloud does); `cores N` makes
 * the instances share N cores by processor sharing, as they do on one machine, so a simulated run
 * can be compared with a live run on this machine.
 *
 * Results land in the results store with the same schema as a live run (mode "sim").
 */
#ifndef FM_SIM_H
#define FM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "load/load.h"
#include "policy/policy.h"
#include "store/store.h"

/* ---- distributions -------------------------------------------------------------------------
 * A positive duration distribution: an empirical quantile table (piecewise-linear inverse CDF),
 * or a lognormal fitted to p50/p99, or a constant. Values in milliseconds. */
#define SIM_DIST_MAXQ 16
typedef enum sim_dist_kind {
    SIM_DIST_CONST,
    SIM_DIST_LOGNORMAL,
    SIM_DIST_QUANTILES,
    SIM_DIST_EXP /* exponential with mean `value` (queueing-theory checks) */
} sim_dist_kind;

typedef struct sim_dist {
    sim_dist_kind kind;
    double value;     /* const */
    double mu, sigma; /* lognormal of ln(ms) */
    int nq;           /* quantiles: nq points, p ascending from 0 to 1 */
    double p[SIM_DIST_MAXQ], v[SIM_DIST_MAXQ];
} sim_dist;

double sim_dist_sample(const sim_dist *d, fm_rng *rng);
double sim_dist_quantile(const sim_dist *d, double q);
/* Lognormal through p50 and p99 (p99 >= p50 > 0; equal values give a constant). */
void sim_dist_from_p50_p99(sim_dist *d, double p50, double p99);
/* The same distribution scaled by f (times f). */
void sim_dist_scale(sim_dist *d, double f);

/* ---- calibration ----------------------------------------------------------------------------
 * A calibration file holds, per (model, runtime, device): inference latency per memory size and
 * batch size, and cold-start phases per memory size. See docs/simulator.md for the format. */
typedef struct sim_calib sim_calib;

typedef struct sim_key {
    const char *model;   /* mobilenet_v2 */
    const char *runtime; /* faasml, python-torch, pytorch-gpu */
    const char *device;  /* cpu, gpu */
} sim_key;

/* Cold-start phases: fm_phase (core.h FM_PHASE_MAP), the calibration keys <key>_ms. */

typedef struct sim_cold {
    sim_dist phase[FM_PHASE__COUNT];
    double provision_ms; /* extra delay before a start begins (managed instances): 0 */
} sim_cold;

int sim_calib_load(const char *path, sim_calib **out, fm_err *err);
/* Merges every entry of `other` into c (later files win on equal keys). */
int sim_calib_load_more(sim_calib *c, const char *path, fm_err *err);
/* The same from a buffer holding the file's text; `name` labels errors (name:line:col). */
int sim_calib_load_buf(const char *buf, size_t len, const char *name, sim_calib **out, fm_err *err);
int sim_calib_load_more_buf(sim_calib *c, const char *buf, size_t len, const char *name,
                            fm_err *err);
void sim_calib_free(sim_calib *c);
/* Service-time distribution of one dispatch of `batch` items on an instance of memory_mb
 * (interpolated between measured memory sizes in 1/CPU-share, and between measured batch sizes
 * linearly; extrapolated from the nearest two). FM_ENOTFOUND names the key when unmeasured. */
int sim_calib_service(const sim_calib *c, const sim_key *k, int memory_mb, int batch, sim_dist *out,
                      fm_err *err);
int sim_calib_cold(const sim_calib *c, const sim_key *k, int memory_mb, sim_cold *out, fm_err *err);
/* Client-observed latency outside the function (entries' `overhead_ms`, from live runs), or a
 * constant 0 with FM_ENOTFOUND when no entry of the key has one. */
int sim_calib_overhead(const sim_calib *c, const sim_key *k, sim_dist *out);
/* The CPU share of a memory size, as on Lambda: memory/1769 vCPU, at most 6. */
double sim_cpu_share(int memory_mb);

/* ---- a simulation run ------------------------------------------------------------------------ */
typedef enum sim_host_kind { SIM_HOST_CLOUD, SIM_HOST_CORES } sim_host_kind;

typedef struct sim_host {
    sim_host_kind kind;
    double cores; /* SIM_HOST_CORES: cores shared by all instances */
    /* SIM_HOST_CORES: the memory its instances may be promised (the spec's `host_capacity`,
     * docs/policies.md); memory_mb 0: no limit. The policy admits starts against it, as live. */
    policy_host_config capacity;
} sim_host;

typedef struct sim_function {
    const char *name;
    policy_config policy;       /* the profile and its settings */
    load_spec workload;         /* arrivals of this function (borrowed) */
    sim_key key;                /* which calibration entry serves it */
    int items;                  /* items per request (client-side batch), >= 1 */
    double threads;             /* CPU demand of a busy instance in cores (default 1) */
    const int64_t *schedule_ns; /* optional exact arrival times (replaying a live run) */
    size_t schedule_n;
    const sim_dist *service; /* optional: service time of every dispatch (a trace's execution
                                times), instead of the calibration's */
    bool cold_const;         /* cold starts take cold_ms (a spec constant), not the calibration's */
    double cold_ms;
} sim_function;

typedef enum sim_record { SIM_RECORD_ALL, SIM_RECORD_SAMPLE, SIM_RECORD_NONE } sim_record;

typedef struct sim_opts {
    sim_host host;
    uint64_t seed;
    const sim_calib *calib;
    store *db; /* NULL: nothing recorded beyond the result */
    const char *run_name;
    const char *config_json; /* stored with the run */
    sim_record record;       /* requests stored: all, 1 in `sample_every`, or none */
    uint64_t sample_every;
    int64_t series_step_ns;    /* instances-by-state time series step (default 1 s; 0 keeps it) */
    int64_t client_timeout_ns; /* a request still waiting for a worker this long after it
                                  arrived gives up (CANCEL, recorded as a 504); 0: never */
    volatile int *stop;        /* set to end the run early */
    /* the price catalogue invocations are billed on (cost_invocation_bill: granularity and INIT
     * billing from the profile's default entry of `snapshot`, "current" when NULL); NULL: the
     * simulator bills nothing (billed_ms 0) and the analyzer bills the recorded duration and INIT
     * on its own catalogue (callers that carry none, such as the planner's search) */
    const struct cost_catalog *prices;
    const char *snapshot;
} sim_opts;

typedef struct sim_fn_result {
    uint64_t arrivals, ok, throttled, rejected, timeouts, failed;
    uint64_t cold_starts, dispatches, instances_started;
    double billed_ms_total; /* sum of billed ms over invocations */
    double gb_s;            /* billed GB-seconds */
    double instance_s;      /* instance lifetime seconds (start to stop) */
    double busy_s;          /* instance busy seconds */
    double wasted_gb_s;     /* memory x (lifetime - busy) of its instances: kept, not working */
    int peak_instances;
    fm_hist *latency; /* ns, successful requests, owned by the result */
} sim_fn_result;

typedef struct sim_result {
    int64_t run_id; /* 0 when not recorded */
    int nfn;
    sim_fn_result *fn; /* nfn entries */
    uint64_t events;
    int64_t end_ns; /* virtual time of the last event */
    double wall_s;  /* real seconds the run took */
} sim_result;

/* Greedy-dual functions share one memory pool per distinct greedy_dual.budget_mb (a host's memory
 * for instances); calib may be NULL when every function brings its service and cold-start times. */
int sim_run(const sim_function *fns, int nfn, const sim_opts *opts, sim_result *out, fm_err *err);
void sim_result_release(sim_result *r);

/* ---- production traces ------------------------------------------------------------------------
 * The Azure Functions 2019 trace in the In-Vitro sample layout (PREFIX_inv.csv, PREFIX_run.csv,
 * PREFIX_mem.csv; ../shared/traces/README.md). Errors name file:line: a malformed row, a negative
 * count, a function without a durations row or an app without a memory row. */
typedef struct sim_trace_fn {
    char *function, *app; /* HashFunction, HashApp */
    uint64_t *counts;     /* invocations per minute, sim_trace.minutes of them */
    uint64_t total;
    sim_dist duration; /* execution time, ms: the percentile row as an inverse CDF */
    double memory_mb;  /* the app's average allocated memory */
    int line;          /* its row in the invocations file */
} sim_trace_fn;

typedef struct sim_trace {
    sim_trace_fn *fn;
    int n, minutes;
} sim_trace;

typedef struct sim_trace_files {
    const char *inv;
    size_t inv_len;
    const char *inv_name;
    const char *run;
    size_t run_len;
    const char *run_name;
    const char *mem;
    size_t mem_len;
    const char *mem_name;
} sim_trace_files;

/* max_functions <= 0: every row; else the first max_functions rows. */
int sim_trace_parse(const sim_trace_files *f, int max_functions, sim_trace *t, fm_err *err);
int sim_trace_load_dir(const char *dir, const char *prefix, int max_functions, sim_trace *t,
                       fm_err *err);
void sim_trace_release(sim_trace *t);

/* ---- simulation specs -----------------------------------------------------------------------
 * A YAML document describing a simulation (docs/simulator.md):
 *   name, seed, host (cloud | {cores: N}), calibration (file or list of files),
 *   functions: [{name, model, runtime, device, items, threads, profile, platform,
 *                policy: {...overrides}, workload: {...load spec}}]
 * The spec owns everything the functions point to. */
typedef struct sim_variant {
    const char *name;
    const fm_yaml *doc;
    const fm_ynode *policy; /* overrides applied to every function, in doc */
} sim_variant;

typedef struct sim_spec {
    char *name;
    uint64_t seed;
    sim_host host;
    sim_calib *calib;
    sim_function *fns;
    int nfn;
    fm_yaml *doc;          /* keeps strings alive */
    sim_trace trace;       /* a `trace:` spec: its functions, one per trace row */
    policy_config *base;   /* each function's policy before any variant */
    sim_variant *variants; /* `variants:`: the same functions under several policy overrides */
    int nvariants;
} sim_spec;

/* Sets every function's policy to its base plus variant v's overrides (v < 0: the base). */
int sim_spec_use_variant(sim_spec *s, int v, fm_err *err);

/* The keep-alive view of a run (docs/simulator.md, "keep-alive on a trace"): cold starts over
 * all invocations and for the 75th-percentile function (functions with at least one
 * invocation), and the memory-time of idle instances. */
typedef struct sim_keepalive_summary {
    uint64_t invocations, cold_starts;
    double cold_pct, cold_pct_p75_fn, wasted_gb_s;
    uint64_t instances_started;
} sim_keepalive_summary;

void sim_keepalive_summarize(const sim_result *r, sim_keepalive_summary *out);

/* base_dir resolves relative calibration paths (NULL: relative to the current directory). */
int sim_spec_load(const char *path, sim_spec *out, fm_err *err);
int sim_spec_from_yaml(const fm_yaml *y, const fm_ynode *root, const char *base_dir, sim_spec *out,
                       fm_err *err);
void sim_spec_release(sim_spec *s);

/* The arrival schedule of a recorded run (its requests' scheduled times, sorted, shifted so the
 * first is 0), for replaying a live run in the simulator. function NULL takes every request.
 * *out is malloc'd. FM_ENOTFOUND when the run recorded no request. */
int sim_schedule_from_run(store *db, int64_t run_id, const char *function, int64_t **out, size_t *n,
                          fm_err *err);

/* The configuration a simulated run stores (JSON, malloc'd): host, and per function its profile,
 * platform entry, model, runtime, memory size, instance type and workers. */
char *sim_spec_config_json(const sim_spec *s, const sim_opts *o);

#endif
