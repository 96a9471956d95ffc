/*
 * store — the SQLite results database. Every run, live or simulated, lands here with the same
 * schema, so the analyzer never needs to know where a run came from.
 *
 * Writes are buffered in one open transaction that commits every FM_STORE_BATCH rows or when it
 * is FM_STORE_BATCH_MS old (checked on each write), and on store_flush/store_close and before
 * every read. The database is in WAL mode, so a reader may open it while a run writes, and a
 * writer killed with SIGKILL leaves a consistent database holding every row committed before the
 * kill. One store handle belongs to one thread; never carry one across fork().
 * The schema, column by column, is in docs/results-db.md.
 */
#ifndef FM_STORE_H
#define FM_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

#define FM_STORE_SCHEMA_VERSION 2
#define FM_STORE_BATCH 1000   /* rows per write transaction at most */
#define FM_STORE_BATCH_MS 200 /* age of a write transaction at which the next write commits it */

typedef struct store store;

typedef struct store_run {
    int64_t id; /* set by store_run_begin */
    const char *name;
    const char *mode;    /* "live" or "sim" */
    const char *profile; /* lambda, gcf, managed, server, or a mix: "mixed" */
    const char *config;  /* full configuration as JSON text */
    uint64_t seed;
    const char *host;             /* host info as JSON text; NULL fills it from uname */
    int64_t started_ns, ended_ns; /* wall clock; ended_ns 0 while running */
    const char *status; /* running, done, failed, interrupted (ended early, or its writer is
                           gone: store_open marks such runs, ended at their last row) */
} store_run;

/* One request as the client saw it, plus what the platform said about it. Times are ns on one
 * clock (wall-clock for live runs, virtual for simulated ones); 0 means "did not happen". */
typedef struct store_request {
    int64_t run, id;
    const char *function;
    int64_t scheduled_ns, sent_ns, first_byte_ns, done_ns;
    /* ok, error (function error), crash (the runtime exited mid-request), oom (it ran out of
     * memory), throttled, timeout, dropped, conn_error */
    const char *status;
    int http_code;
    const char *error; /* NULL when none */
    bool cold;
    int64_t instance; /* -1 when unknown */
    double init_ms, duration_ms, billed_ms;
    int memory_mb;
    int batch_size;         /* inferences carried (client batch) or merged (server batch) */
    const char *batch_kind; /* NULL, "client" or "server" */
} store_request;

typedef struct store_instance {
    int64_t run, id;
    const char *function;
    int memory_mb;
    bool provisioned;
    int64_t created_ns, ready_ns, stopped_ns;
    double phase_ms[FM_PHASE__COUNT]; /* cold-start phases by fm_phase: the <key>_ms columns */
    const char *cold_path;            /* exec, zygote, provisioned, sim */
    const char *stop_reason; /* NULL while running; idle, timeout, crash, oom, shutdown, scale_in */
} store_instance;

typedef struct store_cost {
    int64_t run;
    const char *item; /* "lambda.gb_s", "lambda.requests", "sagemaker.ml.m5.large" ... */
    double quantity;
    const char *unit; /* GB-s, requests, instance-hours ... */
    double unit_price;
    double amount;
    const char *currency; /* USD */
    const char *source;   /* catalogue entry and date */
} store_cost;

/* A time series point: instances by state, queue depth, arrival rate... per function. */
typedef struct store_point {
    int64_t run;
    const char *function;
    int64_t t_ns;
    const char *metric;
    double value;
} store_point;

/* Opens or creates the database at path (":memory:" works). An older schema is migrated; a newer
 * one is refused with FM_ESCHEMA. Runs left `running` by a writer process that is gone (killed,
 * or before a reboot) are marked `interrupted`, ended at the time of their last row. */
int store_open(const char *path, store **out, fm_err *err);
/* Commits pending writes and closes; NULL is fine. A failure to commit is logged (FM_ERROR);
 * call store_flush first to handle it. */
void store_close(store *s);
int store_flush(store *s, fm_err *err);
int store_schema_version(store *s);

int store_run_begin(store *s, store_run *run, fm_err *err); /* sets run->id */
int store_run_end(store *s, int64_t run_id, int64_t ended_ns, const char *status, fm_err *err);
int store_request_add(store *s, const store_request *r, fm_err *err);
int store_instance_put(store *s, const store_instance *i, fm_err *err); /* insert or replace */
int store_cost_add(store *s, const store_cost *c, fm_err *err);
int store_point_add(store *s, const store_point *p, fm_err *err);
/* Removes a run and everything recorded under it in one transaction (used by `bench --force`);
 * a run that does not exist is not an error. */
int store_run_delete(store *s, int64_t run_id, fm_err *err);

/* Copies the instances and time-series points that another results database recorded for one
 * function of one run into run dst_run of s, renamed to `as` (NULL keeps the name). Used to join
 * what a platform recorded with what the load generator recorded for the same experiment run. */
int store_import_function(store *s, int64_t dst_run, const char *src_path, int64_t src_run,
                          const char *function, const char *as, fm_err *err);

/* Reads. Callbacks return 0 to go on, anything else to stop (that value is returned). Strings in
 * the structs passed to callbacks are valid during the callback only. */
typedef int (*store_run_cb)(const store_run *r, void *ud);
typedef int (*store_request_cb)(const store_request *r, void *ud);
typedef int (*store_instance_cb)(const store_instance *i, void *ud);
typedef int (*store_cost_cb)(const store_cost *c, void *ud);
typedef int (*store_point_cb)(const store_point *p, void *ud);

int store_runs_each(store *s, store_run_cb cb, void *ud, fm_err *err);
int store_run_get(store *s, int64_t run_id, store_run_cb cb, void *ud, fm_err *err);
int store_run_find(store *s, const char *name, int64_t *run_id, fm_err *err); /* latest by name */
int store_requests_each(store *s, int64_t run_id, store_request_cb cb, void *ud, fm_err *err);
int store_instances_each(store *s, int64_t run_id, store_instance_cb cb, void *ud, fm_err *err);
int store_costs_each(store *s, int64_t run_id, store_cost_cb cb, void *ud, fm_err *err);
int store_points_each(store *s, int64_t run_id, store_point_cb cb, void *ud, fm_err *err);

/* The tables export_csv accepts: runs, requests, instances, costs, points. */
extern const char *const store_tables[];
/* Writes a table as CSV (RFC 4180: CRLF line ends, header row, fields with , " CR LF quoted) to
 * out; run_id 0 exports every run. NULL is an empty field, the empty string is "". Reals are
 * printed with 17 significant digits, so they read back exactly. An unknown table is FM_EINVAL. */
int store_export_csv(store *s, const char *table, int64_t run_id, FILE *out, fm_err *err);

#endif
