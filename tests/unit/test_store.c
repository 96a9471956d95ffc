/* Unit tests of store: schema and versions, batched writes read back field by field, every table's
 * round trip, run deletion, a reader beside an open write batch, CSV export parsed back as RFC
 * 4180, concurrent first opens, a writer killed with SIGKILL mid-run, and its run marked
 * interrupted by the next open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

static size_t scaled(size_t n)
{
    const char *s = getenv("FM_SANITIZED");
    return s && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) ? n / 4 : n;
}

/* Each test gets a fresh directory with a database path in it. */
typedef struct fixture {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/fm_store_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/results.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static store *open_ok(const char *path)
{
    store *s = NULL;
    fm_err err = {0};
    int rc = store_open(path, &s, &err);
    if (rc)
        fail_msg("store_open: %s", err.msg);
    return s;
}

/* Runs one SQL statement on a separate raw connection and returns the first column of the first
 * row as an integer (or -1 without a row). */
static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static int64_t begin_run(store *s, const char *name, const char *mode)
{
    store_run r = {
        .name = name, .mode = mode, .profile = "lambda", .config = "{\"a\":1}", .seed = 42};
    fm_err err;
    if (store_run_begin(s, &r, &err))
        fail_msg("store_run_begin: %s", err.msg);
    return r.id;
}

/* ---- deterministic rows -----------------------------------------------------------------------
 */

static const char *const statuses[] = {"ok",      "error",   "throttled",
                                       "timeout", "dropped", "conn_error"};
static const char *const functions[] = {"resnet", "mobile,net", "bert \"base\"", "v\ngg"};
static const char *const kinds[] = {NULL, "client", "server"};

/* Request i of a run, every field a function of i; strings include CSV-hostile characters. */
static store_request make_request(int64_t run, int64_t i)
{
    store_request r = {
        .run = run,
        .id = i,
        .function = functions[i % 4],
        .scheduled_ns = 1700000000000000000LL + i * 1000003,
        .sent_ns = i % 17 == 3 ? 0 : 1700000000000000000LL + i * 1000003 + 250,
        .first_byte_ns = i == 0 ? INT64_MAX : 1700000000000000000LL + i * 1000003 + 9999,
        .done_ns = 1700000000000000000LL + i * 1000003 + 12345,
        .status = statuses[i % 6],
        .http_code = i % 6 == 2 ? 429 : 200,
        .error = i % 7 == 1   ? "boom, \"quoted\"\nsecond line\r\nend"
                 : i % 7 == 2 ? ""
                              : NULL,
        .cold = i % 5 == 0,
        .instance = i % 9 == 0 ? -1 : i % 13,
        .init_ms = i % 5 == 0 ? 123.456 + i : 0,
        .duration_ms = 1.0 / 3 + (double)i,
        .billed_ms = (double)(i % 100 + 1),
        .memory_mb = 128 << (i % 5),
        .batch_size = (int)(i % 8) + 1,
        .batch_kind = kinds[i % 3],
    };
    return r;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Empty string when a request field differs from make_request's, else the field's name. */
static const char *request_diff(const store_request *got, const store_request *w)
{
#define CHECK(f, eq)                                                                               \
    if (!(eq))                                                                                     \
        return #f;
    CHECK(run, got->run == w->run);
    CHECK(id, got->id == w->id);
    CHECK(function, str_eq(got->function, w->function));
    CHECK(scheduled_ns, got->scheduled_ns == w->scheduled_ns);
    CHECK(sent_ns, got->sent_ns == w->sent_ns);
    CHECK(first_byte_ns, got->first_byte_ns == w->first_byte_ns);
    CHECK(done_ns, got->done_ns == w->done_ns);
    CHECK(status, str_eq(got->status, w->status));
    CHECK(http_code, got->http_code == w->http_code);
    CHECK(error, str_eq(got->error, w->error));
    CHECK(cold, got->cold == w->cold);
    CHECK(instance, got->instance == w->instance);
    CHECK(init_ms, got->init_ms == w->init_ms);
    CHECK(duration_ms, got->duration_ms == w->duration_ms);
    CHECK(billed_ms, got->billed_ms == w->billed_ms);
    CHECK(memory_mb, got->memory_mb == w->memory_mb);
    CHECK(batch_size, got->batch_size == w->batch_size);
    CHECK(batch_kind, str_eq(got->batch_kind, w->batch_kind));
#undef CHECK
    return NULL;
}

typedef struct req_check {
    int64_t run, next;
    const char *bad_field;
} req_check;

/* Checks that requests arrive in id order 0,1,2... and equal make_request. */
static int check_request(const store_request *r, void *ud)
{
    req_check *c = ud;
    store_request want = make_request(c->run, c->next);
    const char *d = request_diff(r, &want);
    if (d) {
        c->bad_field = d;
        return 1;
    }
    c->next++;
    return 0;
}

/* ---- schema -----------------------------------------------------------------------------------
 */

static void test_schema(void **state)
{
    fixture *f = *state;
    store *s = open_ok(f->path);
    assert_int_equal(store_schema_version(s), FM_STORE_SCHEMA_VERSION);
    store_close(s);
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), FM_STORE_SCHEMA_VERSION);
    for (int i = 0; store_tables[i]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                 " name='%s'",
                 store_tables[i]);
        assert_int_equal(sql_int(f->path, sql), 1);
    }
    /* WAL persists in the file */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    /* a newer schema is refused, naming both versions */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    fm_err err;
    store *s2 = (store *)1;
    assert_int_equal(store_open(f->path, &s2, &err), FM_ESCHEMA);
    assert_null(s2);
    char want[512];
    snprintf(want, sizeof want,
             "cannot open results database '%s': schema version 99 is newer than this faasml "
             "supports (%d)",
             f->path, FM_STORE_SCHEMA_VERSION);
    assert_string_equal(err.msg, want);
    /* and the database is left as it was */
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 99);

    /* not a database at all */
    char side[160];
    snprintf(side, sizeof side, "%s-wal", f->path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", f->path);
    remove(side);
    FILE *fp = fopen(f->path, "w");
    for (int i = 0; i < 100; i++)
        fputs("this is not a database\n", fp);
    fclose(fp);
    assert_int_equal(store_open(f->path, &s2, &err), FM_EIO);
    snprintf(want, sizeof want, "cannot open results database '%s': file is not a database",
             f->path);
    assert_string_equal(err.msg, want);
    /* a directory that does not exist */
    assert_int_equal(store_open("/nonexistent/dir/x.db", &s2, &err), FM_EIO);
    assert_non_null(strstr(err.msg, "cannot open results database '/nonexistent/dir/x.db': "));
    store_close(NULL);
}

/* Several processes open a fresh database at the same moment; all must succeed, and the schema is
 * created once. */
static void test_concurrent_first_open(void **state)
{
    fixture *f = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(3);
            store *s;
            fm_err err;
            if (store_open(f->path, &s, &err)) {
                fprintf(stderr, "child %d: %s\n", k, err.msg);
                _exit(1);
            }
            store_run r = {.name = "c", .mode = "sim"};
            int rc = store_run_begin(s, &r, &err);
            store_close(s);
            _exit(rc ? 2 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* all children read EOF at once */
    for (int k = 0; k < 4; k++) {
        int st;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM runs"), 4);
    assert_int_equal(sql_int(f->path, "PRAGMA user_version"), FM_STORE_SCHEMA_VERSION);
}

/* ---- writes and reads -------------------------------------------------------------------------
 */

static void test_batched_requests(void **state)
{
    fixture *f = *state;
    store *s = open_ok(f->path);
    int64_t run = begin_run(s, "batch", "live");
    int64_t n = (int64_t)scaled(10000);
    fm_err err;
    for (int64_t i = 0; i < n; i++) {
        store_request r = make_request(run, i);
        if (store_request_add(s, &r, &err))
            fail_msg("request %lld: %s", (long long)i, err.msg);
    }
    /* the same connection reads its own pending writes */
    req_check c = {.run = run};
    assert_int_equal(store_requests_each(s, run, check_request, &c, &err), 0);
    assert_int_equal(c.next, n);
    store_close(s);
    /* and so does a fresh one, after close committed everything */
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM requests"), n);
    s = open_ok(f->path);
    c = (req_check){.run = run};
    int rc = store_requests_each(s, run, check_request, &c, &err);
    if (rc)
        fail_msg("request %lld differs in '%s'", (long long)c.next, c.bad_field);
    assert_int_equal(c.next, n);
    /* a callback's non-zero return stops the walk and is returned */
    c = (req_check){.run = run + 1000};
    assert_int_equal(store_requests_each(s, run, check_request, &c, &err), 1);
    /* replacing a request by (run, id) */
    store_request r = make_request(run, 5);
    r.status = "timeout";
    r.error = "replaced";
    assert_int_equal(store_request_add(s, &r, &err), 0);
    assert_int_equal(store_flush(s, &err), 0);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM requests"), n);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM requests WHERE error='replaced'"), 1);
    /* a request for a run that does not exist violates the foreign key */
    r = make_request(run + 77, 0);
    assert_int_equal(store_request_add(s, &r, &err), FM_EIO);
    assert_non_null(strstr(err.msg, "FOREIGN KEY constraint failed"));
    assert_non_null(strstr(err.msg, f->path));
    /* ... and the open batch goes on working afterwards */
    r = make_request(run, n);
    assert_int_equal(store_request_add(s, &r, &err), 0);
    store_close(s);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM requests"), n + 1);
}

typedef struct run_list {
    int n;
    store_run r[4];
    char names[4][64], hosts[4][512], configs[4][64];
} run_list;

static int collect_run(const store_run *r, void *ud)
{
    run_list *l = ud;
    if (l->n >= 4)
        return 9;
    l->r[l->n] = *r;
    snprintf(l->names[l->n], 64, "%s", r->name);
    snprintf(l->hosts[l->n], 512, "%s", r->host ? r->host : "");
    snprintf(l->configs[l->n], 64, "%s", r->config ? r->config : "");
    l->r[l->n].name = l->names[l->n];
    l->r[l->n].host = l->hosts[l->n];
    l->r[l->n].config = l->configs[l->n];
    l->r[l->n].mode = l->r[l->n].profile = l->r[l->n].status = NULL; /* not kept */
    l->n++;
    return 0;
}

static int check_instance(const store_instance *i, void *ud)
{
    int *n = ud;
    assert_int_equal(i->id, *n);
    assert_string_equal(i->function, "resnet");
    assert_int_equal(i->memory_mb, 1769);
    assert_true(i->provisioned == (*n == 1));
    assert_true(i->created_ns == 1000 + *n && i->ready_ns == 2000 + *n);
    assert_true(i->stopped_ns == (*n == 0 ? 9000 : 0));
    assert_true(i->phase_ms[FM_PHASE_SPAWN] == 1.25 && i->phase_ms[FM_PHASE_RUNTIME_INIT] == 2.5 &&
                i->phase_ms[FM_PHASE_DOWNLOAD] == 0.125);
    assert_true(i->phase_ms[FM_PHASE_LOAD] == 40.0625 && i->phase_ms[FM_PHASE_WARMUP] == 3.0);
    assert_string_equal(i->cold_path, *n == 1 ? "provisioned" : "exec");
    if (*n == 0)
        assert_string_equal(i->stop_reason, "idle");
    else
        assert_null(i->stop_reason);
    (*n)++;
    return 0;
}

static int check_cost(const store_cost *c, void *ud)
{
    int *n = ud;
    if (*n == 0) {
        assert_string_equal(c->item, "lambda.gb_s");
        assert_true(c->quantity == 1234.5 && c->unit_price == 0.0000166667);
        assert_true(c->amount == 1234.5 * 0.0000166667);
        assert_string_equal(c->unit, "GB-s");
        assert_string_equal(c->currency, "USD"); /* the default */
        assert_string_equal(c->source, "aws pricing 2024-01");
    } else {
        assert_string_equal(c->item, "lambda.requests");
        assert_string_equal(c->currency, "EUR");
        assert_null(c->source);
    }
    (*n)++;
    return 0;
}

static int check_point(const store_point *p, void *ud)
{
    int *n = ud;
    /* ordered by metric, then time */
    assert_string_equal(p->metric, *n < 3 ? "instances.busy" : "queue");
    assert_true(p->t_ns == (int64_t)(*n % 3) * 1000000000);
    assert_true(p->value == (double)*n * 0.5);
    assert_string_equal(p->function, "resnet");
    (*n)++;
    return 0;
}

static int64_t found_id;
static int remember_id(const store_run *r, void *ud)
{
    (void)ud;
    found_id = r->id;
    return 0;
}

static void test_round_trip_and_delete(void **state)
{
    fixture *f = *state;
    store *s = open_ok(f->path);
    fm_err err;
    store_run r = {.name = "exp-1",
                   .mode = "sim",
                   .profile = "mixed",
                   .config = "{\"models\":[\"a\",\"b\"]}",
                   .seed = UINT64_MAX,
                   .host = "{\"hostname\":\"h\"}",
                   .started_ns = 111};
    assert_int_equal(store_run_begin(s, &r, &err), 0);
    int64_t a = r.id;
    store_run r2 = {.name = "exp-1", .mode = "live"}; /* host from uname, start from the clock */
    assert_int_equal(store_run_begin(s, &r2, &err), 0);
    int64_t b = r2.id;
    assert_true(b > a);
    store_run bad = {.name = "x", .mode = "real"};
    assert_int_equal(store_run_begin(s, &bad, &err), FM_EINVAL);
    assert_string_equal(err.msg, "run 'x': mode must be live or sim, not 'real'");
    bad.mode = NULL;
    assert_int_equal(store_run_begin(s, &bad, &err), FM_EINVAL);
    bad = (store_run){.mode = "sim"};
    assert_int_equal(store_run_begin(s, &bad, &err), FM_EINVAL);
    assert_string_equal(err.msg, "a run needs a name");

    for (int run = 0; run < 2; run++) {
        int64_t id = run ? b : a;
        for (int i = 0; i < 3; i++) {
            store_instance in = {.run = id,
                                 .id = i,
                                 .function = "resnet",
                                 .memory_mb = 1769,
                                 .provisioned = i == 1,
                                 .created_ns = 1000 + i,
                                 .ready_ns = 2000 + i,
                                 .stopped_ns = i == 0 ? 9000 : 0,
                                 .phase_ms = {[FM_PHASE_SPAWN] = 1.25,
                                              [FM_PHASE_RUNTIME_INIT] = 2.5,
                                              [FM_PHASE_DOWNLOAD] = 0.125,
                                              [FM_PHASE_LOAD] = 40.0625,
                                              [FM_PHASE_WARMUP] = 3.0},
                                 .cold_path = i == 1 ? "provisioned" : "exec",
                                 .stop_reason = i == 0 ? "idle" : NULL};
            assert_int_equal(store_instance_put(s, &in, &err), 0);
        }
        store_cost c1 = {.run = id,
                         .item = "lambda.gb_s",
                         .quantity = 1234.5,
                         .unit = "GB-s",
                         .unit_price = 0.0000166667,
                         .amount = 1234.5 * 0.0000166667,
                         .source = "aws pricing 2024-01"};
        store_cost c2 = {.run = id,
                         .item = "lambda.requests",
                         .quantity = 3,
                         .unit = "requests",
                         .unit_price = 2e-7,
                         .amount = 6e-7,
                         .currency = "EUR"};
        assert_int_equal(store_cost_add(s, &c1, &err), 0);
        assert_int_equal(store_cost_add(s, &c2, &err), 0);
        /* inserted out of order; read back by metric and time */
        for (int i = 5; i >= 0; i--) {
            store_point p = {.run = id,
                             .function = "resnet",
                             .t_ns = (i % 3) * 1000000000LL,
                             .metric = i < 3 ? "instances.busy" : "queue",
                             .value = i * 0.5};
            assert_int_equal(store_point_add(s, &p, &err), 0);
        }
        for (int i = 0; i < 4; i++) {
            store_request q = make_request(id, i);
            assert_int_equal(store_request_add(s, &q, &err), 0);
        }
    }
    assert_int_equal(store_run_end(s, a, 999, "done", &err), 0);
    store_close(s);

    s = open_ok(f->path);
    run_list l = {0};
    assert_int_equal(store_runs_each(s, collect_run, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.r[0].id == a && l.r[0].seed == UINT64_MAX);
    assert_true(l.r[0].started_ns == 111 && l.r[0].ended_ns == 999);
    assert_string_equal(l.r[0].config, "{\"models\":[\"a\",\"b\"]}");
    assert_string_equal(l.r[0].host, "{\"hostname\":\"h\"}");
    assert_non_null(strstr(l.r[1].host, "\"hostname\":"));
    assert_non_null(strstr(l.r[1].host, "\"cpus\":"));
    assert_string_equal(l.r[1].config, "{}");
    assert_true(l.r[1].started_ns > INT64_C(1600000000) * 1000000000);
    assert_true(l.r[1].ended_ns == 0);
    int64_t id = 0;
    assert_int_equal(store_run_find(s, "exp-1", &id, &err), 0);
    assert_true(id == b); /* the latest of that name */
    assert_int_equal(store_run_find(s, "nope", &id, &err), FM_ENOTFOUND);
    assert_string_equal(err.msg, "no run named 'nope'");
    found_id = 0;
    assert_int_equal(store_run_get(s, a, remember_id, NULL, &err), 0);
    assert_true(found_id == a);
    found_id = 0;
    assert_int_equal(store_run_get(s, 12345, remember_id, NULL, &err), 0);
    assert_true(found_id == 0);

    for (int run = 0; run < 2; run++) {
        int64_t rid = run ? b : a;
        int n = 0;
        assert_int_equal(store_instances_each(s, rid, check_instance, &n, &err), 0);
        assert_int_equal(n, 3);
        n = 0;
        assert_int_equal(store_costs_each(s, rid, check_cost, &n, &err), 0);
        assert_int_equal(n, 2);
        n = 0;
        assert_int_equal(store_points_each(s, rid, check_point, &n, &err), 0);
        assert_int_equal(n, 6);
    }
    /* an instance is updated in place when it stops */
    store_instance in = {.run = a,
                         .id = 2,
                         .function = "resnet",
                         .memory_mb = 1769,
                         .stop_reason = "scale_in",
                         .stopped_ns = 5};
    assert_int_equal(store_instance_put(s, &in, &err), 0);
    assert_int_equal(store_flush(s, &err), 0);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM instances"), 6);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT stopped_ns FROM instances WHERE run=%lld AND id=2",
             (long long)a);
    assert_int_equal(sql_int(f->path, sql), 5);

    /* deleting a removes it from every table and leaves b whole */
    assert_int_equal(store_run_delete(s, a, &err), 0);
    static const char *const tables[] = {"requests", "instances", "costs", "points"};
    for (size_t t = 0; t < FM_ARRAY_LEN(tables); t++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run=%lld", tables[t],
                 (long long)a);
        assert_int_equal(sql_int(f->path, sql), 0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run=%lld", tables[t],
                 (long long)b);
        assert_true(sql_int(f->path, sql) > 0);
    }
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(store_run_delete(s, a, &err), 0); /* a run that is gone: nothing to do */
    req_check c = {.run = b};
    assert_int_equal(store_requests_each(s, b, check_request, &c, &err), 0);
    assert_int_equal(c.next, 4);
    store_close(s);
}

/* ---- concurrency ------------------------------------------------------------------------------
 */

static void test_reader_during_batch(void **state)
{
    fixture *f = *state;
    store *w = open_ok(f->path);
    int64_t run = begin_run(w, "live", "live"); /* committed before any request */
    fm_err err;
    int64_t t0 = fm_now_ns();
    for (int i = 0; i < 10; i++) {
        store_request r = make_request(run, i);
        assert_int_equal(store_request_add(w, &r, &err), 0);
    }
    /* the batch is open: a second connection opens and reads without waiting for it */
    store *rd = open_ok(f->path);
    int64_t seen = sql_int(f->path, "SELECT count(*) FROM requests");
    int64_t elapsed = fm_now_ns() - t0;
    run_list l = {0};
    assert_int_equal(store_runs_each(rd, collect_run, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_true(seen >= 0 && seen <= 10);
    /* within the 200 ms batch window, nothing of the batch is visible yet */
    if (elapsed < 150000000)
        assert_int_equal(seen, 0);
    assert_int_equal(store_flush(w, &err), 0);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM requests"), 10);
    req_check c = {.run = run};
    assert_int_equal(store_requests_each(rd, run, check_request, &c, &err), 0);
    assert_int_equal(c.next, 10);
    /* the reader can write too once the writer's batch is committed */
    int64_t run2 = begin_run(rd, "second", "sim");
    assert_true(run2 > run);
    store_close(rd);
    store_close(w);
}

/* The writer of the SIGKILL test: requests 0,1,2,... with a flush every 500, until killed. */
static void sigkill_writer(const char *path, int64_t run)
{
    alarm(120); /* never outlive a broken parent */
    store *s;
    fm_err err;
    if (store_open(path, &s, &err)) {
        fprintf(stderr, "writer: %s\n", err.msg);
        _exit(1);
    }
    for (int64_t i = 0;; i++) {
        store_request r = make_request(run, i);
        if (store_request_add(s, &r, &err)) {
            fprintf(stderr, "writer: %s\n", err.msg);
            _exit(1);
        }
        if ((i + 1) % 500 == 0 && store_flush(s, &err)) {
            fprintf(stderr, "writer: %s\n", err.msg);
            _exit(1);
        }
    }
}

static void test_sigkill_writer(void **state)
{
    fixture *f = *state;
    store *s = open_ok(f->path);
    int64_t run = begin_run(s, "killed", "live");
    store_close(s);
    int64_t want = (int64_t)scaled(20000);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        sigkill_writer(f->path, run);

    /* wait from a separate connection until enough rows are committed, then kill mid-batch */
    int64_t seen = 0, deadline = fm_now_ns() + 60 * INT64_C(1000000000);
    int st;
    while ((seen = sql_int(f->path, "SELECT count(*) FROM requests")) < want) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            fail_msg("writer exited early (status %d) after %lld rows", st, (long long)seen);
        if (fm_now_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("only %lld rows after 60 s", (long long)seen);
        }
        fm_sleep_ns(2000000);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    /* the database is consistent and holds every committed row, whole, ids 0..n-1 */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
    int64_t n = sql_int(f->path, "SELECT count(*) FROM requests");
    assert_true(n >= seen);
    assert_int_equal(sql_int(f->path, "SELECT min(id) FROM requests"), 0);
    assert_int_equal(sql_int(f->path, "SELECT max(id) FROM requests"), n - 1);
    s = open_ok(f->path);
    fm_err err;
    req_check c = {.run = run};
    int rc = store_requests_each(s, run, check_request, &c, &err);
    if (rc)
        fail_msg("request %lld differs in '%s' (%s)", (long long)c.next, c.bad_field,
                 rc == 1 ? "" : err.msg);
    assert_int_equal(c.next, n);
    /* the run row says it never ended */
    run_list l = {0};
    assert_int_equal(store_runs_each(s, collect_run, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.r[0].ended_ns == 0);
    store_close(s);
}

/* ---- runs whose writer is gone ----------------------------------------------------------------
 */

/* A writer killed mid-run never ends it; the next open marks it interrupted at its last row,
 * while a run whose writer still runs (this process), and one with no writer recorded (an older
 * schema), stay running. */
static void test_interrupted_run(void **state)
{
    fixture *f = *state;
    int64_t last = 0;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *s = NULL;
        fm_err err;
        if (store_open(f->path, &s, &err))
            _exit(2);
        store_run r = {.name = "dead", .mode = "live", .started_ns = 1000};
        if (store_run_begin(s, &r, &err))
            _exit(3);
        store_request q = {.run = r.id,
                           .id = 0,
                           .function = "f",
                           .scheduled_ns = 2000,
                           .sent_ns = 2100,
                           .first_byte_ns = 2500,
                           .done_ns = 2600,
                           .status = "ok",
                           .instance = -1};
        store_point p = {.run = r.id, .function = "f", .t_ns = 3000, .metric = "m", .value = 1};
        store_instance i = {.run = r.id,
                            .id = 1,
                            .function = "f",
                            .created_ns = 1500,
                            .ready_ns = 1800,
                            .stopped_ns = 0};
        if (store_request_add(s, &q, &err) || store_point_add(s, &p, &err) ||
            store_instance_put(s, &i, &err) || store_flush(s, &err))
            _exit(4);
        raise(SIGKILL);
    }
    last = 3000;
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* still running in the file until someone opens it */
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM runs WHERE status='running'"), 1);

    store *s = open_ok(f->path);
    int64_t alive = begin_run(s, "alive", "live");
    store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO runs(name,mode,started_ns,ended_ns,status)"
                                  " VALUES('legacy','live',1,0,'running')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    s = open_ok(f->path);
    store_close(s);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM runs WHERE name='dead' AND "
                                      "status='interrupted'"),
                     1);
    assert_int_equal(sql_int(f->path, "SELECT ended_ns FROM runs WHERE name='dead'"), last);
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE id=%lld AND status='running'",
             (long long)alive);
    assert_int_equal(sql_int(f->path, q), 1);
    assert_int_equal(sql_int(f->path, "SELECT count(*) FROM runs WHERE name='legacy' AND "
                                      "status='running'"),
                     1);
}

/* ---- CSV --------------------------------------------------------------------------------------
 */

/* One parsed CSV field: its text and whether it was quoted (an empty quoted field is the empty
 * string, an empty unquoted one is NULL). */
typedef struct csv_field {
    char *text;
    bool quoted;
} csv_field;

typedef struct csv_doc {
    int rows, cols;
    csv_field *f; /* rows * cols */
} csv_doc;

/* A strict RFC 4180 parser: CRLF between records, quotes doubled inside quoted fields, every
 * record with the header's number of fields. Fails the test on any deviation. */
static csv_doc csv_parse(const char *p, size_t len)
{
    csv_doc d = {0};
    size_t cap = 0, n = 0;
    const char *end = p + len;
    int col = 0;
    while (p < end) {
        char *text = malloc(len + 1);
        size_t tl = 0;
        bool quoted = *p == '"';
        if (quoted) {
            p++;
            for (;;) {
                if (p >= end)
                    fail_msg("csv: unterminated quoted field");
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        text[tl++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                text[tl++] = *p++;
            }
        } else {
            while (p < end && *p != ',' && *p != '\r') {
                if (*p == '"' || *p == '\n')
                    fail_msg("csv: bare '%c' in an unquoted field", *p);
                text[tl++] = *p++;
            }
        }
        text[tl] = 0;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            d.f = realloc(d.f, cap * sizeof *d.f);
        }
        d.f[n++] = (csv_field){text, quoted};
        col++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p + 1 < end + 1 && p + 2 <= end && p[0] == '\r' && p[1] == '\n') {
            p += 2;
            if (d.rows == 0)
                d.cols = col;
            else if (col != d.cols)
                fail_msg("csv: record %d has %d fields, header has %d", d.rows, col, d.cols);
            d.rows++;
            col = 0;
            continue;
        }
        fail_msg("csv: expected ',' or CRLF after a field");
    }
    assert_int_equal(col, 0); /* the last record ends with CRLF */
    return d;
}

static void csv_free(csv_doc *d)
{
    for (int i = 0; i < d->rows * d->cols; i++)
        free(d->f[i].text);
    free(d->f);
}

static const char *csv_at(const csv_doc *d, int row, int col)
{
    const csv_field *f = &d->f[row * d->cols + col];
    return f->text[0] || f->quoted ? f->text : NULL;
}

/* Exports a table into memory. */
static char *export_table(store *s, const char *table, int64_t run, size_t *len, int *rc,
                          fm_err *err)
{
    char *buf = NULL;
    FILE *mf = open_memstream(&buf, len);
    *rc = store_export_csv(s, table, run, mf, err);
    fclose(mf);
    return buf;
}

static int64_t csv_i64(const csv_doc *d, int row, int col)
{
    const char *t = csv_at(d, row, col);
    int64_t v = 0;
    if (!t || fm_parse_i64(t, &v))
        fail_msg("csv: row %d col %d: '%s' is not an integer", row, col, t ? t : "(null)");
    return v;
}

static double csv_double(const csv_doc *d, int row, int col)
{
    const char *t = csv_at(d, row, col);
    double v = 0;
    if (!t || fm_parse_double(t, &v))
        fail_msg("csv: row %d col %d: '%s' is not a number", row, col, t ? t : "(null)");
    return v;
}

static void test_csv_round_trip(void **state)
{
    fixture *f = *state;
    store *s = open_ok(f->path);
    int64_t run = begin_run(s, "csv, \"the\" run\nwith lines", "sim");
    int64_t other = begin_run(s, "other", "sim");
    fm_err err;
    int n = 300;
    for (int i = 0; i < n; i++) {
        store_request r = make_request(run, i);
        assert_int_equal(store_request_add(s, &r, &err), 0);
    }
    store_request r0 = make_request(other, 0);
    assert_int_equal(store_request_add(s, &r0, &err), 0);

    size_t len;
    int rc;
    char *buf = export_table(s, "requests", run, &len, &rc, &err);
    assert_int_equal(rc, 0);
    csv_doc d = csv_parse(buf, len);
    static const char *const cols[] = {
        "run",     "id",          "function",  "scheduled_ns", "sent_ns",    "first_byte_ns",
        "done_ns", "status",      "http_code", "error",        "cold",       "instance",
        "init_ms", "duration_ms", "billed_ms", "memory_mb",    "batch_size", "batch_kind"};
    assert_int_equal(d.cols, (int)FM_ARRAY_LEN(cols));
    assert_int_equal(d.rows, n + 1);
    for (int c = 0; c < d.cols; c++)
        assert_string_equal(csv_at(&d, 0, c), cols[c]);
    for (int i = 0; i < n; i++) {
        int row = i + 1;
        store_request got = {
            .run = csv_i64(&d, row, 0),
            .id = csv_i64(&d, row, 1),
            .function = csv_at(&d, row, 2),
            .scheduled_ns = csv_i64(&d, row, 3),
            .sent_ns = csv_i64(&d, row, 4),
            .first_byte_ns = csv_i64(&d, row, 5),
            .done_ns = csv_i64(&d, row, 6),
            .status = csv_at(&d, row, 7),
            .http_code = (int)csv_i64(&d, row, 8),
            .error = csv_at(&d, row, 9),
            .cold = csv_i64(&d, row, 10) != 0,
            .instance = csv_i64(&d, row, 11),
            .init_ms = csv_double(&d, row, 12),
            .duration_ms = csv_double(&d, row, 13),
            .billed_ms = csv_double(&d, row, 14),
            .memory_mb = (int)csv_i64(&d, row, 15),
            .batch_size = (int)csv_i64(&d, row, 16),
            .batch_kind = csv_at(&d, row, 17),
        };
        store_request want = make_request(run, i);
        const char *diff = request_diff(&got, &want);
        if (diff)
            fail_msg("csv row %d: field '%s' differs", row, diff);
    }
    csv_free(&d);
    free(buf);

    /* every run: both runs' requests */
    buf = export_table(s, "requests", 0, &len, &rc, &err);
    assert_int_equal(rc, 0);
    d = csv_parse(buf, len);
    assert_int_equal(d.rows, n + 2);
    csv_free(&d);
    free(buf);

    /* the runs table, with the hostile name quoted */
    buf = export_table(s, "runs", run, &len, &rc, &err);
    assert_int_equal(rc, 0);
    d = csv_parse(buf, len);
    assert_int_equal(d.rows, 2);
    assert_string_equal(csv_at(&d, 0, 1), "name");
    assert_string_equal(csv_at(&d, 1, 1), "csv, \"the\" run\nwith lines");
    assert_string_equal(csv_at(&d, 0, 4), "config");
    assert_string_equal(csv_at(&d, 1, 4), "{\"a\":1}");
    csv_free(&d);
    free(buf);

    /* every other table exports with a header even when empty */
    static const char *const empty[] = {"instances", "costs", "points"};
    for (size_t t = 0; t < FM_ARRAY_LEN(empty); t++) {
        buf = export_table(s, empty[t], 0, &len, &rc, &err);
        assert_int_equal(rc, 0);
        d = csv_parse(buf, len);
        assert_int_equal(d.rows, 1);
        assert_string_equal(csv_at(&d, 0, 0), "run");
        csv_free(&d);
        free(buf);
    }

    buf = export_table(s, "nosuch", 0, &len, &rc, &err);
    assert_int_equal(rc, FM_EINVAL);
    assert_string_equal(err.msg,
                        "unknown table 'nosuch' (runs, requests, instances, costs, points)");
    assert_int_equal(len, 0);
    free(buf);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batched_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_during_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
