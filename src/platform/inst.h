/*
 * Private to the platform module: one instance (plat_inst), a sandboxed process (or a group of
 * worker processes) plus its own Lambda Runtime API endpoint.
 *
 * instance.c owns every plat_inst: plat_inst_start creates it for the policy's START, the
 * function tracks it in fn->insts and fn->slots, and it is freed once its processes are reaped
 * (reaped -> POLICY_EV_STOPPED or START_FAILED) or, at teardown, by plat_inst_forget. An
 * instance holds the invocations handed to it (pending until a worker asks /next, then in
 * flight) and ends each one through plat_inv_end after untracking it.
 *
 * Starting a process is one function, plat_spawn: fork, then in the child stdio, the sandbox
 * (plat_sandbox_enter, sandbox.c: the one child-side call between fork and exec), chdir and
 * exec; or a fork of the function's zygote (zygote.c) when it has one.
 */
#ifndef FM_PLAT_INST_H
#define FM_PLAT_INST_H

#include "inv.h"

typedef enum plat_inst_state {
    PLAT_INST_STARTING, /* spawned, has not called /next yet */
    PLAT_INST_IDLE,     /* waiting in /next */
    PLAT_INST_BUSY,     /* an invocation was handed out */
    PLAT_INST_STOPPING, /* killed, waiting to be reaped */
} plat_inst_state;

/* One instance: a process with its own Runtime API listener (managed/server: a group of
 * inst.workers processes sharing the listener and a cgroup). */
struct plat_inst {
    TAILQ_ENTRY(plat_inst) link;
    int64_t id; /* platform-wide, also the store's instance id */
    policy_instance_id pid_policy;
    plat_fn *fn;
    plat_inst_state state;
    bool provisioned, ready, exited;
    pid_t pid;    /* first worker; every worker is in its process group */
    pid_t *wpids; /* the runtime processes of this instance (nworkers) */
    int nworkers, nexited;
    bool worker_died; /* a worker exited unasked: the whole instance is stopped */
    int wstatus;      /* of the first worker that exited */
    struct evhttp *rapi;
    int port;
    struct plat_park { /* parked /next long-polls, one per idle worker */
        struct evhttp_request *req;
        struct evhttp_connection *conn;
    } * park;
    int npark, nready;            /* nready: /next calls seen before READY (all workers up) */
    struct plat_inv_list pending; /* dispatched before a worker asked /next */
    plat_inv **invs;              /* handed out, not answered (at most nworkers) */
    int ninv;
    int out_fd, err_fd; /* stdout/stderr pipes */
    struct event *out_ev, *err_ev;
    struct event *timer; /* init timeout */
    bool stop_asked;     /* the policy asked for STOP: it expects STOPPED */
    plat_cg cg;
    int64_t created_ns, created_wall_ns, exec_ns, ready_ns, stopped_ns;
    double phase_ms[FM_PHASE__COUNT]; /* by fm_phase: download, load and warmup as the function
                                         host reported them (if any); the meter derives spawn and
                                         runtime init from the timestamps */
    char *init_error;                 /* body of /init/error */
    char init_error_type[96];
    char stop_reason[16];
    char linebuf[2][1024]; /* partial stdout/stderr line */
    size_t linelen[2];
    int64_t invocations;
    bool zygote;                 /* forked from the function's zygote, not exec'd */
    struct plat_image_inst *img; /* runtime image: its container (image.c); else NULL */
    uint16_t ports[8]; /* client ports of the Runtime API connections seen (keep-alive count) */
    char logname[PLATFORM_NAME_MAX + 24]; /* "NAME[ID] ", the prefix of its log lines */
    size_t logname_len;                   /* 0: not formatted yet */
    int64_t peak_bytes, peak_read_ns;     /* the cgroup's memory peak, and when it was read */
    int nports;
};

/* ---- instance.c: processes and the Runtime API ------------------------------------------- */
int plat_inst_start(plat_fn *fn, policy_instance_id pid_policy, bool provisioned, fm_err *err);
/* DISPATCH: the instance takes inv (delivered now to a waiting /next, or when one comes). */
void plat_inst_dispatch(plat_inst *in, plat_inv *inv, bool cold);
plat_inv *plat_inst_sole_inv(plat_inst *in); /* the one invocation in flight, else NULL */
/* Forks one runtime process (see the top of this file). Returns the pid, -1 with errno. */
pid_t plat_spawn(plat_inst *in, char *const argv[], char *const envp[], const char *cwd, int outw,
                 int errw, int exw, pid_t pgid);
void plat_inst_kill(plat_inst *in, const char *reason);
void plat_inst_timeout(plat_inst *in, plat_inv *inv); /* inv's timeout fired while it ran here */
void plat_inst_reap(platform *p);                     /* SIGCHLD */
void plat_inst_forget(plat_inst *in); /* teardown: waits for the process, frees, tells no one */
int plat_inst_peak_mb(plat_inst *in); /* Max Memory Used for REPORT */
const char *plat_inst_state_name(plat_inst_state s);
/* The instance environment (Lambda's variables) as a NULL-terminated, malloc'd list. */
char **plat_inst_env_new(plat_inst *in);
void plat_inst_env_free(char **v);
/* Every line goes to the platform's log and, while inv (may be NULL) runs, into its log. */
void plat_log_line(plat_inst *in, plat_inv *inv, const char *line, size_t len);

/* ---- zygote.c: zygote cold starts -------------------------------------------------------- */
/* Starts the function's zygote and waits until it has loaded the model; on failure logs why and
 * leaves fn->zyg NULL (instances then start with exec). */
void plat_zygote_start(plat_fn *fn);
void plat_zygote_stop(plat_fn *fn);
/* Asks the zygote for a runtime of instance `in` (stdout/stderr to outw/errw, in its cgroup).
 * Returns the pid (a child of this process once the zygote's intermediate exits) or -errno. */
pid_t plat_zygote_spawn(plat_inst *in, int outw, int errw);

/* ---- image.c: runtime image, a container run by podman ------------------------------------ */
/* At deploy: podman is found and the host's quirks detected (once, logged), the image must be in
 * local storage, and the profile must run one worker per instance. */
int plat_image_prepare(plat_fn *fn, fm_err *err);
/* podman's argv and environment for instance in, built before fork from Lambda's variables
 * (lambda_env, borrowed: keep it alive while the command is used). Creates in->img. */
typedef struct plat_image_cmd {
    char **argv, **envp;
    char **own; /* strings the command allocated */
    int nown;
    bool oom;
} plat_image_cmd;
int plat_image_cmd_build(plat_inst *in, char *const lambda_env[], plat_image_cmd *c, fm_err *err);
void plat_image_cmd_release(plat_image_cmd *c);
void plat_image_ready(plat_inst *in);     /* first /next: open the container's memory peak */
void plat_image_kill(plat_inst *in);      /* podman rm -f the container; the client then exits */
void plat_image_reaped(plat_inst *in);    /* the client is gone: remove what it may have left */
void plat_image_inst_free(plat_inst *in); /* from inst_free */
void plat_image_sweep(platform *p); /* teardown: remove every container of this platform, wait */

/* ---- meter.c ------------------------------------------------------------------------------- */
void plat_meter_instance(plat_inst *in); /* at start, ready and stop (insert or replace) */

#endif
