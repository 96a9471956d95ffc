/* Zygote cold starts, platform side. For a builtin-onnx function with `cold_start: zygote` the
 * platform starts one zygote (`faasml fn` with $FAASML_ZYGOTE_FD, see src/fn/zygote.c) at deploy
 * and waits until it has loaded and planned the model. Each new instance process is then asked of
 * the zygote over a SOCK_SEQPACKET control socket: the request names the instance's Runtime API
 * address and carries its stdout/stderr pipes and cgroup.procs files; the reply is the pid of a
 * forked, initialised runtime. The platform is a child subreaper, so that runtime becomes its
 * child and is reaped, killed and recorded like an exec-started one (cold_path "zygote").
 *
 * The zygote itself runs outside any instance cgroup (it is the platform's cache of a loaded
 * model) and lives as long as the function generation. If it cannot start, or dies, instances
 * start with exec, and the log says so. */
#include "inst.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fn/fn.h"

typedef struct plat_zygote plat_zygote;
struct plat_zygote {
    pid_t pid;
    int ctl;
};

#define ZYG_REPLY_MS 10000 /* a fork answers in milliseconds; this only bounds a stuck zygote */

static void zyg_free(plat_zygote *z)
{
    if (!z)
        return;
    if (z->ctl >= 0)
        close(z->ctl); /* the zygote reads EOF and exits */
    if (z->pid > 0)
        kill(z->pid, SIGKILL); /* reaped by the platform's SIGCHLD handler */
    free(z);
}

/* Waits for one message on the control socket (bounded); its length, or -errno. */
static ssize_t zyg_recv(int ctl, void *buf, size_t cap, int timeout_ms)
{
    struct pollfd pf = {ctl, POLLIN, 0};
    int r;
    do
        r = poll(&pf, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    ssize_t n;
    do
        n = recv(ctl, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

void plat_zygote_start(plat_fn *fn)
{
    const platform_spec *s = &fn->spec;
    platform *p = fn->p;
    if (s->runtime != PLATFORM_RUNTIME_ONNX || strcmp(s->cold_start, "zygote") != 0)
        return;
    plat_zygote *z = calloc(1, sizeof *z);
    int sv[2] = {-1, -1};
    if (!z || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        FM_WARN("platform", "'%s': cannot start a zygote (%s); instances start with exec", s->name,
                strerror(errno));
        free(z);
        return;
    }
    z->ctl = sv[0];
    /* Orphaned runtimes forked by the zygote come to this process, which waits for them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        FM_WARN("platform", "cannot become a child subreaper: %s", strerror(errno));
    /* Its environment is an instance's (the child sets its own Runtime API address). */
    plat_inst dummy = {.fn = fn, .id = 0};
    char **env = plat_inst_env_new(&dummy);
    char fdv[16], batch[24];
    snprintf(fdv, sizeof fdv, "%d", sv[1]);
    snprintf(batch, sizeof batch, "%d", (int)policy_fn_config(fn->pol)->batch.max_size);
    char *argv[PLATFORM_MAX_ARGS + 6];
    int argc = 0;
    argv[argc++] = p->self_exe;
    argv[argc++] = "fn";
    if (fn->batching) {
        argv[argc++] = "--max-batch";
        argv[argc++] = batch;
    }
    for (int i = 0; i < s->nargs; i++)
        argv[argc++] = s->args[i];
    argv[argc] = NULL;
    /* env + FAASML_ZYGOTE_FD, built before fork */
    size_t ne = 0;
    while (env && env[ne])
        ne++;
    char **envp = calloc(ne + 2, sizeof *envp);
    char zfd[40];
    snprintf(zfd, sizeof zfd, "FAASML_ZYGOTE_FD=%s", fdv);
    if (envp) {
        memcpy(envp, env, ne * sizeof *envp);
        envp[ne] = zfd;
    }
    const char *cwd = s->code_dir ? s->code_dir : "/";
    int64_t t0 = fm_now_ns();
    pid_t pid = envp ? fork() : -1;
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* the zygote does not outlive the platform */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        fcntl(sv[1], F_SETFD, 0); /* the control socket survives exec */
        if (chdir(cwd) != 0)
            _exit(127);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    free(envp);
    plat_inst_env_free(env);
    close(sv[1]);
    z->pid = pid;
    if (pid < 0) {
        FM_WARN("platform", "'%s': cannot fork a zygote: %s; instances start with exec", s->name,
                strerror(errno));
        zyg_free(z);
        return;
    }
    char msg[1024];
    int tmo = (int)(p->cfg.init_timeout_s * 1000);
    ssize_t n = zyg_recv(z->ctl, msg, sizeof msg - 1, tmo > 0 ? tmo : 10000);
    if (n <= 0 || msg[0] != 'R') {
        if (n > 0)
            msg[n] = 0;
        FM_WARN("platform", "'%s': the zygote did not start (%s); instances start with exec",
                s->name,
                n > 0    ? msg + 1
                : n == 0 ? "it exited"
                         : strerror((int)-n));
        zyg_free(z);
        return;
    }
    msg[n] = 0;
    fn->zyg = z;
    FM_INFO("platform", "'%s': zygote %d ready in %.1f ms: %s", s->name, (int)pid,
            (double)(fm_now_ns() - t0) / 1e6, msg + 1);
}

void plat_zygote_stop(plat_fn *fn)
{
    zyg_free(fn->zyg);
    fn->zyg = NULL;
}

pid_t plat_zygote_spawn(plat_inst *in, int outw, int errw)
{
    plat_fn *fn = in->fn;
    plat_zygote *z = fn->zyg;
    platform *p = fn->p;
    fn_zygote_req rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.api, sizeof rq.api, "127.0.0.1:%d", in->port);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    snprintf(rq.stream, sizeof rq.stream, "%s/[$LATEST]%016" PRIx64, day, (uint64_t)in->id);
    rq.provisioned = in->provisioned;
    if (p->sb.kind == PLAT_SB_RLIMIT)
        rq.rlimit_as = in->cg.limit_bytes;
    int fds[4] = {outw, errw}, nfds = 2;
    if (in->cg.mem_fd >= 0)
        fds[nfds++] = in->cg.mem_fd;
    if (in->cg.cpu_fd >= 0)
        fds[nfds++] = in->cg.cpu_fd;
    rq.nfds = nfds;
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {&rq, sizeof rq};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = u.buf,
                        .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    ssize_t n;
    do
        n = sendmsg(z->ctl, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    fn_zygote_reply rp = {.pid = -EIO};
    if (n == (ssize_t)sizeof rq)
        n = zyg_recv(z->ctl, &rp, sizeof rp, ZYG_REPLY_MS);
    if (n != (ssize_t)sizeof rp || rp.pid <= 0) {
        int e = n < 0 ? (int)-n : rp.pid < 0 ? -rp.pid : EIO;
        FM_WARN("platform", "'%s': the zygote could not fork an instance (%s); using exec",
                fn->spec.name, strerror(e));
        if (n != (ssize_t)sizeof rp) { /* the zygote is gone or stuck: stop using it */
            zyg_free(z);
            fn->zyg = NULL;
        }
        return -e;
    }
    return rp.pid;
}
