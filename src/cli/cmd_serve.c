/* faasml serve: the serverless platform (gateway, instance manager, billing meter). */
#include "cli.h"
#include "core/http.h"
#include "platform/platform.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HOST:PORT for --listen. */
static int parse_listen(const char *s, const char **host, int *port, char *buf, size_t cap)
{
    const char *colon = strrchr(s, ':');
    int64_t v;
    if (!colon || colon == s || fm_parse_i64(colon + 1, &v) || v < 0 || v > 65535)
        return -1;
    snprintf(buf, cap, "%.*s", (int)(colon - s), s);
    *host = buf;
    *port = (int)v;
    return 0;
}

/* faasml serve: config, store run, platform, ready line, run until stopped. */
int cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *listen = NULL, *db = NULL, *log_dir = NULL, *level = NULL;
    bool no_cgroups = false, no_cpu_limit = false, insecure_listen = false;
    int64_t init_timeout = -1, keep_alive = -1, pids_max = 0;
    const char *fallback = NULL, *credentials = NULL, *isolation = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    cli_strlist deploy = {0}, allow_boot = {0};
    const cli_opt opts[] = {
        {"config", 0, CLI_OPT_FILE, &config, "FILE", "platform configuration (platform.yaml)"},
        {"listen", 'l', CLI_OPT_STR, &listen, "HOST:PORT",
         "gateway address (default 127.0.0.1:9000; port 0 picks a free port)"},
        {"insecure-listen", 0, CLI_OPT_FLAG, &insecure_listen, NULL,
         "allow --listen on a non-loopback address without authentication (anyone who can reach "
         "it can deploy and run code; warns at every start)"},
        {"db", 0, CLI_OPT_STR, &db, "PATH",
         "results database: every invocation, instance, time series point and billed quantity "
         "(default and none: nothing is recorded)"},
        {"deploy", 0, CLI_OPT_LIST, &deploy, "SPEC",
         "deploy this function spec at start (repeatable)"},
        {"log-dir", 0, CLI_OPT_STR, &log_dir, "DIR",
         "write instance logs to DIR/instances.log (default: stderr)"},
        {"keep-alive", 0, CLI_OPT_DURATION, &keep_alive, "DUR",
         "idle instance TTL for functions without keep_alive (default 10m)"},
        {"init-timeout", 0, CLI_OPT_DURATION, &init_timeout, "DUR",
         "longest init before an instance is killed (default 10s)"},
        {"no-cgroups", 0, CLI_OPT_FLAG, &no_cgroups, NULL,
         "do not use cgroups; limit memory with RLIMIT_AS only"},
        {"no-cpu-limit", 0, CLI_OPT_FLAG, &no_cpu_limit, NULL,
         "cgroups for memory only: no CPU quota (CPU share) for instances"},
        {"credentials", 0, CLI_OPT_STR, &credentials, "FILE",
         "verify every request with AWS SigV4 against this credentials file (docs/security.md)"},
        {"tls-cert", 0, CLI_OPT_FILE, &tls_cert, "PEM",
         "serve HTTPS with this certificate chain (with --tls-key; TLS 1.2 or later)"},
        {"tls-key", 0, CLI_OPT_FILE, &tls_key, "PEM", "the private key of --tls-cert"},
        {"isolation", 0, CLI_OPT_STR, &isolation, "LEVEL",
         "default isolation of functions without an 'isolation' key: 'sandbox' (default, where "
         "the kernel allows) or 'process'"},
        {"allow-bootstrap", 0, CLI_OPT_LIST, &allow_boot, "DIR",
         "a custom runtime's bootstrap must lie in DIR (repeatable; default: anywhere)"},
        {"sandbox-fallback", 0, CLI_OPT_STR, &fallback, "WHAT",
         "where the kernel refuses the sandbox: 'process' (default: functions without "
         "'isolation: sandbox' run as plain processes) or 'refuse' (they fail to start)"},
        {"pids-max", 0, CLI_OPT_INT, &pids_max, "N",
         "processes and threads per instance (cgroup pids.max; default 1024)"},
        {"log-level", 0, CLI_OPT_STR, &level, "LEVEL", "debug, info (default), warn, error"},
        {0},
    };
    const cli_spec spec = {
        "serve",
        "[--config platform.yaml] [--listen HOST:PORT] [--db PATH] [options]",
        "Starts the serverless platform on one machine: a gateway speaking the AWS Lambda Invoke "
        "API (POST /2015-03-31/functions/NAME/invocations) and KServe v2 (/v2/...), an admin API "
        "(/admin/functions), Prometheus metrics (/metrics), and an instance manager that runs each "
        "function instance as a process with its own Lambda Runtime API endpoint, memory limit and "
        "CPU share (cgroups when writable, else RLIMIT_AS), in a sandbox where the kernel allows "
        "(namespaces, own uid, read-only root, seccomp; the start-up line says which isolation "
        "is active). Once ready it prints 'listening on "
        "http://HOST:PORT'. SIGTERM or SIGINT drains in-flight requests, stops instances and "
        "flushes the database. Only loopback listeners are allowed without --credentials (SigV4) "
        "or --insecure-listen; on them, "
        "requests must name a loopback Host, and browser (Origin) or non-JSON admin requests are "
        "refused. See docs/platform.md and docs/security.md.",
        opts,
        0,
        0};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    for (int i = 0; i < deploy.n; i++)
        if (cli_need_file("serve", deploy.v[i]))
            return 2;
    if (db && strcmp(db, "none") == 0)
        db = NULL;
    if (fallback && strcmp(fallback, "process") != 0 && strcmp(fallback, "refuse") != 0)
        return cli_fail("serve", 2, "--sandbox-fallback must be 'process' or 'refuse', got '%s'",
                        fallback);
    if (isolation && strcmp(isolation, "process") != 0 && strcmp(isolation, "sandbox") != 0)
        return cli_fail("serve", 2, "--isolation must be 'process' or 'sandbox', got '%s'",
                        isolation);
    if (pids_max < 0 || pids_max > 1 << 22)
        return cli_fail("serve", 2, "--pids-max must be within 1-4194304");
    if (level) {
        fm_log_level lv;
        if (fm_log_level_parse(level, &lv))
            return cli_fail("serve", 2, "unknown log level '%s'", level);
        fm_log_set_level(lv);
    }
    fm_nofile_raise(NULL, NULL);
    platform_config cfg;
    platform_config_init(&cfg);
    fm_arena strings;
    fm_arena_init(&strings, 0);
    fm_err err = {0};
    char hostbuf[256];
    if (config && platform_config_load(config, &cfg, &strings, &err)) {
        fm_arena_release(&strings);
        return cli_fail("serve", 2, "%s", err.msg);
    }
    if (listen &&
        parse_listen(listen, &cfg.listen_host, &cfg.listen_port, hostbuf, sizeof hostbuf)) {
        fm_arena_release(&strings);
        return cli_fail("serve", 2, "--listen must be HOST:PORT, got '%s'", listen);
    }
    if (log_dir)
        cfg.log_dir = log_dir;
    if (no_cgroups)
        cfg.no_cgroups = true;
    if (no_cpu_limit)
        cfg.no_cpu_limit = true;
    if (fallback)
        cfg.sandbox_fallback_refuse = strcmp(fallback, "refuse") == 0;
    cfg.pids_max = (int)pids_max;
    cfg.bootstrap_dirs = allow_boot.v;
    cfg.nbootstrap_dirs = allow_boot.n;
    cfg.isolation_process = isolation && strcmp(isolation, "process") == 0;
    if (credentials)
        cfg.credentials = credentials;
    cfg.tls_cert = tls_cert;
    cfg.tls_key = tls_key;
    cfg.insecure_listen = insecure_listen;
    if (keep_alive >= 0)
        cfg.keep_alive_s = (double)keep_alive / 1e9;
    if (init_timeout >= 0)
        cfg.init_timeout_s = (double)init_timeout / 1e9;

    store *st = NULL;
    store_run run = {0};
    char runcfg[2600] = "{}";
    if (db) {
        if (store_open(db, &st, &err)) {
            fm_arena_release(&strings);
            return cli_fail("serve", 1, "%s", err.msg);
        }
        run.name = "serve";
        run.mode = "live";
        run.profile = "lambda";
        /* the run records where instance logs go, so `faasml logs --db` finds them */
        char logp[1200];
        if (platform_log_path(&cfg, logp, sizeof logp) == 0) {
            size_t at = (size_t)snprintf(runcfg, sizeof runcfg, "{\"log\":");
            at += fm_json_quote(runcfg + at, sizeof runcfg - at, logp);
            snprintf(runcfg + at, sizeof runcfg - at, "}");
        }
        run.config = runcfg;
        run.started_ns = fm_wall_ns();
        run.status = "running";
        if (store_run_begin(st, &run, &err)) {
            store_close(st);
            fm_arena_release(&strings);
            return cli_fail("serve", 1, "%s", err.msg);
        }
    }
    platform *p;
    if ((rc = platform_new(&cfg, st, run.id, &p, &err))) {
        fm_err ignored = {0};
        if (st)
            store_run_end(st, run.id, fm_wall_ns(), "failed", &ignored);
        store_close(st);
        fm_arena_release(&strings);
        return cli_fail("serve", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
    }
    for (int i = 0; i < deploy.n; i++) {
        platform_spec fs;
        bool created;
        if (platform_spec_load_yaml(deploy.v[i], &fs, &err) ||
            platform_deploy(p, &fs, &created, &err)) {
            platform_spec_release(&fs);
            platform_free(p);
            store_close(st);
            fm_arena_release(&strings);
            return cli_fail("serve", 2, "%s", err.msg);
        }
        platform_spec_release(&fs);
    }
    printf("listening on %s://%s:%d\n", cfg.tls_cert ? "https" : "http", cfg.listen_host,
           platform_port(p));
    fflush(stdout);
    fprintf(stderr, "faasml serve: memory/CPU enforcement: %s\n", platform_enforcement(p));
    fprintf(stderr, "faasml serve: isolation: %s\n", platform_isolation_desc(p));
    rc = platform_run(p);
    platform_free(p);
    if (st) {
        if (store_run_end(st, run.id, fm_wall_ns(), rc ? "failed" : "done", &err))
            fprintf(stderr, "faasml serve: %s\n", err.msg);
        store_close(st);
    }
    fm_arena_release(&strings);
    fprintf(stderr, "faasml serve: stopped\n");
    return rc ? 1 : 0;
}
