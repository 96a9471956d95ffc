/* Isolation of an instance (sandbox.h): namespaces, an own uid, a read-only root built from
 * read-only binds, a seccomp allow-list, no capabilities. Everything that allocates happens in
 * the parent (the seccomp program once at start, the mount plan per instance); the child only
 * makes system calls, in this order:
 *
 *   C  (the platform's child, outside): unshare mount, pid, ipc and uts (and net) namespaces,
 *      fork G, wait for it and exit as it did. C stays outside the pid namespace, so the platform
 *      reaps, kills and records it like any runtime process.
 *   G  (pid 1 inside, still the platform's user): builds the new root under a tmpfs and pivots
 *      into it, brings up lo, binds 127.0.0.1:9001 and passes the listener back, joins the
 *      instance's cgroups and enters a cgroup namespace rooted there (so the setup above runs
 *      outside the instance's CPU quota), sets its limits, becomes the function's uid, enters a
 * user namespace of its own (which owns none of the other namespaces, so capabilities in it reach
 * nothing), drops every capability, sets no_new_privs, installs the filter and returns to exec the
 * runtime.
 *
 * Where the kernel refuses any step, the probe at start-up says which, and instances fall back to
 * process isolation or are refused, as configured. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grp.h>

#include <event2/buffer.h>
#include <event2/util.h>

/* ---- the seccomp allow-list ----------------------------------------------------------------
 * What a Lambda runtime needs (glibc, Python, Node, the faasml function host with its thread
 * pools): files, memory, threads, signals, time, sockets, pipes, polling. Everything else fails
 * with ENOSYS, as on a kernel that lacks it, so runtimes take their fallback paths; the calls
 * below that could leave the box fail with EPERM, as an unprivileged process expects. */
static const char *const sc_allow[] = {"accept",
                                       "accept4",
                                       "access",
                                       "alarm",
                                       "arch_prctl",
                                       "bind",
                                       "brk",
                                       "capget",
                                       "chdir",
                                       "chmod",
                                       "chown",
                                       "clock_getres",
                                       "clock_gettime",
                                       "clock_nanosleep",
                                       "close",
                                       "close_range",
                                       "connect",
                                       "copy_file_range",
                                       "creat",
                                       "dup",
                                       "dup2",
                                       "dup3",
                                       "epoll_create",
                                       "epoll_create1",
                                       "epoll_ctl",
                                       "epoll_pwait",
                                       "epoll_pwait2",
                                       "epoll_wait",
                                       "eventfd",
                                       "eventfd2",
                                       "execve",
                                       "execveat",
                                       "exit",
                                       "exit_group",
                                       "faccessat",
                                       "faccessat2",
                                       "fadvise64",
                                       "fallocate",
                                       "fchdir",
                                       "fchmod",
                                       "fchmodat",
                                       "fchown",
                                       "fchownat",
                                       "fcntl",
                                       "fdatasync",
                                       "fgetxattr",
                                       "flistxattr",
                                       "flock",
                                       "fork",
                                       "fremovexattr",
                                       "fsetxattr",
                                       "fstat",
                                       "fstatfs",
                                       "fsync",
                                       "ftruncate",
                                       "futex",
                                       "futex_waitv",
                                       "get_mempolicy",
                                       "get_robust_list",
                                       "getcpu",
                                       "getcwd",
                                       "getdents",
                                       "getdents64",
                                       "getegid",
                                       "geteuid",
                                       "getgid",
                                       "getgroups",
                                       "getitimer",
                                       "getpeername",
                                       "getpgid",
                                       "getpgrp",
                                       "getpid",
                                       "getppid",
                                       "getpriority",
                                       "getrandom",
                                       "getresgid",
                                       "getresuid",
                                       "getrlimit",
                                       "getrusage",
                                       "getsid",
                                       "getsockname",
                                       "getsockopt",
                                       "gettid",
                                       "gettimeofday",
                                       "getuid",
                                       "getxattr",
                                       "inotify_add_watch",
                                       "inotify_init",
                                       "inotify_init1",
                                       "inotify_rm_watch",
                                       "ioctl",
                                       "io_cancel",
                                       "io_destroy",
                                       "io_getevents",
                                       "io_setup",
                                       "io_submit",
                                       "ioprio_get",
                                       "kill",
                                       "lchown",
                                       "lgetxattr",
                                       "link",
                                       "linkat",
                                       "listen",
                                       "listxattr",
                                       "llistxattr",
                                       "lseek",
                                       "lstat",
                                       "madvise",
                                       "mbind",
                                       "membarrier",
                                       "memfd_create",
                                       "mincore",
                                       "mkdir",
                                       "mkdirat",
                                       "mlock",
                                       "mlock2",
                                       "mmap",
                                       "mprotect",
                                       "mremap",
                                       "msync",
                                       "munlock",
                                       "munmap",
                                       "nanosleep",
                                       "newfstatat",
                                       "open",
                                       "openat",
                                       "openat2",
                                       "pause",
                                       "pidfd_open",
                                       "pidfd_send_signal",
                                       "pipe",
                                       "pipe2",
                                       "poll",
                                       "ppoll",
                                       "prctl",
                                       "pread64",
                                       "preadv",
                                       "preadv2",
                                       "prlimit64",
                                       "pselect6",
                                       "pwrite64",
                                       "pwritev",
                                       "pwritev2",
                                       "read",
                                       "readahead",
                                       "readlink",
                                       "readlinkat",
                                       "readv",
                                       "recvfrom",
                                       "recvmmsg",
                                       "recvmsg",
                                       "rename",
                                       "renameat",
                                       "renameat2",
                                       "restart_syscall",
                                       "rmdir",
                                       "rseq",
                                       "rt_sigaction",
                                       "rt_sigpending",
                                       "rt_sigprocmask",
                                       "rt_sigqueueinfo",
                                       "rt_sigreturn",
                                       "rt_sigsuspend",
                                       "rt_sigtimedwait",
                                       "rt_tgsigqueueinfo",
                                       "sched_get_priority_max",
                                       "sched_get_priority_min",
                                       "sched_getaffinity",
                                       "sched_getattr",
                                       "sched_getparam",
                                       "sched_getscheduler",
                                       "sched_rr_get_interval",
                                       "sched_setaffinity",
                                       "sched_setattr",
                                       "sched_setparam",
                                       "sched_setscheduler",
                                       "sched_yield",
                                       "seccomp",
                                       "select",
                                       "sendfile",
                                       "sendmmsg",
                                       "sendmsg",
                                       "sendto",
                                       "set_mempolicy",
                                       "set_robust_list",
                                       "set_tid_address",
                                       "setitimer",
                                       "setpgid",
                                       "setpriority",
                                       "setsid",
                                       "setsockopt",
                                       "shutdown",
                                       "sigaltstack",
                                       "signalfd",
                                       "signalfd4",
                                       "socketpair",
                                       "splice",
                                       "stat",
                                       "statfs",
                                       "statx",
                                       "symlink",
                                       "symlinkat",
                                       "sync",
                                       "sync_file_range",
                                       "syncfs",
                                       "sysinfo",
                                       "tee",
                                       "tgkill",
                                       "time",
                                       "timer_create",
                                       "timer_delete",
                                       "timer_getoverrun",
                                       "timer_gettime",
                                       "timer_settime",
                                       "timerfd_create",
                                       "timerfd_gettime",
                                       "timerfd_settime",
                                       "times",
                                       "tkill",
                                       "truncate",
                                       "umask",
                                       "uname",
                                       "unlink",
                                       "unlinkat",
                                       "utime",
                                       "utimensat",
                                       "utimes",
                                       "vfork",
                                       "wait4",
                                       "waitid",
                                       "write",
                                       "writev",
                                       "getpmsg",
                                       "msgget",
                                       "msgsnd",
                                       "msgrcv",
                                       "msgctl",
                                       "semget",
                                       "semop",
                                       "semctl",
                                       "semtimedop",
                                       "shmget",
                                       "shmat",
                                       "shmdt",
                                       "shmctl",
                                       "mq_open",
                                       "mq_unlink",
                                       "mq_timedsend",
                                       "mq_timedreceive",
                                       "mq_notify",
                                       "mq_getsetattr",
                                       "setuid",
                                       "setgid",
                                       "setreuid",
                                       "setregid",
                                       "setresuid",
                                       "setresgid",
                                       "setgroups",
                                       "setfsuid",
                                       "setfsgid",
                                       "capset",
                                       "setrlimit",
                                       "personality"};

/* Calls that reach outside the box (or the kernel's riskiest surfaces): EPERM. */
static const char *const sc_eperm[] = {"mount",
                                       "umount2",
                                       "pivot_root",
                                       "chroot",
                                       "unshare",
                                       "setns",
                                       "ptrace",
                                       "process_vm_readv",
                                       "process_vm_writev",
                                       "kcmp",
                                       "init_module",
                                       "finit_module",
                                       "delete_module",
                                       "kexec_load",
                                       "kexec_file_load",
                                       "reboot",
                                       "swapon",
                                       "swapoff",
                                       "acct",
                                       "settimeofday",
                                       "clock_settime",
                                       "clock_adjtime",
                                       "adjtimex",
                                       "bpf",
                                       "perf_event_open",
                                       "keyctl",
                                       "add_key",
                                       "request_key",
                                       "open_by_handle_at",
                                       "name_to_handle_at",
                                       "userfaultfd",
                                       "iopl",
                                       "ioperm",
                                       "syslog",
                                       "vhangup",
                                       "quotactl",
                                       "fsopen",
                                       "fsconfig",
                                       "fsmount",
                                       "fspick",
                                       "move_mount",
                                       "open_tree",
                                       "mount_setattr",
                                       "io_uring_setup",
                                       "io_uring_enter",
                                       "io_uring_register",
                                       "fanotify_init",
                                       "lookup_dcookie",
                                       "sethostname",
                                       "setdomainname",
                                       "ioprio_set"};

#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |     \
     CLONE_NEWCGROUP)

/* Why: libseccomp allocates and cannot run between fork and exec; the program is compiled once
 * and exported to memory, and the child installs it with one prctl. */
static int build_filter(plat_sandbox *sb, char *why, size_t cap)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
    if (!ctx) {
        snprintf(why, cap, "seccomp_init failed");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < FM_ARRAY_LEN(sc_allow) && !rc; i++) {
        int nr = seccomp_syscall_resolve_name(sc_allow[i]);
        if (nr != __NR_SCMP_ERROR && nr >= 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    for (size_t i = 0; i < FM_ARRAY_LEN(sc_eperm) && !rc; i++) {
        int nr = seccomp_syscall_resolve_name(sc_eperm[i]);
        if (nr != __NR_SCMP_ERROR && nr >= 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* clone: threads and processes, never new namespaces. clone3 passes its flags in memory the
     * filter cannot read: ENOSYS, and glibc falls back to clone. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0));
    if (!rc)
        rc = seccomp_rule_add(
            ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
            SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS & 0xffffffffu, NS_FLAGS & 0xffffffffu));
    /* socket: local, IP and netlink (getaddrinfo) only; no packet or other raw families. */
    static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
    for (size_t i = 0; i < FM_ARRAY_LEN(families) && !rc; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
    int mfd = rc ? -1 : memfd_create("faasml-seccomp", MFD_CLOEXEC);
    if (!rc && mfd >= 0)
        rc = seccomp_export_bpf(ctx, mfd);
    seccomp_release(ctx);
    if (rc || mfd < 0) {
        snprintf(why, cap, "cannot build the seccomp filter: %s", strerror(rc ? -rc : errno));
        if (mfd >= 0)
            close(mfd);
        return -1;
    }
    off_t len = lseek(mfd, 0, SEEK_END);
    struct sock_fprog *prog = calloc(1, sizeof *prog);
    void *code = len > 0 ? malloc((size_t)len) : NULL;
    if (!prog || !code || pread(mfd, code, (size_t)len, 0) != len) {
        free(prog);
        free(code);
        close(mfd);
        snprintf(why, cap, "cannot read the seccomp filter back");
        return -1;
    }
    close(mfd);
    prog->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
    prog->filter = code;
    sb->bpf = prog;
    return 0;
}

/* ---- the mount plan (parent) ---------------------------------------------------------------- */

static int write_file(const char *path, const char *v);

static int plan_add(plat_cg *cg, plat_sb_mount_kind kind, const char *src, const char *dst)
{
    if (cg->nmounts >= PLAT_SB_MAX_MOUNTS || strlen(src) >= PLAT_SB_PATH ||
        strlen(dst) >= PLAT_SB_PATH)
        return FM_ELIMIT;
    plat_sb_mount *m = &cg->mounts[cg->nmounts++];
    m->kind = kind;
    m->userns_fd = -1;
    snprintf(m->src, sizeof m->src, "%s", src);
    snprintf(m->dst, sizeof m->dst, "%s", dst);
    return 0;
}

/* True when path lies inside an already planned read-only directory (it is visible already). */
static bool plan_covers(const plat_cg *cg, const char *path)
{
    for (int i = 0; i < cg->nmounts; i++) {
        const plat_sb_mount *m = &cg->mounts[i];
        size_t n = strlen(m->dst);
        if (m->kind == PLAT_SB_BIND_DIR && strncmp(path, m->dst, n) == 0 &&
            (path[n] == '/' || path[n] == 0))
            return true;
    }
    return false;
}

/* The system part of the root: what every runtime needs, the same for every function. */
static int plan_system(plat_cg *cg, int tmp_mb)
{
    static const char *const sys_dirs[] = {"/usr",    "/bin",   "/sbin",
                                           "/lib",    "/lib32", "/lib64",
                                           "/libx32", "/etc",   "/sys/devices/system/cpu"};
    static const char *const devs[] = {"null", "zero", "full", "random", "urandom"};
    int rc = 0;
    for (size_t i = 0; i < FM_ARRAY_LEN(sys_dirs) && !rc; i++) {
        struct stat st;
        char target[PLAT_SB_PATH];
        if (lstat(sys_dirs[i], &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(sys_dirs[i], target, sizeof target - 1);
            if (n > 0) {
                target[n] = 0;
                rc = plan_add(cg, PLAT_SB_SYMLINK, target, sys_dirs[i]);
            }
        } else if (S_ISDIR(st.st_mode)) {
            rc = plan_add(cg, PLAT_SB_BIND_DIR, sys_dirs[i], sys_dirs[i]);
        }
    }
    char opts[64];
    snprintf(opts, sizeof opts, "size=%dm,mode=1777", tmp_mb);
    if (!rc)
        rc = plan_add(cg, PLAT_SB_TMPFS, opts, "/tmp");
    if (!rc)
        rc = plan_add(cg, PLAT_SB_TMPFS, "size=64k,mode=755", "/dev");
    for (size_t i = 0; i < FM_ARRAY_LEN(devs) && !rc; i++) {
        char p[32];
        snprintf(p, sizeof p, "/dev/%s", devs[i]);
        rc = plan_add(cg, PLAT_SB_BIND_DEV, p, p);
    }
    static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"},
                                           {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < FM_ARRAY_LEN(links) && !rc; i++)
        rc = plan_add(cg, PLAT_SB_SYMLINK, links[i][0], links[i][1]);
    if (!rc)
        rc = plan_add(cg, PLAT_SB_TMPFS, "size=64m,mode=1777", "/dev/shm");
    if (!rc)
        rc = plan_add(cg, PLAT_SB_PROC, "proc", "/proc");
    return rc;
}

/* Adds the function's own paths (code, bootstrap, model, the function host), shortest first so
 * a directory inside another planned one is not mounted twice. */
static int plan_function(const plat_sandbox *sb, const platform_spec *s, plat_cg *cg, int userns)
{
    char *paths[4] = {0};
    bool is_file[4] = {0};
    int n = 0;
    if (s->code_dir)
        paths[n++] = realpath(s->code_dir, NULL);
    if (s->runtime == PLATFORM_RUNTIME_CUSTOM && s->bootstrap) {
        char *r = realpath(s->bootstrap, NULL);
        if (r) {
            paths[n++] = strdup(dirname(r));
            free(r);
        }
    }
    if (s->runtime == PLATFORM_RUNTIME_ONNX) {
        if (s->model && s->model[0] == '/') {
            char *r = realpath(s->model, NULL);
            if (r) {
                paths[n++] = strdup(dirname(r));
                free(r);
            }
        }
        is_file[n] = true;
        paths[n++] = strdup(sb->self_exe);
    }
    int rc = 0;
    for (int pass = 0; pass < n && !rc; pass++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (paths[i] && (best < 0 || strlen(paths[i]) < strlen(paths[best])))
                best = i;
        if (best < 0)
            break;
        char *p = paths[best];
        if (strcmp(p, "/") != 0 && !plan_covers(cg, p) && strncmp(p, "/proc", 5) != 0 &&
            strncmp(p, "/dev", 4) != 0)
            if (!(rc = plan_add(cg, is_file[best] ? PLAT_SB_BIND_FILE : PLAT_SB_BIND_DIR, p, p)))
                cg->mounts[cg->nmounts - 1].userns_fd = userns;
        free(p);
        paths[best] = NULL;
    }
    for (int i = 0; i < n; i++)
        free(paths[i]);
    return rc;
}

/* Why: an id-mapped bind needs a user namespace that says which uid the platform's files show
 * as. A helper process enters a new one, the platform writes "0 uid 1" into its maps and keeps
 * the namespace open by fd; the helper exits. -1 when the kernel refuses. */
static int make_userns(uid_t uid)
{
    int go[2], ready[2];
    if (pipe2(go, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(ready, O_CLOEXEC) != 0) {
        close(go[0]);
        close(go[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(ready[0]);
        char c = unshare(CLONE_NEWUSER) == 0 ? 'U' : 'E';
        if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    char c = 0, path[64], map[64];
    int fd = -1;
    if (pid > 0 && read(ready[0], &c, 1) == 1 && c == 'U') {
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
        int ok = write_file(path, map) == 0;
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
        ok = ok && write_file(path, map) == 0;
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        if (ok)
            fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    close(ready[0]);
    close(go[1]); /* the helper reads EOF and exits */
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    return fd;
}

/* Why: each function gets its own uid, so two functions never share files, signals or limits;
 * the number stays the same for the platform's lifetime (first come, first numbered). */
static uid_t uid_for(plat_sandbox *sb, const char *name, int *userns)
{
    for (int i = 0; i < sb->nuids; i++)
        if (strcmp(sb->uid_names[i], name) == 0) {
            *userns = sb->uid_ns[i];
            return (uid_t)(sb->uid_base + 1 + i);
        }
    *userns = -1;
    char **v = realloc(sb->uid_names, (size_t)(sb->nuids + 1) * sizeof *v);
    if (v)
        sb->uid_names = v;
    int *ns = v ? realloc(sb->uid_ns, (size_t)(sb->nuids + 1) * sizeof *ns) : NULL;
    if (ns)
        sb->uid_ns = ns;
    if (!v || !ns || !(v[sb->nuids] = strdup(name)))
        return (uid_t)sb->uid_base;
    uid_t uid = (uid_t)(sb->uid_base + 1 + sb->nuids);
    ns[sb->nuids++] = *userns = make_userns(uid);
    return uid;
}

/* ---- the child (only system calls from here to exec) ---------------------------------------- */

/* Writes the failed step to stderr (the instance log) and its errno to the exec pipe, then
 * exits: the platform reports the start as failed with that errno. */
static _Noreturn void die(int exw, const char *step, const char *arg)
{
    int e = errno;
    const char *en = strerrorname_np(e);
    struct iovec v[] = {{"faasml sandbox: ", 16},
                        {(void *)step, strlen(step)},
                        {" '", 2},
                        {(void *)arg, strlen(arg)},
                        {"': ", 3},
                        {(void *)(en ? en : "?"), en ? strlen(en) : 1},
                        {"\n", 1}};
    if (writev(2, v, (int)FM_ARRAY_LEN(v)) < 0)
        e = e ? e : EIO;
    struct iovec w[] = {{&e, sizeof e}, {(void *)step, strlen(step) + 1}};
    if (writev(exw, w, 2) < 0)
        _exit(127);
    _exit(127);
}

/* a + b into out (PLAT_SB_PATH + 16 bytes), without snprintf. */
static void join(char *out, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    memcpy(out, a, na);
    memcpy(out + na, b, nb + 1);
}

/* mkdir -p of path (its last component too when dir). */
static int mkdir_p(char *path, bool dir)
{
    size_t n = strlen(path);
    for (size_t i = 1; i < n; i++)
        if (path[i] == '/') {
            path[i] = 0;
            int r = mkdir(path, 0755);
            path[i] = '/';
            if (r != 0 && errno != EEXIST)
                return -1;
        }
    if (dir)
        return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == EEXIST || errno == EROFS ? 0 : -1;
    close(fd);
    return 0;
}

/* Why: the function's own files (its code dir, model) are usually the platform user's and may be
 * closed to others (a 0700 directory): an id-mapped, read-only bind shows them as the
 * function's own, so its uid can read them and nothing else changes on disk. False when the
 * kernel or the filesystem cannot (the plain bind follows). */
static bool idmapped_bind(const plat_sb_mount *m, const char *src, const char *dst)
{
    int t = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (t < 0)
        return false;
    struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                       MOUNT_ATTR_NODEV,
                           .userns_fd = (uint64_t)m->userns_fd};
    bool ok = mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) == 0 &&
              move_mount(t, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) == 0;
    close(t);
    return ok;
}

static void do_mount(const plat_sb_mount *m, int exw)
{
    char src[PLAT_SB_PATH + 16], dst[PLAT_SB_PATH + 16];
    join(dst, "/newroot", m->dst);
    join(src, "/oldroot", m->src);
    switch (m->kind) {
    case PLAT_SB_BIND_DIR:
    case PLAT_SB_BIND_FILE:
    case PLAT_SB_BIND_DEV:
        if (mkdir_p(dst, m->kind == PLAT_SB_BIND_DIR) != 0)
            die(exw, "create mount point", m->dst);
        if (m->userns_fd >= 0 && idmapped_bind(m, src, dst))
            break;
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
            die(exw, "bind", m->src);
        if (m->kind != PLAT_SB_BIND_DEV &&
            mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) !=
                0)
            die(exw, "make read-only", m->dst);
        break;
    case PLAT_SB_SYMLINK:
        if (mkdir_p(dst, false) != 0 && errno != EEXIST)
            die(exw, "create parent of", m->dst);
        unlink(dst); /* mkdir_p made a file there */
        if (symlink(m->src, dst) != 0)
            die(exw, "symlink", m->dst);
        break;
    case PLAT_SB_TMPFS:
        if (mkdir_p(dst, true) != 0)
            die(exw, "create mount point", m->dst);
        if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, m->src) != 0)
            die(exw, "mount tmpfs on", m->dst);
        break;
    case PLAT_SB_PROC:
        if (mkdir_p(dst, true) != 0)
            die(exw, "create mount point", m->dst);
        if (mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            die(exw, "mount proc on", m->dst);
        break;
    }
}

/* /tmp of the host holds the staging tmpfs (it exists everywhere): the old root goes to
 * /oldroot, the new one is built in /newroot from binds of /oldroot paths, then becomes /. */
static void build_root(const plat_cg *cg, int exw)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die(exw, "make mounts private", "/");
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") != 0)
        die(exw, "mount staging tmpfs on", "/tmp");
    if (mkdir("/tmp/oldroot", 0700) != 0 || mkdir("/tmp/newroot", 0755) != 0)
        die(exw, "mkdir", "/tmp/oldroot");
    if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0)
        die(exw, "pivot_root", "/tmp");
    if (chdir("/") != 0)
        die(exw, "chdir", "/");
    if (mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") != 0)
        die(exw, "mount root tmpfs on", "/newroot");
    for (int i = 0; i < cg->nmounts; i++)
        do_mount(&cg->mounts[i], exw);
    if (mount(NULL, "/newroot", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        die(exw, "make read-only", "/");
    if (chdir("/newroot") != 0)
        die(exw, "chdir", "/newroot");
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        die(exw, "pivot_root", "/newroot");
    if (umount2(".", MNT_DETACH) != 0)
        die(exw, "detach the old root", "/");
    if (chdir("/") != 0)
        die(exw, "chdir", "/");
}

/* lo up, 127.0.0.1:9001 bound and listening, the listener sent to the platform. */
static void pass_rapi(const plat_cg *cg, int exw)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        die(exw, "read flags of", "lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        die(exw, "bring up", "lo");
    close(s);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PLAT_SB_RAPI_PORT)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 128) != 0)
        die(exw, "listen on", "127.0.0.1:9001");
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    char tag = 'L';
    struct iovec iov = {&tag, 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &l, sizeof l);
    if (sendmsg(cg->sock[1], &mh, MSG_NOSIGNAL) != 1)
        die(exw, "pass the listener of", "127.0.0.1:9001");
    close(l);
    close(cg->sock[1]);
}

static int write_file(const char *path, const char *v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, v, strlen(v));
    close(fd);
    return n == (ssize_t)strlen(v) ? 0 : -1;
}

/* Decimal of v into out (at least 12 bytes). */
static void utoa(unsigned v, char *out)
{
    char t[12];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    for (int i = 0; i < n; i++)
        out[i] = t[n - 1 - i];
    out[n] = 0;
}

/* The function's uid, a user namespace of its own that maps only that uid, no capabilities. */
static void drop_privileges(const plat_sandbox *sb, const plat_cg *cg, int exw)
{
    struct rlimit nofile = {(rlim_t)sb->nofile, (rlim_t)sb->nofile}, core = {0, 0};
    struct rlimit nproc = {(rlim_t)sb->pids_max, (rlim_t)sb->pids_max};
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0 || setrlimit(RLIMIT_CORE, &core) != 0)
        die(exw, "setrlimit", "RLIMIT_NOFILE");
    if (!cg->pids_limited && setrlimit(RLIMIT_NPROC, &nproc) != 0)
        die(exw, "setrlimit", "RLIMIT_NPROC");
    uid_t u = cg->uid;
    if (setgroups(0, NULL) != 0 || setresgid(u, u, u) != 0)
        die(exw, "setresgid", "function gid");
    if (setresuid(u, u, u) != 0)
        die(exw, "setresuid", "function uid");
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a change of credentials cleared it */
    prctl(PR_SET_DUMPABLE, 1);        /* and made /proc/self root's: the maps below need it */
    if (unshare(CLONE_NEWUSER) != 0)
        die(exw, "unshare", "user namespace");
    char map[40], num[12];
    utoa((unsigned)u, num);
    join(map, num, " ");
    size_t n = strlen(map);
    memcpy(map + n, num, strlen(num) + 1);
    n = strlen(map);
    memcpy(map + n, " 1", 3);
    if (write_file("/proc/self/setgroups", "deny") != 0 ||
        write_file("/proc/self/uid_map", map) != 0 || write_file("/proc/self/gid_map", map) != 0)
        die(exw, "map the function uid in", "user namespace");
    for (int c = 0; c <= 63; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
            die(exw, "drop capability", "bounding set");
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0)
        die(exw, "drop capabilities", "capset");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die(exw, "prctl", "PR_SET_NO_NEW_PRIVS");
    if (sb->bpf && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, sb->bpf) != 0)
        die(exw, "install", "seccomp filter");
}

void plat_sandbox_ns_enter(const plat_sandbox *sb, const plat_cg *cg, int exw)
{
    if (!cg->sandboxed)
        return;
    if (cg->sock[0] >= 0)
        close(cg->sock[0]);
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (!cg->net_host)
        flags |= CLONE_NEWNET;
    if (unshare(flags) != 0)
        die(exw, "unshare", "mount, pid, ipc, uts, net namespaces");
    pid_t g = fork();
    if (g < 0)
        die(exw, "fork", "pid 1");
    if (g > 0) { /* C: outside the pid namespace, lives and ends as G does */
        close(exw);
        if (cg->sock[1] >= 0)
            close(cg->sock[1]);
        int ws;
        while (waitpid(g, &ws, 0) < 0)
            if (errno != EINTR)
                _exit(127);
        if (WIFSIGNALED(ws)) {
            signal(WTERMSIG(ws), SIG_DFL);
            kill(getpid(), WTERMSIG(ws));
        }
        _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 127);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    build_root(cg, exw);
    if (sethostname("sandbox", 7) != 0)
        die(exw, "sethostname", "sandbox");
    if (!cg->net_host)
        pass_rapi(cg, exw);
    plat_sandbox_join(sb, cg);
    if (unshare(CLONE_NEWCGROUP) != 0)
        die(exw, "unshare", "cgroup namespace");
    drop_privileges(sb, cg, exw);
}

/* ---- the parent ----------------------------------------------------------------------------- */

int plat_sandbox_ns_prepare(plat_sandbox *sb, const platform_spec *spec, plat_cg *cg, fm_err *err)
{
    cg->sock[0] = cg->sock[1] = -1;
    if (spec->isolation == PLATFORM_ISOLATION_PROCESS ||
        (spec->isolation == PLATFORM_ISOLATION_DEFAULT && sb->default_process))
        return 0;
    /* Zygote children do not enter a sandbox yet (docs/security.md): a zygote function keeps its
     * fast path unless the spec asks for the sandbox, which then starts every instance with exec.
     */
    if (spec->isolation == PLATFORM_ISOLATION_DEFAULT && strcmp(spec->cold_start, "zygote") == 0)
        return 0;
    if (!sb->ns_ok) {
        if (spec->isolation == PLATFORM_ISOLATION_DEFAULT && sb->fallback_process)
            return 0;
        sb->refused++;
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "function '%s': isolation 'sandbox' is not available here: %s",
                          spec->name, sb->iso_desc);
    }
    cg->sandboxed = true;
    cg->net_host = spec->network_host;
    cg->tmp_mb = spec->ephemeral_mb > 0 ? spec->ephemeral_mb : 512;
    int userns;
    cg->uid = uid_for(sb, spec->name, &userns);
    cg->mounts = calloc(PLAT_SB_MAX_MOUNTS, sizeof *cg->mounts);
    if (!cg->mounts)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int rc = plan_system(cg, cg->tmp_mb);
    if (!rc)
        rc = plan_function(sb, spec, cg, userns);
    if (rc)
        return fm_err_set(err, rc, "function '%s': too many or too long paths for the sandbox",
                          spec->name);
    if (!cg->net_host && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, cg->sock) != 0)
        return fm_err_set(err, -errno, "socketpair: %s", strerror(errno));
    sb->started++;
    return 0;
}

bool plat_sandbox_rapi_inside(const plat_cg *cg)
{
    return cg->sandboxed && !cg->net_host;
}

int plat_sandbox_take_rapi(plat_cg *cg, struct evhttp *rapi, struct evhttp_bound_socket **bs,
                           fm_err *err)
{
    *bs = NULL;
    if (!plat_sandbox_rapi_inside(cg))
        return 0;
    struct pollfd pf = {cg->sock[0], POLLIN, 0};
    int r;
    do
        r = poll(&pf, 1, 10000);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return fm_err_set(err, FM_ETIMEOUT, "the sandbox did not pass its Runtime API listener");
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    char tag = 0;
    struct iovec iov = {&tag, 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(cg->sock[0], &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
        return 0; /* the child failed before: its errno is on the exec pipe */
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    evutil_make_socket_nonblocking(fd);
    if (!(*bs = evhttp_accept_socket_with_handle(rapi, fd))) {
        close(fd);
        return fm_err_set(err, FM_EIO, "cannot serve the sandbox's Runtime API listener");
    }
    return 0;
}

void plat_sandbox_ns_free(plat_cg *cg)
{
    for (int i = 0; i < 2; i++)
        if (cg->sock[i] >= 0) {
            close(cg->sock[i]);
            cg->sock[i] = -1;
        }
    free(cg->mounts);
    cg->mounts = NULL;
    cg->nmounts = 0;
}

/* Why: the kernel may refuse any step (user namespaces disabled, no unprivileged uid mapped, a
 * seccomp-less kernel); one trial run of the whole sequence at start tells which, before any
 * function depends on it. */
static void probe(plat_sandbox *sb)
{
    platform_spec s;
    platform_spec_init(&s);
    snprintf(s.name, sizeof s.name, "%s", "faasml-probe");
    plat_cg cg;
    memset(&cg, 0, sizeof cg);
    cg.mem_fd = cg.cpu_fd = cg.pids_fd = cg.frz_fd = cg.peak_fd = -1;
    fm_err err = {0};
    sb->ns_ok = true; /* for prepare */
    int rc = plat_sandbox_ns_prepare(sb, &s, &cg, &err);
    sb->ns_ok = false;
    sb->started = 0;
    int ex[2];
    if (rc || pipe2(ex, O_CLOEXEC) != 0) {
        snprintf(sb->iso_desc, sizeof sb->iso_desc, "cannot prepare the probe: %s", err.msg);
        plat_sandbox_ns_free(&cg);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) /* the step also goes to stderr: here nowhere */
            dup2(devnull, 2);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        plat_sandbox_ns_enter(sb, &cg, ex[1]);
        /* G, filtered and unprivileged: check what a runtime would see */
        if (getuid() != cg.uid || unshare(CLONE_NEWNS) == 0 || access("/oldroot", F_OK) == 0) {
            errno = EPERM;
            die(ex[1], "verify", "sandbox");
        }
        _exit(0);
    }
    close(ex[1]);
    char msg[128] = {0};
    int e = 0;
    ssize_t n = pid > 0 ? read(ex[0], msg, sizeof msg - 1) : -1;
    close(ex[0]);
    int ws = 0;
    if (pid > 0)
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0 && pid > 0 && n <= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
        /* drain the listener the probe passed */
        char tag;
        struct msghdr mh = {0};
        struct iovec iov = {&tag, 1};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        if (recvmsg(cg.sock[0], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) == 1) {
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            int fd;
            if (c && c->cmsg_type == SCM_RIGHTS) {
                memcpy(&fd, CMSG_DATA(c), sizeof fd);
                close(fd);
            }
        }
        sb->ns_ok = true;
    } else if (n >= (ssize_t)sizeof(int)) {
        memcpy(&e, msg, sizeof e);
        snprintf(sb->iso_desc, sizeof sb->iso_desc, "the kernel refused the sandbox at '%s': %s",
                 msg + sizeof e, strerror(e));
    } else {
        snprintf(sb->iso_desc, sizeof sb->iso_desc, "the sandbox probe %s",
                 pid < 0 ? "could not fork" : "exited without saying why");
    }
    plat_sandbox_ns_free(&cg);
}

int plat_sandbox_ns_init(plat_sandbox *sb, const platform_config *cfg)
{
    sb->pids_max = cfg->pids_max > 0 ? cfg->pids_max : 1024;
    sb->nofile = 1024; /* Lambda's file descriptor limit (cloud-platforms.md section 3) */
    sb->uid_base = cfg->sandbox_uid_base > 0 ? cfg->sandbox_uid_base : 200000;
    sb->fallback_process = !cfg->sandbox_fallback_refuse;
    sb->default_process = cfg->isolation_process;
    char *exe = realpath(cfg->self_exe ? cfg->self_exe : "/proc/self/exe", NULL);
    snprintf(sb->self_exe, sizeof sb->self_exe, "%s", exe ? exe : "/proc/self/exe");
    free(exe);
    for (int i = 0; i < cfg->nbootstrap_dirs; i++) {
        char *r = realpath(cfg->bootstrap_dirs[i], NULL);
        char **v = realloc(sb->boot_dirs, (size_t)(sb->nboot_dirs + 1) * sizeof *v);
        if (!v) {
            free(r);
            break;
        }
        sb->boot_dirs = v;
        /* a directory that does not resolve allows nothing, but still makes the list non-empty */
        v[sb->nboot_dirs++] = r ? r : strdup("/nonexistent/");
    }
    char why[200] = {0};
    if (build_filter(sb, why, sizeof why) == 0)
        probe(sb);
    else
        snprintf(sb->iso_desc, sizeof sb->iso_desc, "%s", why);
    if (sb->ns_ok && sb->default_process) {
        snprintf(sb->iso_desc, sizeof sb->iso_desc,
                 "process (by configuration; the sandbox is available to functions with "
                 "'isolation: sandbox')");
        return 0;
    }
    if (sb->ns_ok) {
        snprintf(sb->iso_desc, sizeof sb->iso_desc,
                 "sandbox (user, mount, pid, ipc, uts, net and cgroup namespaces; uid %d+ per "
                 "function; read-only root; seccomp allow-list; no capabilities; pids.max %d, "
                 "%d fds)",
                 sb->uid_base + 1, sb->pids_max, sb->nofile);
        return 0;
    }
    char tail[320];
    snprintf(tail, sizeof tail, "%s", sb->iso_desc);
    snprintf(sb->iso_desc, sizeof sb->iso_desc, "%s (%s; %s)",
             sb->fallback_process ? "process" : "none", tail,
             sb->fallback_process ? "functions without 'isolation: sandbox' fall back to process "
                                    "isolation, as configured"
                                  : "sandboxed instances are refused, as configured");
    return 0;
}

/* Why: whoever may deploy chooses what runs; the operator can confine that to directories they
 * control. The bootstrap is resolved (symlinks, ..) before the check. */
int plat_sandbox_check_spec(const plat_sandbox *sb, const platform_spec *spec, fm_err *err)
{
    if (!sb->boot_dirs || spec->runtime != PLATFORM_RUNTIME_CUSTOM || !spec->bootstrap)
        return 0;
    char *r = realpath(spec->bootstrap, NULL);
    bool ok = false;
    for (int i = 0; r && i < sb->nboot_dirs && !ok; i++) {
        size_t n = strlen(sb->boot_dirs[i]);
        ok =
            strncmp(r, sb->boot_dirs[i], n) == 0 && (r[n] == '/' || sb->boot_dirs[i][n - 1] == '/');
    }
    free(r);
    if (ok)
        return 0;
    return fm_err_set(err, FM_EINVAL,
                      "function '%s': bootstrap '%s' is outside the directories the operator "
                      "allows (--allow-bootstrap)",
                      spec->name, spec->bootstrap);
}

void plat_sandbox_ns_release(plat_sandbox *sb)
{
    for (int i = 0; i < sb->nboot_dirs; i++)
        free(sb->boot_dirs[i]);
    free(sb->boot_dirs);
    sb->boot_dirs = NULL;
    sb->nboot_dirs = 0;
    if (sb->bpf) {
        free(((struct sock_fprog *)sb->bpf)->filter);
        free(sb->bpf);
        sb->bpf = NULL;
    }
    for (int i = 0; i < sb->nuids; i++) {
        free(sb->uid_names[i]);
        if (sb->uid_ns[i] >= 0)
            close(sb->uid_ns[i]);
    }
    free(sb->uid_names);
    free(sb->uid_ns);
    sb->uid_names = NULL;
    sb->uid_ns = NULL;
    sb->nuids = 0;
}

/* Prometheus label values: the description holds no quote or backslash; newlines never. */
void plat_sandbox_metrics(const plat_sandbox *sb, struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "# HELP faasml_isolation_info The isolation instances get by default.\n"
                        "# TYPE faasml_isolation_info gauge\n"
                        "faasml_isolation_info{isolation=\"%s\",detail=\"%s\"} 1\n",
                        sb->ns_ok              ? "sandbox"
                        : sb->fallback_process ? "process"
                                               : "none",
                        sb->iso_desc);
    evbuffer_add_printf(out,
                        "# HELP faasml_sandbox_instances_total Instances started in a sandbox.\n"
                        "# TYPE faasml_sandbox_instances_total counter\n"
                        "faasml_sandbox_instances_total %llu\n"
                        "# HELP faasml_sandbox_refused_total Sandboxed starts refused.\n"
                        "# TYPE faasml_sandbox_refused_total counter\n"
                        "faasml_sandbox_refused_total %llu\n",
                        (unsigned long long)sb->started, (unsigned long long)sb->refused);
}
