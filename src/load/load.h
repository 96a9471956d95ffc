/*
 * load — arrival processes and the open-loop HTTP load generator.
 *
 * Two halves with one contract between them:
 *  - arrival processes (constant, Poisson, MMPP, piecewise ramp/step/sine, timestamp traces, the
 *    Azure Functions per-minute trace): pure functions of a spec and a seed, no I/O, no clock.
 *    load_arrival_next() yields the next arrival time in ns since the start of the schedule. The
 *    simulator drives the same iterators on its virtual clock.
 *  - the driver: sends one HTTP request per arrival at its scheduled time, through its own lean
 *    HTTP/1.1 keep-alive client or libcurl's multi interface (TLS, HTTP/2, SigV4), never waiting
 *    for a response before the next send (open loop), and records each request as the client
 *    saw it.
 */
#ifndef FM_LOAD_H
#define FM_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

#define LOAD_MMPP_MAX 16
#define LOAD_SEG_MAX 64

/* ---- workload spec ------------------------------------------------------------------------- */

typedef enum load_process {
    LOAD_PROC_CONSTANT,  /* evenly spaced at `rate`, first arrival at 0 */
    LOAD_PROC_POISSON,   /* exponential gaps at `rate` */
    LOAD_PROC_MMPP,      /* Markov-modulated Poisson process */
    LOAD_PROC_PIECEWISE, /* rate(t) from segments (step, ramp, sine) */
    LOAD_PROC_TRACE,     /* replay of a timestamp file */
    LOAD_PROC_AZURE,     /* Azure Functions 2019 per-minute invocation counts */
    LOAD_PROC__COUNT
} load_process;

const char *load_process_name(load_process p);
int load_process_parse(const char *s, load_process *out); /* FM_EINVAL when unknown */

/* MMPP: k states with a Poisson rate each (>= 0, at least one > 0). The modulating chain is given
 * either as a generator matrix Q (off-diagonal >= 0, rows sum to 0) or as mean sojourn times with
 * a jump (transition) matrix P (rows sum to 1, zero diagonal); then Q[i][j] = P[i][j]/sojourn[i].
 */
typedef struct load_mmpp {
    int k;
    double rate[LOAD_MMPP_MAX];
    bool have_generator;
    double generator[LOAD_MMPP_MAX][LOAD_MMPP_MAX]; /* per second */
    double sojourn_s[LOAD_MMPP_MAX];
    double transition[LOAD_MMPP_MAX][LOAD_MMPP_MAX];
} load_mmpp;

typedef enum load_seg_kind { LOAD_SEG_STEP, LOAD_SEG_RAMP, LOAD_SEG_SINE } load_seg_kind;

/* One piece of a piecewise schedule. step: rate = a; ramp: a -> b linearly; sine: mean a,
 * amplitude b (b <= a), period_s. Rates in requests per second, >= 0. */
typedef struct load_segment {
    load_seg_kind kind;
    double a, b, period_s;
    int64_t duration_ns;
} load_segment;

typedef enum load_spacing {
    LOAD_SPACING_POISSON, /* non-homogeneous Poisson process with rate(t) */
    LOAD_SPACING_EVEN     /* deterministic: one arrival per unit of integrated rate */
} load_spacing;

/* How the Azure trace's per-minute count n is spread inside its minute. */
typedef enum load_spread {
    LOAD_SPREAD_UNIFORM, /* exactly n arrivals at independent uniform times, sorted */
    LOAD_SPREAD_POISSON, /* a Poisson process at n/60 per second (count varies around n) */
    LOAD_SPREAD_EQUAL    /* exactly n arrivals equally spaced, at (j + 0.5) * 60 s / n */
} load_spread;

int load_spread_parse(const char *s, load_spread *out);
const char *load_spread_name(load_spread s);

/* Units of a timestamp trace file. */
typedef enum load_unit { LOAD_UNIT_S, LOAD_UNIT_MS, LOAD_UNIT_US, LOAD_UNIT_NS } load_unit;
int load_unit_parse(const char *s, load_unit *out);

/* The workload: a process, its parameters and the bounds of the run. Trace data (times, counts)
 * is owned by the spec and freed by load_spec_release; load_spec_init zeroes everything. */
typedef struct load_spec {
    load_process process;
    double rate; /* constant, poisson */
    load_mmpp mmpp;
    load_segment seg[LOAD_SEG_MAX];
    int nseg;
    load_spacing spacing;
    bool repeat;       /* piecewise: cycle through the segments until a bound ends the run */
    int64_t *trace_ns; /* trace: sorted arrival times, shifted so the first is 0 */
    size_t trace_n;
    uint64_t *azure_counts; /* azure: invocations per minute (sum of the selected functions) */
    size_t azure_minutes;
    load_spread spread;
    uint64_t requests;   /* bound: at most this many arrivals; 0 = no bound */
    int64_t duration_ns; /* bound: arrivals strictly before this time; 0 = no bound */
    uint64_t seed;
} load_spec;

void load_spec_init(load_spec *s);
void load_spec_release(load_spec *s);
/* Checks every parameter (rates, matrices, segments, bounds); the message names the problem. */
int load_spec_validate(const load_spec *s, fm_err *err);
/* Fills spec from a YAML workload document (see docs/load.md); errors name file:line:col. */
int load_spec_from_yaml(const fm_yaml *y, const fm_ynode *map, load_spec *s, fm_err *err);
/* Compact forms used by the command line: "10,100" (durations when `durations`: "10s,2s"),
 * matrices "0,1;1,0", segments "step:RATE:DUR", "ramp:FROM:TO:DUR",
 * "sine:MEAN:AMPLITUDE:PERIOD:DUR". */
int load_parse_list(const char *s, bool durations, double *out, int max, int *n, fm_err *err);
int load_parse_matrix(const char *s, double m[LOAD_MMPP_MAX][LOAD_MMPP_MAX], int *k, fm_err *err);
int load_segment_parse(const char *s, load_segment *g, fm_err *err);
/* Read and parse a trace file into the spec (and set its process). */
int load_spec_load_trace(load_spec *s, const char *path, load_unit unit, fm_err *err);
int load_spec_load_azure(load_spec *s, const char *path, const char *function, fm_err *err);
/* Writes the spec as one JSON object (for the results store); returns a malloc'd string. */
char *load_spec_to_json(const load_spec *s);

/* ---- traces ---------------------------------------------------------------------------------
 * Timestamp file: one time per line in `unit`, non-decreasing; blank lines and lines starting with
 * '#' are skipped. Times are shifted so that the first arrival is at 0. */
int load_trace_parse(const char *buf, size_t len, load_unit unit, const char *name, int64_t **out,
                     size_t *n, fm_err *err);
/* Azure Functions 2019 invocations_per_function_md.anon.d*.csv: header
 * HashOwner,HashApp,HashFunction,Trigger,1,...,1440 then one row per function. `function` selects
 * rows whose HashFunction equals it, NULL selects all (counts are summed per minute). */
int load_azure_parse(const char *buf, size_t len, const char *name, const char *function,
                     uint64_t **counts, size_t *minutes, fm_err *err);

/* ---- MMPP analysis ------------------------------------------------------------------------- */
typedef struct load_mmpp_info {
    int k;
    double q[LOAD_MMPP_MAX][LOAD_MMPP_MAX]; /* generator, per second */
    double pi[LOAD_MMPP_MAX];               /* stationary distribution of the chain */
    double mean_rate;                       /* sum pi_i * rate_i, per second */
    double idc_inf;                         /* asymptotic index of dispersion for counts */
} load_mmpp_info;

/* Validates the MMPP and computes its generator, stationary distribution, mean rate and
 * asymptotic index of dispersion. */
int load_mmpp_analyze(const load_mmpp *m, load_mmpp_info *out, fm_err *err);
/* Index of dispersion for counts, Var N(t) / E N(t), over a window of t seconds, for the
 * stationary MMPP described by info and rates. */
double load_mmpp_idc(const load_mmpp_info *info, const double *rate, double t);

/* ---- arrival iterator ---------------------------------------------------------------------- */
typedef struct load_arrival load_arrival;

typedef struct load_arrival_stats {
    uint64_t count;                    /* arrivals yielded so far */
    int64_t last_ns;                   /* time of the last one */
    int mmpp_state;                    /* current MMPP state, -1 for other processes */
    double mmpp_time_s[LOAD_MMPP_MAX]; /* time spent in each state up to last_ns */
    uint64_t mmpp_transitions;
} load_arrival_stats;

/* The spec is validated and copied; trace data stays owned by the spec, which must outlive the
 * iterator. The seed is spec->seed; the same spec and seed give the same schedule, bit for bit. */
int load_arrival_new(const load_spec *spec, load_arrival **out, fm_err *err);
void load_arrival_free(load_arrival *a);
/* Next arrival time in ns since the start of the schedule (non-decreasing). Returns true with
 * *t_ns set, false when the schedule (or a bound) has ended. */
bool load_arrival_next(load_arrival *a, int64_t *t_ns);
void load_arrival_stats_get(const load_arrival *a, load_arrival_stats *out);

/* Statistics of a whole schedule, computed by running a fresh iterator to its end. */
#define LOAD_IDC_WINDOWS 4
typedef struct load_schedule_stats {
    uint64_t count;
    int64_t first_ns, last_ns;
    double span_s;                         /* duration bound when set, else the last arrival time */
    double mean_rate;                      /* count / span_s */
    uint64_t max_per_s;                    /* most arrivals in any one-second window [k, k+1) */
    double idc_window_s[LOAD_IDC_WINDOWS]; /* 0.1, 1, 10, 60 s */
    double idc[LOAD_IDC_WINDOWS];          /* Var/mean of counts per window; NAN when < 10 */
    bool have_mmpp;
    load_mmpp_info mmpp; /* the theory, for MMPP specs */
    double mmpp_idc[LOAD_IDC_WINDOWS];
} load_schedule_stats;

int load_schedule_stats_compute(const load_spec *spec, load_schedule_stats *out, fm_err *err);

/* ---- payloads -------------------------------------------------------------------------------- */
typedef struct load_payloads load_payloads;
typedef enum load_pick { LOAD_PICK_ROUND_ROBIN, LOAD_PICK_RANDOM } load_pick;

/* From a file, or every regular file of a directory (sorted by name). */
int load_payloads_from_path(const char *path, load_pick pick, uint64_t seed, load_payloads **out,
                            fm_err *err);
/* A KServe v2 JSON request with one tensor, "NAME:1x3x224x224:FP32", filled with seeded random
 * values (FP32, FP64, INT32, INT64, UINT8). */
int load_payloads_tensor(const char *spec, uint64_t seed, load_payloads **out, fm_err *err);
/* The same tensor (the same values) as the KServe v2 binary tensor extension: a JSON header with
 * binary_data_size, then the raw little-endian data. *header_len is the header's length, the value
 * of the Inference-Header-Content-Length request header. */
int load_payloads_tensor_binary(const char *spec, uint64_t seed, load_payloads **out,
                                size_t *header_len, fm_err *err);
/* A single literal body. */
int load_payloads_literal(const char *body, load_payloads **out, fm_err *err);
void load_payloads_free(load_payloads *p);
size_t load_payloads_count(const load_payloads *p);
/* The body of request `id` (1-based): round-robin takes body (id - 1) mod n, random a seeded hash
 * of id; either way a pure function of the seed and the id. Safe from several threads. */
void load_payloads_get(const load_payloads *p, uint64_t id, const char **data, size_t *len);

/* ---- driver ---------------------------------------------------------------------------------- */
typedef enum load_status {
    LOAD_ST_OK,
    LOAD_ST_ERROR,     /* HTTP >= 400 (not 429) or X-Amz-Function-Error */
    LOAD_ST_THROTTLED, /* HTTP 429 */
    LOAD_ST_TIMEOUT,
    LOAD_ST_DROPPED, /* not sent: max in flight reached at its scheduled time */
    LOAD_ST_CONN_ERROR,
    LOAD_ST__COUNT
} load_status;

const char *load_status_name(load_status s); /* the store's names: ok, error, ... */

/* One request as the client saw it. Times are ns since the start of the run on the monotonic
 * clock; 0 means "did not happen" (the run starts at 1 ns so 0 is never a real time). */
typedef struct load_record {
    uint64_t id;
    int64_t scheduled_ns;
    int64_t dispatch_ns; /* handed to the transport by the timing loop */
    int64_t sent_ns;     /* just before the request went on the wire (connection up) */
    int64_t
        first_byte_ns; /* first response byte read (libcurl: sent + STARTTRANSFER - PRETRANSFER) */
    int64_t done_ns;   /* response complete (libcurl: sent + TOTAL - PRETRANSFER), or our
                        * clock when never sent */
    load_status status;
    int http_code;
    char error[96];                         /* empty when none */
    int cold;                               /* 1, 0, or -1 when the response did not say */
    int64_t instance;                       /* -1 when unknown */
    double init_ms, duration_ms, billed_ms; /* < 0 when unknown */
    int memory_mb;                          /* 0 when unknown */
    bool reused_conn;
} load_record;

/* How requests are sent. lean: the driver's own HTTP/1.1 keep-alive client (plain http:// only,
 * several times cheaper per request); libcurl: TLS, HTTP/2, SigV4; auto: lean when it can. */
typedef enum load_client {
    LOAD_CLIENT_AUTO,
    LOAD_CLIENT_LEAN,
    LOAD_CLIENT_CURL,
    LOAD_CLIENT__COUNT
} load_client;
const char *load_client_name(load_client c);
int load_client_parse(const char *s, load_client *out); /* FM_EINVAL when unknown */

/* Where requests go. url is the full request URL. */
typedef struct load_target {
    const char *url;
    const char *method;         /* NULL: POST with a payload, GET without */
    const char *content_type;   /* NULL: application/json */
    const char *const *headers; /* extra "Name: value" lines */
    int nheaders;
    const char *aws_sigv4;   /* CURLOPT_AWS_SIGV4 value ("aws:amz:us-east-1:lambda") or NULL */
    const char *aws_userpwd; /* "ACCESS_KEY:SECRET" for SigV4 */
    bool http2;              /* HTTP/2 (prior knowledge on http://, ALPN on https://) */
    bool lambda_log_tail;    /* send X-Amz-Log-Type: Tail and parse the REPORT line */
    load_client client;      /* zero: auto */
} load_target;

typedef struct load_progress {
    int64_t elapsed_ns;
    uint64_t scheduled, sent, in_flight, done, errors, dropped;
    double rate_now, rate_planned; /* per second over the last interval */
    uint64_t p50_ns, p99_ns;       /* latency from the scheduled time, so far */
} load_progress;

typedef void (*load_record_fn)(const load_record *r, void *ud);     /* writer thread */
typedef void (*load_progress_fn)(const load_progress *p, void *ud); /* timing thread */

typedef struct load_run_opts {
    int max_in_flight;   /* > 0, shared evenly by the timing loops */
    int threads;         /* timing loops (0 or 1: one) */
    int64_t timeout_ns;  /* per request, > 0 */
    int64_t spin_ns;     /* busy-wait this long before a send (0: sleep only; < 0: adaptive,
                          * the kernel's recent wake-up lateness, at most 50 us) */
    int rt_priority;     /* > 0: run the timing loop SCHED_FIFO at this priority (needs
                          * CAP_SYS_NICE; refused with FM_EINVAL otherwise) */
    int64_t progress_ns; /* progress callback period; 0: never */
    load_progress_fn progress;
    load_record_fn record; /* called once per request, in completion order, on a
                            * writer thread */
    void *ud;
    volatile sig_atomic_t *stop; /* set to stop scheduling; in-flight requests finish */
    int64_t *t0_out; /* receives the monotonic ns that run times count from, before any record */
} load_run_opts;

#define LOAD_HIST_KINDS 3
typedef struct load_summary {
    uint64_t count[LOAD_ST__COUNT];
    uint64_t total;       /* scheduled */
    double success_ratio; /* ok / scheduled */
    int64_t elapsed_ns;
    double achieved_rate; /* sent per second */
    bool interrupted;
    const char *client; /* "lean" or "libcurl" */
    /* Timing. behind: arrivals the loops picked up more than 1 ms after their time (sent or
     * dropped), behind_woke of them because the kernel woke the loop late; late: requests sent
     * more than 1 ms after it, because the loop was busy (late_busy), the kernel woke it late
     * (late_woke), or the connection was not ready (late_conn: being opened, or its socket full).
     * generator_limited: the generator, not the target, limited the rate: more than 1% of the
     * arrivals were behind with the loop busy, or the loops were busy > 90% of the run while
     * sending less than 98% of the plan. host_delayed: more than 1% were behind because the
     * kernel woke the loop late (a busy machine). */
    uint64_t behind, behind_woke, late, late_busy, late_woke, late_conn;
    double busy_fraction; /* of the run the loops were working (not asleep, not spinning) */
    bool generator_limited, host_delayed;
    /* Per second k of the run: arrivals scheduled in [k, k+1) s and requests sent in it. */
    size_t seconds;
    uint32_t *planned_per_s, *sent_per_s;
    /* latency from scheduled, from sent, and dispatch error (sent - scheduled), ok requests
     * for the first two, every sent request for the third */
    fm_hist *lat_sched, *lat_sent, *dispatch;
} load_summary;

void load_summary_release(load_summary *s);

/* Opens a connection to the target's host and port (TCP, and TLS for https) and closes it, so an
 * unreachable target is an error before anything is sent. */
int load_target_check(const load_target *t, int64_t timeout_ns, fm_err *err);
/* Runs the schedule of `a` against the target. With o->threads > 1, several timing loops each send
 * every threads-th arrival of the same schedule with their own libcurl multi handle (then `a`
 * must not have been advanced yet). Returns 0 when the run completed (even with failed
 * requests); a negative code for a setup failure, in which case nothing was sent. */
int load_run(load_arrival *a, const load_target *t, const load_payloads *p, const load_run_opts *o,
             load_summary *out, fm_err *err);

/* The results-store row of a record; times become wall0 + the record's monotonic times (pass
 * wall0 = fm_wall_ns() - fm_now_ns() taken at the run's start, plus the run's t0). */
void load_record_to_store(const load_record *r, int64_t run_id, const char *function, int64_t wall0,
                          store_request *out);

#endif
