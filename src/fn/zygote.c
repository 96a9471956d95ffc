/* Zygote cold starts (as in SOCK, ATC'18): one process per (function, model) loads and plans the
 * model once, then forks a ready Lambda runtime per new instance. The child shares the weights
 * copy-on-write, starts its threads (if any) after the fork, joins its instance's cgroup before
 * it runs anything, and serves the instance's Runtime API with the host it inherited.
 *
 * The child is forked twice (zygote -> intermediate -> runtime) and the intermediate exits, so
 * the runtime is re-parented to the platform, which marks itself a child subreaper: the platform
 * waits for it like for any instance process it started with exec. The runtime learns that the
 * intermediate is gone from a pidfd of it (readable once it has exited, after its children were
 * re-parented), without polling; kernels without pidfd_open fall back to polling getppid. */
#include "fn_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZYG_MAX_FDS 4

/* Receives one request and its descriptors; 0 at EOF (the platform closed the socket). */
static ssize_t recv_req(int ctl, fn_zygote_req *rq, int *fds, int *nfds)
{
    struct iovec iov = {rq, sizeof *rq};
    union {
        char buf[CMSG_SPACE(ZYG_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n;
    do
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k && *nfds < ZYG_MAX_FDS; i++)
                memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
    return n;
}

/* The new runtime: into its cgroup first, then its own process group, stdio and environment. */
static void child_main(fn_host *host, int ctl, const fn_zygote_req *rq, const int *fds, int nfds,
                       int64_t t0, pid_t mid, int mid_fd, const fn_run_opts *opts)
{
    close(ctl);
    /* Once the intermediate has exited, the parent is the platform (a child subreaper): if it
     * dies without stopping this instance, the instance goes too, as exec-started ones do. */
    if (mid_fd >= 0) {
        struct pollfd pf = {.fd = mid_fd, .events = POLLIN};
        while (poll(&pf, 1, 1000) < 0 && errno == EINTR)
            ;
        close(mid_fd);
    }
    for (int i = 0; i < 20000 && getppid() == mid; i++)
        usleep(50);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(125); /* nobody to serve: the platform is gone or is not a subreaper */
    for (int i = 2; i < nfds; i++) { /* cgroup.procs of the instance ("0" = this process) */
        if (write(fds[i], "0", 1) != 1)
            _exit(126);
        close(fds[i]);
    }
    if (rq->rlimit_as) {
        struct rlimit rl = {rq->rlimit_as, rq->rlimit_as};
        setrlimit(RLIMIT_AS, &rl);
    }
    setpgid(0, 0);
    if (nfds >= 2) {
        dup2(fds[0], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setenv("AWS_LAMBDA_RUNTIME_API", rq->api, 1);
    setenv("AWS_LAMBDA_LOG_STREAM_NAME", rq->stream, 1);
    setenv("AWS_LAMBDA_INITIALIZATION_TYPE",
           rq->provisioned ? "provisioned-concurrency" : "on-demand", 1);
    char init_json[256];
    snprintf(init_json, sizeof init_json,
             "{\"cold_path\":\"zygote\",\"download_ms\":0,\"load_ms\":0,\"warmup_ms\":0,"
             "\"fork_ms\":%.3f}",
             (double)(fm_now_ns() - t0) / 1e6);
    if (opts && opts->on_ready)
        opts->on_ready(opts->ud, init_json, NULL);
    fm_err err = {0};
    int rc = fn_lambda_serve(host, rq->api, init_json, opts, &err);
    if (rc)
        FM_ERROR("fn", "%s", err.msg);
    _exit(rc ? 1 : 0);
}

/* Forks the runtime for one request; returns its pid or -errno. */
static pid_t fork_runtime(fn_host *host, int ctl, const fn_zygote_req *rq, const int *fds, int nfds,
                          int64_t t0, const fn_run_opts *opts)
{
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) != 0)
        return -errno;
    pid_t mid = fork();
    if (mid < 0) {
        int e = errno;
        close(pp[0]);
        close(pp[1]);
        return -e;
    }
    if (mid == 0) {
        pid_t self = getpid(); /* the child waits until it is no longer this process's child */
        int self_fd = (int)syscall(SYS_pidfd_open, self, 0);
        pid_t c = fork();
        if (c == 0) {
            close(pp[0]);
            close(pp[1]);
            child_main(host, ctl, rq, fds, nfds, t0, self, self_fd, opts);
        }
        int32_t v = c < 0 ? -errno : c;
        if (write(pp[1], &v, sizeof v) != sizeof v)
            _exit(1);
        _exit(0);
    }
    close(pp[1]);
    int32_t v = -EIO;
    ssize_t n;
    do
        n = read(pp[0], &v, sizeof v);
    while (n < 0 && errno == EINTR);
    close(pp[0]);
    while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
        ;
    return n == sizeof v ? v : -EIO;
}

static void send_line(int ctl, char kind, const char *text)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%c%s", kind, text);
    if (send(ctl, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), MSG_NOSIGNAL) < 0)
        FM_WARN("fn", "zygote: cannot write to the control socket: %s", strerror(errno));
}

int fn_zygote_run(const fn_spec *spec, int ctl, const fn_run_opts *opts, fm_err *err)
{
    fn_spec s = *spec;
    if (s.threads > 1)
        s.warmup = false; /* a warm-up would start the thread pool, and threads do not fork */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        send_line(ctl, 'E', "cannot initialise libcurl");
        return fm_err_set(err, FM_EIO, "cannot initialise libcurl");
    }
    fn_host *host = NULL;
    int rc = fn_host_new(&s, &host, err);
    if (rc) {
        send_line(ctl, 'E', err->msg);
        curl_global_cleanup();
        return rc;
    }
    char init_json[512];
    fn_host_init_json(host, init_json, sizeof init_json);
    if (opts && opts->on_ready)
        opts->on_ready(opts->ud, init_json, NULL);
    send_line(ctl, 'R', init_json);
    signal(SIGCHLD, SIG_DFL);
    for (;;) {
        fn_zygote_req rq;
        int fds[ZYG_MAX_FDS], nfds = 0;
        ssize_t n = recv_req(ctl, &rq, fds, &nfds);
        if (n <= 0)
            break; /* the platform is gone or closed us */
        int64_t t0 = fm_now_ns();
        fn_zygote_reply rp = {0};
        if (n != sizeof rq) {
            rp.pid = -EPROTO;
        } else {
            rq.api[sizeof rq.api - 1] = 0;
            rq.stream[sizeof rq.stream - 1] = 0;
            rp.pid = fork_runtime(host, ctl, &rq, fds, nfds, t0, opts);
        }
        rp.fork_ns = fm_now_ns() - t0;
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (send(ctl, &rp, sizeof rp, MSG_NOSIGNAL) != sizeof rp)
            break;
    }
    fn_host_free(host);
    curl_global_cleanup();
    return 0;
}
