/* Memory, CPU and process limits for instances: cgroup v2, else cgroup v1 (memory, cpu, pids and
 * freezer controllers), else RLIMIT_AS. Lambda's model: the memory size is a hard limit and the
 * CPU share is memory/1769 vCPU, at most 6 (cloud-platforms.md section 3). Stopping an instance
 * kills every process of its cgroup, so a runtime that daemonizes leaves nothing behind. The
 * isolation itself (namespaces, seccomp) is sandbox_ns.c. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CPU_PERIOD_US 100000

/* cgroup files are written with one write(2); a short write means refusal. */
static bool write_str(const char *path, const char *v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = write(fd, v, strlen(v));
    close(fd);
    return n == (ssize_t)strlen(v);
}

/* True when p is a directory. */
static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Why: in cgroup v1 each controller has its own hierarchy and this process may already sit in a
 * sub-cgroup (a container); nesting below our own cgroup keeps the host's limits above ours. */
static void own_path_v1(const char *controller, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = 0;
        char *ctrls = c1 + 1, *path = c2 + 1;
        path[strcspn(path, "\n")] = 0;
        for (char *tok = strtok(ctrls, ","); tok; tok = strtok(NULL, ","))
            if (strcmp(tok, controller) == 0 && strcmp(path, "/") != 0)
                snprintf(out, cap, "%s", path);
    }
    fclose(f);
}

/* Why: a platform killed with SIGKILL cannot remove its cgroups; the next one removes every
 * empty faasml-<pid> group (and its empty instance groups) whose process is gone. */
static void remove_stale(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        char tail;
        if (sscanf(e->d_name, "faasml-%d%c", &pid, &tail) != 1 || pid <= 0 ||
            (kill(pid, 0) == 0 || errno != ESRCH))
            continue;
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
        DIR *sub = opendir(dir);
        struct dirent *i;
        while (sub && (i = readdir(sub))) {
            if (i->d_name[0] != 'i')
                continue;
            char inst[1400];
            snprintf(inst, sizeof inst, "%s/%s", dir, i->d_name);
            rmdir(inst); /* fails, harmlessly, while a process is still inside */
        }
        if (sub)
            closedir(sub);
        rmdir(dir);
    }
    closedir(d);
}

/* Why: creates <mount><own path>/faasml-<pid>, falling back to <mount>/faasml-<pid> when our own
 * cgroup is not writable; returns false when neither can be made. */
static bool make_root_v1(const char *mount, const char *controller, char *out, size_t cap)
{
    char own[512];
    own_path_v1(controller, own, sizeof own);
    const char *bases[] = {own, ""};
    for (size_t i = 0; i < 2; i++) {
        if (i == 0 && !own[0])
            continue;
        char parent[1024];
        snprintf(parent, sizeof parent, "%s%s", mount, bases[i]);
        remove_stale(parent);
        snprintf(out, cap, "%s%s/faasml-%d", mount, bases[i], (int)getpid());
        if (mkdir(out, 0755) == 0 || errno == EEXIST)
            return true;
    }
    return false;
}

/* cgroup v1 pids and freezer hierarchies, when mounted: pids.max and the freeze-kill-thaw stop. */
static void init_v1_extra(plat_sandbox *sb)
{
    if (!is_dir("/sys/fs/cgroup/pids") ||
        !make_root_v1("/sys/fs/cgroup/pids", "pids", sb->pids_root, sizeof sb->pids_root))
        sb->pids_root[0] = 0;
    if (!is_dir("/sys/fs/cgroup/freezer") ||
        !make_root_v1("/sys/fs/cgroup/freezer", "freezer", sb->frz_root, sizeof sb->frz_root))
        sb->frz_root[0] = 0;
}

static int init_cgroups(plat_sandbox *sb, bool no_cgroups, bool no_cpu);

/* Detects the best enforcement and isolation this machine allows and makes the platform's
 * groups. */
int plat_sandbox_init(plat_sandbox *sb, const platform_config *cfg)
{
    memset(sb, 0, sizeof *sb);
    init_cgroups(sb, cfg->no_cgroups, cfg->no_cpu_limit);
    if (sb->kind == PLAT_SB_CGROUP1)
        init_v1_extra(sb);
    return plat_sandbox_ns_init(sb, cfg);
}

static int init_cgroups(plat_sandbox *sb, bool no_cgroups, bool no_cpu)
{
    sb->kind = PLAT_SB_RLIMIT;
    snprintf(sb->desc, sizeof sb->desc,
             "RLIMIT_AS (address space limit; no CPU share) - cgroups %s",
             no_cgroups ? "disabled by configuration" : "not writable here");
    if (no_cgroups)
        return 0;
    /* cgroup v2: a unified mount whose root offers the memory and cpu controllers. */
    char buf[256] = {0};
    FILE *f = fopen("/sys/fs/cgroup/cgroup.controllers", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
        remove_stale("/sys/fs/cgroup");
        snprintf(sb->mem_root, sizeof sb->mem_root, "/sys/fs/cgroup/faasml-%d", (int)getpid());
        const char *ctl = no_cpu ? "+memory" : "+memory +cpu";
        if (strstr(buf, "pids"))
            ctl = no_cpu ? "+memory +pids" : "+memory +cpu +pids";
        if (strstr(buf, "memory") && (no_cpu || strstr(buf, "cpu")) &&
            write_str("/sys/fs/cgroup/cgroup.subtree_control", ctl) &&
            (mkdir(sb->mem_root, 0755) == 0 || errno == EEXIST)) {
            char p[600];
            snprintf(p, sizeof p, "%s/cgroup.subtree_control", sb->mem_root);
            if (write_str(p, ctl)) {
                sb->kind = PLAT_SB_CGROUP2;
                if (!no_cpu)
                    snprintf(sb->cpu_root, sizeof sb->cpu_root, "%s", sb->mem_root);
                snprintf(sb->desc, sizeof sb->desc, "%s",
                         no_cpu ? "cgroup v2 (memory.max; CPU share not limited, by configuration)"
                                : "cgroup v2 (memory.max, cpu.max = memory/1769 vCPU)");
                return 0;
            }
            rmdir(sb->mem_root);
        }
    }
    /* cgroup v1: separate memory and cpu hierarchies. */
    if (is_dir("/sys/fs/cgroup/memory") &&
        make_root_v1("/sys/fs/cgroup/memory", "memory", sb->mem_root, sizeof sb->mem_root)) {
        sb->kind = PLAT_SB_CGROUP1;
        if (no_cpu) {
            sb->cpu_root[0] = 0;
            snprintf(sb->desc, sizeof sb->desc,
                     "cgroup v1 (memory.limit_in_bytes; CPU share not limited, by configuration)");
        } else if (is_dir("/sys/fs/cgroup/cpu") &&
                   make_root_v1("/sys/fs/cgroup/cpu", "cpu", sb->cpu_root, sizeof sb->cpu_root))
            snprintf(sb->desc, sizeof sb->desc,
                     "cgroup v1 (memory.limit_in_bytes, cpu.cfs_quota_us = memory/1769 vCPU)");
        else {
            sb->cpu_root[0] = 0;
            snprintf(sb->desc, sizeof sb->desc,
                     "cgroup v1 (memory.limit_in_bytes; no cpu controller, no CPU share)");
        }
        return 0;
    }
    sb->mem_root[0] = 0;
    return 0;
}

/* Why: CFS weighs the faasml group as one task against every other task of its parent, so under
 * load N instances would share one task's CPU time. Giving the group the weight of N tasks makes
 * each instance compete like a plain process would; the per-instance quota stays the limit. */
void plat_sandbox_set_instances(plat_sandbox *sb, int n)
{
    if (n < 1)
        n = 1;
    char p[600], v[32];
    if (sb->kind == PLAT_SB_CGROUP1 && sb->cpu_root[0]) {
        snprintf(p, sizeof p, "%s/cpu.shares", sb->cpu_root);
        snprintf(v, sizeof v, "%d", n > 256 ? 262144 : 1024 * n);
        write_str(p, v);
    } else if (sb->kind == PLAT_SB_CGROUP2 && sb->cpu_root[0]) {
        snprintf(p, sizeof p, "%s/cpu.weight", sb->cpu_root);
        snprintf(v, sizeof v, "%d", n > 100 ? 10000 : 100 * n);
        write_str(p, v);
    }
}

/* Removes the platform's groups; one that still holds an instance group or a process is named
 * in the log (every instance has been killed and removed by then). */
void plat_sandbox_release(plat_sandbox *sb)
{
    if (sb->kind == PLAT_SB_CGROUP1 || sb->kind == PLAT_SB_CGROUP2) {
        const char *roots[] = {sb->mem_root, sb->cpu_root, sb->pids_root, sb->frz_root};
        for (size_t i = 0; i < FM_ARRAY_LEN(roots); i++) {
            if (!roots[i][0] || (i > 0 && strcmp(roots[i], sb->mem_root) == 0))
                continue;
            if (rmdir(roots[i]) != 0 && errno != ENOENT)
                FM_WARN("platform", "cgroup '%s' is not empty at shutdown: %s", roots[i],
                        strerror(errno));
        }
    }
    plat_sandbox_ns_release(sb);
}

/* Why: CPU share follows Lambda: memory/1769 vCPU, at most 6. */
static long cpu_quota_us(int memory_mb)
{
    double vcpu = (double)memory_mb / 1769.0;
    if (vcpu > 6)
        vcpu = 6;
    long q = (long)(vcpu * CPU_PERIOD_US);
    return q < 1000 ? 1000 : q;
}

/* A v1 group of one more controller (pids, freezer) for the instance; its cgroup.procs fd, -1
 * when it cannot be made (the limit it carries then does not apply). */
static int extra_group(const char *root, int64_t id, const char *key, const char *val, char *out,
                       size_t cap)
{
    out[0] = 0;
    if (!root[0])
        return -1;
    snprintf(out, cap, "%s/i%lld", root, (long long)id);
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        out[0] = 0;
        return -1;
    }
    char p[700];
    if (key) {
        snprintf(p, sizeof p, "%s/%s", out, key);
        if (!write_str(p, val))
            return -1;
    }
    snprintf(p, sizeof p, "%s/cgroup.procs", out);
    return open(p, O_WRONLY | O_CLOEXEC);
}

static int prepare_cgroups(plat_sandbox *sb, int64_t id, int memory_mb, plat_cg *cg, fm_err *err);

/* Makes an instance's groups with their limits and its isolation plan, before fork (the child
 * only joins and enters). */
int plat_sandbox_prepare(plat_sandbox *sb, int64_t id, int memory_mb, const platform_spec *spec,
                         plat_cg *cg, fm_err *err)
{
    memset(cg, 0, sizeof *cg);
    cg->mem_fd = cg->cpu_fd = cg->pids_fd = cg->frz_fd = cg->peak_fd = -1;
    cg->sock[0] = cg->sock[1] = -1;
    cg->sb = sb;
    int rc = prepare_cgroups(sb, id, memory_mb, cg, err);
    if (rc)
        return rc;
    char v[24];
    snprintf(v, sizeof v, "%d", sb->pids_max > 0 ? sb->pids_max : 1024);
    if (sb->kind == PLAT_SB_CGROUP2) {
        char p[700];
        snprintf(p, sizeof p, "%s/pids.max", cg->mem);
        cg->pids_limited = write_str(p, v);
    } else if (sb->kind == PLAT_SB_CGROUP1) {
        cg->pids_fd = extra_group(sb->pids_root, id, "pids.max", v, cg->pids, sizeof cg->pids);
        cg->pids_limited = cg->pids_fd >= 0;
        cg->frz_fd = extra_group(sb->frz_root, id, NULL, NULL, cg->frz, sizeof cg->frz);
    }
    return plat_sandbox_ns_prepare(sb, spec, cg, err);
}

static int prepare_cgroups(plat_sandbox *sb, int64_t id, int memory_mb, plat_cg *cg, fm_err *err)
{
    cg->limit_bytes = (uint64_t)memory_mb << 20;
    if (sb->kind == PLAT_SB_RLIMIT)
        return 0;
    char p[700], v[64];
    snprintf(cg->mem, sizeof cg->mem, "%s/i%lld", sb->mem_root, (long long)id);
    if (mkdir(cg->mem, 0755) != 0 && errno != EEXIST)
        return fm_err_set(err, -errno, "cannot create cgroup '%s': %s", cg->mem, strerror(errno));
    snprintf(v, sizeof v, "%llu", (unsigned long long)cg->limit_bytes);
    if (sb->kind == PLAT_SB_CGROUP2) {
        snprintf(p, sizeof p, "%s/memory.max", cg->mem);
        bool ok = write_str(p, v);
        snprintf(p, sizeof p, "%s/memory.swap.max", cg->mem);
        write_str(p, "0");
        if (sb->cpu_root[0]) {
            snprintf(p, sizeof p, "%s/cpu.max", cg->mem);
            snprintf(v, sizeof v, "%ld %d", cpu_quota_us(memory_mb), CPU_PERIOD_US);
            ok = write_str(p, v) && ok;
        }
        if (!ok)
            return fm_err_set(err, FM_EIO, "cannot set limits in cgroup '%s'", cg->mem);
    } else {
        snprintf(p, sizeof p, "%s/memory.limit_in_bytes", cg->mem);
        if (!write_str(p, v))
            return fm_err_set(err, FM_EIO, "cannot set memory limit in cgroup '%s'", cg->mem);
        snprintf(p, sizeof p, "%s/memory.memsw.limit_in_bytes", cg->mem);
        write_str(p, v); /* absent without swap accounting: the memory limit still holds */
        if (sb->cpu_root[0]) {
            snprintf(cg->cpu, sizeof cg->cpu, "%s/i%lld", sb->cpu_root, (long long)id);
            if (mkdir(cg->cpu, 0755) == 0 || errno == EEXIST) {
                snprintf(p, sizeof p, "%s/cpu.cfs_period_us", cg->cpu);
                snprintf(v, sizeof v, "%d", CPU_PERIOD_US);
                write_str(p, v);
                snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", cg->cpu);
                snprintf(v, sizeof v, "%ld", cpu_quota_us(memory_mb));
                write_str(p, v);
                snprintf(p, sizeof p, "%s/cgroup.procs", cg->cpu);
                cg->cpu_fd = open(p, O_WRONLY | O_CLOEXEC);
            } else {
                cg->cpu[0] = 0;
            }
        }
    }
    snprintf(p, sizeof p, "%s/%s", cg->mem,
             sb->kind == PLAT_SB_CGROUP2 ? "memory.peak" : "memory.max_usage_in_bytes");
    cg->peak_fd = open(p, O_RDONLY | O_CLOEXEC); /* memory.peak is absent before Linux 5.19 */
    snprintf(p, sizeof p, "%s/cgroup.procs", cg->mem);
    cg->mem_fd = open(p, O_WRONLY | O_CLOEXEC);
    if (cg->mem_fd < 0)
        return fm_err_set(err, -errno, "cannot open '%s': %s", p, strerror(errno));
    return 0;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. Writing "0" to
 * cgroup.procs moves the writer itself. */
void plat_sandbox_join(const plat_sandbox *sb, const plat_cg *cg)
{
    const int fds[] = {cg->mem_fd, cg->cpu_fd, cg->pids_fd, cg->frz_fd};
    for (size_t i = 0; i < FM_ARRAY_LEN(fds); i++)
        if (fds[i] >= 0 && write(fds[i], "0", 1) < 0)
            _exit(126);
    if (sb->kind == PLAT_SB_RLIMIT) {
        struct rlimit rl = {cg->limit_bytes, cg->limit_bytes};
        setrlimit(RLIMIT_AS, &rl);
    }
}

/* Why: a sandbox is built outside the instance's limits (its CPU quota would stretch the
 * platform's own setup work many times over) and joins them just before it enters its cgroup
 * namespace, so that group becomes its root; a plain process joins at once. */
void plat_sandbox_enter(const plat_sandbox *sb, const plat_cg *cg, int exw)
{
    if (cg->sandboxed)
        plat_sandbox_ns_enter(sb, cg, exw);
    else
        plat_sandbox_join(sb, cg);
}

/* Called in the parent after fork: the child holds its own copies of the fds. */
void plat_sandbox_close_fds(plat_cg *cg)
{
    int *fds[] = {&cg->mem_fd, &cg->cpu_fd, &cg->pids_fd, &cg->frz_fd};
    for (size_t i = 0; i < FM_ARRAY_LEN(fds); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    for (int i = 0; i < 2; i++)
        if (cg->sock[i] >= 0) {
            close(cg->sock[i]);
            cg->sock[i] = -1;
        }
}

/* The pids listed in a cgroup.procs file (at most cap); -1 when it cannot be read. */
static int read_procs(const char *dir, pid_t *out, int cap)
{
    char p[700];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    int n = 0;
    long v;
    while (n < cap && fscanf(f, "%ld", &v) == 1)
        out[n++] = (pid_t)v;
    fclose(f);
    return n;
}

/* Why: a runtime may fork, setsid and leave its process group; only the cgroup knows every
 * process. v2 has cgroup.kill; v1 freezes the group (no fork can race the kill), kills every pid
 * in it and thaws it, so the frozen SIGKILLs are delivered. */
void plat_sandbox_kill(const plat_sandbox *sb, const plat_cg *cg)
{
    char p[700];
    if (sb->kind == PLAT_SB_CGROUP2 && cg->mem[0]) {
        snprintf(p, sizeof p, "%s/cgroup.kill", cg->mem);
        if (write_str(p, "1"))
            return;
    }
    const char *dir = cg->frz[0] ? cg->frz : cg->mem[0] ? cg->mem : cg->pids;
    if (sb->kind == PLAT_SB_RLIMIT || !dir[0])
        return;
    char state[700];
    snprintf(state, sizeof state, "%s/freezer.state", cg->frz);
    bool frozen = cg->frz[0] && write_str(state, "FROZEN");
    pid_t pids[1024];
    for (int round = 0; round < 8; round++) {
        int n = read_procs(dir, pids, (int)FM_ARRAY_LEN(pids));
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        if (frozen)
            break; /* nothing new can appear while frozen */
    }
    if (frozen)
        write_str(state, "THAWED");
}

/* Reads "key value" from a cgroup stat file; -1 when absent. */
static long long read_key(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
            v = atoll(line + kl + 1);
    fclose(f);
    return v;
}

/* Reads one number from a cgroup file; -1 when absent. */
static long long read_num(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

/* Tells an OOM kill from any other SIGKILL, so the caller gets Runtime.OutOfMemory. */
bool plat_sandbox_oom_killed(const plat_sandbox *sb, const plat_cg *cg)
{
    char p[700];
    if (sb->kind == PLAT_SB_CGROUP2) {
        snprintf(p, sizeof p, "%s/memory.events", cg->mem);
        return read_key(p, "oom_kill") > 0;
    }
    if (sb->kind == PLAT_SB_CGROUP1) {
        snprintf(p, sizeof p, "%s/memory.oom_control", cg->mem);
        long long k = read_key(p, "oom_kill");
        if (k >= 0)
            return k > 0;
        snprintf(p, sizeof p, "%s/memory.failcnt", cg->mem);
        return read_num(p) > 0;
    }
    return false;
}

/* Peak memory for REPORT's Max Memory Used; -1 when the machine cannot say. */
int64_t plat_sandbox_peak_bytes(const plat_sandbox *sb, const plat_cg *cg)
{
    if (sb->kind == PLAT_SB_RLIMIT || cg->peak_fd < 0)
        return -1;
    char buf[32];
    ssize_t n = pread(cg->peak_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return strtoll(buf, NULL, 10);
}

/* True when every group of the instance is empty (or gone). */
static bool groups_empty(const plat_cg *cg)
{
    const char *dirs[] = {cg->mem, cg->cpu, cg->pids, cg->frz};
    pid_t one;
    for (size_t i = 0; i < FM_ARRAY_LEN(dirs); i++)
        if (dirs[i][0] && read_procs(dirs[i], &one, 1) > 0)
            return false;
    return true;
}

/* Removes an instance's groups once its processes are gone: whatever is still inside (a
 * daemonized child) is killed first, and a group that stays busy is named in the log. */
void plat_sandbox_remove(plat_cg *cg)
{
    plat_sandbox_close_fds(cg);
    if (cg->peak_fd >= 0)
        close(cg->peak_fd);
    cg->peak_fd = -1;
    if (cg->sb && !groups_empty(cg)) {
        plat_sandbox_kill(cg->sb, cg);
        struct timespec ms = {0, 1000000};
        for (int i = 0; i < 1000 && !groups_empty(cg); i++)
            nanosleep(&ms, NULL);
    }
    const char *dirs[] = {cg->mem, cg->cpu, cg->pids, cg->frz};
    for (size_t i = 0; i < FM_ARRAY_LEN(dirs); i++)
        if (dirs[i][0] && rmdir(dirs[i]) != 0 && errno != ENOENT)
            FM_WARN("platform", "instance cgroup '%s' is not empty after its kill: %s", dirs[i],
                    strerror(errno));
    cg->mem[0] = cg->cpu[0] = cg->pids[0] = cg->frz[0] = 0;
    plat_sandbox_ns_free(cg);
}
