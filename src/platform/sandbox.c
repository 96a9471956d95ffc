/* Memory and CPU limits for instances: cgroup v2, else cgroup v1 (memory + cpu controllers), else
 * RLIMIT_AS. Lambda's model: the memory size is a hard limit and the CPU share is memory/1769
 * vCPU, at most 6 (cloud-platforms.md section 3). */
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

/* Detects the best enforcement this machine allows and makes the platform's group. */
int plat_sandbox_init(plat_sandbox *sb, bool no_cgroups, bool no_cpu)
{
    memset(sb, 0, sizeof *sb);
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

/* Removes the platform's groups (they must be empty by then). */
void plat_sandbox_release(plat_sandbox *sb)
{
    if (sb->kind == PLAT_SB_CGROUP1 || sb->kind == PLAT_SB_CGROUP2) {
        rmdir(sb->mem_root);
        if (sb->cpu_root[0] && strcmp(sb->cpu_root, sb->mem_root) != 0)
            rmdir(sb->cpu_root);
    }
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

/* Makes an instance's group with its limits, before fork (the child only joins). */
int plat_sandbox_prepare(plat_sandbox *sb, int64_t id, int memory_mb, plat_cg *cg, fm_err *err)
{
    memset(cg, 0, sizeof *cg);
    cg->mem_fd = cg->cpu_fd = cg->peak_fd = -1;
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
void plat_sandbox_enter(const plat_sandbox *sb, const plat_cg *cg)
{
    if (cg->mem_fd >= 0 && write(cg->mem_fd, "0", 1) < 0)
        _exit(126);
    if (cg->cpu_fd >= 0 && write(cg->cpu_fd, "0", 1) < 0)
        _exit(126);
    if (sb->kind == PLAT_SB_RLIMIT) {
        struct rlimit rl = {cg->limit_bytes, cg->limit_bytes};
        setrlimit(RLIMIT_AS, &rl);
    }
}

/* Called in the parent after fork: the child holds its own copies of the fds. */
void plat_sandbox_close_fds(plat_cg *cg)
{
    if (cg->mem_fd >= 0)
        close(cg->mem_fd);
    if (cg->cpu_fd >= 0)
        close(cg->cpu_fd);
    cg->mem_fd = cg->cpu_fd = -1;
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

/* Removes an instance's groups once its processes are gone. */
void plat_sandbox_remove(plat_cg *cg)
{
    plat_sandbox_close_fds(cg);
    if (cg->peak_fd >= 0)
        close(cg->peak_fd);
    cg->peak_fd = -1;
    if (cg->mem[0])
        rmdir(cg->mem);
    if (cg->cpu[0])
        rmdir(cg->cpu);
    cg->mem[0] = cg->cpu[0] = 0;
}
