/* Log-linear latency histogram (HdrHistogram-style, 128 sub-buckets per power of two). */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#define SUB (1u << FM_HIST_SUB_BITS)

/* Why: values below 2*SUB map to themselves; above, the top FM_HIST_SUB_BITS+1 bits pick the
 * bucket, so a bucket's width is at most 1/SUB of its lower bound. */
static inline unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - FM_HIST_SUB_BITS;
    return (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
}

/* the largest value, 2^64-1, has shift 63-SUB_BITS and sub-bucket SUB-1 */
_Static_assert((64 - FM_HIST_SUB_BITS) * SUB + SUB - 1 < FM_HIST_BUCKETS, "histogram too small");

/* Why: the inverse of bucket_of, so quantiles can report a value inside the bucket. */
static inline void bucket_range(unsigned idx, uint64_t *lo, uint64_t *width)
{
    if (idx < 2 * SUB) {
        *lo = idx;
        *width = 1;
        return;
    }
    unsigned shift = idx / SUB - 1;
    uint64_t sub = idx % SUB + SUB;
    *lo = sub << shift;
    *width = (uint64_t)1 << shift;
}

/* Why: the bucket array is ~58 KiB, too big for most stacks; lifecycle helpers. */
fm_hist *fm_hist_new(void)
{
    return calloc(1, sizeof(fm_hist));
}
void fm_hist_free(fm_hist *h)
{
    free(h);
}
void fm_hist_reset(fm_hist *h)
{
    memset(h, 0, sizeof *h);
}

/* Why: adding n equal values at once lets callers merge pre-aggregated counts cheaply. */
void fm_hist_add_n(fm_hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count += n;
    h->sum += (double)v * (double)n;
    h->buckets[bucket_of(v)] += n;
}

void fm_hist_add(fm_hist *h, uint64_t v)
{
    fm_hist_add_n(h, v, 1);
}

/* Why: per-thread or per-function histograms combine into one exactly, bucket by bucket. */
void fm_hist_merge(fm_hist *dst, const fm_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->count == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (unsigned i = 0; i < FM_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
}

/* Why: the nearest-rank definition (the smallest value with at least q*count samples at or below
 * it) matches what exact sorting gives, up to the bucket's width. */
uint64_t fm_hist_quantile(const fm_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0)) /* also NaN */
        return h->min;
    if (q >= 1)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.9999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < FM_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo, width;
            bucket_range(i, &lo, &width);
            uint64_t v = lo + (width - 1) / 2;
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* Why: the mean comes from the exact sum, not from bucket midpoints. */
double fm_hist_mean(const fm_hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
