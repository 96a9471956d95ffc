/*
 * package: the plan read from a spec and its policy, every manifest parsed back and checked for
 * the fields its engine requires (docs/deploy.md, "Field lists"), the YAML printer's round trip,
 * ldd parsing, and the errors a user reads (missing model, custom runtime, no role, zip limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "package/package.h"
#include "package/package_int.h"
#include "platform/platform.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/faasml-pkg-unit.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char p[300];
    snprintf(p, sizeof p, "%s/m.onnx", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputs("not parsed by package", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pkg_remove_tree(dir);
    return 0;
}

/* Parses a spec whose relative paths resolve in the test directory. */
static void spec_of(const char *text, platform_spec *s)
{
    fm_err err = {0};
    int rc = platform_spec_parse_yaml(text, strlen(text), "fn.yaml", dir, s, &err);
    if (rc)
        fail_msg("spec: %s", err.msg);
}

static const char *const LAMBDA_SPEC = "name: Colours_1\n"
                                       "runtime: builtin-onnx\n"
                                       "model: m.onnx\n"
                                       "memory_mb: 512\n"
                                       "timeout_s: 2.5\n"
                                       "reserved_concurrency: 5\n"
                                       "provisioned_concurrency: 1\n"
                                       "keep_alive: 5m\n"
                                       "environment: {GREETING: \"a: b\"}\n"
                                       "args: [\"--topk\", \"2\"]\n";

static void build(const platform_spec *s, package_format f, const char *image, const char *role,
                  const char *sub, package_result *res)
{
    char out[400];
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    package_opts o;
    package_opts_init(&o);
    o.format = f;
    o.out_dir = out;
    o.image = image;
    o.role_arn = role;
    fm_err err = {0};
    int rc = package_build(s, &o, res, &err);
    if (rc)
        fail_msg("package %s: %s", package_format_name(f), err.msg);
}

/* Follows map keys given one by one (annotation keys hold dots). */
static const fm_ynode *ypath(const fm_ynode *n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (const char *k; n && (k = va_arg(ap, const char *));)
        n = fm_ynode_get(n, k);
    va_end(ap);
    return n;
}

static const char *ystr(const fm_ynode *n)
{
    const char *s = n ? fm_ynode_str(n) : NULL;
    return s ? s : "(absent)";
}

static fm_yaml *load_yaml(const char *path)
{
    fm_yaml *y = NULL;
    fm_err err = {0};
    if (fm_yaml_load_file(path, &y, &err))
        fail_msg("%s", err.msg);
    return y;
}

static cJSON *load_json(const char *path)
{
    char *buf;
    size_t len;
    fm_err err = {0};
    if (fm_read_file(path, &buf, &len, &err))
        fail_msg("%s", err.msg);
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    assert_non_null(j);
    return j;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        fail_msg("'%s' is not a number", k);
    return v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "(absent)";
}

/* ---- names and parsing ---------------------------------------------------------------------- */

static void test_formats(void **state)
{
    (void)state;
    for (int i = 0; i < PACKAGE_FORMAT__COUNT; i++) {
        package_format f;
        assert_int_equal(package_format_parse(package_format_name((package_format)i), &f), 0);
        assert_int_equal(f, i);
    }
    package_format f;
    assert_int_equal(package_format_parse("zip", &f), FM_EINVAL);
    assert_string_equal(package_format_name(PACKAGE_FORMAT__COUNT), "?");
}

static int collect(void *ud, const char *path)
{
    char *acc = ud;
    strcat(acc, path);
    strcat(acc, ";");
    return 0;
}

static void test_ldd_parse(void **state)
{
    (void)state;
    const char *text = "\tlinux-vdso.so.1 (0x00007ffd1)\n"
                       "\tlibyaml-0.so.2 => /lib/x86_64-linux-gnu/libyaml-0.so.2 (0x00007f1)\n"
                       "\tlibopenblas.so.0 => /usr/lib/x86_64-linux-gnu/openblas-pthread/"
                       "libopenblas.so.0 (0x2)\n"
                       "\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
    char acc[1024] = "";
    fm_err err = {0};
    assert_int_equal(package_ldd_parse(text, strlen(text), collect, acc, &err), 0);
    assert_string_equal(acc, "/lib/x86_64-linux-gnu/libyaml-0.so.2;"
                             "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0;"
                             "/lib64/ld-linux-x86-64.so.2;");
    const char *missing = "\tlibgone.so.3 => not found\n";
    acc[0] = '\0';
    assert_int_equal(package_ldd_parse(missing, strlen(missing), collect, acc, &err), FM_ENOTFOUND);
    assert_string_equal(err.msg, "ldd: library 'libgone.so.3' not found");
}

/* Scalars that YAML would otherwise read as numbers, booleans, maps or comments come back as the
 * same text; nested lists of maps keep their shape. */
static void test_yaml_round_trip(void **state)
{
    (void)state;
    cJSON *r = cJSON_CreateObject();
    const char *tricky[] = {"0", "true", "a: b", "- x", "#c", "line\nbreak", "q\"uote", ""};
    cJSON *l = cJSON_AddArrayToObject(r, "list");
    for (size_t i = 0; i < FM_ARRAY_LEN(tricky); i++)
        cJSON_AddItemToArray(l, cJSON_CreateString(tricky[i]));
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "n", 512);
    cJSON_AddStringToObject(m, "weird key: x", "v");
    cJSON_AddItemToObject(m, "empty", cJSON_CreateObject());
    cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "maps"), m);
    char *text = pkg_yaml_print(r);
    assert_non_null(text);
    fm_yaml *y;
    fm_err err = {0};
    assert_int_equal(fm_yaml_load_buf(text, strlen(text), "t.yaml", &y, &err), 0);
    const fm_ynode *yl = ypath(fm_yaml_root(y), "list", NULL);
    assert_int_equal(fm_ynode_len(yl), FM_ARRAY_LEN(tricky));
    for (size_t i = 0; i < FM_ARRAY_LEN(tricky); i++)
        assert_string_equal(ystr(fm_ynode_item(yl, i)), tricky[i]);
    const fm_ynode *ym = fm_ynode_item(ypath(fm_yaml_root(y), "maps", NULL), 0);
    assert_string_equal(ystr(ypath(ym, "n", NULL)), "512");
    assert_string_equal(ystr(ypath(ym, "weird key: x", NULL)), "v");
    assert_int_equal(fm_ynode_kind_of(ypath(ym, "empty", NULL)), FM_YAML_MAP);
    fm_yaml_free(y);
    free(text);
    cJSON_Delete(r);
}

/* ---- the plan ------------------------------------------------------------------------------ */

static void test_plan_lambda(void **state)
{
    (void)state;
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s);
    package_plan p;
    fm_err err = {0};
    assert_int_equal(package_plan_make(&s, NULL, &p, &err), 0);
    assert_int_equal(p.profile, POLICY_PROFILE_LAMBDA);
    assert_int_equal(p.memory_mb, 512);
    assert_true(fabs(p.vcpu - 512.0 / 1769.0) < 1e-9);
    assert_true(fabs(p.timeout_s - 2.5) < 1e-9);
    assert_int_equal(p.workers, 1);
    assert_int_equal(p.min_instances, 1);
    assert_int_equal(p.max_instances, 5);
    assert_int_equal(p.provisioned, 1);
    assert_true(fabs(p.keep_alive_s - 300) < 1e-9);
    assert_string_equal(p.model_file, "m.onnx");
    assert_int_equal(p.nargs, 2);
    assert_string_equal(p.args[0], "--topk");
    platform_spec_release(&s);

    /* No keep_alive: the platform's default; a policy override wins over the spec's field, as
     * on the live platform. */
    spec_of("name: a\nruntime: builtin-onnx\nmodel: m.onnx\n", &s);
    assert_int_equal(package_plan_make(&s, NULL, &p, &err), 0);
    platform_config pc;
    platform_config_init(&pc);
    assert_true(fabs(p.keep_alive_s - pc.keep_alive_s) < 1e-9);
    assert_int_equal(p.max_instances, 0);
    assert_int_equal(p.reserved, -1);
    platform_spec_release(&s);
    spec_of("name: a\nruntime: builtin-onnx\nmodel: m.onnx\nkeep_alive: 5m\n"
            "policy: {inst: {keep_alive: 2m}}\nbatch: {max_size: 4, max_delay_ms: 2}\n",
            &s);
    assert_int_equal(package_plan_make(&s, NULL, &p, &err), 0);
    assert_true(fabs(p.keep_alive_s - 120) < 1e-9);
    assert_int_equal(p.nargs, 2);
    assert_string_equal(p.args[0], "--max-batch");
    assert_string_equal(p.args[1], "4");
    platform_spec_release(&s);
}

/* managed: the data file's instance type and target tracking, then the spec's overrides. */
static void test_plan_managed(void **state)
{
    (void)state;
    platform_spec s;
    spec_of("name: ep\nruntime: builtin-onnx\nmodel: m.onnx\nprofile: managed\n"
            "policy: {inst: {min: 2, max: 3}, scale: {target_per_min: 90, in_cooldown: 10m}}\n",
            &s);
    package_plan p;
    fm_err err = {0};
    assert_int_equal(package_plan_make(&s, NULL, &p, &err), 0);
    policy_config def;
    assert_int_equal(policy_config_defaults(&def, POLICY_PROFILE_MANAGED, NULL, NULL, &err), 0);
    assert_int_equal(p.profile, POLICY_PROFILE_MANAGED);
    assert_string_equal(p.instance_type, def.inst.type);
    assert_int_equal(p.memory_mb, def.inst.type_memory_mb > 0 ? def.inst.type_memory_mb : 128);
    assert_int_equal(p.workers, def.inst.workers);
    assert_int_equal(p.min_instances, 2);
    assert_int_equal(p.max_instances, 3);
    assert_true(fabs(p.target_per_min - 90) < 1e-9);
    assert_true(fabs(p.scale_in_cooldown_s - 600) < 1e-9);
    assert_true(fabs(p.scale_out_cooldown_s - (double)def.scale.out_cooldown_ns / 1e9) < 1e-9);
    platform_spec_release(&s);
}

/* ---- manifests, parsed back ---------------------------------------------------------------- */

static void test_knative(void **state)
{
    (void)state;
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s);
    package_result res;
    build(&s, PACKAGE_FORMAT_KNATIVE, "registry.example/fn:1", NULL, "kn", &res);
    assert_int_equal(res.nfiles, 1);
    assert_non_null(strstr(res.files[0], "/colours-1.knative.yaml"));
    fm_yaml *y = load_yaml(res.files[0]);
    const fm_ynode *r = fm_yaml_root(y);
    assert_string_equal(ystr(ypath(r, "apiVersion", NULL)), "serving.knative.dev/v1");
    assert_string_equal(ystr(ypath(r, "kind", NULL)), "Service");
    assert_string_equal(ystr(ypath(r, "metadata", "name", NULL)), "colours-1");
    const fm_ynode *ann = ypath(r, "spec", "template", "metadata", "annotations", NULL);
    assert_string_equal(ystr(ypath(ann, "autoscaling.knative.dev/min-scale", NULL)), "1");
    assert_string_equal(ystr(ypath(ann, "autoscaling.knative.dev/max-scale", NULL)), "5");
    assert_string_equal(ystr(ypath(ann, "autoscaling.knative.dev/target", NULL)), "1");
    assert_string_equal(
        ystr(ypath(ann, "autoscaling.knative.dev/scale-to-zero-pod-retention-period", NULL)),
        "300s");
    const fm_ynode *ts = ypath(r, "spec", "template", "spec", NULL);
    assert_string_equal(ystr(ypath(ts, "containerConcurrency", NULL)), "1");
    assert_string_equal(ystr(ypath(ts, "timeoutSeconds", NULL)), "3");
    const fm_ynode *c = fm_ynode_item(ypath(ts, "containers", NULL), 0);
    assert_string_equal(ystr(ypath(c, "image", NULL)), "registry.example/fn:1");
    const fm_ynode *port = fm_ynode_item(ypath(c, "ports", NULL), 0);
    assert_string_equal(ystr(ypath(port, "containerPort", NULL)), "8080");
    assert_string_equal(ystr(ypath(c, "resources", "requests", "memory", NULL)), "512Mi");
    assert_string_equal(ystr(ypath(c, "resources", "requests", "cpu", NULL)), "290m");
    const fm_ynode *env = ypath(c, "env", NULL);
    assert_int_equal(fm_ynode_len(env), 2);
    assert_string_equal(ystr(ypath(fm_ynode_item(env, 0), "value", NULL)), "a: b");
    assert_string_equal(ystr(ypath(fm_ynode_item(env, 1), "name", NULL)), "FAASML_MODEL");
    assert_string_equal(ystr(ypath(fm_ynode_item(env, 1), "value", NULL)), "/var/task/m.onnx");
    fm_yaml_free(y);
    platform_spec_release(&s);
}

static void test_kserve(void **state)
{
    (void)state;
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s);
    package_result res;
    build(&s, PACKAGE_FORMAT_KSERVE, NULL, NULL, "ks", &res);
    fm_yaml *y = load_yaml(res.files[0]);
    const fm_ynode *r = fm_yaml_root(y);
    assert_string_equal(ystr(ypath(r, "apiVersion", NULL)), "serving.kserve.io/v1beta1");
    assert_string_equal(ystr(ypath(r, "kind", NULL)), "InferenceService");
    const fm_ynode *pred = ypath(r, "spec", "predictor", NULL);
    assert_string_equal(ystr(ypath(pred, "minReplicas", NULL)), "1");
    assert_string_equal(ystr(ypath(pred, "maxReplicas", NULL)), "5");
    assert_string_equal(ystr(ypath(pred, "containerConcurrency", NULL)), "1");
    assert_string_equal(ystr(ypath(pred, "timeout", NULL)), "3");
    const fm_ynode *c = fm_ynode_item(ypath(pred, "containers", NULL), 0);
    assert_string_equal(ystr(ypath(c, "name", NULL)), "kserve-container");
    assert_string_equal(ystr(ypath(c, "image", NULL)), "localhost/faasml-colours-1:latest");
    assert_string_equal(
        ystr(ypath(fm_ynode_item(ypath(c, "ports", NULL), 0), "containerPort", NULL)), "8080");
    assert_string_equal(ystr(ypath(c, "readinessProbe", "httpGet", "path", NULL)),
                        "/v2/health/ready");
    fm_yaml_free(y);
    platform_spec_release(&s);
}

static void test_sagemaker_serverless(void **state)
{
    (void)state;
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s);
    package_result res;
    package_opts o;
    package_opts_init(&o);
    o.format = PACKAGE_FORMAT_SAGEMAKER;
    o.out_dir = dir;
    fm_err err = {0};
    assert_int_equal(package_build(&s, &o, &res, &err), FM_EINVAL);
    assert_non_null(strstr(err.msg, "--role"));
    build(&s, PACKAGE_FORMAT_SAGEMAKER, "1.dkr.ecr.us-east-1.amazonaws.com/fn:1",
          "arn:aws:iam::123456789012:role/sm", "sm", &res);
    assert_int_equal(res.nfiles, 3); /* serverless: no autoscaling documents */
    cJSON *m = load_json(res.files[0]);
    assert_string_equal(jstr(m, "ModelName"), "colours-1");
    assert_string_equal(jstr(m, "ExecutionRoleArn"), "arn:aws:iam::123456789012:role/sm");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(m, "PrimaryContainer");
    assert_string_equal(jstr(pc, "Image"), "1.dkr.ecr.us-east-1.amazonaws.com/fn:1");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(pc, "Environment"), "FAASML_MODEL"),
                        "/var/task/m.onnx");
    cJSON_Delete(m);
    cJSON *ec = load_json(res.files[1]);
    const cJSON *v =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ec, "ProductionVariants"), 0);
    assert_string_equal(jstr(v, "ModelName"), "colours-1");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(v, "ServerlessConfig");
    assert_int_equal((int)jnum(sc, "MemorySizeInMB"), 1024); /* 512 rounds up to 1 GB */
    assert_int_equal((int)jnum(sc, "MaxConcurrency"), 5);
    assert_int_equal((int)jnum(sc, "ProvisionedConcurrency"), 1);
    assert_null(cJSON_GetObjectItemCaseSensitive(v, "InstanceType"));
    cJSON_Delete(ec);
    cJSON *ep = load_json(res.files[2]);
    assert_string_equal(jstr(ep, "EndpointConfigName"), "colours-1-config");
    cJSON_Delete(ep);
    platform_spec_release(&s);
}

static void test_sagemaker_managed(void **state)
{
    (void)state;
    platform_spec s;
    spec_of("name: ep\nruntime: builtin-onnx\nmodel: m.onnx\nprofile: managed\n"
            "policy: {inst: {min: 2, max: 6}, scale: {target_per_min: 90}}\n",
            &s);
    package_result res;
    build(&s, PACKAGE_FORMAT_SAGEMAKER, NULL, "arn:aws:iam::1:role/r", "smm", &res);
    assert_int_equal(res.nfiles, 5);
    cJSON *ec = load_json(res.files[1]);
    const cJSON *v =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ec, "ProductionVariants"), 0);
    policy_config def;
    fm_err err = {0};
    assert_int_equal(policy_config_defaults(&def, POLICY_PROFILE_MANAGED, NULL, NULL, &err), 0);
    assert_string_equal(jstr(v, "InstanceType"), def.inst.type);
    assert_int_equal((int)jnum(v, "InitialInstanceCount"), 2);
    cJSON_Delete(ec);
    cJSON *tg = load_json(res.files[3]);
    assert_string_equal(jstr(tg, "ResourceId"), "endpoint/ep/variant/AllTraffic");
    assert_string_equal(jstr(tg, "ScalableDimension"), "sagemaker:variant:DesiredInstanceCount");
    assert_int_equal((int)jnum(tg, "MinCapacity"), 2);
    assert_int_equal((int)jnum(tg, "MaxCapacity"), 6);
    cJSON_Delete(tg);
    cJSON *pol = load_json(res.files[4]);
    assert_string_equal(jstr(pol, "PolicyType"), "TargetTrackingScaling");
    const cJSON *tt =
        cJSON_GetObjectItemCaseSensitive(pol, "TargetTrackingScalingPolicyConfiguration");
    assert_int_equal((int)jnum(tt, "TargetValue"), 90);
    assert_int_equal((int)jnum(tt, "ScaleOutCooldown"),
                     (int)(def.scale.out_cooldown_ns / 1000000000));
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(tt, "PredefinedMetricSpecification"),
                             "PredefinedMetricType"),
                        "SageMakerVariantInvocationsPerInstance");
    cJSON_Delete(pol);
    platform_spec_release(&s);
}

static void test_sam_image(void **state)
{
    (void)state;
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s);
    package_result res;
    build(&s, PACKAGE_FORMAT_SAM, "1.dkr.ecr.us-east-1.amazonaws.com/fn:1", NULL, "sam", &res);
    assert_int_equal(res.nfiles, 1);
    fm_yaml *y = load_yaml(res.files[0]);
    const fm_ynode *r = fm_yaml_root(y);
    assert_string_equal(ystr(ypath(r, "Transform", NULL)), "AWS::Serverless-2016-10-31");
    const fm_ynode *fn = ypath(r, "Resources", "FnColours1", NULL);
    assert_string_equal(ystr(ypath(fn, "Type", NULL)), "AWS::Serverless::Function");
    const fm_ynode *p = ypath(fn, "Properties", NULL);
    assert_string_equal(ystr(ypath(p, "PackageType", NULL)), "Image");
    assert_string_equal(ystr(ypath(p, "ImageUri", NULL)), "1.dkr.ecr.us-east-1.amazonaws.com/fn:1");
    assert_string_equal(ystr(ypath(p, "MemorySize", NULL)), "512");
    assert_string_equal(ystr(ypath(p, "Timeout", NULL)), "3");
    assert_string_equal(ystr(ypath(p, "ReservedConcurrentExecutions", NULL)), "5");
    assert_string_equal(ystr(ypath(p, "AutoPublishAlias", NULL)), "live");
    assert_string_equal(
        ystr(ypath(p, "ProvisionedConcurrencyConfig", "ProvisionedConcurrentExecutions", NULL)),
        "1");
    assert_string_equal(ystr(ypath(p, "Environment", "Variables", "GREETING", NULL)), "a: b");
    assert_null(ypath(p, "Environment", "Variables", "FAASML_MODEL", NULL));
    fm_yaml_free(y);
    platform_spec_release(&s);
}

/* ---- errors -------------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    platform_spec s;
    package_result res;
    package_opts o;
    package_opts_init(&o);
    o.format = PACKAGE_FORMAT_KNATIVE;
    o.out_dir = dir;
    fm_err err = {0};
    spec_of("name: gone\nruntime: builtin-onnx\nmodel: missing.onnx\n", &s);
    assert_int_equal(package_build(&s, &o, &res, &err), -2 /* -ENOENT */);
    char want[400];
    snprintf(want, sizeof want, "gone: model '%s/missing.onnx': No such file or directory", dir);
    assert_string_equal(err.msg, want);
    platform_spec_release(&s);

    spec_of("name: c\nruntime: custom\nbootstrap: /bin/true\n", &s);
    assert_int_equal(package_build(&s, &o, &res, &err), FM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "runtime 'custom' cannot be packaged"));
    platform_spec_release(&s);

    spec_of("name: u\nruntime: builtin-onnx\nmodel: https://example.com/m.onnx\n", &s);
    assert_int_equal(package_build(&s, &o, &res, &err), FM_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "is not a local file"));
    platform_spec_release(&s);

    spec_of("name: big\nruntime: builtin-onnx\nmodel: m.onnx\nmemory_mb: 8192\n", &s);
    o.format = PACKAGE_FORMAT_SAGEMAKER;
    o.role_arn = "arn:aws:iam::1:role/r";
    assert_int_equal(package_build(&s, &o, &res, &err), FM_ERANGE);
    assert_non_null(strstr(err.msg, "exceeds Serverless Inference's 6144 MB"));
    platform_spec_release(&s);
}

/* The size check runs before anything is copied, and says by how much. */
static void test_zip_limit(void **state)
{
    (void)state;
    if (!pkg_have_tool("zip") || access("/bin/true", X_OK) != 0)
        skip();
    platform_spec s;
    spec_of("name: z\nruntime: builtin-onnx\nmodel: m.onnx\n", &s);
    package_result res;
    package_opts o;
    package_opts_init(&o);
    o.format = PACKAGE_FORMAT_LAMBDA_ZIP;
    o.out_dir = dir;
    o.launcher = "/bin/true"; /* never copied: the limit refuses first */
    o.zip_limit_bytes = 1 << 20;
    fm_err err = {0};
    assert_int_equal(package_build(&s, &o, &res, &err), FM_ELIMIT);
    assert_non_null(strstr(err.msg, "z: package is "));
    assert_non_null(strstr(err.msg, "MB over Lambda's 1 MB limit (model 'm.onnx' 0.0 MB"));
    assert_true(res.unzipped_bytes > (1 << 20));
    char zip[400];
    snprintf(zip, sizeof zip, "%s/z.zip", dir);
    assert_int_not_equal(access(zip, F_OK), 0);
    platform_spec_release(&s);
}

/* data/engines.yaml: each number lands in its field, only with its source; a file with other
 * numbers changes what the SageMaker variant gets. */
static void test_limits(void **state)
{
    (void)state;
    package_limits l;
    fm_err err = {0};
    assert_int_equal(package_limits_load(NULL, &l, &err), 0); /* the shipped file parses */
    const char *text =
        "format: 1\n"
        "lambda:\n"
        "  unzipped_max_mb: {value: 11, status: doc, date: d, source: s}\n"
        "  image_max_mb: {value: 12, status: doc, date: d, source: s}\n"
        "sagemaker:\n"
        "  serverless_memory_min_mb: {value: 256, status: doc, date: d, source: s}\n"
        "  serverless_memory_max_mb: {value: 768, status: doc, date: d, source: s}\n"
        "  serverless_memory_step_mb: {value: 256, status: doc, date: d, source: s}\n"
        "  serverless_max_concurrency: {value: 3, status: doc, date: d, source: s}\n"
        "  response_timeout_s: {value: 17, status: doc, date: d, source: s}\n";
    assert_int_equal(package_limits_parse(text, strlen(text), "e.yaml", &l, &err), 0);
    assert_int_equal(l.lambda_unzipped_max_mb, 11);
    assert_int_equal(l.lambda_image_max_mb, 12);
    assert_int_equal(l.sagemaker_serverless_memory_min_mb, 256);
    assert_int_equal(l.sagemaker_serverless_memory_max_mb, 768);
    assert_int_equal(l.sagemaker_serverless_memory_step_mb, 256);
    assert_int_equal(l.sagemaker_serverless_max_concurrency, 3);
    assert_int_equal(l.sagemaker_response_timeout_s, 17);

    char path[400];
    snprintf(path, sizeof path, "%s/engines.yaml", dir);
    assert_int_equal(fm_write_file_atomic(path, text, strlen(text), &err), 0);
    platform_spec s;
    spec_of(LAMBDA_SPEC, &s); /* 512 MB, reserved 5 */
    package_opts o;
    package_opts_init(&o);
    o.format = PACKAGE_FORMAT_SAGEMAKER;
    char out[400];
    snprintf(out, sizeof out, "%s/lim", dir);
    o.out_dir = out;
    o.role_arn = "arn:aws:iam::1:role/r";
    o.limits = path;
    package_result res;
    assert_int_equal(package_build(&s, &o, &res, &err), 0);
    cJSON *ec = load_json(res.files[1]);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ec, "ProductionVariants"), 0),
        "ServerlessConfig");
    assert_int_equal((int)jnum(sc, "MemorySizeInMB"), 512);
    assert_int_equal((int)jnum(sc, "MaxConcurrency"), 3); /* reserved 5, the file's cap 3 */
    cJSON_Delete(ec);
    platform_spec_release(&s);

    const char *bare = "format: 1\nlambda:\n  unzipped_max_mb: 250\n";
    assert_int_equal(package_limits_parse(bare, strlen(bare), "e.yaml", &l, &err), FM_EINVAL);
    assert_non_null(
        strstr(err.msg, "'lambda.unzipped_max_mb' needs {value, status, date, source}"));
    const char *typo = "format: 1\nlambda: {unzipped_max: 1}\n";
    assert_int_not_equal(package_limits_parse(typo, strlen(typo), "e.yaml", &l, &err), 0);
    assert_non_null(strstr(err.msg, "unknown key 'unzipped_max'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_ldd_parse),
        cmocka_unit_test(test_yaml_round_trip),
        cmocka_unit_test(test_plan_lambda),
        cmocka_unit_test(test_plan_managed),
        cmocka_unit_test(test_knative),
        cmocka_unit_test(test_kserve),
        cmocka_unit_test(test_sagemaker_serverless),
        cmocka_unit_test(test_sagemaker_managed),
        cmocka_unit_test(test_sam_image),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_zip_limit),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
