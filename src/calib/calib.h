/* calib: measuring calibration data on this machine (the built-in runtime's latency and cold
 * start) or reading it from a recorded live run, written in the calibration file format the
 * simulator reads (docs/simulator.md). Its own module so that the simulator never links the
 * inference runtime: sim reads the files, calib makes them. */
#ifndef FM_CALIB_H
#define FM_CALIB_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "store/store.h"

typedef struct calib_opts {
    const char *exe; /* the faasml binary, for the spawn phase (NULL: not measured) */
    int threads;     /* inference threads (1, as a 1-vCPU function has) */
    int memory_mb;   /* the memory size these measurements stand for (1769 = one core) */
    const int *batch;
    int nbatch;
    int runs;                  /* warm runs per batch size */
    int cold_runs;             /* fresh loads measured */
    int max_seconds_per_point; /* stop a batch size's runs early after this long (0: never) */
    const char *precision;     /* the entries' key: fp32 (NULL), bf16 (a session option) or int8 (a
                                  label: the model must be a quantized file, run as it is) */
    int accuracy_samples;      /* > 0: also measure accuracy against FP32 on this many samples */
    int64_t vocab;             /* token ids below this in accuracy samples (0: 1000) */
} calib_opts;

/* Measures one model and appends its entries to the service, cold_start and (with
 * accuracy_samples) accuracy sections. ref_path is the FP32 reference for accuracy: NULL means
 * the same file at FP32 (bf16); an int8 model needs its FP32 original. */
int calib_model(const calib_opts *o, const char *name, const char *path, const char *ref_path,
                FILE *svc, FILE *cold, FILE *acc, fm_err *err);

/* Calibration from a recorded live run: the warm invocations' durations (as the platform billed
 * them, per batch size) and the instances' cold-start phases, under (model, runtime, memory_mb).
 * This is how runtimes the built-in measurement cannot drive (a Python/PyTorch custom runtime)
 * enter the simulator. */
int calib_from_run(store *db, int64_t run_id, const char *model, const char *runtime,
                   const char *precision, FILE *svc, FILE *cold, fm_err *err);

#endif
