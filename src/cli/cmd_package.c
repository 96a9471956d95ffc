/* faasml package: one function spec becomes what another engine deploys (docs/deploy.md). */
#include "cli.h"
#include "package/package.h"
#include "platform/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: the module says what it chose (sizes, quirks, clamped values); the user reads it here. */
static void print_line(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "package: %s\n", line);
}

/* Why: what the user can fix in the spec or the flags (a missing model, a value out of range, a
 * size limit) is invalid input, 2; a tool or the disk failing is 1 (DESIGN.md exit codes). */
static int exit_code(int rc)
{
    return rc == FM_EINVAL || rc == FM_EUNSUPPORTED || rc == FM_ERANGE || rc == FM_ELIMIT ||
                   rc == -ENOENT
               ? 2
               : 1;
}

int cmd_package(int argc, char **argv)
{
    const char *out = NULL, *format = NULL, *image = NULL, *role = NULL, *platforms = NULL;
    const char *builder = NULL;
    bool quirks = false, json = false;
    char formats[512] = "";
    for (int i = 0; i < PACKAGE_FORMAT__COUNT; i++)
        snprintf(formats + strlen(formats), sizeof formats - strlen(formats), "%s%s", i ? ", " : "",
                 package_format_name((package_format)i));
    const cli_opt opts[] = {
        {"output", 'o', CLI_OPT_STR, &out, "DIR", "where the artifact or manifests go"},
        {"format", 0, CLI_OPT_STR, &format, "F", formats},
        {"image", 0, CLI_OPT_STR, &image, "REF",
         "image reference: the tag oci builds, what knative/kserve/sagemaker pull, and for sam "
         "a container image instead of a zip (default localhost/faasml-NAME:latest)"},
        {"role", 0, CLI_OPT_STR, &role, "ARN", "sagemaker: the model's IAM execution role"},
        {"builder", 0, CLI_OPT_STR, &builder, "buildah|podman",
         "oci: the image builder (default: buildah, else podman)"},
        {"platforms", 0, CLI_OPT_STR, &platforms, "FILE",
         "policy data file (default: data/platforms.yaml)"},
        {"podman-flags", 0, CLI_OPT_FLAG, &quirks, NULL,
         "print the flags `podman run` needs on this machine and why, then exit"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "print the result as JSON"},
        {0},
    };
    const cli_spec spec = {
        "package",
        "SPEC.yaml -o DIR --format F [options]",
        "Turns a function spec (runtime: builtin-onnx, a local model file) into what another "
        "engine deploys. Every number comes from the spec and the policy configuration the "
        "platform runs it with (memory_mb, timeout_s, reserved/provisioned concurrency, "
        "keep_alive, the profile's instance type and scaling).\n\n"
        "  lambda-zip  DIR/NAME.zip: bootstrap (a static launcher), faasml, its libraries and "
        "loader, the model; checked against Lambda's 250 MB unzipped limit\n"
        "  oci         an image built with buildah or podman from DIR/oci (Containerfile, rootfs "
        "of host files; nothing pulled): a Lambda container image, a Knative/KServe container "
        "($PORT) and a SageMaker container (`serve`, port 8080)\n"
        "  knative     DIR/NAME.knative.yaml, a serving.knative.dev/v1 Service\n"
        "  kserve      DIR/NAME.kserve.yaml, an InferenceService with a v2 custom predictor\n"
        "  sagemaker   DIR/sagemaker-*.json for create-model, create-endpoint-config, "
        "create-endpoint (and autoscaling for profile managed); needs --role\n"
        "  sam         DIR/template.yaml (AWS SAM) and the zip it deploys\n\n"
        "docs/deploy.md walks from a spec to each engine.",
        opts,
        0,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (quirks) {
        platform_podman pm;
        platform_podman_detect(&pm);
        printf("%s\n", pm.flags);
        fprintf(stderr, "package: %s\n", pm.why);
        return 0;
    }
    if (npos != 1)
        return cli_fail("package", 2, "give one function spec (see 'faasml package --help')");
    if (!out)
        return cli_fail("package", 2, "no output directory: give -o DIR");
    if (!format)
        return cli_fail("package", 2, "no format: give --format (%s)", formats);
    package_opts o;
    package_opts_init(&o);
    if (package_format_parse(format, &o.format))
        return cli_fail("package", 2, "unknown format '%s' (%s)", format, formats);
    o.out_dir = out;
    o.image = image;
    o.role_arn = role;
    o.builder = builder;
    o.platforms = platforms;
    o.log = print_line;
    platform_spec fs;
    fm_err err = {0};
    if (platform_spec_load_yaml(argv[0], &fs, &err))
        return cli_fail("package", 2, "%s", err.msg);
    package_result res;
    rc = package_build(&fs, &o, &res, &err);
    platform_spec_release(&fs);
    if (rc)
        return cli_fail("package", exit_code(rc), "%s", err.msg);
    if (json) {
        printf("{\"format\":\"%s\",\"files\":[", format);
        for (int i = 0; i < res.nfiles; i++) {
            char q[2100];
            fm_json_quote(q, sizeof q, res.files[i]);
            printf("%s%s", i ? "," : "", q);
        }
        printf("],\"unzipped_bytes\":%lld,\"zip_bytes\":%lld", (long long)res.unzipped_bytes,
               (long long)res.zip_bytes);
        if (res.image[0]) {
            char q[600], r[600];
            fm_json_quote(q, sizeof q, res.image);
            fm_json_quote(r, sizeof r, res.run_flags);
            printf(",\"image\":%s,\"podman_run_flags\":%s", q, r);
        }
        printf("}\n");
    } else {
        for (int i = 0; i < res.nfiles; i++)
            printf("%s\n", res.files[i]);
        if (res.image[0])
            printf("image %s\n", res.image);
    }
    return 0;
}
