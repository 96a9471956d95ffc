/* faasml calibrate: measure the built-in runtime on this machine for the simulator. */
#include "cli.h"
#include "sim/calibrate.h"

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

int cmd_calibrate(int argc, char **argv)
{
    cli_strlist models = {0};
    const char *out_path = NULL, *batches = "1,8";
    int64_t runs = 30, cold_runs = 5, threads = 1, max_s = 20;
    const cli_opt opts[] = {
        {"model", 'm', CLI_OPT_LIST, &models, "NAME=PATH", "a model to measure (repeatable)"},
        {"batch", 'b', CLI_OPT_STR, &batches, "N,N,...", "batch sizes (default 1,8)"},
        {"runs", 0, CLI_OPT_INT, &runs, "N", "warm runs per batch size (default 30)"},
        {"cold-runs", 0, CLI_OPT_INT, &cold_runs, "N", "fresh loads measured (default 5)"},
        {"threads", 0, CLI_OPT_INT, &threads, "N", "inference threads (default 1)"},
        {"max-seconds", 0, CLI_OPT_INT, &max_s, "S",
         "stop a batch size's runs after S seconds, at least 5 runs (default 20)"},
        {"output", 'o', CLI_OPT_STR, &out_path, "FILE", "calibration file to write (default stdout)"},
        {0},
    };
    const cli_spec spec = {
        "calibrate", "--model NAME=PATH [--model ...] [options]",
        "Measures, on this machine, the built-in runtime's cold-start phases (process spawn, model "
        "load, first inference) and its inference latency per batch size, and writes a calibration "
        "file for 'faasml simulate'. Measurements run on one full core and stand for 1769 MB per "
        "thread (Lambda's 1 vCPU); the simulator scales smaller memory sizes by their CPU share.",
        opts, 0, 0};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (models.n == 0)
        return cli_fail("calibrate", 2, "no --model given");
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
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    sim_calibrate_opts o = {.exe = el > 0 ? exe : NULL, .threads = (int)threads,
                            .memory_mb = (int)(1769 * threads), .batch = batch, .nbatch = nb,
                            .runs = (int)runs, .cold_runs = (int)cold_runs,
                            .max_seconds_per_point = (int)max_s};
    char *sbuf = NULL, *cbuf = NULL;
    size_t slen = 0, clen = 0;
    FILE *svc = open_memstream(&sbuf, &slen), *cold = open_memstream(&cbuf, &clen);
    fm_err err = {0};
    for (int i = 0; i < models.n && !rc; i++) {
        const char *eq = strchr(models.v[i], '=');
        if (!eq || eq == models.v[i] || !eq[1]) {
            rc = fm_err_set(&err, FM_EINVAL, "invalid --model '%s' (NAME=PATH)", models.v[i]);
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - models.v[i]), models.v[i]);
        fprintf(stderr, "calibrating %s ...\n", name);
        rc = sim_calibrate_model(&o, name, eq + 1, svc, cold, &err);
    }
    fclose(svc);
    fclose(cold);
    if (rc) {
        free(sbuf);
        free(cbuf);
        return cli_fail("calibrate", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
    }
    char cpu[256], date[32];
    cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    char *doc = NULL;
    size_t dlen = 0;
    FILE *d = open_memstream(&doc, &dlen);
    fprintf(d,
            "# Written by 'faasml calibrate' on this machine: built-in runtime, %lld thread(s).\n"
            "source: measured with faasml %s calibrate\n"
            "date: %s\n"
            "method: %lld warm runs per batch size after 3 warm-ups, %lld fresh loads; one full "
            "core per thread stands for %d MB\n"
            "machine: {cpu: \"%s\", cores: %ld}\n"
            "service:\n%scold_start:\n%s",
            (long long)threads, FM_VERSION, date, (long long)runs, (long long)cold_runs,
            o.memory_mb, cpu, sysconf(_SC_NPROCESSORS_ONLN), sbuf, cbuf);
    fclose(d);
    free(sbuf);
    free(cbuf);
    if (out_path)
        rc = fm_write_file_atomic(out_path, doc, dlen, &err);
    else
        fwrite(doc, 1, dlen, stdout);
    free(doc);
    if (rc)
        return cli_fail("calibrate", 1, "%s", err.msg);
    return 0;
}
