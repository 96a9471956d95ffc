/* Fuzz target: a function spec's `policy:` overrides (YAML) applied onto each profile's neutral
 * config, then validated; must never crash, and a config that validates must build a policy. The
 * input's `host_capacity:` mapping, if any, is read as platform.yaml's; a capacity it yields is
 * never negative. */
#include "policy/policy.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_yaml *y = NULL;
    fm_err err;
    if (fm_yaml_load_buf((const char *)data, size, "fuzz.yaml", &y, &err) != 0)
        return 0;
    policy_host_config hc;
    policy_host_config_init(&hc);
    const fm_ynode *root = fm_yaml_root(y);
    const fm_ynode *hn =
        root && fm_ynode_kind_of(root) == FM_YAML_MAP ? fm_ynode_get(root, "host_capacity") : NULL;
    if (hn && policy_host_config_apply_yaml(&hc, y, hn, &err) == 0 &&
        (policy_host_capacity_mb(&hc, 24576) < 1 || policy_host_capacity_mb(&hc, 0) < 0))
        abort();
    for (int p = 0; p < POLICY_PROFILE__COUNT; p++) {
        policy_config c;
        policy_config_init(&c, (policy_profile)p);
        if (policy_config_apply_yaml(&c, y, fm_yaml_root(y), &err) != 0)
            continue;
        if (policy_config_validate(&c, &err) != 0)
            continue;
        if (c.inst.max > 4096 || c.queue.capacity > 65536)
            continue; /* valid, but too big to allocate per fuzz input */
        policy_fn *fn = NULL;
        if (policy_fn_new(&c, NULL, &fn, &err) != 0)
            abort();
        policy_fn_free(fn);
    }
    fm_yaml_free(y);
    return 0;
}
