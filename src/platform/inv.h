/*
 * Private to the platform module: one invocation (plat_inv), from its arrival to its answer.
 *
 * inv.c owns every plat_inv from birth to death, and there is one way out:
 *
 *     plat_inv *inv = plat_inv_new(fn, PLAT_INV_SYNC, trace);   // gateway.c, batch.c
 *     ... fill the payload, then plat_inv_submit(inv, client);   // the policy is told ARRIVE
 *     ... fn.c dispatches it to an instance (instance.c), or throttles or rejects it
 *     plat_inv_end(inv, &outcome);                              // exactly once, from anywhere
 *
 * plat_inv_end counts the outcome, meters and records it (meter.c), writes END and REPORT when
 * an instance ran it, answers the client through the gateway (gateway.c, plat_gateway_answer),
 * then either hands a failed Event back to its function for a retry (fn.c, plat_event_retry)
 * or frees it. Nothing else frees an invocation. A batch carrier (batch.c) is an invocation
 * too: ending it ends each of its members through plat_inv_end, then frees the carrier.
 *
 * Where an invocation waits is always one place at a time, and whoever takes it from there is
 * the one to end it: the platform's table (plat_inv_hash_put/take, while the policy decides),
 * its function's Event queues (fn.c), or its instance (pending, then in flight; instance.c
 * untracks it before ending it).
 *
 * Fields: inv.c sets identity and times at birth; the gateway sets the request fields before
 * submit; instance.c sets inst, cold and dispatch_ns at DISPATCH; batch.c owns the batching
 * fields. Everyone else reads.
 */
#ifndef FM_PLAT_INV_H
#define FM_PLAT_INV_H

#include "fn.h"

typedef enum plat_inv_kind {
    PLAT_INV_SYNC,   /* RequestResponse */
    PLAT_INV_EVENT,  /* Event: answered 202 at once, result only logged and recorded */
    PLAT_INV_KSERVE, /* KServe v2 infer: payload and result pass through the ONNX handler */
    PLAT_INV_URL,    /* function URL: an HTTP request as an API Gateway v2 event (url.c) */
    PLAT_INV__COUNT
} plat_inv_kind;

/* One invocation, from arrival to answer. */
struct plat_inv {
    TAILQ_ENTRY(plat_inv) q; /* the function's Event queue, or its instance's pending list */
    uint64_t id;             /* policy request id */
    char rid[37];            /* Lambda request id (UUIDv4) */
    plat_inv *hnext;         /* platform's id hash chain */
    plat_fn *fn;
    plat_inv_kind kind;
    struct evhttp_request *client; /* NULL for Event, or once answered */
    struct evbuffer *payload;      /* the event as the runtime gets it (moved, not copied) */
    char content_type[96];         /* of the payload ("": application/json) */
    int64_t header_len;            /* binary v2: Inference-Header-Content-Length, else -1 */
    char trace_id[96];
    char *client_context; /* X-Amz-Client-Context, base64-decoded (Lambda-Runtime-Client-Context) */
    int64_t arrive_ns, arrive_wall_ns, dispatch_ns, done_ns;
    int64_t deadline_wall_ms;
    plat_inst *inst; /* set at DISPATCH */
    bool cold;
    int64_t inst_id;        /* the instance that served it (-1 none), for the response headers */
    struct event *timer;    /* timeout */
    struct event *retry_ev; /* Event: waiting to be retried after a function error */
    int attempt;            /* Event: 0 first try, then retries */
    struct evbuffer *log;   /* a Tail only: this invocation's log lines (START..REPORT) */
    int batch_size;         /* inferences this request shared an invocation with (or carried) */
    const char *batch_kind; /* NULL, "client" or "server" (static strings) */
    /* batch.c: dynamic batching */
    struct fn_v2_batch_req *v2; /* the scanned v2 request (batching functions only) */
    uint32_t items;             /* its batch dimension (>= 1) */
    plat_inv **members;         /* a batch carrier: the callers it runs for (nmembers), else NULL */
    uint32_t nmembers;
    double bill_share; /* 0: billed in full; else this share of its invocation */
};

/* How an invocation ended; the first three are recorded. */
typedef enum plat_inv_end_how {
    PLAT_END_RAN,         /* an instance ran it (result, error, crash, timeout): END + REPORT */
    PLAT_END_ERROR,       /* a function error without a run (timed out waiting, bad input) */
    PLAT_END_INIT_FAILED, /* its instance failed init: Lambda answers like a function error */
    PLAT_END_REFUSED,     /* the platform refused it (429/500/503) in the caller's protocol */
    PLAT_END_DROPPED,     /* nobody will run it (teardown, removed function, never submitted) */
} plat_inv_end_how;

/* What plat_inv_end needs to know. The body is the function's result or error JSON, either as
 * bytes (body/len, copied into the answer) or as an evbuffer whose contents are moved into the
 * answer (buf, left empty). */
typedef struct plat_outcome {
    plat_inv_end_how how;
    const char *status;   /* the store's status: ok, error, timeout, crash, oom, throttled,
                             dropped; NULL (DROPPED only): not recorded */
    int code;             /* REFUSED: the HTTP status; else the recorded code (0: 200) */
    const char *error;    /* the store's error column (RAN: NULL means fn_error ? status) */
    const char *fn_error; /* "Unhandled" for a function error, NULL on success */
    const char *body;
    size_t len;
    struct evbuffer *buf; /* instead of body/len: moved into the answer */
    const char *ctype;    /* the result's Content-Type (NULL: application/json) */
    int64_t header_len;   /* binary v2 result: Inference-Header-Content-Length (0: none) */
    const char *type, *reason, *msg; /* REFUSED: AWS exception, its Reason, the message */
} plat_outcome;

/* ---- inv.c ------------------------------------------------------------------------------- */
/* A new invocation with its ids, arrival times and trace id (the caller's, or a new one when
 * trace is NULL or too long). NULL when out of memory. */
plat_inv *plat_inv_new(plat_fn *fn, plat_inv_kind kind, const char *trace);
/* Hands a filled invocation to its function: counts it, arms the timeout when a client waits
 * (client may be NULL: an Event already answered 202), admits it for batching, then tells the
 * policy ARRIVE (an Event goes to its function's queue first). Ownership stays with inv.c: a
 * refused input is ended here. */
void plat_inv_submit(plat_inv *inv, struct evhttp_request *client);
/* The one exit (see the top of this file). */
void plat_inv_end(plat_inv *inv, const plat_outcome *o);
void plat_inv_arm_timeout(plat_inv *inv); /* the function timeout, from now */
void plat_inv_hash_put(platform *p, plat_inv *inv);
plat_inv *plat_inv_hash_take(platform *p, uint64_t id); /* the taker ends it */
/* Refusals: the platform's answer to a request that never ran. */
void plat_inv_refuse(plat_inv *inv, int code, const char *type, const char *reason,
                     const char *msg);

/* ---- gateway.c: the answer in the caller's protocol ---------------------------------------- */
/* Answers inv's client (if one still waits) as o says; called only by plat_inv_end. */
void plat_gateway_answer(plat_inv *inv, const plat_outcome *o);
/* The outcome's body as contiguous bytes (made so, and counted as copied, only when needed). */
const char *plat_outcome_bytes(plat_inv *inv, const plat_outcome *o, size_t *len);

/* ---- url.c: function URLs ----------------------------------------------------------------- */
/* /lambda-url/NAME[/path]: any HTTP request becomes an API Gateway v2 event (binary bodies in
 * base64 with isBase64Encoded), submitted as a PLAT_INV_URL invocation. */
void plat_url_handle(platform *p, struct evhttp_request *req, const char *path);
/* The function's answer as HTTP: its statusCode, headers and (base64) body, or 502. */
void plat_url_answer(plat_inv *inv, struct evhttp_request *req, const plat_outcome *o);
/* Reads a function URL response: 0 with *code, headers and body filled (an object with
 * statusCode 100..599); 1 when it is not such an object (the caller sends it as a 200 JSON
 * body); -1 when statusCode or a base64 body is invalid. */
int plat_url_reply_decode(const char *bytes, size_t len, int *code, struct evkeyvalq *headers,
                          struct evbuffer *body);
/* Appends base64 of in's contents to out, reading in's pieces in place (in is left unchanged). */
int plat_url_base64(struct evbuffer *out, struct evbuffer *in);

/* ---- batch.c: dynamic batching ------------------------------------------------------------ */
/* At submit: decodes a batching function's v2 request and sets inv->items. Returns false when
 * it ended the request itself (bad input). */
bool plat_batch_admit(plat_inv *inv);
/* DISPATCH of several requests: merges them into one carrier invocation on `in`. */
void plat_batch_dispatch(plat_fn *fn, plat_inst *in, const policy_action *a);
/* The carrier ended: each member gets its slice or the carrier's outcome through plat_inv_end
 * (called only by plat_inv_end, which then frees the carrier). */
void plat_batch_end(plat_inv *carrier, const plat_outcome *o);
void plat_batch_release(plat_inv *inv); /* at free: the batching fields */
/* Records a client-side batch (dim 0 > 1 of a builtin-onnx response) on an unbatched request. */
void plat_batch_note_client(plat_inv *inv, const plat_outcome *o);

/* ---- meter.c: billing and the results store ------------------------------------------------ */
typedef struct plat_bill {
    double duration_ms, billed_ms, gb_s, init_ms;
} plat_bill;
void plat_meter_invocation(plat_inv *inv, const char *status, int http_code, const char *error,
                           plat_bill *bill);

#endif
