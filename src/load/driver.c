/* The open-loop driver: timing loops send each request at its scheduled time, whatever is
 * outstanding, through one of two transports (lean.c: a plain HTTP/1.1 keep-alive client, the
 * fast path; curl.c: libcurl for TLS, HTTP/2 and SigV4), and a writer thread hands finished
 * records to the caller (store, CSV) so that no disk write ever delays a send.
 *
 * Timing: each loop sleeps in epoll_pwait2 on a set that holds its transport's sockets, with a
 * nanosecond timeout (timer slack lowered to 1 ns) up to the next scheduled time minus a short
 * spin window, then busy-waits the rest; one syscall per sleep. Where epoll_pwait2 is missing
 * (Linux < 5.11) the set also holds a timerfd armed with the absolute deadline. The window adapts:
 * it is the kernel's recent wake-up lateness (an average), so a loop spins only when a send is near
 * and only as long as its wake-ups are late; past 50 us of lateness (a busy machine) it does not
 * spin at all, since spinning would use up its share of the CPU. With several loops (threads), loop
 * w sends arrivals w, w+N, w+2N... of the same schedule with its own connections and slots.
 *
 * Records go to a per-loop single-producer ring that the writer drains; a full ring spills into
 * a per-loop overflow list, moved to the ring later, so a send never waits for the writer.
 *
 * Every arrival picked up more than 1 ms after its time is counted with its cause: the loop was
 * busy (handling responses or other sends), or the kernel ran it late (it fell due while the loop
 * slept and the wake-up came late, or the loop, awake, was given the CPU less than half the time
 * it did not sleep over the last millisecond or two: a busy machine). A request
 * sent more than 1 ms late for neither reason waited for its connection. Latency from the scheduled
 * time has no coordinated omission: a request held back by a stalled server still counts from when
 * it was due. */
#include "driver_int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SPIN_AUTO_CAP_NS 50000 /* the adaptive spin never exceeds this */
#define SPIN_OFF_NS 1000000000 /* no adaptive spin this long after a wake-up past the cap */
#define CPU_SAMPLE_NS 1000000  /* the thread's CPU time is read at most this often when on time */
#define RING_CAP 8192          /* records per loop before the overflow list */

static const char *const status_names[LOAD_ST__COUNT] = {
    [LOAD_ST_OK] = "ok",
    [LOAD_ST_ERROR] = "error",
    [LOAD_ST_THROTTLED] = "throttled",
    [LOAD_ST_TIMEOUT] = "timeout",
    [LOAD_ST_DROPPED] = "dropped",
    [LOAD_ST_CONN_ERROR] = "conn_error",
};

const char *load_status_name(load_status s)
{
    return (unsigned)s < LOAD_ST__COUNT ? status_names[s] : "?";
}

void load_summary_release(load_summary *s)
{
    if (!s)
        return;
    fm_hist_free(s->lat_sched);
    fm_hist_free(s->lat_sent);
    fm_hist_free(s->dispatch);
    free(s->planned_per_s);
    free(s->sent_per_s);
    s->lat_sched = s->lat_sent = s->dispatch = NULL;
    s->planned_per_s = s->sent_per_s = NULL;
}

#define ATOMIC_INC(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)
#define ATOMIC_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ---- records: per-loop ring, writer thread ------------------------------------------------- */
static bool ring_push(rec_ring *q, const load_record *r)
{
    size_t h = q->head, t = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
    if (h - t == q->cap)
        return false;
    q->v[h & (q->cap - 1)] = *r;
    __atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
    return true;
}

/* Moves the overflow list into the ring, in order, as far as it fits. */
static void ring_unspill(rec_ring *q)
{
    size_t i = 0;
    while (i < q->over_n && ring_push(q, &q->over[i]))
        i++;
    if (i) {
        memmove(q->over, q->over + i, (q->over_n - i) * sizeof *q->over);
        q->over_n -= i;
    }
}

static void emit(worker *d, const load_record *r)
{
    rec_ring *q = &d->ring;
    if (!d->o->record)
        return;
    if (q->over_n == 0 && ring_push(q, r))
        return;
    if (q->over_n == q->over_cap) {
        size_t c = q->over_cap ? q->over_cap * 2 : 1024;
        load_record *nv = realloc(q->over, c * sizeof *nv);
        if (!nv) {
            d->oom = true;
            return;
        }
        q->over = nv;
        q->over_cap = c;
    }
    q->over[q->over_n++] = *r;
}

/* Why: the slow work (SQLite, CSV) happens here, off every timing loop; it polls the rings, and
 * sleeps a millisecond when they are all empty. */
static void *writer_main(void *arg)
{
    run_ctx *c = arg;
    for (;;) {
        bool closing = __atomic_load_n(&c->closing, __ATOMIC_ACQUIRE), any = false;
        for (int i = 0; i < c->nw; i++) {
            rec_ring *q = &c->ws[i].ring;
            size_t t = q->tail, h = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
            for (; t != h; t++) {
                c->o->record(&q->v[t & (q->cap - 1)], c->o->ud);
                any = true;
                if (((t + 1) & 63) == 0) /* free room as we go */
                    __atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
            }
            __atomic_store_n(&q->tail, t, __ATOMIC_RELEASE);
        }
        if (!any && closing)
            break;
        if (!any)
            fm_sleep_ns(1000000);
    }
    return NULL;
}

/* ---- per-second counts --------------------------------------------------------------------- */
static void per_s_add(worker *d, uint32_t **v, int64_t t)
{
    size_t k = (size_t)(t / 1000000000);
    if (k >= d->per_s_cap) {
        size_t c = d->per_s_cap ? d->per_s_cap : 64;
        while (c <= k)
            c *= 2;
        uint32_t *a = realloc(d->per_s_planned, c * sizeof *a);
        if (a)
            d->per_s_planned = a;
        uint32_t *b = realloc(d->per_s_sent, c * sizeof *b);
        if (b)
            d->per_s_sent = b;
        if (!a || !b) {
            d->oom = true;
            return;
        }
        memset(a + d->per_s_cap, 0, (c - d->per_s_cap) * sizeof *a);
        memset(b + d->per_s_cap, 0, (c - d->per_s_cap) * sizeof *b);
        d->per_s_cap = c;
    }
    (*v)[k]++;
}

/* ---- the transports' calls back ------------------------------------------------------------- */
void drv_sent(worker *d, slot *s, int64_t at)
{
    bool first = s->rec.sent_ns == 0;
    s->rec.sent_ns = at;
    if (!first)
        return;
    per_s_add(d, &d->per_s_sent, at);
    if (at - s->rec.scheduled_ns > LATE_NS) {
        d->late++;
        if (s->late_cause == LATE_BUSY)
            d->late_busy++;
        else if (s->late_cause == LATE_WOKE)
            d->late_woke++;
        else
            d->late_conn++;
    }
}

void drv_slot_done(worker *d, slot *s)
{
    load_record *r = &s->rec;
    ATOMIC_INC(d->count[r->status]);
    if (r->sent_ns)
        fm_hist_add(d->dispatch, (uint64_t)FM_MAX(r->sent_ns - r->scheduled_ns, 0));
    if (r->status == LOAD_ST_OK) {
        fm_hist_add(d->lat_sched, (uint64_t)FM_MAX(r->done_ns - r->scheduled_ns, 0));
        fm_hist_add(d->lat_sent, (uint64_t)FM_MAX(r->done_ns - r->sent_ns, 0));
    }
    emit(d, r);
    s->busy = false;
    s->next_free = d->free_head;
    d->free_head = (int)(s - d->slots);
    d->in_flight--;
}

/* ---- one timing loop ------------------------------------------------------------------------- */
/* Hands request `id` to the transport, or records why it was not sent. */
static bool start(worker *d, uint64_t id, int64_t at, int late_cause)
{
    load_record r = {.id = id,
                     .scheduled_ns = at,
                     .cold = -1,
                     .instance = -1,
                     .init_ms = -1,
                     .duration_ms = -1,
                     .billed_ms = -1};
    if (d->free_head < 0) {
        r.status = LOAD_ST_DROPPED;
        snprintf(r.error, sizeof r.error, "max in flight (%d) reached", d->nslots * d->rc->nw);
        ATOMIC_INC(d->count[LOAD_ST_DROPPED]);
        emit(d, &r);
        return false;
    }
    slot *s = &d->slots[d->free_head];
    d->free_head = s->next_free;
    s->rec = r;
    s->fn_error = false;
    s->busy = true;
    s->late_cause = late_cause;
    d->in_flight++;
    s->rec.dispatch_ns = clk(d);
    return d->rc->use_lean ? lean_start(d, s) : curl_start(d, s);
}

/* This loop's next arrival: every nw-th of the whole schedule, starting at its index. */
static bool next_arrival(worker *d, uint64_t *id, int64_t *at)
{
    int64_t t;
    while (load_arrival_next(d->arr, &t)) {
        uint64_t k = d->seen++;
        if (k % (uint64_t)d->rc->nw == (uint64_t)d->index) {
            *id = k + 1;
            *at = t + 1; /* run times start at 1 ns */
            return true;
        }
    }
    return false;
}

static void arm(worker *d, int64_t run_ns)
{
    if (run_ns == d->armed)
        return;
    int64_t abs_ns = d->t0 + run_ns;
    struct itimerspec its = {0};
    its.it_value.tv_sec = abs_ns / 1000000000;
    its.it_value.tv_nsec = abs_ns % 1000000000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    d->armed = run_ns;
}

/* A wake-up came `late` ns after its deadline. */
static void wake_late(worker *d, int64_t late)
{
    d->wake_late_ewma += (late - d->wake_late_ewma) / 8;
    if (late > SPIN_AUTO_CAP_NS)
        d->spin_off_until = clk(d) + SPIN_OFF_NS;
}

/* How long before a send the loop stops sleeping and spins. */
static int64_t spin_window(const worker *d, int64_t now)
{
    if (d->o->spin_ns >= 0)
        return d->o->spin_ns;
    /* wake-ups later than the cap mean a busy machine: spinning there only uses up the
     * loop's share of the CPU and makes the next wake-up later still; one such wake-up turns
     * the spin off for a while, since the average forgets it within a few sleeps */
    if (now < d->spin_off_until)
        return 0;
    return d->wake_late_ewma <= SPIN_AUTO_CAP_NS ? d->wake_late_ewma + 2000 : 0;
}

/* Progress over every loop (counts) with loop 0's latency sample (its share of the requests). */
static void progress(worker *w0, worker *ws, int nw, uint64_t *last_sched, uint64_t *last_sent,
                     int64_t *last_t)
{
    int64_t now = clk(w0);
    double dt = (double)(now - *last_t) / 1e9;
    load_progress p = {.elapsed_ns = now};
    uint64_t ok = 0;
    for (int i = 0; i < nw; i++) {
        worker *w = &ws[i];
        p.scheduled += ATOMIC_GET(w->scheduled);
        p.sent += ATOMIC_GET(w->sent);
        for (int s = 0; s < LOAD_ST__COUNT; s++) {
            uint64_t c = ATOMIC_GET(w->count[s]);
            if (s == LOAD_ST_DROPPED)
                p.dropped += c;
            else
                p.done += c;
            if (s == LOAD_ST_OK)
                ok += c;
        }
    }
    uint64_t finished_sent = p.done; /* every finished request was sent or failed to connect */
    p.in_flight = p.sent > finished_sent ? p.sent - finished_sent : 0;
    p.errors = p.done - ok;
    p.rate_now = dt > 0 ? (double)(p.sent - *last_sent) / dt : 0;
    p.rate_planned = dt > 0 ? (double)(p.scheduled - *last_sched) / dt : 0;
    p.p50_ns = fm_hist_quantile(w0->lat_sched, 0.5);
    p.p99_ns = fm_hist_quantile(w0->lat_sched, 0.99);
    *last_sched = p.scheduled;
    *last_sent = p.sent;
    *last_t = now;
    w0->o->progress(&p, w0->o->ud);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Takes a new CPU sample at run time `at`; the previous one is kept. */
static void cpu_sample(worker *d, int64_t at, int64_t cpu)
{
    d->ref[1] = d->ref[0];
    d->ref[0] = (cpu_ref){.at = at, .cpu = cpu, .asleep = d->asleep_ns};
}

/* Whether the kernel, not the loop's own work, held the loop back lately: since the newest CPU
 * sample at least a millisecond old, the loop ran less than half the time it did not sleep. */
static bool starved(worker *d, int64_t now, int64_t cpu_now)
{
    const cpu_ref *r =
        now - d->ref[0].at >= CPU_SAMPLE_NS || d->ref[1].at < 0 ? &d->ref[0] : &d->ref[1];
    int64_t awake = now - r->at - (d->asleep_ns - r->asleep);
    bool late = awake > 0 && 2 * (cpu_now - r->cpu) < awake;
    if (now - d->ref[0].at >= CPU_SAMPLE_NS)
        cpu_sample(d, now, cpu_now);
    return late;
}

/* Sleeps until run time `wake` or an event; returns what epoll returned. */
static int sleep_until(worker *d, int64_t wake, struct epoll_event *evs, int cap)
{
    if (d->pwait2) {
        int64_t rel = FM_MAX(wake - clk(d), 0);
        struct timespec ts = {.tv_sec = rel / 1000000000, .tv_nsec = rel % 1000000000};
        int n = epoll_pwait2(d->ep, evs, cap, &ts, NULL);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM)) {
            int64_t late = clk(d) - wake; /* how late the kernel delivered the timeout */
            if (late >= 0)
                wake_late(d, late);
            return n;
        }
        d->pwait2 = false; /* refused (old kernel, seccomp): the timerfd from now on */
    }
    arm(d, wake);
    return epoll_wait(d->ep, evs, cap, 1000);
}

static void handle_events(worker *d, const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == EP_TIMER) {
            /* edge-triggered: each expiry is one event, so the count needs no read */
            /* how late the kernel delivered it, averaged over the last few wake-ups */
            int64_t late = clk(d) - d->armed;
            if (late >= 0 && d->armed >= 0)
                wake_late(d, late);
            d->armed = -1;
        } else if (d->rc->use_lean) {
            lean_event(d, &evs[i]);
        } else {
            curl_event(d, &evs[i]);
        }
    }
}

static void *loop_main(void *arg)
{
    worker *d = arg;
    const load_run_opts *o = d->o;
    worker *all = d - d->index;
    bool lean = d->rc->use_lean;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    uint64_t id = 0, last_sched = 0, last_sent = 0;
    int64_t next_at = 0, last_prog = 1;
    bool have_next = next_arrival(d, &id, &next_at), stopped = false;
    struct epoll_event evs[64];
    /* the thread's start counts as a wake-up: a late start is the kernel's */
    d->slept_from = 0;
    d->woke_at = clk(d);
    cpu_sample(d, d->woke_at, thread_cpu_ns());
    for (;;) {
        int64_t now = clk(d);
        bool kick = false;
        int batch = 0;
        int64_t cpu_now = -1;
        bool starved_now = false;
        if (!stopped && ((o->stop && *o->stop) || ATOMIC_GET(d->rc->abort_run))) {
            stopped = true;
            d->interrupted = true;
        }
        /* at most a batch of due arrivals before the sockets get their turn: a loop that has
         * fallen behind still reads responses and frees connections */
        while (have_next && !stopped && next_at <= now && batch++ < 64) {
            int cause = 0;
            if (now - next_at > LATE_NS) {
                d->behind++;
                /* due while the loop slept, and woken more than 1 ms after it (or after the
                 * deadline the loop asked for: the whole backlog it then works off, in as many
                 * batches as it takes, is the kernel's), or awake but given the CPU less than
                 * half the time lately: the kernel ran it late */
                bool asleep =
                    d->slept_from >= 0 && d->slept_from <= next_at && next_at <= d->woke_at &&
                    (d->woke_at - next_at > LATE_NS || d->woke_at - d->wake_for > LATE_NS);
                if (!asleep) {
                    if (cpu_now < 0) { /* a syscall: once per batch */
                        cpu_now = thread_cpu_ns();
                        starved_now = starved(d, now, cpu_now);
                    }
                    asleep = starved_now;
                }
                cause = asleep ? LATE_WOKE : LATE_BUSY;
                d->behind_woke += asleep;
            }
            ATOMIC_INC(d->scheduled);
            per_s_add(d, &d->per_s_planned, next_at);
            if (start(d, id, next_at, cause)) {
                ATOMIC_INC(d->sent);
                kick = true;
            }
            have_next = next_arrival(d, &id, &next_at);
            now = clk(d);
        }
        if (lean)
            lean_tick(d);
        else
            curl_tick(d, kick);
        if (d->ring.over_n)
            ring_unspill(&d->ring);
        now = clk(d);
        if (d->index == 0 && o->progress && o->progress_ns > 0 && now - last_prog >= o->progress_ns)
            progress(d, all, d->rc->nw, &last_sched, &last_sent, &last_prog);
        if ((!have_next || stopped) && d->in_flight == 0)
            break;
        bool sched = have_next && !stopped;
        int64_t spin = spin_window(d, now);
        if (sched && next_at <= now) { /* still behind: poll the sockets, do not sleep */
            int n = epoll_wait(d->ep, evs, (int)FM_ARRAY_LEN(evs), 0);
            if (n > 0)
                handle_events(d, evs, n);
            continue;
        }
        if (sched && next_at - now <= spin) {
            /* the send is near: handle what is ready without sleeping, else spin to it */
            int n = epoll_wait(d->ep, evs, (int)FM_ARRAY_LEN(evs), 0);
            if (n > 0)
                handle_events(d, evs, n);
            else {
                int64_t t = clk(d);
                while (clk(d) < next_at)
                    cpu_relax();
                d->idle_ns += clk(d) - t;
            }
            continue;
        }
        int64_t wake = now + 100000000; /* at least every 100 ms: stop flag, progress */
        if (sched)
            wake = FM_MIN(wake, next_at - spin);
        int64_t td = lean ? lean_deadline(d) : curl_deadline(d);
        if (td >= 0)
            wake = FM_MIN(wake, td);
        if (wake <= now)
            continue;
        d->slept_from = now;
        d->wake_for = wake;
        int n = sleep_until(d, wake, evs, (int)FM_ARRAY_LEN(evs));
        d->woke_at = clk(d);
        d->idle_ns += d->woke_at - now;
        d->asleep_ns += d->woke_at - now;
        if (d->woke_at - d->ref[0].at >= CPU_SAMPLE_NS)
            cpu_sample(d, d->woke_at, thread_cpu_ns());
        if (n > 0)
            handle_events(d, evs, n);
    }
    __atomic_store_n(&d->ended, clk(d), __ATOMIC_RELAXED);
    if (d->index == 0 && o->progress && o->progress_ns > 0) {
        /* the last report waits for the other loops, so its counts are final */
        for (int i = 1; i < d->rc->nw; i++)
            while (ATOMIC_GET(all[i].ended) == 0)
                fm_sleep_ns(1000000);
        progress(d, all, d->rc->nw, &last_sched, &last_sent, &last_prog);
    }
    /* the schedule is over: now the loop may wait for the writer */
    while (d->ring.over_n) {
        ring_unspill(&d->ring);
        if (d->ring.over_n)
            fm_sleep_ns(200000);
    }
    return NULL;
}

/* ---- the run ----------------------------------------------------------------------------------
 */
static int worker_init(worker *d, run_ctx *c, int index, int nslots, load_arrival *a, fm_err *err)
{
    d->rc = c;
    d->o = c->o;
    d->index = index;
    d->nslots = nslots;
    d->free_head = -1;
    d->ep = d->tfd = -1;
    d->curl_deadline = -1;
    d->armed = -1;
    d->slept_from = d->woke_at = -1;
    d->ref[0].at = d->ref[1].at = -1;
    d->lat_sched = fm_hist_new();
    d->lat_sent = fm_hist_new();
    d->dispatch = fm_hist_new();
    d->slots = calloc((size_t)nslots, sizeof *d->slots);
    d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    size_t rcap = 1;
    while (rcap < FM_MIN((size_t)RING_CAP, (size_t)nslots * 8))
        rcap *= 2;
    d->ring.cap = rcap;
    d->ring.v = c->o->record ? malloc(rcap * sizeof *d->ring.v) : NULL;
    if (!d->lat_sched || !d->lat_sent || !d->dispatch || !d->slots || d->tfd < 0 || d->ep < 0 ||
        (c->o->record && !d->ring.v))
        return fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EP_TIMER};
    epoll_ctl(d->ep, EPOLL_CTL_ADD, d->tfd, &ev);
    struct timespec zero = {0};
    d->pwait2 = epoll_pwait2(d->ep, &ev, 1, &zero, NULL) >= 0;
    for (int i = nslots - 1; i >= 0; i--) {
        d->slots[i].d = d;
        d->slots[i].fd = -1;
        d->slots[i].next_free = d->free_head;
        d->free_head = i;
    }
    /* loop 0 walks the caller's iterator; the others fresh copies of the same schedule */
    int rc = 0;
    if (index == 0)
        d->arr = a;
    else
        rc = load_arrival_restart(a, &d->arr, err);
    if (rc)
        return rc;
    return c->use_lean ? 0 : curl_worker_init(d, err);
}

static void worker_release(worker *d)
{
    if (d->rc->use_lean)
        lean_worker_release(d);
    else
        curl_worker_release(d);
    free(d->slots);
    if (d->tfd >= 0)
        close(d->tfd);
    if (d->ep >= 0)
        close(d->ep);
    if (d->index > 0)
        load_arrival_free(d->arr);
    free(d->ring.v);
    free(d->ring.over);
    free(d->per_s_planned);
    free(d->per_s_sent);
    fm_hist_free(d->lat_sched);
    fm_hist_free(d->lat_sent);
    fm_hist_free(d->dispatch);
}

const char *load_client_name(load_client c)
{
    static const char *const names[] = {"auto", "lean", "libcurl"};
    _Static_assert(FM_ARRAY_LEN(names) == LOAD_CLIENT__COUNT, "one name per client");
    return (unsigned)c < LOAD_CLIENT__COUNT ? names[c] : "?";
}

int load_client_parse(const char *s, load_client *out)
{
    for (int i = 0; i < LOAD_CLIENT__COUNT; i++)
        if (strcmp(s, load_client_name((load_client)i)) == 0)
            return *out = (load_client)i, 0;
    return FM_EINVAL;
}

/* Why: the lean client is several times cheaper per request (docs/load.md), but speaks only
 * plain HTTP/1.1; everything else stays with libcurl. */
static int pick_client(const load_target *t, bool *lean, fm_err *err)
{
    bool plain = strncmp(t->url, "http://", 7) == 0 && !t->http2 && !t->aws_sigv4;
    if (t->client == LOAD_CLIENT_LEAN && !plain)
        return fm_err_set(err, FM_EINVAL,
                          "the lean client speaks plain HTTP/1.1 only: use --client libcurl (or "
                          "auto) for https://, --http2 or --sigv4");
    *lean = t->client == LOAD_CLIENT_LEAN || (t->client == LOAD_CLIENT_AUTO && plain);
    return 0;
}

int load_run(load_arrival *a, const load_target *t, const load_payloads *p, const load_run_opts *o,
             load_summary *sum, fm_err *err)
{
    memset(sum, 0, sizeof *sum);
    int nw = o->threads > 1 ? o->threads : 1;
    if (o->max_in_flight < 1 || o->max_in_flight > 1000000 || o->timeout_ns <= 0 || nw > 64 ||
        nw > o->max_in_flight)
        return fm_err_set(err, FM_EINVAL,
                          "max in flight must be 1 to 1000000 (and at least the "
                          "number of threads, at most 64), timeout > 0");
    load_arrival_stats as;
    load_arrival_stats_get(a, &as);
    if (nw > 1 && as.count > 0)
        return fm_err_set(err, FM_EINVAL, "several timing loops need a fresh arrival iterator");
    run_ctx c = {.o = o, .target = t, .p = p, .nw = nw};
    int rc = pick_client(t, &c.use_lean, err);
    if (rc)
        return rc;
    c.has_body = p && load_payloads_count(p) > 0;
    rc = c.use_lean ? lean_setup(&c, err) : curl_setup(&c, err);
    if (rc)
        return rc;
    sum->client = c.use_lean ? "lean" : "libcurl";
    worker *ws = c.ws = calloc((size_t)nw, sizeof *ws);
    sum->lat_sched = fm_hist_new();
    sum->lat_sent = fm_hist_new();
    sum->dispatch = fm_hist_new();
    int started = 0;
    for (int i = 0; ws && i < nw; i++) {
        ws[i].ep = ws[i].tfd = -1;
        ws[i].rc = &c;
    }
    if (!ws || !sum->lat_sched || !sum->lat_sent || !sum->dispatch) {
        rc = fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
        goto out;
    }
    for (int i = 0; i < nw && !rc; i++)
        rc =
            worker_init(&ws[i], &c, i, o->max_in_flight / nw + (i < o->max_in_flight % nw), a, err);
    if (rc)
        goto out;
    pthread_t writer;
    bool have_writer = o->record && pthread_create(&writer, NULL, writer_main, &c) == 0;
    if (o->record && !have_writer) {
        rc = fm_err_set(err, FM_EINTERNAL, "cannot start the writer thread");
        goto out;
    }
    /* the timing loops inherit this thread's policy; the writer was created before it */
    int old_policy = SCHED_OTHER;
    struct sched_param old_param = {0};
    pthread_getschedparam(pthread_self(), &old_policy, &old_param);
    if (o->rt_priority > 0) {
        struct sched_param sp = {.sched_priority = o->rt_priority};
        int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (e) {
            rc = fm_err_set(err, FM_EINVAL,
                            "cannot run the timing loop SCHED_FIFO at priority "
                            "%d: %s",
                            o->rt_priority, strerror(e));
            __atomic_store_n(&c.closing, 1, __ATOMIC_RELEASE);
            if (have_writer)
                pthread_join(writer, NULL);
            goto out;
        }
    }
    /* start 2 ms ahead so that every loop is waiting when the first arrival is due */
    c.t0 = fm_now_ns() + 2000000 - 1;
    if (o->t0_out)
        *o->t0_out = c.t0;
    for (int i = 0; i < nw; i++)
        ws[i].t0 = c.t0;
    for (; started < nw; started++)
        if (pthread_create(&ws[started].th, NULL, loop_main, &ws[started]) != 0)
            break;
    if (started < nw) {
        /* loops already running stop scheduling at once; what they sent is still recorded */
        rc = fm_err_set(err, FM_EINTERNAL, "cannot start timing loop %d", started);
        for (int i = started; i < nw; i++)
            __atomic_store_n(&ws[i].ended, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&c.abort_run, 1, __ATOMIC_RELAXED);
    }
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].th, NULL);
    if (o->rt_priority > 0)
        pthread_setschedparam(pthread_self(), old_policy, &old_param);
    __atomic_store_n(&c.closing, 1, __ATOMIC_RELEASE);
    if (have_writer)
        pthread_join(writer, NULL);
    size_t secs = 0;
    for (int i = 0; i < nw; i++)
        secs = FM_MAX(secs, ws[i].per_s_cap);
    sum->planned_per_s = calloc(secs ? secs : 1, sizeof *sum->planned_per_s);
    sum->sent_per_s = calloc(secs ? secs : 1, sizeof *sum->sent_per_s);
    if (!sum->planned_per_s || !sum->sent_per_s) {
        rc = fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
        goto out;
    }
    for (int i = 0; i < nw; i++) {
        worker *w = &ws[i];
        for (int s = 0; s < LOAD_ST__COUNT; s++)
            sum->count[s] += w->count[s];
        sum->total += w->scheduled;
        sum->achieved_rate += (double)w->sent;
        sum->elapsed_ns = FM_MAX(sum->elapsed_ns, w->ended);
        sum->interrupted |= w->interrupted;
        sum->behind += w->behind;
        sum->behind_woke += w->behind_woke;
        sum->late += w->late;
        sum->late_busy += w->late_busy;
        sum->late_woke += w->late_woke;
        sum->late_conn += w->late_conn;
        for (size_t k = 0; k < w->per_s_cap; k++) {
            sum->planned_per_s[k] += w->per_s_planned[k];
            sum->sent_per_s[k] += w->per_s_sent[k];
        }
        fm_hist_merge(sum->lat_sched, w->lat_sched);
        fm_hist_merge(sum->lat_sent, w->lat_sent);
        fm_hist_merge(sum->dispatch, w->dispatch);
        if (w->oom && !rc)
            rc = fm_err_set(err, FM_ENOMEM, "out of memory: some records were lost");
    }
    /* the seconds that had anything planned or sent */
    while (secs > 0 && sum->planned_per_s[secs - 1] == 0 && sum->sent_per_s[secs - 1] == 0)
        secs--;
    sum->seconds = secs;
    double work = 0, span = 0;
    for (int i = 0; i < nw; i++) {
        work += (double)FM_MAX(ws[i].ended - 1 - ws[i].idle_ns, 0);
        span += (double)FM_MAX(ws[i].ended - 1, 1);
    }
    sum->busy_fraction = span > 0 ? work / span : 0;
    uint64_t sent = 0;
    for (int i = 0; i < nw; i++)
        sent += ws[i].sent;
    sum->host_delayed = sum->behind_woke * 100 > sum->total;
    sum->generator_limited = (sum->behind - sum->behind_woke) * 100 > sum->total ||
                             (sum->busy_fraction > 0.9 && (double)sent < 0.98 * (double)sum->total);
    sum->success_ratio = sum->total ? (double)sum->count[LOAD_ST_OK] / (double)sum->total : 0;
    sum->achieved_rate =
        sum->elapsed_ns > 0 ? sum->achieved_rate / ((double)sum->elapsed_ns / 1e9) : 0;
out:
    for (int i = 0; ws && i < nw; i++)
        if (ws[i].o)
            worker_release(&ws[i]);
    free(ws);
    if (c.use_lean)
        lean_teardown(&c);
    else
        curl_teardown(&c);
    if (rc)
        load_summary_release(sum);
    return rc;
}
