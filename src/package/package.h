/*
 * package — turns one function spec into what another engine deploys: an AWS Lambda custom-runtime
 * zip, an OCI image, a Knative Service, a KServe InferenceService, SageMaker's Model /
 * EndpointConfig / scaling JSON, or an AWS SAM template (docs/deploy.md).
 *
 * How a caller uses it:
 *
 *     platform_spec s;  platform_spec_load_yaml("fn.yaml", &s, &err);   // the one spec parser
 *     package_opts o;   package_opts_init(&o);  o.format = PACKAGE_FORMAT_KNATIVE;  o.out_dir = d;
 *     package_result r; package_build(&s, &o, &r, &err);                // writes into d
 *
 * One source for every number: package_plan_make reads the spec and the policy configuration the
 * platform itself would run (data/platforms.yaml defaults, then the spec's own fields and `policy`
 * overrides), and every format maps that one plan. A field with no equivalent on an engine is
 * listed in docs/deploy.md, never guessed.
 *
 * Artifacts (lambda-zip, oci) hold the faasml binary, the shared libraries `ldd` names, the model
 * and, for the zip, a static launcher (faasml-bootstrap) that starts the binary through its own
 * bundled loader, so the zip runs with no file of the host present. External tools (zip, ldd,
 * buildah or podman) run as child processes; their stderr becomes the error message. The module
 * prints nothing: progress and the choices it made go to the log callback.
 */
#ifndef FM_PACKAGE_H
#define FM_PACKAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "platform/platform.h"
#include "policy/policy.h"

/* ---- formats: one list generates the enum, the names and the help text ---------------------- */
#define PACKAGE_FORMAT_MAP(X)                                                                      \
    X(LAMBDA_ZIP, "lambda-zip", "AWS Lambda custom-runtime zip (provided.al2023, bootstrap)")      \
    X(OCI, "oci", "OCI image (Lambda container, Knative/KServe $PORT, SageMaker serve :8080)")     \
    X(KNATIVE, "knative", "Knative Service manifest (serving.knative.dev/v1)")                     \
    X(KSERVE, "kserve", "KServe InferenceService with a v2 custom predictor")                      \
    X(SAGEMAKER, "sagemaker", "SageMaker Model, EndpointConfig, Endpoint and scaling JSON")        \
    X(SAM, "sam", "AWS SAM template (and the zip it deploys, unless --image)")

typedef enum package_format {
#define PACKAGE_XX(name, str, help) PACKAGE_FORMAT_##name,
    PACKAGE_FORMAT_MAP(PACKAGE_XX)
#undef PACKAGE_XX
        PACKAGE_FORMAT__COUNT
} package_format;

const char *package_format_name(package_format f); /* "lambda-zip"...; "?" when out of range */
const char *package_format_help(package_format f);
int package_format_parse(const char *s, package_format *out); /* FM_EINVAL when unknown */

/* ---- the engines' limits (data/engines.yaml, each number with its source) ----------------- */
typedef struct package_limits {
    int64_t lambda_unzipped_max_mb; /* deployment package, unzipped (MB = 2^20 bytes) */
    int64_t lambda_image_max_mb;
    int64_t sagemaker_serverless_memory_min_mb, sagemaker_serverless_memory_max_mb;
    int64_t sagemaker_serverless_memory_step_mb;
    int64_t sagemaker_serverless_max_concurrency;
    int64_t sagemaker_response_timeout_s;
} package_limits;

/* path NULL: data/engines.yaml found by fm_data_file. Errors name file:line:col. */
int package_limits_load(const char *path, package_limits *out, fm_err *err);
int package_limits_parse(const char *buf, size_t len, const char *name, package_limits *out,
                         fm_err *err);

/* ---- the plan: every number an engine gets, from the spec and the policy -------------------- */
typedef struct package_plan {
    char name[PLATFORM_NAME_MAX + 1];
    policy_profile profile;
    int memory_mb;          /* the function's memory size */
    double vcpu;            /* memory/1769, at most 6 (lambda/gcf); the type's vCPU (managed) */
    double timeout_s;       /* per-request limit */
    int workers;            /* requests in flight per instance (containerConcurrency) */
    int min_instances;      /* always-on instances: provisioned (lambda) or inst.min (managed) */
    int max_instances;      /* 0: no cap beyond the account's (lambda unreserved) */
    int reserved;           /* lambda reserved concurrency; -1: unreserved */
    int provisioned;        /* lambda provisioned concurrency */
    double keep_alive_s;    /* idle instance retention before scale-to-zero */
    char instance_type[32]; /* managed/server: e.g. ml.m5.large */
    double target_per_min;  /* managed: invocations per instance per minute */
    double scale_out_cooldown_s, scale_in_cooldown_s;
    int batch_max_size;     /* > 1: the function host's session is planned for it */
    char model_file[256];   /* the model's file name inside a package ("" for builtin: models) */
    const char *model_path; /* the spec's model (borrowed) */
    char *args[PLATFORM_MAX_ARGS + 2]; /* faasml fn arguments (borrowed from the spec) */
    int nargs;
    char batch_arg[16];
    package_limits lim; /* the engines' limits (package_build loads them) */
} package_plan;

/* Fills plan from a validated spec. platforms: data file path (NULL: the default search). A spec
 * package cannot carry (runtime custom, a model URL) is an error naming the field. The plan
 * borrows strings from spec: keep spec alive while the plan is used. */
int package_plan_make(const platform_spec *spec, const char *platforms, package_plan *plan,
                      fm_err *err);

/* ---- building ---------------------------------------------------------------------------------
 */
typedef void (*package_log_fn)(void *ud, const char *line);

typedef struct package_opts {
    package_format format;
    const char *out_dir;     /* created when missing; existing files of the same name replaced */
    const char *image;       /* image reference (oci: the tag; manifests: what they pull);
                                NULL: "localhost/faasml-<name>:latest" */
    const char *role_arn;    /* sagemaker: the model's execution role (required) */
    const char *self_exe;    /* the faasml binary to package; NULL: /proc/self/exe */
    const char *launcher;    /* the static launcher; NULL: faasml-bootstrap beside self_exe */
    const char *platforms;   /* policy data file; NULL: the default search */
    const char *limits;      /* engines' limits data file; NULL: data/engines.yaml */
    const char *builder;     /* oci: "buildah" or "podman"; NULL: the first on PATH */
    int64_t zip_limit_bytes; /* 0: the data file's lambda.unzipped_max_mb */
    package_log_fn log;      /* progress and the choices made; may be NULL */
    void *log_ud;
} package_opts;

void package_opts_init(package_opts *o);

typedef struct package_result {
    char files[8][1024]; /* what was written, main artifact first */
    int nfiles;
    int64_t unzipped_bytes; /* lambda-zip, sam: the package's unzipped size */
    int64_t zip_bytes;      /* lambda-zip, sam: the zip file's size */
    char image[256];        /* oci: the tag built */
    char run_flags[256];    /* oci: what `podman run` needs on this machine (quirks) */
} package_result;

/* Builds one format into o->out_dir. Errors name the cause: "model 'x.onnx': No such file or
 * directory", "package is 312.5 MB unzipped, 62.5 MB over Lambda's 250 MB limit (model 300.0
 * MB)", "no OCI image builder: neither 'buildah' nor 'podman' is on PATH". */
int package_build(const platform_spec *spec, const package_opts *o, package_result *res,
                  fm_err *err);

/* What `podman run` needs on this machine is the platform's to say (platform_podman_detect):
 * the image this module builds and `faasml serve`'s runtime image use the same flags. */

/* ---- parsing ldd's output (also fuzzed) -------------------------------------------------------
 * Calls fn for each library path `ldd` printed ("libx.so.1 => /lib/.../libx.so.1 (0x...)" and the
 * loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"); skips the vDSO. A "not found" line is an error
 * naming the library. */
typedef int (*package_lib_fn)(void *ud, const char *path);
int package_ldd_parse(const char *text, size_t len, package_lib_fn fn, void *ud, fm_err *err);

#endif
