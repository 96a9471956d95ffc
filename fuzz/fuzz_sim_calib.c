/* Fuzz target: a simulator calibration file (YAML) and the lookups that follow it. Whatever the
 * input, loading fails cleanly or yields a calibration whose every service and cold-start lookup,
 * at any key, memory size and batch size, gives distributions that sample and quantile to finite
 * durations >= 0 (no NaN, no infinity, no negative time can come out of a file that loaded). */
#include "sim/sim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Why: the simulator adds these numbers to a virtual clock; one bad value poisons a whole run. */
static void check_dist(const sim_dist *d, fm_rng *rng)
{
    static const double qs[] = {0, 1e-9, 0.001, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        double v = sim_dist_quantile(d, qs[i]);
        if (!(v >= 0) || isinf(v)) {
            if ((qs[i] == 1 || qs[i] == 0) && d->kind != SIM_DIST_QUANTILES &&
                d->kind != SIM_DIST_CONST)
                continue; /* the ends of an unbounded distribution are 0 and infinity */
            abort();
        }
    }
    for (int i = 0; i < 16; i++) {
        double v = sim_dist_sample(d, rng);
        if (!(v >= 0) || isinf(v))
            abort();
    }
}

/* The keys this input's lookups try: the first entries' own and some absent ones. */
static const char *const models[] = {"mobilenetv2", "m", "resnet50", ""};
static const char *const runtimes[] = {"faasml", "pytorch-gpu", "python-torch"};
static const char *const devices[] = {"cpu", "gpu"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_calib *c = NULL;
    fm_err err;
    if (sim_calib_load_buf((const char *)data, size, "fuzz.yaml", &c, &err) != 0)
        return 0;
    static const int mems[] = {-1, 0, 1, 128, 1000, 1769, 3008, 10240, 1 << 20, INT32_MAX};
    static const int batches[] = {1, 2, 3, 7, 8, 100, 4096, 65536};
    fm_rng rng;
    fm_rng_seed(&rng, 1);
    for (size_t mi = 0; mi < sizeof models / sizeof *models; mi++)
        for (size_t ri = 0; ri < sizeof runtimes / sizeof *runtimes; ri++)
            for (size_t di = 0; di < sizeof devices / sizeof *devices; di++) {
                sim_key k = {models[mi], runtimes[ri], devices[di]};
                for (size_t m = 0; m < sizeof mems / sizeof *mems; m++) {
                    sim_cold cold;
                    if (sim_calib_cold(c, &k, mems[m], &cold, &err) == 0) {
                        for (int p = 0; p < FM_PHASE__COUNT; p++)
                            check_dist(&cold.phase[p], &rng);
                        if (!(cold.provision_ms >= 0) || isinf(cold.provision_ms))
                            abort();
                    }
                    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
                        sim_dist d;
                        if (sim_calib_service(c, &k, mems[m], batches[b], &d, &err) == 0)
                            check_dist(&d, &rng);
                    }
                }
            }
    sim_calib_free(c);
    return 0;
}
