/* The executor of `faasml bench`: every cell of the matrix, live on this machine's platform or
 * simulated, into one results database. */
#include "core/http.h"
#include "plan.h"

#include "cost/cost.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a platform to run on ------------------------------------------------------------------ */

typedef struct gateway {
    char url[256];
    pid_t pid;          /* > 0 when we started it */
    char db[4096];      /* the platform's own database (instances, time series) */
    int64_t run;        /* the platform's run in it */
    char pidfile[4200]; /* the platform's pid, for a rerun after a crash */
    char log[PATH_MAX]; /* its stderr and instance log (absolute), "" for a --gateway */
} gateway;

static void gateway_stop(gateway *g);

/* Why: a platform left by a bench that was killed before PR_SET_PDEATHSIG existed, or one whose
 * pid file outlived a reboot, must not keep writing into this results database. The pid file
 * names the platform's process group; it is killed only while its command line still names
 * this database, so a recycled pid is never touched. */
static void gateway_kill_stale(const char *pidfile, const char *db)
{
    char *txt = NULL;
    size_t len;
    int64_t pid;
    if (fm_read_file(pidfile, &txt, &len, NULL))
        return;
    txt[strcspn(txt, "\n")] = 0;
    if (!fm_parse_i64(txt, &pid) && pid > 1 && pid < INT32_MAX) {
        char path[64], *cmd = NULL;
        size_t n = 0;
        snprintf(path, sizeof path, "/proc/%lld/cmdline", (long long)pid);
        if (!fm_read_file(path, &cmd, &n, NULL)) {
            bool ours = false;
            for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
                ours |= strcmp(cmd + i, db) == 0;
            if (ours) {
                FM_WARN("bench", "stopping a stale platform (pid %lld) left on '%s'",
                        (long long)pid, db);
                kill(-(pid_t)pid, SIGKILL);
                kill((pid_t)pid, SIGKILL);
            }
            free(cmd);
        }
    }
    free(txt);
    unlink(pidfile);
}

/* Why: the platform runs as its own process (`faasml serve`), exactly as a user runs it, and
 * records into its own database file so its writes never contend with the load generator's. It
 * lives in its own process group and dies with the bench (PR_SET_PDEATHSIG), and its instances
 * die with it, so a killed bench leaves nothing running. */
static int gateway_start(gateway *g, const char *exe, const char *results, fm_err *err)
{
    snprintf(g->db, sizeof g->db, "%s.platform.db", results);
    snprintf(g->pidfile, sizeof g->pidfile, "%s.platform.pid", results);
    gateway_kill_stale(g->pidfile, g->db);
    char logp[4200];
    snprintf(logp, sizeof logp, "%s.platform.log", results);
    int out[2];
    if (pipe(out) != 0)
        return fm_err_set(err, -errno, "cannot start the platform: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(out[0]);
        close(out[1]);
        return fm_err_set(err, -errno, "cannot start the platform: %s", strerror(errno));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the bench died before the line above */
            _exit(127);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lf >= 0)
            dup2(lf, 2);
        setpgid(0, 0);
        execl(exe, exe, "serve", "--listen", "127.0.0.1:0", "--db", g->db, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* both sides, so the group exists before either goes on */
    close(out[1]);
    g->pid = pid;
    char pidtxt[32];
    int pn = snprintf(pidtxt, sizeof pidtxt, "%d\n", (int)pid);
    fm_write_file_atomic(g->pidfile, pidtxt, (size_t)pn, NULL);
    char line[512];
    size_t n = 0;
    int64_t deadline = fm_now_ns() + 60000000000LL;
    while (n < sizeof line - 1) {
        struct pollfd pf = {out[0], POLLIN, 0};
        int left = (int)((deadline - fm_now_ns()) / 1000000);
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            break;
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0)
            break;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    close(out[0]); /* later stdout lines go nowhere: serve writes them to its log */
    const char *pfx = "listening on ";
    if (strncmp(line, pfx, strlen(pfx)) != 0) {
        gateway_stop(g);
        return fm_err_set(err, FM_EIO, "the platform did not start (see '%s'): '%s'", logp, line);
    }
    snprintf(g->url, sizeof g->url, "%s", line + strlen(pfx));
    if (!realpath(logp, g->log))
        g->log[0] = 0;
    return 0;
}

/* A live run's configuration names the platform's log, so `faasml logs FUNCTION --db RESULTS`
 * finds it (the function is the run's name, run_function_name). Takes cfg; returns the new text,
 * or cfg when there is nothing to add or no memory. */
static char *config_with_log(char *cfg, const gateway *g)
{
    cJSON *o = g->log[0] && cfg ? cJSON_Parse(cfg) : NULL;
    char *out = NULL;
    if (o && cJSON_AddStringToObject(o, "log", g->log))
        out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!out)
        return cfg;
    free(cfg);
    return out;
}

/* Why: SIGTERM lets the platform drain and flush its database; whatever is left of its process
 * group afterwards (or all of it, past 15 s) is killed, so nothing outlives the bench. */
static void gateway_stop(gateway *g)
{
    if (g->pid <= 0)
        return;
    kill(g->pid, SIGTERM);
    bool exited = false;
    for (int i = 0; i < 1500 && !exited; i++) {
        exited = waitpid(g->pid, NULL, WNOHANG) == g->pid;
        if (!exited)
            fm_sleep_ns(10000000);
    }
    kill(-g->pid, SIGKILL);
    if (!exited)
        waitpid(g->pid, NULL, 0);
    unlink(g->pidfile);
    g->pid = 0;
}

/* One admin call; returns the HTTP status (or a negative code) and the body in *resp. */
static long http(const char *method, const char *url, const char *body, char **resp)
{
    fm_http_req q = {.method = method,
                     .url = url,
                     .body = body,
                     .len = body ? strlen(body) : 0,
                     .headers = (const char *const[]){"Content-Type: application/json", NULL},
                     .timeout_ns = 120 * INT64_C(1000000000)};
    fm_http_reply r;
    long code = fm_http_call(&q, &r, NULL) ? FM_EIO : r.status;
    if (resp)
        *resp = fm_buf_take(&r.body);
    fm_http_reply_release(&r);
    return code;
}

/* Why: provisioned instances must finish their init before the load starts, or the first
 * requests measure the provisioning; the admin API says how many are ready. */
static int wait_ready(const gateway *g, const char *fn, int want, int64_t timeout_ns, fm_err *err)
{
    char url[512];
    snprintf(url, sizeof url, "%s/admin/functions/%s", g->url, fn);
    int64_t deadline = fm_now_ns() + timeout_ns;
    int ready = 0;
    for (;;) {
        char *resp = NULL;
        long code = http("GET", url, NULL, &resp);
        cJSON *o = code == 200 && resp ? cJSON_Parse(resp) : NULL;
        free(resp);
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(o, "instances");
        const cJSON *idle = cJSON_GetObjectItemCaseSensitive(inst, "idle");
        const cJSON *busy = cJSON_GetObjectItemCaseSensitive(inst, "busy");
        ready = (cJSON_IsNumber(idle) ? idle->valueint : 0) +
                (cJSON_IsNumber(busy) ? busy->valueint : 0);
        cJSON_Delete(o);
        if (ready >= want)
            return 0;
        if (fm_now_ns() > deadline)
            return fm_err_set(err, FM_ETIMEOUT,
                              "function '%s': %d of %d provisioned instances ready after %.0f s",
                              fn, ready, want, (double)timeout_ns / 1e9);
        fm_sleep_ns(50000000);
    }
}

/* ---- live runs ------------------------------------------------------------------------------ */

static char *abspath(const char *p)
{
    char r[PATH_MAX];
    return realpath(p, r) ? strdup(r) : NULL;
}

/* The platform's function spec for a run (the admin API's JSON form). */
static char *deploy_json(const plan_run *r, const char *fn, fm_err *err)
{
    const policy_config *c = &r->policy;
    /* int8 is a label for a quantized file: the model's int8_path, deployed at that precision */
    bool int8 = strcmp(r->precision, "int8") == 0;
    const char *path = int8 ? r->model->int8_path : r->model->path;
    if (!path)
        return fm_err_set(err, FM_EINVAL,
                          int8 ? "model '%s' has no int8_path (a quantized copy: faasml quantize)"
                               : "model '%s' has no path",
                          r->model->name),
               NULL;
    if (strcmp(r->precision, "fp32") != 0 && strcmp(r->runtime, "faasml") != 0)
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "runtime '%s' runs only at precision 'fp32', not '%s'", r->runtime,
                          r->precision),
               NULL;
    char *model = abspath(path);
    if (!model) {
        fm_err_set(err, FM_ENOTFOUND,
                   "model '%s': '%s' not found (make models exports the study's models)",
                   r->model->name, path);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", fn);
    cJSON_AddStringToObject(o, "profile", policy_profile_name(r->platform->profile));
    cJSON_AddNumberToObject(o, "memory_mb", r->memory_mb);
    cJSON_AddNumberToObject(o, "timeout_s", c->fn.timeout_ns > 0 ? c->fn.timeout_ns / 1e9 : 60);
    cJSON_AddNumberToObject(o, "provisioned_concurrency", r->provisioned);
    if (c->inst.keep_alive_ns > 0)
        cJSON_AddNumberToObject(o, "keep_alive_s", c->inst.keep_alive_ns / 1e9);
    if (r->platform->entry) /* else the platform takes the profile's default entry, as we did */
        cJSON_AddStringToObject(o, "platform", r->platform->entry);
    /* the spec's policy overrides as written, then the cell's fleet size on top */
    char *pj = r->platform->policy ? fm_ynode_to_json(r->platform->policy) : NULL;
    cJSON *pol = pj ? cJSON_Parse(pj) : cJSON_CreateObject();
    free(pj);
    if (r->platform->instances > 0 && pol) {
        cJSON *inst = cJSON_GetObjectItemCaseSensitive(pol, "inst");
        if (!cJSON_IsObject(inst)) {
            cJSON_DeleteItemFromObjectCaseSensitive(pol, "inst");
            inst = cJSON_AddObjectToObject(pol, "inst");
        }
        cJSON_DeleteItemFromObjectCaseSensitive(inst, "max");
        cJSON_AddNumberToObject(inst, "max", r->platform->instances);
        if (r->platform->profile == POLICY_PROFILE_SERVER) {
            cJSON_DeleteItemFromObjectCaseSensitive(inst, "min");
            cJSON_AddNumberToObject(inst, "min", r->platform->instances);
        }
    }
    if (pol && cJSON_GetArraySize(pol) > 0)
        cJSON_AddItemToObject(o, "policy", pol);
    else
        cJSON_Delete(pol);
    if (r->batch > 1) {
        cJSON *b = cJSON_AddObjectToObject(o, "batch");
        cJSON_AddNumberToObject(b, "max_size", r->batch);
        cJSON_AddNumberToObject(b, "max_delay_ms", r->platform->batch_delay_ns / 1e6);
    }
    if (strcmp(r->runtime, "faasml") == 0) {
        cJSON_AddStringToObject(o, "runtime", "builtin-onnx");
        cJSON_AddStringToObject(o, "model", model);
        if (strcmp(r->precision, "fp32") != 0)
            cJSON_AddStringToObject(o, "precision", r->precision);
    } else if (strcmp(r->runtime, "python-torch") == 0) {
        char *boot = abspath("examples/runtimes/python-torch/bootstrap");
        if (!boot) {
            fm_err_set(err, FM_ENOTFOUND,
                       "runtime 'python-torch': examples/runtimes/python-torch/bootstrap not "
                       "found (run from the faasml source tree)");
            free(model);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddStringToObject(o, "runtime", "custom");
        cJSON_AddStringToObject(o, "bootstrap", boot);
        cJSON *env = cJSON_AddObjectToObject(o, "environment");
        cJSON_AddStringToObject(env, "FAASML_MODEL", model);
        free(boot);
    } else {
        fm_err_set(err, FM_EUNSUPPORTED, "runtime '%s' cannot run live on this machine",
                   r->runtime);
        free(model);
        cJSON_Delete(o);
        return NULL;
    }
    free(model);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

typedef struct sink {
    store *db;
    int64_t run_id, wall_off, t0; /* wall - monotonic; the run's monotonic start */
    const char *function;
    fm_err err;
    int errors;
} sink;

static void on_record(const load_record *r, void *ud)
{
    sink *k = ud;
    if (k->errors)
        return;
    store_request q;
    load_record_to_store(r, k->run_id, k->function, k->wall_off + k->t0, &q);
    if (store_request_add(k->db, &q, &k->err))
        k->errors++;
}

static int latest_run_cb(const store_run *r, void *ud)
{
    *(int64_t *)ud = r->id;
    return 0;
}

typedef struct inst_count {
    const char *fn;
    int total, open;
} inst_count;

static int count_inst(const store_instance *i, void *ud)
{
    inst_count *c = ud;
    if (strcmp(i->function, c->fn) == 0) {
        c->total++;
        c->open += i->stopped_ns == 0;
    }
    return 0;
}

/* Why: the platform commits its records in batches; once every instance of the deleted function
 * shows a stop time in its database, everything it will record about the run is there. */
static int wait_platform_records(gateway *g, const char *fn, fm_err *err)
{
    store *pdb;
    int rc = store_open(g->db, &pdb, err);
    if (rc)
        return rc;
    if (!g->run)
        rc = store_runs_each(pdb, latest_run_cb, &g->run, err);
    for (int i = 0; !rc && i < 100; i++) {
        inst_count c = {fn, 0, 0};
        rc = store_instances_each(pdb, g->run, count_inst, &c, err);
        if (rc || (c.total > 0 && c.open == 0))
            break;
        fm_sleep_ns(100000000);
    }
    store_close(pdb);
    return rc;
}

/* The longest function name the platform takes (its PLATFORM_NAME_MAX; the bench reaches the
 * platform over HTTP only, as a user does). */
#define FN_NAME_MAX 64

/* Why: the function a run deploys is what `faasml logs` and the platform's metrics name, so it
 * is the run's name in the platform's alphabet ("quick/lambda/live" -> "quick-lambda-live"); a
 * name longer than the platform allows keeps its head and a hash of the whole. Run names are
 * unique in a matrix, so two runs never share a function. */
static void run_function_name(const char *run, char *out, size_t cap)
{
    size_t n = strlen(run), keep = n < FN_NAME_MAX ? n : FN_NAME_MAX - 9;
    if (cap <= FN_NAME_MAX)
        keep = 0;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)run[i];
        out[i] = (isalnum(c) || c == '-' || c == '_') ? (char)c : '-';
    }
    out[keep] = 0;
    if (keep < n) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)run[i]) * 16777619u;
        snprintf(out + keep, cap - keep, "-%08x", h);
    }
}

static int run_live(const plan_spec *s, const plan_run *r, gateway *g, store *db, int64_t run_id,
                    volatile int *stop, char *msg, size_t msgcap, fm_err *err)
{
    char fn[FN_NAME_MAX + 1], url[512], *resp = NULL;
    run_function_name(r->name, fn, sizeof fn);
    char *spec = deploy_json(r, fn, err);
    if (!spec)
        return err->code;
    snprintf(url, sizeof url, "%s/admin/functions", g->url);
    long code = http("POST", url, spec, &resp);
    free(spec);
    if (code < 200 || code >= 300) {
        int rc = fm_err_set(err, FM_EIO, "deploying '%s' failed (HTTP %ld): %.200s", r->name, code,
                            resp ? resp : "no answer");
        free(resp);
        return rc;
    }
    free(resp);
    if (r->provisioned > 0) { /* provisioned instances finish their init before load starts */
        int rc = wait_ready(g, fn, r->provisioned, 120 * INT64_C(1000000000), err);
        if (rc) {
            snprintf(url, sizeof url, "%s/admin/functions/%s", g->url, fn);
            http("DELETE", url, NULL, NULL);
            return rc;
        }
    }
    load_arrival *arr;
    load_spec w = r->workload->spec;
    w.seed = s->seed;
    int rc = load_arrival_new(&w, &arr, err);
    if (rc)
        goto undeploy;
    load_payloads *pl;
    char tensor[160];
    snprintf(tensor, sizeof tensor, "%s:%s:%s", r->model->input, r->model->shape,
             r->model->datatype);
    size_t header_len = 0;
    char hl[64];
    const char *headers[] = {hl};
    rc = r->model->binary ? load_payloads_tensor_binary(tensor, s->seed, &pl, &header_len, err)
                          : load_payloads_tensor(tensor, s->seed, &pl, err);
    if (rc) {
        load_arrival_free(arr);
        goto undeploy;
    }
    load_target t = {.url = url, .lambda_log_tail = true};
    if (r->model->binary) { /* the gateway's v2 route answers Tail logs as Invoke does */
        snprintf(url, sizeof url, "%s/v2/models/%s/infer", g->url, fn);
        snprintf(hl, sizeof hl, "Inference-Header-Content-Length: %zu", header_len);
        t.content_type = "application/octet-stream";
        t.headers = headers;
        t.nheaders = 1;
    } else {
        snprintf(url, sizeof url, "%s/2015-03-31/functions/%s/invocations", g->url, fn);
    }
    sink k = {.db = db, .run_id = run_id, .function = r->model->name};
    load_run_opts lo = {.max_in_flight = 1000,
                        .timeout_ns = s->client_timeout_ns,
                        .record = on_record,
                        .ud = &k,
                        .stop = (volatile sig_atomic_t *)stop,
                        .t0_out = &k.t0};
    k.wall_off = fm_wall_ns() - fm_now_ns();
    load_summary sum;
    rc = load_run(arr, &t, pl, &lo, &sum, err);
    load_arrival_free(arr);
    load_payloads_free(pl);
    if (!rc) {
        snprintf(msg, msgcap, "%llu requests, success ratio %.3f, p50 %.1f ms, p99 %.1f ms",
                 (unsigned long long)sum.total, sum.success_ratio,
                 (double)fm_hist_quantile(sum.lat_sched, 0.5) / 1e6,
                 (double)fm_hist_quantile(sum.lat_sched, 0.99) / 1e6);
        load_summary_release(&sum);
        if (k.errors)
            rc = fm_err_set(err, k.err.code, "%s", k.err.msg);
    }
undeploy:
    snprintf(url, sizeof url, "%s/admin/functions/%s", g->url, fn);
    http("DELETE", url, NULL, NULL);
    if (!rc && g->pid > 0) {
        rc = wait_platform_records(g, fn, err);
        if (!rc)
            rc = store_import_function(db, run_id, g->db, g->run, fn, r->model->name, err);
    }
    return rc;
}

/* ---- simulated runs ------------------------------------------------------------------------- */

static int run_sim(const plan_spec *s, const plan_run *r, store *db, int64_t *run_id,
                   volatile int *stop, char *msg, size_t msgcap, fm_err *err)
{
    sim_function f;
    int rc = plan_sim_function(s, r, s->sim_scale, &f, err);
    if (rc)
        return rc;
    char *cfg = plan_run_config_json(s, r);
    sim_opts o = plan_sim_opts(s, r, db, cfg);
    o.stop = stop;
    /* bill simulated invocations on the catalogue, as the analyzer prices them (INIT included
     * where the offer bills it); without a catalogue the simulator rounds execution time only */
    cost_catalog *prices = NULL;
    char pfound[4096];
    const char *ppath = getenv("FAASML_PRICES");
    if (!ppath)
        ppath = fm_data_file("prices.yaml", pfound, sizeof pfound);
    if (ppath && cost_catalog_load(ppath, &prices, err)) {
        fm_err_clear(err);
        prices = NULL;
    }
    o.prices = prices;
    sim_result res;
    rc = sim_run(&f, 1, &o, &res, err);
    cost_catalog_free(prices);
    free(cfg);
    if (!rc) {
        const sim_fn_result *fr = &res.fn[0];
        *run_id = res.run_id;
        snprintf(msg, msgcap,
                 "%llu requests, %llu ok, p50 %.1f ms, p99 %.1f ms, %llu cold starts (%.2f s)",
                 (unsigned long long)fr->arrivals, (unsigned long long)fr->ok,
                 (double)fm_hist_quantile(fr->latency, 0.5) / 1e6,
                 (double)fm_hist_quantile(fr->latency, 0.99) / 1e6,
                 (unsigned long long)fr->cold_starts, res.wall_s);
    }
    sim_result_release(&res);
    return rc;
}

/* ---- the matrix ----------------------------------------------------------------------------- */

typedef struct found {
    int64_t id;
    char status[32];
} found;

static int run_status_cb(const store_run *r, void *ud)
{
    found *f = ud;
    f->id = r->id;
    snprintf(f->status, sizeof f->status, "%s", r->status ? r->status : "");
    return 0;
}

/* Seconds a run is expected to take, for the progress line's estimate. */
static double estimate_s(const plan_run *r)
{
    if (r->mode == PLAN_SIM)
        return 1;
    const load_spec *w = &r->workload->spec;
    double rate = w->rate;
    if (w->process == LOAD_PROC_MMPP) {
        load_mmpp_info mi;
        if (load_mmpp_analyze(&w->mmpp, &mi, NULL) == 0)
            rate = mi.mean_rate;
    }
    double span = w->duration_ns ? (double)w->duration_ns / 1e9 : 0;
    if (w->requests && rate > 0) {
        double by_count = (double)w->requests / rate;
        span = span > 0 && span < by_count ? span : by_count;
    }
    return (span > 0 ? span : 30) + 5;
}

static void note(const plan_bench_opts *o, plan_bench_ev ev, const plan_run *r, size_t i, size_t n,
                 double eta, const char *msg)
{
    if (o->progress) {
        plan_bench_progress p = {ev, r, i, n, eta, msg};
        o->progress(&p, o->ud);
    }
}

int plan_bench_run(const plan_spec *s, const plan_bench_opts *o, store *db, plan_bench_summary *out,
                   fm_err *err)
{
    memset(out, 0, sizeof *out);
    plan_run *runs;
    size_t n;
    int rc = plan_matrix(s, &runs, &n, err);
    if (rc)
        return rc;
    out->run_ids = calloc(n, sizeof *out->run_ids);
    if (!out->run_ids) {
        free(runs);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int modes = o->modes ? o->modes : PLAN_LIVE | PLAN_SIM;
    /* a cell runs when its mode is asked for and, with a list, when the list names it */
    for (size_t i = 0; i < n; i++) {
        bool listed = !o->only;
        for (size_t k = 0; !listed && k < o->n_only; k++)
            listed = strcmp(o->only[k], runs[i].name) == 0;
        if (!listed)
            runs[i].mode = 0;
    }
    double eta = 0;
    for (size_t i = 0; i < n; i++)
        if (runs[i].mode & modes)
            eta += estimate_s(&runs[i]);
    gateway g = {0};
    char exe[PATH_MAX];
    if (o->self_exe)
        snprintf(exe, sizeof exe, "%s", o->self_exe);
    else {
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[l > 0 ? l : 0] = 0;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        plan_run *r = &runs[i];
        if (!(r->mode & modes))
            continue;
        if (o->stop && *o->stop) {
            out->interrupted++;
            continue;
        }
        double est = estimate_s(r);
        found f = {0};
        int64_t prev;
        if (store_run_find(db, r->name, &prev, NULL) == 0 &&
            store_run_get(db, prev, run_status_cb, &f, err) == 0) {
            if (strcmp(f.status, "done") == 0 && !o->force) {
                out->run_ids[out->n_run_ids++] = f.id;
                out->skipped++;
                eta -= est;
                note(o, PLAN_EV_SKIP, r, i, n, eta, "already complete (--force redoes it)");
                continue;
            }
            if ((rc = store_run_delete(db, f.id, err)))
                break;
        }
        note(o, PLAN_EV_START, r, i, n, eta, NULL);
        char msg[300] = "", *cfg = plan_run_config_json(s, r);
        fm_err rerr = {0};
        int64_t id = 0;
        int rrc;
        if (r->mode == PLAN_SIM) {
            rrc = run_sim(s, r, db, &id, o->stop, msg, sizeof msg, &rerr);
        } else {
            rrc = 0;
            if (!g.url[0]) {
                if (o->gateway)
                    snprintf(g.url, sizeof g.url, "%s", o->gateway);
                else
                    rrc = gateway_start(&g, exe, s->results, &rerr);
            }
            if (!rrc) {
                cfg = config_with_log(cfg, &g);
                store_run run = {.name = r->name,
                                 .mode = "live",
                                 .profile = policy_profile_name(r->platform->profile),
                                 .config = cfg,
                                 .seed = s->seed,
                                 .status = "running"};
                rrc = store_run_begin(db, &run, &rerr);
                id = run.id;
                if (!rrc)
                    rrc = run_live(s, r, &g, db, id, o->stop, msg, sizeof msg, &rerr);
                if (id) {
                    const char *st = rrc                     ? "failed"
                                     : (o->stop && *o->stop) ? "interrupted"
                                                             : "done";
                    store_run_end(db, id, 0, st, NULL);
                }
            }
        }
        free(cfg);
        eta -= est;
        if (id)
            out->run_ids[out->n_run_ids++] = id;
        if (rrc) {
            out->failed++;
            note(o, PLAN_EV_FAIL, r, i, n, eta, rerr.msg);
        } else if (o->stop && *o->stop) {
            out->interrupted++;
            note(o, PLAN_EV_FAIL, r, i, n, eta, "interrupted");
        } else {
            out->done++;
            note(o, PLAN_EV_DONE, r, i, n, eta, msg);
        }
        if ((rc = store_flush(db, err)))
            break;
    }
    gateway_stop(&g);
    free(runs);
    return rc;
}

void plan_bench_summary_release(plan_bench_summary *s)
{
    free(s->run_ids);
    memset(s, 0, sizeof *s);
}
