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

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

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
double fm_rng_uniform(fm_rng *r) { return (double)(fm_rng_u64(r) >> 11) * 0x1.0p-53; }

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
