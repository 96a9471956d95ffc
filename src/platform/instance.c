/* The instance manager: every instance is a process (fork + exec of the runtime's bootstrap) with
 * Lambda's environment and its own Runtime API listener on 127.0.0.1, so a custom runtime that
 * builds its URLs from AWS_LAMBDA_RUNTIME_API works unchanged. The Runtime API follows
 * cloud-platforms.md section 1: /next long-polls, /response and /error answer 202, a bad request
 * id 400, a call in the wrong state 403, an oversized response 413. */
#include "inst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RAPI_PREFIX "/2018-06-01/runtime/"
#define LAMBDA_PATH "/usr/local/bin:/usr/bin/:/bin:/opt/bin"

/* Names for logs and debugging; the policy's names are used for metrics. */
const char *plat_inst_state_name(plat_inst_state s)
{
    static const char *const names[] = {"starting", "idle", "busy", "stopping"};
    return names[s];
}

/* ---- small helpers ----------------------------------------------------------------------------
 */

static void reply_json(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

/* Runtime API errors carry {errorMessage, errorType} like RIE's. */
static void reply_error(struct evhttp_request *req, int code, const char *reason, const char *type,
                        const char *msg)
{
    char body[512], q[256];
    fm_json_quote(q, sizeof q, msg);
    snprintf(body, sizeof body, "{\"errorMessage\":%s,\"errorType\":\"%s\"}", q, type);
    reply_json(req, code, reason, body);
}

/* ---- logs -------------------------------------------------------------------------------------
 */

/* Why: the function host reports its init phases as `FAASML_INIT {json}` on stderr; the platform
 * records them as the instance's cold-start phases. Keys ending in _ns or _ms are accepted. The
 * host's `plan` (memory plan and weight packing) is part of loading the model, so it adds to
 * load: the recorded phases are disjoint and add up to the instance's init time. */
static void parse_init_line(plat_inst *in, const char *line)
{
    static const struct {
        const char *key;
        fm_phase phase;
    } keys[] = {{"load", FM_PHASE_LOAD},
                {"plan", FM_PHASE_LOAD},
                {"download", FM_PHASE_DOWNLOAD},
                {"warmup", FM_PHASE_WARMUP}};
    memset(in->phase_ms, 0, sizeof in->phase_ms);
    for (size_t i = 0; i < FM_ARRAY_LEN(keys); i++) {
        char pat[32];
        for (int unit = 0; unit < 2; unit++) {
            snprintf(pat, sizeof pat, "\"%s_%s\":", keys[i].key, unit ? "ms" : "ns");
            const char *at = strstr(line, pat);
            if (at) {
                double v = strtod(at + strlen(pat), NULL);
                in->phase_ms[keys[i].phase] += unit ? v : v / 1e6;
            }
        }
    }
}

/* Every line goes to the platform's log, stamped with its time, and, while an invocation runs,
 * into its log (unstamped, as Lambda's LogResult tail; kept only when the caller asked for it).
 * Three lines per invocation pass here, so the "NAME[ID] " prefix is formatted once per instance
 * and the rest is plain buffered writes. */
void plat_log_line(plat_inst *in, plat_inv *inv, const char *line, size_t len)
{
    platform *p = in->fn->p;
    if (inv && inv->log && evbuffer_get_length(inv->log) < PLAT_LOG_KEEP) {
        evbuffer_add(inv->log, line, len);
        evbuffer_add(inv->log, "\n", 1);
    }
    if (!p->log)
        return;
    if (!in->logname_len) {
        int n = snprintf(in->logname, sizeof in->logname, "%s[%" PRId64 "] ", in->fn->spec.name,
                         in->id);
        in->logname_len = n > 0 && (size_t)n < sizeof in->logname ? (size_t)n : 0;
    }
    char ts[32];
    plat_log_stamp(p, ts);
    fputs_unlocked(ts, p->log);
    putc_unlocked(' ', p->log);
    fwrite_unlocked(in->logname, 1, in->logname_len, p->log);
    fwrite_unlocked(line, 1, len, p->log);
    putc_unlocked('\n', p->log);
}

/* Why: instance output arrives in arbitrary chunks; lines are the unit of Lambda's logs, so
 * partial lines wait in linebuf (a line longer than the buffer is cut). */
static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    plat_inst *in = arg;
    int which = fd == in->err_fd;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                struct event **ev = which ? &in->err_ev : &in->out_ev;
                if (*ev) {
                    event_free(*ev);
                    *ev = NULL;
                }
                close(fd);
                if (which)
                    in->err_fd = -1;
                else
                    in->out_fd = -1;
            }
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            size_t *ll = &in->linelen[which];
            if (c == '\n' || *ll == sizeof in->linebuf[which] - 1) {
                in->linebuf[which][*ll] = 0;
                if (which && strncmp(in->linebuf[which], "FAASML_INIT ", 12) == 0)
                    parse_init_line(in, in->linebuf[which]);
                plat_log_line(in, plat_inst_sole_inv(in), in->linebuf[which], *ll);
                *ll = 0;
                if (c == '\n')
                    continue;
            }
            in->linebuf[which][(*ll)++] = c;
        }
    }
}

/* ---- starting ---------------------------------------------------------------------------------
 */

static void on_init_timeout(evutil_socket_t fd, short what, void *arg)
{
    plat_inst *in = arg;
    if (in->state == PLAT_INST_STARTING) {
        char line[160];
        int n = snprintf(line, sizeof line,
                         "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: timeout",
                         (double)(fm_now_ns() - in->created_ns) / 1e6);
        plat_log_line(in, NULL, line, (size_t)n);
        plat_inst_kill(in, "init_timeout");
    } else if (in->init_error) {
        plat_inst_kill(in, "init_error");
    }
}

static void rapi_cb(struct evhttp_request *req, void *arg);

/* Why: one evhttp per instance on an ephemeral port; each runtime talks only to its own endpoint,
 * so a request id can never leak to another instance. */
static int bind_rapi(plat_inst *in, fm_err *err)
{
    in->rapi = evhttp_new(in->fn->p->base);
    if (!in->rapi)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    evhttp_set_gencb(in->rapi, rapi_cb, in);
    evhttp_set_max_body_size(in->rapi, 2 * PLAT_MAX_RESPONSE);
    evhttp_set_allowed_methods(in->rapi, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    if (plat_sandbox_rapi_inside(&in->cg)) { /* the sandbox passes its own listener */
        in->port = PLAT_SB_RAPI_PORT;
        return 0;
    }
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(in->rapi, "127.0.0.1", 0);
    if (!bs)
        return fm_err_set(err, FM_EIO, "cannot bind a Runtime API port: %s", strerror(errno));
    plat_listen_nodelay(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) != 0)
        return fm_err_set(err, -errno, "getsockname: %s", strerror(errno));
    in->port = ntohs(sa.sin_port);
    return 0;
}

typedef struct envb {
    char *v[PLATFORM_MAX_ENV + 32];
    int n;
} envb;

/* Adds KEY=VALUE to the child's environment (built before fork: no allocation after). */
static void env_add(envb *e, const char *k, const char *v)
{
    if (e->n >= (int)FM_ARRAY_LEN(e->v) - 1)
        return;
    size_t n = strlen(k) + strlen(v) + 2;
    char *s = malloc(n);
    if (!s)
        return;
    snprintf(s, n, "%s=%s", k, v);
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

/* Lambda's environment (cloud-platforms.md section 1, "Environment variables"). */
static void build_env(plat_inst *in, envb *e)
{
    platform *p = in->fn->p;
    const platform_spec *s = &in->fn->spec;
    char v[1200];
    e->n = 0;
    e->v[0] = NULL;
    snprintf(v, sizeof v, "127.0.0.1:%d", in->port);
    env_add(e, "AWS_LAMBDA_RUNTIME_API", v);
    env_add(e, "_HANDLER", s->handler ? s->handler : s->model ? s->model : "handler");
    env_add(e, "LAMBDA_TASK_ROOT", s->code_dir ? s->code_dir : "/");
    env_add(e, "LAMBDA_RUNTIME_DIR", s->code_dir ? s->code_dir : "/");
    env_add(e, "AWS_LAMBDA_FUNCTION_NAME", s->name);
    snprintf(v, sizeof v, "%d", s->memory_mb);
    env_add(e, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", v);
    env_add(e, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    env_add(e, "AWS_LAMBDA_INITIALIZATION_TYPE",
            in->provisioned ? "provisioned-concurrency" : "on-demand");
    env_add(e, "AWS_REGION", p->cfg.region);
    env_add(e, "AWS_DEFAULT_REGION", p->cfg.region);
    snprintf(v, sizeof v, "/aws/lambda/%s", s->name);
    env_add(e, "AWS_LAMBDA_LOG_GROUP_NAME", v);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    snprintf(v, sizeof v, "%s/[$LATEST]%016" PRIx64, day, (uint64_t)in->id);
    env_add(e, "AWS_LAMBDA_LOG_STREAM_NAME", v);
    env_add(e, "TZ", "UTC");
    env_add(e, "LANG", "en_US.UTF-8");
    env_add(e, "PATH", LAMBDA_PATH);
    if (s->runtime == PLATFORM_RUNTIME_ONNX && s->model)
        env_add(e, "FAASML_MODEL", s->model);
    if (s->runtime == PLATFORM_RUNTIME_ONNX && strcmp(s->precision, "fp32") != 0)
        env_add(e, "FAASML_PRECISION", s->precision); /* fp32: leave a handler spec's own */
    for (int i = 0; i < s->nenv; i++)
        env_add(e, s->env_keys[i], s->env_vals[i]);
}

char **plat_inst_env_new(plat_inst *in)
{
    envb *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    build_env(in, e);
    return e->v; /* the first member: plat_inst_env_free gets the envb back */
}

void plat_inst_env_free(char **v)
{
    if (!v)
        return;
    for (int i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

/* Releases what an instance holds; the process must already be reaped or forgotten. */
static void inst_free(plat_inst *in)
{
    if (in->timer)
        event_free(in->timer);
    if (in->out_ev)
        event_free(in->out_ev);
    if (in->err_ev)
        event_free(in->err_ev);
    if (in->out_fd >= 0)
        close(in->out_fd);
    if (in->err_fd >= 0)
        close(in->err_fd);
    if (in->rapi) {
        in->npark = 0;
        evhttp_free(in->rapi);
    }
    plat_sandbox_remove(&in->cg);
    plat_image_inst_free(in);
    free(in->init_error);
    free(in->wpids);
    free(in->park);
    free(in->invs);
    free(in);
}

/* Forks one runtime process: stdin /dev/null, stdout/stderr to the instance's pipes, into its
 * cgroup and process group pgid (0: its own), then exec. Returns the pid, -1 with errno. The
 * child writes its errno to exw when it cannot start (the exec pipe). */
pid_t plat_spawn(plat_inst *in, char *const argv[], char *const envp[], const char *cwd, int outw,
                 int errw, int exw, pid_t pgid)
{
    platform *p = in->fn->p;
    if (in->fn->zyg && !in->cg.sandboxed) { /* cold_start: zygote (zygote.c); else exec */
        pid_t z = plat_zygote_spawn(in, outw, errw);
        if (z > 0) {
            in->zygote = true;
            return z;
        }
    }
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setpgid(0, pgid);
    /* If the platform dies without stopping us (SIGKILL, crash), the instance goes too. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != p->pid_self)
        _exit(125);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, 0);
    dup2(outw, 1);
    dup2(errw, 2);
    if (!in->img) /* runtime image: the container is the sandbox, podman applies its limits */
        plat_sandbox_enter(&p->sb, &in->cg, exw);
    if (chdir(cwd) != 0) {
        int e = errno;
        if (write(exw, &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    execve(argv[0], argv, envp);
    int e = errno;
    if (write(exw, &e, sizeof e) < 0)
        _exit(127);
    _exit(127);
}

/* START: listener, cgroup, pipes, fork+exec. Exec failures surface as an init crash. */
int plat_inst_start(plat_fn *fn, policy_instance_id pid_policy, bool provisioned, fm_err *err)
{
    platform *p = fn->p;
    const platform_spec *s = &fn->spec;
    plat_inst *in = calloc(1, sizeof *in);
    if (!in)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    in->id = ++p->next_inst_id;
    in->pid_policy = pid_policy;
    in->fn = fn;
    in->provisioned = provisioned;
    in->out_fd = in->err_fd = -1;
    in->cg.mem_fd = in->cg.cpu_fd = in->cg.pids_fd = in->cg.frz_fd = in->cg.peak_fd = -1;
    in->cg.sock[0] = in->cg.sock[1] = -1; /* runtime image keeps these: no cgroups, no sandbox */
    in->created_ns = fm_now_ns();
    in->created_wall_ns = fm_wall_ns();
    TAILQ_INIT(&in->pending);
    in->nworkers = fn->workers > 0 ? fn->workers : 1;
    int rc = 0;
    if (!(in->wpids = calloc((size_t)in->nworkers, sizeof *in->wpids)) ||
        !(in->park = calloc((size_t)in->nworkers, sizeof *in->park)) ||
        !(in->invs = calloc((size_t)in->nworkers, sizeof *in->invs)))
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!rc && s->runtime != PLATFORM_RUNTIME_IMAGE) /* image: podman's limits (image.c) */
        rc = plat_sandbox_prepare(&p->sb, in->id,
                                  fn->inst_memory_mb > 0 ? fn->inst_memory_mb : s->memory_mb, s,
                                  &in->cg, err);
    if (!rc)
        rc = bind_rapi(in, err);
    if (!rc)
        plat_profile_cpu(&p->sb, &in->cg, fn->vcpu);
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, ex[2] = {-1, -1};
    if (!rc && (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)))
        rc = fm_err_set(err, -errno, "pipe: %s", strerror(errno));
    if (rc)
        goto fail;

    /* argv and envp are built before fork: the child may only make async-signal-safe calls. */
    char *argv[PLATFORM_MAX_ARGS + 6];
    char batch_arg[24];
    snprintf(batch_arg, sizeof batch_arg, "%d", (int)policy_fn_config(fn->pol)->batch.max_size);
    int argc = 0;
    if (s->runtime == PLATFORM_RUNTIME_ONNX) {
        /* The function host finds its model in $FAASML_MODEL (docs/function-host.md). */
        argv[argc++] = p->self_exe;
        argv[argc++] = "fn";
        if (fn->batching) { /* plan the session for the largest batch it will see */
            argv[argc++] = "--max-batch";
            argv[argc++] = batch_arg;
        }
    } else {
        argv[argc++] = s->bootstrap; /* runtime image: NULL, replaced by podman's below */
    }
    for (int i = 0; i < s->nargs; i++)
        argv[argc++] = s->args[i];
    argv[argc] = NULL;
    envb env;
    build_env(in, &env);
    const char *cwd = s->code_dir ? s->code_dir : "/";
    char **run_argv = argv, **run_envp = env.v;
    const char *exe = s->runtime == PLATFORM_RUNTIME_IMAGE ? "podman" : argv[0];
    plat_image_cmd icmd = {0};
    if (s->runtime == PLATFORM_RUNTIME_IMAGE) { /* the instance is `podman run ... IMAGE` */
        rc = plat_image_cmd_build(in, env.v, &icmd, err);
        run_argv = icmd.argv;
        run_envp = icmd.envp;
        cwd = "/";
    }

    /* Every worker of the instance is forked here; they share the pipes, the cgroup, the
     * process group (the first worker's) and the Runtime API endpoint. */
    int child_errno = 0;
    ssize_t got = 0;
    pid_t pid = -1;
    for (int w = 0; w < in->nworkers && !rc && got != sizeof child_errno; w++) {
        if (w > 0 && pipe2(ex, O_CLOEXEC)) {
            rc = fm_err_set(err, -errno, "pipe: %s", strerror(errno));
            break;
        }
        pid_t wp = plat_spawn(in, run_argv, run_envp, cwd, out[1], errp[1], ex[1], w ? pid : 0);
        close(ex[1]);
        ex[1] = -1;
        if (wp < 0) {
            rc = fm_err_set(err, -errno, "fork: %s", strerror(errno));
        } else {
            if (w == 0)
                pid = wp;
            in->wpids[w] = wp;
            setpgid(wp, pid); /* both sides set it, so a kill(-pid) reaches every worker */
            struct evhttp_bound_socket *bs = NULL;
            if (!rc)
                rc = plat_sandbox_take_rapi(&in->cg, in->rapi, &bs, err);
            if (bs) /* as bind_rapi's own listener */
                plat_listen_nodelay(bs);
            /* The exec pipe closes on a successful exec (O_CLOEXEC) or carries its errno. */
            do
                got = read(ex[0], &child_errno, sizeof child_errno);
            while (got < 0 && errno == EINTR);
        }
        close(ex[0]);
        ex[0] = -1;
    }
    plat_image_cmd_release(&icmd);
    for (int i = 0; i < env.n; i++)
        free(env.v[i]);
    close(out[1]);
    close(errp[1]);
    out[1] = errp[1] = -1;
    plat_sandbox_close_fds(&in->cg);
    if (rc && pid < 0)
        goto fail;
    if (rc) { /* some workers run: stop them and let the reaper report a failed start */
        kill(-pid, SIGKILL);
        rc = 0;
        in->worker_died = true;
    }
    for (int w = 0; w < in->nworkers; w++)
        if (in->wpids[w] <= 0)
            in->nexited++; /* never forked */
    in->pid = pid;
    in->exec_ns = fm_now_ns();
    in->out_fd = out[0];
    in->err_fd = errp[0];
    out[0] = errp[0] = -1;
    fcntl(in->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(in->err_fd, F_SETFL, O_NONBLOCK);
    in->out_ev = event_new(p->base, in->out_fd, EV_READ | EV_PERSIST, on_pipe, in);
    in->err_ev = event_new(p->base, in->err_fd, EV_READ | EV_PERSIST, on_pipe, in);
    in->timer = evtimer_new(p->base, on_init_timeout, in);
    if (!in->out_ev || !in->err_ev || !in->timer) {
        kill(-pid, SIGKILL);
        in->worker_died = true;
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    } else {
        event_add(in->out_ev, NULL);
        event_add(in->err_ev, NULL);
        double t = p->cfg.init_timeout_s;
        struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
        evtimer_add(in->timer, &tv);
    }
    /* The instance is tracked even when exec failed: the child exits and is reaped like any
     * crash at init, so one path records it and tells the policy START_FAILED. */
    TAILQ_INSERT_TAIL(&fn->insts, in, link);
    plat_sandbox_set_instances(&p->sb, ++p->ninstances);
    fn->slots[policy_instance_slot(pid_policy) % fn->nslots] = in;
    if (got == sizeof child_errno) {
        char line[1400];
        int n = snprintf(line, sizeof line, "cannot start '%s': %s", exe, strerror(child_errno));
        plat_log_line(in, NULL, line, (size_t)n);
        free(in->init_error);
        char q[1300];
        fm_json_quote(q, sizeof q, line);
        size_t bl = strlen(q) + 80;
        if ((in->init_error = malloc(bl)))
            snprintf(in->init_error, bl,
                     "{\"errorMessage\":%s,\"errorType\":\"Runtime.InvalidEntrypoint\"}", q);
        snprintf(in->init_error_type, sizeof in->init_error_type, "Runtime.InvalidEntrypoint");
    }
    plat_meter_instance(in);
    return rc;
fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (errp[i] >= 0)
            close(errp[i]);
        if (ex[i] >= 0)
            close(ex[i]);
    }
    inst_free(in);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------------
 */

/* The invocation a line of output belongs to: the only one in flight; with several workers busy
 * a line cannot be attributed (it still goes to the instance log). */
plat_inv *plat_inst_sole_inv(plat_inst *in)
{
    if (in->ninv == 1)
        return in->invs[0];
    return in->ninv == 0 ? TAILQ_FIRST(&in->pending) : NULL;
}

/* A runtime dropped the connection of its parked /next. libevent has detached that request from
 * the dying connection (a reply frees it) unless the whole listener is being freed, in which case
 * the connection frees it. Either way the instance forgets it and waits for a new /next. */
static void on_next_closed(struct evhttp_connection *conn, void *arg)
{
    plat_inst *in = arg;
    for (int i = 0; i < in->npark; i++)
        if (in->park[i].conn == conn) {
            struct evhttp_request *req = in->park[i].req;
            in->park[i] = in->park[--in->npark];
            if (req && !evhttp_request_get_connection(req))
                evhttp_send_error(req, 500, NULL);
            return;
        }
}

static void park(plat_inst *in, struct evhttp_request *req)
{
    struct plat_park *pk = &in->park[in->npark++];
    pk->req = req;
    pk->conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(pk->conn, on_next_closed, in);
}

/* The instance lets go of inv, in flight or still pending. */
static void inv_untrack(plat_inst *in, plat_inv *inv)
{
    for (int i = 0; i < in->ninv; i++)
        if (in->invs[i] == inv) {
            in->invs[i] = in->invs[--in->ninv];
            return;
        }
    plat_inv *pv;
    TAILQ_FOREACH(pv, &in->pending, q)
    if (pv == inv) {
        TAILQ_REMOVE(&in->pending, inv, q);
        return;
    }
}

/* Hands inv to a parked /next: the event JSON and the four Lambda-Runtime headers. */
static void deliver(plat_inst *in, plat_inv *inv)
{
    struct plat_park pk = in->park[--in->npark];
    struct evhttp_request *req = pk.req;
    if (pk.conn)
        evhttp_connection_set_closecb(pk.conn, NULL, NULL);
    in->invs[in->ninv++] = inv;
    in->state = PLAT_INST_BUSY;
    in->invocations++;
    inv->dispatch_ns = fm_now_ns();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char v[128];
    evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", inv->rid);
    snprintf(v, sizeof v, "%" PRId64, inv->deadline_wall_ms);
    evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", v);
    evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn", inv->fn->arn);
    evhttp_add_header(h, "Lambda-Runtime-Trace-Id", inv->trace_id);
    if (inv->client_context) /* omitted when empty, as RIE does */
        evhttp_add_header(h, "Lambda-Runtime-Client-Context", inv->client_context);
    /* The payload's own type (a KServe binary request, raw tensor or image goes to the function
     * host unchanged; a Lambda event is JSON, as on Lambda). */
    if (inv->header_len >= 0) {
        snprintf(v, sizeof v, "%" PRId64, inv->header_len);
        evhttp_add_header(h, "Inference-Header-Content-Length", v);
        evhttp_add_header(h, "Content-Type", "application/octet-stream");
    } else {
        evhttp_add_header(h, "Content-Type",
                          inv->content_type[0] ? inv->content_type : "application/json");
        if (inv->kind == PLAT_INV_KSERVE && !inv->content_type[0])
            evhttp_add_header(h, "X-Faasml-Payload", "v2"); /* a v2 request, not a Lambda event */
    }
    char line[128];
    int n = snprintf(line, sizeof line, "START RequestId: %s Version: $LATEST", inv->rid);
    plat_log_line(in, inv, line, (size_t)n);
    if (inv->kind == PLAT_INV_EVENT) {
        /* An Event may be retried: send a reference to the payload, keep the payload. */
        struct evbuffer *ref = evbuffer_new();
        if (ref && evbuffer_add_buffer_reference(ref, inv->payload) == 0) {
            evhttp_send_reply(req, 200, "OK", ref);
            evbuffer_free(ref);
            return;
        }
        size_t len = evbuffer_get_length(inv->payload);
        if (ref && evbuffer_add(ref, evbuffer_pullup(inv->payload, -1), len) == 0) {
            inv->fn->m.copied_in += len;
            evhttp_send_reply(req, 200, "OK", ref);
            evbuffer_free(ref);
            return;
        }
        if (ref)
            evbuffer_free(ref);
    }
    evhttp_send_reply(req, 200, "OK", inv->payload); /* moved to the socket, not copied */
}

/* DISPATCH: deliver now if the runtime waits in /next, else when it asks. */
void plat_inst_dispatch(plat_inst *in, plat_inv *inv, bool cold)
{
    inv->inst = in;
    inv->inst_id = in->id;
    inv->cold = cold; /* the policy's word: the request waited for this instance's start */
    if (in->npark > 0 && in->ninv < in->nworkers)
        deliver(in, inv);
    else
        TAILQ_INSERT_TAIL(&in->pending, inv, q);
}

/* Kills the whole process group (a bootstrap's children too); reaping does the rest. */
void plat_inst_kill(plat_inst *in, const char *reason)
{
    if (in->state == PLAT_INST_STOPPING)
        return;
    snprintf(in->stop_reason, sizeof in->stop_reason, "%s", reason);
    in->state = PLAT_INST_STOPPING;
    if (in->img) /* runtime image: remove the container; its podman client then exits */
        plat_image_kill(in);
    else if (in->pid > 0)
        kill(-in->pid, SIGKILL);
    plat_sandbox_kill(&in->fn->p->sb, &in->cg);
}

/* ---- answering invocations --------------------------------------------------------------------
 */

/* The runtime wrote its log lines before it answered: read what the pipes still hold, so they
 * land in the invocation's log (and its Tail) before END. One poll(2) asks both pipes at once;
 * most runtimes write nothing per request, and then no read(2) is tried. */
static void drain_pipes(plat_inst *in)
{
    struct pollfd pf[2] = {{.fd = in->out_fd, .events = POLLIN},
                           {.fd = in->err_fd, .events = POLLIN}};
    if (poll(pf, 2, 0) <= 0)
        return;
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
            on_pipe(pf[i].fd, EV_READ, in);
}

/* Why: every invocation this instance held ends here, whatever ended it: the runtime's last log
 * lines are read first (they belong before END), the instance lets go of it, and inv.c does the
 * rest (count, meter, END/REPORT, answer, free). */
static void inst_end(plat_inst *in, plat_inv *inv, const char *status, const char *fn_error,
                     const char *body, size_t len)
{
    inv->done_ns = fm_now_ns();
    drain_pipes(in);
    inv_untrack(in, inv);
    plat_inv_end(
        inv,
        &(plat_outcome){
            .how = PLAT_END_RAN, .status = status, .fn_error = fn_error, .body = body, .len = len});
}

/* Max Memory Used: the cgroup's peak, else the memory size (RLIMIT fallback cannot tell). The
 * peak is a high-water mark read from the cgroup file at most every PEAK_READ_NS per instance:
 * at a thousand requests a second the read was one of the larger costs of a REPORT, and a REPORT
 * in between shows the peak as of at most that long ago. */
#define PEAK_READ_NS (100 * INT64_C(1000000))
int plat_inst_peak_mb(plat_inst *in)
{
    int64_t now = fm_now_ns();
    if (!in->peak_read_ns || now - in->peak_read_ns >= PEAK_READ_NS) {
        in->peak_bytes = plat_sandbox_peak_bytes(&in->fn->p->sb, &in->cg);
        in->peak_read_ns = now;
    }
    int64_t peak = in->peak_bytes;
    return peak > 0 ? (int)((peak + (1 << 20) - 1) >> 20) : in->fn->spec.memory_mb;
}

/* Timeout of an invocation handed to this instance: answer, then replace the instance. */
void plat_inst_timeout(plat_inst *in, plat_inv *inv)
{
    char body[256], line[200];
    double t = in->fn->spec.timeout_s;
    int n = snprintf(line, sizeof line, "%s Task timed out after %.2f seconds", inv->rid, t);
    plat_log_line(in, inv, line, (size_t)n);
    snprintf(body, sizeof body,
             "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"RequestId: %s Error: Task "
             "timed out after %.2f seconds\"}",
             inv->rid, t);
    plat_inst_kill(in, "timeout");
    inst_end(in, inv, "timeout", "Unhandled", body, strlen(body));
}

/* ---- the Runtime API --------------------------------------------------------------------------
 */

static void handle_next(plat_inst *in, struct evhttp_request *req)
{
    if (in->state == PLAT_INST_STOPPING || in->npark >= in->nworkers) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition is not allowed");
        return;
    }
    if (in->nworkers == 1 && in->ninv == 1) {
        /* /next again without answering: Lambda treats the event as lost; so do we. (With
         * several workers a /next cannot be tied to one worker's invocation.) */
        plat_inv *inv = in->invs[0];
        const char *body = "{\"errorType\":\"Runtime.InvalidResponse\",\"errorMessage\":"
                           "\"the runtime asked for the next event without answering\"}";
        inst_end(in, inv, "error", "Unhandled", body, strlen(body));
        policy_event ev = {.type = POLICY_EV_DONE, .instance = in->pid_policy};
        park(in, req);
        in->state = PLAT_INST_IDLE;
        plat_feed(in->fn, &ev);
        return;
    }
    park(in, req);
    if (!in->ready) {
        /* Ready when every worker has asked for its first event. */
        if (++in->nready < in->nworkers)
            return;
        in->ready = true;
        in->ready_ns = fm_now_ns();
        in->state = PLAT_INST_IDLE;
        evtimer_del(in->timer);
        plat_image_ready(in); /* runtime image: find the container's memory peak */
        plat_meter_instance(in);
        policy_event ev = {.type = POLICY_EV_READY, .instance = in->pid_policy};
        plat_feed(in->fn, &ev);
        return;
    }
    if (in->ninv == 0)
        in->state = PLAT_INST_IDLE;
    plat_inv *pv = TAILQ_FIRST(&in->pending);
    if (pv) {
        TAILQ_REMOVE(&in->pending, pv, q);
        deliver(in, pv);
    }
}

/* An /error body that looks like JSON is passed through as the caller's error payload. */
static bool body_is_json(struct evbuffer *b)
{
    size_t len = evbuffer_get_length(b);
    if (len == 0)
        return false;
    const char *s = (const char *)evbuffer_pullup(b, -1);
    while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r'))
        s++, len--;
    return len && (*s == '{' || *s == '[' || *s == '"');
}

/* Why: the runtime reports a function error; the client gets 200 + X-Amz-Function-Error with the
 * runtime's error JSON, or one built from Lambda-Runtime-Function-Error-Type. */
static void error_body(struct evhttp_request *req, struct evbuffer *in_body, char **out,
                       size_t *len)
{
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
                                          "Lambda-Runtime-Function-Error-Type");
    if (body_is_json(in_body)) {
        *len = evbuffer_get_length(in_body);
        *out = malloc(*len + 1);
        if (*out) {
            evbuffer_remove(in_body, *out, *len);
            (*out)[*len] = 0;
        }
        return;
    }
    char q[160];
    fm_json_quote(q, sizeof q, type ? type : "Runtime.Unknown");
    size_t cap = 256 + strlen(q);
    *out = malloc(cap);
    if (*out)
        *len = (size_t)snprintf(*out, cap, "{\"errorType\":%s,\"errorMessage\":\"Unhandled\"}", q);
}

/* POST /{id}/response and /{id}/error: 202, then the caller is answered and the policy told. */
static void handle_result(plat_inst *in, struct evhttp_request *req, const char *id, bool is_error)
{
    plat_inv *inv = NULL;
    for (int i = 0; i < in->ninv && !inv; i++)
        if (strcmp(in->invs[i]->rid, id) == 0)
            inv = in->invs[i];
    if (in->state == PLAT_INST_STOPPING) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition is not allowed");
        return;
    }
    if (!inv) {
        reply_error(req, 400, "Bad Request", "InvalidRequestID", "Invalid request ID");
        return;
    }
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    if (!is_error && len > PLAT_MAX_RESPONSE) {
        reply_error(req, 413, "Request Entity Too Large", "RequestEntityTooLarge",
                    "Exceeded maximum allowed payload size (6291556 bytes).");
        char body[200];
        snprintf(body, sizeof body,
                 "{\"errorMessage\":\"Response payload size exceeded maximum allowed payload size "
                 "(6291556 bytes).\",\"errorType\":\"Function.ResponseSizeTooLarge\"}");
        inst_end(in, inv, "error", "Unhandled", body, strlen(body));
    } else if (is_error) {
        char *body = NULL;
        size_t blen = 0;
        error_body(req, b, &body, &blen);
        reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
        inst_end(in, inv, "error", "Unhandled", body ? body : "{}", body ? blen : 2);
        free(body);
    } else {
        /* The result is moved to the caller's answer with its Content-Type and binary header
         * (faasml's function host sends KServe binary outputs this way). */
        struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
        const char *ct = evhttp_find_header(ih, "Content-Type");
        const char *hl = evhttp_find_header(ih, "Inference-Header-Content-Length");
        int64_t header_len = 0;
        if (hl && (fm_parse_i64(hl, &header_len) || header_len < 0 || (uint64_t)header_len > len))
            header_len = 0;
        char ctype[96];
        snprintf(ctype, sizeof ctype, "%s", ct ? ct : "application/json");
        inv->done_ns = fm_now_ns();
        drain_pipes(in);
        inv_untrack(in, inv);
        /* The body moves to the caller before the runtime's 202: replying may free req (and b
         * with it) at once when the runtime has already gone. */
        plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_RAN,
                                          .status = "ok",
                                          .buf = b,
                                          .ctype = ctype,
                                          .header_len = header_len});
        reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    }
    if (in->ninv == 0)
        in->state = PLAT_INST_IDLE;
    policy_event ev = {.type = POLICY_EV_DONE, .instance = in->pid_policy};
    plat_feed(in->fn, &ev);
}

/* POST /init/error: only during init; the error is kept for the request bound to it. */
static void handle_init_error(plat_inst *in, struct evhttp_request *req)
{
    if (in->state != PLAT_INST_STARTING || in->init_error) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition is not allowed");
        return;
    }
    char *body = NULL;
    size_t len = 0;
    error_body(req, evhttp_request_get_input_buffer(req), &body, &len);
    in->init_error = body;
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
                                          "Lambda-Runtime-Function-Error-Type");
    snprintf(in->init_error_type, sizeof in->init_error_type, "%s",
             type ? type : "Runtime.Unknown");
    reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    /* The runtime should exit now; give it a moment, then stop it. */
    struct timeval tv = {0, 200000};
    evtimer_add(in->timer, &tv);
}

/* Why: keep-alive is checked, not assumed: a request from a client port not seen before on this
 * instance is a new TCP connection (each worker keeps one). */
static void count_connection(plat_inst *in, struct evhttp_request *req)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (!c)
        return;
    evhttp_connection_get_peer(c, &addr, &port);
    for (int i = 0; i < in->nports; i++)
        if (in->ports[i] == port)
            return;
    in->fn->m.rapi_connections++;
    if (in->nports < (int)FM_ARRAY_LEN(in->ports))
        in->ports[in->nports++] = port;
    else
        in->ports[in->fn->m.rapi_connections % FM_ARRAY_LEN(in->ports)] = port;
}

/* Routes /2018-06-01/runtime/... of one instance. */
static void rapi_cb(struct evhttp_request *req, void *arg)
{
    plat_inst *in = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    count_connection(in, req);
    if (strncmp(uri, RAPI_PREFIX, strlen(RAPI_PREFIX)) != 0) {
        reply_error(req, 404, "Not Found", "InvalidURI", "unknown Runtime API path");
        return;
    }
    const char *rest = uri + strlen(RAPI_PREFIX);
    if (strcmp(rest, "invocation/next") == 0) {
        if (m != EVHTTP_REQ_GET)
            reply_error(req, 405, "Method Not Allowed", "MethodNotAllowed", "use GET");
        else
            handle_next(in, req);
        return;
    }
    if (strcmp(rest, "init/error") == 0) {
        if (m != EVHTTP_REQ_POST)
            reply_error(req, 405, "Method Not Allowed", "MethodNotAllowed", "use POST");
        else
            handle_init_error(in, req);
        return;
    }
    if (strncmp(rest, "invocation/", 11) == 0) {
        const char *id = rest + 11, *slash = strchr(id, '/');
        if (slash && slash - id < 64 && m == EVHTTP_REQ_POST &&
            (strcmp(slash, "/response") == 0 || strcmp(slash, "/error") == 0)) {
            char rid[64];
            memcpy(rid, id, (size_t)(slash - id));
            rid[slash - id] = 0;
            handle_result(in, req, rid, slash[1] == 'e');
            return;
        }
    }
    reply_error(req, 404, "Not Found", "InvalidURI", "unknown Runtime API path");
}

/* ---- reaping ----------------------------------------------------------------------------------
 */

static plat_inst *find_pid(platform *p, pid_t pid)
{
    plat_fn *fn;
    plat_inst *in;
    TAILQ_FOREACH(fn, &p->fns, link)
    TAILQ_FOREACH(in, &fn->insts, link)
    for (int w = 0; w < in->nworkers; w++)
        if (in->wpids[w] == pid) {
            in->wpids[w] = -pid; /* reaped */
            return in;
        }
    return NULL;
}

/* Lambda's wording for how a runtime ended: "exit status N" or "signal: killed". */
static void describe_exit(int ws, char *out, size_t cap)
{
    if (WIFEXITED(ws))
        snprintf(out, cap, "exit status %d", WEXITSTATUS(ws));
    else if (WIFSIGNALED(ws))
        snprintf(out, cap, "signal: %s",
                 WTERMSIG(ws) == SIGKILL ? "killed" : strsignal(WTERMSIG(ws)));
    else
        snprintf(out, cap, "unknown");
}

/* Why: a process ends for one of many reasons (we killed it, it crashed mid-request, it ran out
 * of memory, it failed init); each gets its Lambda-shaped answer and the policy its event. */
static void reaped(plat_inst *in)
{
    plat_fn *fn = in->fn;
    platform *p = fn->p;
    in->exited = true;
    plat_image_reaped(in);
    if (in->out_fd >= 0)
        on_pipe(in->out_fd, EV_READ, in);
    if (in->err_fd >= 0)
        on_pipe(in->err_fd, EV_READ, in);
    bool oom = plat_sandbox_oom_killed(&p->sb, &in->cg);
    bool asked = in->state == PLAT_INST_STOPPING && !in->worker_died;
    char why[64];
    describe_exit(in->wstatus, why, sizeof why);
    if (!asked)
        snprintf(in->stop_reason, sizeof in->stop_reason, "%s", oom ? "oom" : "crash");
    else if (oom && strcmp(in->stop_reason, "timeout") != 0)
        snprintf(in->stop_reason, sizeof in->stop_reason, "oom");
    in->state = PLAT_INST_STOPPING;
    plat_inv *inv;
    while ((inv = in->ninv ? in->invs[0] : TAILQ_FIRST(&in->pending))) {
        char body[400];
        const char *type = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";
        snprintf(body, sizeof body,
                 "{\"errorType\":\"%s\",\"errorMessage\":\"RequestId: %s Error: Runtime exited "
                 "with error: %s\"}",
                 type, inv->rid, why);
        char line[300];
        int n =
            snprintf(line, sizeof line, "RequestId: %s Error: Runtime exited with error: %s\n%s",
                     inv->rid, why, type);
        plat_log_line(in, inv, line, (size_t)n);
        inst_end(in, inv, oom ? "oom" : "crash", "Unhandled", body, strlen(body));
    }
    /* A runtime that failed at init leaves its error for the request bound to it. */
    if (!in->ready) {
        free(fn->last_start_error);
        if (in->init_error) {
            fn->last_start_error = in->init_error;
            in->init_error = NULL;
        } else {
            char body[300];
            snprintf(body, sizeof body,
                     "{\"errorType\":\"Runtime.ExitError\",\"errorMessage\":\"Runtime exited "
                     "with error: %s\"}",
                     strcmp(in->stop_reason, "init_timeout") == 0 ? "init timed out" : why);
            fn->last_start_error = strdup(body);
        }
    }
    in->stopped_ns = fm_now_ns();
    plat_meter_instance(in);
    TAILQ_REMOVE(&fn->insts, in, link);
    plat_sandbox_set_instances(&p->sb, --p->ninstances);
    if (fn->slots[policy_instance_slot(in->pid_policy) % fn->nslots] == in)
        fn->slots[policy_instance_slot(in->pid_policy) % fn->nslots] = NULL;
    policy_event ev = {.type =
                           in->ready || in->stop_asked ? POLICY_EV_STOPPED : POLICY_EV_START_FAILED,
                       .instance = in->pid_policy};
    inst_free(in);
    plat_feed(fn, &ev);
    plat_sweep(p);
}

/* SIGCHLD: reap every exited child; ours get their Lambda-shaped ending. */
void plat_inst_reap(platform *p)
{
    int ws;
    pid_t pid;
    while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
        plat_inst *in = find_pid(p, pid);
        if (!in)
            continue;
        if (in->nexited++ == 0)
            in->wstatus = ws;
        if (in->nexited < in->nworkers) {
            /* One worker of several is gone: unless asked, the instance failed as a whole. */
            if (in->state != PLAT_INST_STOPPING) {
                in->worker_died = true;
                in->state = PLAT_INST_STOPPING;
                kill(-in->pid, SIGKILL);
            }
            continue;
        }
        reaped(in);
    }
}

/* Teardown without a loop: wait for the process, answer what it held, free it. */
void plat_inst_forget(plat_inst *in)
{
    plat_fn *fn = in->fn;
    for (int w = 0; w < in->nworkers && !in->exited; w++) {
        int ws;
        if (in->wpids[w] > 0)
            while (waitpid(in->wpids[w], &ws, 0) < 0 && errno == EINTR)
                ;
    }
    plat_inv *inv;
    while ((inv = in->ninv ? in->invs[0] : TAILQ_FIRST(&in->pending))) {
        inv_untrack(in, inv);
        plat_inv_refuse(inv, 503, "ServiceException", NULL, "the platform stopped");
    }
    if (!in->stopped_ns) {
        in->stopped_ns = fm_now_ns();
        if (!in->stop_reason[0])
            snprintf(in->stop_reason, sizeof in->stop_reason, "shutdown");
        plat_meter_instance(in);
    }
    TAILQ_REMOVE(&fn->insts, in, link);
    fn->p->ninstances--;
    inst_free(in);
}
