/* Fuzz target: an experiment spec (YAML, docs/experiments.md), then its run matrix and each
 * run's stored configuration. Whatever the input, loading fails cleanly or yields a spec whose
 * matrix expands (or says why not) into cells of distinct names, each printing as valid JSON.
 * Relative paths resolve in tests/fixtures/sim; device and proc files are never opened. */
#include "plan/plan.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Why: as in fuzz_sim_spec.c: found from ctest's FM_SOURCE_DIR or beside build-fuzz/. */
static const char *fixture_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/sim", src && *src ? src : ".");
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
        memmem(data, size, "/sys", 4))
        return 0;
    fm_log_set_level(FM_LOG_OFF); /* skipped calibrations warn on every input */
    plan_spec s;
    fm_err err;
    if (plan_spec_load_buf((const char *)data, size, "fuzz.yaml", fixture_dir(), &s, &err) != 0)
        return 0;
    /* the matrix is a product of sweeps: bound it before expanding */
    size_t cells = 0;
    for (int i = 0; i < s.nplatforms; i++) {
        const plan_platform *p = &s.platforms[i];
        cells += (size_t)(p->nruntime * p->nmemory * p->nbatch * p->nprovisioned);
    }
    cells *= 2 * (size_t)s.nmodels * (size_t)s.nworkloads;
    plan_run *runs = NULL;
    size_t n = 0;
    if (cells <= 4096 && plan_matrix(&s, &runs, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < i && n <= 512; j++)
                if (strcmp(runs[i].name, runs[j].name) == 0)
                    abort(); /* a run's name is its identity in the results database */
            char *json = plan_run_config_json(&s, &runs[i]);
            cJSON *back = json ? cJSON_Parse(json) : NULL;
            if (!back)
                abort(); /* what is stored with a run must read back */
            cJSON_Delete(back);
            free(json);
        }
        free(runs);
    }
    plan_spec_release(&s);
    return 0;
}
