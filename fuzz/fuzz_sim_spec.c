/* Fuzz target: a simulation spec (YAML, docs/simulator.md), then a small bounded simulation of
 * whatever loads: any spec that loads must also simulate without crashing, hanging or asserting,
 * and its stored configuration must be valid JSON.
 * Relative calibration paths resolve in tests/fixtures/sim (calib-cpu.yaml) of the source tree;
 * data/calibration/... finds the shipped files. Device and proc files are never opened. */
#include "sim/sim.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Why: the fixture directory must be found from the source tree (ctest sets FM_SOURCE_DIR) and
 * from a fuzzer binary run by hand in build-fuzz/. */
static const char *fixture_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *src = getenv("FM_SOURCE_DIR");
    if (src && *src) {
        snprintf(dir, sizeof dir, "%s/tests/fixtures/sim", src);
        return dir;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return snprintf(dir, sizeof dir, "tests/fixtures/sim"), dir;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(dir, sizeof dir, "%s/../tests/fixtures/sim", exe);
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a path into /dev or /proc could block or never end: not this target's subject */
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
        memmem(data, size, "/sys", 4))
        return 0;
    fm_log_set_level(FM_LOG_OFF); /* skipped calibrations warn on every input */
    fm_yaml *y = NULL;
    fm_err err;
    if (fm_yaml_load_buf((const char *)data, size, "fuzz.yaml", &y, &err) != 0)
        return 0;
    sim_spec s = {0};
    if (!fm_yaml_root(y) || sim_spec_from_yaml(y, fm_yaml_root(y), fixture_dir(), &s, &err) != 0) {
        sim_spec_release(&s);
        fm_yaml_free(y);
        return 0;
    }
    bool small = s.nfn <= 8;
    for (int i = 0; i < s.nfn; i++) {
        sim_function *f = &s.fns[i];
        /* valid, but too big to simulate per fuzz input */
        if (f->policy.inst.max > 4096 || f->policy.queue.capacity > 65536)
            small = false;
        load_spec *w = &f->workload;
        if (!w->requests || w->requests > 200)
            w->requests = 200;
        if (!w->duration_ns || w->duration_ns > 60000000000LL)
            w->duration_ns = 60000000000LL;
    }
    if (small) {
        sim_opts o = {.host = s.host,
                      .seed = s.seed,
                      .calib = s.calib,
                      .record = SIM_RECORD_NONE,
                      .client_timeout_ns = 60000000000LL};
        char *cfg = sim_spec_config_json(&s, &o);
        cJSON *back = cfg ? cJSON_Parse(cfg) : NULL;
        if (!back)
            abort(); /* what a run stores must read back */
        cJSON_Delete(back);
        free(cfg);
        sim_result r;
        int rc = sim_run(s.fns, s.nfn, &o, &r, &err);
        for (int i = 0; rc == 0 && i < r.nfn; i++) {
            const sim_fn_result *fr = &r.fn[i];
            if (fr->arrivals > 200 || fr->ok > fr->arrivals)
                abort(); /* the bound was not kept, or a request finished twice */
            if (!(fr->billed_ms_total >= 0 && fr->gb_s >= 0 && fr->instance_s >= 0 &&
                  fr->busy_s >= 0) ||
                isinf(fr->billed_ms_total) || isinf(fr->instance_s) || r.end_ns < 0)
                abort(); /* no NaN, negative or infinite total from a spec that loaded */
        }
        sim_result_release(&r);
    }
    sim_spec_release(&s);
    fm_yaml_free(y);
    return 0;
}
