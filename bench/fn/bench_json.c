/* JSON number parsing of the function host: a KServe v2 request of 150,528 FP32 numbers (one
 * 1x3x224x224 image) read by fn's reader (fj_parse) and decoded into a tensor
 * (fn_v2_request_decode), next to strtod reading the same numbers in the same process. Three
 * spellings of the numbers: %.9g (what fn and most C encoders write for floats), the shortest
 * round-trip of the float as a double (what Python's json.dumps(arr.tolist()) writes), and %.17g.
 * Reports GB/s of request text: medians of the runs, and the best run (what the code does when
 * the machine leaves it alone; on a shared machine the median carries the neighbours' load). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn_int.h"

#define N 150528

static uint64_t rs = 42;
static double uniform(void)
{
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

/* Python's repr of a double: the shortest %.{p}g that reads back to the same double. */
static int shortest(char *o, size_t cap, double d)
{
    for (int p = 1; p <= 17; p++) {
        int n = snprintf(o, cap, "%.*g", p, d);
        if (strtod(o, NULL) == d)
            return n;
    }
    return snprintf(o, cap, "%.17g", d);
}

static char *make_body(int style, size_t *len, size_t *off)
{
    size_t cap = (size_t)N * 32 + 256, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n,
                          "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3,224,224],"
                          "\"datatype\":\"FP32\",\"data\":[");
    *off = n;
    for (int i = 0; i < N; i++) {
        /* normalised image pixels: (x/255 - mean) / std */
        float f = (float)(((double)(int)(uniform() * 256) / 255.0 - 0.45) / 0.226);
        if (i)
            b[n++] = ',';
        if (style == 0)
            n += (size_t)snprintf(b + n, cap - n, "%.9g", f);
        else if (style == 1)
            n += (size_t)shortest(b + n, cap - n, (double)f);
        else
            n += (size_t)snprintf(b + n, cap - n, "%.17g", (double)f);
    }
    n += (size_t)snprintf(b + n, cap - n, "]}]}");
    *len = n;
    return b;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double best(const double *v, int n) /* call after median: v is sorted */
{
    (void)n;
    return v[0];
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    if (runs < 1 || runs > 1000)
        runs = 9;
    static const char *const names[] = {"%.9g", "shortest (Python)", "%.17g"};
    printf("%-18s %9s %11s %11s %11s %9s %9s | %9s %11s\n", "spelling", "bytes", "fj GB/s",
           "decode GB/s", "strtod GB/s", "fj/strtod", "decode ms", "best: fj", "strtod GB/s");
    for (int style = 0; style < 3; style++) {
        size_t len, off;
        char *body = make_body(style, &len, &off);
        double t_fj[1000], t_dec[1000], t_sd[1000];
        volatile double sink = 0;
        double *out = malloc(N * sizeof *out);
        for (int r = -1; r < runs; r++) { /* run -1 warms caches and the allocator up */
            fm_arena a;
            fm_arena_init(&a, 0);
            fj *root;
            fm_err err;
            int64_t t0 = fm_now_ns();
            if (fj_parse(body, len, &a, &root, &err)) {
                fprintf(stderr, "bench_json: %s\n", err.msg);
                return 1;
            }
            double fj_ns_run = (double)(fm_now_ns() - t0);
            sink += fj_get(root, "inputs")->child->n;
            fm_arena_release(&a);

            fn_v2_request req;
            t0 = fm_now_ns();
            if (fn_v2_request_decode(body, len, -1, &req, &err)) {
                fprintf(stderr, "bench_json: %s\n", err.msg);
                return 1;
            }
            double dec_ns_run = (double)(fm_now_ns() - t0);
            sink += ((float *)req.inputs[0].data)[N - 1];
            fn_v2_request_release(&req);

            /* the peer: strtod over the same numbers (the body is NUL-terminated by snprintf) */
            t0 = fm_now_ns();
            const char *p = body + off;
            for (int i = 0; i < N; i++) {
                char *end;
                out[i] = strtod(p, &end);
                p = end + 1;
            }
            sink += out[N - 1];
            if (r < 0)
                continue;
            t_fj[r] = fj_ns_run, t_dec[r] = dec_ns_run, t_sd[r] = (double)(fm_now_ns() - t0);
        }
        free(out);
        double fj_ns = median(t_fj, runs), dec_ns = median(t_dec, runs), sd_ns = median(t_sd, runs);
        printf("%-18s %9zu %11.2f %11.2f %11.2f %8.1fx %9.2f | %9.2f %11.2f\n", names[style], len,
               len / fj_ns, len / dec_ns, (len - off) / sd_ns,
               sd_ns / fj_ns * (double)len / (len - off), dec_ns / 1e6, len / best(t_fj, runs),
               (len - off) / best(t_sd, runs));
        free(body);
        (void)sink;
    }
    return 0;
}
