/* Statistics for the report: quantiles, distribution-free quantile CIs, Wilson intervals. */
#include "analyze.h"

#include <math.h>
#include <stdlib.h>

double an_quantile_sorted(const double *x, size_t n, double p)
{
    if (p <= 0)
        return x[0];
    double r = ceil(p * (double)n - 1e-9);
    size_t k = r < 1 ? 1 : (size_t)r;
    return x[(k > n ? n : k) - 1];
}

void an_wilson(int64_t k, int64_t n, double level, double *lo, double *hi)
{
    double z = fm_norm_quantile(1 - (1 - level) / 2), nn = (double)n, ph = (double)k / nn;
    double den = 1 + z * z / nn, mid = (ph + z * z / (2 * nn)) / den;
    double half = z * sqrt(ph * (1 - ph) / nn + z * z / (4 * nn * nn)) / den;
    *lo = fmax(0, mid - half);
    *hi = fmin(1, mid + half);
}

/* Why order statistics: with B ~ Binomial(n, p) the number of samples below the true quantile,
 * P(X(l) <= q_p <= X(u)) = P(l <= B <= u − 1) for any continuous distribution, so the interval
 * needs no assumption about latency's shape. The binomial pmf is evaluated only in a window of
 * ±(8 sd + 10) around n·p, outside of which the mass is below 1e-15. */
int an_quantile_ci(size_t n, double p, double level, size_t *lo, size_t *hi, double *coverage)
{
    if (n < 2 || p <= 0 || p >= 1 || level <= 0 || level >= 1)
        return FM_ERANGE;
    double nn = (double)n, sd = sqrt(nn * p * (1 - p));
    double a = floor(nn * p - 8 * sd - 10), b = ceil(nn * p + 8 * sd + 10);
    size_t k0 = a < 0 ? 0 : (size_t)a, k1 = b > nn ? n : (size_t)b;
    size_t w = k1 - k0 + 1;
    double *cdf = malloc(w * sizeof *cdf); /* cdf[i] = P(B <= k0 + i) */
    if (!cdf)
        return FM_ENOMEM;
    double lp = log(p), lq = log1p(-p), lgn = lgamma(nn + 1), acc = 0;
    for (size_t i = 0; i < w; i++) {
        double k = (double)(k0 + i);
        acc += exp(lgn - lgamma(k + 1) - lgamma(nn - k + 1) + k * lp + (nn - k) * lq);
        cdf[i] = acc;
    }
    /* F(k) for any k, with the mass below the window taken as 0 and above it as 1 */
#define F(k) ((k) < k0 ? 0.0 : (k) >= k1 ? 1.0 : cdf[(k)-k0])
    bool found = false;
    size_t best_l = 0, best_u = 0;
    double best_cov = 0;
    size_t u = 2;
    for (size_t l = k0 > 1 ? k0 : 1; l <= k1 && l < n; l++) {
        if (u < l + 1)
            u = l + 1;
        double base = l >= 1 ? F(l - 1) : 0;
        while (u <= n && F(u - 1) - base < level)
            u++;
        if (u > n)
            break; /* larger l only needs a larger u */
        double cov = F(u - 1) - base;
        if (!found || u - l < best_u - best_l ||
            (u - l == best_u - best_l && fabs(cov - level) < fabs(best_cov - level))) {
            found = true;
            best_l = l;
            best_u = u;
            best_cov = cov;
        }
    }
#undef F
    free(cdf);
    if (!found)
        return FM_ERANGE;
    *lo = best_l;
    *hi = best_u;
    *coverage = best_cov;
    return 0;
}
