/* What an instance is under each platform profile. lambda and gcf: one runtime process, one
 * request at a time, the memory size as the limit and memory/1769 vCPU. managed and server: an
 * instance of a named type (data/platforms.yaml: inst.type, type_vcpu, type_memory_mb) runs
 * inst.workers runtime processes that share one cgroup (the type's memory and CPU share) and one
 * Runtime API endpoint, so the instance serves that many invocations at once, as a model server's
 * worker pool does. Billing moves from per request to per instance-second. */
#include "fn.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spec_int.h"

#define PLAT_MAX_WORKERS 64
#define CPU_PERIOD_US 100000

/* Lambda's CPU rule: memory/1769 vCPU, at most 6 (cloud-platforms.md section 3). */
double platform_lambda_vcpu(int memory_mb)
{
    double vcpu = (double)memory_mb / 1769.0;
    return vcpu > 6 ? 6 : vcpu;
}

int plat_profile_configure(platform *p, plat_fn *fn, policy_config *cfg, fm_err *err)
{
    (void)p;
    const platform_spec *s = &fn->spec;
    if (s->batch_max_size > 0) {
        cfg->batch.max_size = s->batch_max_size;
        cfg->batch.max_delay_ns = (int64_t)(s->batch_max_delay_ms * 1e6);
    }
    int rc = plat_spec_policy_apply(s, cfg, s->name, err);
    if (rc)
        return rc;
    bool lambda_like = cfg->profile == POLICY_PROFILE_LAMBDA || cfg->profile == POLICY_PROFILE_GCF;
    if (cfg->inst.workers < 1 || cfg->inst.workers > PLAT_MAX_WORKERS)
        return fm_err_set(err, FM_ERANGE, "%s: inst.workers %d is outside 1-%d", s->name,
                          (int)cfg->inst.workers, PLAT_MAX_WORKERS);
    fn->workers = cfg->inst.workers;
    fn->vcpu = lambda_like ? 0 : cfg->inst.type_vcpu;
    fn->inst_memory_mb =
        !lambda_like && cfg->inst.type_memory_mb > 0 ? cfg->inst.type_memory_mb : s->memory_mb;
    fn->fleet = !lambda_like;
    fn->batching = cfg->batch.max_size > 1;
    if (fn->batching && s->runtime != PLATFORM_RUNTIME_ONNX)
        return fm_err_set(err, FM_EINVAL,
                          "%s: batch.max_size %d needs runtime 'builtin-onnx' "
                          "(the platform merges KServe v2 tensors)",
                          s->name, (int)cfg->batch.max_size);
    if (!lambda_like && cfg->queue.capacity < 1)
        cfg->queue.capacity = 1;
    return 0;
}

static void write_num(const char *dir, const char *file, const char *v)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, v, strlen(v)) < 0)
        FM_WARN("platform", "cannot write '%s'", path);
    close(fd);
}

void plat_profile_cpu(const plat_sandbox *sb, const plat_cg *cg, double vcpu)
{
    if (!(vcpu > 0) || !sb->cpu_root[0])
        return; /* no instance type share, or CPU limits off (--no-cpu-limit) */
    long quota = (long)(vcpu * CPU_PERIOD_US);
    char v[64];
    if (sb->kind == PLAT_SB_CGROUP2 && cg->mem[0]) {
        snprintf(v, sizeof v, "%ld %d", quota, CPU_PERIOD_US);
        write_num(cg->mem, "cpu.max", v);
    } else if (sb->kind == PLAT_SB_CGROUP1 && cg->cpu[0]) {
        snprintf(v, sizeof v, "%ld", quota);
        write_num(cg->cpu, "cpu.cfs_quota_us", v);
    }
}
