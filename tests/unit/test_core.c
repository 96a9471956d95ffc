/* Unit tests of core: errors, logging, clocks, RNG statistics, histograms, arenas, parsing, YAML
 * error positions and atomic file writes. Statistical tests use fixed seeds, so they are
 * deterministic; each states its tolerance (in standard errors or as a chi-square critical value).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"

/* Fewer samples under ASan+UBSan, where every draw is several times slower. */
static size_t scaled(size_t n)
{
    const char *s = getenv("FM_SANITIZED");
    return s && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) ? n / 4 : n;
}

/* Asserts |got - want| <= tol with a message that shows all three. */
#define assert_close(got, want, tol)                                                               \
    do {                                                                                           \
        double g_ = (got), w_ = (want), t_ = (tol);                                                \
        if (!(fabs(g_ - w_) <= t_))                                                                \
            fail_msg("%s = %.10g, expected %.10g +- %.3g", #got, g_, w_, t_);                      \
    } while (0)

/* ---- errors -----------------------------------------------------------------------------------
 */

/* The cold-start phases and the provenance statuses are one list each (FM_PHASE_MAP,
 * FM_PROVENANCE_MAP): keys in the order a start goes through them, words parsed back. */
static void test_phase_and_provenance_lists(void **state)
{
    (void)state;
    static const char *const keys[] = {"spawn", "runtime_init", "download", "load", "warmup"};
    assert_int_equal(FM_PHASE__COUNT, 5);
    for (int p = 0; p < FM_PHASE__COUNT; p++)
        assert_string_equal(fm_phase_key((fm_phase)p), keys[p]);
    assert_string_equal(fm_phase_label(FM_PHASE_RUNTIME_INIT), "runtime init");
    assert_string_equal(fm_phase_key(FM_PHASE__COUNT), "?");
    assert_string_equal(fm_provenance_words(), "doc, src, 2nd, unverified, assumption");
    fm_provenance v;
    assert_int_equal(fm_provenance_parse("2nd", &v), 0);
    assert_int_equal(v, FM_PROVENANCE_SECOND);
    assert_int_equal(fm_provenance_parse("assumption", &v), 0);
    assert_string_equal(fm_provenance_word(v), "assumption");
    assert_int_equal(fm_provenance_parse("rumour", &v), FM_EINVAL);
    assert_int_equal(fm_provenance_parse(NULL, &v), FM_EINVAL);
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(fm_errname(0), "OK");
    assert_string_equal(fm_strerror(0), "success");
    assert_string_equal(fm_errname(FM_EPARSE), "FM_EPARSE");
    assert_string_equal(fm_strerror(FM_EPARSE), "parse error");
    assert_string_equal(fm_errname(FM_ENOMEM), "FM_ENOMEM");
    assert_string_equal(fm_errname(FM_EINTERNAL), "FM_EINTERNAL");
    assert_string_equal(fm_strerror(FM_EINTERNAL), "internal error");
    /* every code has a distinct name and a text, and codes stay clear of -errno */
    for (int c = FM__EBASE + 1; c < FM__ELAST; c++) {
        assert_true(c < -4096);
        assert_memory_equal(fm_errname(c), "FM_E", 4);
        assert_true(strlen(fm_strerror(c)) > 0);
        assert_string_not_equal(fm_strerror(c), "unknown error");
        for (int d = FM__EBASE + 1; d < c; d++)
            assert_string_not_equal(fm_errname(c), fm_errname(d));
    }
    /* system errors pass through as -errno */
    assert_string_equal(fm_errname(-ENOENT), "ENOENT");
    assert_string_equal(fm_strerror(-ENOENT), strerror(ENOENT));
    assert_string_equal(fm_errname(-EACCES), "EACCES");
    /* anything else is unknown but never NULL */
    assert_string_equal(fm_errname(12345), "EUNKNOWN");
    assert_string_equal(fm_strerror(12345), "unknown error");
    assert_string_equal(fm_errname(FM__EBASE), "EUNKNOWN");
    assert_string_equal(fm_errname(FM__ELAST), "EUNKNOWN");
    assert_non_null(fm_errname(-4095));
}

static void test_err_set_prefix(void **state)
{
    (void)state;
    fm_err err = {0};
    assert_int_equal(fm_err_set(&err, FM_EPARSE, "unsupported opset %d", 21), FM_EPARSE);
    assert_int_equal(err.code, FM_EPARSE);
    assert_string_equal(err.msg, "unsupported opset 21");
    assert_int_equal(fm_err_prefix(&err, "cannot load model '%s': ", "x.onnx"), FM_EPARSE);
    assert_string_equal(err.msg, "cannot load model 'x.onnx': unsupported opset 21");
    /* NULL err is allowed for callers that do not want the message */
    assert_int_equal(fm_err_set(NULL, FM_EIO, "x"), FM_EIO);
    /* a message at the size limit stays NUL-terminated after prefixing */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    fm_err_set(&err, FM_EIO, "%s", big);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
    fm_err_prefix(&err, "ctx: ");
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
    assert_memory_equal(err.msg, "ctx: aaa", 8);
    fm_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
}

/* ---- logging ----------------------------------------------------------------------------------
 */

typedef struct log_capture {
    int n;
    fm_log_level level;
    char module[32], msg[128];
} log_capture;

static void capture(fm_log_level level, const char *module, const char *msg, void *ud)
{
    log_capture *c = ud;
    c->n++;
    c->level = level;
    snprintf(c->module, sizeof c->module, "%s", module);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void test_log(void **state)
{
    (void)state;
    log_capture c = {0};
    fm_log_level old = fm_log_get_level();
    fm_log_set_handler(capture, &c);
    fm_log_set_level(FM_LOG_WARN);
    FM_INFO("core", "dropped %d", 1);
    assert_int_equal(c.n, 0);
    FM_WARN("store", "kept %d", 2);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.level, FM_LOG_WARN);
    assert_string_equal(c.module, "store");
    assert_string_equal(c.msg, "kept 2");
    fm_log_set_level(FM_LOG_OFF);
    FM_ERROR("core", "off");
    assert_int_equal(c.n, 1);
    fm_log_set_handler(NULL, NULL);
    fm_log_set_level(old);

    fm_log_level l;
    assert_int_equal(fm_log_level_parse("debug", &l), 0);
    assert_int_equal(l, FM_LOG_DEBUG);
    assert_int_equal(fm_log_level_parse("error", &l), 0);
    assert_int_equal(l, FM_LOG_ERROR);
    assert_int_equal(fm_log_level_parse("loud", &l), FM_EINVAL);
    assert_string_equal(fm_log_level_name(FM_LOG_INFO), "info");
}

/* The default handler writes one logfmt line to stderr; checked by pointing stderr at a file. */
static void test_log_default(void **state)
{
    (void)state;
    char path[] = "/tmp/fm_core_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fm_log_set_handler(NULL, NULL);
    FM_WARN("store", "cannot write '%s': \"full\"\n", "x.db");
    FM_DEBUG("store", "below the level");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *buf;
    size_t len;
    fm_err err;
    assert_int_equal(fm_read_file(path, &buf, &len, &err), 0);
    unlink(path);
    assert_memory_equal(buf, "ts=", 3);
    /* ts=2024-01-02T03:04:05.678Z */
    assert_int_equal(buf[13], 'T');
    assert_memory_equal(buf + 26, "Z level=warn mod=store msg=", 27);
    assert_string_equal(buf + 53, "\"cannot write 'x.db': \\\"full\\\"\\n\"\n");
    free(buf);
}

/* ---- clocks -----------------------------------------------------------------------------------
 */

static void test_clock(void **state)
{
    (void)state;
    int64_t a = fm_now_ns();
    fm_sleep_ns(2000000);
    int64_t b = fm_now_ns();
    assert_true(b - a >= 2000000); /* a lower bound only: sleeps may overshoot, never undershoot */
    assert_true(fm_wall_ns() > INT64_C(1600000000) * 1000000000); /* after 2020 */
}

/* ---- RNG --------------------------------------------------------------------------------------
 */

static void test_rng_reference(void **state)
{
    (void)state;
    /* published first outputs of splitmix64(0) and of xoshiro256** from state {1,2,3,4} */
    fm_rng r;
    fm_rng_seed(&r, 0);
    assert_true(r.s[0] == UINT64_C(0xe220a8397b1dcdaf));
    r = (fm_rng){{1, 2, 3, 4}};
    assert_true(fm_rng_u64(&r) == 11520);
    assert_true(fm_rng_u64(&r) == 0);
    assert_true(fm_rng_u64(&r) == 1509978240);
    assert_true(fm_rng_u64(&r) == UINT64_C(1215971899390074240));
}

static void test_rng_determinism(void **state)
{
    (void)state;
    fm_rng a, b, c;
    fm_rng_seed(&a, 42);
    fm_rng_seed(&b, 42);
    fm_rng_seed(&c, 43);
    int same_c = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = fm_rng_u64(&a);
        assert_true(x == fm_rng_u64(&b));
        same_c += x == fm_rng_u64(&c);
    }
    assert_int_equal(same_c, 0);
    /* the derived draws are pure functions of the stream too */
    fm_rng_seed(&a, 7);
    fm_rng_seed(&b, 7);
    for (int i = 0; i < 1000; i++) {
        assert_true(fm_rng_normal(&a, 0, 1) == fm_rng_normal(&b, 0, 1));
        assert_true(fm_rng_exp(&a, 3) == fm_rng_exp(&b, 3));
        assert_true(fm_rng_below(&a, 1000) == fm_rng_below(&b, 1000));
    }
}

/* Pearson correlation of the uniforms of two streams. */
static double correlation(fm_rng *a, fm_rng *b, size_t n)
{
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fm_rng_uniform(a), y = fm_rng_uniform(b);
        sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
    }
    double cov = sab / n - (sa / n) * (sb / n);
    return cov / sqrt((saa / n - (sa / n) * (sa / n)) * (sbb / n - (sb / n) * (sb / n)));
}

static void test_rng_split(void **state)
{
    (void)state;
    fm_rng root;
    fm_rng_seed(&root, 1234);
    fm_rng before = root;
    fm_rng s1 = fm_rng_split(&root, 1), s1b = fm_rng_split(&root, 1), s2 = fm_rng_split(&root, 2);
    assert_memory_equal(&root, &before, sizeof root); /* splitting does not advance the parent */
    assert_memory_equal(&s1, &s1b, sizeof s1);        /* same stream id, same stream */
    assert_memory_not_equal(&s1, &s2, sizeof s1);
    /* streams are uncorrelated with each other and with the parent: |rho| < 5/sqrt(n) */
    size_t n = scaled(200000);
    double tol = 5 / sqrt((double)n);
    fm_rng a = s1, b = s2, p = root;
    assert_close(correlation(&a, &b, n), 0, tol);
    a = s1;
    assert_close(correlation(&a, &p, n), 0, tol);
    /* neighbouring stream ids do not yield shifted copies of one sequence */
    a = fm_rng_split(&root, 1);
    b = fm_rng_split(&root, 2);
    uint64_t xa[64], xb[64];
    for (int i = 0; i < 64; i++)
        xa[i] = fm_rng_u64(&a), xb[i] = fm_rng_u64(&b);
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            assert_true(xa[i] != xb[j]);
}

/* Checks the sample mean and variance of n draws against the distribution's, each within 5
 * standard errors: se(mean) = sqrt(var/n), se(var) = sqrt((mu4 - var^2)/n). */
static void check_moments(const char *what, double *x, size_t n, double mean, double var,
                          double mu4)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    double v = ss / (n - 1);
    double se_m = sqrt(var / n), se_v = sqrt((mu4 - var * var) / n);
    if (fabs(m - mean) > 5 * se_m)
        fail_msg("%s: mean %.6g, expected %.6g +- %.3g", what, m, mean, 5 * se_m);
    if (fabs(v - var) > 5 * se_v)
        fail_msg("%s: variance %.6g, expected %.6g +- %.3g", what, v, var, 5 * se_v);
}

static void test_rng_distributions(void **state)
{
    (void)state;
    size_t n = scaled(1000000);
    double *x = malloc(n * sizeof *x);
    assert_non_null(x);
    fm_rng r;
    fm_rng_seed(&r, 2022);

    for (size_t i = 0; i < n; i++) {
        x[i] = fm_rng_uniform(&r);
        assert_true(x[i] >= 0 && x[i] < 1);
    }
    check_moments("uniform", x, n, 0.5, 1.0 / 12, 1.0 / 80);

    double rate = 4; /* mean 1/rate, variance 1/rate^2, fourth central moment 9/rate^4 */
    for (size_t i = 0; i < n; i++) {
        x[i] = fm_rng_exp(&r, rate);
        assert_true(x[i] >= 0 && isfinite(x[i]));
    }
    check_moments("exponential", x, n, 1 / rate, 1 / (rate * rate), 9 / pow(rate, 4));

    double mu = 3, sd = 2; /* fourth central moment 3 sd^4 */
    for (size_t i = 0; i < n; i++)
        x[i] = fm_rng_normal(&r, mu, sd);
    check_moments("normal", x, n, mu, sd * sd, 3 * pow(sd, 4));
    /* and the tails: P(|z| > 2) = 4.55% within 5 standard errors */
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        out += fabs(x[i] - mu) > 2 * sd;
    double p = 0.0455003;
    assert_close((double)out / n, p, 5 * sqrt(p * (1 - p) / n));

    /* lognormal: the log is normal */
    for (size_t i = 0; i < n; i++) {
        double v = fm_rng_lognormal(&r, 1, 0.5);
        assert_true(v > 0);
        x[i] = log(v);
    }
    check_moments("log of lognormal", x, n, 1, 0.25, 3 * pow(0.5, 4));
    free(x);
}

/* Chi-square statistic of observed counts against equal expected counts. */
static double chi_square(const uint64_t *obs, int k, uint64_t n)
{
    double e = (double)n / k, chi = 0;
    for (int i = 0; i < k; i++)
        chi += ((double)obs[i] - e) * ((double)obs[i] - e) / e;
    return chi;
}

static void test_rng_below(void **state)
{
    (void)state;
    fm_rng r;
    fm_rng_seed(&r, 99);
    uint64_t n = scaled(600000);
    /* small bound: 10 cells, 9 degrees of freedom, critical value 27.88 at p = 0.001 */
    uint64_t c10[10] = {0};
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = fm_rng_below(&r, 10);
        assert_true(v < 10);
        c10[v]++;
    }
    double chi = chi_square(c10, 10, n);
    if (chi > 27.88)
        fail_msg("fm_rng_below(10): chi-square %.2f > 27.88", chi);

    /* bound 3*2^62, where biased methods show: plain modulo puts half of all draws below 2^62,
     * multiply-shift without rejection puts half on multiples of 3. Both tests have 3 cells,
     * 2 degrees of freedom, critical value 13.82 at p = 0.001. */
    uint64_t big = UINT64_C(3) << 62;
    uint64_t third[3] = {0}, mod3[3] = {0};
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = fm_rng_below(&r, big);
        assert_true(v < big);
        third[v >> 62]++;
        mod3[v % 3]++;
    }
    chi = chi_square(third, 3, n);
    if (chi > 13.82)
        fail_msg("fm_rng_below(3*2^62) by range: chi-square %.2f > 13.82", chi);
    chi = chi_square(mod3, 3, n);
    if (chi > 13.82)
        fail_msg("fm_rng_below(3*2^62) by residue: chi-square %.2f > 13.82", chi);

    for (int i = 0; i < 100; i++)
        assert_true(fm_rng_below(&r, 1) == 0);
    /* the largest bound, where the rejection threshold is 1 */
    for (int i = 0; i < 100; i++)
        assert_true(fm_rng_below(&r, UINT64_MAX) < UINT64_MAX);
}

/* ---- histogram --------------------------------------------------------------------------------
 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q*n samples at or below it. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
    double r = q * (double)n;
    size_t rank = (size_t)ceil(r - 1e-9 * r); /* 99000.00000000001 is rank 99000 */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static void test_hist_quantiles(void **state)
{
    (void)state;
    size_t n = scaled(400000);
    uint64_t *v = malloc(n * sizeof *v);
    fm_hist *h = fm_hist_new();
    assert_non_null(v);
    assert_non_null(h);
    fm_rng r;
    fm_rng_seed(&r, 5);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        /* latencies around 2 ms with a heavy tail, in ns, plus a few sub-256 exact values */
        v[i] = i % 1000 == 0 ? fm_rng_below(&r, 256) : (uint64_t)fm_rng_lognormal(&r, 14.5, 1.2);
        sum += (double)v[i];
        fm_hist_add(h, v[i]);
    }
    qsort(v, n, sizeof *v, cmp_u64);
    assert_true(h->count == n);
    assert_true(fm_hist_quantile(h, 0) == v[0]);
    assert_true(fm_hist_quantile(h, 1) == v[n - 1]);
    assert_true(h->min == v[0] && h->max == v[n - 1]);
    assert_close(fm_hist_mean(h), sum / n, 1e-9 * sum / n);
    static const double qs[] = {0.0001, 0.001, 0.01, 0.05,  0.1,   0.25,   0.5,    0.75,
                                0.9,    0.95,  0.99, 0.995, 0.999, 0.9999, 0.99999};
    for (size_t i = 0; i < FM_ARRAY_LEN(qs); i++) {
        uint64_t want = exact_quantile(v, n, qs[i]), got = fm_hist_quantile(h, qs[i]);
        double rel = fabs((double)got - (double)want) / (double)want;
        if (rel > 0.01)
            fail_msg("p%g: histogram %llu, exact %llu (%.3f%% off, limit 1%%)", qs[i] * 100,
                     (unsigned long long)got, (unsigned long long)want, rel * 100);
    }
    /* every quantile on a fine grid, including those that land in the exact sub-256 range */
    for (int k = 1; k < 1000; k++) {
        double q = k / 1000.0;
        uint64_t want = exact_quantile(v, n, q), got = fm_hist_quantile(h, q);
        if (want < 256)
            assert_true(got == want);
        else if (fabs((double)got - (double)want) > 0.01 * (double)want)
            fail_msg("q=%g: histogram %llu, exact %llu", q, (unsigned long long)got,
                     (unsigned long long)want);
    }
    fm_hist_free(h);
    free(v);
}

static void test_hist_extremes(void **state)
{
    (void)state;
    fm_hist *h = fm_hist_new();
    assert_non_null(h);
    /* small values are exact */
    for (uint64_t x = 0; x < 256; x++)
        fm_hist_add(h, x);
    assert_true(fm_hist_quantile(h, 0.5) == 127);
    assert_true(fm_hist_quantile(h, 0.1) == 25);
    fm_hist_reset(h);
    /* the largest values land in the last buckets */
    static const uint64_t big[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63,
                                   (UINT64_C(1) << 63) - 1, UINT64_C(3) << 62};
    for (size_t i = 0; i < FM_ARRAY_LEN(big); i++) {
        fm_hist_reset(h);
        fm_hist_add_n(h, big[i], 3);
        fm_hist_add(h, 1000);
        uint64_t got = fm_hist_quantile(h, 0.5);
        assert_true(fabs((double)got - (double)big[i]) <= 0.01 * (double)big[i]);
        assert_true(fm_hist_quantile(h, 1) == big[i]);
        assert_true(fm_hist_quantile(h, 0.25) >= 1000 && fm_hist_quantile(h, 0.25) <= 1010);
    }
    /* values in the top power of two must not be mistaken for the maximum */
    fm_hist_reset(h);
    fm_hist_add_n(h, UINT64_C(1) << 63, 3);
    fm_hist_add(h, UINT64_MAX);
    assert_true(fm_hist_quantile(h, 0.5) < UINT64_C(0x8100000000000000));
    assert_true(fm_hist_quantile(h, 0.5) >= UINT64_C(1) << 63);
    fm_hist_free(h);
}

static void test_hist_merge_empty(void **state)
{
    (void)state;
    fm_hist *a = fm_hist_new(), *b = fm_hist_new(), *all = fm_hist_new(), *e = fm_hist_new();
    assert_true(a && b && all && e);
    /* empty: every quantile and the mean are 0 */
    assert_true(fm_hist_quantile(e, 0) == 0);
    assert_true(fm_hist_quantile(e, 0.5) == 0);
    assert_true(fm_hist_quantile(e, 1) == 0);
    assert_true(fm_hist_mean(e) == 0.0);

    fm_rng r;
    fm_rng_seed(&r, 77);
    for (int i = 0; i < 50000; i++) {
        uint64_t x = (uint64_t)fm_rng_lognormal(&r, i % 2 ? 10 : 16, 1);
        fm_hist_add(i % 3 ? a : b, x);
        fm_hist_add(all, x);
    }
    fm_hist_merge(e, a); /* into empty: a copy */
    assert_true(e->count == a->count && e->min == a->min && e->max == a->max);
    assert_memory_equal(e->buckets, a->buckets, sizeof a->buckets);
    fm_hist_merge(a, b);
    assert_true(a->count == all->count);
    assert_true(a->min == all->min && a->max == all->max);
    assert_memory_equal(a->buckets, all->buckets, sizeof a->buckets);
    assert_close(a->sum, all->sum, 1e-12 * all->sum);
    for (int k = 0; k <= 100; k++)
        assert_true(fm_hist_quantile(a, k / 100.0) == fm_hist_quantile(all, k / 100.0));
    /* merging an empty histogram changes nothing */
    fm_hist_reset(e);
    uint64_t before = a->count;
    fm_hist_merge(a, e);
    assert_true(a->count == before && a->min == all->min);
    /* add_n is n adds */
    fm_hist_reset(a);
    fm_hist_reset(b);
    fm_hist_add_n(a, 123456, 5);
    fm_hist_add_n(a, 7, 0);
    for (int i = 0; i < 5; i++)
        fm_hist_add(b, 123456);
    assert_memory_equal(a, b, sizeof *a);
    fm_hist_free(a);
    fm_hist_free(b);
    fm_hist_free(all);
    fm_hist_free(e);
    fm_hist_free(NULL);
}

/* ---- arenas -----------------------------------------------------------------------------------
 */

static void test_arena(void **state)
{
    (void)state;
    fm_arena a;
    fm_arena_init(&a, 256);
    void *ptrs[200];
    for (int i = 0; i < 200; i++) {
        size_t sz = (size_t)(i * 7) % 100 + (i == 50 ? 1000 : 0); /* includes 0 and > chunk */
        ptrs[i] = fm_arena_alloc(&a, sz);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], i, sz); /* ASan flags any overlap with a neighbour or the chunk end */
    }
    for (int i = 1; i < 200; i++)
        assert_ptr_not_equal(ptrs[i], ptrs[i - 1]);
    assert_true(a.total >= 1000);

    char *s = fm_arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    unsigned char *z = fm_arena_calloc(&a, 10, 30);
    assert_non_null(z);
    for (int i = 0; i < 300; i++)
        assert_int_equal(z[i], 0);

    /* overflow: n*size and size rounding must not wrap around to a small block */
    assert_null(fm_arena_calloc(&a, SIZE_MAX / 2 + 1, 2));
    assert_null(fm_arena_calloc(&a, SIZE_MAX, SIZE_MAX));
    assert_null(fm_arena_alloc(&a, SIZE_MAX));
    assert_null(fm_arena_alloc(&a, SIZE_MAX - 8));
    assert_null(fm_arena_alloc(&a, SIZE_MAX - 100));

    /* reset keeps one chunk and hands memory out again from its start */
    fm_arena_reset(&a);
    assert_int_equal(a.total, 0);
    assert_non_null(a.head);
    void *p = fm_arena_alloc(&a, 32);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    memset(p, 0xab, 32);
    void *q = fm_arena_calloc(&a, 4, 4);
    assert_non_null(q);
    assert_ptr_equal(q, (char *)p + 32);
    assert_int_equal(a.total, 48);
    fm_arena_release(&a);
    assert_null(a.head);
    fm_arena_reset(&a); /* on an empty arena: nothing */
    fm_arena_release(&a);

    fm_arena_init(&a, 0); /* default chunk size */
    assert_non_null(fm_arena_alloc(&a, 1));
    assert_int_equal(a.chunk_size, 64 * 1024);
    fm_arena_release(&a);
}

/* ---- parsing ----------------------------------------------------------------------------------
 */

static void test_parse_numbers(void **state)
{
    (void)state;
    int64_t i = 77;
    assert_int_equal(fm_parse_i64("0", &i), 0);
    assert_true(i == 0);
    assert_int_equal(fm_parse_i64("-12", &i), 0);
    assert_true(i == -12);
    assert_int_equal(fm_parse_i64("+5", &i), 0);
    assert_true(i == 5);
    assert_int_equal(fm_parse_i64("9223372036854775807", &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(fm_parse_i64("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    static const char *bad_i[] = {"",
                                  " 1",
                                  "1 ",
                                  "1x",
                                  "0x10",
                                  "+",
                                  "-",
                                  "1.5",
                                  "1e3",
                                  "9223372036854775808",
                                  "-9223372036854775809",
                                  "--1"};
    for (size_t k = 0; k < FM_ARRAY_LEN(bad_i); k++) {
        i = 77;
        if (fm_parse_i64(bad_i[k], &i) != FM_EINVAL)
            fail_msg("fm_parse_i64 accepted '%s'", bad_i[k]);
        assert_true(i == 77); /* untouched on failure */
    }
    assert_int_equal(fm_parse_i64(NULL, &i), FM_EINVAL);

    double d = 0;
    assert_int_equal(fm_parse_double("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(fm_parse_double("-2e-3", &d), 0);
    assert_true(d == -2e-3);
    assert_int_equal(fm_parse_double("7", &d), 0);
    assert_true(d == 7);
    static const char *bad_d[] = {"", " 1", "1 ", "nan", "inf", "-inf", "1e999", "1.0x", "x", "."};
    for (size_t k = 0; k < FM_ARRAY_LEN(bad_d); k++) {
        d = 42;
        if (fm_parse_double(bad_d[k], &d) != FM_EINVAL)
            fail_msg("fm_parse_double accepted '%s'", bad_d[k]);
        assert_true(d == 42);
    }
}

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"250ms", 250000000},  {"10s", 10000000000},
        {"5m", 300000000000},  {"1h", 3600000000000},
        {"100us", 100000},     {"7ns", 7},
        {"1.5", 1500000000},   {"0", 0},
        {".5s", 500000000},    {"2.5ms", 2500000},
        {"1e3ms", 1000000000}, {"3000000000s", 3000000000000000000},
        {"0.0000000015s", 2},  {"1ns", 1},
    };
    for (size_t k = 0; k < FM_ARRAY_LEN(ok); k++) {
        int64_t v = -1;
        if (fm_parse_duration_ns(ok[k].s, &v) != 0)
            fail_msg("fm_parse_duration_ns rejected '%s'", ok[k].s);
        if (v != ok[k].ns)
            fail_msg("'%s' gave %lld ns, expected %lld", ok[k].s, (long long)v,
                     (long long)ok[k].ns);
    }
    static const char *bad[] = {"",    "ms",    "5 ms", "-1s", "5d", "5msx", "nan", "inf",
                                " 5s", "0x10s", "5S",   "s5",  "1e", "5.s.", "5sms"};
    for (size_t k = 0; k < FM_ARRAY_LEN(bad); k++) {
        int64_t v = -1;
        if (fm_parse_duration_ns(bad[k], &v) != FM_EINVAL)
            fail_msg("fm_parse_duration_ns accepted '%s'", bad[k]);
        assert_true(v == -1);
    }
    int64_t v = -1;
    assert_int_equal(fm_parse_duration_ns("1e10s", &v), FM_ERANGE);
    assert_int_equal(fm_parse_duration_ns("200000000h", &v), FM_ERANGE);
    assert_true(v == -1);
}

/* ---- YAML -------------------------------------------------------------------------------------
 */

/* Loads text named "spec.yaml" and returns the error message (or "" on success). */
static const char *yaml_try(const char *text, fm_yaml **out, int *code)
{
    static fm_err err;
    fm_err_clear(&err);
    fm_yaml *y = NULL;
    *code = fm_yaml_load_buf(text, strlen(text), "spec.yaml", &y, &err);
    if (out)
        *out = y;
    else
        fm_yaml_free(y);
    if (*code)
        assert_null(y);
    return err.msg;
}

static void test_yaml_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"a: 1\n  b: 2\n", "spec.yaml:2:4: mapping values are not allowed in this context"},
        {"a:\n\tb: 1\n", "spec.yaml:2:1: found character that cannot start any token"},
        {"a: [1, 2\n",
         "spec.yaml:2:1: did not find expected ',' or ']' while parsing a flow sequence started "
         "at 1:4"},
        {"- a\nb: 1\n", "spec.yaml:2:1: did not find expected '-' indicator"},
        {"a: *nosuch\n", "spec.yaml:1:4: found undefined alias"},
        {"a: 1\nb: \xff\n", "spec.yaml:2:4: invalid leading UTF-8 octet"},
        {"a: 1\n---\nb: 2\n", "spec.yaml:2:1: more than one document"},
        {"a: 'unterminated\n", "spec.yaml:2:1: found unexpected end of stream"},
        {"a: 1\nkey: \"na\\0me\"\n", "spec.yaml:2:6: scalar contains a NUL character"},
    };
    for (size_t k = 0; k < FM_ARRAY_LEN(cases); k++) {
        int code;
        const char *msg = yaml_try(cases[k].text, NULL, &code);
        if (code != FM_EPARSE || strncmp(msg, cases[k].msg, strlen(cases[k].msg)) != 0)
            fail_msg("case %zu: got %s '%s', expected FM_EPARSE '%s'", k, fm_errname(code), msg,
                     cases[k].msg);
    }
}

static void test_yaml_limits(void **state)
{
    (void)state;
    int code;
    /* deep nesting */
    char deep[400];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = 0;
    const char *msg = yaml_try(deep, NULL, &code);
    assert_int_equal(code, FM_ELIMIT);
    assert_non_null(strstr(msg, "spec.yaml:1:66: nested deeper than 64 levels"));
    memset(deep, '[', 60);
    memset(deep + 60, ']', 60);
    deep[120] = 0;
    yaml_try(deep, NULL, &code);
    assert_int_equal(code, 0);
    /* a self-referencing alias names an infinite tree */
    msg = yaml_try("a: &x [*x, *x]\n", NULL, &code);
    assert_int_equal(code, FM_ELIMIT);
    assert_memory_equal(msg, "spec.yaml:1:", 12);
    /* billion laughs: 10^9 nodes from a few hundred bytes */
    char bomb[2048];
    int n = snprintf(bomb, sizeof bomb, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i <= 9; i++)
        n += snprintf(bomb + n, sizeof bomb - n,
                      "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i,
                      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    msg = yaml_try(bomb, NULL, &code);
    assert_int_equal(code, FM_ELIMIT);
    assert_non_null(strstr(msg, "node limit"));
    /* a modest alias is fine and expands */
    fm_yaml *y;
    yaml_try("base: &b {memory: 512}\nother: *b\n", &y, &code);
    assert_int_equal(code, 0);
    int64_t mem = 0;
    fm_err err;
    assert_int_equal(fm_yaml_get_int(y, fm_ynode_get(fm_yaml_root(y), "other"), "memory", true, 0,
                                     10240, &mem, &err),
                     0);
    assert_true(mem == 512);
    fm_yaml_free(y);
}

static const char *const fn_keys[] = {"name", "memory", "timeout", "ratio", "warm", "tags", NULL};

static void test_yaml_keys_and_values(void **state)
{
    (void)state;
    fm_yaml *y;
    int code;
    fm_err err;
    const char *spec = "name: resnet\n"
                       "memory: 2048\n"
                       "timeout: 1.5\n"
                       "warm: yes\n"
                       "tags: [a, b]\n";
    yaml_try(spec, &y, &code);
    assert_int_equal(code, 0);
    const fm_ynode *root = fm_yaml_root(y);
    assert_int_equal(fm_ynode_kind_of(root), FM_YAML_MAP);
    assert_int_equal(fm_ynode_len(root), 5);
    assert_int_equal(fm_yaml_check_keys(y, root, fn_keys, &err), 0);
    const char *name = NULL;
    int64_t mem = 0;
    double timeout = 0, ratio = 0.25;
    bool warm = false;
    assert_int_equal(fm_yaml_get_str(y, root, "name", true, &name, &err), 0);
    assert_string_equal(name, "resnet");
    assert_int_equal(fm_yaml_get_int(y, root, "memory", true, 128, 10240, &mem, &err), 0);
    assert_true(mem == 2048);
    assert_int_equal(fm_yaml_get_double(y, root, "timeout", true, 0, 900, &timeout, &err), 0);
    assert_true(timeout == 1.5);
    assert_int_equal(fm_yaml_get_double(y, root, "ratio", false, 0, 1, &ratio, &err), 0);
    assert_true(ratio == 0.25); /* absent and optional: unchanged */
    assert_int_equal(fm_yaml_get_bool(y, root, "warm", true, &warm, &err), 0);
    assert_true(warm);
    const fm_ynode *tags = fm_ynode_get(root, "tags");
    assert_int_equal(fm_ynode_kind_of(tags), FM_YAML_SEQ);
    assert_int_equal(fm_ynode_len(tags), 2);
    assert_string_equal(fm_ynode_str(fm_ynode_item(tags, 1)), "b");
    assert_null(fm_ynode_item(tags, 2));
    assert_int_equal(fm_ynode_line(tags), 5);
    assert_int_equal(fm_ynode_col(tags), 7);
    assert_string_equal(fm_ynode_str(fm_ynode_key(root, 1)), "memory");
    assert_string_equal(fm_ynode_str(fm_ynode_value(root, 1)), "2048");
    assert_null(fm_ynode_key(root, 5));
    assert_null(fm_ynode_str(root));
    assert_string_equal(fm_yaml_name(y), "spec.yaml");

    /* wrong types and out-of-range values name file:line:col and the key */
    assert_int_equal(fm_yaml_get_int(y, root, "memory", true, 128, 1024, &mem, &err), FM_ERANGE);
    assert_string_equal(err.msg, "spec.yaml:2:9: 'memory' is 2048, out of range [128, 1024]");
    assert_true(mem == 2048);
    assert_int_equal(fm_yaml_get_int(y, root, "name", true, 0, 10, &mem, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:1:7: 'name' must be an integer, not 'resnet'");
    assert_int_equal(fm_yaml_get_int(y, root, "tags", true, 0, 10, &mem, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:5:7: 'tags' must be a scalar");
    assert_int_equal(fm_yaml_get_double(y, root, "timeout", true, 0, 1, &timeout, &err), FM_ERANGE);
    assert_string_equal(err.msg, "spec.yaml:3:10: 'timeout' is 1.5, out of range [0, 1]");
    assert_int_equal(fm_yaml_get_double(y, root, "name", true, 0, 1, &timeout, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:1:7: 'name' must be a number, not 'resnet'");
    assert_int_equal(fm_yaml_get_bool(y, root, "memory", true, &warm, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:2:9: 'memory' must be true or false, not '2048'");
    assert_int_equal(fm_yaml_get_str(y, root, "image", true, &name, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:1:1: missing key 'image'");
    assert_int_equal(fm_yaml_get_int(y, tags, "x", false, 0, 1, &mem, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:5:7: expected a mapping with key 'x'");
    assert_int_equal(fm_yaml_check_keys(y, tags, fn_keys, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:5:7: expected a mapping, found a sequence");
    assert_int_equal(fm_yaml_error(y, tags, &err, FM_EINVAL, "bad %s", "tags"), FM_EINVAL);
    assert_string_equal(err.msg, "spec.yaml:5:7: bad tags");
    fm_yaml_free(y);

    /* unknown and duplicate keys, at top level and nested */
    yaml_try("name: a\nmemroy: 512\n", &y, &code);
    assert_int_equal(fm_yaml_check_keys(y, fm_yaml_root(y), fn_keys, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:2:1: unknown key 'memroy'");
    fm_yaml_free(y);
    yaml_try("name: a\nmemory: 1\nname: b\n", &y, &code);
    assert_int_equal(fm_yaml_check_keys(y, fm_yaml_root(y), fn_keys, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:3:1: duplicate key 'name'");
    fm_yaml_free(y);
    yaml_try("functions:\n  - name: a\n    memroy: 1\n", &y, &code);
    const fm_ynode *item = fm_ynode_item(fm_ynode_get(fm_yaml_root(y), "functions"), 0);
    assert_int_equal(fm_yaml_check_keys(y, item, fn_keys, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:3:5: unknown key 'memroy'");
    fm_yaml_free(y);
    yaml_try("[a]: 1\n", &y, &code);
    assert_int_equal(fm_yaml_check_keys(y, fm_yaml_root(y), fn_keys, &err), FM_EPARSE);
    assert_string_equal(err.msg, "spec.yaml:1:1: keys must be plain scalars");
    fm_yaml_free(y);
    /* booleans in every spelling */
    yaml_try("a: On\nb: FALSE\nc: 0\nd: maybe\n", &y, &code);
    root = fm_yaml_root(y);
    bool b = false;
    assert_int_equal(fm_yaml_get_bool(y, root, "a", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(fm_yaml_get_bool(y, root, "b", true, &b, &err), 0);
    assert_false(b);
    b = true;
    assert_int_equal(fm_yaml_get_bool(y, root, "c", true, &b, &err), 0);
    assert_false(b);
    assert_int_equal(fm_yaml_get_bool(y, root, "d", true, &b, &err), FM_EPARSE);
    fm_yaml_free(y);
}

static void test_yaml_empty_and_files(void **state)
{
    (void)state;
    static const char *empty[] = {"", "# only a comment\n", "\n\n", "---\n"};
    for (size_t k = 0; k < FM_ARRAY_LEN(empty); k++) {
        fm_yaml *y;
        int code;
        yaml_try(empty[k], &y, &code);
        assert_int_equal(code, 0);
        assert_null(fm_yaml_root(y));
        fm_err err;
        assert_int_equal(fm_yaml_check_keys(y, fm_yaml_root(y), fn_keys, &err), FM_EPARSE);
        assert_string_equal(err.msg, "spec.yaml: expected a mapping, found an empty document");
        const char *s = "unchanged";
        assert_int_equal(fm_yaml_get_str(y, fm_yaml_root(y), "name", false, &s, &err), 0);
        assert_string_equal(s, "unchanged");
        assert_int_equal(fm_yaml_get_str(y, fm_yaml_root(y), "name", true, &s, &err), FM_EPARSE);
        assert_string_equal(err.msg, "spec.yaml: missing key 'name'");
        fm_yaml_free(y);
    }
    fm_yaml_free(NULL);

    /* from a file: the path names the errors; a missing file is -ENOENT */
    char dir[] = "/tmp/fm_core_yaml_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/fn.yaml", dir);
    fm_err err;
    const char *text = "name: a\nmemory: big\n";
    assert_int_equal(fm_write_file_atomic(path, text, strlen(text), &err), 0);
    fm_yaml *y;
    assert_int_equal(fm_yaml_load_file(path, &y, &err), 0);
    int64_t mem;
    assert_int_equal(fm_yaml_get_int(y, fm_yaml_root(y), "memory", true, 0, 10, &mem, &err),
                     FM_EPARSE);
    char want[512];
    snprintf(want, sizeof want, "%s:2:9: 'memory' must be an integer, not 'big'", path);
    assert_string_equal(err.msg, want);
    fm_yaml_free(y);
    unlink(path);
    assert_int_equal(fm_yaml_load_file(path, &y, &err), -ENOENT);
    assert_null(y);
    snprintf(want, sizeof want, "cannot open '%s': %s", path, strerror(ENOENT));
    assert_string_equal(err.msg, want);
    rmdir(dir);
}

/* ---- files and JSON ---------------------------------------------------------------------------
 */

/* Counts the entries of dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/fm_core_write_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], sub[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    fm_err err;
    assert_int_equal(fm_write_file_atomic(path, "first", 5, &err), 0);
    char *buf;
    size_t len;
    assert_int_equal(fm_read_file(path, &buf, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "first");
    free(buf);
    assert_int_equal(fm_write_file_atomic(path, "", 0, &err), 0);
    assert_int_equal(fm_read_file(path, &buf, &len, &err), 0);
    assert_int_equal(len, 0);
    free(buf);
    assert_int_equal(fm_write_file_atomic(path, "second", 6, &err), 0);
    assert_int_equal(dir_entries(dir), 1);

    /* failure at rename: the target is a directory; nothing is left behind */
    snprintf(sub, sizeof sub, "%s/adir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    int rc = fm_write_file_atomic(sub, "x", 1, &err);
    assert_true(rc < 0);
    assert_memory_equal(err.msg, "cannot write '", 14);
    assert_int_equal(dir_entries(dir), 2);
    rmdir(sub);

    /* failure at open: a missing directory */
    snprintf(sub, sizeof sub, "%s/nodir/out", dir);
    assert_int_equal(fm_write_file_atomic(sub, "x", 1, &err), -ENOENT);
    assert_int_equal(dir_entries(dir), 1);

    /* failure mid-write: a file size limit makes write() fail with EFBIG after 4 KiB; the old
     * content stays and no temporary file remains. Runs in a child so the limit stays there. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t big = 1 << 20;
        char *data = malloc(big);
        memset(data, 'z', big);
        fm_err e2;
        int r = fm_write_file_atomic(path, data, big, &e2);
        free(data);
        _exit(r == -EFBIG && strstr(e2.msg, "cannot write") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(fm_read_file(path, &buf, &len, &err), 0);
    assert_string_equal(buf, "second");
    free(buf);
    assert_int_equal(dir_entries(dir), 1);

    unlink(path);
    assert_int_equal(fm_read_file(path, &buf, &len, &err), -ENOENT);
    assert_null(buf);
    /* a directory cannot be read as a file */
    assert_true(fm_read_file(dir, &buf, &len, &err) < 0);
    assert_null(buf);
    rmdir(dir);
}

static void test_json_quote(void **state)
{
    (void)state;
    char buf[64];
    size_t n = fm_json_quote(buf, sizeof buf, "a\"b\\c\nd\te\x01");
    assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    assert_int_equal(n, strlen(buf));
    /* truncation: returns the length needed, output stays terminated */
    char small[5];
    n = fm_json_quote(small, sizeof small, "hello");
    assert_int_equal(n, 7);
    assert_string_equal(small, "\"hel");
    assert_int_equal(fm_json_quote(NULL, 0, "ab"), 4);
}

/* A YAML tree becomes JSON that loads back as the same tree; scalars travel as strings. */
static void test_ynode_to_json(void **state)
{
    (void)state;
    const char *src = "inst: {max: 4, keep_alive: 10m}\nlist: [1, two, \"q\\\"s\"]\n";
    fm_yaml *y;
    fm_err err = {0};
    assert_int_equal(fm_yaml_load_buf(src, strlen(src), "t.yaml", &y, &err), 0);
    char *j = fm_ynode_to_json(fm_yaml_root(y));
    assert_non_null(j);
    assert_string_equal(j, "{\"inst\":{\"max\":\"4\",\"keep_alive\":\"10m\"},"
                           "\"list\":[\"1\",\"two\",\"q\\\"s\"]}");
    fm_yaml *back;
    assert_int_equal(fm_yaml_load_buf(j, strlen(j), "j", &back, &err), 0);
    int64_t max = 0;
    const fm_ynode *inst = fm_ynode_get(fm_yaml_root(back), "inst");
    assert_int_equal(fm_yaml_get_int(back, inst, "max", true, 0, 10, &max, &err), 0);
    assert_int_equal(max, 4);
    free(j);
    fm_yaml_free(back);
    fm_yaml_free(y);
}

/* Shipped data files are found from any working directory; a missing one is NULL. */
static void test_data_file(void **state)
{
    (void)state;
    char buf[4096];
    const char *p = fm_data_file("platforms.yaml", buf, sizeof buf);
    assert_non_null(p);
    assert_int_equal(access(p, R_OK), 0);
    assert_null(fm_data_file("no-such-file.yaml", buf, sizeof buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_err_set_prefix),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_log_default),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_rng_reference),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_split),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_rng_below),
        cmocka_unit_test(test_hist_quantiles),
        cmocka_unit_test(test_hist_extremes),
        cmocka_unit_test(test_hist_merge_empty),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_yaml_malformed),
        cmocka_unit_test(test_yaml_limits),
        cmocka_unit_test(test_yaml_keys_and_values),
        cmocka_unit_test(test_yaml_empty_and_files),
        cmocka_unit_test(test_write_file_atomic),
        cmocka_unit_test(test_json_quote),
        cmocka_unit_test(test_ynode_to_json),
        cmocka_unit_test(test_data_file),
        cmocka_unit_test(test_phase_and_provenance_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
