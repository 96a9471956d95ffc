/* Duration distributions for the simulator: constant, lognormal, empirical quantile tables. */
#include "sim.h"

#include <math.h>

/* z of the 99th percentile of the standard normal */
#define Z99 2.3263478740408408

void sim_dist_from_p50_p99(sim_dist *d, double p50, double p99)
{
    *d = (sim_dist){0};
    if (!(p99 > p50)) {
        d->kind = SIM_DIST_CONST;
        d->value = p50;
        return;
    }
    d->kind = SIM_DIST_LOGNORMAL;
    d->mu = log(p50);
    d->sigma = (log(p99) - log(p50)) / Z99;
}

/* Why: the inverse of the standard normal CDF lets lognormal quantiles be interpolated between
 * calibration points exactly; Acklam's rational approximation is accurate to 1e-9. */
static double norm_inv(double p)
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
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (p <= 0)
        return -INFINITY;
    if (p >= 1)
        return INFINITY;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double sim_dist_quantile(const sim_dist *d, double q)
{
    switch (d->kind) {
    case SIM_DIST_CONST:
        return d->value;
    case SIM_DIST_LOGNORMAL:
        return exp(d->mu + d->sigma * norm_inv(q));
    case SIM_DIST_EXP:
        return q >= 1 ? INFINITY : -d->value * log(1 - q);
    case SIM_DIST_QUANTILES:
        if (q <= d->p[0])
            return d->v[0];
        for (int i = 1; i < d->nq; i++)
            if (q <= d->p[i]) {
                double f = (q - d->p[i - 1]) / (d->p[i] - d->p[i - 1]);
                return d->v[i - 1] + f * (d->v[i] - d->v[i - 1]);
            }
        return d->v[d->nq - 1];
    }
    return 0;
}

double sim_dist_sample(const sim_dist *d, fm_rng *rng)
{
    switch (d->kind) {
    case SIM_DIST_CONST:
        return d->value;
    case SIM_DIST_LOGNORMAL:
        return exp(fm_rng_normal(rng, d->mu, d->sigma));
    case SIM_DIST_EXP:
        return fm_rng_exp(rng, 1 / d->value);
    case SIM_DIST_QUANTILES:
        return sim_dist_quantile(d, fm_rng_uniform(rng));
    }
    return 0;
}

void sim_dist_scale(sim_dist *d, double f)
{
    switch (d->kind) {
    case SIM_DIST_CONST:
    case SIM_DIST_EXP:
        d->value *= f;
        break;
    case SIM_DIST_LOGNORMAL:
        d->mu += log(f);
        break;
    case SIM_DIST_QUANTILES:
        for (int i = 0; i < d->nq; i++)
            d->v[i] *= f;
        break;
    }
}
