/* The open-loop driver: timing loops on libcurl's multi interface send each request at its
 * scheduled time, whatever is outstanding, and a writer thread hands finished records to the
 * caller (store, CSV) so that no disk write ever delays a send.
 *
 * Timing: each loop drives libcurl through its socket interface (curl_multi_socket_action) on an
 * epoll set that also holds a timerfd; between sends it sleeps in epoll_wait with the timerfd
 * armed (ns precision, timer slack lowered to 1 ns) for the next scheduled time minus spin_ns,
 * then busy-waits the rest. With several loops (threads), loop w sends arrivals w, w+N, w+2N...
 * of the same schedule with its own multi handle, connections and slots.
 *
 * The send time is taken in CURLOPT_PREREQFUNCTION, right before the request goes on the wire;
 * first byte and completion are that time plus libcurl's own STARTTRANSFER/TOTAL minus
 * PRETRANSFER intervals. Latency from the scheduled time has no coordinated omission: a request
 * held back by a stalled server still counts from when it was due. */
#include "load.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "load_int.h"

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
    s->lat_sched = s->lat_sent = s->dispatch = NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- state ---------------------------------------------------------------------------------- */
typedef struct run_ctx run_ctx;
typedef struct worker worker;

typedef struct slot {
    CURL *easy;
    worker *d;
    load_record rec;
    bool fn_error;
    int next_free;
    char errbuf[CURL_ERROR_SIZE];
} slot;

/* Shared by every timing loop of a run. */
struct run_ctx {
    const load_run_opts *o;
    const load_target *target;
    const load_payloads *p;
    struct curl_slist *headers;
    bool has_body;
    int nw;
    int64_t t0; /* monotonic ns; run times are fm_now_ns() - t0, and start at 1 */
    /* records on their way to the writer thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    load_record *shared;
    size_t shared_n, shared_cap;
    bool closing, oom;
    int abort_run; /* atomic: a loop could not start; the others stop scheduling */
};

/* One timing loop. Counters read by loop 0's progress report are updated atomically. */
struct worker {
    run_ctx *rc;
    int index;
    const load_run_opts *o;
    CURLM *multi;
    slot *slots;
    int nslots, free_head, in_flight;
    int ep, tfd;           /* epoll: libcurl's sockets and the schedule's timerfd */
    int64_t curl_deadline; /* run time libcurl wants to be called back at; -1: none */
    int64_t t0;
    load_arrival *arr;
    uint64_t seen; /* arrivals of the whole schedule walked so far */
    load_record *pend;
    size_t pend_n, pend_cap;
    bool oom, interrupted;
    uint64_t count[LOAD_ST__COUNT], scheduled, sent; /* atomic */
    fm_hist *lat_sched, *lat_sent, *dispatch;
    int64_t ended;
    pthread_t th;
};

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

static inline int64_t clk(const worker *d)
{
    return fm_now_ns() - d->t0;
}

/* ---- writer thread -------------------------------------------------------------------------- */
static bool append(load_record **v, size_t *n, size_t *cap, const load_record *r, size_t k)
{
    if (*n + k > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *n + k)
            c *= 2;
        load_record *nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return false;
        *v = nv;
        *cap = c;
    }
    memcpy(*v + *n, r, k * sizeof *r);
    *n += k;
    return true;
}

/* Why: the timing loops only ever copy records into a shared buffer under a short lock; the
 * slow work (SQLite, CSV) happens here. */
static void *writer_main(void *arg)
{
    run_ctx *c = arg;
    load_record *mine = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (c->shared_n == 0 && !c->closing)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->shared_n == 0 && c->closing) {
            pthread_mutex_unlock(&c->mu);
            break;
        }
        load_record *v = c->shared;
        size_t n = c->shared_n, cp = c->shared_cap;
        c->shared = mine;
        c->shared_cap = cap;
        c->shared_n = 0;
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < n; i++)
            c->o->record(&v[i], c->o->ud);
        mine = v;
        cap = cp;
    }
    free(mine);
    return NULL;
}

static void flush_pending(worker *d, bool force)
{
    run_ctx *c = d->rc;
    if (d->pend_n == 0 || !d->o->record)
        return;
    if (force || d->pend_n >= 256)
        pthread_mutex_lock(&c->mu);
    else if (pthread_mutex_trylock(&c->mu) != 0)
        return;
    if (!append(&c->shared, &c->shared_n, &c->shared_cap, d->pend, d->pend_n))
        c->oom = true;
    d->pend_n = 0;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void stop_writer(run_ctx *c, pthread_t *writer)
{
    if (!writer)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(*writer, NULL);
}

static void emit(worker *d, const load_record *r)
{
    if (!d->o->record)
        return;
    if (!append(&d->pend, &d->pend_n, &d->pend_cap, r, 1))
        d->oom = true;
}

/* ---- libcurl callbacks ------------------------------------------------------------------------
 */
static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static int on_prereq(void *ud, char *ip, char *lip, int port, int lport)
{
    (void)ip;
    (void)lip;
    (void)port;
    (void)lport;
    slot *s = ud;
    s->rec.sent_ns = clk(s->d);
    return CURL_PREREQFUNC_OK;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    slot *s = ud;
    size_t len = sz * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new header block (redirect, 100) */
        s->fn_error = false;
        s->rec.cold = -1;
        s->rec.instance = -1;
    } else {
        load_headers_parse_line(p, len, &s->rec, &s->fn_error);
    }
    return len;
}

/* Why: the socket interface touches only the transfers whose sockets are ready, so the cost of
 * a send does not grow with the number of requests outstanding (a stalled server). */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)e;
    (void)sockp;
    worker *d = ud;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(d->ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.fd = fd};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (epoll_ctl(d->ep, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    (void)m;
    worker *d = ud;
    d->curl_deadline = ms < 0 ? -1 : clk(d) + (int64_t)ms * 1000000;
    return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */
static int setup_easy(worker *d, slot *s, fm_err *err)
{
    const load_target *t = d->rc->target;
    CURL *e = s->easy = curl_easy_init();
    if (!e)
        return fm_err_set(err, FM_ENOMEM, "cannot create a libcurl handle");
    s->d = d;
    int rc = 0;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (!rc && curl_easy_setopt(e, opt, val) != CURLE_OK)                                      \
            rc = fm_err_set(err, FM_EUNSUPPORTED, "libcurl rejects option %s", #opt);              \
    } while (0)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_PRIVATE, s);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, s);
    SET(CURLOPT_PREREQFUNCTION, on_prereq);
    SET(CURLOPT_PREREQDATA, s);
    SET(CURLOPT_TIMEOUT_MS, (long)((d->o->timeout_ns + 999999) / 1000000));
    SET(CURLOPT_HTTPHEADER, d->rc->headers);
    SET(CURLOPT_HTTP_VERSION,
        t->http2 ? (strncmp(t->url, "https:", 6) == 0 ? CURL_HTTP_VERSION_2TLS
                                                      : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                 : CURL_HTTP_VERSION_1_1);
    if (t->http2)
        SET(CURLOPT_PIPEWAIT, 1L);
    if (d->rc->has_body)
        SET(CURLOPT_POST, 1L);
    if (t->method)
        SET(CURLOPT_CUSTOMREQUEST, t->method);
    if (t->aws_sigv4) {
        SET(CURLOPT_AWS_SIGV4, t->aws_sigv4);
        SET(CURLOPT_USERPWD, t->aws_userpwd ? t->aws_userpwd : ":");
    }
#undef SET
    return rc;
}

static struct curl_slist *build_headers(const load_target *t, bool has_body)
{
    struct curl_slist *h = NULL, *n;
    char ct[512];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             t->content_type ? t->content_type : "application/json");
    const char *base[] = {"Expect:", has_body ? ct : NULL,
                          t->lambda_log_tail ? "X-Amz-Log-Type: Tail" : NULL};
    for (size_t i = 0; i < FM_ARRAY_LEN(base); i++) {
        if (!base[i])
            continue;
        if (!(n = curl_slist_append(h, base[i])))
            goto oom;
        h = n;
    }
    for (int i = 0; i < t->nheaders; i++) {
        if (!(n = curl_slist_append(h, t->headers[i])))
            goto oom;
        h = n;
    }
    return h;
oom:
    curl_slist_free_all(h);
    return NULL;
}

int load_target_check(const load_target *t, int64_t timeout_ns, fm_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    CURL *e = curl_easy_init();
    if (!e)
        return fm_err_set(err, FM_ENOMEM, "cannot create a libcurl handle");
    char eb[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, eb);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)FM_MAX(timeout_ns / 1000000, 1));
    CURLcode c = curl_easy_perform(e);
    curl_easy_cleanup(e);
    if (c != CURLE_OK)
        return fm_err_set(err, FM_EIO, "cannot connect to '%s': %s", t->url,
                          eb[0] ? eb : curl_easy_strerror(c));
    return 0;
}

/* ---- one timing loop ------------------------------------------------------------------------- */
static void finish(worker *d, slot *s, CURLcode res)
{
    load_record *r = &s->rec;
    long code = 0;
    curl_off_t pre = 0, st = 0, tot = 0;
    long nconn = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(s->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(s->easy, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &tot);
    curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &nconn);
    int64_t now = clk(d);
    r->http_code = (int)code;
    r->reused_conn = nconn == 0;
    if (r->sent_ns && res == CURLE_OK) {
        r->first_byte_ns = st > pre ? r->sent_ns + (int64_t)(st - pre) * 1000 : r->sent_ns;
        r->done_ns = tot > pre ? r->sent_ns + (int64_t)(tot - pre) * 1000 : now;
        if (r->done_ns > now) /* libcurl rounds to us; never report the future */
            r->done_ns = now;
    } else {
        r->done_ns = now;
    }
    if (res == CURLE_OK) {
        if (code == 429)
            r->status = LOAD_ST_THROTTLED;
        else if (code >= 400 || s->fn_error)
            r->status = LOAD_ST_ERROR;
        else
            r->status = LOAD_ST_OK;
        if (r->status != LOAD_ST_OK)
            snprintf(r->error, sizeof r->error,
                     s->fn_error ? "function error (http %ld)" : "http %ld", code);
    } else {
        r->status = res == CURLE_OPERATION_TIMEDOUT ? LOAD_ST_TIMEOUT : LOAD_ST_CONN_ERROR;
        snprintf(r->error, sizeof r->error, "%s",
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror(res));
    }
    ATOMIC_INC(d->count[r->status]);
    if (r->sent_ns)
        fm_hist_add(d->dispatch, (uint64_t)FM_MAX(r->sent_ns - r->scheduled_ns, 0));
    if (r->status == LOAD_ST_OK) {
        fm_hist_add(d->lat_sched, (uint64_t)FM_MAX(r->done_ns - r->scheduled_ns, 0));
        fm_hist_add(d->lat_sent, (uint64_t)FM_MAX(r->done_ns - r->sent_ns, 0));
    }
    emit(d, r);
    curl_multi_remove_handle(d->multi, s->easy);
    s->next_free = d->free_head;
    d->free_head = (int)(s - d->slots);
    d->in_flight--;
}

static void reap(worker *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish(d, s, m->data.result);
        }
}

static void record_unsent(worker *d, load_record *r, load_status st, const char *why)
{
    r->status = st;
    snprintf(r->error, sizeof r->error, "%s", why);
    ATOMIC_INC(d->count[st]);
    emit(d, r);
}

/* Hands request `id` to libcurl, or records why it was not sent. */
static bool start(worker *d, uint64_t id, int64_t at)
{
    load_record r = {.id = id,
                     .scheduled_ns = at,
                     .cold = -1,
                     .instance = -1,
                     .init_ms = -1,
                     .duration_ms = -1,
                     .billed_ms = -1};
    if (d->free_head < 0) {
        char why[64];
        snprintf(why, sizeof why, "max in flight (%d) reached", d->nslots * d->rc->nw);
        record_unsent(d, &r, LOAD_ST_DROPPED, why);
        return false;
    }
    slot *s = &d->slots[d->free_head];
    if (!s->easy) { /* handles are made on first use: --max-in-flight may be large */
        fm_err e = {0};
        if (setup_easy(d, s, &e)) {
            if (s->easy)
                curl_easy_cleanup(s->easy);
            s->easy = NULL;
            r.done_ns = clk(d);
            record_unsent(d, &r, LOAD_ST_CONN_ERROR, e.msg);
            return false;
        }
    }
    d->free_head = s->next_free;
    s->rec = r;
    s->fn_error = false;
    s->errbuf[0] = 0;
    if (d->rc->has_body) {
        const char *data;
        size_t len;
        load_payloads_get(d->rc->p, id, &data, &len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, data);
    }
    s->rec.dispatch_ns = clk(d);
    curl_multi_add_handle(d->multi, s->easy);
    d->in_flight++;
    return true;
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

static void arm(int tfd, int64_t abs_ns)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = abs_ns / 1000000000;
    its.it_value.tv_nsec = abs_ns % 1000000000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
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

static void *loop_main(void *arg)
{
    worker *d = arg;
    const load_run_opts *o = d->o;
    worker *all = d - d->index;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    uint64_t id = 0, last_sched = 0, last_sent = 0;
    int64_t next_at = 0, last_prog = 1, last_flush = 0;
    bool have_next = next_arrival(d, &id, &next_at), stopped = false;
    struct epoll_event evs[64];
    int running;
    for (;;) {
        int64_t now = clk(d);
        bool kick = false;
        if (!stopped && ((o->stop && *o->stop) || ATOMIC_GET(d->rc->abort_run))) {
            stopped = true;
            d->interrupted = true;
        }
        while (have_next && !stopped && next_at <= now) {
            ATOMIC_INC(d->scheduled);
            if (start(d, id, next_at)) {
                ATOMIC_INC(d->sent);
                kick = true;
            }
            have_next = next_arrival(d, &id, &next_at);
        }
        /* new handles are due at once; so is any libcurl timeout that has passed */
        if (kick || (d->curl_deadline >= 0 && clk(d) >= d->curl_deadline))
            curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(d);
        now = clk(d);
        if (now - last_flush > 20000000) {
            flush_pending(d, false);
            last_flush = now;
        }
        if (d->index == 0 && o->progress && o->progress_ns > 0 && now - last_prog >= o->progress_ns)
            progress(d, all, d->rc->nw, &last_sched, &last_sent, &last_prog);
        if ((!have_next || stopped) && d->in_flight == 0)
            break;
        bool sched = have_next && !stopped;
        if (sched && next_at - now <= o->spin_ns) {
            while (clk(d) < next_at)
                cpu_relax();
            continue;
        }
        int64_t wake = now + 100000000; /* at least every 100 ms: stop flag, progress */
        if (sched)
            wake = FM_MIN(wake, next_at - o->spin_ns);
        if (d->curl_deadline >= 0)
            wake = FM_MIN(wake, d->curl_deadline);
        if (wake <= now)
            continue;
        arm(d->tfd, d->t0 + wake);
        int n = epoll_wait(d->ep, evs, (int)FM_ARRAY_LEN(evs), 1000);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == d->tfd) {
                uint64_t x;
                (void)!read(d->tfd, &x, sizeof x);
                continue;
            }
            int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(d->multi, evs[i].data.fd, f, &running);
        }
    }
    __atomic_store_n(&d->ended, clk(d), __ATOMIC_RELAXED);
    if (d->index == 0 && o->progress && o->progress_ns > 0) {
        /* the last report waits for the other loops, so its counts are final */
        for (int i = 1; i < d->rc->nw; i++)
            while (ATOMIC_GET(all[i].ended) == 0)
                fm_sleep_ns(1000000);
        progress(d, all, d->rc->nw, &last_sched, &last_sent, &last_prog);
    }
    flush_pending(d, true);
    return NULL;
}

/* ---- the run -----------------------------------------------------------------------------------
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
    d->lat_sched = fm_hist_new();
    d->lat_sent = fm_hist_new();
    d->dispatch = fm_hist_new();
    d->multi = curl_multi_init();
    d->slots = calloc((size_t)nslots, sizeof *d->slots);
    d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!d->lat_sched || !d->lat_sent || !d->dispatch || !d->multi || !d->slots || d->tfd < 0 ||
        d->ep < 0)
        return fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = d->tfd};
    epoll_ctl(d->ep, EPOLL_CTL_ADD, d->tfd, &ev);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)nslots);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING,
                      c->target->http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    for (int i = nslots - 1; i >= 0; i--) {
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
    /* the first handle now, so that an option libcurl refuses is an error before the run */
    return setup_easy(d, &d->slots[0], err);
}

static void worker_release(worker *d)
{
    for (int i = 0; d->slots && i < d->nslots; i++)
        if (d->slots[i].easy) {
            curl_multi_remove_handle(d->multi, d->slots[i].easy);
            curl_easy_cleanup(d->slots[i].easy);
        }
    free(d->slots);
    if (d->multi) /* before closing the epoll fd: closing connections calls on_socket */
        curl_multi_cleanup(d->multi);
    if (d->tfd >= 0)
        close(d->tfd);
    if (d->ep >= 0)
        close(d->ep);
    if (d->index > 0)
        load_arrival_free(d->arr);
    free(d->pend);
    fm_hist_free(d->lat_sched);
    fm_hist_free(d->lat_sent);
    fm_hist_free(d->dispatch);
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
    pthread_once(&curl_once, curl_init_once);
    /* libcurl before 8.0 breaks HTTP/2 prior knowledge on connection reuse (curl issue 10634):
     * every request after the first fails with "Error in the HTTP2 framing layer" */
    if (t->http2 && strncmp(t->url, "https:", 6) != 0 &&
        curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "HTTP/2 without TLS fails on connection reuse in libcurl %s (curl issue "
                          "10634, fixed in 8.0): use an https:// URL or HTTP/1.1",
                          curl_version_info(CURLVERSION_NOW)->version);
    run_ctx c = {.o = o, .target = t, .p = p, .nw = nw};
    c.has_body = p && load_payloads_count(p) > 0;
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    worker *ws = calloc((size_t)nw, sizeof *ws);
    sum->lat_sched = fm_hist_new();
    sum->lat_sent = fm_hist_new();
    sum->dispatch = fm_hist_new();
    c.headers = build_headers(t, c.has_body);
    int rc = 0, started = 0;
    for (int i = 0; ws && i < nw; i++)
        ws[i].ep = ws[i].tfd = -1;
    if (!ws || !sum->lat_sched || !sum->lat_sent || !sum->dispatch || !c.headers) {
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
            stop_writer(&c, have_writer ? &writer : NULL);
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
    stop_writer(&c, have_writer ? &writer : NULL);
    for (int i = 0; i < nw; i++) {
        worker *w = &ws[i];
        for (int s = 0; s < LOAD_ST__COUNT; s++)
            sum->count[s] += w->count[s];
        sum->total += w->scheduled;
        sum->achieved_rate += (double)w->sent;
        sum->elapsed_ns = FM_MAX(sum->elapsed_ns, w->ended);
        sum->interrupted |= w->interrupted;
        fm_hist_merge(sum->lat_sched, w->lat_sched);
        fm_hist_merge(sum->lat_sent, w->lat_sent);
        fm_hist_merge(sum->dispatch, w->dispatch);
        if (w->oom && !rc)
            rc = fm_err_set(err, FM_ENOMEM, "out of memory: some records were lost");
    }
    sum->success_ratio = sum->total ? (double)sum->count[LOAD_ST_OK] / (double)sum->total : 0;
    sum->achieved_rate =
        sum->elapsed_ns > 0 ? sum->achieved_rate / ((double)sum->elapsed_ns / 1e9) : 0;
    if (c.oom && !rc)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory: some records were lost");
out:
    for (int i = 0; ws && i < nw; i++)
        worker_release(&ws[i]);
    free(ws);
    curl_slist_free_all(c.headers);
    free(c.shared);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    if (rc)
        load_summary_release(sum);
    return rc;
}
