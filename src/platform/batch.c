/* Dynamic batching, live. A batching function's requests (KServe v2 requests, JSON or binary
 * tensors, or Lambda events carrying one) are decoded at arrival, so the policy counts their items
 * (dim 0) and a bad request is refused before it waits. When the policy DISPATCHes several requests
 * to one instance, a carrier invocation takes their tensors merged along dim 0 (fn_v2_batch_merge)
 * to the function host as ONE event; its response is split back (fn_v2_batch_split) and each caller
 * is answered with its own rows, its own request id, log tail and record (batch_size = the merged
 * items, batch_kind "server"; one request carrying a batch is "client"). */
#include "inst.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn.h"

/* Why: an input the function host would refuse is refused here with the same shape of answer
 * (KServe: 400 {"error"}; Lambda: 200 + Unhandled Function.InvalidInput), and ends it. */
static void refuse(plat_inv *inv, const char *msg)
{
    char q[600], body[700];
    fm_json_quote(q, sizeof q, msg);
    snprintf(body, sizeof body, "{\"errorType\":\"Function.InvalidInput\",\"errorMessage\":%s}", q);
    plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_ERROR,
                                      .status = "error",
                                      .code = inv->kind == PLAT_INV_KSERVE ? 400 : 200,
                                      .error = "Function.InvalidInput",
                                      .fn_error = "Unhandled",
                                      .body = body,
                                      .len = strlen(body)});
}

bool plat_batch_admit(plat_inv *inv)
{
    inv->items = 1;
    if (!inv->fn->batching)
        return true;
    fn_v2_batch_req *r = calloc(1, sizeof *r);
    fm_err err = {0};
    size_t len = evbuffer_get_length(inv->payload);
    if (evbuffer_get_contiguous_space(inv->payload) < len)
        inv->fn->m.copied_in += len; /* decoded here: made contiguous */
    const char *body = (const char *)evbuffer_pullup(inv->payload, -1);
    int rc = r ? fn_v2_batch_parse(body ? body : "", len, inv->header_len, r, &err)
               : fm_err_set(&err, FM_ENOMEM, "out of memory");
    if (rc) {
        free(r);
        char msg[400];
        snprintf(msg, sizeof msg, "batching function '%s' takes KServe v2 tensors: %s",
                 inv->fn->spec.name, err.msg);
        refuse(inv, msg);
        return false;
    }
    inv->v2 = r;
    inv->items = r->items > UINT32_MAX ? UINT32_MAX : (uint32_t)r->items;
    if (r->items > 1) {
        inv->batch_size = (int)inv->items;
        inv->batch_kind = "client";
    }
    return true;
}

/* Why: without server batching the platform does not decode requests, yet a request carrying a
 * batch should be recorded as a client batch; the function host's response names the batch as
 * dim 0 of its first output, within the first bytes (name, datatype and shape come first). */
void plat_batch_note_client(plat_inv *inv, const plat_outcome *oc)
{
    if (inv->batch_kind || inv->fn->spec.runtime != PLATFORM_RUNTIME_ONNX)
        return;
    char peek[24];
    const char *body = oc->body, *d, *end;
    size_t len = oc->len;
    if (oc->buf) { /* searched in place; only the few digits after "shape":[ are read out */
        struct evbuffer_ptr o = evbuffer_search(oc->buf, "\"outputs\":[{", 12, NULL);
        if (o.pos < 0)
            return;
        struct evbuffer_ptr lim = o;
        bool has_lim = evbuffer_ptr_set(oc->buf, &lim, 4096, EVBUFFER_PTR_ADD) == 0;
        struct evbuffer_ptr sh =
            evbuffer_search_range(oc->buf, "\"shape\":[", 9, &o, has_lim ? &lim : NULL);
        if (sh.pos < 0 || evbuffer_ptr_set(oc->buf, &sh, 9, EVBUFFER_PTR_ADD))
            return;
        ev_ssize_t n = evbuffer_copyout_from(oc->buf, &sh, peek, sizeof peek);
        if (n <= 0)
            return;
        d = peek;
        end = peek + n;
    } else {
        const char *o = body ? memmem(body, len, "\"outputs\":[{", 12) : NULL;
        if (!o)
            return;
        size_t rest = len - (size_t)(o - body);
        const char *sh = memmem(o, rest < 4096 ? rest : 4096, "\"shape\":[", 9);
        if (!sh)
            return;
        d = sh + 9;
        end = body + len;
    }
    long n = 0;
    while (d < end && *d >= '0' && *d <= '9' && n < 1000000)
        n = n * 10 + (*d++ - '0');
    if (d < end && (*d == ',' || *d == ']') && n > 1) {
        inv->batch_size = (int)n;
        inv->batch_kind = "client";
    }
}

void plat_batch_release(plat_inv *inv)
{
    if (inv->v2) {
        fn_v2_batch_req_release(inv->v2);
        free(inv->v2);
        inv->v2 = NULL;
    }
    free(inv->members);
    inv->members = NULL;
}

/* The carrier's payload owns the merged body: it is handed over, not copied again. */
static void free_merged(const void *data, size_t len, void *extra)
{
    (void)len;
    (void)extra;
    free((void *)data);
}

/* Why: a carrier is an invocation like any other for the instance (Runtime API, timeout, crash
 * handling); only its ending differs (plat_batch_end). */
static plat_inv *carrier_new(plat_fn *fn, plat_inv **m, uint32_t n, fm_err *err)
{
    plat_inv *c = plat_inv_new(fn, PLAT_INV_SYNC, m[0]->trace_id);
    plat_inv **members = malloc(n * sizeof *members);
    if (!c || !members) {
        free(members);
        if (c)
            plat_inv_end(c, &(plat_outcome){.how = PLAT_END_DROPPED});
        fm_err_set(err, FM_ENOMEM, "out of memory");
        return NULL;
    }
    c->arrive_ns = m[0]->arrive_ns;
    c->arrive_wall_ns = m[0]->arrive_wall_ns;
    memcpy(c->rid, m[0]->rid, sizeof c->rid); /* unique: the member itself never runs */
    memcpy(members, m, n * sizeof *m);
    const fn_v2_batch_req *reqs[n];
    const char *bodies[n];
    for (uint32_t i = 0; i < n; i++) {
        reqs[i] = m[i]->v2;
        bodies[i] = (const char *)evbuffer_pullup(m[i]->payload, -1);
        c->items += m[i]->items;
    }
    fn_buf merged = {0};
    if (fn_v2_batch_merge(reqs, bodies, n, &merged, &c->header_len, err) ||
        evbuffer_add_reference(c->payload, merged.p, merged.len, free_merged, NULL)) {
        fn_buf_release(&merged);
        free(members); /* the members stay the caller's */
        plat_inv_end(c, &(plat_outcome){.how = PLAT_END_DROPPED});
        return NULL;
    }
    fn->m.copied_in += merged.len; /* the merged request is new: one copy of the tensors */
    c->members = members;
    c->nmembers = n;
    return c;
}

void plat_batch_dispatch(plat_fn *fn, plat_inst *in, const policy_action *a)
{
    platform *p = fn->p;
    plat_inv *m[a->n];
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        plat_inv *inv = plat_inv_hash_take(p, a->requests[i]);
        if (!inv)
            continue;
        if (!in || in->state == PLAT_INST_STOPPING) {
            plat_inv_refuse(inv, 500, "ServiceException", NULL,
                            "the instance chosen for this request is gone");
            continue;
        }
        if (inv->timer) /* the carrier's timeout covers the batch from now */
            evtimer_del(inv->timer);
        m[n++] = inv;
    }
    if (n == 0) {
        if (in && in->state != PLAT_INST_STOPPING) {
            policy_event ev = {.type = POLICY_EV_DONE, .instance = in->pid_policy};
            plat_feed(fn, &ev); /* every caller left: the dispatch is over */
        }
        return;
    }
    fm_err err = {0};
    plat_inv *c = carrier_new(fn, m, n, &err);
    if (!c) {
        for (uint32_t i = 0; i < n; i++) {
            char msg[400];
            snprintf(msg, sizeof msg, "cannot batch this request with %u others: %s", n - 1,
                     err.msg);
            refuse(m[i], msg);
        }
        policy_event ev = {.type = POLICY_EV_DONE, .instance = in->pid_policy};
        plat_feed(fn, &ev);
        return;
    }
    plat_inv_arm_timeout(c);
    plat_inst_dispatch(in, c, a->reason == POLICY_REASON_COLD);
    if (c->cold)
        fn->m.cold_starts++;
}

/* Why: a member's own ending when its carrier ran: its rows of the response (or the carrier's
 * error), its own START line, a share of the bill, and the same record fields as the carrier. */
static void end_member(plat_inv *c, plat_inv *m, const plat_outcome *o, const fn_buf *out)
{
    m->inst = c->inst;
    m->inst_id = c->inst_id;
    m->cold = c->cold;
    m->dispatch_ns = c->dispatch_ns;
    m->done_ns = c->done_ns;
    m->batch_size = (int)c->items;
    m->batch_kind = "server";
    m->bill_share = 1.0 / c->nmembers;
    char line[128];
    int k = snprintf(line, sizeof line, "START RequestId: %s Version: $LATEST", m->rid);
    plat_log_line(c->inst, m, line, (size_t)k);
    plat_outcome mo = *o;
    if (out) {
        mo.body = out->p ? out->p : "";
        mo.len = out->len;
    }
    plat_inv_end(m, &mo);
}

void plat_batch_end(plat_inv *c, const plat_outcome *o)
{
    uint32_t n = c->nmembers;
    if (o->how != PLAT_END_RAN) { /* never ran (teardown): each member ends the same way */
        for (uint32_t i = 0; i < n; i++)
            plat_inv_end(c->members[i], o);
        return;
    }
    fn_buf outs[n];
    memset(outs, 0, sizeof outs);
    const fn_v2_batch_req *reqs[n];
    memset(reqs, 0, sizeof reqs);
    for (uint32_t i = 0; i < n; i++)
        reqs[i] = c->members[i]->v2;
    fm_err err = {0};
    plat_outcome base = *o; /* the carrier's body, as bytes: it is split, not moved */
    base.body = plat_outcome_bytes(c, o, &base.len);
    base.buf = NULL;
    o = &base;
    if (!o->fn_error && fn_v2_batch_split(o->body, o->len, reqs, n, outs, &err)) {
        char q[600], ebody[700];
        fm_json_quote(q, sizeof q, err.msg);
        snprintf(ebody, sizeof ebody,
                 "{\"errorType\":\"Runtime.InvalidResponse\",\"errorMessage\":%s}", q);
        plat_outcome eo = *o;
        eo.status = "error";
        eo.fn_error = "Unhandled";
        eo.body = ebody;
        eo.len = strlen(ebody);
        for (uint32_t i = 0; i < n; i++)
            end_member(c, c->members[i], &eo, NULL);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        end_member(c, c->members[i], o, o->fn_error ? NULL : &outs[i]);
        fn_buf_release(&outs[i]);
    }
}
