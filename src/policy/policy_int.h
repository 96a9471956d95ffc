/*
 * policy_int.h — private to src/policy: the decision state, the profile vtable, and the shared
 * machinery (instance lists, FIFO queue, action output) that every profile builds on.
 */
#ifndef FM_POLICY_INT_H
#define FM_POLICY_INT_H

#include "policy/policy.h"

#include <assert.h>

#define PI_NIL (-1)
#define PI_MAX_WORKERS 256

/* A token bucket in fixed point: `tok` counts tokens * period_ns, so continuous refill stays in
 * integers and is exact on any clock. */
typedef struct pi_bucket {
    policy_rate rate;
    int64_t tok;     /* tokens * period_ns */
    int64_t last_ns; /* time of the last refill */
    bool primed;     /* false until the first refill sets last_ns */
} pi_bucket;

struct policy_account {
    int32_t limit;        /* 0 = unlimited */
    int32_t in_use;       /* concurrency of every function */
    int32_t in_use_unres; /* concurrency of functions without reserved concurrency */
    int32_t reserved_sum; /* reserved concurrency carved out of the limit by its functions */
    int32_t users;        /* policy_fn objects sharing it */
    bool private_;        /* created by policy_fn_new; freed with it */
    pi_bucket bucket;     /* LAMBDA_2021 account-wide bucket (rate.burst 0 when unused) */
};

/* Lists an instance can be on. Ready instances with a free worker sit on avail[prov][k], k the
 * dispatches in flight (k < workers), most recently used at the head. */
enum {
    PI_LIST_NONE = -1,
    PI_LIST_STARTING = 0,
    PI_LIST_FULL = 1,
    PI_LIST_DRAINING = 2,
    PI_LIST_STOPPING = 3,
    PI_LIST_AVAIL0 = 4
};

typedef struct pi_inst {
    uint32_t gen; /* generation of the slot's current (or last) instance */
    bool live;    /* an instance occupies the slot */
    policy_inst_state state;
    bool provisioned;
    bool ready_seen; /* READY arrived (may still be inside the provisioning delay) */
    int32_t in_flight;
    int32_t prev, next; /* intrusive list links (slot indices) */
    int32_t list;       /* PI_LIST_* or PI_LIST_AVAIL0 + prov * workers + k */
    int64_t started_ns;
    int64_t serve_at_ns; /* earliest time it may serve: START + inst.provision_delay */
    int64_t last_used_ns;
    uint32_t pend_n; /* requests bound to this starting instance (cold start) */
    uint32_t pend_items;
    int64_t expire_ns; /* histogram: stop when idle at this time; -1: not decided yet */
    double prio;       /* greedy-dual: clock + frequency x cost / size at its last use */
} pi_inst;

typedef struct pi_list {
    int32_t head, tail;
    int32_t len;
} pi_list;

typedef struct pi_qent {
    uint64_t req;
    int64_t arrival_ns;
    uint32_t items;
    bool cancelled;
} pi_qent;

struct policy_host {
    int64_t capacity_mb; /* 0: no limit */
    int64_t used_mb;     /* memory of members' instances from START to STOPPED/START_FAILED */
    int32_t users;       /* policy_fn objects that joined */
};

typedef struct policy_vt policy_vt;
typedef struct pi_ka_vt pi_ka_vt;

/* recent idle times kept for the histogram policy's out-of-bounds forecast */
#define PI_FORECAST_N 16

struct policy_pool {
    int64_t budget_mb;
    int64_t used_mb;     /* memory of member instances not stopping */
    int64_t idle_mb;     /* of which on members' idle lists (what eviction can free) */
    double clock;        /* priority of the last eviction (greedy-dual's L) */
    policy_fn **members; /* capacity cap */
    int32_t n, cap;
    policy_fn **pending; /* members owing STOPs for evictions, capacity cap */
    int32_t npending;
};

struct policy_fn {
    policy_config cfg;
    const policy_vt *vt;
    policy_account *acct;
    pi_bucket bucket; /* LAMBDA_2023 per-function bucket */

    int64_t now;
    bool deployed, shutting_down;

    /* instances */
    pi_inst *inst; /* cfg.inst.max slots */
    int32_t nslots;
    int32_t *free_slots; /* stack of free slot indices */
    int32_t nfree;
    pi_list *lists; /* PI_LIST_AVAIL0 + 2 * workers lists */
    int32_t nlists;
    uint64_t *pend_ids;    /* nslots * cfg.batch.max_size request ids bound to starting instances */
    int32_t live;          /* instances not free (any state) */
    int32_t live_prov;     /* provisioned among them, not stopping */
    int32_t conc;          /* concurrency in use: busy/draining + starting with bound requests */
    int32_t waiting_ready; /* READY seen but inside the provisioning delay */
    int64_t pend_total;    /* requests bound to starting instances */
    int64_t retry_at;      /* reconcile (replace failed instances) at this time; INT64_MAX none */

    /* FIFO queue (ring) */
    pi_qent *q;
    int32_t qcap, qhead, qlen; /* qlen counts entries incl. cancelled ones still in the ring */
    int32_t qlive;             /* entries not cancelled */
    int64_t qitems;            /* items of live entries */

    /* managed target tracking */
    int32_t desired;
    int64_t period_start, next_period;
    int64_t period_arrivals;
    int32_t high_streak, low_streak;
    int64_t last_out, last_in;
    double overprov_credit; /* gcf */
    double last_metric;     /* managed: invocations per instance per minute, last period */

    /* keep-alive policy (keepalive.c) */
    const pi_ka_vt *ka;
    int64_t last_end_ns;                   /* when the last dispatch finished; -1: none yet */
    uint32_t *hist;                        /* histogram: idle-time counts per bin, nbins */
    int32_t nbins, hist_top;               /* hist_top: highest non-empty bin */
    uint64_t hist_n, hist_sumsq, hist_oob; /* in range, sum of squared counts, out of bounds */
    int64_t recent[PI_FORECAST_N];         /* last idle times, a ring */
    int32_t nrecent, recent_i;
    bool win_dirty;                    /* the windows must be recomputed */
    int64_t win_pw, win_ka;            /* the windows for the histogram as it is */
    int64_t prewarm_at, prewarm_until; /* pending pre-warm start and its expiry; INT64_MAX none */
    policy_pool *pool;                 /* greedy-dual */
    bool pool_private;
    int64_t live_mb;               /* this function's share of pool->used_mb */
    uint64_t gd_freq;              /* invocations since the function last lost every instance */
    int64_t gd_cost_ns;            /* last measured cold start (START to READY); 0 none */
    policy_instance_id *evict_ids; /* evicted by another member, STOP not yet emitted */
    int32_t nevict;
    bool evict_queued;
    void *user;
    policy_host *host; /* NULL: no host limit */
    int64_t host_mb;   /* this function's share of host->used_mb */

    policy_stats st;
    policy_actions *out; /* the current call's output */
};

/* A keep-alive policy: what it observes and decides for on-demand idle instances. */
struct pi_ka_vt {
    policy_keep_alive kind;
    /* a request arrived (before it is queued) */
    void (*arrive)(policy_fn *fn);
    /* on-demand instance `slot` is idle after its last dispatch (or ready with nothing to do) */
    void (*idle)(policy_fn *fn, int32_t slot);
    /* every deadline <= now: expiries, pre-warm starts, evictions owed */
    void (*advance)(policy_fn *fn);
    /* the next deadline, INT64_MAX none */
    int64_t (*wake)(const policy_fn *fn);
    /* a demand start is about to be issued (greedy-dual: make room); NULL nothing */
    void (*before_start)(policy_fn *fn);
    /* the windows for an instance going idle now */
    void (*windows)(policy_fn *fn, int64_t *pw, int64_t *ka);
};

extern const pi_ka_vt pi_ka_fixed, pi_ka_histogram, pi_ka_greedy_dual;

/* The profile table: what differs between profiles beyond config data. */
struct policy_vt {
    policy_profile profile;
    bool scale_to_zero; /* idle on-demand instances expire after keep-alive */
    bool binds;         /* a request with no free worker triggers a start bound to it (lambda) */
    /* Initial instances at DEPLOY and replacement after a failure: bring live counts up to what
     * the profile keeps (provisioned concurrency, min instances, the fleet). */
    void (*reconcile)(policy_fn *fn, policy_reason why);
    /* One metric period ended (managed target tracking); NULL when the profile has none. */
    void (*period)(policy_fn *fn);
    /* A request started an instance (gcf: over-provision extra ones); NULL when nothing. */
    void (*after_demand_start)(policy_fn *fn);
};

extern const policy_vt pi_vt_lambda, pi_vt_gcf, pi_vt_managed, pi_vt_server;

/* ---- shared machinery (fn.c, inst.c, queue.c) ---- */
void pi_list_push_front(policy_fn *fn, int32_t list, int32_t slot);
void pi_list_remove(policy_fn *fn, int32_t slot);
int32_t pi_avail_list(const policy_fn *fn, bool prov, int32_t k);

policy_instance_id pi_id(const policy_fn *fn, int32_t slot);
/* The live slot an id names, or PI_NIL (stale generation, out of range, free slot). */
int32_t pi_find(const policy_fn *fn, policy_instance_id id);
void pi_set_state(policy_fn *fn, int32_t slot, policy_inst_state s);
/* Starts a new instance (emits START); returns its slot or PI_NIL when no slot is free. */
int32_t pi_start(policy_fn *fn, bool provisioned, policy_reason why);
/* Emits STOP for an instance with nothing in flight and moves it to STOPPING. */
void pi_stop(policy_fn *fn, int32_t slot, policy_reason why);
/* The same without emitting: another member's eviction, reported in its next call. */
void pi_stop_quiet(policy_fn *fn, int32_t slot);
/* keep-alive (keepalive.c) */
int pi_ka_setup(policy_fn *fn, fm_err *err);
void pi_ka_release(policy_fn *fn);
void pi_pool_add(policy_fn *fn, int64_t mb);
/* Emits the STOPs of evictions another pool member decided since this function's last call. */
void pi_ka_flush_evictions(policy_fn *fn);
/* Picks the ready instance with a free worker that the next dispatch goes to, or PI_NIL. */
int32_t pi_pick_worker(const policy_fn *fn);
void pi_release(policy_fn *fn, int32_t slot);
void pi_bind(policy_fn *fn, int32_t slot, const uint64_t *ids, uint32_t n, uint32_t items);
uint32_t pi_unbind(policy_fn *fn, int32_t slot, uint64_t **ids, uint32_t *items);
void pi_become_ready(policy_fn *fn, int32_t slot);
void pi_done(policy_fn *fn, int32_t slot);
void pi_drain(policy_fn *fn, int32_t slot);
/* Rejects every request bound to a starting instance (its start failed or was cancelled). */
void pi_reject_pend(policy_fn *fn, int32_t slot, policy_reason why);

/* queue */
void pi_q_push(policy_fn *fn, uint64_t req, uint32_t items, int64_t now);
bool pi_q_releasable(policy_fn *fn);
/* Pops the next batch (<= batch.max_size items, at least one request) into out->ids; returns the
 * number of requests and their items in *items. */
uint32_t pi_q_take(policy_fn *fn, uint32_t *items, uint64_t **ids);
int64_t pi_q_deadline(policy_fn *fn);
int pi_q_cancel(policy_fn *fn, uint64_t req, bool dry_run);
void pi_q_reject_all(policy_fn *fn, policy_reason why);

/* output */
policy_action *pi_emit(policy_fn *fn, policy_action_type t, policy_reason r);
uint64_t *pi_ids_alloc(policy_fn *fn, uint32_t n);
void pi_dispatch(policy_fn *fn, int32_t slot, const uint64_t *ids, uint32_t n, uint32_t items,
                 policy_reason why);
void pi_refuse(policy_fn *fn, policy_action_type t, const uint64_t *ids, uint32_t n,
               policy_reason why);

/* limits (limits.c) */
void pi_bucket_init(pi_bucket *b, const policy_rate *r);
bool pi_bucket_take(pi_bucket *b, int64_t now);
/* Whether one more instance may be started for a request now; on refusal *why names the limit.
 * Consumes a scaling token when it answers yes. */
bool pi_may_start(policy_fn *fn, policy_reason *why);
void pi_conc_add(policy_fn *fn, int32_t d);

/* host (host.c) */
int64_t pi_inst_mb(const policy_fn *fn); /* memory one instance is promised */
bool pi_host_fits(const policy_fn *fn);  /* one more instance fits the host */
bool pi_has_room(const policy_fn *fn);   /* a free slot and room on the host */
void pi_host_add(policy_fn *fn, int64_t mb);
void pi_host_refused(policy_fn *fn, bool retry);

#endif
