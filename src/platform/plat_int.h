/* Private to the platform module: the server, functions, instances and invocations. Everything
 * here lives on one libevent loop; nothing is shared with another thread. */
#ifndef FM_PLAT_INT_H
#define FM_PLAT_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "platform.h"
#include "policy/policy.h"
#include "store/store.h"

#define PLAT_MAX_PAYLOAD 6291456       /* Invoke API: 6 MB synchronous request */
#define PLAT_MAX_EVENT_PAYLOAD 1048576 /* Invoke API: 1 MB asynchronous request (2025-10) */
#define PLAT_MAX_RESPONSE 6291556      /* Runtime API: 6 MiB + 100 B (RIE interop/model.go) */
#define PLAT_LOG_TAIL 4096             /* X-Amz-Log-Result: last 4 KB */
#define PLAT_LOG_KEEP 65536            /* per-invocation log kept while it runs */

/* ---- sandbox (sandbox.c, sandbox_ns.c) -------------------------------------------------- */
#include "auth.h"
#include "sandbox.h"

/* ---- guards (guard.c) ---------------------------------------------------------------------- */
/* Whether a listen address or Host name can be reached only from this machine (127/8, ::1,
 * localhost). */
bool plat_host_is_loopback(const char *host);
/* Checks a request before routing (Host on loopback listeners, Origin, admin Content-Type): 0 when
 * it may proceed, else the HTTP status to answer, with the reason in msg. */
int plat_guard_check(const platform *p, struct evhttp_request *req, bool admin, char *msg,
                     size_t cap);
/* Refuses a non-loopback listener unless cfg->insecure_listen (then warns). */
int plat_guard_listen(const platform_config *cfg, fm_err *err);

/* ---- objects -------------------------------------------------------------------------------- */
typedef struct plat_fn plat_fn;
typedef struct plat_inst plat_inst;
typedef struct plat_inv plat_inv;

typedef enum plat_inv_kind {
    PLAT_INV_SYNC,  /* RequestResponse */
    PLAT_INV_EVENT, /* Event: answered 202 at once, result only logged and recorded */
    PLAT_INV_KSERVE /* KServe v2 infer: payload and result pass through the ONNX handler */
} plat_inv_kind;

/* One invocation, from arrival to answer. */
struct plat_inv {
    TAILQ_ENTRY(plat_inv) q; /* the function's Event queue */
    uint64_t id;             /* policy request id */
    char rid[37];            /* Lambda request id (UUIDv4) */
    plat_inv *hnext;         /* platform's id hash chain */
    plat_fn *fn;
    plat_inv_kind kind;
    struct evhttp_request *client; /* NULL for Event, or once the client has gone */
    bool tail;                     /* X-Amz-Log-Type: Tail */
    struct evbuffer *payload;
    char trace_id[96];
    char *client_context; /* X-Amz-Client-Context, base64-decoded (Lambda-Runtime-Client-Context) */
    int64_t arrive_ns, arrive_wall_ns, dispatch_ns, done_ns;
    int64_t deadline_wall_ms;
    plat_inst *inst; /* set at DISPATCH */
    bool cold;
    int64_t inst_id; /* the instance that served it (-1 none), for the response headers */
    struct event *timer;     /* timeout */
    struct event *retry_ev;  /* Event: waiting to be retried after a function error */
    int attempt;             /* Event: 0 first try, then retries */
    struct evbuffer *log;    /* log lines of this invocation (START..REPORT) */
    int batch_size;          /* inferences this request shared an invocation with (or carried) */
    const char *batch_kind;  /* NULL, "client" or "server" (static strings) */
    /* batch.c: dynamic batching */
    struct fn_v2_batch_req *v2; /* the scanned v2 request (batching functions only) */
    uint32_t items;          /* its batch dimension (>= 1) */
    plat_inv **members;      /* a batch carrier: the callers it runs for (nmembers), else NULL */
    uint32_t nmembers;
    double bill_share;       /* 0: billed in full; else this share of its invocation */
};

typedef enum plat_inst_state {
    PLAT_INST_STARTING, /* spawned, has not called /next yet */
    PLAT_INST_IDLE,     /* waiting in /next */
    PLAT_INST_BUSY,     /* an invocation was handed out */
    PLAT_INST_STOPPING, /* killed, waiting to be reaped */
} plat_inst_state;

TAILQ_HEAD(plat_inv_list, plat_inv);

/* One instance: a process with its own Runtime API listener (managed/server: a group of
 * inst.workers processes sharing the listener and a cgroup). */
struct plat_inst {
    TAILQ_ENTRY(plat_inst) link;
    int64_t id; /* platform-wide, also the store's instance id */
    policy_instance_id pid_policy;
    plat_fn *fn;
    plat_inst_state state;
    bool provisioned, ready, exited;
    pid_t pid;                    /* first worker; every worker is in its process group */
    pid_t *wpids;                 /* the runtime processes of this instance (nworkers) */
    int nworkers, nexited;
    bool worker_died;             /* a worker exited unasked: the whole instance is stopped */
    int wstatus;                  /* of the first worker that exited */
    struct evhttp *rapi;
    int port;
    struct plat_park {            /* parked /next long-polls, one per idle worker */
        struct evhttp_request *req;
        struct evhttp_connection *conn;
    } *park;
    int npark, nready;            /* nready: /next calls seen before READY (all workers up) */
    struct plat_inv_list pending; /* dispatched before a worker asked /next */
    plat_inv **invs;              /* handed out, not answered (at most nworkers) */
    int ninv;
    int out_fd, err_fd;           /* stdout/stderr pipes */
    struct event *out_ev, *err_ev;
    struct event *timer; /* init timeout */
    bool stop_asked;     /* the policy asked for STOP: it expects STOPPED */
    plat_cg cg;
    int64_t created_ns, created_wall_ns, exec_ns, ready_ns, stopped_ns;
    double load_ms, download_ms, warmup_ms; /* reported by the function host, if any */
    char *init_error;                       /* body of /init/error */
    char init_error_type[96];
    char stop_reason[16];
    char linebuf[2][1024]; /* partial stdout/stderr line */
    size_t linelen[2];
    int64_t invocations;
    bool zygote;                  /* forked from the function's zygote, not exec'd */
};

TAILQ_HEAD(plat_inst_list, plat_inst);

#define PLAT_NBUCKETS 15 /* le bounds in meter.c, +Inf is the count */

/* Per-function counters behind /metrics (policy_stats adds the gauges). */
typedef struct plat_fn_metrics {
    uint64_t invocations[3]; /* by plat_inv_kind */
    uint64_t ok, errors, timeouts, crashes, oom, throttles, rejects, cold_starts, dropped;
    double billed_gb_s, billed_ms, pc_gb_s, requests_billed;
    double instance_s; /* managed/server: billed instance-seconds of stopped instances */
    uint64_t dur_b[PLAT_NBUCKETS], init_b[PLAT_NBUCKETS]; /* Prometheus buckets, cumulative */
    double dur_sum, init_sum;
    uint64_t dur_n, init_n;
} plat_fn_metrics;

/* A deployed function generation. An update or delete retires it: its instances drain and stop,
 * then it is freed; a new generation takes the name. */
struct plat_fn {
    TAILQ_ENTRY(plat_fn) link;
    platform *p;
    platform_spec spec;
    char arn[160];
    bool retired;
    policy_fn *pol;
    policy_actions acts;
    struct event *wake;
    int64_t wake_ns;
    plat_inst **slots; /* by policy slot */
    uint32_t nslots;
    struct plat_inst_list insts;
    /* Event invocations wait here: the platform owns the async queue and resubmits a throttled
     * one later, as Lambda's own pollers do (policy.h, "An Event invocation"). */
    struct plat_inv_list events;
    struct plat_inv_list retrying; /* Events that failed, waiting out the retry delay */
    size_t nevents;
    bool events_blocked; /* the last submitted Event was throttled: wait for capacity */
    struct event *retry;
    plat_fn_metrics m;
    int64_t deployed_ns;
    char *last_start_error; /* error JSON of the last instance that failed init */
    /* profile.c: what an instance is for this function's profile */
    int workers;          /* runtime processes per instance (managed/server: inst.workers) */
    double vcpu;          /* CPU share per instance (0: memory/1769 as on Lambda) */
    int inst_memory_mb;   /* memory limit per instance (all its workers) */
    bool fleet;           /* managed/server: instances of a type, billed per instance-second,
                             a full queue answered 503 */
    bool batching;        /* batch.max_size > 1: requests are decoded and merged (batch.c) */
    struct plat_zygote *zyg; /* cold_start: zygote, while its zygote runs (zygote.c) */
};

TAILQ_HEAD(plat_fn_list, plat_fn);

struct platform {
    platform_config cfg;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    struct event *sigchld, *sigterm, *sigint, *tick, *drain_timer, *flush;
    plat_sandbox sb;
    struct plat_creds *creds; /* auth_gate.c: SigV4 credentials, NULL when none configured */
    policy_account *account;
    char platforms_path[1024];
    struct plat_fn_list fns;
    struct store *st;
    int64_t run_id;
    int64_t next_inst_id;
    int ninstances; /* live instance processes, all functions */
    pid_t pid_self;
    uint64_t next_req_id;
    plat_inv **hash;
    size_t hash_cap, hash_n;
    bool draining, stopped;
    int64_t drain_deadline_ns;
    fm_rng rng; /* request ids */
    int64_t in_flight;
    char self_exe[1024];
    /* feeding events to policy without recursion */
    struct pending_ev {
        plat_fn *fn;
        policy_event ev;
    } * evq;
    size_t evq_n, evq_cap;
    bool feeding, pumping, sweep_hold;
    FILE *log;
};

/* ---- platform.c: policy driving and the object graph ---------------------------------------- */
void plat_feed(plat_fn *fn, const policy_event *ev); /* queues an event and runs the loop */
void plat_event_enqueue(plat_fn *fn, plat_inv *inv); /* an Event invocation, answered 202 */
void plat_pump_events(platform *p);
/* An Event invocation that ended in a function error: schedules a retry (Lambda: up to 2) and
 * takes ownership, or returns false when it has no retries left. */
bool plat_event_retry(plat_inv *inv);
plat_fn *plat_fn_find(platform *p, const char *name);
void plat_inv_hash_put(platform *p, plat_inv *inv);
plat_inv *plat_inv_hash_take(platform *p, uint64_t id);
void plat_inv_free(plat_inv *inv);
void plat_inv_arm_timeout(plat_inv *inv); /* the function timeout, from now */
void plat_fn_retire(plat_fn *fn);
void plat_sweep(platform *p); /* frees a retired function once it is empty */

/* ---- instance.c: processes and the Runtime API ---------------------------------------------- */
int plat_inst_start(plat_fn *fn, policy_instance_id pid_policy, bool provisioned, fm_err *err);
void plat_inst_dispatch(plat_inst *in, plat_inv *inv, bool cold);
plat_inv *plat_inst_sole_inv(plat_inst *in); /* the one invocation in flight, else NULL */
pid_t plat_spawn(plat_inst *in, char *const argv[], char *const envp[], const char *cwd, int outw,
                 int errw, int exw, pid_t pgid);
void plat_inst_kill(plat_inst *in, const char *reason);
void plat_inst_timeout(plat_inst *in, plat_inv *inv);
void plat_inst_reap(platform *p);     /* SIGCHLD */
void plat_inst_forget(plat_inst *in); /* teardown: waits for the process, frees, tells no one */
const char *plat_inst_state_name(plat_inst_state s);

/* ---- gateway.c: the Invoke API, KServe v2, admin, metrics ----------------------------------- */
int plat_gateway_bind(platform *p, fm_err *err);
/* Answers an invocation (both sync and Event end here): body is the function's result or error
 * JSON, fn_error NULL on success or "Unhandled". Records it, frees nothing. */
void plat_inv_answer(plat_inv *inv, int status, const char *fn_error, const char *body, size_t len);
/* Answers a request that never ran: 429/503/... with a Lambda error body. */
void plat_inv_fail(plat_inv *inv, int status, const char *type, const char *reason,
                   const char *msg);
/* Answers a request whose instance failed init: 200 + Unhandled with the init error. */
void plat_inv_init_failed(plat_inv *inv, const char *body);
void plat_metrics_render(platform *p, struct evbuffer *out);

/* ---- meter.c: billing and the results store ------------------------------------------------- */
typedef struct plat_bill {
    double duration_ms, billed_ms, gb_s, init_ms;
} plat_bill;
void plat_meter_invocation(plat_inv *inv, const char *status, int http_code, const char *error,
                           plat_bill *bill);
void plat_meter_instance(plat_inst *in);
void plat_meter_points(platform *p); /* once a second: instances by state, queue depth */
void plat_meter_costs(plat_fn *fn);  /* when a function generation ends: its raw quantities */

/* ---- profile.c: managed/server instances, batching and cold-start settings ------------------ */
/* Completes the policy config from the spec (batching, overrides) and sets fn's profile fields. */
int plat_profile_configure(platform *p, plat_fn *fn, policy_config *cfg, fm_err *err);
/* Gives an instance's cgroup its instance type's CPU share (managed/server). */
void plat_profile_cpu(const plat_sandbox *sb, const plat_cg *cg, double vcpu);

/* ---- batch.c: dynamic batching ------------------------------------------------------------- */
/* At arrival: decodes a batching function's v2 request and sets inv->items. Returns false when
 * it answered the request itself (bad input); the caller then frees it. */
bool plat_batch_admit(plat_inv *inv);
/* DISPATCH of several requests: merges them into one carrier invocation on `in`. */
void plat_batch_dispatch(plat_fn *fn, plat_inst *in, const policy_action *a);
/* The carrier ended (status as finish()): each member gets its slice or the error. Frees it. */
void plat_batch_finish(plat_inst *in, plat_inv *carrier, const char *status, const char *fn_error,
                       const char *body, size_t len);
/* The carrier is dropped unanswered (teardown): each member gets status/msg. Frees it. */
void plat_batch_fail(plat_inv *carrier, int status, const char *msg);
void plat_batch_release(plat_inv *inv); /* from plat_inv_free */
/* Records a client-side batch (dim 0 > 1 of a builtin-onnx response) on an unbatched request. */
void plat_batch_note_client(plat_inv *inv, const char *body, size_t len);
/* Answers inv with the common tail of every ending (meter, END/REPORT, answer, free). */
void plat_inst_finish(plat_inst *in, plat_inv *inv, const char *status, const char *fn_error,
                      const char *body, size_t len);

/* ---- zygote.c: zygote cold starts ---------------------------------------------------------- */
/* Starts the function's zygote and waits until it has loaded the model; on failure logs why and
 * leaves fn->zyg NULL (instances then start with exec). */
void plat_zygote_start(plat_fn *fn);
void plat_zygote_stop(plat_fn *fn);
/* Asks the zygote for a runtime of instance `in` (stdout/stderr to outw/errw, in its cgroup).
 * Returns the pid (a child of this process once the zygote's intermediate exits) or -errno. */
pid_t plat_zygote_spawn(plat_inst *in, int outw, int errw);
/* The instance environment (build_env) as a NULL-terminated, malloc'd list. */
char **plat_inst_env_new(plat_inst *in);
void plat_inst_env_free(char **v);

/* ---- logs ----------------------------------------------------------------------------------- */
void plat_log_line(plat_inst *in, plat_inv *inv, const char *line, size_t len);

#endif
