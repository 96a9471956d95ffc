/* Function specs: one key table and one loader for the YAML form (faasml deploy) and the JSON
 * form (admin API; JSON is YAML), then validate() for what spans several keys. */
#include "platform.h"
#include "spec_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Variables a user may not set: Lambda reserves them (cloud-platforms.md section 1). */
static const char *const reserved_env[] = {"_HANDLER",
                                           "_X_AMZN_TRACE_ID",
                                           "AWS_REGION",
                                           "AWS_EXECUTION_ENV",
                                           "AWS_LAMBDA_FUNCTION_NAME",
                                           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                           "AWS_LAMBDA_FUNCTION_VERSION",
                                           "AWS_LAMBDA_INITIALIZATION_TYPE",
                                           "AWS_LAMBDA_LOG_GROUP_NAME",
                                           "AWS_LAMBDA_LOG_STREAM_NAME",
                                           "AWS_ACCESS_KEY",
                                           "AWS_ACCESS_KEY_ID",
                                           "AWS_SECRET_ACCESS_KEY",
                                           "AWS_SESSION_TOKEN",
                                           "AWS_LAMBDA_RUNTIME_API",
                                           "LAMBDA_TASK_ROOT",
                                           "LAMBDA_RUNTIME_DIR",
                                           NULL};

/* Why: specs are built field by field from untrusted input; starting from Lambda's defaults
 * keeps every optional field meaningful. */
void platform_spec_init(platform_spec *s)
{
    memset(s, 0, sizeof *s);
    s->memory_mb = 128;
    s->timeout_s = 3;
    s->reserved_concurrency = -1;
    s->keep_alive_s = -1;
    strcpy(s->profile, "lambda");
    strcpy(s->cold_start, "exec");
    strcpy(s->precision, "fp32");
}

/* Frees the spec's strings and resets it to the defaults. */
void platform_spec_release(platform_spec *s)
{
    if (!s)
        return;
    free(s->bootstrap);
    free(s->handler);
    free(s->code_dir);
    free(s->model);
    free(s->image);
    for (int i = 0; i < s->nargs; i++)
        free(s->args[i]);
    for (int i = 0; i < s->nenv; i++) {
        free(s->env_keys[i]);
        free(s->env_vals[i]);
    }
    free(s->policy);
    platform_spec_init(s);
}

/* Why: Lambda names are 1-64 of [A-Za-z0-9_-]; the name also appears in URLs, cgroup paths and
 * metric labels, so nothing else may pass. */
static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > PLATFORM_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
            return false;
    return true;
}

/* Environment names must be identifiers and not one of Lambda's reserved names. */
static bool env_key_ok(const char *k)
{
    if (!isalpha((unsigned char)k[0]) && k[0] != '_')
        return false;
    for (const char *c = k; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return false;
    for (int i = 0; reserved_env[i]; i++)
        if (strcmp(reserved_env[i], k) == 0)
            return false;
    return true;
}

/* Why: both input forms end here, so the admin API cannot accept what `deploy` would refuse. The
 * key table has checked each value's type and range; what remains spans several keys. */
static int validate(const platform_spec *s, const char *where, fm_err *err)
{
    if (!name_ok(s->name))
        return fm_err_set(err, FM_EINVAL,
                          "%s: function name '%s' must be 1-64 characters of [A-Za-z0-9_-]", where,
                          s->name);
    if (s->runtime == PLATFORM_RUNTIME_CUSTOM && !s->bootstrap)
        return fm_err_set(err, FM_EINVAL, "%s: runtime 'custom' needs 'bootstrap'", where);
    if (s->runtime == PLATFORM_RUNTIME_ONNX && !s->model)
        return fm_err_set(err, FM_EINVAL, "%s: runtime 'builtin-onnx' needs 'model'", where);
    if (s->runtime == PLATFORM_RUNTIME_IMAGE && !s->image)
        return fm_err_set(err, FM_EINVAL, "%s: runtime 'image' needs 'image'", where);
    if (s->runtime != PLATFORM_RUNTIME_IMAGE && s->image)
        return fm_err_set(err, FM_EINVAL, "%s: 'image' needs runtime 'image'", where);
    if (s->runtime == PLATFORM_RUNTIME_IMAGE && s->isolation == PLATFORM_ISOLATION_SANDBOX)
        return fm_err_set(err, FM_EINVAL,
                          "%s: runtime 'image' runs in its own container: isolation 'sandbox' "
                          "does not apply",
                          where);
    if (s->runtime == PLATFORM_RUNTIME_IMAGE && (s->bootstrap || s->model))
        return fm_err_set(err, FM_EINVAL,
                          "%s: runtime 'image' takes no '%s' (the image's entrypoint is the "
                          "runtime, its files are its own)",
                          where, s->bootstrap ? "bootstrap" : "model");
    if (s->reserved_concurrency >= 0 && s->provisioned_concurrency > s->reserved_concurrency)
        return fm_err_set(err, FM_EINVAL,
                          "%s: provisioned_concurrency %d exceeds reserved_concurrency %d", where,
                          s->provisioned_concurrency, s->reserved_concurrency);
    int erc = plat_spec_ext_validate(s, where, err);
    if (erc)
        return erc;
    size_t env_bytes = 0;
    for (int i = 0; i < s->nenv; i++) {
        if (!env_key_ok(s->env_keys[i]))
            return fm_err_set(err, FM_EINVAL,
                              "%s: environment variable '%s' is reserved or not a valid name",
                              where, s->env_keys[i]);
        env_bytes += strlen(s->env_keys[i]) + strlen(s->env_vals[i]);
    }
    if (env_bytes > PLATFORM_ENV_BYTES)
        return fm_err_set(err, FM_ELIMIT, "%s: environment exceeds 4 KB", where);
    return 0;
}

/* A model may be a URL or a built-in handler ("https://...", "file://...", "builtin:identity"):
 * a scheme of letters before ':' and no '/' before it. */
static bool has_scheme(const char *p)
{
    const char *c = p;
    while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))
        c++;
    return c > p + 1 && *c == ':';
}

/* Why: the YAML form may give paths relative to the spec file; the server never sees the
 * client's working directory, so paths are made absolute before they travel. */
static char *resolve(const char *base, const char *p)
{
    if (!p)
        return NULL;
    if (p[0] == '/' || !base || !*base || has_scheme(p))
        return strdup(p);
    size_t n = strlen(base) + strlen(p) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", base, p);
    return r;
}

/* The spec's runtime names, indexed by platform_runtime. */
static const char *const runtime_names[] = {"custom", "builtin-onnx", "image", NULL};
_Static_assert(FM_ARRAY_LEN(runtime_names) == PLATFORM_RUNTIME__COUNT + 1,
               "one name per platform_runtime");

const char *platform_runtime_name(platform_runtime r)
{
    return (unsigned)r < PLATFORM_RUNTIME__COUNT ? runtime_names[r] : "?";
}

/* runtime: custom (also Lambda's "provided"), builtin-onnx or image. */
static int set_runtime(platform_spec *s, const char *v)
{
    if (strcmp(v, "provided") == 0)
        v = "custom";
    for (int r = 0; r < PLATFORM_RUNTIME__COUNT; r++)
        if (strcmp(v, runtime_names[r]) == 0) {
            s->runtime = (platform_runtime)r;
            return 0;
        }
    return FM_EINVAL;
}

/* ---- the key table -------------------------------------------------------------------------
 * Every key of a function spec, in both forms: YAML files (`faasml deploy`, paths relative to the
 * file) and JSON (the admin API, paths absolute). docs/platform.md's table is checked against it
 * (tests/unit/test_platform_spec.c). */

typedef struct spec_ctx {
    const char *base_dir; /* YAML: relative paths resolve against it; NULL: JSON form */
} spec_ctx;

/* runtime: custom (also Lambda's "provided"), builtin-onnx or image. */
static int parse_runtime(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                         fm_err *err)
{
    const char *v = fm_ynode_str(n);
    if (!v || set_runtime(obj, v))
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "unknown runtime '%s' (custom, builtin-onnx, image)",
                             v ? v : "(not a scalar)");
    return 0;
}

/* bootstrap, model, code_dir: made absolute before they travel (the server never sees the
 * client's working directory); the JSON form must already be absolute. */
static int parse_path(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                      fm_err *err)
{
    const spec_ctx *c = ctx;
    const char *v = fm_ynode_str(n);
    bool model = strcmp(k->name, "model") == 0;
    if (!v || !*v)
        return fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be a path", k->name);
    if (!c->base_dir && v[0] != '/' && !(model && has_scheme(v)))
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "'%s' must be an absolute path (a model may also be a URL)", k->name);
    char **dst = (char **)((char *)obj + k->off);
    free(*dst);
    if (!(*dst = resolve(c->base_dir, v)))
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    return 0;
}

/* image: a container image reference as podman takes it, checked here because it becomes an
 * argument of podman's command line: [HOST[:PORT]/]PATH[:TAG][@DIGEST], no leading '-'. */
static int parse_image(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                       fm_err *err)
{
    platform_spec *s = obj;
    const char *v = fm_ynode_str(n);
    if (!v || !*v)
        return fm_yaml_error(y, n, err, FM_EINVAL, "'image' must be an image reference");
    if (!platform_image_ref_ok(v))
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "image '%s' is not an image reference (NAME[:TAG] or NAME@DIGEST of "
                             "[a-z0-9._/:@-], at most 255 characters)",
                             v);
    free(s->image);
    return (s->image = strdup(v)) ? 0 : fm_err_set(err, FM_ENOMEM, "out of memory");
}

static int parse_args(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                      fm_err *err)
{
    platform_spec *s = obj;
    if (fm_ynode_kind_of(n) != FM_YAML_SEQ || fm_ynode_len(n) > PLATFORM_MAX_ARGS)
        return fm_yaml_error(y, n, err, FM_EINVAL, "'args' must be a list of at most %d strings",
                             PLATFORM_MAX_ARGS);
    for (size_t i = 0; i < fm_ynode_len(n); i++) {
        const char *a = fm_ynode_str(fm_ynode_item(n, i));
        if (!a)
            return fm_yaml_error(y, fm_ynode_item(n, i), err, FM_EINVAL,
                                 "'args' items must be strings");
        if (!(s->args[s->nargs++] = strdup(a)))
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
}

static int parse_env(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                     fm_err *err)
{
    platform_spec *s = obj;
    if (fm_ynode_kind_of(n) != FM_YAML_MAP || fm_ynode_len(n) > PLATFORM_MAX_ENV)
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "'environment' must be a mapping of at most %d variables",
                             PLATFORM_MAX_ENV);
    for (size_t i = 0; i < fm_ynode_len(n); i++) {
        const char *key = fm_ynode_str(fm_ynode_key(n, i));
        const char *v = fm_ynode_str(fm_ynode_value(n, i));
        if (!key || !v)
            return fm_yaml_error(y, fm_ynode_value(n, i), err, FM_EINVAL,
                                 "environment values must be strings");
        s->env_keys[s->nenv] = strdup(key);
        s->env_vals[s->nenv] = strdup(v);
        if (!s->env_keys[s->nenv++] || !s->env_vals[s->nenv - 1])
            return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    return 0;
}

#define F(field) offsetof(platform_spec, field)
static const char *const profiles[] = {"lambda", "gcf", "managed", "server", NULL};
static const char *const cold_starts[] = {"exec", "zygote", NULL};
static const char *const precisions[] = {"fp32", "bf16", "int8", NULL};
static const fm_key batch_keys[] = {
    {.name = "max_size",
     .type = FM_KEY_INT,
     .off = F(batch_max_size),
     .min = 1,
     .max = 4096,
     .required = true,
     .doc = "largest batch the platform merges"},
    {.name = "max_delay_ms",
     .type = FM_KEY_DOUBLE,
     .off = F(batch_max_delay_ms),
     .min = 0,
     .max = 60000,
     .doc = "release a partial batch after this wait (ms)"},
};
static const fm_key spec_keys[] = {
    {.name = "name",
     .type = FM_KEY_STRBUF,
     .off = F(name),
     .cap = PLATFORM_NAME_MAX + 1,
     .required = true,
     .doc = "1-64 characters of [A-Za-z0-9_-]"},
    {.name = "runtime",
     .type = FM_KEY_CUSTOM,
     .type_doc = "`custom` \\| `builtin-onnx` \\| `image`",
     .parse = parse_runtime,
     .doc = "default `custom`; `provided` means `custom`"},
    {.name = "bootstrap",
     .type = FM_KEY_CUSTOM,
     .type_doc = "path",
     .off = F(bootstrap),
     .parse = parse_path,
     .doc = "custom: the executable that speaks the Runtime API"},
    {.name = "args",
     .type = FM_KEY_CUSTOM,
     .type_doc = "list of strings",
     .parse = parse_args,
     .doc = "extra arguments for bootstrap (at most 32)"},
    {.name = "handler", .type = FM_KEY_STRDUP, .off = F(handler), .doc = "_HANDLER"},
    {.name = "code_dir",
     .type = FM_KEY_CUSTOM,
     .type_doc = "path",
     .off = F(code_dir),
     .parse = parse_path,
     .doc = "LAMBDA_TASK_ROOT and working directory (default: the spec's directory)"},
    {.name = "model",
     .type = FM_KEY_CUSTOM,
     .type_doc = "path or URL",
     .off = F(model),
     .parse = parse_path,
     .doc = "builtin-onnx: an .onnx path, a URL or builtin:NAME"},
    {.name = "image",
     .type = FM_KEY_CUSTOM,
     .type_doc = "NAME[:TAG]",
     .parse = parse_image,
     .doc = "image: a Lambda container image, run with podman (docs/deploy.md)"},
    {.name = "memory_mb",
     .type = FM_KEY_INT,
     .off = F(memory_mb),
     .min = 128,
     .max = 10240,
     .doc = "memory limit; CPU share = memory / 1769 MB"},
    {.name = "timeout_s",
     .type = FM_KEY_DOUBLE,
     .off = F(timeout_s),
     .min = 0.001,
     .max = 900,
     .doc = "invocation timeout, init included (default 3)"},
    {.name = "environment",
     .type = FM_KEY_CUSTOM,
     .type_doc = "mapping of strings",
     .parse = parse_env,
     .doc = "variables (at most 4 KB; Lambda's reserved names refused)"},
    {.name = "reserved_concurrency",
     .type = FM_KEY_INT,
     .off = F(reserved_concurrency),
     .min = 0,
     .max = 100000,
     .doc = "concurrency reserved for (and capping) this function"},
    {.name = "provisioned_concurrency",
     .type = FM_KEY_INT,
     .off = F(provisioned_concurrency),
     .min = 0,
     .max = 1000,
     .doc = "instances kept initialised"},
    {.name = "keep_alive",
     .type = FM_KEY_SECONDS,
     .off = F(keep_alive_s),
     .min = 0,
     .max = 86400,
     .doc = "idle TTL before scale-to-zero (default: the platform's, 10m)"},
    {.name = "keep_alive_s",
     .type = FM_KEY_DOUBLE,
     .off = F(keep_alive_s),
     .min = 0,
     .max = 86400,
     .doc = "the same in seconds"},
    {.name = "profile",
     .type = FM_KEY_STRBUF,
     .off = F(profile),
     .cap = sizeof(((platform_spec *)0)->profile),
     .names = profiles,
     .doc = "platform profile (docs/policies.md)"},
    {.name = "platform",
     .type = FM_KEY_STRBUF,
     .off = F(platform),
     .cap = sizeof(((platform_spec *)0)->platform),
     .doc = "data/platforms.yaml entry the policy defaults come from"},
    {.name = "policy",
     .type = FM_KEY_CUSTOM,
     .type_doc = "mapping",
     .parse = plat_spec_parse_policy,
     .doc = "policy overrides, the keys of data/platforms.yaml"},
    {.name = "batch",
     .type = FM_KEY_TABLE,
     .sub = batch_keys,
     .nsub = FM_ARRAY_LEN(batch_keys),
     .doc = "builtin-onnx: dynamic batching"},
    {.name = "cold_start",
     .type = FM_KEY_STRBUF,
     .off = F(cold_start),
     .cap = sizeof(((platform_spec *)0)->cold_start),
     .names = cold_starts,
     .doc = "builtin-onnx: how an instance starts"},
    {.name = "precision",
     .type = FM_KEY_STRBUF,
     .off = F(precision),
     .cap = sizeof(((platform_spec *)0)->precision),
     .names = precisions,
     .doc = "builtin-onnx: arithmetic; int8 needs `model` to be a quantized file"},
    /* isolation (spec_sandbox.c, docs/security.md) */
    {.name = "isolation",
     .type = FM_KEY_CUSTOM,
     .type_doc = "`process` \\| `sandbox`",
     .parse = plat_spec_parse_isolation,
     .doc = "how instances are isolated (default: sandbox where the kernel allows)"},
    {.name = "network",
     .type = FM_KEY_CUSTOM,
     .type_doc = "`none` \\| `host`",
     .parse = plat_spec_parse_network,
     .doc = "sandbox: `none` (default, only lo) or the host's network"},
    {.name = "ephemeral_storage_mb",
     .type = FM_KEY_INT,
     .off = F(ephemeral_mb),
     .min = 512,
     .max = 10240,
     .doc = "sandbox: size of the tmpfs /tmp (default 512)"},
};
#undef F

size_t platform_spec_keys_markdown(char *buf, size_t cap)
{
    return fm_keys_markdown(spec_keys, FM_ARRAY_LEN(spec_keys), buf, cap);
}

/* Why: one reader for both forms, so the admin API and `deploy` cannot disagree on a key. */
static int parse_doc(const char *buf, size_t len, const char *name, const char *base_dir,
                     platform_spec *out, fm_err *err)
{
    platform_spec_init(out);
    bool json = base_dir == NULL;
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    if (rc) {
        if (json) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            fm_err_set(err, rc, "%s: invalid JSON (%s)", name, m);
        }
        return rc;
    }
    const fm_ynode *root = fm_yaml_root(y);
    spec_ctx ctx = {base_dir};
    if (!root)
        rc = fm_err_set(err, FM_EPARSE, "%s: empty spec", name);
    else if (json && fm_ynode_kind_of(root) != FM_YAML_MAP)
        rc = fm_err_set(err, FM_EPARSE, "%s: expected a JSON object", name);
    else
        rc = fm_keys_parse(spec_keys, FM_ARRAY_LEN(spec_keys), y, root, out, &ctx, err);
    if (!rc && !out->code_dir && base_dir && *base_dir && !(out->code_dir = strdup(base_dir)))
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!rc)
        rc = validate(out, name, err);
    fm_yaml_free(y);
    if (rc)
        platform_spec_release(out);
    return rc;
}

int platform_spec_parse_yaml(const char *buf, size_t len, const char *name, const char *base_dir,
                             platform_spec *out, fm_err *err)
{
    return parse_doc(buf, len, name, base_dir ? base_dir : "", out, err);
}

/* The admin API's form: the same keys, through the same loader (JSON is YAML); paths absolute. */
int platform_spec_parse_json(const char *buf, size_t len, platform_spec *out, fm_err *err)
{
    return parse_doc(buf, len, "spec", NULL, out, err);
}

/* Reads a spec file; its directory anchors relative paths. */
int platform_spec_load_yaml(const char *path, platform_spec *out, fm_err *err)
{
    char *buf;
    size_t len;
    platform_spec_init(out);
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    char *tmp = strdup(path), *abs = NULL;
    if (!tmp) {
        free(buf);
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    }
    char *dir = dirname(tmp);
    abs = realpath(dir, NULL);
    rc = platform_spec_parse_yaml(buf, len, path, abs ? abs : dir, out, err);
    free(abs);
    free(tmp);
    free(buf);
    return rc;
}

/* What `deploy` sends and the admin API returns; parse_json reads it back. */
char *platform_spec_to_json(const platform_spec *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "runtime", platform_runtime_name(s->runtime));
    if (s->bootstrap)
        cJSON_AddStringToObject(o, "bootstrap", s->bootstrap);
    if (s->nargs) {
        cJSON *a = cJSON_AddArrayToObject(o, "args");
        for (int i = 0; a && i < s->nargs; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(s->args[i]));
    }
    if (s->handler)
        cJSON_AddStringToObject(o, "handler", s->handler);
    if (s->code_dir)
        cJSON_AddStringToObject(o, "code_dir", s->code_dir);
    if (s->model)
        cJSON_AddStringToObject(o, "model", s->model);
    if (s->image)
        cJSON_AddStringToObject(o, "image", s->image);
    cJSON_AddNumberToObject(o, "memory_mb", s->memory_mb);
    cJSON_AddNumberToObject(o, "timeout_s", s->timeout_s);
    cJSON *env = cJSON_AddObjectToObject(o, "environment");
    for (int i = 0; env && i < s->nenv; i++)
        cJSON_AddStringToObject(env, s->env_keys[i], s->env_vals[i]);
    if (s->reserved_concurrency >= 0)
        cJSON_AddNumberToObject(o, "reserved_concurrency", s->reserved_concurrency);
    cJSON_AddNumberToObject(o, "provisioned_concurrency", s->provisioned_concurrency);
    if (s->keep_alive_s >= 0)
        cJSON_AddNumberToObject(o, "keep_alive_s", s->keep_alive_s);
    cJSON_AddStringToObject(o, "profile", s->profile);
    plat_spec_ext_to_json(s, o);
    plat_spec_sb_to_json(s, o);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}
