/* Private to the platform module: memory and CPU limits of instances (sandbox.c).
 *
 * The platform owns one plat_sandbox (platform_new .. platform_free); each instance owns one
 * plat_cg, prepared before its processes are forked and removed when the instance is freed. The
 * child side of a spawn makes exactly one call here, plat_sandbox_enter, between fork and exec
 * (instance.c, plat_spawn); it may only make async-signal-safe calls. */
#ifndef FM_PLAT_SANDBOX_H
#define FM_PLAT_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

typedef enum plat_sb_kind { PLAT_SB_RLIMIT, PLAT_SB_CGROUP1, PLAT_SB_CGROUP2 } plat_sb_kind;

typedef struct plat_sandbox {
    plat_sb_kind kind;
    char mem_root[512], cpu_root[512];
    char desc[160];
} plat_sandbox;

typedef struct plat_cg { /* one instance's cgroups */
    char mem[600], cpu[600];
    int mem_fd, cpu_fd; /* cgroup.procs, opened before fork */
    int peak_fd;        /* memory peak file, read with pread at each REPORT */
    uint64_t limit_bytes;
} plat_cg;

int plat_sandbox_init(plat_sandbox *sb, bool no_cgroups, bool no_cpu);
void plat_sandbox_release(plat_sandbox *sb);
void plat_sandbox_set_instances(plat_sandbox *sb, int n); /* CPU weight of the whole group */
int plat_sandbox_prepare(plat_sandbox *sb, int64_t id, int memory_mb, plat_cg *cg, fm_err *err);
void plat_sandbox_enter(const plat_sandbox *sb, const plat_cg *cg); /* child, before exec */
void plat_sandbox_close_fds(plat_cg *cg);
bool plat_sandbox_oom_killed(const plat_sandbox *sb, const plat_cg *cg);
int64_t plat_sandbox_peak_bytes(const plat_sandbox *sb, const plat_cg *cg); /* -1: unknown */
void plat_sandbox_remove(plat_cg *cg);

#endif
