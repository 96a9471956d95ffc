/* The deployment descriptions: a Knative Service, a KServe InferenceService, SageMaker's Model /
 * EndpointConfig / Endpoint / scaling JSON and an AWS SAM template, each a mapping of the one plan
 * (plan.c). docs/deploy.md lists every field with its source and the spec fields an engine has no
 * equivalent for. The container port is 8080 everywhere: Knative passes it to the container as
 * $PORT, KServe's custom predictor uses it, and SageMaker requires it (`serve`). */
#include "package_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTAINER_PORT 8080

static cJSON *add_obj(cJSON *o, const char *k)
{
    return cJSON_AddObjectToObject(o, k);
}

static void add_str_num(cJSON *o, const char *k, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    cJSON_AddStringToObject(o, k, b);
}

/* Go duration text, as Knative's annotations take it: "600s", "0.5s". */
static void duration(char *b, size_t cap, double s)
{
    snprintf(b, cap, "%gs", s);
}

static long ceil_s(double s)
{
    long v = (long)ceil(s - 1e-9);
    return v < 1 ? 1 : v;
}

/* Kubernetes resources: memory as the function's size, CPU as its share of a vCPU. */
static void k8s_resources(cJSON *c, const package_plan *p)
{
    cJSON *res = add_obj(c, "resources");
    cJSON *req = add_obj(res, "requests");
    cJSON *lim = add_obj(res, "limits");
    char b[32];
    snprintf(b, sizeof b, "%dMi", p->memory_mb);
    cJSON_AddStringToObject(req, "memory", b);
    cJSON_AddStringToObject(lim, "memory", b);
    if (p->vcpu > 0) {
        snprintf(b, sizeof b, "%ldm", (long)ceil(p->vcpu * 1000));
        cJSON_AddStringToObject(req, "cpu", b);
        cJSON_AddStringToObject(lim, "cpu", b);
    }
}

/* The container both Kubernetes engines run: the image, its port, the spec's environment, its
 * resources and a readiness probe on the v2 health path. */
static cJSON *k8s_container(const platform_spec *s, const package_plan *p, const char *image,
                            const char *name)
{
    cJSON *c = cJSON_CreateObject();
    if (name)
        cJSON_AddStringToObject(c, "name", name);
    cJSON_AddStringToObject(c, "image", image);
    cJSON *ports = cJSON_AddArrayToObject(c, "ports");
    cJSON *port = cJSON_CreateObject();
    cJSON_AddNumberToObject(port, "containerPort", CONTAINER_PORT);
    if (!name)
        cJSON_AddStringToObject(port, "name", "http1"); /* Knative: HTTP/1.1 to the container */
    cJSON_AddStringToObject(port, "protocol", "TCP");
    cJSON_AddItemToArray(ports, port);
    cJSON *env = pkg_env_list(s, p, "/var/task", true, true);
    if (env)
        cJSON_AddItemToObject(c, "env", env);
    k8s_resources(c, p);
    cJSON *probe = add_obj(c, "readinessProbe");
    cJSON *get = add_obj(probe, "httpGet");
    cJSON_AddStringToObject(get, "path", "/v2/health/ready");
    cJSON_AddNumberToObject(get, "port", CONTAINER_PORT);
    return c;
}

/* The scaling annotations Knative's autoscaler reads (and KServe passes on to it). */
static void knative_annotations(cJSON *ann, const package_plan *p)
{
    char b[48];
    cJSON_AddStringToObject(ann, "autoscaling.knative.dev/class", "kpa.autoscaling.knative.dev");
    cJSON_AddStringToObject(ann, "autoscaling.knative.dev/metric", "concurrency");
    add_str_num(ann, "autoscaling.knative.dev/target", p->workers);
    add_str_num(ann, "autoscaling.knative.dev/min-scale", p->min_instances);
    if (p->max_instances > 0)
        add_str_num(ann, "autoscaling.knative.dev/max-scale", p->max_instances);
    duration(b, sizeof b, p->keep_alive_s);
    cJSON_AddStringToObject(ann, "autoscaling.knative.dev/scale-to-zero-pod-retention-period", b);
}

static void labels(cJSON *meta, const package_plan *p)
{
    cJSON *l = add_obj(meta, "labels");
    cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", "faasml");
    cJSON_AddStringToObject(l, "faasml.dev/profile", policy_profile_name(p->profile));
}

static int write_tree(const package_opts *o, const char *file, cJSON *root, bool yaml,
                      package_result *res, fm_err *err)
{
    if (!root)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    char *text = yaml ? pkg_yaml_print(root) : cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    size_t n = strlen(text);
    char *out = text;
    if (!n || text[n - 1] != '\n') { /* cJSON_Print ends without a newline */
        if (asprintf(&out, "%s\n", text) < 0)
            out = NULL;
        free(text);
        if (!out)
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    int rc = pkg_write_out(o->out_dir, file, out, res, err);
    free(out);
    if (!rc)
        pkg_log(o, "wrote %s", res->files[res->nfiles - 1]);
    return rc;
}

/* ---- Knative ----------------------------------------------------------------------------------
 */

int pkg_build_knative(const platform_spec *s, const package_plan *p, const package_opts *o,
                      package_result *res, fm_err *err)
{
    char name[PLATFORM_NAME_MAX + 8], image[512], file[128];
    pkg_k8s_name(p, name, sizeof name);
    pkg_image_ref(o, p, image, sizeof image);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "apiVersion", "serving.knative.dev/v1");
    cJSON_AddStringToObject(root, "kind", "Service");
    cJSON *meta = add_obj(root, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    labels(meta, p);
    cJSON *tmpl = add_obj(add_obj(root, "spec"), "template");
    knative_annotations(add_obj(add_obj(tmpl, "metadata"), "annotations"), p);
    cJSON *ts = add_obj(tmpl, "spec");
    cJSON_AddNumberToObject(ts, "containerConcurrency", p->workers);
    cJSON_AddNumberToObject(ts, "timeoutSeconds", ceil_s(p->timeout_s));
    cJSON *cs = cJSON_AddArrayToObject(ts, "containers");
    cJSON_AddItemToArray(cs, k8s_container(s, p, image, NULL));
    snprintf(file, sizeof file, "%s.knative.yaml", name);
    return write_tree(o, file, root, true, res, err);
}

/* ---- KServe -----------------------------------------------------------------------------------
 */

int pkg_build_kserve(const platform_spec *s, const package_plan *p, const package_opts *o,
                     package_result *res, fm_err *err)
{
    char name[PLATFORM_NAME_MAX + 8], image[512], file[128];
    pkg_k8s_name(p, name, sizeof name);
    pkg_image_ref(o, p, image, sizeof image);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "apiVersion", "serving.kserve.io/v1beta1");
    cJSON_AddStringToObject(root, "kind", "InferenceService");
    cJSON *meta = add_obj(root, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    labels(meta, p);
    cJSON *ann = add_obj(meta, "annotations");
    char b[48];
    duration(b, sizeof b, p->keep_alive_s);
    cJSON_AddStringToObject(ann, "autoscaling.knative.dev/scale-to-zero-pod-retention-period", b);
    cJSON *pred = add_obj(add_obj(root, "spec"), "predictor");
    cJSON_AddNumberToObject(pred, "minReplicas", p->min_instances);
    if (p->max_instances > 0)
        cJSON_AddNumberToObject(pred, "maxReplicas", p->max_instances);
    cJSON_AddNumberToObject(pred, "containerConcurrency", p->workers);
    cJSON_AddNumberToObject(pred, "timeout", ceil_s(p->timeout_s));
    cJSON_AddStringToObject(pred, "scaleMetric", "concurrency");
    cJSON_AddNumberToObject(pred, "scaleTarget", p->workers);
    cJSON *cs = cJSON_AddArrayToObject(pred, "containers");
    cJSON_AddItemToArray(cs, k8s_container(s, p, image, "kserve-container"));
    snprintf(file, sizeof file, "%s.kserve.yaml", name);
    return write_tree(o, file, root, true, res, err);
}

/* ---- SageMaker --------------------------------------------------------------------------------
 */

int pkg_build_sagemaker(const platform_spec *s, const package_plan *p, const package_opts *o,
                        package_result *res, fm_err *err)
{
    if (!o->role_arn || strncmp(o->role_arn, "arn:", 4) != 0)
        return fm_err_set(err, FM_EINVAL,
                          "sagemaker: CreateModel needs the model's execution role: give --role "
                          "arn:aws:iam::ACCOUNT:role/NAME");
    char name[PLATFORM_NAME_MAX + 8], image[512], cfgname[PLATFORM_NAME_MAX + 16];
    pkg_k8s_name(p, name, sizeof name);
    pkg_image_ref(o, p, image, sizeof image);
    snprintf(cfgname, sizeof cfgname, "%s-config", name);
    bool serverless = p->profile == POLICY_PROFILE_LAMBDA || p->profile == POLICY_PROFILE_GCF;

    cJSON *model = cJSON_CreateObject();
    cJSON_AddStringToObject(model, "ModelName", name);
    cJSON_AddStringToObject(model, "ExecutionRoleArn", o->role_arn);
    cJSON *pc = add_obj(model, "PrimaryContainer");
    cJSON_AddStringToObject(pc, "Image", image);
    cJSON_AddStringToObject(pc, "Mode", "SingleModel");
    cJSON *env = pkg_env_list(s, p, "/var/task", false, true);
    if (env)
        cJSON_AddItemToObject(pc, "Environment", env);
    int rc = write_tree(o, "sagemaker-model.json", model, false, res, err);
    if (rc)
        return rc;

    cJSON *ec = cJSON_CreateObject();
    cJSON_AddStringToObject(ec, "EndpointConfigName", cfgname);
    cJSON *vs = cJSON_AddArrayToObject(ec, "ProductionVariants");
    cJSON *v = cJSON_CreateObject();
    cJSON_AddItemToArray(vs, v);
    cJSON_AddStringToObject(v, "VariantName", "AllTraffic");
    cJSON_AddStringToObject(v, "ModelName", name);
    const package_limits *L = &p->lim;
    if (serverless) {
        int step = (int)L->sagemaker_serverless_memory_step_mb;
        int lo = (int)L->sagemaker_serverless_memory_min_mb;
        int hi = (int)L->sagemaker_serverless_memory_max_mb;
        int cmax = (int)L->sagemaker_serverless_max_concurrency;
        int mb = (p->memory_mb + step - 1) / step * step;
        if (mb < lo)
            mb = lo;
        if (mb > hi) {
            cJSON_Delete(ec);
            return fm_err_set(err, FM_ERANGE,
                              "sagemaker: memory_mb %d exceeds Serverless Inference's %d MB; "
                              "use profile 'managed' for an instance-backed endpoint",
                              p->memory_mb, hi);
        }
        if (mb != p->memory_mb)
            pkg_log(o,
                    "sagemaker: serverless memory %d MB (sizes are %d-%d in %d MB steps; "
                    "the spec asks %d MB)",
                    mb, lo, hi, step, p->memory_mb);
        int maxc = p->max_instances > 0 ? p->max_instances : cmax;
        if (maxc > cmax) {
            pkg_log(o,
                    "sagemaker: MaxConcurrency %d (the most an endpoint allows; the spec "
                    "reserves %d)",
                    cmax, maxc);
            maxc = cmax;
        } else if (p->max_instances <= 0) {
            pkg_log(o, "sagemaker: MaxConcurrency %d (unreserved function: the endpoint's maximum)",
                    maxc);
        }
        cJSON *sc = add_obj(v, "ServerlessConfig");
        cJSON_AddNumberToObject(sc, "MemorySizeInMB", mb);
        cJSON_AddNumberToObject(sc, "MaxConcurrency", maxc);
        if (p->provisioned > 0)
            cJSON_AddNumberToObject(sc, "ProvisionedConcurrency",
                                    p->provisioned < maxc ? p->provisioned : maxc);
    } else {
        cJSON_AddStringToObject(v, "InstanceType", p->instance_type);
        cJSON_AddNumberToObject(v, "InitialInstanceCount",
                                p->min_instances > 0 ? p->min_instances : 1);
    }
    if (p->timeout_s > (double)L->sagemaker_response_timeout_s)
        pkg_log(o, "sagemaker: timeout_s %g is above SageMaker's fixed %lld s response limit",
                p->timeout_s, (long long)L->sagemaker_response_timeout_s);
    if ((rc = write_tree(o, "sagemaker-endpoint-config.json", ec, false, res, err)))
        return rc;

    cJSON *ep = cJSON_CreateObject();
    cJSON_AddStringToObject(ep, "EndpointName", name);
    cJSON_AddStringToObject(ep, "EndpointConfigName", cfgname);
    if ((rc = write_tree(o, "sagemaker-endpoint.json", ep, false, res, err)) || serverless)
        return rc;

    /* Instance-backed: Application Auto Scaling's target tracking on invocations per instance. */
    char resource[200];
    snprintf(resource, sizeof resource, "endpoint/%s/variant/AllTraffic", name);
    cJSON *tg = cJSON_CreateObject();
    cJSON_AddStringToObject(tg, "ServiceNamespace", "sagemaker");
    cJSON_AddStringToObject(tg, "ResourceId", resource);
    cJSON_AddStringToObject(tg, "ScalableDimension", "sagemaker:variant:DesiredInstanceCount");
    cJSON_AddNumberToObject(tg, "MinCapacity", p->min_instances > 0 ? p->min_instances : 1);
    cJSON_AddNumberToObject(tg, "MaxCapacity", p->max_instances > 0 ? p->max_instances : 1);
    if ((rc = write_tree(o, "sagemaker-scalable-target.json", tg, false, res, err)))
        return rc;
    cJSON *pol = cJSON_CreateObject();
    char pname[PLATFORM_NAME_MAX + 24];
    snprintf(pname, sizeof pname, "%s-invocations", name);
    cJSON_AddStringToObject(pol, "PolicyName", pname);
    cJSON_AddStringToObject(pol, "ServiceNamespace", "sagemaker");
    cJSON_AddStringToObject(pol, "ResourceId", resource);
    cJSON_AddStringToObject(pol, "ScalableDimension", "sagemaker:variant:DesiredInstanceCount");
    cJSON_AddStringToObject(pol, "PolicyType", "TargetTrackingScaling");
    cJSON *tt = add_obj(pol, "TargetTrackingScalingPolicyConfiguration");
    cJSON_AddNumberToObject(tt, "TargetValue", p->target_per_min);
    cJSON_AddStringToObject(add_obj(tt, "PredefinedMetricSpecification"), "PredefinedMetricType",
                            "SageMakerVariantInvocationsPerInstance");
    cJSON_AddNumberToObject(tt, "ScaleInCooldown", (double)(long)p->scale_in_cooldown_s);
    cJSON_AddNumberToObject(tt, "ScaleOutCooldown", (double)(long)p->scale_out_cooldown_s);
    return write_tree(o, "sagemaker-scaling-policy.json", pol, false, res, err);
}

/* ---- SAM --------------------------------------------------------------------------------------
 */

int pkg_build_sam(const platform_spec *s, const package_plan *p, const package_opts *o,
                  package_result *res, fm_err *err)
{
    bool image = o->image && *o->image;
    int rc = 0;
    if (!image && (rc = pkg_build_zip(s, p, o, res, err)))
        return rc;
    char zipname[PLATFORM_NAME_MAX + 8];
    snprintf(zipname, sizeof zipname, "%s.zip", p->name);
    char logical[PLATFORM_NAME_MAX + 16] = "Fn"; /* CloudFormation ids are alphanumeric */
    size_t li = 2;
    for (size_t i = 0; p->name[i] && li < sizeof logical - 1; i++)
        if ((p->name[i] >= 'a' && p->name[i] <= 'z') || (p->name[i] >= 'A' && p->name[i] <= 'Z') ||
            (p->name[i] >= '0' && p->name[i] <= '9'))
            logical[li++] = p->name[i];
    logical[li] = '\0';

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "AWSTemplateFormatVersion", "2010-09-09");
    cJSON_AddStringToObject(root, "Transform", "AWS::Serverless-2016-10-31");
    char desc[160];
    snprintf(desc, sizeof desc, "faasml function '%s' (faasml package --format sam)", p->name);
    cJSON_AddStringToObject(root, "Description", desc);
    cJSON *fn = add_obj(add_obj(root, "Resources"), logical);
    cJSON_AddStringToObject(fn, "Type", "AWS::Serverless::Function");
    cJSON *pr = add_obj(fn, "Properties");
    cJSON_AddStringToObject(pr, "FunctionName", p->name);
    if (image) {
        cJSON_AddStringToObject(pr, "PackageType", "Image");
        cJSON_AddStringToObject(pr, "ImageUri", o->image);
    } else {
        cJSON_AddStringToObject(pr, "PackageType", "Zip");
        cJSON_AddStringToObject(pr, "CodeUri", zipname);
        cJSON_AddStringToObject(pr, "Runtime", "provided.al2023");
        cJSON_AddStringToObject(pr, "Handler", p->model_file[0] ? p->model_file : s->model);
    }
    cJSON *arch = cJSON_AddArrayToObject(pr, "Architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("x86_64"));
    cJSON_AddNumberToObject(pr, "MemorySize", p->memory_mb);
    cJSON_AddNumberToObject(pr, "Timeout", ceil_s(p->timeout_s));
    if (p->reserved >= 0)
        cJSON_AddNumberToObject(pr, "ReservedConcurrentExecutions", p->reserved);
    if (p->provisioned > 0) {
        /* Provisioned concurrency is set on a version or alias, never on $LATEST. */
        cJSON_AddStringToObject(pr, "AutoPublishAlias", "live");
        cJSON_AddNumberToObject(add_obj(pr, "ProvisionedConcurrencyConfig"),
                                "ProvisionedConcurrentExecutions", p->provisioned);
    }
    /* The zip's launcher passes --model itself; an image carries FAASML_MODEL in its config. */
    cJSON *vars = pkg_env_list(s, p, "/var/task", false, false);
    if (vars && vars->child)
        cJSON_AddItemToObject(add_obj(pr, "Environment"), "Variables", vars);
    else
        cJSON_Delete(vars);
    if ((rc = write_tree(o, "template.yaml", root, true, res, err)))
        return rc;
    /* The template is what `sam deploy` reads: list it first. */
    if (res->nfiles > 1) {
        char first[1024];
        memcpy(first, res->files[res->nfiles - 1], sizeof first);
        memmove(res->files[1], res->files[0], sizeof res->files[0] * (size_t)(res->nfiles - 1));
        memcpy(res->files[0], first, sizeof first);
    }
    return 0;
}
