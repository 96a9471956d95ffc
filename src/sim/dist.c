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

double sim_dist_quantile(const sim_dist *d, double q)
{
    switch (d->kind) {
    case SIM_DIST_CONST: return d->value;
    case SIM_DIST_LOGNORMAL: return exp(d->mu + d->sigma * fm_norm_quantile(q));
    case SIM_DIST_EXP: return q >= 1 ? INFINITY : -d->value * log(1 - q);
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
    case SIM_DIST_CONST: return d->value;
    case SIM_DIST_LOGNORMAL: return exp(fm_rng_normal(rng, d->mu, d->sigma));
    case SIM_DIST_EXP: return fm_rng_exp(rng, 1 / d->value);
    case SIM_DIST_QUANTILES: return sim_dist_quantile(d, fm_rng_uniform(rng));
    }
    return 0;
}

void sim_dist_scale(sim_dist *d, double f)
{
    switch (d->kind) {
    case SIM_DIST_CONST:
    case SIM_DIST_EXP: d->value *= f; break;
    case SIM_DIST_LOGNORMAL: d->mu += log(f); break;
    case SIM_DIST_QUANTILES:
        for (int i = 0; i < d->nq; i++)
            d->v[i] *= f;
        break;
    }
}
