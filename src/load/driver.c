/* The open-loop driver: one timing loop on libcurl's multi interface sends each request at its
 * scheduled time, whatever is outstanding, and a writer thread hands finished records to the
 * caller (store, CSV) so that no disk write ever delays a send.
 *
 * Timing: the loop drives libcurl through its socket interface (curl_multi_socket_action) on an
 * epoll set that also holds a timerfd; between sends it sleeps in epoll_wait with the timerfd
 * armed (ns precision, timer slack lowered to 1 ns) for the next scheduled time minus spin_ns,
 * then busy-waits the rest. The send time is taken in CURLOPT_PREREQFUNCTION, right before the request goes on the
 * wire; first byte and completion are that time plus libcurl's own STARTTRANSFER/TOTAL minus
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
    [LOAD_ST_OK] = "ok",           [LOAD_ST_ERROR] = "error",
    [LOAD_ST_THROTTLED] = "throttled", [LOAD_ST_TIMEOUT] = "timeout",
    [LOAD_ST_DROPPED] = "dropped", [LOAD_ST_CONN_ERROR] = "conn_error",
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
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- state ---------------------------------------------------------------------------------- */
typedef struct drv drv;

typedef struct slot {
    CURL *easy;
    drv *d;
    load_record rec;
    bool fn_error;
    int next_free;
    char errbuf[CURL_ERROR_SIZE];
} slot;

struct drv {
    CURLM *multi;
    slot *slots;
    int nslots, free_head, in_flight;
    struct curl_slist *headers;
    int64_t t0; /* monotonic ns; run times are fm_now_ns() - t0, and start at 1 */
    /* records on their way to the writer thread */
    load_record *pend;
    size_t pend_n, pend_cap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    load_record *shared;
    size_t shared_n, shared_cap;
    bool closing, oom;
    const load_run_opts *o;
    int ep;                /* epoll: libcurl's sockets and the schedule's timerfd */
    const load_target *target;
    bool has_body;
    int64_t curl_deadline; /* run time libcurl wants to be called back at; -1: none */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline int64_t clk(const drv *d) { return fm_now_ns() - d->t0; }

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

/* Why: the timing loop only ever copies records into a shared buffer under a short lock; the
 * slow work (SQLite, CSV) happens here, on the other core when there is one. */
static void *writer_main(void *arg)
{
    drv *d = arg;
    load_record *mine = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (d->shared_n == 0 && !d->closing)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->shared_n == 0 && d->closing) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        load_record *v = d->shared;
        size_t n = d->shared_n, c = d->shared_cap;
        d->shared = mine;
        d->shared_cap = cap;
        d->shared_n = 0;
        pthread_mutex_unlock(&d->mu);
        for (size_t i = 0; i < n; i++)
            d->o->record(&v[i], d->o->ud);
        mine = v;
        cap = c;
    }
    free(mine);
    return NULL;
}

static void flush_pending(drv *d, bool force)
{
    if (d->pend_n == 0 || !d->o->record)
        return;
    if (!force && d->pend_n < 256 && pthread_mutex_trylock(&d->mu) != 0)
        return;
    if (force || d->pend_n >= 256)
        pthread_mutex_lock(&d->mu);
    if (!append(&d->shared, &d->shared_n, &d->shared_cap, d->pend, d->pend_n))
        d->oom = true;
    d->pend_n = 0;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void stop_writer(drv *d, pthread_t *writer)
{
    if (!writer)
        return;
    pthread_mutex_lock(&d->mu);
    d->closing = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(*writer, NULL);
}

static void emit(drv *d, const load_record *r)
{
    if (!d->o->record)
        return;
    if (!append(&d->pend, &d->pend_n, &d->pend_cap, r, 1))
        d->oom = true;
}

/* ---- libcurl callbacks ------------------------------------------------------------------------ */
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
    drv *d = ud;
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
    drv *d = ud;
    d->curl_deadline = ms < 0 ? -1 : clk(d) + (int64_t)ms * 1000000;
    return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */
static int setup_easy(drv *d, slot *s, const load_target *t, bool has_body, fm_err *err)
{
    CURL *e = s->easy = curl_easy_init();
    if (!e)
        return fm_err_set(err, FM_ENOMEM, "cannot create a libcurl handle");
    s->d = d;
    int rc = 0;
#define SET(opt, val)                                                                          \
    do {                                                                                       \
        if (!rc && curl_easy_setopt(e, opt, val) != CURLE_OK)                                  \
            rc = fm_err_set(err, FM_EUNSUPPORTED, "libcurl rejects option %s", #opt);          \
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
    SET(CURLOPT_HTTPHEADER, d->headers);
    SET(CURLOPT_HTTP_VERSION,
        t->http2 ? (strncmp(t->url, "https:", 6) == 0 ? CURL_HTTP_VERSION_2TLS
                                                       : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                 : CURL_HTTP_VERSION_1_1);
    if (t->http2)
        SET(CURLOPT_PIPEWAIT, 1L);
    if (has_body)
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

/* ---- the run ----------------------------------------------------------------------------------- */
static void finish(drv *d, slot *s, CURLcode res, load_summary *sum)
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
            snprintf(r->error, sizeof r->error, s->fn_error ? "function error (http %ld)"
                                                            : "http %ld", code);
    } else {
        r->status = res == CURLE_OPERATION_TIMEDOUT ? LOAD_ST_TIMEOUT : LOAD_ST_CONN_ERROR;
        snprintf(r->error, sizeof r->error, "%s", s->errbuf[0] ? s->errbuf
                                                               : curl_easy_strerror(res));
    }
    sum->count[r->status]++;
    if (r->sent_ns)
        fm_hist_add(sum->dispatch, (uint64_t)FM_MAX(r->sent_ns - r->scheduled_ns, 0));
    if (r->status == LOAD_ST_OK) {
        fm_hist_add(sum->lat_sched, (uint64_t)FM_MAX(r->done_ns - r->scheduled_ns, 0));
        fm_hist_add(sum->lat_sent, (uint64_t)FM_MAX(r->done_ns - r->sent_ns, 0));
    }
    emit(d, r);
    curl_multi_remove_handle(d->multi, s->easy);
    s->next_free = d->free_head;
    d->free_head = (int)(s - d->slots);
    d->in_flight--;
}

static void reap(drv *d, load_summary *sum)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            finish(d, s, m->data.result, sum);
        }
}

static bool start(drv *d, load_payloads *p, uint64_t id, int64_t at, load_summary *sum)
{
    load_record r = {.id = id, .scheduled_ns = at, .cold = -1, .instance = -1,
                     .init_ms = -1, .duration_ms = -1, .billed_ms = -1};
    if (d->free_head < 0) {
        r.status = LOAD_ST_DROPPED;
        snprintf(r.error, sizeof r.error, "max in flight (%d) reached", d->nslots);
        sum->count[LOAD_ST_DROPPED]++;
        emit(d, &r);
        return false;
    }
    slot *s = &d->slots[d->free_head];
    if (!s->easy) { /* handles are made on first use: --max-in-flight may be large */
        fm_err e = {0};
        if (setup_easy(d, s, d->target, d->has_body, &e)) {
            if (s->easy)
                curl_easy_cleanup(s->easy);
            s->easy = NULL;
            r.status = LOAD_ST_CONN_ERROR;
            snprintf(r.error, sizeof r.error, "%s", e.msg);
            r.done_ns = clk(d);
            sum->count[LOAD_ST_CONN_ERROR]++;
            emit(d, &r);
            return false;
        }
    }
    d->free_head = s->next_free;
    s->rec = r;
    s->fn_error = false;
    s->errbuf[0] = 0;
    if (p) {
        const char *data;
        size_t len;
        load_payloads_next(p, &data, &len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, data);
    }
    s->rec.dispatch_ns = clk(d);
    curl_multi_add_handle(d->multi, s->easy);
    d->in_flight++;
    return true;
}

static void drv_release(drv *d)
{
    for (int i = 0; d->slots && i < d->nslots; i++)
        if (d->slots[i].easy)
            curl_easy_cleanup(d->slots[i].easy);
    free(d->slots);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    curl_slist_free_all(d->headers);
    free(d->pend);
    free(d->shared);
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

static void progress(drv *d, load_summary *sum, uint64_t scheduled, uint64_t sent,
                     uint64_t *last_sched, uint64_t *last_sent, int64_t *last_t)
{
    int64_t now = clk(d);
    double dt = (double)(now - *last_t) / 1e9;
    load_progress p = {.elapsed_ns = now, .scheduled = scheduled, .sent = sent,
                       .in_flight = (uint64_t)d->in_flight};
    for (int i = 0; i < LOAD_ST__COUNT; i++)
        if (i != LOAD_ST_DROPPED)
            p.done += sum->count[i];
    p.errors = p.done - sum->count[LOAD_ST_OK];
    p.dropped = sum->count[LOAD_ST_DROPPED];
    p.rate_now = dt > 0 ? (double)(sent - *last_sent) / dt : 0;
    p.rate_planned = dt > 0 ? (double)(scheduled - *last_sched) / dt : 0;
    p.p50_ns = fm_hist_quantile(sum->lat_sched, 0.5);
    p.p99_ns = fm_hist_quantile(sum->lat_sched, 0.99);
    *last_sched = scheduled;
    *last_sent = sent;
    *last_t = now;
    d->o->progress(&p, d->o->ud);
}

int load_run(load_arrival *a, const load_target *t, load_payloads *p, const load_run_opts *o,
             load_summary *sum, fm_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (o->max_in_flight < 1 || o->max_in_flight > 1000000 || o->timeout_ns <= 0)
        return fm_err_set(err, FM_EINVAL, "max in flight must be >= 1 and timeout > 0");
    pthread_once(&curl_once, curl_init_once);
    drv d = {.o = o, .free_head = -1, .nslots = o->max_in_flight, .ep = -1, .curl_deadline = -1};
    bool has_body = p && load_payloads_count(p) > 0;
    int rc = 0, tfd = -1;
    sum->lat_sched = fm_hist_new();
    sum->lat_sent = fm_hist_new();
    sum->dispatch = fm_hist_new();
    d.headers = build_headers(t, has_body);
    d.multi = curl_multi_init();
    d.slots = calloc((size_t)d.nslots, sizeof *d.slots);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    d.ep = epoll_create1(EPOLL_CLOEXEC);
    if (d.ep >= 0 && tfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
        epoll_ctl(d.ep, EPOLL_CTL_ADD, tfd, &ev);
    }
    if (d.ep < 0 || !sum->lat_sched || !sum->lat_sent || !sum->dispatch || !d.headers || !d.multi ||
        !d.slots || tfd < 0) {
        rc = fm_err_set(err, FM_ENOMEM, "cannot set up the driver");
        goto out;
    }
    curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, (long)d.nslots);
    curl_multi_setopt(d.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d.multi, CURLMOPT_SOCKETDATA, &d);
    curl_multi_setopt(d.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d.multi, CURLMOPT_TIMERDATA, &d);
    curl_multi_setopt(d.multi, CURLMOPT_PIPELINING, t->http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    d.target = t;
    d.has_body = has_body;
    for (int i = d.nslots - 1; i >= 0; i--) {
        d.slots[i].next_free = d.free_head;
        d.free_head = i;
    }
    /* the first handle now, so that an option libcurl refuses is an error before the run */
    if ((rc = setup_easy(&d, &d.slots[0], t, has_body, err)))
        goto out;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    pthread_t writer;
    bool have_writer = o->record && pthread_create(&writer, NULL, writer_main, &d) == 0;
    if (o->record && !have_writer) {
        rc = fm_err_set(err, FM_EINTERNAL, "cannot start the writer thread");
        goto out_sync;
    }
    /* real-time priority for the timing loop only: the writer thread was created before */
    int old_policy = SCHED_OTHER;
    struct sched_param old_param = {0};
    if (o->rt_priority > 0) {
        pthread_getschedparam(pthread_self(), &old_policy, &old_param);
        struct sched_param sp = {.sched_priority = o->rt_priority};
        int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (e) {
            rc = fm_err_set(err, FM_EINVAL, "cannot run the timing loop SCHED_FIFO at priority "
                            "%d: %s", o->rt_priority, strerror(e));
            stop_writer(&d, have_writer ? &writer : NULL);
            goto out_sync;
        }
    }
    int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    uint64_t id = 0, sent = 0, last_sched = 0, last_sent = 0;
    int64_t next_at = 0, last_prog = 1, last_flush = 0;
    d.t0 = fm_now_ns() - 1;
    if (o->t0_out)
        *o->t0_out = d.t0;
    bool have_next = load_arrival_next(a, &next_at), stopped = false;
    if (have_next)
        next_at += 1; /* run times start at 1 ns */
    struct epoll_event evs[64];
    int running;
    for (;;) {
        int64_t now = clk(&d);
        bool kick = false;
        if (o->stop && *o->stop && !stopped) {
            stopped = true;
            sum->interrupted = true;
        }
        while (have_next && !stopped && next_at <= now) {
            if (start(&d, p, ++id, next_at, sum)) {
                sent++;
                kick = true;
            }
            have_next = load_arrival_next(a, &next_at);
            next_at += have_next;
        }
        /* new handles are due at once; so is any libcurl timeout that has passed */
        if (kick || (d.curl_deadline >= 0 && clk(&d) >= d.curl_deadline))
            curl_multi_socket_action(d.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(&d, sum);
        now = clk(&d);
        if (now - last_flush > 20000000) {
            flush_pending(&d, false);
            last_flush = now;
        }
        if (o->progress && o->progress_ns > 0 && now - last_prog >= o->progress_ns)
            progress(&d, sum, id, sent, &last_sched, &last_sent, &last_prog);
        if ((!have_next || stopped) && d.in_flight == 0)
            break;
        bool sched = have_next && !stopped;
        if (sched && next_at - now <= o->spin_ns) {
            while (clk(&d) < next_at)
                cpu_relax();
            continue;
        }
        int64_t wake = now + 100000000; /* at least every 100 ms: stop flag, progress */
        if (sched)
            wake = FM_MIN(wake, next_at - o->spin_ns);
        if (d.curl_deadline >= 0)
            wake = FM_MIN(wake, d.curl_deadline);
        if (wake <= now)
            continue;
        arm(tfd, d.t0 + wake);
        int n = epoll_wait(d.ep, evs, (int)FM_ARRAY_LEN(evs), 1000);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == tfd) {
                uint64_t x;
                (void)!read(tfd, &x, sizeof x);
                continue;
            }
            int f = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(d.multi, evs[i].data.fd, f, &running);
        }
    }
    sum->elapsed_ns = clk(&d);
    prctl(PR_SET_TIMERSLACK, (unsigned long)(old_slack > 0 ? old_slack : 50000), 0, 0, 0);
    if (o->rt_priority > 0)
        pthread_setschedparam(pthread_self(), old_policy, &old_param);
    sum->total = id;
    sum->success_ratio = id ? (double)sum->count[LOAD_ST_OK] / (double)id : 0;
    sum->achieved_rate = sum->elapsed_ns > 0 ? (double)sent / ((double)sum->elapsed_ns / 1e9) : 0;
    if (o->progress && o->progress_ns > 0)
        progress(&d, sum, id, sent, &last_sched, &last_sent, &last_prog);
    flush_pending(&d, true);
    stop_writer(&d, have_writer ? &writer : NULL);
    if (d.oom)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory: some records were lost");
out_sync:
    pthread_mutex_destroy(&d.mu);
    pthread_cond_destroy(&d.cv);
out:
    drv_release(&d); /* before closing the epoll fd: removing handles calls on_socket */
    if (tfd >= 0)
        close(tfd);
    if (d.ep >= 0)
        close(d.ep);
    if (rc)
        load_summary_release(sum);
    return rc;
}
