/* faasml load: the open-loop load generator. Builds a workload spec (YAML and/or flags), a target
 * and payloads, checks the target, runs the schedule and records every request in the results
 * store (and CSV); --dry-run prints the schedule's statistics instead. */
#include "cli.h"
#include "load/load.h"
#include "store/store.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "load"

typedef struct load_args {
    const char *spec, *process, *mmpp_rates, *mmpp_sojourn, *mmpp_transition, *mmpp_generator;
    const char *spacing, *trace, *trace_unit, *azure, *azure_function, *spread;
    double rate;
    cli_strlist segments;
    bool repeat;
    int64_t requests, duration, seed;
    bool have_seed;
    const char *url, *target, *function, *kserve, *method, *content_type, *payload, *pick;
    const char *tensor, *body, *aws_region, *aws_service, *client, *save_body;
    bool sagemaker, sigv4, log_tail, http2;
    cli_strlist headers;
    int64_t max_in_flight, timeout, spin, check_timeout, progress, rt_priority, threads;
    bool no_check;
    const char *db, *name, *profile, *csv, *schedule_out;
    bool json, dry_run, quiet;
} load_args;

/* ---- workload ----------------------------------------------------------------------------------
 */
static int build_spec(load_args *a, load_spec *s, fm_err *err)
{
    int rc;
    if (a->spec) {
        fm_yaml *y;
        if ((rc = fm_yaml_load_file(a->spec, &y, err)))
            return rc;
        rc = load_spec_from_yaml(y, fm_yaml_root(y), s, err);
        fm_yaml_free(y);
        if (rc)
            return rc;
    }
    if (a->process && load_process_parse(a->process, &s->process))
        return fm_err_set(err, FM_EINVAL,
                          "unknown process '%s' (constant, poisson, mmpp, piecewise, trace, azure)",
                          a->process);
    if (!isnan(a->rate)) {
        s->rate = a->rate;
        if (!a->process && !a->spec)
            s->process = LOAD_PROC_POISSON;
    }
    if (a->mmpp_rates) {
        int n;
        if ((rc = load_parse_list(a->mmpp_rates, false, s->mmpp.rate, LOAD_MMPP_MAX, &n, err)))
            return fm_err_prefix(err, "--mmpp-rates: ");
        s->mmpp.k = n;
        s->process = LOAD_PROC_MMPP;
    }
    if (a->mmpp_generator) {
        int k = 0;
        if ((rc = load_parse_matrix(a->mmpp_generator, s->mmpp.generator, &k, err)))
            return fm_err_prefix(err, "--mmpp-generator: ");
        if (k != s->mmpp.k)
            return fm_err_set(err, FM_EINVAL, "--mmpp-generator is %dx%d but there are %d rates", k,
                              k, s->mmpp.k);
        s->mmpp.have_generator = true;
    }
    if (a->mmpp_sojourn) {
        int n;
        if ((rc =
                 load_parse_list(a->mmpp_sojourn, true, s->mmpp.sojourn_s, LOAD_MMPP_MAX, &n, err)))
            return fm_err_prefix(err, "--mmpp-sojourn: ");
        if (n != s->mmpp.k)
            return fm_err_set(err, FM_EINVAL,
                              "--mmpp-sojourn has %d values but there are %d "
                              "rates",
                              n, s->mmpp.k);
        s->mmpp.have_generator = false;
    }
    if (a->mmpp_transition) {
        int k = 0;
        if ((rc = load_parse_matrix(a->mmpp_transition, s->mmpp.transition, &k, err)))
            return fm_err_prefix(err, "--mmpp-transition: ");
        if (k != s->mmpp.k)
            return fm_err_set(err, FM_EINVAL,
                              "--mmpp-transition is %dx%d but there are %d "
                              "rates",
                              k, k, s->mmpp.k);
    }
    if (s->process == LOAD_PROC_MMPP && a->mmpp_rates && !a->mmpp_generator &&
        (!a->mmpp_sojourn || (s->mmpp.k > 1 && !a->mmpp_transition)))
        return fm_err_set(err, FM_EINVAL,
                          "mmpp needs --mmpp-generator, or --mmpp-sojourn and "
                          "--mmpp-transition");
    if (a->segments.n) {
        s->nseg = 0;
        for (int i = 0; i < a->segments.n; i++) {
            if (s->nseg == LOAD_SEG_MAX)
                return fm_err_set(err, FM_EINVAL, "at most %d segments", LOAD_SEG_MAX);
            if ((rc = load_segment_parse(a->segments.v[i], &s->seg[s->nseg++], err)))
                return rc;
        }
        s->process = LOAD_PROC_PIECEWISE;
    }
    if (a->spacing) {
        if (strcmp(a->spacing, "poisson") == 0)
            s->spacing = LOAD_SPACING_POISSON;
        else if (strcmp(a->spacing, "even") == 0)
            s->spacing = LOAD_SPACING_EVEN;
        else
            return fm_err_set(err, FM_EINVAL, "unknown spacing '%s' (poisson, even)", a->spacing);
    }
    if (a->repeat)
        s->repeat = true;
    if (a->trace) {
        load_unit u;
        if (load_unit_parse(a->trace_unit, &u))
            return fm_err_set(err, FM_EINVAL, "unknown trace unit '%s' (s, ms, us, ns)",
                              a->trace_unit);
        if ((rc = load_spec_load_trace(s, a->trace, u, err)))
            return rc;
    }
    if (a->spread && load_spread_parse(a->spread, &s->spread))
        return fm_err_set(err, FM_EINVAL, "unknown spread '%s' (uniform, poisson, equal)",
                          a->spread);
    if (a->azure && (rc = load_spec_load_azure(s, a->azure, a->azure_function, err)))
        return rc;
    if (a->requests < 0)
        return fm_err_set(err, FM_EINVAL, "--requests must be >= 0");
    if (a->requests)
        s->requests = (uint64_t)a->requests;
    if (a->duration)
        s->duration_ns = a->duration;
    if (a->have_seed)
        s->seed = (uint64_t)a->seed;
    if (!a->spec && !a->process && isnan(a->rate) && !a->mmpp_rates && !a->segments.n &&
        !a->trace && !a->azure)
        return fm_err_set(err, FM_EINVAL,
                          "no workload: give --rate, --mmpp-rates, --segment, "
                          "--trace, --azure or --spec");
    return load_spec_validate(s, err);
}

/* ---- dry run ------------------------------------------------------------------------------------
 */
static int dry_run(const load_spec *s, bool json, fm_err *err)
{
    load_schedule_stats st;
    int rc = load_schedule_stats_compute(s, &st, err);
    if (rc)
        return rc;
    if (json) {
        printf("{\"process\":\"%s\",\"seed\":%" PRIu64 ",\"count\":%" PRIu64
               ",\"span_s\":%.6f,\"mean_rate\":%.6f,\"max_per_s\":%" PRIu64 ",\"idc\":{",
               load_process_name(s->process), s->seed, st.count, st.span_s,
               isfinite(st.mean_rate) ? st.mean_rate : 0, st.max_per_s);
        for (int w = 0; w < LOAD_IDC_WINDOWS; w++) {
            if (isfinite(st.idc[w]))
                printf("%s\"%gs\":%.6g", w ? "," : "", st.idc_window_s[w], st.idc[w]);
            else
                printf("%s\"%gs\":null", w ? "," : "", st.idc_window_s[w]);
        }
        printf("}");
        if (st.have_mmpp) {
            printf(",\"mmpp\":{\"pi\":[");
            for (int i = 0; i < st.mmpp.k; i++)
                printf("%s%.6g", i ? "," : "", st.mmpp.pi[i]);
            printf("],\"mean_rate\":%.6f,\"idc_inf\":%.6g,\"idc\":{", st.mmpp.mean_rate,
                   st.mmpp.idc_inf);
            for (int w = 0; w < LOAD_IDC_WINDOWS; w++)
                printf("%s\"%gs\":%.6g", w ? "," : "", st.idc_window_s[w], st.mmpp_idc[w]);
            printf("}}");
        }
        printf("}\n");
        return 0;
    }
    printf("process      %s (seed %" PRIu64 ")\n", load_process_name(s->process), s->seed);
    printf("arrivals     %" PRIu64 "\n", st.count);
    printf("span         %.3f s\n", st.span_s);
    printf("mean rate    %.3f /s\n", st.mean_rate);
    printf("max per s    %" PRIu64 "\n", st.max_per_s);
    printf("dispersion   ");
    for (int w = 0; w < LOAD_IDC_WINDOWS; w++) {
        if (isfinite(st.idc[w]))
            printf("IDC(%gs)=%.3f  ", st.idc_window_s[w], st.idc[w]);
        else
            printf("IDC(%gs)=n/a  ", st.idc_window_s[w]);
    }
    printf("\n");
    if (st.have_mmpp) {
        printf("mmpp theory  stationary pi=[");
        for (int i = 0; i < st.mmpp.k; i++)
            printf("%s%.4f", i ? ", " : "", st.mmpp.pi[i]);
        printf("]  mean rate %.3f /s  IDC(inf)=%.3f\n             ", st.mmpp.mean_rate,
               st.mmpp.idc_inf);
        for (int w = 0; w < LOAD_IDC_WINDOWS; w++)
            printf("IDC(%gs)=%.3f  ", st.idc_window_s[w], st.mmpp_idc[w]);
        printf("\n");
    }
    return 0;
}

static int write_schedule(const load_spec *s, const char *path, fm_err *err)
{
    load_arrival *a;
    int rc = load_arrival_new(s, &a, err);
    if (rc)
        return rc;
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        load_arrival_free(a);
        return fm_err_set(err, FM_EIO, "cannot write '%s'", path);
    }
    fprintf(f, "# arrival times in ns, %s, seed %" PRIu64 "\n", load_process_name(s->process),
            s->seed);
    int64_t t;
    while (load_arrival_next(a, &t))
        fprintf(f, "%" PRId64 "\n", t);
    load_arrival_free(a);
    if (f != stdout && fclose(f) != 0)
        return fm_err_set(err, FM_EIO, "cannot write '%s'", path);
    return 0;
}

/* ---- target ---------------------------------------------------------------------------------- */
typedef struct target_buf {
    char url[4096], sigv4[256], userpwd[1024], token[2048];
    const char *headers[CLI_LIST_MAX + 1];
} target_buf;

static int build_target(load_args *a, load_target *t, target_buf *b, const char **fname,
                        fm_err *err)
{
    memset(t, 0, sizeof *t);
    int kinds = (a->function != NULL) + (a->kserve != NULL) + a->sagemaker;
    if (a->url && (a->target || kinds))
        return fm_err_set(err, FM_EINVAL,
                          "give --url alone, or --target with one of "
                          "--function, --kserve, --sagemaker");
    if (!a->url && !a->target)
        return fm_err_set(err, FM_EINVAL,
                          "no target: give --url URL or --target URL with "
                          "--function NAME, --kserve MODEL or --sagemaker");
    if (a->target && kinds != 1)
        return fm_err_set(err, FM_EINVAL,
                          "--target needs exactly one of --function, --kserve, "
                          "--sagemaker");
    if (a->url) {
        snprintf(b->url, sizeof b->url, "%s", a->url);
        *fname = a->url;
    } else {
        size_t n = strlen(a->target);
        while (n && a->target[n - 1] == '/')
            n--;
        if (a->function)
            snprintf(b->url, sizeof b->url, "%.*s/2015-03-31/functions/%s/invocations", (int)n,
                     a->target, a->function);
        else if (a->kserve)
            snprintf(b->url, sizeof b->url, "%.*s/v2/models/%s/infer", (int)n, a->target,
                     a->kserve);
        else
            snprintf(b->url, sizeof b->url, "%.*s/invocations", (int)n, a->target);
        *fname = a->function ? a->function : a->kserve ? a->kserve : "invocations";
    }
    if (strncmp(b->url, "http://", 7) != 0 && strncmp(b->url, "https://", 8) != 0)
        return fm_err_set(err, FM_EINVAL, "target '%s' is not an http:// or https:// URL", b->url);
    t->url = b->url;
    t->method = a->method;
    t->content_type = a->content_type;
    t->http2 = a->http2;
    t->lambda_log_tail = a->log_tail || a->function; /* a faasml gateway reports through it */
    if (a->client && load_client_parse(a->client, &t->client))
        return fm_err_set(err, FM_EINVAL, "unknown client '%s' (auto, lean, libcurl)", a->client);
    int nh = 0;
    for (int i = 0; i < a->headers.n; i++) {
        if (!strchr(a->headers.v[i], ':'))
            return fm_err_set(err, FM_EINVAL, "header '%s' is not 'Name: value'", a->headers.v[i]);
        b->headers[nh++] = a->headers.v[i];
    }
    if (a->sigv4) {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *key = getenv("AWS_SECRET_ACCESS_KEY");
        const char *tok = getenv("AWS_SESSION_TOKEN");
        const char *region = a->aws_region ? a->aws_region : getenv("AWS_REGION");
        if (!region)
            region = getenv("AWS_DEFAULT_REGION");
        if (!id || !key || !*id || !*key)
            return fm_err_set(err, FM_EINVAL,
                              "--sigv4 needs AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY in the environment");
        if (!region)
            return fm_err_set(err, FM_EINVAL, "--sigv4 needs --aws-region or AWS_REGION");
        snprintf(b->sigv4, sizeof b->sigv4, "aws:amz:%s:%s", region, a->aws_service);
        snprintf(b->userpwd, sizeof b->userpwd, "%s:%s", id, key);
        t->aws_sigv4 = b->sigv4;
        t->aws_userpwd = b->userpwd;
        if (tok && *tok && nh < CLI_LIST_MAX) {
            snprintf(b->token, sizeof b->token, "X-Amz-Security-Token: %s", tok);
            b->headers[nh++] = b->token;
        }
    }
    t->headers = b->headers;
    t->nheaders = nh;
    return 0;
}

static int build_payloads(load_args *a, uint64_t seed, load_payloads **p, fm_err *err)
{
    *p = NULL;
    int n = (a->payload != NULL) + (a->tensor != NULL) + (a->body != NULL);
    if (n > 1)
        return fm_err_set(err, FM_EINVAL, "give one of --payload, --tensor, --body");
    if (a->tensor)
        return load_payloads_tensor(a->tensor, seed, p, err);
    if (a->body)
        return load_payloads_literal(a->body, p, err);
    if (a->payload) {
        load_pick pick;
        if (strcmp(a->pick, "round-robin") == 0)
            pick = LOAD_PICK_ROUND_ROBIN;
        else if (strcmp(a->pick, "random") == 0)
            pick = LOAD_PICK_RANDOM;
        else
            return fm_err_set(err, FM_EINVAL, "unknown --pick '%s' (round-robin, random)", a->pick);
        return load_payloads_from_path(a->payload, pick, seed, p, err);
    }
    /* Lambda Invoke and KServe targets take a body; a plain URL gets GET */
    if (a->function || a->sagemaker)
        return load_payloads_literal("{}", p, err);
    if (a->kserve)
        return fm_err_set(err, FM_EINVAL, "--kserve needs --tensor or --payload");
    return 0;
}

/* Why: the body `load` builds (a generated tensor above all) is the request a user wants to
 * replay with curl or `aws lambda invoke`; it is request 1's, so the same seed gives the same
 * file. */
static int save_body(load_args *a, fm_err *err)
{
    load_payloads *p;
    int rc = build_payloads(a, (uint64_t)a->seed, &p, err);
    if (rc)
        return rc;
    if (!p)
        return fm_err_set(err, FM_EINVAL, "--save-body needs --tensor, --body or --payload");
    const char *data;
    size_t len;
    load_payloads_get(p, 1, &data, &len);
    FILE *f = strcmp(a->save_body, "-") == 0 ? stdout : fopen(a->save_body, "wb");
    if (!f)
        rc = fm_err_set(err, FM_EIO, "cannot write '%s'", a->save_body);
    else if ((fwrite(data, 1, len, f) != len) | (f != stdout ? fclose(f) != 0 : fflush(f) != 0))
        rc = fm_err_set(err, FM_EIO, "cannot write '%s'", a->save_body);
    load_payloads_free(p);
    return rc;
}

/* ---- recording
 * ----------------------------------------------------------------------------------- */
typedef struct sink {
    store *db;
    int64_t run_id;
    FILE *csv;
    const char *function;
    int64_t t0_mono;  /* set by the driver before the first record */
    int64_t wall_off; /* wall clock minus monotonic clock */
    int errors;
    fm_err err;
} sink;

static void on_record(const load_record *r, void *ud)
{
    sink *k = ud;
    if (k->db && !k->errors) {
        store_request q;
        load_record_to_store(r, k->run_id, k->function, k->wall_off + k->t0_mono, &q);
        if (store_request_add(k->db, &q, &k->err))
            k->errors++;
    }
    if (k->csv) {
        char e[256];
        fm_json_quote(e, sizeof e, r->error); /* a quoted string is valid CSV when it has no "" */
        for (char *c = e + 1; *c && c[1]; c++)
            if (*c == '"' || *c == '\\')
                *c = '\'';
        int64_t ls = r->done_ns && r->status == LOAD_ST_OK ? r->done_ns - r->scheduled_ns : -1;
        int64_t lt =
            r->done_ns && r->sent_ns && r->status == LOAD_ST_OK ? r->done_ns - r->sent_ns : -1;
        fprintf(k->csv,
                "%" PRIu64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                ",%s,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%d,%d,%" PRId64
                ",%.3f,%.3f,%.3f,%d,%s\n",
                r->id, r->scheduled_ns, r->dispatch_ns, r->sent_ns, r->first_byte_ns, r->done_ns,
                load_status_name(r->status), r->http_code, ls, lt,
                r->sent_ns ? r->sent_ns - r->scheduled_ns : -1, r->reused_conn, r->cold,
                r->instance, r->init_ms, r->duration_ms, r->billed_ms, r->memory_mb, e);
    }
}

/* ---- progress and summary ----------------------------------------------------------------------
 */
static bool tty;

static void on_progress(const load_progress *p, void *ud)
{
    (void)ud;
    char line[256];
    snprintf(line, sizeof line,
             "%7.1fs sent %" PRIu64 " in-flight %" PRIu64 " rate %.0f/s (planned %.0f/s) p50 "
             "%.2fms p99 %.2fms errors %" PRIu64 " dropped %" PRIu64,
             (double)p->elapsed_ns / 1e9, p->sent, p->in_flight, p->rate_now, p->rate_planned,
             (double)p->p50_ns / 1e6, (double)p->p99_ns / 1e6, p->errors, p->dropped);
    if (tty)
        fprintf(stderr, "\r\033[K%s", line);
    else
        fprintf(stderr, "progress: %s\n", line);
}

static const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
static const char *const qn[] = {"p50", "p90", "p99", "p99.9", "max"};

static void print_hist_json(const char *name, const fm_hist *h, double div)
{
    printf(",\"%s\":{\"count\":%" PRIu64 ",\"mean\":%.6g", name, h->count,
           h->count ? fm_hist_mean(h) / div : 0);
    for (size_t i = 0; i < FM_ARRAY_LEN(qs); i++)
        printf(",\"%s\":%.6g", qn[i], (double)fm_hist_quantile(h, qs[i]) / div);
    printf("}");
}

static void print_hist_text(const char *label, const fm_hist *h, double div, const char *unit)
{
    printf("  %-30s", label);
    if (!h->count) {
        printf("n/a\n");
        return;
    }
    for (size_t i = 0; i < FM_ARRAY_LEN(qs); i++)
        printf("%s %.3f  ", qn[i], (double)fm_hist_quantile(h, qs[i]) / div);
    printf("(%s)\n", unit);
}

/* Why: a user must see when the generator, not the target, set the pace: the late sends with
 * their causes, and the achieved rate against the planned one, second by second. */
static void print_timing_json(const load_summary *s)
{
    printf(",\"client\":\"%s\",\"generator_limited\":%s,\"host_delayed\":%s,"
           "\"loop_busy_fraction\":%.4f,"
           "\"behind\":{\"total\":%" PRIu64 ",\"loop_busy\":%" PRIu64 ",\"woken_late\":%" PRIu64
           "},\"late_sends\":{\"total\":%" PRIu64 ",\"loop_busy\":%" PRIu64
           ",\"woken_late\":%" PRIu64 ",\"connection\":%" PRIu64 "},\"per_second\":{\"planned\":[",
           s->client ? s->client : "?", s->generator_limited ? "true" : "false",
           s->host_delayed ? "true" : "false", s->busy_fraction, s->behind,
           s->behind - s->behind_woke, s->behind_woke, s->late, s->late_busy, s->late_woke,
           s->late_conn);
    for (size_t k = 0; k < s->seconds; k++)
        printf("%s%u", k ? "," : "", s->planned_per_s[k]);
    printf("],\"sent\":[");
    for (size_t k = 0; k < s->seconds; k++)
        printf("%s%u", k ? "," : "", s->sent_per_s[k]);
    printf("]}");
}

/* Two warnings, one per culprit: the generator's own loop, or the machine it runs on. */
static void warn_timing(const load_summary *s)
{
    uint64_t busy = s->behind - s->behind_woke;
    double pct = s->total ? 100.0 / (double)s->total : 0;
    if (s->generator_limited) {
        fprintf(stderr, "faasml load: warning: the generator was the limit, not the target: ");
        if (busy * 100 > s->total)
            fprintf(stderr,
                    "%" PRIu64 " of %" PRIu64 " requests (%.1f%%) were picked up more than 1 ms "
                    "late with its loop busy",
                    busy, s->total, pct * (double)busy);
        else
            fprintf(stderr,
                    "its timing loops were busy %.0f%% of the run and sent %.0f%% of the plan",
                    100 * s->busy_fraction, pct * s->achieved_rate * (double)s->elapsed_ns / 1e9);
        fprintf(stderr, "; try --threads, or a lower rate\n");
    }
    if (s->host_delayed)
        fprintf(stderr,
                "faasml load: warning: the machine delayed the generator: %" PRIu64 " of %" PRIu64
                " requests (%.1f%%) were picked up more than 1 ms late because the kernel ran its "
                "loop late (other processes ran first); --rt-priority helps\n",
                s->behind_woke, s->total, pct * (double)s->behind_woke);
}

static void print_timing_text(const load_summary *s)
{
    printf("  late sends (> 1 ms):           %" PRIu64 " (loop busy %" PRIu64
           ", run late by the kernel %" PRIu64 ", waiting for a connection %" PRIu64 ")\n",
           s->late, s->late_busy, s->late_woke, s->late_conn);
    printf("  sent / planned per second:    ");
    size_t shown = FM_MIN(s->seconds, (size_t)12);
    for (size_t k = 0; k < shown; k++)
        printf(" %u/%u", s->sent_per_s[k], s->planned_per_s[k]);
    if (s->seconds > shown) {
        /* the worst second after the first dozen */
        size_t w = shown;
        double wr = 2;
        for (size_t k = shown; k < s->seconds; k++) {
            double r = s->planned_per_s[k] ? (double)s->sent_per_s[k] / s->planned_per_s[k] : 1;
            if (r < wr)
                wr = r, w = k;
        }
        printf(" ... (%zu s; lowest at %zu s: %u/%u)", s->seconds, w, s->sent_per_s[w],
               s->planned_per_s[w]);
    }
    printf("  (client %s)\n", s->client ? s->client : "?");
}

static void print_summary(const load_summary *s, const load_spec *spec, int64_t run_id, bool json)
{
    if (json) {
        printf("{\"run\":%" PRId64 ",\"process\":\"%s\",\"seed\":%" PRIu64 ",\"scheduled\":%" PRIu64
               ",\"elapsed_s\":%.6f,\"achieved_rate\":%.3f,"
               "\"success_ratio\":%.6f,\"interrupted\":%s,\"counts\":{",
               run_id, load_process_name(spec->process), spec->seed, s->total,
               (double)s->elapsed_ns / 1e9, s->achieved_rate, s->success_ratio,
               s->interrupted ? "true" : "false");
        for (int i = 0; i < LOAD_ST__COUNT; i++)
            printf("%s\"%s\":%" PRIu64, i ? "," : "", load_status_name((load_status)i),
                   s->count[i]);
        printf("}");
        print_timing_json(s);
        print_hist_json("latency_from_scheduled_ms", s->lat_sched, 1e6);
        print_hist_json("latency_from_sent_ms", s->lat_sent, 1e6);
        print_hist_json("dispatch_error_us", s->dispatch, 1e3);
        printf("}\n");
        return;
    }
    printf("%" PRIu64 " requests in %.2f s (%s, seed %" PRIu64 "), sent at %.1f/s%s\n", s->total,
           (double)s->elapsed_ns / 1e9, load_process_name(spec->process), spec->seed,
           s->achieved_rate, s->interrupted ? ", interrupted" : "");
    printf("  ");
    for (int i = 0; i < LOAD_ST__COUNT; i++)
        printf("%s %" PRIu64 "  ", load_status_name((load_status)i), s->count[i]);
    printf("success ratio %.2f%%\n", 100 * s->success_ratio);
    print_hist_text("latency from scheduled:", s->lat_sched, 1e6, "ms");
    print_hist_text("latency from sent:", s->lat_sent, 1e6, "ms");
    print_hist_text("dispatch error (sent-sched):", s->dispatch, 1e3, "us");
    print_timing_text(s);
    if (run_id > 0)
        printf("  recorded as run %" PRId64 "\n", run_id);
}

static volatile sig_atomic_t stop_flag;
static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char *const csv_header =
    "id,scheduled_ns,dispatch_ns,sent_ns,first_byte_ns,done_ns,status,http_code,"
    "latency_sched_ns,latency_sent_ns,dispatch_error_ns,reused_conn,cold,instance,init_ms,"
    "duration_ms,billed_ms,memory_mb,error\n";

static int run_load(load_args *a, load_spec *spec)
{
    fm_err err = {0};
    load_target t;
    target_buf tb;
    const char *fname = NULL;
    load_payloads *p = NULL;
    if (build_target(a, &t, &tb, &fname, &err) || build_payloads(a, spec->seed, &p, &err))
        return cli_fail(CMD, 2, "%s", err.msg);
    if (a->max_in_flight < 1 || a->max_in_flight > 1000000 || a->timeout <= 0 ||
        a->rt_priority < 0 || a->rt_priority > 99 || a->threads < 1 || a->threads > 64 ||
        a->threads > a->max_in_flight) {
        load_payloads_free(p);
        return cli_fail(CMD, 2,
                        "--max-in-flight must be 1 to 1000000, --timeout > 0, "
                        "--rt-priority 0 to 99 and --threads 1 to 64 (at most --max-in-flight)");
    }
    if (!a->no_check && load_target_check(&t, a->check_timeout, &err)) {
        load_payloads_free(p);
        return cli_fail(CMD, 1, "%s (nothing was sent)", err.msg);
    }
    sink k = {.function = fname};
    int rc = 1;
    load_arrival *arr = NULL;
    char *cfg = NULL;
    if (load_arrival_new(spec, &arr, &err))
        goto fail2;
    if (a->csv) {
        if (!(k.csv = fopen(a->csv, "w"))) {
            fm_err_set(&err, FM_EIO, "cannot write '%s'", a->csv);
            goto fail;
        }
        fputs(csv_header, k.csv);
    }
    if (a->db && strcmp(a->db, "none") != 0) {
        if (store_open(a->db, &k.db, &err))
            goto fail;
        char *w = load_spec_to_json(spec);
        size_t cap = (w ? strlen(w) : 0) + strlen(t.url) * 2 + 256;
        char *url = malloc(strlen(t.url) * 2 + 8);
        cfg = malloc(cap);
        if (!w || !url || !cfg) {
            free(w);
            free(url);
            fm_err_set(&err, FM_ENOMEM, "out of memory");
            goto fail;
        }
        fm_json_quote(url, strlen(t.url) * 2 + 8, t.url);
        snprintf(cfg, cap,
                 "{\"workload\":%s,\"target\":%s,\"max_in_flight\":%" PRId64
                 ",\"timeout_s\":%.3f,\"http2\":%s}",
                 w, url, a->max_in_flight, (double)a->timeout / 1e9, a->http2 ? "true" : "false");
        free(w);
        free(url);
        store_run run = {.name = a->name,
                         .mode = "live",
                         .profile = a->profile,
                         .config = cfg,
                         .seed = spec->seed,
                         .started_ns = fm_wall_ns(),
                         .status = "running"};
        if (store_run_begin(k.db, &run, &err))
            goto fail;
        k.run_id = run.id;
    }
    tty = isatty(STDERR_FILENO);
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int64_t prog = a->quiet ? 0 : a->progress >= 0 ? a->progress : tty ? 250000000 : 5000000000;
    load_run_opts o = {.max_in_flight = (int)a->max_in_flight,
                       .timeout_ns = a->timeout,
                       .threads = (int)a->threads,
                       .spin_ns = a->spin,
                       .rt_priority = (int)a->rt_priority,
                       .progress_ns = prog,
                       .progress = on_progress,
                       .record = on_record,
                       .ud = &k,
                       .stop = &stop_flag};
    load_summary sum;
    /* run times are ns since the driver's start; one wall/monotonic pair maps them to wall time */
    k.wall_off = fm_wall_ns() - fm_now_ns();
    o.t0_out = &k.t0_mono;
    if (!k.db && !k.csv)
        o.record = NULL; /* nothing keeps the records: the loops skip them */
    if (load_run(arr, &t, p, &o, &sum, &err))
        goto fail;
    if (tty && prog)
        fputc('\n', stderr);
    warn_timing(&sum);
    rc = 0;
    if (k.db) {
        if (k.errors)
            fprintf(stderr, "faasml load: %d requests not recorded: %s\n", k.errors, k.err.msg);
        if (store_run_end(k.db, k.run_id, fm_wall_ns(), sum.interrupted ? "interrupted" : "done",
                          &err) ||
            store_flush(k.db, &err)) {
            fprintf(stderr, "faasml load: %s\n", err.msg);
            rc = 1;
        }
    }
    print_summary(&sum, spec, k.run_id, a->json);
    load_summary_release(&sum);
    if (k.csv && fclose(k.csv) != 0) {
        fprintf(stderr, "faasml load: cannot write '%s'\n", a->csv);
        rc = 1;
    }
    k.csv = NULL;
    goto done;
fail:
    if (k.db && k.run_id)
        store_run_end(k.db, k.run_id, fm_wall_ns(), "failed", NULL);
fail2:
    fprintf(stderr, "faasml load: %s\n", err.msg);
done:
    if (k.csv)
        fclose(k.csv);
    store_close(k.db);
    load_arrival_free(arr);
    load_payloads_free(p);
    free(cfg);
    return rc;
}

int cmd_load(int argc, char **argv)
{
    load_args a = {.rate = NAN,
                   .trace_unit = "s",
                   .pick = "round-robin",
                   .aws_service = "lambda",
                   .max_in_flight = 1024,
                   .timeout = 30000000000LL,
                   .spin = -1,
                   .check_timeout = 3000000000LL,
                   .threads = 1,
                   .progress = -1,
                   .db = "results.db",
                   .name = "load",
                   .seed = 1};
    const char *seed_s = NULL, *spin_s = NULL;
    const cli_opt opts[] = {
        {"spec", 0, CLI_OPT_FILE, &a.spec, "FILE", "workload from a YAML file (flags override)"},
        {"process", 'p', CLI_OPT_STR, &a.process, "NAME",
         "constant, poisson, mmpp, piecewise, trace, azure (default: poisson with --rate)"},
        {"rate", 'r', CLI_OPT_DOUBLE, &a.rate, "R", "requests per second (constant, poisson)"},
        {"mmpp-rates", 0, CLI_OPT_STR, &a.mmpp_rates, "R1,R2,..", "MMPP: rate of each state"},
        {"mmpp-sojourn", 0, CLI_OPT_STR, &a.mmpp_sojourn, "D1,D2,..",
         "MMPP: mean time in each state (with --mmpp-transition)"},
        {"mmpp-transition", 0, CLI_OPT_STR, &a.mmpp_transition, "P",
         "MMPP: jump matrix, rows ';'-separated, each summing to 1, zero diagonal"},
        {"mmpp-generator", 0, CLI_OPT_STR, &a.mmpp_generator, "Q",
         "MMPP: generator matrix per second, rows ';'-separated, each summing to 0"},
        {"segment", 0, CLI_OPT_LIST, &a.segments, "SEG",
         "piecewise segment, repeatable: step:RATE:DUR, ramp:FROM:TO:DUR, "
         "sine:MEAN:AMP:PERIOD:DUR"},
        {"spacing", 0, CLI_OPT_STR, &a.spacing, "S",
         "piecewise arrivals: poisson (default) or even"},
        {"repeat", 0, CLI_OPT_FLAG, &a.repeat, NULL, "piecewise: cycle the segments"},
        {"trace", 0, CLI_OPT_FILE, &a.trace, "FILE", "replay a timestamp file (one per line)"},
        {"trace-unit", 0, CLI_OPT_STR, &a.trace_unit, "U",
         "unit of --trace times: s, ms, us, ns "
         "(default s)"},
        {"azure", 0, CLI_OPT_FILE, &a.azure, "FILE",
         "replay an Azure Functions 2019 invocations_per_function CSV"},
        {"azure-function", 0, CLI_OPT_STR, &a.azure_function, "HASH",
         "only this HashFunction (default: all rows summed)"},
        {"spread", 0, CLI_OPT_STR, &a.spread, "S",
         "arrivals within an Azure minute: uniform (default), poisson, equal"},
        {"requests", 'n', CLI_OPT_INT, &a.requests, "N", "stop after N requests"},
        {"duration", 'd', CLI_OPT_DURATION, &a.duration, "D", "stop at D (e.g. 60s)"},
        {"seed", 0, CLI_OPT_STR, &seed_s, "S",
         "random seed (default 1); same seed, same "
         "schedule"},
        {"url", 'u', CLI_OPT_STR, &a.url, "URL", "send to this URL (Lambda Invoke, KServe, any)"},
        {"target", 0, CLI_OPT_STR, &a.target, "URL", "base URL of a faasml gateway or server"},
        {"function", 'f', CLI_OPT_STR, &a.function, "NAME",
         "with --target: POST /2015-03-31/functions/NAME/invocations (asks for the log tail "
         "to record cold starts and billed duration)"},
        {"kserve", 0, CLI_OPT_STR, &a.kserve, "MODEL",
         "with --target: POST /v2/models/MODEL/infer"},
        {"sagemaker", 0, CLI_OPT_FLAG, &a.sagemaker, NULL, "with --target: POST /invocations"},
        {"method", 'X', CLI_OPT_STR, &a.method, "M", "HTTP method (default POST with a body)"},
        {"header", 'H', CLI_OPT_LIST, &a.headers, "'N: V'", "extra request header, repeatable"},
        {"content-type", 0, CLI_OPT_STR, &a.content_type, "T",
         "body content type (default application/json)"},
        {"payload", 0, CLI_OPT_FILE, &a.payload, "PATH",
         "body from a file, or each file of a "
         "directory"},
        {"pick", 0, CLI_OPT_STR, &a.pick, "P",
         "directory payloads: round-robin (default), "
         "random"},
        {"tensor", 0, CLI_OPT_STR, &a.tensor, "SPEC",
         "generated KServe v2 body, e.g. input:1x3x224x224:FP32"},
        {"body", 0, CLI_OPT_STR, &a.body, "TEXT", "literal body"},
        {"save-body", 0, CLI_OPT_STR, &a.save_body, "FILE",
         "write the body of the first request (e.g. the --tensor one) to FILE; alone with a "
         "body option, send nothing"},
        {"sigv4", 0, CLI_OPT_FLAG, &a.sigv4, NULL,
         "sign with AWS SigV4 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)"},
        {"aws-region", 0, CLI_OPT_STR, &a.aws_region, "R", "SigV4 region (default AWS_REGION)"},
        {"aws-service", 0, CLI_OPT_STR, &a.aws_service, "S", "SigV4 service (default lambda)"},
        {"lambda-log-tail", 0, CLI_OPT_FLAG, &a.log_tail, NULL,
         "ask Lambda for its log tail and record cold start, duration, billed duration"},
        {"http2", 0, CLI_OPT_FLAG, &a.http2, NULL,
         "use HTTP/2 (ALPN on https://; on http:// needs libcurl >= 8.0)"},
        {"max-in-flight", 'c', CLI_OPT_INT, &a.max_in_flight, "N",
         "outstanding requests at most (default 1024); a send past it is counted as dropped"},
        {"timeout", 0, CLI_OPT_DURATION, &a.timeout, "D", "per-request timeout (default 30s)"},
        {"spin", 0, CLI_OPT_STR, &spin_s, "D",
         "busy-wait the last D before each send (default auto: as long as the kernel's recent "
         "wake-ups were late, at most 50us; 0: sleep only)"},
        {"threads", 't', CLI_OPT_INT, &a.threads, "N",
         "timing loops, each on its own thread sending every N-th request (default 1)"},
        {"client", 0, CLI_OPT_STR, &a.client, "C",
         "lean (own HTTP/1.1 keep-alive client, http:// only), libcurl (TLS, HTTP/2, SigV4) or "
         "auto (default: lean when it can)"},
        {"rt-priority", 0, CLI_OPT_INT, &a.rt_priority, "N",
         "run the timing loop SCHED_FIFO at priority N (1-99; needs CAP_SYS_NICE; default 0: "
         "off)"},
        {"check-timeout", 0, CLI_OPT_DURATION, &a.check_timeout, "D",
         "connection check before the run (default 3s)"},
        {"no-check", 0, CLI_OPT_FLAG, &a.no_check, NULL, "skip the connection check"},
        {"db", 0, CLI_OPT_STR, &a.db, "PATH", "results database (default results.db; none: off)"},
        {"name", 0, CLI_OPT_STR, &a.name, "NAME", "run name in the database (default load)"},
        {"profile", 0, CLI_OPT_STR, &a.profile, "P", "platform profile to record with the run"},
        {"csv", 0, CLI_OPT_STR, &a.csv, "FILE", "also write every request to a CSV file"},
        {"progress", 0, CLI_OPT_DURATION, &a.progress, "D",
         "progress period (default 250ms on a terminal, 5s otherwise; 0: off)"},
        {"quiet", 'q', CLI_OPT_FLAG, &a.quiet, NULL, "no progress lines"},
        {"json", 0, CLI_OPT_FLAG, &a.json, NULL, "summary (or --dry-run statistics) as JSON"},
        {"dry-run", 0, CLI_OPT_FLAG, &a.dry_run, NULL,
         "print the schedule's statistics, send nothing"},
        {"schedule-out", 0, CLI_OPT_STR, &a.schedule_out, "FILE",
         "write the arrival times (ns, one per line; - for stdout)"},
        {0},
    };
    const cli_spec spec_cli = {
        CMD,
        "[workload] [target] [options]",
        "Open-loop load generator: sends each request at its scheduled time, whatever is still "
        "outstanding, and measures latency from the scheduled time (free of coordinated "
        "omission), from the actual send time, and the dispatch error. Every request goes to the "
        "results database.\n\nexamples:\n"
        "  faasml load --rate 100 -d 10s --dry-run\n"
        "  faasml load --mmpp-rates 5,50 --mmpp-sojourn 20s,5s --mmpp-transition '0,1;1,0' \\\n"
        "      -n 1000 --target http://127.0.0.1:9000 --function mobilenet\n"
        "  faasml load --segment ramp:10:200:60s --target http://127.0.0.1:9000 --kserve m "
        "--tensor input:1x3x224x224:FP32\n"
        "  faasml load --azure d01.csv --spread poisson -d 10m --target http://127.0.0.1:9000 "
        "--function mobilenet\n"
        "  faasml load --rate 50000 -d 10s -t 2 -c 256 --url http://127.0.0.1/index.html\n"
        "  faasml load --tensor input:1x3x224x224:FP32 --save-body request.json",
        opts,
        0,
        0};
    int npos, rc = cli_parse(&spec_cli, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (seed_s) {
        int64_t v;
        if (fm_parse_i64(seed_s, &v) || v < 0)
            return cli_fail(CMD, 2, "invalid value '%s' for --seed", seed_s);
        a.seed = v;
        a.have_seed = true;
    }
    if (spin_s && strcmp(spin_s, "auto") != 0 &&
        (fm_parse_duration_ns(spin_s, &a.spin) || a.spin < 0))
        return cli_fail(CMD, 2, "invalid value '%s' for --spin (a duration, or auto)", spin_s);
    if (a.save_body) {
        fm_err e = {0};
        if (save_body(&a, &e))
            return cli_fail(CMD, e.code == FM_EIO ? 1 : 2, "%s", e.msg);
        if (!a.url && !a.target)
            return 0;
    }
    fm_err err = {0};
    load_spec spec;
    load_spec_init(&spec);
    if (build_spec(&a, &spec, &err)) {
        load_spec_release(&spec);
        return cli_fail(CMD, 2, "%s", err.msg);
    }
    if (a.schedule_out && write_schedule(&spec, a.schedule_out, &err)) {
        load_spec_release(&spec);
        return cli_fail(CMD, 1, "%s", err.msg);
    }
    if (a.dry_run || a.schedule_out) {
        rc = a.dry_run ? dry_run(&spec, a.json, &err) : 0;
        load_spec_release(&spec);
        return rc ? cli_fail(CMD, 1, "%s", err.msg) : 0;
    }
    rc = run_load(&a, &spec);
    load_spec_release(&spec);
    return rc;
}
