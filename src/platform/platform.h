/*
 * platform — the serverless platform behind `faasml serve`: a gateway that speaks the AWS Lambda
 * Invoke API and KServe v2 on libevent's HTTP server, an admin API, `/metrics`, an instance
 * manager that runs every function instance as a process with its own Lambda Runtime API
 * endpoint (memory and CPU limits through cgroups where the machine allows), and a billing meter
 * that writes every invocation and instance to the results store.
 *
 * The platform decides nothing itself: every routing, scaling, throttling and keep-alive decision
 * is asked of the `policy` module. Everything runs on one libevent loop; no locks.
 */
#ifndef FM_PLATFORM_H
#define FM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "policy/policy.h"

struct store;

/* ---- function specs ------------------------------------------------------------------------
 * A function as deployed: parsed from YAML (faasml deploy) or JSON (admin API), always validated
 * by the same code. Strings are owned by the spec and freed by platform_spec_release. */
typedef enum platform_runtime {
    PLATFORM_RUNTIME_CUSTOM, /* an executable `bootstrap` that speaks the Runtime API */
    PLATFORM_RUNTIME_ONNX,   /* faasml's own function host with the built-in ONNX handler */
    PLATFORM_RUNTIME_IMAGE,  /* a Lambda container image run with podman (image.c) */
    PLATFORM_RUNTIME__COUNT
} platform_runtime;

/* "custom", "builtin-onnx", "image": the spec's names, one table (spec.c). */
const char *platform_runtime_name(platform_runtime r);

/* How an instance is isolated (docs/security.md). DEFAULT: the platform's choice (sandbox where
 * the kernel allows it). */
typedef enum platform_isolation {
    PLATFORM_ISOLATION_DEFAULT,
    PLATFORM_ISOLATION_PROCESS,
    PLATFORM_ISOLATION_SANDBOX,
} platform_isolation;

#define PLATFORM_NAME_MAX 64
#define PLATFORM_MAX_ARGS 32
#define PLATFORM_MAX_ENV 64
#define PLATFORM_ENV_BYTES 4096 /* Lambda: user variables total at most 4 KB */

typedef struct platform_spec {
    char name[PLATFORM_NAME_MAX + 1];
    platform_runtime runtime;
    char *bootstrap;               /* custom: executable path (absolute after resolution) */
    char *args[PLATFORM_MAX_ARGS]; /* extra argv for bootstrap */
    int nargs;
    char *handler;    /* _HANDLER; NULL: "handler" */
    char *code_dir;   /* LAMBDA_TASK_ROOT and working directory */
    char *model;      /* builtin-onnx: model path */
    char *image;      /* image: the container image reference, NAME[:TAG] or NAME@DIGEST */
    int memory_mb;    /* 128..10240 */
    double timeout_s; /* 1..900 */
    char *env_keys[PLATFORM_MAX_ENV], *env_vals[PLATFORM_MAX_ENV];
    int nenv;
    int reserved_concurrency; /* -1: unreserved (account limit applies) */
    int provisioned_concurrency;
    double keep_alive_s;       /* -1: the profile's default */
    char profile[16];          /* lambda (default), gcf, managed, server */
    char platform[48];         /* data/platforms.yaml entry ("": the profile's default) */
    char *policy;              /* policy overrides as JSON text (policy_config_apply_yaml keys) */
    int batch_max_size;        /* dynamic batching: 0 or 1 = off */
    double batch_max_delay_ms; /* release a partial batch after this wait */
    char cold_start[8];        /* builtin-onnx: "exec" (default) or "zygote" */
    char precision[8];         /* builtin-onnx: "fp32" (default), "bf16" or "int8" */
    platform_isolation isolation; /* spec key `isolation` (spec_sandbox.c) */
    bool network_host;            /* `network: host`; default none (sandbox: only lo) */
    int ephemeral_mb;             /* `ephemeral_storage_mb`: /tmp size, 512 (Lambda's default) */
} platform_spec;

void platform_spec_init(platform_spec *s); /* defaults: 128 MB, 3 s, lambda */
void platform_spec_release(platform_spec *s);
/* Parses a YAML spec file; relative paths (bootstrap, model, code_dir) resolve against the spec's
 * directory. Errors name file:line:col. */
int platform_spec_load_yaml(const char *path, platform_spec *out, fm_err *err);
int platform_spec_parse_yaml(const char *buf, size_t len, const char *name, const char *base_dir,
                             platform_spec *out, fm_err *err);
/* Parses the admin API's JSON form (paths must be absolute). */
int platform_spec_parse_json(const char *buf, size_t len, platform_spec *out, fm_err *err);
/* The spec's key table as Markdown (key, type, range, description), like snprintf. */
size_t platform_spec_keys_markdown(char *buf, size_t cap);
/* The JSON form of a spec, malloc'd; NULL when out of memory. */
char *platform_spec_to_json(const platform_spec *s);

/* ---- runtime image (image.c) ----------------------------------------------------------------
 * What podman needs on this host, detected from the cgroup mount, the euid and the hard limits;
 * `faasml serve` (runtime: image) and `faasml package --format oci` both ask here. */
typedef struct platform_podman {
    bool cgroup_v2;
    bool rootless;   /* not root: podman runs rootless */
    bool limits;     /* --memory/--cpus take effect (rootful, or rootless on cgroup v2) */
    bool swap_limit; /* memory+swap is accounted (--memory-swap) */
    char flags[256]; /* what `podman run` needs here: "--runtime runc --ulimit nofile=H:H ..." */
    char why[512];   /* one line: what was detected and chosen */
} platform_podman;
void platform_podman_detect(platform_podman *out);
/* Whether ref can be an image reference ([HOST[:PORT]/]PATH[:TAG][@DIGEST]; no leading '-'). */
bool platform_image_ref_ok(const char *ref);
/* Lambda's CPU share of a memory size: memory/1769 vCPU, at most 6 (profile.c). */
double platform_lambda_vcpu(int memory_mb);

/* ---- the server ----------------------------------------------------------------------------- */
typedef struct platform_config {
    const char *listen_host;    /* 127.0.0.1 */
    int listen_port;            /* 0: a free port */
    int account_concurrency;    /* Lambda's default: 1000 */
    int scale_per_10s;          /* new instances per function per 10 s (Lambda 2023+: 1000) */
    double keep_alive_s;        /* default idle TTL, 600 */
    double init_timeout_s;      /* on-demand init limit, 10 */
    double drain_s;             /* graceful shutdown: wait this long for in-flight requests */
    int event_queue_max;        /* queued Event invocations per function */
    int event_retries;          /* retries of an Event invocation after a function error (2) */
    double event_retry_delay_s; /* before the first retry, doubled for the next (Lambda: ~60) */
    const char *region;         /* us-east-1 */
    const char *self_exe;       /* faasml binary for builtin-onnx functions; NULL: /proc/self/exe */
    const char *log_dir;        /* per-function instance logs; NULL: the platform's log */
    bool no_cgroups;            /* force the RLIMIT_AS fallback */
    bool no_cpu_limit;          /* cgroups for memory only: no CPU quota or CPU group */
    const char *platforms;      /* policy data file; NULL: $FAASML_PLATFORMS or data/ of the tree */
    const char *prices;         /* price catalogue invocations are billed on (granularity_ms,
                                   bills_init); NULL: $FAASML_PRICES or data/prices.yaml */
    const char *price_snapshot; /* catalogue snapshot; NULL: "current" */
    int max_connections;        /* gateway client connections at once; 0: 3/4 of RLIMIT_NOFILE */
    double header_timeout_s;    /* a connection's request must arrive within this (30) */
    double idle_timeout_s;      /* a keep-alive connection idle this long is closed (960) */
    /* isolation (docs/security.md) */
    bool isolation_process;         /* functions without `isolation` run as processes (default:
                                       sandbox where the kernel allows) */
    bool sandbox_fallback_refuse;   /* where the kernel refuses the sandbox: refuse to start it
                                       (default: run such instances as plain processes) */
    int pids_max;                   /* processes per instance (0: 1024) */
    int sandbox_uid_base;           /* function uids start here (0: 200000) */
    const char *credentials;        /* SigV4 credentials file (auth.h); NULL: no authentication */
    const char *tls_cert, *tls_key; /* PEM files: the gateway speaks HTTPS (both or neither) */
    const char *const *bootstrap_dirs; /* a custom bootstrap must lie in one (NULL: anywhere) */
    int nbootstrap_dirs;
    policy_host_config host; /* host_capacity: memory admission of instances, pids each */
    bool insecure_listen;    /* allow a non-loopback listener without authentication (only
                                the --insecure-listen flag sets it; warns at every start) */
} platform_config;

void platform_config_init(platform_config *c);
/* Reads a platform.yaml (keys as in platform_config, see docs/platform.md). */
int platform_config_load(const char *path, platform_config *c, fm_arena *strings, fm_err *err);

typedef struct platform platform;

/* ---- the instance log -----------------------------------------------------------------------
 * One line per instance line, START/END/REPORT included: "STAMP NAME[INSTANCE] TEXT", STAMP in
 * RFC 3339 UTC with milliseconds. `faasml logs` reads it with the two parsers below. */

/* Where a platform with this configuration writes its instance logs, as an absolute path:
 * log_dir/instances.log, else the regular file its stderr is redirected to. Returns 0, or
 * FM_ENOTFOUND (buf "") when they go to a terminal or a pipe, or -errno for a bad log_dir. */
int platform_log_path(const platform_config *cfg, char *buf, size_t cap);

typedef struct platform_log_line {
    int64_t t_ns;     /* the stamp, ns since the epoch; -1 in an unstamped (older) line */
    const char *name; /* the function, name_len bytes, pointing into the line */
    size_t name_len;
    int64_t instance;
    const char *text; /* the rest of the line */
} platform_log_line;

/* Splits one line (NUL-terminated, without its newline). Returns 0, or FM_EINVAL for a line of
 * another shape (a platform message on the same stderr). */
int platform_log_parse(const char *line, platform_log_line *out);
/* An RFC 3339 time ("2026-12-03T17:40:00Z"; fraction and zone optional, UTC without one; a space
 * for the T) as ns since the epoch. Returns 0, or FM_EINVAL. */
int platform_log_time_parse(const char *s, size_t len, int64_t *out);

/* Creates the platform on its own event base and binds the gateway. st (may be NULL) receives
 * every request, instance, cost and point; the platform does not own it. */
int platform_new(const platform_config *cfg, struct store *st, int64_t run_id, platform **out,
                 fm_err *err);
void platform_free(platform *p); /* stops every instance; NULL is fine */
int platform_port(const platform *p);
/* Which memory/CPU enforcement is active, e.g. "cgroup v1 (memory.limit_in_bytes, cfs quota)". */
const char *platform_enforcement(const platform *p);
/* Which isolation is active and why, e.g. "sandbox (user, mount, pid, ...)". */
const char *platform_isolation_desc(const platform *p);
/* Runs the loop until platform_shutdown completes. SIGTERM/SIGINT start a graceful shutdown. */
int platform_run(platform *p);
/* Stops accepting, drains in-flight requests up to cfg.drain_s, stops instances, breaks the loop.
 * Safe to call from a libevent callback. */
void platform_shutdown(platform *p);
/* Deploys or replaces a function (the admin API uses this too). */
int platform_deploy(platform *p, const platform_spec *spec, bool *created, fm_err *err);

#endif
