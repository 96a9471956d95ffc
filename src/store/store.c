/* The SQLite results store: schema, batched writes, reads and CSV export. */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The instance columns of the cold-start phases, "spawn_ms,...,warmup_ms,", one per FM_PHASE_MAP
 * entry. The columns themselves come from the migrations: a new phase needs one adding it. */
#define PHASE_COL(name, key, label) #key "_ms,"
#define PHASE_PARAM(name, key, label) "?,"
#define PHASE_COLUMNS FM_PHASE_MAP(PHASE_COL)
#define PHASE_PARAMS FM_PHASE_MAP(PHASE_PARAM)
_Static_assert(FM_PHASE__COUNT == 5, "a new cold-start phase needs a migration adding its column");

/* Statements, in the order of the stmt_sql table below. */
enum { ST_RUN_BEGIN, ST_RUN_END, ST_REQUEST, ST_INSTANCE, ST_COST, ST_POINT, ST__COUNT };

static const char *const stmt_sql[] = {
    [ST_RUN_BEGIN] =
        "INSERT INTO runs(name,mode,profile,config,seed,host,started_ns,ended_ns,status,"
        "writer) VALUES(?,?,?,?,?,?,?,?,?,?)",
    [ST_RUN_END] = "UPDATE runs SET ended_ns=?, status=? WHERE id=?",
    [ST_REQUEST] = "INSERT OR REPLACE INTO requests(run,id,function,scheduled_ns,sent_ns,"
                   "first_byte_ns,done_ns,status,http_code,error,cold,instance,init_ms,"
                   "duration_ms,billed_ms,memory_mb,batch_size,batch_kind)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_INSTANCE] = "INSERT OR REPLACE INTO instances(run,id,function,memory_mb,provisioned,"
                    "created_ns,ready_ns,stopped_ns," PHASE_COLUMNS "cold_path,stop_reason)"
                    " VALUES(?,?,?,?,?,?,?,?," PHASE_PARAMS "?,?)",
    [ST_COST] = "INSERT INTO costs(run,item,quantity,unit,unit_price,amount,currency,source)"
                " VALUES(?,?,?,?,?,?,?,?)",
    [ST_POINT] = "INSERT INTO points(run,function,t_ns,metric,value) VALUES(?,?,?,?,?)",
};
_Static_assert(FM_ARRAY_LEN(stmt_sql) == ST__COUNT, "statement table out of sync");

/* Schema migrations: entry i brings a database from version i to i+1. */
static const char *const migrations[] = {
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " mode TEXT NOT NULL CHECK(mode IN ('live','sim')), profile TEXT, config TEXT, seed INTEGER,"
    " host TEXT, started_ns INTEGER, ended_ns INTEGER, status TEXT);"
    "CREATE INDEX runs_name ON runs(name);"
    "CREATE TABLE requests(run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " id INTEGER NOT NULL, function TEXT, scheduled_ns INTEGER, sent_ns INTEGER,"
    " first_byte_ns INTEGER, done_ns INTEGER, status TEXT, http_code INTEGER, error TEXT,"
    " cold INTEGER, instance INTEGER, init_ms REAL, duration_ms REAL, billed_ms REAL,"
    " memory_mb INTEGER, batch_size INTEGER, batch_kind TEXT, PRIMARY KEY(run, id));"
    "CREATE TABLE instances(run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " id INTEGER NOT NULL, function TEXT, memory_mb INTEGER, provisioned INTEGER,"
    " created_ns INTEGER, ready_ns INTEGER, stopped_ns INTEGER, spawn_ms REAL,"
    " runtime_init_ms REAL, download_ms REAL, load_ms REAL, warmup_ms REAL, cold_path TEXT,"
    " stop_reason TEXT, PRIMARY KEY(run, id));"
    "CREATE TABLE costs(run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " item TEXT, quantity REAL, unit TEXT, unit_price REAL, amount REAL, currency TEXT,"
    " source TEXT);"
    "CREATE TABLE points(run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " function TEXT, t_ns INTEGER, metric TEXT, value REAL);"
    "CREATE INDEX points_run ON points(run, metric, t_ns);",
    /* 2: which process writes a run, so a run whose writer is gone can be told from a live one */
    "ALTER TABLE runs ADD COLUMN writer TEXT;",
};
_Static_assert(FM_ARRAY_LEN(migrations) == FM_STORE_SCHEMA_VERSION, "migrations out of sync");

struct store {
    sqlite3 *db;
    char *path; /* for messages */
    sqlite3_stmt *st[ST__COUNT];
    int pending;       /* rows written in the open transaction */
    int64_t txn_start; /* monotonic ns when the open write transaction began */
    int version;
    bool opening; /* messages get "cannot open results database 'path': " once, at the end */
};

/* Why: every failure names the database and what was being done, with SQLite's own words. */
static int db_fail(store *s, fm_err *err, const char *what)
{
    if (s->opening)
        return fm_err_set(err, FM_EIO, "%s: %s", what, sqlite3_errmsg(s->db));
    return fm_err_set(err, FM_EIO, "results database '%s': %s: %s", s->path, what,
                      sqlite3_errmsg(s->db));
}

/* Why: schema changes, transactions and pragmas are plain SQL with no rows to read. */
static int exec(store *s, const char *sql, const char *what, fm_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        const char *m = msg ? msg : sqlite3_errmsg(s->db);
        int rc = s->opening
                     ? fm_err_set(err, FM_EIO, "%s: %s", what, m)
                     : fm_err_set(err, FM_EIO, "results database '%s': %s: %s", s->path, what, m);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* Why: the store is the only owner of the schema; PRAGMA user_version says which migrations a
 * file has had. */
static int read_version(store *s, int *v, fm_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, err, "reading schema version");
    int rc = sqlite3_step(q);
    *v = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : db_fail(s, err, "reading schema version");
}

/* Why: brings an older file up to this version's schema and refuses a newer one (which this
 * version would misread). Several processes may open a fresh file at once, so the version is
 * read again under the write lock before migrating. */
static int migrate(store *s, fm_err *err)
{
    int v, rc = read_version(s, &v, err);
    if (!rc && v < FM_STORE_SCHEMA_VERSION) {
        rc = exec(s, "BEGIN IMMEDIATE", "locking for migration", err);
        if (!rc)
            rc = read_version(s, &v, err);
        for (; !rc && v < FM_STORE_SCHEMA_VERSION; v++) {
            char pragma[64], what[64];
            snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", v + 1);
            snprintf(what, sizeof what, "migrating to schema version %d", v + 1);
            rc = exec(s, migrations[v], what, err);
            if (!rc)
                rc = exec(s, pragma, what, err);
        }
        if (!rc)
            rc = exec(s, "COMMIT", "committing migration", err);
        if (rc && !sqlite3_get_autocommit(s->db))
            exec(s, "ROLLBACK", "rolling back migration", NULL);
    }
    if (rc)
        return rc;
    if (v > FM_STORE_SCHEMA_VERSION)
        return fm_err_set(err, FM_ESCHEMA,
                          "schema version %d is newer than this faasml supports (%d)", v,
                          FM_STORE_SCHEMA_VERSION);
    s->version = v;
    return 0;
}

/* Why: WAL lets readers open the file while a run writes and keeps every committed batch across
 * a crash; synchronous=NORMAL in WAL mode loses nothing on a process kill, only possibly the
 * last batches on power loss, at a fraction of FULL's cost. */
static int setup(store *s, fm_err *err)
{
    char *msg = NULL;
    int rc = 0;
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA foreign_keys=ON;",
                     NULL, NULL, &msg) != SQLITE_OK)
        rc = fm_err_set(err, FM_EIO, "%s", msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return rc ? rc : migrate(s, err);
}

/* Why: switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is
 * locked" at once, without its busy handler, while another process opens the same fresh file;
 * so setup is retried for as long as the busy timeout would have waited. */
static int setup_retrying(store *s, fm_err *err)
{
    int64_t deadline = fm_now_ns() + 10 * INT64_C(1000000000);
    for (int64_t pause = 1000000;; pause = FM_MIN(pause * 2, 50000000)) {
        int rc = setup(s, err);
        int code = sqlite3_errcode(s->db);
        if (!rc || (code != SQLITE_BUSY && code != SQLITE_LOCKED) || fm_now_ns() > deadline)
            return rc;
        fm_sleep_ns(pause);
    }
}

/* ---- runs whose writer is gone ----------------------------------------------------------------
 * A run's writer is recorded as "BOOT_ID PID START_TICKS": the boot, the process and its start
 * time (so a recycled pid is not taken for the writer). A run still `running` whose writer is not
 * that process on this boot was killed: opening the database marks it `interrupted`. */

/* Why: the boot id tells a pid of this boot from the same number before a reboot. */
static void boot_id(char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (!fgets(buf, (int)cap, f))
        buf[0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

/* Why: a process's start time in clock ticks since boot (field 22 of /proc/PID/stat) tells it
 * from a later process given the same pid. 0 when the process does not exist. */
static unsigned long long proc_start(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    unsigned long long start = 0;
    for (int field = 2; p && *p; p++) {
        if (*p != ' ')
            continue;
        if (++field == 22) {
            start = strtoull(p + 1, NULL, 10);
            break;
        }
    }
    return start;
}

static void writer_self(char *buf, size_t cap)
{
    char boot[64];
    boot_id(boot, sizeof boot);
    snprintf(buf, cap, "%s %ld %llu", boot[0] ? boot : "-", (long)getpid(),
             proc_start((long)getpid()));
}

/* Why: only a writer known to be gone may have its run marked; one this process cannot judge
 * (no writer recorded, an unreadable /proc) is left running. */
static bool writer_gone(const char *w)
{
    char boot[64], me[64];
    long pid;
    unsigned long long start;
    if (!w || sscanf(w, "%63s %ld %llu", boot, &pid, &start) != 3 || pid <= 0)
        return false;
    boot_id(me, sizeof me);
    if (!me[0] || strcmp(boot, "-") == 0)
        return false;
    if (strcmp(boot, me) != 0)
        return true;
    return proc_start(pid) != start;
}

/* Why: a killed writer never ends its run; the next open ends it, as `interrupted`, at the time
 * of its last recorded row (the start for simulated runs, whose rows are on a virtual clock). */
static int reap_interrupted(store *s, fm_err *err)
{
    static const char *const find_sql =
        "SELECT id, writer, mode, started_ns FROM runs WHERE status='running' AND writer IS NOT "
        "NULL";
    static const char *const last_sql =
        "SELECT MAX(t) FROM ("
        " SELECT MAX(MAX(COALESCE(scheduled_ns,0), COALESCE(sent_ns,0),"
        "  COALESCE(first_byte_ns,0), COALESCE(done_ns,0))) AS t FROM requests WHERE run=?1"
        " UNION ALL SELECT MAX(t_ns) FROM points WHERE run=?1"
        " UNION ALL SELECT MAX(MAX(COALESCE(created_ns,0), COALESCE(ready_ns,0),"
        "  COALESCE(stopped_ns,0))) FROM instances WHERE run=?1)";
    static const char *const mark_sql =
        "UPDATE runs SET status='interrupted', ended_ns=?1 WHERE id=?2 AND status='running'";
    sqlite3_stmt *find = NULL, *last = NULL, *mark = NULL;
    int rc = 0, n = 0;
    if (sqlite3_prepare_v2(s->db, find_sql, -1, &find, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, last_sql, -1, &last, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, mark_sql, -1, &mark, NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "looking for interrupted runs");
        goto out;
    }
    int64_t ids[64], ends[64];
    while (n < 64 && sqlite3_step(find) == SQLITE_ROW) {
        const char *w = (const char *)sqlite3_column_text(find, 1);
        if (!writer_gone(w))
            continue;
        int64_t id = sqlite3_column_int64(find, 0), end = sqlite3_column_int64(find, 3);
        const char *mode = (const char *)sqlite3_column_text(find, 2);
        if (mode && strcmp(mode, "live") == 0) {
            sqlite3_bind_int64(last, 1, id);
            if (sqlite3_step(last) == SQLITE_ROW)
                end = FM_MAX(end, sqlite3_column_int64(last, 0));
            sqlite3_reset(last);
        }
        ids[n] = id, ends[n++] = end;
    }
    sqlite3_reset(find);
    for (int i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(mark, 1, ends[i]);
        sqlite3_bind_int64(mark, 2, ids[i]);
        if (sqlite3_step(mark) != SQLITE_DONE)
            rc = db_fail(s, err, "marking interrupted runs");
        else if (sqlite3_changes(s->db))
            FM_INFO("store", "run %lld: its writer is gone; marked interrupted", (long long)ids[i]);
        sqlite3_reset(mark);
    }
out:
    sqlite3_finalize(find);
    sqlite3_finalize(last);
    sqlite3_finalize(mark);
    return rc;
}

/* Why: one call gives a ready store: file created or migrated, WAL on, statements
 * prepared; on failure nothing is left open. */
int store_open(const char *path, store **out, fm_err *err)
{
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return fm_err_set(err, FM_ENOMEM, "cannot open results database '%s': out of memory", path);
    }
    s->opening = true;
    int rc = 0;
    if (sqlite3_open(path, &s->db) != SQLITE_OK)
        rc = fm_err_set(err, FM_EIO, "%s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
    if (!rc) {
        sqlite3_busy_timeout(s->db, 10000);
        rc = setup_retrying(s, err);
    }
    for (int i = 0; !rc && i < ST__COUNT; i++)
        if (sqlite3_prepare_v2(s->db, stmt_sql[i], -1, &s->st[i], NULL) != SQLITE_OK)
            rc = db_fail(s, err, "preparing statements");
    if (!rc)
        rc = reap_interrupted(s, err);
    if (rc) {
        fm_err_prefix(err, "cannot open results database '%s': ", path);
        store_close(s);
        return rc;
    }
    s->opening = false;
    *out = s;
    return 0;
}

/* Why: SQLite is the source of truth for whether a write transaction is open; a failed statement
 * or COMMIT may have rolled it back, and a stale flag would then wedge every later write. */
static bool in_txn(store *s)
{
    return !sqlite3_get_autocommit(s->db);
}

/* Why: callers that need durability now (end of a phase, before a fork, tests) commit
 * the open batch without waiting for it to fill. */
int store_flush(store *s, fm_err *err)
{
    if (!in_txn(s)) {
        s->pending = 0;
        return 0;
    }
    int rc = exec(s, "COMMIT", "committing", err);
    if (!in_txn(s))
        s->pending = 0; /* committed, or rolled back by SQLite: either way a new batch starts */
    return rc;
}

/* Why: closing must not lose the open batch; a failure to commit it can only be logged here. */
void store_close(store *s)
{
    if (!s)
        return;
    fm_err err;
    if (s->db && store_flush(s, &err))
        FM_ERROR("store", "%s", err.msg);
    for (int i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* Why: tools report which schema a file has. */
int store_schema_version(store *s)
{
    return s->version;
}

/* Why: one transaction per row would cap a run at a few thousand requests per second; committing
 * in batches keeps writes cheap while bounding what a crash can lose to the last 200 ms. IMMEDIATE
 * takes the write lock up front, so a busy database waits in the busy handler instead of failing
 * halfway through a batch. */
static int begin_write(store *s, fm_err *err)
{
    if (in_txn(s))
        return 0;
    int rc = exec(s, "BEGIN IMMEDIATE", "starting a batch", err);
    if (!rc) {
        s->txn_start = fm_now_ns();
        s->pending = 0;
    }
    return rc;
}

/* Why: the batch commits when it is full or old, whichever comes first. */
static int end_write(store *s, fm_err *err)
{
    s->pending++;
    if (s->pending >= FM_STORE_BATCH || fm_now_ns() - s->txn_start > FM_STORE_BATCH_MS * 1000000LL)
        return store_flush(s, err);
    return 0;
}

/* Why: a NULL string is SQL NULL ("no error", "not stopped"), not the empty string. */
static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

/* Why: prepared statements are reused for every row; each use leaves them reset and unbound, and
 * a failure (a constraint, a full disk) fails only that row: the open batch goes on. */
static int step(store *s, sqlite3_stmt *q, fm_err *err, const char *what)
{
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(s, err, what);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc;
}

/* Why: results are only comparable with the machine they ran on; recorded by default. */
static void host_info(char *buf, size_t cap)
{
    struct utsname u;
    char q[4][200];
    if (uname(&u) != 0) {
        snprintf(buf, cap, "{}");
        return;
    }
    fm_json_quote(q[0], sizeof q[0], u.nodename);
    fm_json_quote(q[1], sizeof q[1], u.sysname);
    fm_json_quote(q[2], sizeof q[2], u.release);
    fm_json_quote(q[3], sizeof q[3], u.machine);
    snprintf(buf, cap, "{\"hostname\":%s,\"os\":%s,\"release\":%s,\"arch\":%s,\"cpus\":%ld}", q[0],
             q[1], q[2], q[3], sysconf(_SC_NPROCESSORS_ONLN));
}

/* Why: a run row is committed at once (not batched), so a reader sees a run as soon as it
 * starts and its requests can reference it. */
int store_run_begin(store *s, store_run *r, fm_err *err)
{
    if (!r->name)
        return fm_err_set(err, FM_EINVAL, "a run needs a name");
    if (!r->mode || (strcmp(r->mode, "live") && strcmp(r->mode, "sim")))
        return fm_err_set(err, FM_EINVAL, "run '%s': mode must be live or sim, not '%s'", r->name,
                          r->mode ? r->mode : "");
    char host[1024];
    if (!r->host)
        host_info(host, sizeof host);
    int rc = store_flush(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_RUN_BEGIN];
    bind_text(q, 1, r->name);
    bind_text(q, 2, r->mode);
    bind_text(q, 3, r->profile);
    bind_text(q, 4, r->config ? r->config : "{}");
    sqlite3_bind_int64(q, 5, (sqlite3_int64)r->seed);
    bind_text(q, 6, r->host ? r->host : host);
    sqlite3_bind_int64(q, 7, r->started_ns ? r->started_ns : fm_wall_ns());
    sqlite3_bind_int64(q, 8, r->ended_ns);
    bind_text(q, 9, r->status ? r->status : "running");
    char writer[128];
    writer_self(writer, sizeof writer);
    bind_text(q, 10, writer);
    if ((rc = step(s, q, err, "recording run")))
        return rc;
    r->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Why: ended_ns stays 0 for a run that was killed; an end marks a run complete. */
int store_run_end(store *s, int64_t run_id, int64_t ended_ns, const char *status, fm_err *err)
{
    int rc = store_flush(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_RUN_END];
    sqlite3_bind_int64(q, 1, ended_ns ? ended_ns : fm_wall_ns());
    bind_text(q, 2, status ? status : "done");
    sqlite3_bind_int64(q, 3, run_id);
    return step(s, q, err, "ending run");
}

/* Why: the hot path of a live run: a bound prepared statement inside the open batch. */
int store_request_add(store *s, const store_request *r, fm_err *err)
{
    int rc = begin_write(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_REQUEST];
    sqlite3_bind_int64(q, 1, r->run);
    sqlite3_bind_int64(q, 2, r->id);
    bind_text(q, 3, r->function);
    sqlite3_bind_int64(q, 4, r->scheduled_ns);
    sqlite3_bind_int64(q, 5, r->sent_ns);
    sqlite3_bind_int64(q, 6, r->first_byte_ns);
    sqlite3_bind_int64(q, 7, r->done_ns);
    bind_text(q, 8, r->status);
    sqlite3_bind_int(q, 9, r->http_code);
    bind_text(q, 10, r->error);
    sqlite3_bind_int(q, 11, r->cold);
    sqlite3_bind_int64(q, 12, r->instance);
    sqlite3_bind_double(q, 13, r->init_ms);
    sqlite3_bind_double(q, 14, r->duration_ms);
    sqlite3_bind_double(q, 15, r->billed_ms);
    sqlite3_bind_int(q, 16, r->memory_mb);
    sqlite3_bind_int(q, 17, r->batch_size);
    bind_text(q, 18, r->batch_kind);
    if ((rc = step(s, q, err, "recording request")))
        return rc;
    return end_write(s, err);
}

/* Why: an instance is written when it starts and again when it stops; (run, id)
 * replaces the earlier row. */
int store_instance_put(store *s, const store_instance *i, fm_err *err)
{
    int rc = begin_write(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_INSTANCE];
    sqlite3_bind_int64(q, 1, i->run);
    sqlite3_bind_int64(q, 2, i->id);
    bind_text(q, 3, i->function);
    sqlite3_bind_int(q, 4, i->memory_mb);
    sqlite3_bind_int(q, 5, i->provisioned);
    sqlite3_bind_int64(q, 6, i->created_ns);
    sqlite3_bind_int64(q, 7, i->ready_ns);
    sqlite3_bind_int64(q, 8, i->stopped_ns);
    for (int p = 0; p < FM_PHASE__COUNT; p++)
        sqlite3_bind_double(q, 9 + p, i->phase_ms[p]);
    bind_text(q, 9 + FM_PHASE__COUNT, i->cold_path);
    bind_text(q, 10 + FM_PHASE__COUNT, i->stop_reason);
    if ((rc = step(s, q, err, "recording instance")))
        return rc;
    return end_write(s, err);
}

/* Why: cost lines are itemised (GB-s, requests, instance-hours) so reports can show
 * where the money goes. */
int store_cost_add(store *s, const store_cost *c, fm_err *err)
{
    int rc = begin_write(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_COST];
    sqlite3_bind_int64(q, 1, c->run);
    bind_text(q, 2, c->item);
    sqlite3_bind_double(q, 3, c->quantity);
    bind_text(q, 4, c->unit);
    sqlite3_bind_double(q, 5, c->unit_price);
    sqlite3_bind_double(q, 6, c->amount);
    bind_text(q, 7, c->currency ? c->currency : "USD");
    bind_text(q, 8, c->source);
    if ((rc = step(s, q, err, "recording cost")))
        return rc;
    return end_write(s, err);
}

/* Why: time series (instances by state, queue depth) for plots of a run. */
int store_point_add(store *s, const store_point *p, fm_err *err)
{
    int rc = begin_write(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = s->st[ST_POINT];
    sqlite3_bind_int64(q, 1, p->run);
    bind_text(q, 2, p->function);
    sqlite3_bind_int64(q, 3, p->t_ns);
    bind_text(q, 4, p->metric);
    sqlite3_bind_double(q, 5, p->value);
    if ((rc = step(s, q, err, "recording time series")))
        return rc;
    return end_write(s, err);
}

/* Why: a rerun (`bench --force`) replaces a run; everything under it goes in one transaction, so
 * a reader never sees half a run. A run that does not exist is not an error. */
int store_run_delete(store *s, int64_t run_id, fm_err *err)
{
    int rc = store_flush(s, err);
    if (rc)
        return rc;
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN; DELETE FROM requests WHERE run=%lld; DELETE FROM instances WHERE run=%lld;"
             " DELETE FROM costs WHERE run=%lld; DELETE FROM points WHERE run=%lld;"
             " DELETE FROM runs WHERE id=%lld; COMMIT;",
             (long long)run_id, (long long)run_id, (long long)run_id, (long long)run_id,
             (long long)run_id);
    rc = exec(s, sql, "deleting run", err);
    if (rc && in_txn(s))
        exec(s, "ROLLBACK", "rolling back", NULL);
    return rc;
}

int store_import_function(store *s, int64_t dst_run, const char *src_path, int64_t src_run,
                          const char *function, const char *as, fm_err *err)
{
    int rc = store_flush(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "ATTACH DATABASE ? AS src", -1, &q, NULL) != SQLITE_OK)
        return db_fail(s, err, "attaching database");
    sqlite3_bind_text(q, 1, src_path, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(q) == SQLITE_DONE ? 0 : db_fail(s, err, "attaching database");
    sqlite3_finalize(q);
    if (rc)
        return fm_err_prefix(err, "'%s': ", src_path);
    static const char *const sql[] = {
        "INSERT OR REPLACE INTO instances(run,id,function,memory_mb,provisioned,created_ns,"
        "ready_ns,stopped_ns," PHASE_COLUMNS "cold_path,stop_reason) SELECT ?1,id,?2,memory_mb,"
        "provisioned,created_ns,ready_ns,stopped_ns," PHASE_COLUMNS "cold_path,stop_reason"
        " FROM src.instances WHERE run=?3 AND function=?4",
        "INSERT INTO points(run,function,t_ns,metric,value) SELECT ?1,?2,t_ns,metric,value"
        " FROM src.points WHERE run=?3 AND function=?4 ORDER BY rowid",
    };
    rc = exec(s, "BEGIN", "importing", err);
    for (size_t i = 0; !rc && i < FM_ARRAY_LEN(sql); i++) {
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &q, NULL) != SQLITE_OK) {
            rc = db_fail(s, err, "importing");
            break;
        }
        sqlite3_bind_int64(q, 1, dst_run);
        sqlite3_bind_text(q, 2, as ? as : function, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 3, src_run);
        sqlite3_bind_text(q, 4, function, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE)
            rc = db_fail(s, err, "importing");
        sqlite3_finalize(q);
    }
    if (rc)
        exec(s, "ROLLBACK", "importing", NULL);
    else
        rc = exec(s, "COMMIT", "importing", err);
    exec(s, "DETACH DATABASE src", "detaching", NULL);
    return rc;
}

/* ---- reads ----------------------------------------------------------------------------------- */

#define COL_TEXT(q, i) ((const char *)sqlite3_column_text((q), (i)))

/* Why: reads first commit the open batch, so a store always reads its own writes. */
static int query(store *s, const char *sql, int64_t run_id, sqlite3_stmt **q, fm_err *err)
{
    int rc = store_flush(s, err); /* readers see our own writes */
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, q, NULL) != SQLITE_OK)
        return db_fail(s, err, "reading");
    if (sqlite3_bind_parameter_count(*q) >= 1)
        sqlite3_bind_int64(*q, 1, run_id);
    return 0;
}

/* Why: a callback's stop value wins over the step result; a step error is reported. */
static int finish(store *s, sqlite3_stmt *q, int step_rc, int cb_rc, fm_err *err)
{
    sqlite3_finalize(q);
    if (cb_rc)
        return cb_rc;
    if (step_rc != SQLITE_DONE)
        return db_fail(s, err, "reading");
    return 0;
}

/* Why: one column order for every runs query (RUN_COLS). */
static void read_run(sqlite3_stmt *q, store_run *r)
{
    r->id = sqlite3_column_int64(q, 0);
    r->name = COL_TEXT(q, 1);
    r->mode = COL_TEXT(q, 2);
    r->profile = COL_TEXT(q, 3);
    r->config = COL_TEXT(q, 4);
    r->seed = (uint64_t)sqlite3_column_int64(q, 5);
    r->host = COL_TEXT(q, 6);
    r->started_ns = sqlite3_column_int64(q, 7);
    r->ended_ns = sqlite3_column_int64(q, 8);
    r->status = COL_TEXT(q, 9);
}

#define RUN_COLS "id,name,mode,profile,config,seed,host,started_ns,ended_ns,status"

/* Why: the walk shared by store_runs_each and store_run_get. */
static int runs_query(store *s, const char *sql, int64_t id, store_run_cb cb, void *ud, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = query(s, sql, id, &q, err), src, cb_rc = 0;
    if (rc)
        return rc;
    while (!cb_rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
        store_run r;
        read_run(q, &r);
        cb_rc = cb(&r, ud);
    }
    return finish(s, q, cb_rc ? SQLITE_DONE : src, cb_rc, err);
}

/* Why: the readers below walk rows through callbacks, so large runs are never held in
 * memory at once. */
int store_runs_each(store *s, store_run_cb cb, void *ud, fm_err *err)
{
    return runs_query(s, "SELECT " RUN_COLS " FROM runs ORDER BY id", 0, cb, ud, err);
}

int store_run_get(store *s, int64_t run_id, store_run_cb cb, void *ud, fm_err *err)
{
    return runs_query(s, "SELECT " RUN_COLS " FROM runs WHERE id=?", run_id, cb, ud, err);
}

/* Why: runs are named by people; the latest run of a name is the one they mean. */
int store_run_find(store *s, const char *name, int64_t *run_id, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = store_flush(s, err);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM runs WHERE name=? ORDER BY id DESC LIMIT 1", -1,
                           &q, NULL) != SQLITE_OK)
        return db_fail(s, err, "reading");
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(q, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = fm_err_set(err, FM_ENOTFOUND, "no run named '%s'", name);
    } else {
        rc = db_fail(s, err, "reading");
    }
    sqlite3_finalize(q);
    return rc;
}

int store_requests_each(store *s, int64_t run_id, store_request_cb cb, void *ud, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = query(s,
                   "SELECT run,id,function,scheduled_ns,sent_ns,first_byte_ns,done_ns,status,"
                   "http_code,error,cold,instance,init_ms,duration_ms,billed_ms,memory_mb,"
                   "batch_size,batch_kind FROM requests WHERE run=? ORDER BY id",
                   run_id, &q, err);
    if (rc)
        return rc;
    int src, cb_rc = 0;
    while (!cb_rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
        store_request r = {
            .run = sqlite3_column_int64(q, 0),
            .id = sqlite3_column_int64(q, 1),
            .function = COL_TEXT(q, 2),
            .scheduled_ns = sqlite3_column_int64(q, 3),
            .sent_ns = sqlite3_column_int64(q, 4),
            .first_byte_ns = sqlite3_column_int64(q, 5),
            .done_ns = sqlite3_column_int64(q, 6),
            .status = COL_TEXT(q, 7),
            .http_code = sqlite3_column_int(q, 8),
            .error = COL_TEXT(q, 9),
            .cold = sqlite3_column_int(q, 10) != 0,
            .instance = sqlite3_column_int64(q, 11),
            .init_ms = sqlite3_column_double(q, 12),
            .duration_ms = sqlite3_column_double(q, 13),
            .billed_ms = sqlite3_column_double(q, 14),
            .memory_mb = sqlite3_column_int(q, 15),
            .batch_size = sqlite3_column_int(q, 16),
            .batch_kind = COL_TEXT(q, 17),
        };
        cb_rc = cb(&r, ud);
    }
    return finish(s, q, cb_rc ? SQLITE_DONE : src, cb_rc, err);
}

int store_instances_each(store *s, int64_t run_id, store_instance_cb cb, void *ud, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = query(
        s,
        "SELECT run,id,function,memory_mb,provisioned,created_ns,ready_ns,stopped_ns," PHASE_COLUMNS
        "cold_path,stop_reason FROM instances WHERE run=? ORDER BY id",
        run_id, &q, err);
    if (rc)
        return rc;
    int src, cb_rc = 0;
    while (!cb_rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
        store_instance i = {
            .run = sqlite3_column_int64(q, 0),
            .id = sqlite3_column_int64(q, 1),
            .function = COL_TEXT(q, 2),
            .memory_mb = sqlite3_column_int(q, 3),
            .provisioned = sqlite3_column_int(q, 4) != 0,
            .created_ns = sqlite3_column_int64(q, 5),
            .ready_ns = sqlite3_column_int64(q, 6),
            .stopped_ns = sqlite3_column_int64(q, 7),
            .cold_path = COL_TEXT(q, 8 + FM_PHASE__COUNT),
            .stop_reason = COL_TEXT(q, 9 + FM_PHASE__COUNT),
        };
        for (int p = 0; p < FM_PHASE__COUNT; p++)
            i.phase_ms[p] = sqlite3_column_double(q, 8 + p);
        cb_rc = cb(&i, ud);
    }
    return finish(s, q, cb_rc ? SQLITE_DONE : src, cb_rc, err);
}

int store_costs_each(store *s, int64_t run_id, store_cost_cb cb, void *ud, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = query(s,
                   "SELECT run,item,quantity,unit,unit_price,amount,currency,source FROM costs"
                   " WHERE run=? ORDER BY rowid",
                   run_id, &q, err);
    if (rc)
        return rc;
    int src, cb_rc = 0;
    while (!cb_rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
        store_cost c = {
            .run = sqlite3_column_int64(q, 0),
            .item = COL_TEXT(q, 1),
            .quantity = sqlite3_column_double(q, 2),
            .unit = COL_TEXT(q, 3),
            .unit_price = sqlite3_column_double(q, 4),
            .amount = sqlite3_column_double(q, 5),
            .currency = COL_TEXT(q, 6),
            .source = COL_TEXT(q, 7),
        };
        cb_rc = cb(&c, ud);
    }
    return finish(s, q, cb_rc ? SQLITE_DONE : src, cb_rc, err);
}

int store_points_each(store *s, int64_t run_id, store_point_cb cb, void *ud, fm_err *err)
{
    sqlite3_stmt *q;
    int rc = query(s,
                   "SELECT run,function,t_ns,metric,value FROM points WHERE run=?"
                   " ORDER BY metric, t_ns, rowid",
                   run_id, &q, err);
    if (rc)
        return rc;
    int src, cb_rc = 0;
    while (!cb_rc && (src = sqlite3_step(q)) == SQLITE_ROW) {
        store_point p = {
            .run = sqlite3_column_int64(q, 0),
            .function = COL_TEXT(q, 1),
            .t_ns = sqlite3_column_int64(q, 2),
            .metric = COL_TEXT(q, 3),
            .value = sqlite3_column_double(q, 4),
        };
        cb_rc = cb(&p, ud);
    }
    return finish(s, q, cb_rc ? SQLITE_DONE : src, cb_rc, err);
}

/* ---- CSV ------------------------------------------------------------------------------------- */

const char *const store_tables[] = {"runs", "requests", "instances", "costs", "points", NULL};

/* How each exportable table is filtered by run and ordered: by key where it has one, else in
 * insertion order. */
static const struct {
    const char *table, *run_col, *order;
} csv_tables[] = {
    {"runs", "id", "id"},
    {"requests", "run", "run, id"},
    {"instances", "run", "run, id"},
    {"costs", "run", "run, rowid"},
    {"points", "run", "run, rowid"},
};
_Static_assert(FM_ARRAY_LEN(csv_tables) + 1 == FM_ARRAY_LEN(store_tables),
               "csv tables out of sync");

/* Why: RFC 4180 quoting, so spreadsheets and CSV readers get commas, quotes and newlines in error
 * text back unchanged. NULL is an empty field and the empty string is "", so the two stay apart. */
static void csv_field(FILE *out, const char *v)
{
    if (!v)
        return;
    if (*v && !strpbrk(v, ",\"\r\n")) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', out);
        fputc(*v, out);
    }
    fputc('"', out);
}

/* Why: CSV is how results leave faasml for other tools; columns are the table's own, so the
 * export follows the schema without a second list to keep in sync. */
int store_export_csv(store *s, const char *table, int64_t run_id, FILE *out, fm_err *err)
{
    size_t t = 0;
    while (t < FM_ARRAY_LEN(csv_tables) && strcmp(csv_tables[t].table, table) != 0)
        t++;
    if (t == FM_ARRAY_LEN(csv_tables))
        return fm_err_set(err, FM_EINVAL,
                          "unknown table '%s' (runs, requests, instances, costs, points)", table);
    char sql[160];
    if (run_id)
        snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE %s=? ORDER BY %s", table,
                 csv_tables[t].run_col, csv_tables[t].order);
    else
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", table, csv_tables[t].order);
    sqlite3_stmt *q;
    int rc = query(s, sql, run_id, &q, err);
    if (rc)
        return rc;
    int ncol = sqlite3_column_count(q);
    for (int c = 0; c < ncol; c++) {
        if (c)
            fputc(',', out);
        csv_field(out, sqlite3_column_name(q, c));
    }
    fputs("\r\n", out);
    int src;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++) {
            if (c)
                fputc(',', out);
            if (sqlite3_column_type(q, c) == SQLITE_FLOAT) {
                char num[40];
                snprintf(num, sizeof num, "%.17g", sqlite3_column_double(q, c));
                fputs(num, out);
            } else {
                csv_field(out, COL_TEXT(q, c));
            }
        }
        fputs("\r\n", out);
    }
    rc = finish(s, q, src, 0, err);
    if (!rc && (fflush(out) != 0 || ferror(out)))
        rc = fm_err_set(err, FM_EIO, "cannot write the CSV of '%s': %s", table, strerror(errno));
    return rc;
}
