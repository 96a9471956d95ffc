/* runtime: image. An instance of such a function is a Lambda container image run with podman:
 * the platform forks `podman run --rm ... IMAGE [args]` (plat_spawn, instance.c) and that client
 * process stands for the instance, so the rest of instance.c (pipes, Runtime API, init timeout,
 * reaping) is the same as for a bootstrap. This file owns podman's command line and what podman
 * needs on this host.
 *
 * Choices, and why (docs/deploy.md, "runtime: image"):
 * - Networking: --network host. The instance's Runtime API listens on 127.0.0.1:PORT of the
 *   host, and AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT reaches it unchanged from inside the
 *   container; no port mapping, no bridge, and nothing listens beyond loopback. The price: the
 *   container shares the host's network namespace (docs/security.md).
 * - Limits: --memory (and --memory-swap where swap is accounted) from the memory size, --cpus
 *   as the profile computes it (memory/1769 vCPU on lambda/gcf, the instance type's vCPU on
 *   managed/server); the platform's own cgroups are not used, the container's are podman's.
 * - Quirks of the host (platform_podman_detect): --runtime runc on cgroup v1 (crun refuses it),
 *   --ulimit nofile/nproc where the hard limits are below podman's defaults, rootless podman on
 *   cgroup v1 cannot apply limits at all. Detected once, at the first deploy, and logged.
 * - Lifetime: every container is named faasml-<pid>-<instance> and labelled with this platform's
 *   owner id. Killing an instance is `podman rm -f -t 0 NAME` (the podman client then exits,
 *   and is reaped like any runtime); if the client is still there after a grace period it is
 *   SIGKILLed and the container removed again; at teardown every container with the owner label
 *   is removed, synchronously, so none outlives the platform's own stop.
 */
#include "inst.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KILL_GRACE_S 10 /* podman rm -f normally ends the client in well under a second */

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* What the platform keeps about podman, probed once (plat_image_prepare). */
struct plat_podman {
    char path[1024]; /* podman's absolute path */
    platform_podman host;
    char owner[48]; /* label value faasml.owner: this platform's pid and start time */
};

/* One image instance's container. */
struct plat_image_inst {
    char name[96];       /* container name */
    char pidfile[160];   /* podman --pidfile: the container's first process */
    struct event *grace; /* after a kill: SIGKILL the client if it is still there */
    bool killed;
};

/* ---- references and host quirks -------------------------------------------------------------- */

bool platform_image_ref_ok(const char *ref)
{
    size_t n = strlen(ref);
    if (n == 0 || n > 255 || ref[0] == '-' || ref[0] == '.' || ref[0] == '/' || ref[0] == ':')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        if (!islower(c) && !isupper(c) && !isdigit(c) && !strchr("._/:@-", c))
            return false;
    }
    return true;
}

/* The first executable called name on PATH, into buf; false when there is none. */
static bool find_tool(const char *name, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && (size_t)snprintf(buf, cap, "%.*s/%s", (int)len, path, name) < cap &&
            access(buf, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    buf[0] = '\0';
    return false;
}

/* Appends to a fixed buffer, never past its end. */
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n += (size_t)k;
    if (*n >= cap)
        *n = cap - 1;
}

void platform_podman_detect(platform_podman *out)
{
    memset(out, 0, sizeof *out);
    size_t n = 0, w = 0;
    char tool[1024];
    struct statfs fs;
    out->cgroup_v2 =
        statfs("/sys/fs/cgroup", &fs) == 0 && (unsigned long)fs.f_type == CGROUP2_SUPER_MAGIC;
    out->rootless = geteuid() != 0;
    out->limits = !out->rootless || out->cgroup_v2;
    out->swap_limit =
        out->cgroup_v2 || access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
    if (!out->cgroup_v2) {
        bool hybrid = access("/sys/fs/cgroup/unified", F_OK) == 0;
        append(out->flags, sizeof out->flags, &n, "--runtime runc");
        append(out->why, sizeof out->why, &w,
               "cgroup v1%s: crun refuses it, so runc runs the container%s",
               hybrid ? " (hybrid)" : "",
               find_tool("runc", tool, sizeof tool) ? ""
                                                    : " (runc is not installed: "
                                                      "scripts/install-deps.sh)");
    }
    /* Rootful podman raises nofile and nproc to 1048576 and 4194304; where the hard limits are
     * lower, the runtime's setrlimit fails ("error setting rlimit type 7"), so the host's own
     * limits are passed instead. nproc is also capped by kernel.pid_max: conmon runs with
     * min(hard limit, pid_max), and a container asking for more fails the same way. */
    static const struct {
        int res;
        const char *name;
        rlim_t podman;
    } lims[] = {{RLIMIT_NOFILE, "nofile", 1048576}, {RLIMIT_NPROC, "nproc", 4194304}};
    for (size_t i = 0; i < FM_ARRAY_LEN(lims); i++) {
        struct rlimit rl;
        if (getrlimit(lims[i].res, &rl) != 0)
            continue;
        rlim_t v = rl.rlim_max;
        bool by_pid_max = false;
        if (lims[i].res == RLIMIT_NPROC) {
            char *txt = NULL;
            size_t len;
            int64_t pm;
            if (fm_read_file("/proc/sys/kernel/pid_max", &txt, &len, NULL) == 0) {
                txt[strcspn(txt, "\n")] = '\0';
                if (fm_parse_i64(txt, &pm) == 0 && pm > 0 && (rlim_t)pm < v) {
                    v = (rlim_t)pm;
                    by_pid_max = true;
                }
            }
            free(txt);
        }
        if (v == RLIM_INFINITY || v >= lims[i].podman)
            continue;
        append(out->flags, sizeof out->flags, &n, "%s--ulimit %s=%llu:%llu", n ? " " : "",
               lims[i].name, (unsigned long long)v, (unsigned long long)v);
        append(out->why, sizeof out->why, &w, "%s%s limit %llu%s is below podman's %llu",
               w ? "; " : "", lims[i].name, (unsigned long long)v,
               by_pid_max ? " (hard limit capped by kernel.pid_max)" : "",
               (unsigned long long)lims[i].podman);
    }
    if (out->rootless)
        append(out->why, sizeof out->why, &w, "%srootless podman%s", w ? "; " : "",
               out->limits ? "" : " on cgroup v1: it cannot apply --memory or --cpus");
    if (!out->why[0])
        snprintf(out->why, sizeof out->why, "no quirks: cgroup v2 and high enough limits");
}

/* ---- deploy -------------------------------------------------------------------------------- */

/* Runs podman with args, waits, and returns its exit status (-1: it could not run). Output goes to
 * /dev/null. Used only off the request path: at deploy and at teardown. */
static int run_podman_sync(const char *podman, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execve(podman, argv, environ);
        _exit(127);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

int plat_image_prepare(plat_fn *fn, fm_err *err)
{
    platform *p = fn->p;
    const platform_spec *s = &fn->spec;
    if (fn->workers > 1)
        return fm_err_set(err, FM_EINVAL,
                          "%s: runtime 'image' runs one runtime per container, but the profile "
                          "asks for %d workers per instance (set policy inst.workers: 1)",
                          s->name, fn->workers);
    if (!p->podman) {
        struct plat_podman *pm = calloc(1, sizeof *pm);
        if (!pm)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
        if (!find_tool("podman", pm->path, sizeof pm->path)) {
            free(pm);
            return fm_err_set(err, FM_ENOTFOUND,
                              "%s: runtime 'image' needs podman, which is not on PATH "
                              "(scripts/install-deps.sh installs it)",
                              s->name);
        }
        platform_podman_detect(&pm->host);
        snprintf(pm->owner, sizeof pm->owner, "%d.%lld", (int)p->pid_self,
                 (long long)(fm_wall_ns() / 1000000));
        p->podman = pm;
        FM_INFO("platform",
                "runtime image: %s %s, network host (the Runtime API on 127.0.0.1), limits %s; "
                "podman run flags: %s (%s)",
                pm->path, pm->host.rootless ? "rootless" : "rootful",
                !pm->host.limits      ? "NOT applied (rootless on cgroup v1)"
                : p->cfg.no_cpu_limit ? "--memory only (--no-cpu-limit)"
                : pm->host.swap_limit ? "--memory, --memory-swap, --cpus"
                                      : "--memory, --cpus (no swap accounting)",
                pm->host.flags[0] ? pm->host.flags : "none", pm->host.why);
    }
    /* Nothing is pulled (--pull never): a missing image is this deploy's error, not every
     * instance's. */
    char *argv[] = {p->podman->path, "image", "exists", s->image, NULL};
    int st = run_podman_sync(p->podman->path, argv);
    if (st == 1)
        return fm_err_set(err, FM_ENOTFOUND,
                          "%s: image '%s' is not in podman's local storage (build it with "
                          "'faasml package --format oci', or podman pull it)",
                          s->name, s->image);
    if (st != 0)
        return fm_err_set(err, FM_EIO, "%s: 'podman image exists %s' failed (status %d)", s->name,
                          s->image, st);
    return 0;
}

/* ---- starting ------------------------------------------------------------------------------ */

/* Variables the image keeps as its own: its task root and PATH are the image's (ENV), not the
 * host's. */
static bool image_keeps(const char *kv)
{
    static const char *const own[] = {"PATH=", "LAMBDA_TASK_ROOT=", "LAMBDA_RUNTIME_DIR=", NULL};
    for (int i = 0; own[i]; i++)
        if (strncmp(kv, own[i], strlen(own[i])) == 0)
            return true;
    return false;
}

/* The length of a KEY=VALUE's key. */
static size_t key_len(const char *kv)
{
    return strcspn(kv, "=");
}

/* Whether env (NULL-terminated) sets the variable named by kv's key. */
static bool env_has(char *const env[], const char *kv)
{
    size_t k = key_len(kv);
    for (int i = 0; env[i]; i++)
        if (key_len(env[i]) == k && strncmp(env[i], kv, k) == 0)
            return true;
    return false;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

void plat_image_cmd_release(plat_image_cmd *c)
{
    for (int i = 0; i < c->nown; i++)
        free(c->own[i]);
    free(c->own);
    free(c->argv);
    free(c->envp);
    memset(c, 0, sizeof *c);
}

/* Keeps s (malloc'd, may be NULL) for release; returns it. */
static char *keep(plat_image_cmd *c, char *s)
{
    if (s)
        c->own[c->nown++] = s;
    else
        c->oom = true;
    return s;
}

int plat_image_cmd_build(plat_inst *in, char *const lambda_env[], plat_image_cmd *c, fm_err *err)
{
    platform *p = in->fn->p;
    const plat_fn *fn = in->fn;
    const platform_spec *s = &fn->spec;
    const struct plat_podman *pm = p->podman;
    memset(c, 0, sizeof *c);
    if (!pm)
        return fm_err_set(err, FM_ESTATE, "%s: podman was not probed", s->name);
    if (!(in->img = calloc(1, sizeof *in->img)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    snprintf(in->img->name, sizeof in->img->name, "faasml-%d-%lld", (int)p->pid_self,
             (long long)in->id);
    int nenv = 0, nhost = 0;
    while (lambda_env[nenv])
        nenv++;
    while (environ[nhost])
        nhost++;
    size_t cap = 40 + 2 * (size_t)nenv + (size_t)s->nargs + sizeof pm->host.flags / 2;
    c->argv = calloc(cap, sizeof *c->argv);
    c->envp = calloc((size_t)(nenv + nhost + 1), sizeof *c->envp);
    c->own = calloc(16 + sizeof pm->host.flags / 2, sizeof *c->own);
    if (!c->argv || !c->envp || !c->own) {
        plat_image_cmd_release(c);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int a = 0;
    c->argv[a++] = (char *)pm->path;
    c->argv[a++] = "run";
    c->argv[a++] = "--rm";
    c->argv[a++] = "--pull";
    c->argv[a++] = "never";
    c->argv[a++] = "--name";
    c->argv[a++] = in->img->name;
    c->argv[a++] = "--label";
    c->argv[a++] = keep(c, dupf("faasml.owner=%s", pm->owner));
    c->argv[a++] = "--label";
    c->argv[a++] = keep(c, dupf("faasml.function=%s", s->name));
    c->argv[a++] = "--network";
    c->argv[a++] = "host";
    /* As Lambda runs images: an unprivileged user, a read-only root with a writable /tmp; and no
     * capabilities, no privilege gain (docs/security.md). */
    c->argv[a++] = "--user";
    c->argv[a++] = "65534:65534";
    c->argv[a++] = "--read-only";
    c->argv[a++] = "--cap-drop";
    c->argv[a++] = "all";
    c->argv[a++] = "--security-opt";
    c->argv[a++] = "no-new-privileges";
    const char *tmp = getenv("TMPDIR");
    snprintf(in->img->pidfile, sizeof in->img->pidfile, "%s/%s.pid", tmp && *tmp ? tmp : "/tmp",
             in->img->name);
    c->argv[a++] = "--pidfile";
    c->argv[a++] = in->img->pidfile;
    /* The quirk flags, split on spaces (none holds one inside). */
    char *q = keep(c, strdup(pm->host.flags));
    for (char *save = NULL, *t = q ? strtok_r(q, " ", &save) : NULL; t;
         t = strtok_r(NULL, " ", &save))
        c->argv[a++] = t;
    if (pm->host.limits) {
        int mb = fn->inst_memory_mb > 0 ? fn->inst_memory_mb : s->memory_mb;
        c->argv[a++] = "--memory";
        c->argv[a++] = keep(c, dupf("%dm", mb));
        if (pm->host.swap_limit) { /* Lambda has no swap: memory+swap = memory */
            c->argv[a++] = "--memory-swap";
            c->argv[a++] = keep(c, dupf("%dm", mb));
        }
        if (!p->cfg.no_cpu_limit) {
            double vcpu = fn->vcpu > 0 ? fn->vcpu : platform_lambda_vcpu(s->memory_mb);
            c->argv[a++] = "--cpus";
            c->argv[a++] = keep(c, dupf("%.3f", vcpu));
        }
    }
    /* Variables travel by name (-e NAME takes the value from podman's own environment), so no
     * value shows in the process list. podman's environment is the platform's own (rootless
     * podman needs HOME and XDG_RUNTIME_DIR) with Lambda's variables over it. */
    int e = 0;
    for (int i = 0; environ[i]; i++)
        if (!env_has(lambda_env, environ[i]))
            c->envp[e++] = environ[i];
    for (int i = 0; lambda_env[i]; i++) {
        if (image_keeps(lambda_env[i]) ||
            (!s->handler && strncmp(lambda_env[i], "_HANDLER=", 9) == 0))
            continue;
        c->envp[e++] = lambda_env[i];
        c->argv[a++] = "-e";
        c->argv[a++] = keep(c, dupf("%.*s", (int)key_len(lambda_env[i]), lambda_env[i]));
    }
    c->envp[e] = NULL;
    c->argv[a++] = s->image;
    for (int i = 0; i < s->nargs; i++)
        c->argv[a++] = s->args[i];
    c->argv[a] = NULL;
    if (c->oom) {
        plat_image_cmd_release(c);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
}

/* Why: REPORT's Max Memory Used is the instance's cgroup peak; an image instance's cgroup is the
 * one podman made, found from the container's first process (/proc/PID/cgroup) once it runs. Left
 * closed (REPORT then says the memory size) where it cannot be found. */
void plat_image_ready(plat_inst *in)
{
    struct plat_image_inst *im = in->img;
    if (!im || in->cg.peak_fd >= 0)
        return;
    char *txt = NULL, *cg = NULL;
    size_t len;
    int64_t pid;
    if (fm_read_file(im->pidfile, &txt, &len, NULL) != 0)
        return;
    txt[strcspn(txt, "\n")] = '\0';
    bool ok = fm_parse_i64(txt, &pid) == 0 && pid > 0;
    free(txt);
    char path[700];
    snprintf(path, sizeof path, "/proc/%lld/cgroup", (long long)pid);
    if (!ok || fm_read_file(path, &cg, &len, NULL) != 0)
        return;
    /* v1: "N:memory:/path" (the controller may share a line: "N:cpu,memory:"); v2: "0::/path" */
    const char *rel = NULL, *peak = NULL;
    bool v2 = in->fn->p->sb.kind == PLAT_SB_CGROUP2;
    for (char *save = NULL, *l = strtok_r(cg, "\n", &save); l && !rel;
         l = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        if (v2 && !*ctl) {
            rel = c2 + 1;
            peak = "memory.peak";
        } else if (!v2) {
            for (char *s2 = NULL, *t = strtok_r((char *)ctl, ",", &s2); t;
                 t = strtok_r(NULL, ",", &s2))
                if (strcmp(t, "memory") == 0) {
                    rel = c2 + 1;
                    peak = "memory.max_usage_in_bytes";
                }
        }
    }
    if (rel) {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s%s/%s", v2 ? "" : "/memory", rel, peak);
        in->cg.peak_fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    free(cg);
}

/* ---- stopping ------------------------------------------------------------------------------- */

/* Starts `podman rm -f -t 0 NAME` and does not wait: SIGCHLD reaps it (plat_inst_reap passes
 * over pids that are no instance's). */
static void remove_async(const struct plat_podman *pm, const char *name)
{
    char *argv[] = {(char *)pm->path, "rm", "-f", "-t", "0", "--ignore", (char *)name, NULL};
    pid_t pid = fork();
    if (pid != 0) {
        if (pid < 0)
            FM_WARN("platform", "cannot start 'podman rm %s': %s", name, strerror(errno));
        return;
    }
    setpgid(0, 0); /* not in the instance's group: a kill of the instance must not stop it */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
    }
    execve(pm->path, argv, environ);
    _exit(127);
}

/* The client outlived its container's removal: end it, and remove once more in case it had not
 * created the container yet when the first removal ran. */
static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    plat_inst *in = arg;
    if (in->exited || in->pid <= 0)
        return;
    FM_WARN("platform", "%s[%lld]: podman did not exit %d s after 'podman rm'; killing it",
            in->fn->spec.name, (long long)in->id, KILL_GRACE_S);
    kill(-in->pid, SIGKILL);
    remove_async(in->fn->p->podman, in->img->name);
}

void plat_image_kill(plat_inst *in)
{
    struct plat_image_inst *im = in->img;
    if (!im || im->killed || in->pid <= 0)
        return;
    im->killed = true;
    remove_async(in->fn->p->podman, im->name);
    if ((im->grace = evtimer_new(in->fn->p->base, on_grace, in))) {
        struct timeval tv = {KILL_GRACE_S, 0};
        evtimer_add(im->grace, &tv);
    } else {
        kill(-in->pid, SIGKILL);
    }
}

void plat_image_reaped(plat_inst *in)
{
    if (!in->img)
        return;
    /* Ended by a signal, the client may have left a container behind (killed mid-start, or by
     * someone else). */
    if (WIFSIGNALED(in->wstatus))
        remove_async(in->fn->p->podman, in->img->name);
    /* podman run exits with its container's status, 128+N for a runtime killed by signal N (its
     * own failures are 125-127): the instance ended as that runtime did, and says so in Lambda's
     * words ("signal: killed"). Linux's wait status of a death by signal N is N. */
    else if (WIFEXITED(in->wstatus) && WEXITSTATUS(in->wstatus) > 128 &&
             WEXITSTATUS(in->wstatus) < 128 + 65)
        in->wstatus = WEXITSTATUS(in->wstatus) - 128;
}

void plat_image_inst_free(plat_inst *in)
{
    if (!in->img)
        return;
    if (in->img->grace)
        event_free(in->img->grace);
    if (in->img->pidfile[0])
        unlink(in->img->pidfile);
    free(in->img);
    in->img = NULL;
}

void plat_image_sweep(platform *p)
{
    if (!p->podman)
        return;
    char label[96];
    snprintf(label, sizeof label, "label=faasml.owner=%s", p->podman->owner);
    char *argv[] = {p->podman->path, "rm", "-f", "-t", "0", "--filter", label, NULL};
    int st = run_podman_sync(p->podman->path, argv);
    if (st != 0)
        FM_WARN("platform", "'podman rm --filter %s' ended with status %d", label, st);
    free(p->podman);
    p->podman = NULL;
}
