/*
 * bench_policy — decision cost of `policy` in events per second, per profile.
 *
 * For each scenario it first runs the deterministic harness (tests/unit/policy_harness.h) once
 * to record the exact event trace the policy sees, then replays that trace into a fresh
 * policy_fn several times, timing only policy_fn_handle. Side by side, in the same process, it
 * times the peer every discrete-event simulator pays per event anyway: one push and one pop of
 * a binary heap holding as many pending events as the scenario had (the harness's own heap).
 * It prints the median of the runs: events/s, ns/event, and policy cost / heap cost.
 *
 * Usage: bench_policy [requests-per-scenario] [runs]     (defaults 1000000 and 5)
 */
#include "../../tests/unit/policy_harness.h"

#include <stdio.h>
#include <time.h>

typedef struct trace {
    policy_event *ev;
    int64_t *t;
    size_t n, cap;
} trace;

static void record(void *ud, const policy_event *ev, int64_t now)
{
    trace *tr = ud;
    if (tr->n == tr->cap) {
        tr->cap = tr->cap ? 2 * tr->cap : 1 << 20;
        tr->ev = realloc(tr->ev, tr->cap * sizeof(*tr->ev));
        tr->t = realloc(tr->t, tr->cap * sizeof(*tr->t));
    }
    tr->ev[tr->n] = *ev;
    tr->t[tr->n++] = now;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Replays the trace into a fresh policy; returns seconds spent in policy_fn_handle. */
static double replay(const policy_config *cfg, const trace *tr, uint64_t *check)
{
    fm_err err;
    policy_fn *fn;
    policy_actions acts;
    if (policy_fn_new(cfg, NULL, &fn, &err) || policy_actions_init(&acts, fn)) {
        fprintf(stderr, "bench_policy: %s\n", err.msg);
        exit(1);
    }
    uint64_t sum = 0;
    double t0 = now_s();
    for (size_t i = 0; i < tr->n; i++) {
        if (policy_fn_handle(fn, &tr->ev[i], tr->t[i], &acts) != 0) {
            fprintf(stderr, "bench_policy: replay diverged at event %zu\n", i);
            exit(1);
        }
        sum += acts.n;
    }
    double dt = now_s() - t0;
    *check = sum;
    policy_actions_release(&acts);
    policy_fn_free(fn);
    return dt;
}

/* The peer: n push+pop pairs on a heap kept at `depth` pending events. */
static double heap_peer(size_t n, size_t depth)
{
    ph_heap h = {0};
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < depth; i++)
        ph_push(&h, (int64_t)(x = x * 6364136223846793005ULL + 1) >> 20, PH_DONE, i, 0);
    double t0 = now_s();
    int64_t now = 0;
    for (size_t i = 0; i < n; i++) {
        ph_ev e = ph_pop(&h);
        now = e.t;
        x = x * 6364136223846793005ULL + 1;
        ph_push(&h, now + (int64_t)(x >> 44), PH_DONE, e.arg, 0);
    }
    double dt = now_s() - t0;
    free(h.v);
    return dt;
}

typedef struct scenario {
    const char *name;
    policy_config cfg;
    int64_t gap_ns; /* between arrivals */
    ph_model model;
} scenario;

static void run(scenario *s, size_t nreq, int runs)
{
    int64_t *arr = malloc(nreq * sizeof(*arr));
    for (size_t i = 0; i < nreq; i++)
        arr[i] = (int64_t)i * s->gap_ns + (int64_t)((i * 2654435761u) % 1000) * 1000; /* jitter */
    if (s->cfg.profile == POLICY_PROFILE_MANAGED)
        s->model.end_ns = arr[nreq - 1] + 600LL * 1000000000LL; /* its period timer never ends */
    trace tr = {0};
    s->model.on_event = record;
    s->model.ud = &tr;
    ph_result r;
    if (ph_run(&s->cfg, arr, nreq, &s->model, &r) != 0) {
        fprintf(stderr, "bench_policy: scenario '%s' failed\n", s->name);
        exit(1);
    }
    double pol[16], peer[16];
    uint64_t check = 0;
    for (int k = 0; k < runs; k++) {
        pol[k] = replay(&s->cfg, &tr, &check);
        peer[k] = heap_peer(tr.n, 1024);
    }
    qsort(pol, (size_t)runs, sizeof(double), cmp_double);
    qsort(peer, (size_t)runs, sizeof(double), cmp_double);
    double p = pol[runs / 2], q = peer[runs / 2];
    printf("%-16s events %9zu  starts %6llu  cold %6llu  throttled %6llu  | policy %6.1f ns/ev "
           "%6.2f M ev/s | heap push+pop %5.1f ns | policy/heap %.2f\n",
           s->name, tr.n, (unsigned long long)r.starts, (unsigned long long)r.cold,
           (unsigned long long)r.throttled, p / (double)tr.n * 1e9, (double)tr.n / p / 1e6,
           q / (double)tr.n * 1e9, p / q);
    free(r.latency_ns);
    free(tr.ev);
    free(tr.t);
    free(arr);
}

int main(int argc, char **argv)
{
    size_t nreq = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 16 || nreq < 1) {
        fprintf(stderr, "usage: bench_policy [requests 1..] [runs 1..16]\n");
        return 2;
    }
    const int64_t MS = 1000000, SEC = 1000000000;
    scenario sc[4];

    /* lambda: 1000 req/s, 50 ms service, 200 ms cold start, 10 min keep-alive, 2023 scaling */
    sc[0].name = "lambda";
    policy_config_init(&sc[0].cfg, POLICY_PROFILE_LAMBDA);
    sc[0].cfg.inst.max = 1000;
    sc[0].cfg.inst.keep_alive_ns = 600 * SEC;
    sc[0].cfg.queue.capacity = 1000;
    sc[0].cfg.limit.account = 1000;
    sc[0].cfg.limit.scaling = POLICY_SCALING_LAMBDA_2023;
    sc[0].cfg.limit.rate =
        (policy_rate){.burst = 1000, .refill = 1000, .period_ns = 10 * SEC, .continuous = true};
    sc[0].gap_ns = 1 * MS;
    sc[0].model = (ph_model){.cold_ns = 200 * MS, .service_ns = 50 * MS};

    /* lambda with dynamic batching: max 8, 5 ms */
    sc[1] = sc[0];
    sc[1].name = "lambda-batch8";
    sc[1].cfg.batch.max_size = 8;
    sc[1].cfg.batch.max_delay_ns = 5 * MS;
    sc[1].model.per_item_ns = 5 * MS;

    /* server: 4 instances x 4 workers, 4 ms service at 1 req/ms (utilisation 25 %) */
    sc[2].name = "server";
    policy_config_init(&sc[2].cfg, POLICY_PROFILE_SERVER);
    sc[2].cfg.inst.min = sc[2].cfg.inst.max = 4;
    sc[2].cfg.inst.workers = 4;
    sc[2].cfg.queue.capacity = 1000;
    sc[2].gap_ns = 1 * MS;
    sc[2].model = (ph_model){.service_ns = 4 * MS};

    /* managed: target tracking, 10 s metric period, up to 32 instances x 2 workers */
    sc[3].name = "managed";
    policy_config_init(&sc[3].cfg, POLICY_PROFILE_MANAGED);
    sc[3].cfg.inst.min = 1;
    sc[3].cfg.inst.max = 32;
    sc[3].cfg.inst.workers = 2;
    sc[3].cfg.inst.provision_delay_ns = 60 * SEC;
    sc[3].cfg.queue.capacity = 1000000;
    sc[3].cfg.scale = (typeof(sc[3].cfg.scale)){.target_per_min = 3000,
                                                .period_ns = 10 * SEC,
                                                .out_datapoints = 3,
                                                .in_datapoints = 15,
                                                .in_ratio = 0.9,
                                                .out_cooldown_ns = 60 * SEC,
                                                .in_cooldown_ns = 300 * SEC};
    sc[3].gap_ns = 1 * MS;
    sc[3].model = (ph_model){.cold_ns = 10 * SEC, .service_ns = 20 * MS};

    printf("bench_policy: %zu requests per scenario, median of %d replays\n", nreq, runs);
    for (int i = 0; i < 4; i++)
        run(&sc[i], nreq, runs);
    return 0;
}
