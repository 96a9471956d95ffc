/*
 * fastmath.h — private to src/infer: branch-free float exp and erf that the compiler can inline
 * and vectorize, accurate to a few ulp (checked against libm in tests/unit/test_infer.c).
 */
#ifndef FM_INFER_FASTMATH_H
#define FM_INFER_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* exp(x): 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2] (Cephes expf polynomial); saturates at
 * exp(-87.3) and exp(88.3) instead of going to 0 or infinity. */
static inline float fm_expf(float x)
{
    float in = x;
    x = x != x ? 0.0f : x; /* NaN: computed on 0, returned as NaN below (no float->int UB) */
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x); /* 2^n stays a normal float */
    /* round to nearest with the 1.5 * 2^23 trick: no floorf call, so SSE2 can vectorize it */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t e = (uint32_t)((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, 4);
    return in != in ? in : p * s; /* NaN stays NaN */
}

/* erf(x): odd rational approximation on [-4, 4] (Eigen's float erf), saturating outside. */
static inline float fm_erff(float x)
{
    float in = x;
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return in != in ? in : p / q; /* NaN stays NaN */
}

#endif
