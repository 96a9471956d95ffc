/* faasml logs: one function's instance log lines (START, END, REPORT and everything the function
 * printed), read from the file the platform writes them to, as `sam logs` reads CloudWatch.
 *
 * The platform writes every instance line once, stamped, to one file or to its stderr:
 *   2026-12-03T17:40:00.123Z NAME[INSTANCE] text
 * Which file is found, in this order: --log-dir DIR (DIR/instances.log, as `serve --log-dir`),
 * --db PATH (the newest run in it that records a "log", which `serve --db` and `bench` write), or
 * the running platform (--gateway), whose admin API names the file. A platform whose logs go to a
 * terminal or pipe has no file to read, and the command says so. */
#include "cli.h"
#include "plat_client.h"
#include "platform/platform.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t logs_stop;

static void on_stop(int sig)
{
    (void)sig;
    logs_stop = 1;
}

typedef struct logs_filter {
    const char *fn;
    size_t fn_len;
    int64_t since_ns; /* INT64_MIN: everything */
    bool seen;        /* a line named the function (whatever its time) */
    uint64_t printed;
} logs_filter;

/* Prints line (NUL-terminated, no newline) when it belongs to the function and the window. */
static void consider(logs_filter *f, const char *line)
{
    platform_log_line l;
    if (platform_log_parse(line, &l) || l.name_len != f->fn_len ||
        memcmp(l.name, f->fn, f->fn_len) != 0)
        return;
    f->seen = true;
    if (f->since_ns != INT64_MIN && (l.t_ns < 0 || l.t_ns < f->since_ns))
        return;
    fputs(line, stdout);
    fputc('\n', stdout);
    f->printed++;
}

/* Reads the lines of fp from its position to its end; a last line without its newline stays in
 * *part (it is being written) and is completed by the next call. */
static void read_lines(FILE *fp, logs_filter *f, fm_buf *part)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] != '\n') {
            fm_buf_append(part, line, (size_t)n);
            break;
        }
        line[n - 1] = 0;
        if (part->len) {
            fm_buf_puts(part, line);
            consider(f, part->p);
            part->len = 0;
        } else {
            consider(f, line);
        }
    }
    free(line);
    clearerr(fp);
}

typedef struct newest_log {
    int64_t id;
    char path[4096];
} newest_log;

/* Runs come oldest first; the newest that records where its instance logs went wins. */
static int run_log_cb(const store_run *r, void *ud)
{
    newest_log *n = ud;
    cJSON *o = r->config ? cJSON_Parse(r->config) : NULL;
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(o, "log");
    if (cJSON_IsString(log) && log->valuestring[0]) {
        n->id = r->id;
        snprintf(n->path, sizeof n->path, "%s", log->valuestring);
    }
    cJSON_Delete(o);
    return 0;
}

/* Finds the log file; returns 0, or the exit code after printing why there is none. *checked is
 * set when the source itself said the function exists (the gateway). */
static int find_log(const char *fn, const char *log_dir, const char *db, const char *gateway,
                    char *path, size_t cap, bool *checked)
{
    *checked = false;
    if (log_dir) {
        snprintf(path, cap, "%s/instances.log", log_dir);
        return cli_need_file("logs", path);
    }
    if (db && strcmp(db, "none") != 0) {
        if (cli_need_file("logs", db))
            return 2;
        store *st;
        fm_err err = {0};
        newest_log n = {0};
        if (store_open(db, &st, &err))
            return cli_fail("logs", 2, "%s", err.msg);
        int rc = store_runs_each(st, run_log_cb, &n, &err);
        store_close(st);
        if (rc)
            return cli_fail("logs", 1, "%s", err.msg);
        if (!n.id)
            return cli_fail("logs", 2,
                            "no run in '%s' records an instance log (it is recorded by 'faasml "
                            "serve --db' with --log-dir or a stderr redirected to a file, and by "
                            "'faasml bench')",
                            db);
        snprintf(path, cap, "%s", n.path);
        if (cli_need_file("logs", path))
            return 2;
        return 0;
    }
    const char *base = plat_gateway_url(gateway);
    char url[1200], ebuf[512];
    plat_http_reply r;
    snprintf(url, sizeof url, "%s/admin/functions/%s", base, fn);
    if (plat_http("GET", url, NULL, 0, NULL, &r, ebuf, sizeof ebuf))
        return cli_fail("logs", 1, "%s", ebuf);
    int rc = 0;
    cJSON *o = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    const cJSON *log = cJSON_GetObjectItemCaseSensitive(o, "log");
    if (r.status == 404)
        rc = cli_fail("logs", 2, "no function '%s' on %s", fn, base);
    else if (!o)
        rc = cli_fail("logs", 1, "unexpected answer from %s (HTTP %ld): %.200s", base, r.status,
                      r.body ? r.body : "");
    else if (!cJSON_IsString(log))
        rc = cli_fail("logs", 1,
                      "the platform on %s writes instance logs to a terminal or pipe, not a file: "
                      "start it with --log-dir DIR (or its stderr redirected to a file)",
                      base);
    else
        snprintf(path, cap, "%s", log->valuestring);
    *checked = rc == 0;
    cJSON_Delete(o);
    plat_http_reply_release(&r);
    return rc;
}

/* faasml logs FUNCTION: print its lines, then with --follow the ones that come. */
int cmd_logs(int argc, char **argv)
{
    const char *since = NULL, *db = NULL, *gateway = NULL, *log_dir = NULL;
    bool follow = false;
    const cli_opt opts[] = {
        {"follow", 0, CLI_OPT_FLAG, &follow, NULL,
         "keep printing lines as the platform writes them (until interrupted)"},
        {"since", 0, CLI_OPT_STR, &since, "DUR|TIME",
         "only lines from the last DUR (10m, 2h) or since TIME (2026-12-03T17:40:00Z, UTC "
         "without a zone)"},
        {"log-dir", 0, CLI_OPT_STR, &log_dir, "DIR",
         "read DIR/instances.log (the platform's --log-dir)"},
        {"db", 0, CLI_OPT_STR, &db, "PATH",
         "read the log the newest run of this results database records ('faasml serve --db', "
         "'faasml bench'); none: ask the platform"},
        {"gateway", 'g', CLI_OPT_STR, &gateway, "URL",
         "ask this running platform where its log is (default $FAASML_GATEWAY or "
         "http://127.0.0.1:9000)"},
        {0},
    };
    const cli_spec spec = {
        "logs",
        "FUNCTION [--follow] [--since DUR|TIME] [--log-dir DIR | --db PATH | --gateway URL]",
        "Prints the instance log lines of FUNCTION (START, END and REPORT lines in Lambda's "
        "format, and everything the function wrote to stdout or stderr), each as the platform "
        "wrote it: TIME NAME[INSTANCE] TEXT. The lines are read from the file the platform writes "
        "them to: DIR/instances.log with --log-dir, the log recorded in a results database with "
        "--db, else the one a running platform names in its admin API. A platform that writes "
        "its logs to a terminal or pipe has no file to read. A function that no line names (or, "
        "asking the platform, that it does not know) is an error (exit 2). See docs/cli.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    const char *fn = argv[0];
    logs_filter f = {.fn = fn, .fn_len = strlen(fn), .since_ns = INT64_MIN};
    if (since) {
        int64_t d;
        if (fm_parse_duration_ns(since, &d) == 0)
            f.since_ns = fm_wall_ns() - d;
        else if (platform_log_time_parse(since, strlen(since), &f.since_ns))
            return cli_fail("logs", 2,
                            "--since takes a duration (10m) or a time (2026-12-03T17:40:00Z), "
                            "got '%s'",
                            since);
    }
    char path[4096];
    bool checked;
    if ((rc = find_log(fn, log_dir, db, gateway, path, sizeof path, &checked)))
        return rc;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return cli_fail("logs", errno == ENOENT ? 2 : 1, "cannot read '%s': %s", path,
                        strerror(errno));
    fm_buf part = {0};
    read_lines(fp, &f, &part);
    fflush(stdout);
    if (!f.seen && !checked && !follow) {
        fclose(fp);
        fm_buf_release(&part);
        return cli_fail("logs", 2, "no function '%s' in '%s' (no line names it)", fn, path);
    }
    if (follow) {
        if (!f.seen && !checked)
            fprintf(stderr, "faasml logs: no line in '%s' names '%s' yet; following\n", path, fn);
        struct sigaction sa = {0};
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct stat at;
        fstat(fileno(fp), &at);
        while (!logs_stop) {
            fm_sleep_ns(200000000);
            struct stat now;
            /* a log that was replaced or truncated is read again from its start */
            if (stat(path, &now) == 0 && (now.st_ino != at.st_ino || now.st_size < ftello(fp))) {
                FILE *again = fopen(path, "r");
                if (again) {
                    fclose(fp);
                    fp = again;
                    fstat(fileno(fp), &at);
                    part.len = 0;
                }
            }
            read_lines(fp, &f, &part);
            fflush(stdout);
        }
    }
    fclose(fp);
    fm_buf_release(&part);
    return 0;
}
