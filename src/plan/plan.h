/*
 * plan — experiment specs, the run matrix, and the design-space search.
 *
 * An experiment spec (YAML, docs/experiments.md) names models, workloads, platforms (a profile and
 * its settings; lists sweep: memory sizes, batch sizes, provisioned concurrency, runtimes,
 * precisions), an SLO, an accuracy floor, a mode (live, sim or both), a price snapshot and where
 * results go. plan_matrix expands it into runs; `faasml bench` executes them; plan_search explores
 * the same space with the simulator and returns the Pareto front of cost against p99 latency and
 * the cheapest configuration that meets the SLO and the accuracy floor.
 */
#ifndef FM_PLAN_H
#define FM_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "load/load.h"
#include "policy/policy.h"
#include "sim/sim.h"

#define PLAN_SWEEP_MAX 16

typedef enum plan_mode { PLAN_LIVE = 1, PLAN_SIM = 2 } plan_mode;

typedef struct plan_model {
    const char *name;     /* calibration key, e.g. "mobilenetv2" */
    char *path;           /* the ONNX file (resolved; may not exist for sim-only specs) */
    const char *input;    /* input tensor name for generated payloads */
    char shape[64];       /* "1x3x224x224" */
    const char *datatype; /* FP32, INT64 ... */
    char *int8_path;      /* the quantized file live int8 cells deploy (resolved), or NULL */
    bool binary;          /* payload: binary — live requests use KServe v2's binary tensor
                           * extension on /v2/models/NAME/infer instead of a JSON Invoke */
} plan_model;

typedef struct plan_workload {
    const char *name;
    load_spec spec;
} plan_workload;

typedef struct plan_platform {
    const char *name;
    policy_profile profile;
    const char *entry;             /* data/platforms.yaml entry, NULL: the profile's default */
    const fm_ynode *policy;        /* overrides (policy_config_apply_yaml), may be NULL */
    int memory_mb[PLAN_SWEEP_MAX]; /* swept */
    int nmemory;
    int batch[PLAN_SWEEP_MAX]; /* server-side batch max_size, swept */
    int nbatch;
    int64_t batch_delay_ns;
    int provisioned[PLAN_SWEEP_MAX]; /* swept */
    int nprovisioned;
    const char *runtime[PLAN_SWEEP_MAX]; /* faasml, python-torch, pytorch-gpu; swept */
    int nruntime;
    const char *precision[PLAN_SWEEP_MAX]; /* fp32, bf16, int8; swept */
    int nprecision;
    const char *device; /* cpu, gpu */
    int instances;      /* server fleet size / managed max (0: the entry's) */
    int modes;          /* PLAN_LIVE | PLAN_SIM allowed for this platform */
    double threads;     /* inference threads per instance */
    const char *offer;  /* price catalogue entry to bill on (NULL: by profile/type) */
} plan_platform;

/* The accuracy a configuration must keep against FP32 (measured: the calibration's accuracy
 * entries). FP32 configurations are the reference and meet any floor. */
typedef struct plan_accuracy {
    bool set;           /* the spec names an accuracy floor */
    double min_cosine;  /* the worst sample's cosine similarity (cosine_min) >= this; -2: any */
    double min_top1;    /* top-1 agreement >= this (0..1); -1: any */
    double max_rel_err; /* max relative error <= this; < 0: any */
} plan_accuracy;

typedef struct plan_spec {
    char *name;
    uint64_t seed;
    int modes; /* PLAN_LIVE | PLAN_SIM */
    double slo_ms;
    double success_target; /* e.g. 0.99 */
    plan_accuracy accuracy;
    const char *snapshot;      /* price snapshot: "2021" or "current" */
    char *results;             /* results database path */
    char *report;              /* report directory */
    char *prices;              /* price catalogue path */
    sim_calib *calib;          /* NULL when the spec names no calibration */
    sim_host sim_host;         /* host of the cloud-scale simulation (cloud) */
    double sim_scale;          /* workload rate multiplier for the cloud-scale simulation */
    int64_t client_timeout_ns; /* a client gives up on a request after this long (live and sim) */
    plan_model *models;
    int nmodels;
    plan_workload *workloads;
    int nworkloads;
    plan_platform *platforms;
    int nplatforms;
    fm_yaml *doc;
    char *base_dir;
} plan_spec;

/* One cell of the matrix. */
typedef struct plan_run {
    char name[200]; /* "quick/mobilenetv2/bursty/lambda/m1769-b1-pc0" */
    const plan_model *model;
    const plan_workload *workload;
    const plan_platform *platform;
    int memory_mb, batch, provisioned;
    const char *runtime;
    const char *precision; /* fp32, bf16, int8 */
    int mode;              /* PLAN_LIVE or PLAN_SIM */
    policy_config policy;  /* resolved: defaults + overrides + this cell's values */
} plan_run;

int plan_spec_load(const char *path, plan_spec *out, fm_err *err);
/* The same from a buffer holding the spec's text; `name` labels errors (name:line:col) and
 * base_dir resolves relative paths (NULL: the current directory). */
int plan_spec_load_buf(const char *buf, size_t len, const char *name, const char *base_dir,
                       plan_spec *out, fm_err *err);
void plan_spec_release(plan_spec *s);
/* Expands the spec; *runs is malloc'd (free it). Live cells come before sim cells. */
int plan_matrix(const plan_spec *s, plan_run **runs, size_t *n, fm_err *err);
/* The configuration of a run as JSON (stored with the run; includes slo_ms), malloc'd. */
char *plan_run_config_json(const plan_spec *s, const plan_run *r);
/* A sim_function for a run; the workload is scaled by `scale` (rates × scale). */
int plan_sim_function(const plan_spec *s, const plan_run *r, double scale, sim_function *out,
                      fm_err *err);
/* The simulator options every simulated run of the spec shares (host, seed, calibration, full
 * records, the client timeout), recording into db as run r with configuration cfg. */
sim_opts plan_sim_opts(const plan_spec *s, const plan_run *r, store *db, const char *cfg);
/* Multiplies every rate of a workload by k (and a request bound by k). */
void plan_scale_workload(load_spec *w, double k);

/* ---- design-space search ------------------------------------------------------------------- */
typedef struct plan_point {
    const plan_run *run;
    double p50_ms, p99_ms, success_ratio;
    bool priced;
    double cost_usd, cost_per_1m;
    bool meets_slo;
    bool has_accuracy; /* acc holds the calibration's measurement (or FP32's exact 1) */
    sim_accuracy acc;
    bool meets_accuracy; /* true when the spec sets no floor */
    bool pareto;         /* on the front of the points that meet the accuracy floor */
} plan_point;

typedef struct plan_search_opts {
    double slo_ms;      /* overrides the spec's when > 0 */
    double scale;       /* workload scale for the simulations (default: the spec's sim scale) */
    const char *prices; /* catalogue path (default: the spec's) */
    int (*progress)(size_t done, size_t total, const plan_point *p, void *ud);
    void *ud;
} plan_search_opts;

typedef struct plan_result {
    plan_run *runs; /* the candidates (sim cells of the matrix) */
    plan_point *points;
    size_t n;
    int best; /* index of the cheapest point meeting the SLO and accuracy floor, -1:
                 none */
} plan_result;

int plan_search(const plan_spec *s, const plan_search_opts *o, plan_result *out, fm_err *err);
/* Whether a run's precision keeps the spec's accuracy floor, by the calibration's measurement
 * (FP32 is the reference: exact); *acc (may be NULL) gets the figures, *known whether any. */
bool plan_accuracy_meets(const plan_spec *s, const plan_run *r, sim_accuracy *acc, bool *known);
void plan_result_release(plan_result *r);

/* ---- the executor (faasml bench) ------------------------------------------------------------ */
typedef enum plan_bench_ev {
    PLAN_EV_START,
    PLAN_EV_DONE,
    PLAN_EV_SKIP,
    PLAN_EV_FAIL
} plan_bench_ev;

typedef struct plan_bench_progress {
    plan_bench_ev ev;
    const plan_run *run;
    size_t index, total;
    double eta_s;        /* estimated seconds left for the whole matrix */
    const char *message; /* why skipped or failed; a one-line summary when done */
} plan_bench_progress;

typedef struct plan_bench_opts {
    const char *gateway;     /* a running platform's URL; NULL: start `faasml serve` */
    const char *self_exe;    /* the faasml binary (for serve); NULL: /proc/self/exe */
    bool force;              /* redo runs already complete in the results database */
    int modes;               /* PLAN_LIVE | PLAN_SIM to run (intersected with the spec's) */
    volatile int *stop;      /* set (e.g. by SIGINT) to stop after the current run */
    const char *const *only; /* when set: run only the cells with these names (n_only of them) */
    size_t n_only;
    void (*progress)(const plan_bench_progress *p, void *ud);
    void *ud;
} plan_bench_opts;

typedef struct plan_bench_summary {
    size_t done, skipped, failed, interrupted;
    int64_t *run_ids; /* every run of the matrix found or made in the database, in order */
    size_t n_run_ids;
} plan_bench_summary;

/* Runs the matrix into db. Finished runs are never lost: each run is committed when it ends. */
int plan_bench_run(const plan_spec *s, const plan_bench_opts *o, store *db, plan_bench_summary *out,
                   fm_err *err);
void plan_bench_summary_release(plan_bench_summary *s);

#endif
