/* Private to the load module: the state of one run of the driver, shared by the timing loop
 * (driver.c) and its two transports, libcurl (curl.c) and the lean HTTP/1.1 client (lean.c).
 *
 * Ownership: load_run owns the run_ctx and its workers; each worker owns its slots, its epoll set,
 * its timerfd and its record ring. A slot is one request in flight (and, with the lean client,
 * one keep-alive connection); only its worker's thread touches it.
 */
#ifndef FM_LOAD_DRIVER_INT_H
#define FM_LOAD_DRIVER_INT_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "http_int.h"
#include "load_int.h"

#define LATE_NS 1000000     /* a send this much after its scheduled time counts as late */
#define EP_TIMER UINT64_MAX /* epoll data of the timerfd */
enum { LATE_BUSY = 1, LATE_WOKE = 2 };

typedef struct run_ctx run_ctx;
typedef struct worker worker;

/* The thread's CPU time (a syscall, so read at most once a millisecond when the loop is on time)
 * at run time `at`, with the loop's total sleep then. */
typedef struct cpu_ref {
    int64_t at, cpu, asleep;
} cpu_ref;

/* Lean client: one connection per slot, one request at a time on it (no pipelining). */
typedef enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_BUSY } conn_state;

typedef struct slot {
    worker *d;
    load_record rec;
    bool fn_error, busy;
    int late_cause; /* 0, or why the loop picked the request up late: LATE_BUSY, LATE_WOKE */
    int next_free;
    /* libcurl */
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    /* lean client */
    int fd;
    conn_state cs;
    bool reused, retried, want_out, got_byte;
    struct iovec iov[3];
    int iov_n;
    char clen[40];
    char *rbuf;
    size_t rlen, rcap;
    load_http_resp resp;
    int64_t deadline;
    struct slot *prev, *next; /* in flight, oldest first (timeouts) */
} slot;

/* The target as the lean client sends to it, built once per run. */
typedef struct lean_target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *head; /* request line and headers, up to the Content-Length line */
    size_t head_len;
    bool head_request;
    bool body_length; /* send Content-Length (0 without a body) */
    char where[300];  /* host:port, for messages */
} lean_target;

/* A worker's records on their way to the writer: one producer (the timing loop), one consumer
 * (the writer thread), no lock. */
typedef struct rec_ring {
    load_record *v;
    size_t cap;        /* power of two */
    size_t head, tail; /* atomic: the writer reads at tail, the loop writes at head */
    load_record *over; /* when full: kept here in order, moved to the ring later */
    size_t over_n, over_cap;
} rec_ring;

/* Shared by every timing loop of a run. */
struct run_ctx {
    const load_run_opts *o;
    const load_target *target;
    const load_payloads *p;
    struct curl_slist *headers;
    lean_target lean;
    bool use_lean;
    bool has_body;
    int nw;
    worker *ws;
    int64_t t0;    /* monotonic ns; run times are fm_now_ns() - t0, and start at 1 */
    int closing;   /* atomic: the loops have ended; the writer drains and stops */
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
    slot *fl_head, *fl_tail; /* lean: in flight, oldest first */
    int ep, tfd;             /* epoll: the transport's sockets and the schedule's timerfd */
    bool pwait2;             /* sleeps with epoll_pwait2's timeout; else on the timerfd */
    int64_t curl_deadline;   /* run time libcurl wants to be called back at; -1: none */
    int64_t armed;           /* the timerfd's current deadline (run time); -1: none */
    int64_t t0;
    load_arrival *arr;
    uint64_t seen; /* arrivals of the whole schedule walked so far */
    rec_ring ring;
    bool oom, interrupted;
    uint64_t count[LOAD_ST__COUNT], scheduled, sent; /* atomic */
    uint64_t behind, behind_woke, late, late_busy, late_woke, late_conn;
    uint32_t *per_s_planned, *per_s_sent;
    size_t per_s_cap;
    int64_t wake_late_ewma;      /* how late the kernel delivers our wake-ups, ns */
    int64_t spin_off_until;      /* run time until which the adaptive spin is off */
    int64_t slept_from, woke_at; /* the last sleep in epoll_wait; -1 when none */
    int64_t wake_for;            /* the deadline of the last sleep */
    int64_t idle_ns;             /* asleep in epoll_wait or spinning before a send */
    int64_t asleep_ns;           /* asleep in epoll_wait */
    cpu_ref ref[2];              /* the newest two samples of the thread's CPU time; .at -1: none */
    fm_hist *lat_sched, *lat_sent, *dispatch;
    int64_t ended;
    pthread_t th;
};

static inline int64_t clk(const worker *d)
{
    return fm_now_ns() - d->t0;
}

/* driver.c: a request has ended (its record is complete); counts it, records it and frees the
 * slot. */
void drv_slot_done(worker *d, slot *s);
/* driver.c: the request in s was written to the wire at run time `at` */
void drv_sent(worker *d, slot *s, int64_t at);

/* The transports. _setup runs once per run, _init/_release per worker, _start sends the request
 * prepared in s->rec (returns false after recording why it could not), _event handles one epoll
 * event of its own, _tick runs the transport's timeouts, _deadline says when it next needs
 * _tick (-1: never). */
int curl_setup(run_ctx *c, fm_err *err);
void curl_teardown(run_ctx *c);
int curl_worker_init(worker *d, fm_err *err);
void curl_worker_release(worker *d);
bool curl_start(worker *d, slot *s);
void curl_event(worker *d, const struct epoll_event *ev);
void curl_tick(worker *d, bool kick);
int64_t curl_deadline(worker *d);

int lean_setup(run_ctx *c, fm_err *err);
void lean_teardown(run_ctx *c);
void lean_worker_release(worker *d);
bool lean_start(worker *d, slot *s);
void lean_event(worker *d, const struct epoll_event *ev);
void lean_tick(worker *d);
int64_t lean_deadline(worker *d);

#endif
