/* faasml calibrate: measure the built-in runtime on this machine for the simulator. */
#include <cjson/cJSON.h>

#include "calib/calib.h"
#include "cli.h"
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += strspn(c + 1, " ") + 1;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, cap, "%s", c);
            }
            break;
        }
    if (f)
        fclose(f);
    for (char *p = buf; *p; p++)
        if (*p == '"' || *p == '\\')
            *p = ' ';
}

typedef struct run_cfg {
    char model[128], runtime[64], precision[8];
} run_cfg;

/* The model and runtime a bench run recorded in its configuration. */
static int read_cfg(const store_run *r, void *ud)
{
    run_cfg *c = ud;
    cJSON *j = cJSON_Parse(r->config ? r->config : "{}");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(j, "runtime");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "precision");
    if (cJSON_IsString(m) && !c->model[0])
        snprintf(c->model, sizeof c->model, "%s", m->valuestring);
    if (cJSON_IsString(rt) && !c->runtime[0])
        snprintf(c->runtime, sizeof c->runtime, "%s", rt->valuestring);
    if (cJSON_IsString(pr) && !c->precision[0])
        snprintf(c->precision, sizeof c->precision, "%s", pr->valuestring);
    cJSON_Delete(j);
    return 0;
}

typedef struct live_runs {
    int64_t ids[256];
    int n;
} live_runs;

static int collect_live(const store_run *r, void *ud)
{
    live_runs *l = ud;
    if (strcmp(r->mode, "live") == 0 && r->status && strcmp(r->status, "done") == 0 && l->n < 256)
        l->ids[l->n++] = r->id;
    return 0;
}

int cmd_calibrate(int argc, char **argv)
{
    cli_strlist models = {0}, refs = {0};
    const char *from_db = NULL, *from_run = NULL, *as_model = NULL, *as_runtime = NULL;
    const char *out_path = NULL, *batches = "1,8", *precision = NULL;
    int64_t runs = 30, cold_runs = 5, threads = 1, max_s = 20, acc_n = 0, vocab = 0;
    const cli_opt opts[] = {
        {"model", 'm', CLI_OPT_LIST, &models, "NAME=PATH", "a model to measure (repeatable)"},
        {"batch", 'b', CLI_OPT_STR, &batches, "N,N,...", "batch sizes (default 1,8)"},
        {"runs", 0, CLI_OPT_INT, &runs, "N", "warm runs per batch size (default 30)"},
        {"cold-runs", 0, CLI_OPT_INT, &cold_runs, "N", "fresh loads measured (default 5)"},
        {"threads", 0, CLI_OPT_INT, &threads, "N", "inference threads (default 1)"},
        {"precision", 0, CLI_OPT_STR, &precision, "fp32|bf16|int8",
         "the entries' precision key: bf16 runs the session at bf16; int8 labels a quantized "
         "model file, run as it is (default fp32; with --from-db: the run's configuration)"},
        {"accuracy", 0, CLI_OPT_INT, &acc_n, "N",
         "also measure accuracy against FP32 on N seeded samples (cosine, max relative error, "
         "top-1/top-5 agreement), for faasml plan's accuracy floor"},
        {"reference", 0, CLI_OPT_LIST, &refs, "NAME=PATH",
         "the FP32 original of a --model for --accuracy (needed for int8; default: the model "
         "itself at FP32)"},
        {"vocab", 0, CLI_OPT_INT, &vocab, "N",
         "token ids below N in --accuracy samples (default 1000)"},
        {"max-seconds", 0, CLI_OPT_INT, &max_s, "S",
         "stop a batch size's runs after S seconds, at least 5 runs (default 20)"},
        {"output", 'o', CLI_OPT_STR, &out_path, "FILE",
         "calibration file to write (default stdout)"},
        {"from-db", 0, CLI_OPT_STR, &from_db, "DB",
         "instead of measuring: derive entries from a recorded live run of DB (with --run)"},
        {"run", 0, CLI_OPT_STR, &from_run, "NAME|ID",
         "the recorded run (with --from-db; default: every complete live run of DB)"},
        {"as-model", 0, CLI_OPT_STR, &as_model, "NAME",
         "with --from-db: model key (default: the run's configuration)"},
        {"as-runtime", 0, CLI_OPT_STR, &as_runtime, "NAME",
         "with --from-db: runtime key (default: the run's configuration)"},
        {0},
    };
    const cli_spec spec = {
        "calibrate",
        "--model NAME=PATH [--model ...] [options]",
        "Measures, on this machine, the built-in runtime's cold-start phases (process spawn, model "
        "load, first inference) and its inference latency per batch size, and writes a calibration "
        "file for 'faasml simulate'. Measurements run on one full core and stand for 1769 MB per "
        "thread (Lambda's 1 vCPU); the simulator scales smaller memory sizes by their CPU share. "
        "Entries carry a precision key (--precision); --accuracy adds the accuracy entries that "
        "faasml plan's accuracy floor reads.",
        opts,
        0,
        0};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (from_run && !from_db)
        return cli_fail("calibrate", 2, "--run needs --from-db");
    if (models.n == 0 && !from_db)
        return cli_fail("calibrate", 2, "no --model given");
    /* a missing input is the same usage error as everywhere, before anything is measured (and
     * --from-db never creates an empty database) */
    if (from_db && cli_need_file("calibrate", from_db))
        return 2;
    for (int i = 0; i < models.n; i++) {
        const char *eq = strchr(models.v[i], '=');
        if (eq && eq[1] && !strstr(eq + 1, "://") && cli_need_file("calibrate", eq + 1))
            return 2;
    }
    int batch[32], nb = 0;
    char bbuf[256];
    snprintf(bbuf, sizeof bbuf, "%s", batches);
    for (char *tok = strtok(bbuf, ","); tok; tok = strtok(NULL, ",")) {
        int64_t b;
        if (nb == 32 || fm_parse_i64(tok, &b) || b < 1 || b > 4096)
            return cli_fail("calibrate", 2, "invalid --batch '%s'", batches);
        batch[nb++] = (int)b;
    }
    if (runs < 5 || cold_runs < 1 || threads < 1 || threads > 64)
        return cli_fail("calibrate", 2, "--runs must be >= 5, --cold-runs >= 1, --threads 1..64");
    if (acc_n < 0 || vocab < 0)
        return cli_fail("calibrate", 2, "--accuracy and --vocab must be >= 0");
    if (precision && !sim_precision_is_known(precision))
        return cli_fail("calibrate", 2, "unknown --precision '%s' (fp32, bf16 or int8)", precision);
    if (from_db && (acc_n > 0 || refs.n > 0))
        return cli_fail("calibrate", 2, "--accuracy and --reference measure models, not --from-db");
    for (int i = 0; i < refs.n; i++) {
        const char *eq = strchr(refs.v[i], '=');
        if (!eq || eq == refs.v[i] || !eq[1])
            return cli_fail("calibrate", 2, "invalid --reference '%s' (NAME=PATH)", refs.v[i]);
    }
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    calib_opts o = {.exe = el > 0 ? exe : NULL,
                    .threads = (int)threads,
                    .memory_mb = (int)(1769 * threads),
                    .batch = batch,
                    .nbatch = nb,
                    .runs = (int)runs,
                    .cold_runs = (int)cold_runs,
                    .max_seconds_per_point = (int)max_s,
                    .precision = precision,
                    .accuracy_samples = (int)acc_n,
                    .vocab = vocab};
    char *sbuf = NULL, *cbuf = NULL, *abuf = NULL;
    size_t slen = 0, clen = 0, alen = 0;
    FILE *svc = open_memstream(&sbuf, &slen), *cold = open_memstream(&cbuf, &clen),
         *acc = open_memstream(&abuf, &alen);
    fm_err err = {0};
    if (from_db) {
        store *db;
        live_runs runs = {0};
        if (!(rc = store_open(from_db, &db, &err))) {
            if (from_run) {
                runs.n = 1;
                if (fm_parse_i64(from_run, &runs.ids[0]) != 0)
                    rc = store_run_find(db, from_run, &runs.ids[0], &err);
            } else {
                rc = store_runs_each(db, collect_live, &runs, &err);
                if (!rc && runs.n == 0)
                    rc = fm_err_set(&err, FM_ENOTFOUND, "'%s' holds no complete live run", from_db);
            }
            for (int i = 0; !rc && i < runs.n; i++) {
                run_cfg c = {0};
                if (as_model)
                    snprintf(c.model, sizeof c.model, "%s", as_model);
                if (as_runtime)
                    snprintf(c.runtime, sizeof c.runtime, "%s", as_runtime);
                rc = store_run_get(db, runs.ids[i], read_cfg, &c, &err);
                if (rc > 0)
                    rc = 0;
                if (!rc && (!c.model[0] || !c.runtime[0]))
                    rc = fm_err_set(&err, FM_EINVAL,
                                    "run %lld does not record its model and runtime: give "
                                    "--as-model and --as-runtime",
                                    (long long)runs.ids[i]);
                if (!rc)
                    if (precision)
                        snprintf(c.precision, sizeof c.precision, "%s", precision);
                if (!rc && c.precision[0] && !sim_precision_is_known(c.precision))
                    rc = fm_err_set(&err, FM_EINVAL, "run %lld records unknown precision '%s'",
                                    (long long)runs.ids[i], c.precision);
                if (!rc)
                    rc = calib_from_run(db, runs.ids[i], c.model, c.runtime,
                                        c.precision[0] ? c.precision : NULL, svc, cold, &err);
                if (rc == FM_ENOTFOUND && !from_run) { /* too few warm invocations: skip it */
                    fprintf(stderr, "faasml calibrate: skipped: %s\n", err.msg);
                    fm_err_clear(&err);
                    rc = 0;
                }
            }
            store_close(db);
        }
    }
    for (int i = 0; i < models.n && !rc; i++) {
        const char *eq = strchr(models.v[i], '=');
        if (!eq || eq == models.v[i] || !eq[1]) {
            rc = fm_err_set(&err, FM_EINVAL, "invalid --model '%s' (NAME=PATH)", models.v[i]);
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - models.v[i]), models.v[i]);
        const char *ref = NULL;
        for (int j = 0; j < refs.n; j++)
            if (strncmp(refs.v[j], name, strlen(name)) == 0 && refs.v[j][strlen(name)] == '=')
                ref = refs.v[j] + strlen(name) + 1;
        if (acc_n > 0 && !ref && precision && strcmp(precision, "int8") == 0) {
            rc = fm_err_set(&err, FM_EINVAL,
                            "--precision int8 --accuracy needs --reference %s=PATH (the FP32 "
                            "original of '%s')",
                            name, eq + 1);
            break;
        }
        fprintf(stderr, "calibrating %s ...\n", name);
        rc = calib_model(&o, name, eq + 1, ref, svc, cold, acc, &err);
    }
    fclose(svc);
    fclose(cold);
    fclose(acc);
    if (rc) {
        free(sbuf);
        free(cbuf);
        free(abuf);
        return cli_fail("calibrate", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
    }
    char cpu[256], date[32];
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    char *doc = NULL;
    size_t dlen = 0;
    FILE *d = open_memstream(&doc, &dlen);
    /* where the numbers came from, in words a reader of the file can repeat */
    char source[4500], method[300];
    if (!from_db)
        snprintf(source, sizeof source, "measured with faasml %s calibrate", FM_VERSION);
    else if (from_run)
        snprintf(source, sizeof source, "faasml %s calibrate from run '%s' of %s", FM_VERSION,
                 from_run, from_db);
    else
        snprintf(source, sizeof source, "faasml %s calibrate from the live runs of %s", FM_VERSION,
                 from_db);
    if (from_db)
        snprintf(method, sizeof method,
                 "warm successful invocations' billed durations, their clients' latency beyond "
                 "them, and the instances' recorded cold-start phases");
    else
        snprintf(method, sizeof method,
                 "%lld warm runs per batch size after 3 warm-ups, %lld fresh loads; one full core "
                 "per thread stands for 1769 MB",
                 (long long)runs, (long long)cold_runs);
    char qsource[9100], qmethod[700]; /* JSON strings are YAML double-quoted scalars */
    fm_json_quote(qsource, sizeof qsource, source);
    fm_json_quote(qmethod, sizeof qmethod, method);
    fprintf(d,
            "# Written by 'faasml calibrate' on this machine.\n"
            "source: %s\ndate: %s\nmethod: %s\n"
            "machine: {cpu: \"%s\", cores: %ld}\n"
            "service:\n%scold_start:\n%s",
            qsource, date, qmethod, cpu, sysconf(_SC_NPROCESSORS_ONLN), sbuf, cbuf);
    if (alen)
        fprintf(d, "accuracy:\n%s", abuf);
    fclose(d);
    free(sbuf);
    free(cbuf);
    free(abuf);
    if (out_path)
        rc = fm_write_file_atomic(out_path, doc, dlen, &err);
    else
        fwrite(doc, 1, dlen, stdout);
    free(doc);
    if (rc)
        return cli_fail("calibrate", 1, "%s", err.msg);
    return 0;
}
