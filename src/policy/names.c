/*
 * names.c — the name tables of policy's enums (generated from the X-macro lists in policy.h, so
 * names and values cannot drift apart) and the one-line action format used in logs and tests.
 */
#include "policy/policy_int.h"

#include <stdio.h>
#include <string.h>

#define POLICY_XX(name, str) str,
static const char *const profile_names[] = {POLICY_PROFILE_MAP(POLICY_XX)};
static const char *const scaling_names[] = {POLICY_SCALING_MAP(POLICY_XX)};
static const char *const state_names[] = {POLICY_INST_STATE_MAP(POLICY_XX)};
static const char *const event_names[] = {POLICY_EVENT_MAP(POLICY_XX)};
static const char *const action_names[] = {POLICY_ACTION_MAP(POLICY_XX)};
static const char *const reason_names[] = {POLICY_REASON_MAP(POLICY_XX)};
static const char *const keep_alive_names[] = {POLICY_KEEP_ALIVE_MAP(POLICY_XX)};
#undef POLICY_XX

_Static_assert(FM_ARRAY_LEN(profile_names) == POLICY_PROFILE__COUNT, "profile names");
_Static_assert(FM_ARRAY_LEN(scaling_names) == POLICY_SCALING__COUNT, "scaling names");
_Static_assert(FM_ARRAY_LEN(state_names) == POLICY_INST__COUNT, "state names");
_Static_assert(FM_ARRAY_LEN(event_names) == POLICY_EV__COUNT, "event names");
_Static_assert(FM_ARRAY_LEN(action_names) == POLICY_ACT__COUNT, "action names");
_Static_assert(FM_ARRAY_LEN(reason_names) == POLICY_REASON__COUNT, "reason names");
_Static_assert(FM_ARRAY_LEN(keep_alive_names) == POLICY_KEEP_ALIVE__COUNT, "keep-alive names");

/* Looks a value up in a name table; why: one bounds check for every enum-to-name function. */
static const char *name_of(const char *const *tab, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? tab[v] : "?";
}

/* Finds a name in a table; why: the parse functions of every enum share one loop. */
static int parse_in(const char *const *tab, size_t n, const char *s, int *out)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(tab[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    return FM_EINVAL;
}

/* Why: specs, the data file and /metrics name profiles by these strings. */
const char *policy_profile_name(policy_profile p)
{
    return name_of(profile_names, FM_ARRAY_LEN(profile_names), (int)p);
}

/* Why: a function spec chooses its profile by name. */
int policy_profile_parse(const char *s, policy_profile *out)
{
    int v;
    int rc = parse_in(profile_names, FM_ARRAY_LEN(profile_names), s, &v);
    if (rc == 0)
        *out = (policy_profile)v;
    return rc;
}

/* Why: the data file and docs name the Lambda scaling modes. */
const char *policy_scaling_name(policy_scaling s)
{
    return name_of(scaling_names, FM_ARRAY_LEN(scaling_names), (int)s);
}

/* Why: the data file's limit.scaling key is a name. */
int policy_scaling_parse(const char *s, policy_scaling *out)
{
    int v;
    int rc = parse_in(scaling_names, FM_ARRAY_LEN(scaling_names), s, &v);
    if (rc == 0)
        *out = (policy_scaling)v;
    return rc;
}

/* Why: /metrics labels instances by state with these names. */
const char *policy_inst_state_name(policy_inst_state s)
{
    return name_of(state_names, FM_ARRAY_LEN(state_names), (int)s);
}

/* Why: logs and traces name events. */
const char *policy_event_name(policy_event_type t)
{
    return name_of(event_names, FM_ARRAY_LEN(event_names), (int)t);
}

/* Why: logs and traces name actions. */
const char *policy_action_name(policy_action_type t)
{
    return name_of(action_names, FM_ARRAY_LEN(action_names), (int)t);
}

/* Why: throttle bodies, records and /metrics say why an action was taken. */
const char *policy_reason_name(policy_reason r)
{
    return name_of(reason_names, FM_ARRAY_LEN(reason_names), (int)r);
}

/* Renders an action as one line; why: logs and the exact-action unit tests share one format. */
size_t policy_action_format(const policy_action *a, char *buf, size_t cap)
{
    char tmp[64];
    size_t len = 0;
    char verb[16];
    const char *name = policy_action_name(a->type);
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof(verb); i++)
        verb[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    verb[i] = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(buf ? buf + FM_MIN(len, cap) : NULL, buf && len < cap ? cap - len : 0,   \
                          __VA_ARGS__);                                                            \
        len += (size_t)(k_ > 0 ? k_ : 0);                                                          \
    } while (0)
    switch (a->type) {
    case POLICY_ACT_START:
        PUT("%s i%u %s%s", verb, policy_instance_slot(a->instance), policy_reason_name(a->reason),
            a->provisioned ? " prov" : "");
        break;
    case POLICY_ACT_DISPATCH:
        PUT("%s i%u [", verb, policy_instance_slot(a->instance));
        for (uint32_t j = 0; j < a->n; j++) {
            snprintf(tmp, sizeof(tmp), "%s%llu", j ? "," : "", (unsigned long long)a->requests[j]);
            PUT("%s", tmp);
        }
        PUT("] %s", policy_reason_name(a->reason));
        break;
    case POLICY_ACT_STOP:
        PUT("%s i%u %s", verb, policy_instance_slot(a->instance), policy_reason_name(a->reason));
        break;
    default:
        PUT("%s r%llu %s", verb, (unsigned long long)a->request, policy_reason_name(a->reason));
        break;
    }
#undef PUT
    return len;
}

/* Why: specs and experiment sweeps choose a keep-alive policy by name. */
const char *policy_keep_alive_name(policy_keep_alive k)
{
    return name_of(keep_alive_names, FM_ARRAY_LEN(keep_alive_names), (int)k);
}

int policy_keep_alive_parse(const char *s, policy_keep_alive *out)
{
    int v;
    int rc = parse_in(keep_alive_names, FM_ARRAY_LEN(keep_alive_names), s, &v);
    if (rc == 0)
        *out = (policy_keep_alive)v;
    return rc;
}
