/* The server behind `faasml serve`: configuration, the event base and its signals, graceful
 * shutdown and teardown. Functions live in fn.c, instances in instance.c, invocations in inv.c,
 * HTTP in gateway.c (fn.h says who owns what). */
#include "auth.h"
#include "inst.h"

#include "core/http.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lambda's documented defaults (cloud-platforms.md section 3). */
void platform_config_init(platform_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = "127.0.0.1";
    c->listen_port = 9000;
    c->account_concurrency = 1000;
    c->scale_per_10s = 0;
    c->keep_alive_s = 600;
    c->init_timeout_s = 10;
    c->drain_s = 10;
    c->event_queue_max = 10000;
    c->event_retries = 2;
    c->event_retry_delay_s = 60;
    c->region = "us-east-1";
    c->max_connections = 0;
    c->header_timeout_s = (double)FM_HTTP_HEADER_TIMEOUT_NS / 1e9;
    c->idle_timeout_s = (double)FM_HTTP_IDLE_TIMEOUT_NS / 1e9;
    policy_host_config_init(&c->host);
}

/* platform.yaml: the same names as platform_config (see docs/platform.md). */
int platform_config_load(const char *path, platform_config *c, fm_arena *strings, fm_err *err)
{
    /* clang-format off */
    static const char *const keys[] = {"listen",
                                       "account_concurrency",
                                       "scale_per_10s",
                                       "keep_alive",
                                       "init_timeout",
                                       "drain",
                                       "event_queue_max",
                                       "region",
                                       "log_dir",
                                       "cgroups",
                                       "platforms",
                                       "prices",
                                       "price_snapshot",
                                       "event_retries",
                                       "event_retry_delay",
                                       "cpu_limits",
                                       "max_connections",
                                       "header_timeout",
                                       "idle_timeout",
                                       "host_capacity",
                                       NULL};
    /* clang-format on */
    fm_yaml *y;
    int rc = fm_yaml_load_file(path, &y, err);
    if (rc)
        return rc;
    const fm_ynode *root = fm_yaml_root(y);
    int64_t iv;
    const char *str;
    if (!root) {
        fm_yaml_free(y);
        return 0;
    }
    if (fm_ynode_get(root, "billing_round_ms")) {
        rc = fm_yaml_error(y, fm_ynode_get(root, "billing_round_ms"), err, FM_EINVAL,
                           "'billing_round_ms' is no longer a platform key: invocations are "
                           "rounded to the price catalogue's granularity_ms (see 'prices')");
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, keys, err)) ||
        (rc = policy_host_config_apply_yaml(&c->host, y, fm_ynode_get(root, "host_capacity"), err)))
        goto out;
    static const struct {
        const char *key;
        size_t off;
        int64_t min, max;
    } ints[] = {
        {"account_concurrency", offsetof(platform_config, account_concurrency), 1, 1000000},
        {"scale_per_10s", offsetof(platform_config, scale_per_10s), 0, 1000000},
        {"event_queue_max", offsetof(platform_config, event_queue_max), 1, 10000000},
        {"event_retries", offsetof(platform_config, event_retries), 0, 2},
        {"max_connections", offsetof(platform_config, max_connections), 0, 10000000},
    };
    for (size_t i = 0; i < FM_ARRAY_LEN(ints); i++) {
        iv = *(int *)((char *)c + ints[i].off);
        if ((rc = fm_yaml_get_int(y, root, ints[i].key, false, ints[i].min, ints[i].max, &iv, err)))
            goto out;
        *(int *)((char *)c + ints[i].off) = (int)iv;
    }
    static const struct {
        const char *key;
        size_t off;
    } durs[] = {{"keep_alive", offsetof(platform_config, keep_alive_s)},
                {"init_timeout", offsetof(platform_config, init_timeout_s)},
                {"drain", offsetof(platform_config, drain_s)},
                {"event_retry_delay", offsetof(platform_config, event_retry_delay_s)},
                {"header_timeout", offsetof(platform_config, header_timeout_s)},
                {"idle_timeout", offsetof(platform_config, idle_timeout_s)}};
    for (size_t i = 0; i < FM_ARRAY_LEN(durs); i++) {
        str = NULL;
        if ((rc = fm_yaml_get_str(y, root, durs[i].key, false, &str, err)))
            goto out;
        int64_t ns;
        if (str && (fm_parse_duration_ns(str, &ns) || ns < 0)) {
            rc = fm_yaml_error(y, fm_ynode_get(root, durs[i].key), err, FM_EINVAL,
                               "invalid duration '%s'", str);
            goto out;
        }
        if (str)
            *(double *)((char *)c + durs[i].off) = (double)ns / 1e9;
    }
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {{"region", offsetof(platform_config, region)},
                {"log_dir", offsetof(platform_config, log_dir)},
                {"platforms", offsetof(platform_config, platforms)},
                {"prices", offsetof(platform_config, prices)},
                {"price_snapshot", offsetof(platform_config, price_snapshot)}};
    for (size_t i = 0; i < FM_ARRAY_LEN(strs); i++) {
        str = NULL;
        if ((rc = fm_yaml_get_str(y, root, strs[i].key, false, &str, err)))
            goto out;
        if (str)
            *(const char **)((char *)c + strs[i].off) = fm_arena_strdup(strings, str);
    }
    bool cg = !c->no_cgroups;
    if ((rc = fm_yaml_get_bool(y, root, "cgroups", false, &cg, err)))
        goto out;
    c->no_cgroups = !cg;
    bool cpu = !c->no_cpu_limit;
    if ((rc = fm_yaml_get_bool(y, root, "cpu_limits", false, &cpu, err)))
        goto out;
    c->no_cpu_limit = !cpu;
    str = NULL;
    if ((rc = fm_yaml_get_str(y, root, "listen", false, &str, err)))
        goto out;
    if (str) {
        const char *colon = strrchr(str, ':');
        int64_t port;
        if (!colon || fm_parse_i64(colon + 1, &port) || port < 0 || port > 65535) {
            rc = fm_yaml_error(y, fm_ynode_get(root, "listen"), err, FM_EINVAL,
                               "listen must be HOST:PORT, got '%s'", str);
            goto out;
        }
        char *host = fm_arena_strdup(strings, str);
        host[colon - str] = 0;
        c->listen_host = host;
        c->listen_port = (int)port;
    }
out:
    fm_yaml_free(y);
    return rc;
}

/* ---- the server -------------------------------------------------------------------------------
 */

/* Why the platform holds the catalogue: the meter bills every invocation through cost (the
 * simulator's and the analyzer's function), on the offer's granularity and INIT rule, so a live
 * and a simulated run of the same invocations cost the same. */
static int load_prices(platform *p, const platform_config *cfg, fm_err *err)
{
    char found[4096];
    const char *path = cfg->prices;
    if (!path)
        path = getenv("FAASML_PRICES");
    if (!path || !*path)
        path = fm_data_file("prices.yaml", found, sizeof found);
    if (!path)
        return fm_err_set(err, FM_ENOTFOUND,
                          "cannot find the price catalogue 'prices.yaml' (set 'prices' in "
                          "platform.yaml, $FAASML_PRICES or $FAASML_DATA)");
    int rc = cost_catalog_load(path, &p->prices, err);
    if (rc)
        return rc;
    const char *snap = cfg->price_snapshot ? cfg->price_snapshot : "current";
    if (!cost_catalog_snapshot(p->prices, snap))
        return fm_err_set(err, FM_ENOTFOUND, "no snapshot '%s' in price catalogue '%s'", snap,
                          path);
    snprintf(p->price_snapshot, sizeof p->price_snapshot, "%s", snap);
    return 0;
}

/* The machine's memory and the capacity the policy admits instances against; why: without it a
 * caller could be promised many times the host's memory (docs/policies.md, "Host capacity"). */
static int host_new(platform *p, fm_err *err)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    int64_t memtotal_mb = pages > 0 && page > 0 ? (int64_t)pages * page / (1024 * 1024) : 0;
    const policy_host_config *h = &p->cfg.host;
    int64_t cap = policy_host_capacity_mb(h, memtotal_mb);
    FM_INFO("platform",
            "host capacity %lld MB for instances ((%d MB %s - %d MB reserve) x %.2f), %d pids "
            "each",
            (long long)cap, h->memory_mb > 0 ? h->memory_mb : (int)memtotal_mb,
            h->memory_mb > 0 ? "configured" : "MemTotal", h->reserve_mb, h->overcommit,
            h->pids_max);
    return policy_host_new(cap, &p->host, err);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    plat_inst_reap(arg);
}

/* Everything is stopped: flush the store and leave the loop. */
static void finish_shutdown(platform *p)
{
    if (p->stopped)
        return;
    p->stopped = true;
    fm_err err = {0};
    if (p->st && store_flush(p->st, &err))
        FM_WARN("platform", "cannot flush the results store: %s", err.msg);
    event_base_loopbreak(p->base);
}

/* True while any instance process is still tracked. */
static bool any_instances(platform *p)
{
    plat_fn *fn;
    TAILQ_FOREACH(fn, &p->fns, link)
    if (!TAILQ_EMPTY(&fn->insts))
        return true;
    return false;
}

/* Shutdown progress: done when no instance is left; after the deadline, kill the rest. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    platform *p = arg;
    if (!any_instances(p)) {
        finish_shutdown(p);
        return;
    }
    if (fm_now_ns() >= p->drain_deadline_ns) {
        plat_fn *fn;
        plat_inst *in;
        TAILQ_FOREACH(fn, &p->fns, link)
        TAILQ_FOREACH(in, &fn->insts, link)
        {
            in->stop_asked = true;
            plat_inst_kill(in, "shutdown");
        }
        if (fm_now_ns() >= p->drain_deadline_ns + 2000000000LL) {
            FM_WARN("platform", "instances did not exit after SIGKILL; leaving");
            finish_shutdown(p);
        }
    }
}

/* Graceful stop: no new connections, policy SHUTDOWN for all, drain, then kill. */
void platform_shutdown(platform *p)
{
    if (p->draining) {
        /* A second signal: stop waiting for in-flight requests. */
        p->drain_deadline_ns = fm_now_ns();
        return;
    }
    p->draining = true;
    plat_meter_points(
        p); /* the series ends with the state before shutdown, however short the run */
    FM_INFO("platform", "shutting down: draining for up to %.1f s", p->cfg.drain_s);
    if (p->sock) {
        fm_http_guard_unbind(p->guard);
        evhttp_del_accept_socket(p->http, p->sock);
        p->sock = NULL;
    }
    p->drain_deadline_ns = fm_now_ns() + (int64_t)(p->cfg.drain_s * 1e9);
    plat_fn *fn;
    p->sweep_hold = true; /* no function may be freed while this loop walks the list */
    TAILQ_FOREACH(fn, &p->fns, link)
    {
        fn->retired = true;
        policy_event ev = {.type = POLICY_EV_SHUTDOWN};
        plat_feed(fn, &ev);
    }
    p->sweep_hold = false;
    plat_sweep(p);
    struct timeval tv = {0, 50000};
    event_add(p->drain_timer, &tv);
}

/* SIGTERM and SIGINT start a graceful shutdown (a second one ends the drain). */
static void on_term(evutil_socket_t fd, short what, void *arg)
{
    platform_shutdown(arg);
}

/* The once-a-second time series. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    plat_meter_points(arg);
}

/* Instance logs reach their file or stderr within 100 ms. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    platform *p = arg;
    if (p->log)
        fflush(p->log);
}

/* Builds the whole platform on its own event base; nothing runs until platform_run. */
int platform_new(const platform_config *cfg, struct store *st, int64_t run_id, platform **out,
                 fm_err *err)
{
    *out = NULL;
    int rc = plat_guard_listen(cfg, err);
    if (rc)
        return rc;
    platform *p = calloc(1, sizeof *p);
    if (!p)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    p->cfg = *cfg;
    /* host_capacity.pids_max and --pids-max are one limit: the sandbox's pids.max per instance */
    if (p->cfg.pids_max <= 0 && p->cfg.host.pids_max > 0)
        p->cfg.pids_max = p->cfg.host.pids_max;
    p->listen_loopback = plat_host_is_loopback(cfg->listen_host);
    p->st = st;
    p->run_id = run_id;
    p->pid_self = getpid();
    TAILQ_INIT(&p->fns);
    fm_rng_seed(&p->rng, (uint64_t)fm_wall_ns() ^ ((uint64_t)getpid() << 32));
    if (cfg->self_exe)
        snprintf(p->self_exe, sizeof p->self_exe, "%s", cfg->self_exe);
    else {
        ssize_t n = readlink("/proc/self/exe", p->self_exe, sizeof p->self_exe - 1);
        p->self_exe[n > 0 ? n : 0] = 0;
    }
    /* NULL lets the policy find its data file ($FAASML_PLATFORMS, data/ of the install). */
    if (cfg->platforms)
        snprintf(p->platforms_path, sizeof p->platforms_path, "%s", cfg->platforms);
    if (!rc)
        rc = load_prices(p, cfg, err);
    /* Instance logs go through their own fully buffered stream (a few lines per invocation would
     * otherwise cost a write(2) each), flushed every 100 ms and at exit. */
    if (cfg->log_dir && *cfg->log_dir) {
        char path[1200];
        snprintf(path, sizeof path, "%s/instances.log", cfg->log_dir);
        if (!(p->log = fopen(path, "a")))
            rc = fm_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        else
            platform_log_path(cfg, p->log_path, sizeof p->log_path);
    } else {
        platform_log_path(cfg, p->log_path, sizeof p->log_path);
        int fd = dup(2);
        if (fd < 0 || !(p->log = fdopen(fd, "w"))) {
            if (fd >= 0)
                close(fd);
            rc = fm_err_set(err, -errno, "cannot open the log stream: %s", strerror(errno));
        }
    }
    if (p->log)
        setvbuf(p->log, NULL, _IOFBF, 1 << 16);
    if (!rc && !(p->base = event_base_new()))
        rc = fm_err_set(err, FM_ENOMEM, "cannot create an event base");
    if (!rc)
        rc = policy_account_new(cfg->account_concurrency, POLICY_SCALING_NONE, NULL, &p->account,
                                err);
    if (!rc)
        rc = host_new(p, err);
    if (!rc) {
        p->sigchld = evsignal_new(p->base, SIGCHLD, on_sigchld, p);
        p->sigterm = evsignal_new(p->base, SIGTERM, on_term, p);
        p->sigint = evsignal_new(p->base, SIGINT, on_term, p);
        p->tick = event_new(p->base, -1, EV_PERSIST, on_tick, p);
        p->flush = event_new(p->base, -1, EV_PERSIST, on_flush, p);
        p->drain_timer = event_new(p->base, -1, EV_PERSIST, on_drain, p);
        if (!p->sigchld || !p->sigterm || !p->sigint || !p->tick || !p->drain_timer || !p->flush)
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    if (!rc) {
        struct timeval sec = {1, 0};
        event_add(p->sigchld, NULL);
        event_add(p->sigterm, NULL);
        event_add(p->sigint, NULL);
        event_add(p->tick, &sec);
        struct timeval tenth = {0, 100000};
        event_add(p->flush, &tenth);
        signal(SIGPIPE, SIG_IGN);
        plat_sandbox_init(&p->sb, &p->cfg);
        rc = plat_auth_init(p, err);
        if (p->sb.kind == PLAT_SB_RLIMIT)
            FM_WARN("platform", "no cgroup limits: memory is capped with RLIMIT_AS (address space, "
                                "stricter than resident memory) and CPU share is not enforced");
        if (!rc)
            rc = plat_gateway_bind(p, err);
    }
    if (rc) {
        platform_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The gateway's bound port (the real one when 0 was asked). */
int platform_port(const platform *p)
{
    return p->port;
}

/* Which memory/CPU enforcement is active, for the serve banner. */
const char *platform_enforcement(const platform *p)
{
    return p->sb.desc;
}

/* Which isolation is active and why, for the serve banner and /metrics. */
const char *platform_isolation_desc(const platform *p)
{
    return p->sb.iso_desc;
}

/* Runs the event loop until a shutdown completes. */
int platform_run(platform *p)
{
    int rc = event_base_dispatch(p->base);
    return rc < 0 ? FM_EIO : 0;
}

/* Tears everything down, killing and reaping any instance still alive. */
void platform_free(platform *p)
{
    if (!p)
        return;
    plat_fn *fn;
    while ((fn = TAILQ_FIRST(&p->fns))) {
        plat_inst *in;
        while ((in = TAILQ_FIRST(&fn->insts))) {
            /* Still running at teardown (shutdown never ran): kill and reap synchronously. */
            if (in->pid > 0 && in->state != PLAT_INST_STOPPING)
                kill(-in->pid, SIGKILL);
            plat_inst_forget(in);
        }
        TAILQ_REMOVE(&p->fns, fn, link);
        plat_fn_free(fn);
    }
    plat_image_sweep(p); /* runtime image: no container outlives the platform */
    for (size_t i = 0; i < p->hash_cap; i++)
        for (plat_inv *e = p->hash[i], *nx; e; e = nx) {
            nx = e->hnext;
            e->hnext = NULL;
            plat_inv_end(e, &(plat_outcome){.how = PLAT_END_DROPPED});
        }
    free(p->hash);
    free(p->evq);
    cost_catalog_free(p->prices);
    policy_account_free(p->account);
    policy_host_free(p->host); /* after every function: they counted their instances in it */
    struct event *evs[] = {p->sigchld, p->sigterm, p->sigint, p->tick, p->drain_timer, p->flush};
    for (size_t i = 0; i < FM_ARRAY_LEN(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    if (p->http)
        evhttp_free(p->http);
    fm_http_guard_free(p->guard); /* after evhttp_free: it holds the connections' bufferevents */
    fm_http_tls_free(p->tls);     /* after the guard, which borrowed it */
    if (p->base)
        event_base_free(p->base);
    plat_sandbox_release(&p->sb);
    plat_auth_release(p);
    if (p->log)
        fclose(p->log);
    free(p);
}
