/* Fuzz target: the Azure 2019 trace reader (sim_trace_parse). The input holds the three files
 * (invocations, durations, memory) separated by NUL bytes. Whatever the input, parsing fails
 * with a message or yields functions whose counts add up to their totals, whose memory is > 0
 * and whose execution-time distribution gives finite durations >= 0. */
#include "sim/sim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *part[3] = {"", "", ""};
    size_t len[3] = {0, 0, 0};
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < 3 && p <= end; i++) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        part[i] = p;
        len[i] = (size_t)((z ? z : end) - p);
        if (!z)
            break;
        p = z + 1;
    }
    sim_trace_files f = {part[0],   len[0],  "inv.csv", part[1],  len[1],
                         "run.csv", part[2], len[2],    "mem.csv"};
    sim_trace t;
    fm_err err = {0};
    if (sim_trace_parse(&f, 0, &t, &err) != 0) {
        if (!err.msg[0])
            abort(); /* every failure says why */
        return 0;
    }
    fm_rng rng;
    fm_rng_seed(&rng, 1);
    for (int i = 0; i < t.n; i++) {
        uint64_t sum = 0;
        for (int m = 0; m < t.minutes; m++)
            sum += t.fn[i].counts[m];
        if (sum != t.fn[i].total || !(t.fn[i].memory_mb > 0))
            abort();
        for (int k = 0; k < 8; k++) {
            double v = sim_dist_sample(&t.fn[i].duration, &rng);
            if (!(v >= 0) || isinf(v))
                abort();
        }
    }
    sim_trace_release(&t);
    return 0;
}
