/* MMPP analysis: the generator from either form of the spec, the stationary distribution, the
 * mean rate and the index of dispersion for counts (finite window and asymptotic).
 *
 * With Q the generator, pi its stationary distribution, L = diag(rate), l = rate as a column and
 * D = (1 pi - Q)^-1 - 1 pi (the deviation matrix), for the stationary MMPP:
 *   E N(t)   = lbar t,                      lbar = pi l
 *   Var N(t) = lbar t + 2 pi L [t D - (I - e^{Qt}) D^2] l
 *   IDC(inf) = 1 + 2 pi L D l / lbar
 * (the integral of the rate autocovariance pi L (e^{Qu} - 1 pi) l, using Q D = 1 pi - I). */
#include "load.h"

#include <math.h>
#include <string.h>

#define K LOAD_MMPP_MAX
typedef double mat[K][K];

static void mat_mul(int k, const mat a, const mat b, mat out)
{
    mat t;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            double s = 0;
            for (int m = 0; m < k; m++)
                s += a[i][m] * b[m][j];
            t[i][j] = s;
        }
    memcpy(out, t, sizeof t);
}

/* Why: Gauss-Jordan with partial pivoting is plenty for k <= 16 and reports singularity, which
 * here means a reducible chain (no unique stationary distribution). */
static int mat_inverse(int k, const mat a, mat out)
{
    double w[K][2 * K];
    for (int i = 0; i < k; i++)
        for (int j = 0; j < 2 * k; j++)
            w[i][j] = j < k ? a[i][j] : (j - k == i ? 1.0 : 0.0);
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(w[r][c]) > fabs(w[p][c]))
                p = r;
        if (fabs(w[p][c]) < 1e-12)
            return FM_ERANGE;
        if (p != c)
            for (int j = 0; j < 2 * k; j++) {
                double t = w[p][j];
                w[p][j] = w[c][j];
                w[c][j] = t;
            }
        double d = w[c][c];
        for (int j = 0; j < 2 * k; j++)
            w[c][j] /= d;
        for (int r = 0; r < k; r++) {
            if (r == c || w[r][c] == 0)
                continue;
            double f = w[r][c];
            for (int j = 0; j < 2 * k; j++)
                w[r][j] -= f * w[c][j];
        }
    }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            out[i][j] = w[i][k + j];
    return 0;
}

/* Why: scaling and squaring with a Taylor series; Q*t is scaled until its norm is below 0.5, so
 * 24 terms are far past double precision. Generators are small, so cost does not matter. */
static void mat_exp(int k, const mat a, double t, mat out)
{
    double norm = 0;
    for (int i = 0; i < k; i++) {
        double s = 0;
        for (int j = 0; j < k; j++)
            s += fabs(a[i][j] * t);
        norm = FM_MAX(norm, s);
    }
    int sq = 0;
    while (norm > 0.5 && sq < 1000) {
        norm /= 2;
        sq++;
    }
    double scale = t / ldexp(1.0, sq);
    mat x, term, sum;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            x[i][j] = a[i][j] * scale;
            term[i][j] = sum[i][j] = (i == j);
        }
    for (int n = 1; n <= 24; n++) {
        mat_mul(k, term, x, term);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                term[i][j] /= n;
                sum[i][j] += term[i][j];
            }
    }
    for (int s = 0; s < sq; s++)
        mat_mul(k, sum, sum, sum);
    memcpy(out, sum, sizeof sum);
}

/* Why: both spec forms are reduced to one generator here, and every rule a user can break is
 * checked with a message naming the row. */
static int build_generator(const load_mmpp *m, mat q, fm_err *err)
{
    int k = m->k;
    const double tol = 1e-6;
    for (int i = 0; i < k; i++) {
        if (m->have_generator) {
            double row = 0;
            for (int j = 0; j < k; j++) {
                double v = m->generator[i][j];
                if (!isfinite(v))
                    return fm_err_set(err, FM_EINVAL, "mmpp generator[%d][%d] is not a number", i,
                                      j);
                if (i != j && v < 0)
                    return fm_err_set(err, FM_EINVAL,
                                      "mmpp generator[%d][%d] is %g: off-diagonal entries must "
                                      "be >= 0",
                                      i, j, v);
                row += v;
                q[i][j] = v;
            }
            double scale = fabs(m->generator[i][i]) > 1 ? fabs(m->generator[i][i]) : 1;
            if (fabs(row) > tol * scale)
                return fm_err_set(err, FM_EINVAL, "mmpp generator row %d sums to %g, not 0", i,
                                  row);
            if (k > 1 && !(q[i][i] < 0))
                return fm_err_set(err, FM_EINVAL, "mmpp generator row %d: state %d is never left",
                                  i, i);
        } else {
            double so = m->sojourn_s[i];
            if (!(so > 0) || !isfinite(so))
                return fm_err_set(err, FM_EINVAL,
                                  "mmpp sojourn time of state %d is %g: must be > 0", i, so);
            double row = 0;
            for (int j = 0; j < k; j++) {
                double p = m->transition[i][j];
                if (!(p >= 0 && p <= 1))
                    return fm_err_set(err, FM_EINVAL,
                                      "mmpp transition[%d][%d] is %g: must be in [0, 1]", i, j, p);
                if (i == j && p != 0 && k > 1)
                    return fm_err_set(err, FM_EINVAL,
                                      "mmpp transition[%d][%d] is %g: the diagonal must be 0 "
                                      "(a jump leaves its state; use the sojourn time)",
                                      i, j, p);
                row += p;
            }
            if (k > 1 && fabs(row - 1) > tol)
                return fm_err_set(err, FM_EINVAL, "mmpp transition matrix row %d sums to %g, not 1",
                                  i, row);
            for (int j = 0; j < k; j++)
                q[i][j] = i == j ? (k > 1 ? -1.0 / so : 0) : m->transition[i][j] / so;
        }
    }
    return 0;
}

int load_mmpp_analyze(const load_mmpp *m, load_mmpp_info *out, fm_err *err)
{
    memset(out, 0, sizeof *out);
    int k = m->k;
    if (k < 1 || k > K)
        return fm_err_set(err, FM_EINVAL, "mmpp needs 1 to %d states, not %d", K, k);
    double maxrate = 0;
    for (int i = 0; i < k; i++) {
        if (!(m->rate[i] >= 0) || !isfinite(m->rate[i]))
            return fm_err_set(err, FM_EINVAL, "mmpp rate of state %d is %g: must be >= 0", i,
                              m->rate[i]);
        maxrate = FM_MAX(maxrate, m->rate[i]);
    }
    if (!(maxrate > 0))
        return fm_err_set(err, FM_EINVAL, "mmpp rates are all 0: at least one must be > 0");
    out->k = k;
    int rc = build_generator(m, out->q, err);
    if (rc)
        return rc;
    /* pi = 1^T (1 pi - Q)^-1 restricted: solve pi (E - Q) = 1^T with E all ones */
    mat a, z;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            a[i][j] = 1.0 - out->q[i][j];
    if (mat_inverse(k, a, z))
        return fm_err_set(err, FM_EINVAL,
                          "mmpp chain is reducible: no unique stationary distribution");
    for (int j = 0; j < k; j++) {
        double s = 0;
        for (int i = 0; i < k; i++)
            s += z[i][j];
        out->pi[j] = s;
    }
    double lbar = 0;
    for (int i = 0; i < k; i++) {
        if (out->pi[i] < 0 && out->pi[i] > -1e-12)
            out->pi[i] = 0;
        if (!(out->pi[i] >= 0))
            return fm_err_set(err, FM_EINVAL,
                              "mmpp chain is reducible: no unique stationary distribution");
        lbar += out->pi[i] * m->rate[i];
    }
    if (!(lbar > 0))
        return fm_err_set(err, FM_EINVAL, "mmpp stationary mean rate is 0");
    out->mean_rate = lbar;
    out->idc_inf = load_mmpp_idc(out, m->rate, INFINITY);
    return 0;
}

double load_mmpp_idc(const load_mmpp_info *info, const double *rate, double t)
{
    int k = info->k;
    if (!(t > 0))
        return NAN;
    mat a, z, d;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            a[i][j] = info->pi[j] - info->q[i][j];
    if (mat_inverse(k, a, z))
        return NAN;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            d[i][j] = z[i][j] - info->pi[j];
    /* v = pi L, a row vector */
    double v[K];
    for (int i = 0; i < k; i++)
        v[i] = info->pi[i] * rate[i];
    mat m; /* the bracket, or D alone for t = inf (divided by t) */
    if (isinf(t)) {
        memcpy(m, d, sizeof d);
    } else {
        mat d2, e;
        mat_mul(k, d, d, d2);
        mat_exp(k, info->q, t, e);
        mat r;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                e[i][j] = (i == j) - e[i][j];
        mat_mul(k, e, d2, r);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                m[i][j] = d[i][j] - r[i][j] / t;
    }
    double s = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            s += v[i] * m[i][j] * rate[j];
    return 1.0 + 2.0 * s / info->mean_rate;
}
