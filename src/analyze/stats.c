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

/* Why Acklam's rational approximation: the Wilson interval and the normal CI of the mean need
 * z-values for any level a user asks for, and libm has no inverse normal CDF. */
double an_norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double q, r, x;
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    /* one Halley step against erfc brings it to full double precision */
    double e = 0.5 * erfc(-x / sqrt(2)) - p;
    double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

void an_wilson(int64_t k, int64_t n, double level, double *lo, double *hi)
{
    double z = an_norm_quantile(1 - (1 - level) / 2), nn = (double)n, ph = (double)k / nn;
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
