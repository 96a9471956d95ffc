/* Seeded, splittable random numbers: xoshiro256** seeded through splitmix64. */
#include "core.h"

#include <math.h>

/* Why: splitmix64 spreads any 64-bit seed (0, 1, 2...) into well-mixed state words. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Why: xoshiro256** must not start from an all-zero state; splitmix64 guarantees it never
 * does and makes nearby seeds unrelated. */
void fm_rng_seed(fm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* Why: a stream derived from the parent's state and a stream id is independent of how many draws
 * other streams made, so adding a component to a run does not change the others' numbers. */
fm_rng fm_rng_split(const fm_rng *r, uint64_t stream)
{
    uint64_t x = r->s[0] ^ rotl(r->s[1], 17) ^ rotl(r->s[2], 31) ^ rotl(r->s[3], 47);
    x ^= splitmix64(&stream);
    fm_rng out;
    fm_rng_seed(&out, x);
    return out;
}

/* Why: xoshiro256** (Blackman and Vigna): fast, 256 bits of state, passes BigCrush. */
uint64_t fm_rng_u64(fm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Why: Lemire's multiply-shift with rejection gives unbiased bounded integers cheaply. */
uint64_t fm_rng_below(fm_rng *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)fm_rng_u64(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (unsigned __int128)fm_rng_u64(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Why: the top 53 bits fill a double's mantissa exactly, so every value is a multiple
 * of 2^-53 in [0, 1). */
double fm_rng_uniform(fm_rng *r)
{
    return (double)(fm_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Why: inverse transform sampling; exponential gaps make Poisson arrivals. */
double fm_rng_exp(fm_rng *r, double rate)
{
    /* 1 - u is in (0, 1], so the log is finite */
    return -log(1.0 - fm_rng_uniform(r)) / rate;
}

/* Why: Marsaglia's polar method; no cached second value, so the stream stays a pure function of
 * the number of calls. */
double fm_rng_normal(fm_rng *r, double mean, double sd)
{
    double u, v, s;
    do {
        u = 2.0 * fm_rng_uniform(r) - 1.0;
        v = 2.0 * fm_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return mean + sd * u * sqrt(-2.0 * log(s) / s);
}

/* Why: service times and latencies are roughly lognormal. */
double fm_rng_lognormal(fm_rng *r, double mu, double sigma)
{
    return exp(fm_rng_normal(r, mu, sigma));
}

/* Why Acklam's rational approximation: confidence intervals need z-values for any level and the
 * simulator needs lognormal quantiles, and libm has no inverse normal CDF. */
double fm_norm_quantile(double p)
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
