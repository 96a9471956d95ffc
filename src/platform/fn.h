/*
 * Private to the platform module: the server (struct platform) and the deployed functions it
 * holds (plat_fn). Everything here lives on one libevent loop; nothing is shared with a thread.
 *
 * Lifetimes, longest first, and who owns what:
 *
 *     platform   platform_new .. platform_free (platform.c). Owns the event base, the gateway,
 *                the sandbox, the function list and the invocation table.
 *     plat_fn    platform_deploy .. swept after plat_fn_retire (fn.c). Owns its spec, its policy
 *                state, its instances (inst.h) and the Event invocations waiting in its queues.
 *     plat_inst  POLICY_ACT_START .. reaped (instance.c, inst.h).
 *     plat_inv   plat_inv_new .. plat_inv_end (inv.c, inv.h): one way out.
 *
 * One request, read in this order: gateway.c (HTTP -> plat_inv_new, plat_inv_submit) -> fn.c
 * (the policy decides: plat_feed, do_action) -> instance.c (the Runtime API hands it to a
 * process and takes its answer) -> inv.c (plat_inv_end: meter, log, answer through gateway.c,
 * free).
 *
 * The platform decides nothing itself: fn.c asks the policy and carries out its actions.
 */
#ifndef FM_PLAT_FN_H
#define FM_PLAT_FN_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "cost/cost.h"
#include "platform.h"
#include "policy/policy.h"
#include "sandbox.h"
#include "store/store.h"

#define PLAT_MAX_PAYLOAD 6291456       /* Invoke API: 6 MB synchronous request */
#define PLAT_MAX_EVENT_PAYLOAD 1048576 /* Invoke API: 1 MB asynchronous request (2025-10) */
#define PLAT_MAX_RESPONSE 6291556      /* Runtime API: 6 MiB + 100 B (RIE interop/model.go) */
#define PLAT_LOG_TAIL 4096             /* X-Amz-Log-Result: last 4 KB */
#define PLAT_LOG_KEEP 65536            /* per-invocation log kept while it runs */

typedef struct plat_fn plat_fn;
typedef struct plat_inst plat_inst;
typedef struct plat_inv plat_inv;

TAILQ_HEAD(plat_inv_list, plat_inv);
TAILQ_HEAD(plat_inst_list, plat_inst);

#define PLAT_NBUCKETS 15                               /* le bounds in meter.c, +Inf is the count */
#define PLAT_THROTTLE_EVENT_QUEUE POLICY_REASON__COUNT /* throttles[] slot of EventQueueFull */

/* Per-function counters behind /metrics (policy_stats adds the gauges). The outcome counters
 * (ok, errors, timeouts, crashes, oom) are counted in one place, plat_inv_end; throttles and
 * rejects where fn.c carries out the policy's decision; cold starts at dispatch. */
typedef struct plat_fn_metrics {
    uint64_t invocations[4]; /* by plat_inv_kind */
    uint64_t ok, errors, timeouts, crashes, oom, rejects, cold_starts, dropped;
    /* 429s by reason: the policy's (policy_reason), and PLAT_THROTTLE_EVENT_QUEUE for an Event
     * refused because the function's asynchronous queue is full */
    uint64_t throttles[POLICY_REASON__COUNT + 1];
    double billed_gb_s, billed_ms, pc_gb_s, requests_billed;
    double instance_s; /* managed/server: billed instance-seconds of stopped instances */
    uint64_t dur_b[PLAT_NBUCKETS], init_b[PLAT_NBUCKETS]; /* Prometheus buckets, cumulative */
    double dur_sum, init_sum;
    uint64_t dur_n, init_n;
    /* Debug counters of the request path: body bytes the platform copied on their way from the
     * client's socket to the instance's (copied_in) and back (copied_out), as opposed to moved
     * by reference; and TCP connections the runtimes opened to their Runtime API. */
    uint64_t copied_in, copied_out, rapi_connections;
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
    char *metadata;         /* builtin-onnx: the host's v2 model metadata JSON, once known */
    /* profile.c: what an instance is for this function's profile */
    int workers;             /* runtime processes per instance (managed/server: inst.workers) */
    double vcpu;             /* CPU share per instance (0: memory/1769 as on Lambda) */
    int inst_memory_mb;      /* memory limit per instance (all its workers) */
    const cost_offer *offer; /* what it is billed on (lambda, gcf: always; managed/server: the
                                entry of its instance type, NULL when the catalogue has none) */
    bool fleet;              /* managed/server: instances of a type, billed per instance-second,
                                a full queue answered 503 */
    bool batching;           /* batch.max_size > 1: requests are decoded and merged (batch.c) */
    struct plat_zygote *zyg; /* cold_start: zygote, while its zygote runs (zygote.c) */
};

TAILQ_HEAD(plat_fn_list, plat_fn);

struct platform {
    platform_config cfg;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    struct fm_http_guard *guard; /* connection cap, request timeouts, accept back-off */
    struct fm_http_tls *tls;     /* cfg.tls_cert: the gateway's TLS context (core/http.h) */
    int port;
    bool listen_loopback; /* the listen address is loopback (guard.c checks Host only then) */
    struct event *sigchld, *sigterm, *sigint, *tick, *drain_timer, *flush;
    plat_sandbox sb;
    struct plat_creds *creds; /* auth_gate.c: SigV4 credentials, NULL when none configured */
    policy_account *account;
    policy_host *host; /* memory of every function's instances against the machine's */
    char platforms_path[1024];
    cost_catalog *prices; /* the meter bills on it (owned) */
    char price_snapshot[64];
    struct plat_fn_list fns;
    struct store *st;
    int64_t run_id;
    int64_t next_inst_id;
    int ninstances; /* live instance processes, all functions */
    pid_t pid_self;
    struct plat_podman *podman; /* runtime image: podman as probed at the first deploy (image.c) */
    uint64_t next_req_id;
    plat_inv **hash; /* invocations waiting for the policy, by request id (inv.c) */
    size_t hash_cap, hash_n;
    bool draining, stopped;
    int64_t drain_deadline_ns;
    fm_rng rng; /* request ids */
    char self_exe[1024];
    /* feeding events to policy without recursion */
    struct pending_ev {
        plat_fn *fn;
        policy_event ev;
    } * evq;
    size_t evq_n, evq_cap;
    bool feeding, pumping, sweep_hold;
    FILE *log;
    char log_path[1200]; /* the file p->log writes, "" for a terminal or pipe */
    int64_t log_sec;     /* the second log_sec_text shows (log.c) */
    char log_sec_text[24];
};

/* ---- log.c: the instance log's format ------------------------------------------------------ */
/* The stamp of a line written now: RFC 3339, UTC, milliseconds ("2026-12-03T17:40:00.123Z"). */
void plat_log_stamp(platform *p, char out[32]);

/* ---- fn.c: functions and the policy ------------------------------------------------------- */
void plat_feed(plat_fn *fn, const policy_event *ev); /* queues an event and runs the loop */
void plat_pump_events(platform *p);
/* An accepted Event invocation (already answered 202): the function's queue takes it. */
void plat_event_enqueue(plat_fn *fn, plat_inv *inv);
/* An Event invocation that ended in a function error: schedules a retry (Lambda: up to 2) and
 * takes it back, or returns false when it has no retries left (plat_inv_end then frees it). */
bool plat_event_retry(plat_inv *inv);
plat_fn *plat_fn_find(platform *p, const char *name);
void plat_fn_retire(plat_fn *fn);
void plat_fn_free(plat_fn *fn); /* platform teardown and sweep; its instances must be gone */
void plat_sweep(platform *p);   /* frees a retired function once it is empty */

/* ---- profile.c: managed/server instances, batching and cold-start settings ------------------ */
/* Completes the policy config from the spec (batching, overrides) and sets fn's profile fields. */
int plat_profile_configure(platform *p, plat_fn *fn, policy_config *cfg, fm_err *err);
/* Gives an instance's cgroup its instance type's CPU share (managed/server). */
void plat_profile_cpu(const plat_sandbox *sb, const plat_cg *cg, double vcpu);

/* ---- guard.c: the gateway's guards --------------------------------------------------------- */
/* Whether a listen address or Host name can be reached only from this machine (127/8, ::1,
 * localhost). */
bool plat_host_is_loopback(const char *host);
/* Checks a request before routing (Host on loopback listeners, Origin, admin Content-Type): 0 when
 * it may proceed, else the HTTP status to answer, with the reason in msg. */
int plat_guard_check(const platform *p, struct evhttp_request *req, bool admin, char *msg,
                     size_t cap);
/* Refuses a non-loopback listener unless cfg->insecure_listen (then warns). */
int plat_guard_listen(const platform_config *cfg, fm_err *err);

/* ---- gateway.c: binding and /metrics ----------------------------------------------------- */
int plat_gateway_bind(platform *p, fm_err *err);
/* Turns Nagle's algorithm off on a listening socket (accepted connections inherit it), so an
 * answer never waits for the peer's delayed ACK. */
void plat_listen_nodelay(struct evhttp_bound_socket *bs);
/* The KServe v2 model metadata of a builtin-onnx function (name, versions, platform, inputs,
 * outputs as `faasml fn` answers), read from its model once and kept; NULL with err set when the
 * model cannot be read here. */
const char *plat_fn_metadata(plat_fn *fn, fm_err *err);
void plat_metrics_render(platform *p, struct evbuffer *out);

/* ---- meter.c: per-function records ------------------------------------------------------- */
void plat_meter_points(platform *p); /* once a second: instances by state, queue depth */
void plat_meter_costs(plat_fn *fn);  /* when a function generation ends: its raw quantities */

#endif
