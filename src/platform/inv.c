/* Invocations, from birth (plat_inv_new) to their one end (plat_inv_end): ids, the function
 * timeout, the table the policy's request ids resolve through, and the ending every path shares:
 * count, meter, END/REPORT, answer, retry or free (inv.h). */
#include "inst.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- birth ---------------------------------------------------------------------------------- */

/* Request ids are UUIDv4 like Lambda's (RIE), from the platform's own RNG stream. */
static void make_rid(platform *p, char *out)
{
    uint64_t a = fm_rng_u64(&p->rng), b = fm_rng_u64(&p->rng);
    a = (a & ~0xF000ull) | 0x4000ull;                        /* version 4 */
    b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull; /* variant */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012" PRIx64, (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xFFFF, (unsigned)a & 0xFFFF, (unsigned)(b >> 48),
             (uint64_t)(b & 0xFFFFFFFFFFFFull));
}

/* Releases what an invocation holds. Only plat_inv_end (and a failed birth) comes here. */
static void inv_free(plat_inv *inv)
{
    plat_batch_release(inv);
    if (inv->timer)
        event_free(inv->timer);
    if (inv->retry_ev)
        event_free(inv->retry_ev);
    if (inv->payload)
        evbuffer_free(inv->payload);
    if (inv->log)
        evbuffer_free(inv->log);
    free(inv->client_context);
    free(inv);
}

plat_inv *plat_inv_new(plat_fn *fn, plat_inv_kind kind, const char *trace)
{
    platform *p = fn->p;
    plat_inv *inv = calloc(1, sizeof *inv);
    if (!inv)
        return NULL;
    inv->inst_id = -1;
    inv->header_len = -1;
    if (!(inv->payload = evbuffer_new())) {
        inv_free(inv);
        return NULL;
    }
    inv->id = ++p->next_req_id;
    inv->fn = fn;
    inv->kind = kind;
    inv->arrive_ns = fm_now_ns();
    inv->arrive_wall_ns = fm_wall_ns();
    make_rid(p, inv->rid);
    if (trace && strlen(trace) < sizeof inv->trace_id)
        snprintf(inv->trace_id, sizeof inv->trace_id, "%s", trace);
    else
        snprintf(inv->trace_id, sizeof inv->trace_id,
                 "Root=1-%08x-%024" PRIx64 ";Parent=%016" PRIx64 ";Sampled=0",
                 (unsigned)(inv->arrive_wall_ns / 1000000000), fm_rng_u64(&p->rng) >> 0,
                 (uint64_t)fm_rng_u64(&p->rng));
    return inv;
}

/* Why: the common tail of every invocation kind: register, arm the timeout (synchronous calls
 * count init against it, as on Lambda for custom runtimes) and tell the policy. */
void plat_inv_submit(plat_inv *inv, struct evhttp_request *client)
{
    platform *p = inv->fn->p;
    inv->fn->m.invocations[inv->kind]++;
    if (client) {
        inv->client = client;
        plat_inv_arm_timeout(inv);
    }
    if (!plat_batch_admit(inv)) /* a batching function refused the input: ended */
        return;
    if (inv->kind == PLAT_INV_EVENT) {
        plat_event_enqueue(inv->fn, inv);
        return;
    }
    plat_inv_hash_put(p, inv);
    policy_event ev = {.type = POLICY_EV_ARRIVE, .items = inv->items, .request = inv->id};
    plat_feed(inv->fn, &ev);
}

/* ---- the timeout ---------------------------------------------------------------------------- */

/* The function timeout fired. A dispatched invocation takes its instance down with it; one still
 * waiting (bound to a starting instance, or queued) is cancelled at the policy. */
static void on_inv_timeout(evutil_socket_t fd, short what, void *arg)
{
    plat_inv *inv = arg;
    if (inv->inst) {
        plat_inst_timeout(inv->inst, inv);
        return;
    }
    plat_fn *fn = inv->fn;
    char body[256];
    snprintf(body, sizeof body,
             "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"RequestId: %s Error: Task "
             "timed out after %.2f seconds\"}",
             inv->rid, fn->spec.timeout_s);
    plat_inv_hash_take(fn->p, inv->id);
    policy_event ev = {.type = POLICY_EV_CANCEL, .request = inv->id};
    plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_ERROR,
                                      .status = "timeout",
                                      .error = "Sandbox.Timedout",
                                      .fn_error = "Unhandled",
                                      .body = body,
                                      .len = strlen(body)});
    plat_feed(fn, &ev);
}

/* The deadline the runtime sees (Deadline-Ms) and the timer that enforces it agree. */
void plat_inv_arm_timeout(plat_inv *inv)
{
    if (!inv->timer && !(inv->timer = evtimer_new(inv->fn->p->base, on_inv_timeout, inv)))
        return;
    double t = inv->fn->spec.timeout_s;
    struct timeval tv = {(time_t)t, (suseconds_t)((t - floor(t)) * 1e6)};
    evtimer_add(inv->timer, &tv);
    inv->deadline_wall_ms = fm_wall_ns() / 1000000 + (int64_t)(t * 1000);
}

/* ---- the table of waiting invocations ------------------------------------------------------- */

static size_t hslot(const platform *p, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (p->hash_cap - 1);
}

/* Invocations by policy request id; the policy names requests only by id. */
void plat_inv_hash_put(platform *p, plat_inv *inv)
{
    if (p->hash_n + 1 > p->hash_cap / 2) {
        size_t ncap = p->hash_cap ? p->hash_cap * 2 : 1024;
        plat_inv **nh = calloc(ncap, sizeof *nh);
        if (nh) {
            plat_inv **old = p->hash;
            size_t ocap = p->hash_cap;
            p->hash = nh;
            p->hash_cap = ncap;
            for (size_t i = 0; i < ocap; i++)
                for (plat_inv *e = old[i], *nx; e; e = nx) {
                    nx = e->hnext;
                    size_t s = hslot(p, e->id);
                    e->hnext = p->hash[s];
                    p->hash[s] = e;
                }
            free(old);
        }
    }
    size_t s = hslot(p, inv->id);
    inv->hnext = p->hash[s];
    p->hash[s] = inv;
    p->hash_n++;
}

/* Removes and returns an invocation: whoever takes it ends it. */
plat_inv *plat_inv_hash_take(platform *p, uint64_t id)
{
    if (!p->hash_cap)
        return NULL;
    for (plat_inv **e = &p->hash[hslot(p, id)]; *e; e = &(*e)->hnext)
        if ((*e)->id == id) {
            plat_inv *inv = *e;
            *e = inv->hnext;
            inv->hnext = NULL;
            p->hash_n--;
            return inv;
        }
    return NULL;
}

/* ---- the end -------------------------------------------------------------------------------- */

/* Why: the outcome counters of /metrics, by the store's status, in one table. */
static void count_outcome(plat_fn_metrics *m, const char *status)
{
    static const struct {
        const char *status;
        size_t off; /* a second counter besides errors; 0: none */
    } map[] = {{"timeout", offsetof(plat_fn_metrics, timeouts)},
               {"crash", offsetof(plat_fn_metrics, crashes)},
               {"oom", offsetof(plat_fn_metrics, oom)},
               {"error", 0}};
    if (strcmp(status, "ok") == 0) {
        m->ok++;
        return;
    }
    for (size_t i = 0; i < FM_ARRAY_LEN(map); i++)
        if (strcmp(status, map[i].status) == 0) {
            m->errors++;
            if (map[i].off)
                (*(uint64_t *)((char *)m + map[i].off))++;
            return;
        }
}

/* Why: END and REPORT in Lambda's format (Init Duration last and only on cold starts) close the
 * log of every invocation an instance ran, whatever ended it. */
static void write_report(plat_inv *inv, const char *status, const plat_bill *bill)
{
    plat_inst *in = inv->inst;
    char line[512];
    int n = snprintf(line, sizeof line, "END RequestId: %s", inv->rid);
    plat_log_line(in, inv, line, (size_t)n);
    n = snprintf(line, sizeof line,
                 "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\t"
                 "Memory Size: %d MB\tMax Memory Used: %d MB",
                 inv->rid, bill->duration_ms, bill->billed_ms, inv->fn->spec.memory_mb,
                 plat_inst_peak_mb(in));
    if (inv->cold)
        n += snprintf(line + n, sizeof line - (size_t)n, "\tInit Duration: %.2f ms", bill->init_ms);
    if (strcmp(status, "ok") != 0 && strcmp(status, "error") != 0)
        snprintf(line + n, sizeof line - (size_t)n, "\tStatus: %s", status);
    plat_log_line(in, inv, line, strlen(line));
}

void plat_inv_end(plat_inv *inv, const plat_outcome *o)
{
    if (inv->members) { /* a carrier: its members end, each on its own (batch.c) */
        plat_batch_end(inv, o);
        inv_free(inv);
        return;
    }
    if (o->how != PLAT_END_REFUSED && o->how != PLAT_END_DROPPED)
        count_outcome(&inv->fn->m, o->status);
    if (o->how == PLAT_END_RAN) {
        if (!o->fn_error)
            plat_batch_note_client(inv, o);
        plat_bill bill;
        plat_meter_invocation(inv, o->status, 200,
                              o->error      ? o->error
                              : o->fn_error ? o->status
                                            : NULL,
                              &bill);
        write_report(inv, o->status, &bill);
    } else if (o->status) {
        int code = o->code ? o->code : o->how == PLAT_END_DROPPED ? 0 : 200;
        plat_meter_invocation(inv, o->status, code, o->error, NULL);
    }
    plat_gateway_answer(inv, o);
    bool may_retry = o->how == PLAT_END_RAN || o->how == PLAT_END_INIT_FAILED;
    if (may_retry && inv->kind == PLAT_INV_EVENT && o->fn_error && plat_event_retry(inv))
        return;
    inv_free(inv);
}

void plat_inv_refuse(plat_inv *inv, int code, const char *type, const char *reason, const char *msg)
{
    plat_inv_end(inv, &(plat_outcome){.how = PLAT_END_REFUSED,
                                      .status = code == 429 ? "throttled" : "error",
                                      .code = code,
                                      .error = type,
                                      .type = type,
                                      .reason = reason,
                                      .msg = msg});
}
