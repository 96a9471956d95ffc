/* Private to the platform module: what keeps an instance in its box. Two lifetimes:
 *
 *   plat_sandbox  the platform's: which cgroup controllers and which isolation this machine
 *                 allows (probed once at start), the seccomp program, the function uids.
 *   plat_cg       one instance's: its cgroups (memory, cpu, pids, freezer), the files the child
 *                 joins them through, and its isolation plan (mounts, uid, network).
 *
 * The instance manager calls, in order: plat_sandbox_prepare (parent, before fork: everything
 * that allocates), plat_sandbox_enter (child, between fork and exec: only system calls),
 * plat_sandbox_take_rapi (parent, after each fork: the Runtime API listener the child bound
 * inside its network namespace), plat_sandbox_close_fds, and at the end plat_sandbox_kill and
 * plat_sandbox_remove, which kill whatever is still in the cgroups and check they are empty.
 *
 * Isolation levels (docs/security.md):
 *   process  a plain process of the platform's user, with cgroup limits (the old behaviour)
 *   sandbox  own mount, pid, ipc, uts, net, cgroup and user namespaces; the function's own
 *            unprivileged uid; read-only root holding only the system directories, the code and
 *            the model; tmpfs /tmp; minimal /dev and /proc; no capabilities; no_new_privs; a
 *            seccomp allow-list; pids.max and RLIMIT_NOFILE. The Runtime API is 127.0.0.1:9001
 *            inside the instance's own network namespace (network: none) or the platform's port
 *            on the host's loopback (network: host). */
#ifndef FM_PLAT_SANDBOX_H
#define FM_PLAT_SANDBOX_H

#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform.h"

typedef enum plat_sb_kind { PLAT_SB_RLIMIT, PLAT_SB_CGROUP1, PLAT_SB_CGROUP2 } plat_sb_kind;

#define PLAT_SB_RAPI_PORT 9001 /* Lambda's Runtime API address inside the sandbox */
#define PLAT_SB_MAX_MOUNTS 40
#define PLAT_SB_PATH 512

typedef struct plat_sandbox {
    plat_sb_kind kind;
    char mem_root[512], cpu_root[512];
    char pids_root[512], frz_root[512]; /* cgroup v1 pids and freezer groups ("" when absent) */
    char desc[160];
    /* isolation (sandbox_ns.c) */
    bool ns_ok;            /* the probe entered every namespace and installed the filter */
    char iso_desc[320];    /* the start-up line and /metrics' label: what is active, and why */
    void *bpf;             /* struct sock_fprog of the seccomp allow-list (NULL: none built) */
    int pids_max;          /* per instance (cgroup pids.max, else RLIMIT_NPROC) */
    int nofile;            /* RLIMIT_NOFILE per instance */
    int uid_base;          /* function uids are uid_base + n */
    bool fallback_process; /* sandbox refused by the kernel: run as process (else refuse) */
    bool default_process;  /* the operator made process the default isolation */
    char self_exe[PLAT_SB_PATH];
    char **boot_dirs; /* the operator's allowed bootstrap directories, resolved (NULL: any) */
    int nboot_dirs;
    char **uid_names; /* function name of uid_base + 1 + i */
    int *uid_ns;      /* a user namespace mapping 0 to that uid, for id-mapped binds (-1: none) */
    int nuids;
    uint64_t started, refused; /* sandboxed instances started, sandbox starts refused */
} plat_sandbox;

typedef enum plat_sb_mount_kind {
    PLAT_SB_BIND_DIR,  /* read-only bind of a directory */
    PLAT_SB_BIND_FILE, /* read-only bind of a file */
    PLAT_SB_BIND_DEV,  /* bind of a device node (writable: /dev/null) */
    PLAT_SB_SYMLINK,   /* src is the link's target */
    PLAT_SB_TMPFS,     /* src holds the mount options */
    PLAT_SB_PROC,
} plat_sb_mount_kind;

typedef struct plat_sb_mount {
    plat_sb_mount_kind kind;
    int userns_fd; /* >= 0: an id-mapped bind (the platform's uid 0 shows as the function's) */
    char src[PLAT_SB_PATH], dst[PLAT_SB_PATH];
} plat_sb_mount;

typedef struct plat_cg { /* one instance's cgroups and isolation */
    char mem[600], cpu[600], pids[600], frz[600];
    int mem_fd, cpu_fd, pids_fd, frz_fd; /* cgroup.procs, opened before fork */
    int peak_fd;                         /* memory peak file, read with pread at each REPORT */
    uint64_t limit_bytes;
    bool pids_limited; /* pids.max is set (else RLIMIT_NPROC stands in) */
    /* isolation */
    bool sandboxed;        /* this instance runs in a sandbox */
    bool net_host;         /* network: host (no network namespace, Runtime API on the host) */
    int sock[2];           /* [1] the child sends its Runtime API listener over [0] */
    uid_t uid;             /* the function's uid (and gid) */
    int tmp_mb;            /* /tmp size */
    plat_sb_mount *mounts; /* the plan, in order (malloc'd by prepare) */
    int nmounts;
    const plat_sandbox *sb;
} plat_cg;

/* The platform's part: cgroups (sandbox.c) and isolation (sandbox_ns.c, probed here). Never
 * fails: what the machine refuses is described in desc/iso_desc. */
int plat_sandbox_init(plat_sandbox *sb, const platform_config *cfg);
void plat_sandbox_release(plat_sandbox *sb);
void plat_sandbox_set_instances(plat_sandbox *sb, int n); /* CPU weight of the whole group */
/* Before fork: the instance's cgroups and, for isolation sandbox, its mount plan and uid. */
int plat_sandbox_prepare(plat_sandbox *sb, int64_t id, int memory_mb, const platform_spec *spec,
                         plat_cg *cg, fm_err *err);
/* Child, between fork and exec: joins the cgroups and enters the sandbox. exw is the exec pipe
 * (the errno of a failed step goes there, its name to stderr). Returns in the process that
 * goes on to exec; only system calls. */
void plat_sandbox_enter(const plat_sandbox *sb, const plat_cg *cg, int exw);
/* Child: joins the instance's cgroups (and sets RLIMIT_AS without them). */
void plat_sandbox_join(const plat_sandbox *sb, const plat_cg *cg);
/* Parent, after forking a worker of a sandboxed instance without host network: receives the
 * listener the child bound at 127.0.0.1:9001 in its namespace and serves it on rapi (*bs: the
 * bound socket; NULL when the instance does not pass one, and 0 is returned). */
int plat_sandbox_take_rapi(plat_cg *cg, struct evhttp *rapi, struct evhttp_bound_socket **bs,
                           fm_err *err);
/* True when the Runtime API of this instance is the sandbox's 127.0.0.1:9001. */
bool plat_sandbox_rapi_inside(const plat_cg *cg);
void plat_sandbox_close_fds(plat_cg *cg);
/* Kills every process of the instance's cgroups (cgroup.kill, or freeze, kill, thaw). */
void plat_sandbox_kill(const plat_sandbox *sb, const plat_cg *cg);
bool plat_sandbox_oom_killed(const plat_sandbox *sb, const plat_cg *cg);
int64_t plat_sandbox_peak_bytes(const plat_sandbox *sb, const plat_cg *cg); /* -1: unknown */
/* Kills what is left, waits until the groups are empty (bounded), removes them. */
void plat_sandbox_remove(plat_cg *cg);

/* sandbox_ns.c */
int plat_sandbox_ns_init(plat_sandbox *sb, const platform_config *cfg);
void plat_sandbox_ns_release(plat_sandbox *sb);
int plat_sandbox_ns_prepare(plat_sandbox *sb, const platform_spec *spec, plat_cg *cg, fm_err *err);
void plat_sandbox_ns_enter(const plat_sandbox *sb, const plat_cg *cg, int exw);
void plat_sandbox_ns_free(plat_cg *cg);
/* Refuses a spec whose custom bootstrap lies outside the operator's allowed directories. */
int plat_sandbox_check_spec(const plat_sandbox *sb, const platform_spec *spec, fm_err *err);
/* The isolation lines of /metrics. */
struct evbuffer;
void plat_sandbox_metrics(const plat_sandbox *sb, struct evbuffer *out);

#endif
