/*
 * policy — every platform decision of faasml, as pure functions of (state, event, now).
 *
 * "One policy, two clocks" (DESIGN.md): the live platform feeds a policy_fn real events stamped
 * with fm_now_ns(); the simulator feeds it the same events on a virtual clock. The policy never
 * reads a clock, does no I/O and allocates nothing after policy_fn_new (the only I/O in this
 * module is loading data/platforms.yaml at setup, in policy_config_defaults).
 *
 * How a caller drives it:
 *
 *     policy_fn *fn; policy_actions acts;
 *     policy_fn_new(&cfg, NULL, &fn, &err);          // capacities fixed here, one per function
 *     policy_actions_init(&acts, fn);                 // sized for the worst case of one event
 *     policy_fn_handle(fn, &(policy_event){.type = POLICY_EV_DEPLOY}, now, &acts);
 *     for (i = 0; i < acts.n; i++) carry out acts.v[i];   // START, DISPATCH, THROTTLE, ...
 *     arm one timer at acts.wake_ns (INT64_MAX: none); when it fires, send POLICY_EV_TICK.
 *
 * Every call clears `acts` and refills it; the caller consumes the actions before the next call on
 * the same policy_fn (ids in a DISPATCH point into acts.ids). Any event also serves as a tick: the
 * policy first processes every deadline <= now (keep-alive expiry, batch delay, metric period,
 * provisioning delay), so a late or missing timer changes timing, never correctness.
 *
 * Time is int64_t nanoseconds on the caller's clock (monotonic live, virtual in the simulator).
 * A request is identified by a caller-chosen uint64_t id; an instance by a policy_instance_id the
 * policy chooses in START and the caller quotes back in READY/DONE/STOPPED.
 */
#ifndef FM_POLICY_H
#define FM_POLICY_H

#include "core/core.h"

/* The per-function decision state (opaque; see "the per-function decision state" below). */
typedef struct policy_fn policy_fn;

/* ---- profiles -------------------------------------------------------------------------------
 * One X-macro list generates the enum and the name table (policy_profile_name/parse). Each
 * profile has a vtable inside the module; behaviour differences are data in policy_config. */
#define POLICY_PROFILE_MAP(X)                                                                      \
    X(LAMBDA, "lambda") /* AWS Lambda: 1 request/instance, keep-alive, PC, rate limits */          \
    X(GCF, "gcf")       /* Google Cloud Functions gen1: like lambda + max instances, over-prov */  \
    X(MANAGED, "managed") /* SageMaker-style endpoint: N workers/instance, target tracking */      \
    X(SERVER, "server")   /* self-rented fleet: fixed size, N workers, bounded FIFO, 503 */

typedef enum policy_profile {
#define POLICY_XX(name, str) POLICY_PROFILE_##name,
    POLICY_PROFILE_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_PROFILE__COUNT
} policy_profile;

const char *policy_profile_name(policy_profile p); /* "lambda"...; "?" when out of range */
int policy_profile_parse(const char *s, policy_profile *out); /* FM_EINVAL when unknown */

/* How fast a lambda-like function may add instances (reference doc, section 3). */
#define POLICY_SCALING_MAP(X)                                                                      \
    X(NONE, "none")               /* no rate limit on starts */                                    \
    X(LAMBDA_2021, "lambda-2021") /* account-wide burst (500-3000), then +500 per minute, steps */ \
    X(LAMBDA_2023, "lambda-2023") /* per function +1000 per 10 s, refilled continuously */

typedef enum policy_scaling {
#define POLICY_XX(name, str) POLICY_SCALING_##name,
    POLICY_SCALING_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_SCALING__COUNT
} policy_scaling;

const char *policy_scaling_name(policy_scaling s);
int policy_scaling_parse(const char *s, policy_scaling *out);

/* What a request that triggered a cold start waits for (docs/policies.md, "cold-start binding").
 * BIND: it is served by the instance its arrival started (AWS Lambda: the REPORT line of the
 * invocation that caused INIT carries "Init Duration", i.e. it ran in that new environment).
 * FIRST_FREE: it goes to whichever instance is free first (a warm one finishing early wins);
 * the started instance then serves the next request or idles. */
typedef enum policy_cold_wait {
    POLICY_COLD_WAIT_BIND,
    POLICY_COLD_WAIT_FIRST_FREE,
    POLICY_COLD_WAIT__COUNT
} policy_cold_wait;

/* What happens to an on-demand instance once it is idle (docs/policies.md, "keep-alive
 * policies"); chosen per function with inst.keep_alive_policy. */
#define POLICY_KEEP_ALIVE_MAP(X)                                                                   \
    X(FIXED, "fixed")         /* stop after inst.keep_alive idle (Lambda, Azure: 10, 20 min) */    \
    X(HISTOGRAM, "histogram") /* Shahrad et al. ATC'20 hybrid histogram: unload, pre-warm at   */  \
                              /* the idle-time head, keep until the tail; CV and forecast      */  \
    X(GREEDY_DUAL, "greedy-dual") /* Fuerst & Sharma ASPLOS'21 FaasCache: keep idle instances  */  \
                                  /* until a memory budget is full, evict the lowest           */  \
                                  /* clock + frequency x cold-start cost / memory              */

typedef enum policy_keep_alive {
#define POLICY_XX(name, str) POLICY_KEEP_ALIVE_##name,
    POLICY_KEEP_ALIVE_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_KEEP_ALIVE__COUNT
} policy_keep_alive;

const char *policy_keep_alive_name(policy_keep_alive k);
int policy_keep_alive_parse(const char *s, policy_keep_alive *out);

/* A token bucket on instance starts: `burst` tokens at first, at most `burst` held; `refill`
 * tokens per `period_ns`, added continuously or in whole steps at period boundaries. */
typedef struct policy_rate {
    int64_t burst;     /* 0 = unlimited */
    int64_t refill;    /* tokens per period */
    int64_t period_ns; /* > 0 when burst > 0 */
    bool continuous;   /* true: refill pro rata (2023 mode); false: step at each boundary (2021) */
} policy_rate;

/* ---- configuration --------------------------------------------------------------------------
 * One per function. Fill with policy_config_defaults (numbers from data/platforms.yaml, each
 * with its source there), then override from a spec with policy_config_apply_yaml, then check
 * with policy_config_validate. Durations in ns, counts as int32_t. 0 means "none/off" unless
 * a field says otherwise. */
typedef struct policy_config {
    policy_profile profile;
    char platform[32]; /* data-file entry the defaults came from, e.g. "aws-lambda" */

    struct {
        int32_t memory_mb;  /* lambda/gcf: 128..10240; informs CPU share (platform, sim) */
        int64_t timeout_ns; /* enforced by the caller, which reports STOPPED(crash) */
    } fn;

    struct {
        int32_t min;           /* managed: >= 1 always on; server: the fleet size (lambda/gcf:
                                  0; keep instances warm with `provisioned`) */
        int32_t max;           /* hard cap of live instances (also the state's capacity) */
        int32_t workers;       /* dispatches in flight per instance (lambda/gcf: 1) */
        int32_t provisioned;   /* lambda/gcf: provisioned concurrency (gcf: min instances),
                                  started at DEPLOY, kept warm, never stopped for idleness */
        int64_t keep_alive_ns; /* lambda/gcf, fixed policy: idle TTL of on-demand instances
                                  before STOP (scale to zero); 0 = stop as soon as idle */
        policy_keep_alive keep_alive_policy; /* lambda/gcf; managed/server: fixed only */
        int64_t provision_delay_ns; /* a new instance serves no earlier than START + this */
        int64_t retry_ns;           /* after START_FAILED, wait this long before replacing a
                                       provisioned/min instance (no tight restart loop) */
        policy_cold_wait cold_wait;
        double overprovision; /* gcf: extra starts per demand start (0.5 = +1 every 2 starts) */
        char type[32];        /* managed/server: instance type name, e.g. "ml.m5.large" */
        double type_vcpu;     /* informational for the platform and the simulator */
        int32_t type_memory_mb;
    } inst;

    struct {
        int32_t reserved; /* lambda: reserved concurrency of the function, 0 = unreserved */
        int32_t account;  /* account concurrency limit (when no shared policy_account) */
        policy_scaling scaling;
        policy_rate rate; /* the bucket of `scaling` (per function for 2023, account 2021) */
    } limit;

    struct {
        int32_t capacity; /* requests waiting (for a worker, or for their dynamic batch to
                             fill); beyond: REJECT queue_full. lambda/gcf requests wait here
                             only while a batch fills: with no free instance they start one
                             or are throttled at once */
    } queue;

    struct {
        int32_t max_size;     /* items per dispatch; 1 = no batching */
        int64_t max_delay_ns; /* release a partial batch when its oldest waited this long */
    } batch;

    struct {              /* keep_alive_policy histogram (the paper's defaults in the data file) */
        int64_t bin_ns;   /* width of one idle-time bin (1 min) */
        int64_t range_ns; /* idle times the histogram covers (4 h); longer ones are out of bounds */
        double head_pct;  /* percentile of idle times where pre-warming aims (5) */
        double tail_pct;  /* percentile of idle times the instance is kept until (99) */
        double margin;    /* pre-warm that much earlier, keep that much longer (0.10) */
        double cv_min;    /* bin counts' coefficient of variation below this: the histogram is
                             not representative, keep alive for the whole range (2) */
        double oob_max;   /* share of idle times out of bounds at or above this: forecast the
                             next idle time from the recent ones instead (0.5) */
        double forecast_margin; /* pre-warm at forecast x (1 - this), keep until x (1 + this) */
    } histogram;

    struct {                  /* keep_alive_policy greedy-dual */
        int32_t budget_mb;    /* memory of live instances the pool may hold before evicting */
        int64_t cold_cost_ns; /* cold-start cost assumed until the function's first start is
                                 measured (START to READY) */
    } greedy_dual;

    struct {                     /* managed: target tracking on invocations per instance */
        double target_per_min;   /* target invocations per instance per minute (SageMaker: 70) */
        int64_t period_ns;       /* metric period (60 s; 10 s for high-resolution metrics) */
        int32_t out_datapoints;  /* consecutive periods above target before scale-out (3) */
        int32_t in_datapoints;   /* consecutive periods below in_ratio*target before scale-in (15)*/
        double in_ratio;         /* low-alarm threshold as a fraction of the target (0.9) */
        int64_t out_cooldown_ns; /* no scale-out this long after a scale-out (300 s) */
        int64_t in_cooldown_ns;  /* no scale-in this long after a scale-in or scale-out (300 s) */
    } scale;
} policy_config;

/* Neutral values that describe no cloud: no limits, no keep-alive, 1 worker, batching off,
 * inst.max 1, queue 1. Tests and callers that set every number themselves start here. */
void policy_config_init(policy_config *cfg, policy_profile profile);
/* Fills cfg with the defaults of `profile` from the platforms data file (path NULL: env
 * FAASML_PLATFORMS, else the shipped data/platforms.yaml found by fm_data_file). entry NULL picks
 * the file's default entry for the profile (aws-lambda, gcf-gen1, sagemaker-m5-large,
 * ec2-c5-xlarge); naming an entry of another profile is an error. */
int policy_config_defaults(policy_config *cfg, policy_profile profile, const char *path,
                           const char *entry, fm_err *err);
/* Overrides fields from a YAML map (a function spec's `policy:` section, the same keys as the data
 * file; unknown keys are errors naming file:line:col). */
int policy_config_apply_yaml(policy_config *cfg, const fm_yaml *y, const fm_ynode *map,
                             fm_err *err);
/* The key table (sections and keys) as Markdown rows ("inst.max"), for docs/policies.md and
 * its check; returns the length needed, like snprintf. */
size_t policy_config_keys_markdown(char *buf, size_t cap);
/* Checks ranges and consistency ("policy 'managed': inst.min must be >= 1"). */
int policy_config_validate(const policy_config *cfg, fm_err *err);

/* ---- account --------------------------------------------------------------------------------
 * State shared by the functions of one account: concurrency in use against the account limit,
 * and the account-wide start bucket of LAMBDA_2021 scaling. Functions created with a NULL account
 * get a private one built from their own config. Not thread-safe: one event loop owns it. */
typedef struct policy_account policy_account;

int policy_account_new(int32_t concurrency_limit, policy_scaling scaling, const policy_rate *rate,
                       policy_account **out, fm_err *err);
void policy_account_free(policy_account *a); /* after every policy_fn using it is freed */

/* ---- host ----------------------------------------------------------------------------------
 * The machine the functions run on: the memory of their live instances (fn.memory_mb each, or
 * inst.type_memory_mb for a fleet without a size) stays within its capacity, counted from START
 * to STOPPED or START_FAILED. Past it a demand start is throttled with reason host_capacity; a
 * provisioned, min-instance or fleet start is retried after inst.retry; a pre-warm or
 * over-provision start is dropped (policy_stats.host_refused counts both). The live platform
 * (platform.yaml) and the simulator (a `cores: N` host) read the same `host_capacity` keys
 * (docs/policies.md). Functions that join no host have no host limit. Not thread-safe: one event
 * loop owns it. */
typedef struct policy_host_config {
    int memory_mb;     /* host memory; 0: what the caller measured (MemTotal), or no limit */
    int reserve_mb;    /* kept back for the system and the platform (512) */
    double overcommit; /* capacity = (memory - reserve) x overcommit (1.0) */
    int pids_max;      /* processes per instance, enforced by the caller (1024; 0: none) */
} policy_host_config;

void policy_host_config_init(policy_host_config *c); /* the defaults above */
/* Reads a `host_capacity` mapping (unknown keys, types and ranges are errors with file:line). */
int policy_host_config_apply_yaml(policy_host_config *c, const fm_yaml *y, const fm_ynode *map,
                                  fm_err *err);
/* The keys as Markdown rows (fm_keys_markdown), for docs/policies.md and its check. */
size_t policy_host_keys_markdown(char *buf, size_t cap);
/* Capacity in MB from the config and the host's measured memory (memtotal_mb, 0: unknown):
 * (memory - reserve) x overcommit, at least 1; 0 (no limit) when no memory is known. */
int64_t policy_host_capacity_mb(const policy_host_config *c, int64_t memtotal_mb);

typedef struct policy_host policy_host;

int policy_host_new(int64_t capacity_mb, policy_host **out, fm_err *err); /* 0: no limit */
void policy_host_free(policy_host *h); /* after every policy_fn that joined it is freed */
/* Memory promised to live instances now, and the capacity (for logs, metrics, tests). */
void policy_host_usage(const policy_host *h, int64_t *used_mb, int64_t *capacity_mb);
/* Counts fn's instances against h from DEPLOY on (NULL: none); FM_ESTATE after DEPLOY. */
int policy_fn_join_host(policy_fn *fn, policy_host *h, fm_err *err);

/* ---- instances ------------------------------------------------------------------------------ */
/* (generation << 32) | slot. Slot < inst.max; a slot is reused only after STOPPED or
 * START_FAILED, with a new generation, so an id never names two instances. 0 is never valid.
 * Callers may index their own per-slot table by policy_instance_slot(id). */
typedef uint64_t policy_instance_id;
#define POLICY_INSTANCE_NONE ((policy_instance_id)0)
static inline uint32_t policy_instance_slot(policy_instance_id id)
{
    return (uint32_t)id;
}

#define POLICY_INST_STATE_MAP(X)                                                                   \
    X(STARTING, "starting") /* START issued; not yet READY (or inside provision delay) */          \
    X(IDLE, "idle")         /* ready, no dispatch in flight */                                     \
    X(BUSY, "busy")         /* ready, >= 1 dispatch in flight */                                   \
    X(DRAINING, "draining") /* chosen to stop; finishing its in-flight work, gets no more */       \
    X(STOPPING, "stopping") /* STOP issued; waiting for STOPPED */

typedef enum policy_inst_state {
#define POLICY_XX(name, str) POLICY_INST_##name,
    POLICY_INST_STATE_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_INST__COUNT
} policy_inst_state;

const char *policy_inst_state_name(policy_inst_state s);

typedef struct policy_instance_info {
    policy_inst_state state;
    bool provisioned;
    int32_t in_flight;    /* dispatches in flight */
    int64_t started_ns;   /* when START was issued */
    int64_t last_used_ns; /* when it last became idle (or ready) */
} policy_instance_info;

/* FM_ENOTFOUND when id names no live instance. */
int policy_fn_instance(const policy_fn *fn, policy_instance_id id, policy_instance_info *out);

/* ---- events ---------------------------------------------------------------------------------- */
#define POLICY_EVENT_MAP(X)                                                                        \
    X(DEPLOY, "deploy")             /* once, first: starts provisioned / min / fleet instances */  \
    X(ARRIVE, "arrive")             /* request `request` arrived, carrying `items` (>= 1) */       \
    X(READY, "ready")               /* instance finished init and can serve */                     \
    X(START_FAILED, "start_failed") /* instance failed to start (init error, spawn failure) */     \
    X(DONE, "done")                 /* instance finished one dispatch (all its requests) */        \
    X(STOPPED, "stopped")           /* instance is gone: asked to stop, crashed or timed out */    \
    X(CANCEL, "cancel")             /* request `request` left while still queued (client gone) */  \
    X(TICK, "tick")                 /* the timer armed at wake_ns fired */                         \
    X(SHUTDOWN, "shutdown")         /* stop everything: reject queued, drain busy, stop idle */

typedef enum policy_event_type {
#define POLICY_XX(name, str) POLICY_EV_##name,
    POLICY_EVENT_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_EV__COUNT
} policy_event_type;

const char *policy_event_name(policy_event_type t);

/* An Event (async) invocation is the caller's to queue and retry on THROTTLE, as Lambda's own
 * internal queue does (its pollers invoke synchronously and back off on throttles); the policy
 * sees each attempt as an ordinary ARRIVE. */

/* DEPLOY flag: the instances this deploy starts were provisioned before the experiment began
 * (an endpoint created ahead of time, a fleet already running), so they serve as soon as they are
 * READY, without inst.provision_delay. Later starts (scale-out, replacement) still wait it. */
#define POLICY_DEPLOY_PREPROVISIONED 1u

typedef struct policy_event {
    policy_event_type type;
    uint32_t flags;              /* DEPLOY: POLICY_DEPLOY_*; otherwise 0 */
    uint32_t items;              /* ARRIVE: client-side batch size; 0 is read as 1 */
    uint64_t request;            /* ARRIVE, CANCEL */
    policy_instance_id instance; /* READY, START_FAILED, DONE, STOPPED */
} policy_event;

/* ---- actions --------------------------------------------------------------------------------- */
#define POLICY_ACTION_MAP(X)                                                                       \
    X(START, "start") /* start `instance` (provisioned: init type provisioned-concurrency) */      \
    X(DISPATCH, "dispatch") /* run requests[0..n) on `instance` as one invocation (one worker) */  \
    X(THROTTLE, "throttle") /* answer `request` 429 (TooManyRequestsException), reason says why */ \
    X(REJECT, "reject")     /* answer `request` 503 (queue full, shutting down, no instance) */    \
    X(STOP, "stop")         /* stop `instance` (nothing in flight; may still be starting) */

typedef enum policy_action_type {
#define POLICY_XX(name, str) POLICY_ACT_##name,
    POLICY_ACTION_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_ACT__COUNT
} policy_action_type;

const char *policy_action_name(policy_action_type t);

#define POLICY_REASON_MAP(X)                                                                       \
    X(NONE, "none")                                                                                \
    X(DEMAND, "demand")               /* START: a request found no free instance (cold start) */   \
    X(PROVISIONED, "provisioned")     /* START: provisioned concurrency, at deploy or replaced */  \
    X(MIN_INSTANCES, "min_instances") /* START: keep inst.min (managed min, server fleet) */       \
    X(OVERPROVISION, "overprovision") /* START: gcf burst over-provisioning */                     \
    X(SCALE_OUT, "scale_out")         /* START: target tracking decided more instances */          \
    X(WARM, "warm")                   /* DISPATCH: to an already-used instance */                  \
    X(COLD, "cold")         /* DISPATCH: the requests waited for this instance's start */          \
    X(IDLE, "idle")         /* STOP: keep-alive expired */                                         \
    X(SCALE_IN, "scale_in") /* STOP: target tracking decided fewer instances */                    \
    X(SHUTDOWN, "shutdown") /* STOP, REJECT: the function is shutting down */                      \
    X(RESERVED, "reserved") /* THROTTLE: reserved concurrency of the function */                   \
    X(ACCOUNT, "account")   /* THROTTLE: account concurrency limit */                              \
    X(RATE, "rate")         /* THROTTLE: scaling-rate limit (burst/refill) */                      \
    X(MAX_INSTANCES, "max_instances") /* THROTTLE: inst.max reached (gcf max instances) */         \
    X(QUEUE_FULL, "queue_full")       /* REJECT: the bounded queue is full */                      \
    X(START_FAILED, "start_failed")   /* REJECT: the instance bound to the request failed */       \
    X(CRASHED, "crashed")             /* START: replacing an instance that died (PC, min) */       \
    X(PREWARM, "prewarm")             /* START: keep-alive policy loads ahead of an arrival */     \
    X(EVICT, "evict")                 /* STOP: greedy-dual made room in the memory budget */       \
    X(HOST_CAPACITY, "host_capacity") /* THROTTLE: the host's memory is promised (policy_host) */

typedef enum policy_reason {
#define POLICY_XX(name, str) POLICY_REASON_##name,
    POLICY_REASON_MAP(POLICY_XX)
#undef POLICY_XX
        POLICY_REASON__COUNT
} policy_reason;

const char *policy_reason_name(policy_reason r);

typedef struct policy_action {
    policy_action_type type;
    policy_reason reason;
    policy_instance_id instance; /* START, DISPATCH, STOP */
    bool provisioned;            /* START */
    uint32_t n;                  /* DISPATCH: requests in this invocation (>= 1) */
    uint32_t items;              /* DISPATCH: sum of their items (the inference batch size) */
    const uint64_t *requests;    /* DISPATCH: n ids in arrival order, inside actions.ids */
    uint64_t request;            /* THROTTLE, REJECT */
} policy_action;

/* Caller-owned output buffer, sized once per function for the worst case of one event, so a
 * call never allocates and never runs out of room. */
typedef struct policy_actions {
    policy_action *v;
    uint32_t n, cap;
    uint64_t *ids; /* storage for DISPATCH request lists */
    uint32_t nids, ids_cap;
    int64_t wake_ns; /* deliver POLICY_EV_TICK at this time; INT64_MAX: no timer needed */
} policy_actions;

int policy_actions_init(policy_actions *a, const policy_fn *fn);
void policy_actions_release(policy_actions *a);
/* One line for logs and tests: "START i0 demand prov", "DISPATCH i0 [7,8] cold", "THROTTLE r9
 * rate", "STOP i0 idle" (i<slot>: the instance's slot). Returns the length it needed (snprintf). */
size_t policy_action_format(const policy_action *a, char *buf, size_t cap);

/* ---- the per-function decision state -------------------------------------------------------- */

/* Allocates all state for cfg (instances up to inst.max, queue up to queue.capacity). account
 * may be NULL (private account from cfg.limit). cfg is copied; it is validated first. */
int policy_fn_new(const policy_config *cfg, policy_account *account, policy_fn **out, fm_err *err);
void policy_fn_free(policy_fn *fn); /* NULL is fine; returns its concurrency to the account */
const policy_config *policy_fn_config(const policy_fn *fn);

/* Applies one event at time now and writes the resulting actions. A now earlier than the previous
 * call's is read as the previous now (time never goes back). Request ids must be unique among
 * live requests (the caller's invariant; not checked on the hot path). Returns 0, FM_EINVAL for a
 * malformed event, FM_ENOTFOUND for an unknown instance id or a CANCEL of a request that is not
 * queued, FM_ESTATE for an event that does not fit the instance's state (READY twice, DONE on an
 * idle instance) or a second DEPLOY. READY or START_FAILED for an instance the policy already
 * asked to STOP is accepted (a race the caller cannot avoid): the STOP stands. On error no action
 * is written and the state is unchanged. */
int policy_fn_handle(policy_fn *fn, const policy_event *ev, int64_t now_ns, policy_actions *out);

/* Counters for /metrics and the time series. Gauges are current; totals count since DEPLOY. */
typedef struct policy_stats {
    uint32_t instances[POLICY_INST__COUNT]; /* gauge, by state */
    uint32_t provisioned;                   /* gauge: live provisioned instances */
    uint32_t queue_depth;                   /* gauge: requests waiting (incl. bound to a start) */
    uint32_t in_flight;                     /* gauge: dispatches (invocations) not done */
    uint32_t desired;                       /* gauge: managed: desired instance count */
    uint64_t arrivals, dispatches, dispatched_requests, cold_dispatches;
    uint64_t starts, start_failures, stops, crashes, cancels;
    uint64_t prewarms, evictions; /* keep-alive policies: pre-warm starts, greedy-dual evictions */
    uint64_t over_budget;         /* greedy-dual: starts with nothing idle left to evict */
    uint64_t host_refused; /* starts nobody waited for that the host could not hold (provisioned,
                              min, pre-warm, over-provision); demand ones are throttles */
    uint64_t throttles[POLICY_REASON__COUNT]; /* by reason */
    uint64_t rejects[POLICY_REASON__COUNT];   /* by reason */
} policy_stats;

void policy_fn_stats(const policy_fn *fn, policy_stats *out);

/* The windows the keep-alive policy would apply to an instance going idle now: pre-warm (0: keep
 * the instance; > 0: unload it and start one this long after) and keep-alive (how long it then
 * stays). fixed: (0, inst.keep_alive); greedy-dual: (0, INT64_MAX): evicted, never expired. */
void policy_fn_keep_alive_windows(policy_fn *fn, int64_t *prewarm_ns, int64_t *keep_ns);

/* ---- memory pools (greedy-dual) -------------------------------------------------------------
 * The functions of one host share a memory budget under greedy-dual keep-alive: starting an
 * instance that does not fit evicts idle instances of any member, lowest priority first. A
 * greedy-dual function created alone gets a private pool of its greedy_dual.budget_mb. An
 * eviction from another member than the one being called is written into that member's next
 * call: after every call, take the members that owe a STOP with policy_pool_take_pending and send
 * each a POLICY_EV_TICK (at the same now). Not thread-safe: one event loop owns it. */
typedef struct policy_pool policy_pool;

int policy_pool_new(int32_t budget_mb, policy_pool **out, fm_err *err);
void policy_pool_free(policy_pool *p); /* after every policy_fn in it is freed */
/* Moves a greedy-dual function into pool (before DEPLOY); FM_EINVAL for another policy, FM_ESTATE
 * after DEPLOY. */
int policy_fn_join_pool(policy_fn *fn, policy_pool *pool, fm_err *err);
/* A member with evictions to report, or NULL; each is returned once per batch of evictions. */
policy_fn *policy_pool_take_pending(policy_pool *p);
/* The caller's own handle on a function (its index, its object), for policy_pool_take_pending. */
void policy_fn_set_user(policy_fn *fn, void *user);
void *policy_fn_user(const policy_fn *fn);

#endif
