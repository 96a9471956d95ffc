/*
 * host.c — admission against the host: the memory promised to the live instances of every
 * function on one machine stays within the machine's capacity, (memory - reserve) x overcommit.
 * The live platform and the simulator's `cores: N` host each hold one policy_host that their
 * functions join, so a start the host cannot hold is refused by the same code in both: a demand
 * start becomes a THROTTLE host_capacity, a start nobody waits for (provisioned, min instances,
 * pre-warm, over-provision) is retried after inst.retry.
 *
 * An instance holds its memory from START until STOPPED or START_FAILED: a process asked to stop
 * may still be there, so its memory is not promised to another before the caller confirms.
 */
#include "policy/policy_int.h"

#include <stddef.h>
#include <stdlib.h>

#define F(field) offsetof(policy_host_config, field)
/* The host_capacity mapping of platform.yaml and of a simulation spec; docs/policies.md's table
 * "host capacity" is this table (test_policy_host checks it). */
static const fm_key host_keys[] = {
    {.name = "memory_mb",
     .type = FM_KEY_INT,
     .off = F(memory_mb),
     .min = 0,
     .max = 1e9,
     .doc = "memory of the host in MB; 0: the machine's MemTotal (live), no limit (simulator)"},
    {.name = "reserve_mb",
     .type = FM_KEY_INT,
     .off = F(reserve_mb),
     .min = 0,
     .max = 1e9,
     .doc = "kept back for the system and the platform itself (512)"},
    {.name = "overcommit",
     .type = FM_KEY_DOUBLE,
     .off = F(overcommit),
     .min = 0.01,
     .max = 100,
     .doc = "capacity = (memory_mb - reserve_mb) x overcommit (1.0: promise no more than exists)"},
    {.name = "pids_max",
     .type = FM_KEY_INT,
     .off = F(pids_max),
     .min = 0,
     .max = 4194304,
     .doc = "processes and threads one instance may have (cgroup pids.max, as serve --pids-max); "
            "0: 1024"},
};
#undef F

/* Why: defaults that promise no more memory than the machine has, and keep a fork bomb inside
 * one instance. */
void policy_host_config_init(policy_host_config *c)
{
    *c = (policy_host_config){.reserve_mb = 512, .overcommit = 1.0, .pids_max = 1024};
}

/* Why: the same keys in platform.yaml and a simulation spec, read by one table. */
int policy_host_config_apply_yaml(policy_host_config *c, const fm_yaml *y, const fm_ynode *map,
                                  fm_err *err)
{
    if (!map)
        return 0;
    if (fm_ynode_kind_of(map) != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EINVAL, "'host_capacity' must be a mapping");
    return fm_keys_parse(host_keys, FM_ARRAY_LEN(host_keys), y, map, c, NULL, err);
}

size_t policy_host_keys_markdown(char *buf, size_t cap)
{
    return fm_keys_markdown(host_keys, FM_ARRAY_LEN(host_keys), buf, cap);
}

/* Why: one formula for the live platform and the simulator. memtotal_mb is what the caller
 * measured (the policy reads no files); memory_mb, when set, replaces it. 0: no limit. */
int64_t policy_host_capacity_mb(const policy_host_config *c, int64_t memtotal_mb)
{
    int64_t mem = c->memory_mb > 0 ? c->memory_mb : memtotal_mb;
    if (mem <= 0)
        return 0;
    int64_t usable = mem - c->reserve_mb;
    int64_t capmb = (int64_t)((double)(usable > 0 ? usable : 0) * c->overcommit);
    return capmb > 0 ? capmb : 1; /* a reserve larger than the host leaves no room, not no limit */
}

int policy_host_new(int64_t capacity_mb, policy_host **out, fm_err *err)
{
    *out = NULL;
    if (capacity_mb < 0)
        return fm_err_set(err, FM_EINVAL, "host capacity %lld MB is negative",
                          (long long)capacity_mb);
    policy_host *h = calloc(1, sizeof *h);
    if (!h)
        return fm_err_set(err, FM_ENOMEM, "cannot allocate the host");
    h->capacity_mb = capacity_mb;
    *out = h;
    return 0;
}

void policy_host_free(policy_host *h)
{
    free(h);
}

void policy_host_usage(const policy_host *h, int64_t *used_mb, int64_t *capacity_mb)
{
    *used_mb = h ? h->used_mb : 0;
    *capacity_mb = h ? h->capacity_mb : 0;
}

int policy_fn_join_host(policy_fn *fn, policy_host *h, fm_err *err)
{
    if (fn->deployed)
        return fm_err_set(err, FM_ESTATE, "a function joins its host before DEPLOY");
    if (fn->host)
        fn->host->users--;
    fn->host = h;
    if (h)
        h->users++;
    return 0;
}

/* The memory one instance of fn is promised: the function's size, or for a fleet without one,
 * its instance type's. */
int64_t pi_inst_mb(const policy_fn *fn)
{
    return fn->cfg.fn.memory_mb > 0 ? fn->cfg.fn.memory_mb : fn->cfg.inst.type_memory_mb;
}

bool pi_host_fits(const policy_fn *fn)
{
    const policy_host *h = fn->host;
    return !h || h->capacity_mb == 0 || h->used_mb + pi_inst_mb(fn) <= h->capacity_mb;
}

bool pi_has_room(const policy_fn *fn)
{
    return fn->nfree > 0 && pi_host_fits(fn);
}

void pi_host_add(policy_fn *fn, int64_t mb)
{
    fn->host_mb += mb;
    if (fn->host)
        fn->host->used_mb += mb;
    assert(fn->host_mb >= 0 && (!fn->host || fn->host->used_mb >= 0));
}

/* A start nobody waits for did not fit. retry: the profile keeps that instance (provisioned,
 * min, fleet), so try again after inst.retry, when another function may have stopped one (nothing
 * else would wake this function); a pre-warm or an over-provision start is just dropped. */
void pi_host_refused(policy_fn *fn, bool retry)
{
    fn->st.host_refused++;
    int64_t at = fn->now + fn->cfg.inst.retry_ns;
    if (retry && at < fn->retry_at)
        fn->retry_at = at;
}
