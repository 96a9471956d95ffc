/*
 * Helpers shared by the policy unit tests: feed one event, render the actions it produced as one
 * line ("START i0 demand | DISPATCH i0 [7] cold"), and compare with the expected line exactly.
 * Included by test_policy*.c only (cmocka must be included before this file).
 */
#ifndef POLICY_TEST_UTIL_H
#define POLICY_TEST_UTIL_H

#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

#define MS (1000000LL)
#define SEC (1000000000LL)

typedef struct pt {
    policy_fn *fn;
    policy_actions acts;
    char line[8192];
    int rc;
} pt;

/* Renders the last call's actions, " | " between them ("" when none). */
static inline const char *pt_render(pt *t)
{
    size_t off = 0;
    t->line[0] = 0;
    for (uint32_t i = 0; i < t->acts.n; i++) {
        if (i)
            off += (size_t)snprintf(t->line + off, sizeof(t->line) - off, " | ");
        off += policy_action_format(&t->acts.v[i], t->line + off, sizeof(t->line) - off);
        if (off >= sizeof(t->line))
            fail_msg("rendered actions too long");
    }
    return t->line;
}

/* Creates the function under test from cfg and sends DEPLOY at t=0; returns the DEPLOY line. */
static inline const char *pt_init(pt *t, const policy_config *cfg)
{
    fm_err err = {0};
    memset(t, 0, sizeof(*t));
    int rc = policy_fn_new(cfg, NULL, &t->fn, &err);
    if (rc != 0)
        fail_msg("policy_fn_new: %s", err.msg);
    assert_int_equal(policy_actions_init(&t->acts, t->fn), 0);
    policy_event ev = {.type = POLICY_EV_DEPLOY};
    assert_int_equal(policy_fn_handle(t->fn, &ev, 0, &t->acts), 0);
    return pt_render(t);
}

static inline void pt_free(pt *t)
{
    policy_actions_release(&t->acts);
    policy_fn_free(t->fn);
}

/* Sends one event and returns the rendered actions. */
static inline const char *pt_ev(pt *t, policy_event_type type, int64_t now, uint64_t req,
                                policy_instance_id inst)
{
    policy_event ev = {.type = type, .request = req, .instance = inst, .items = 1};
    t->rc = policy_fn_handle(t->fn, &ev, now, &t->acts);
    return pt_render(t);
}

/* The id of the instance in `slot` (from the generation the policy assigned). */
static inline policy_instance_id pt_inst(const pt *t, uint32_t slot)
{
    for (uint32_t i = 0; i < t->acts.n; i++)
        if (t->acts.v[i].type == POLICY_ACT_START &&
            policy_instance_slot(t->acts.v[i].instance) == slot)
            return t->acts.v[i].instance;
    return 0;
}

#define ARRIVE(t, now, req) pt_ev((t), POLICY_EV_ARRIVE, (now), (req), 0)
#define READY(t, now, id) pt_ev((t), POLICY_EV_READY, (now), 0, (id))
#define DONE(t, now, id) pt_ev((t), POLICY_EV_DONE, (now), 0, (id))
#define STOPPED(t, now, id) pt_ev((t), POLICY_EV_STOPPED, (now), 0, (id))
#define FAILED(t, now, id) pt_ev((t), POLICY_EV_START_FAILED, (now), 0, (id))
#define TICK(t, now) pt_ev((t), POLICY_EV_TICK, (now), 0, 0)
#define CANCEL(t, now, req) pt_ev((t), POLICY_EV_CANCEL, (now), (req), 0)

/* Instance ids: slot s of generation g is (g << 32) | s. Generations start at 1 per slot. */
#define ID(slot, gen) ((((policy_instance_id)(gen)) << 32) | (policy_instance_id)(slot))

#endif
