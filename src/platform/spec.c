/* Function specs: one validation path for the YAML form (faasml deploy) and the JSON form (admin
 * API). Both fill a platform_spec field by field through the same key table, then validate(). */
#include "platform.h"
#include "spec_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <libgen.h>
#include <math.h>
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

static const char *const spec_keys[] = {
    "name", "runtime", "bootstrap", "args", "handler", "code_dir", "model", "memory_mb",
    "timeout_s", "environment", "reserved_concurrency", "provisioned_concurrency", "keep_alive",
    "keep_alive_s", "profile", "platform", "policy", "batch", "cold_start", PLAT_SPEC_SB_KEYS,
    NULL};

static const char *const profiles[] = {"lambda", "gcf", "managed", "server", NULL};

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

/* Why: both input forms end here, so the admin API cannot accept what `deploy` would refuse. */
static int validate(const platform_spec *s, const char *where, fm_err *err)
{
    if (!name_ok(s->name))
        return fm_err_set(err, FM_EINVAL,
                          "%s: function name '%s' must be 1-64 characters of [A-Za-z0-9_-]", where,
                          s->name);
    if (s->memory_mb < 128 || s->memory_mb > 10240)
        return fm_err_set(err, FM_ERANGE, "%s: memory_mb %d is outside 128-10240", where,
                          s->memory_mb);
    if (!(s->timeout_s >= 0.001 && s->timeout_s <= 900))
        return fm_err_set(err, FM_ERANGE, "%s: timeout_s must be in (0, 900]", where);
    if (s->runtime == PLATFORM_RUNTIME_CUSTOM && !s->bootstrap)
        return fm_err_set(err, FM_EINVAL, "%s: runtime 'custom' needs 'bootstrap'", where);
    if (s->runtime == PLATFORM_RUNTIME_ONNX && !s->model)
        return fm_err_set(err, FM_EINVAL, "%s: runtime 'builtin-onnx' needs 'model'", where);
    if (s->reserved_concurrency < -1 || s->reserved_concurrency > 100000)
        return fm_err_set(err, FM_ERANGE, "%s: reserved_concurrency out of range", where);
    if (s->provisioned_concurrency < 0 || s->provisioned_concurrency > 1000)
        return fm_err_set(err, FM_ERANGE, "%s: provisioned_concurrency out of range", where);
    if (s->reserved_concurrency >= 0 && s->provisioned_concurrency > s->reserved_concurrency)
        return fm_err_set(err, FM_EINVAL,
                          "%s: provisioned_concurrency %d exceeds reserved_concurrency %d", where,
                          s->provisioned_concurrency, s->reserved_concurrency);
    if (s->keep_alive_s != -1 && !(s->keep_alive_s >= 0 && s->keep_alive_s <= 86400))
        return fm_err_set(err, FM_ERANGE, "%s: keep_alive must be within 0-24h", where);
    bool known = false;
    for (int i = 0; profiles[i]; i++)
        known |= strcmp(profiles[i], s->profile) == 0;
    if (!known)
        return fm_err_set(err, FM_EINVAL,
                          "%s: unknown profile '%s' (lambda, gcf, managed, server)", where,
                          s->profile);
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

/* Replaces an owned string. */
static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : FM_ENOMEM;
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

/* runtime: custom (also Lambda's "provided") or builtin-onnx. */
static int set_runtime(platform_spec *s, const char *v)
{
    if (strcmp(v, "custom") == 0 || strcmp(v, "provided") == 0)
        s->runtime = PLATFORM_RUNTIME_CUSTOM;
    else if (strcmp(v, "builtin-onnx") == 0)
        s->runtime = PLATFORM_RUNTIME_ONNX;
    else
        return FM_EINVAL;
    return 0;
}

/* ---- YAML ----------------------------------------------------------------------------------- */

int platform_spec_parse_yaml(const char *buf, size_t len, const char *name, const char *base_dir,
                             platform_spec *out, fm_err *err)
{
    platform_spec_init(out);
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    if (rc)
        return rc;
    const fm_ynode *root = fm_yaml_root(y);
    const char *str = NULL;
    int64_t iv;
    double dv;
    if (!root) {
        rc = fm_err_set(err, FM_EPARSE, "%s: empty spec", name);
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, spec_keys, err)))
        goto out;
    if ((rc = fm_yaml_get_str(y, root, "name", true, &str, err)))
        goto out;
    snprintf(out->name, sizeof out->name, "%s", str);
    if (strlen(str) > PLATFORM_NAME_MAX) {
        rc = fm_yaml_error(y, fm_ynode_get(root, "name"), err, FM_EINVAL,
                           "function name is longer than 64 characters");
        goto out;
    }
    str = "custom";
    if ((rc = fm_yaml_get_str(y, root, "runtime", false, &str, err)))
        goto out;
    if (set_runtime(out, str)) {
        rc = fm_yaml_error(y, fm_ynode_get(root, "runtime"), err, FM_EINVAL,
                           "unknown runtime '%s' (custom, builtin-onnx)", str);
        goto out;
    }
    static const char *const path_keys[] = {"bootstrap", "model", "code_dir"};
    char **path_dst[] = {&out->bootstrap, &out->model, &out->code_dir};
    for (size_t i = 0; i < FM_ARRAY_LEN(path_keys); i++) {
        str = NULL;
        if ((rc = fm_yaml_get_str(y, root, path_keys[i], false, &str, err)))
            goto out;
        if (str && !(*path_dst[i] = resolve(base_dir, str))) {
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
            goto out;
        }
    }
    str = NULL;
    if ((rc = fm_yaml_get_str(y, root, "handler", false, &str, err)))
        goto out;
    if (str && (rc = set_str(&out->handler, str)))
        goto out;
    const fm_ynode *args = fm_ynode_get(root, "args");
    if (args) {
        if (fm_ynode_kind_of(args) != FM_YAML_SEQ || fm_ynode_len(args) > PLATFORM_MAX_ARGS) {
            rc = fm_yaml_error(y, args, err, FM_EINVAL, "'args' must be a list of at most %d",
                               PLATFORM_MAX_ARGS);
            goto out;
        }
        for (size_t i = 0; i < fm_ynode_len(args); i++) {
            const char *a = fm_ynode_str(fm_ynode_item(args, i));
            if (!a) {
                rc = fm_yaml_error(y, fm_ynode_item(args, i), err, FM_EINVAL,
                                   "'args' items must be strings");
                goto out;
            }
            if (!(out->args[out->nargs++] = strdup(a))) {
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    iv = out->memory_mb;
    if ((rc = fm_yaml_get_int(y, root, "memory_mb", false, 128, 10240, &iv, err)))
        goto out;
    out->memory_mb = (int)iv;
    if ((rc = fm_yaml_get_double(y, root, "timeout_s", false, 0.001, 900, &out->timeout_s, err)))
        goto out;
    iv = -1;
    if ((rc = fm_yaml_get_int(y, root, "reserved_concurrency", false, 0, 100000, &iv, err)))
        goto out;
    out->reserved_concurrency = (int)iv;
    iv = 0;
    if ((rc = fm_yaml_get_int(y, root, "provisioned_concurrency", false, 0, 1000, &iv, err)))
        goto out;
    out->provisioned_concurrency = (int)iv;
    str = NULL;
    if ((rc = fm_yaml_get_str(y, root, "keep_alive", false, &str, err)))
        goto out;
    if (str) {
        int64_t ns;
        if (fm_parse_duration_ns(str, &ns) || ns < 0) {
            rc = fm_yaml_error(y, fm_ynode_get(root, "keep_alive"), err, FM_EINVAL,
                               "invalid duration '%s' (e.g. 10m, 30s, 500ms)", str);
            goto out;
        }
        out->keep_alive_s = (double)ns / 1e9;
    }
    dv = out->keep_alive_s;
    if ((rc = fm_yaml_get_double(y, root, "keep_alive_s", false, 0, 86400, &dv, err)))
        goto out;
    out->keep_alive_s = dv;
    str = "lambda";
    if ((rc = fm_yaml_get_str(y, root, "profile", false, &str, err)))
        goto out;
    snprintf(out->profile, sizeof out->profile, "%s", str);
    if ((rc = plat_spec_ext_yaml(y, root, out, err)) || (rc = plat_spec_sb_yaml(y, root, out, err)))
        goto out;
    const fm_ynode *env = fm_ynode_get(root, "environment");
    if (env) {
        if (fm_ynode_kind_of(env) != FM_YAML_MAP || fm_ynode_len(env) > PLATFORM_MAX_ENV) {
            rc = fm_yaml_error(y, env, err, FM_EINVAL,
                               "'environment' must be a mapping of at most %d variables",
                               PLATFORM_MAX_ENV);
            goto out;
        }
        for (size_t i = 0; i < fm_ynode_len(env); i++) {
            const char *k = fm_ynode_str(fm_ynode_key(env, i));
            const char *v = fm_ynode_str(fm_ynode_value(env, i));
            if (!k || !v) {
                rc = fm_yaml_error(y, fm_ynode_value(env, i), err, FM_EINVAL,
                                   "environment values must be strings");
                goto out;
            }
            out->env_keys[out->nenv] = strdup(k);
            out->env_vals[out->nenv] = strdup(v);
            if (!out->env_keys[out->nenv++] || !out->env_vals[out->nenv - 1]) {
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
    if (!out->code_dir && base_dir && !(out->code_dir = strdup(base_dir))) {
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
        goto out;
    }
    rc = validate(out, name, err);
out:
    fm_yaml_free(y);
    if (rc)
        platform_spec_release(out);
    return rc;
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

/* ---- JSON ----------------------------------------------------------------------------------- */

static int json_err(fm_err *err, const char *key, const char *what)
{
    return fm_err_set(err, FM_EINVAL, "spec: '%s' %s", key, what);
}

/* Why: JSON numbers arrive as doubles; an integer field must hold an integer in range, or the
 * spec is refused rather than silently truncated. */
static int json_int(const cJSON *v, const char *key, int min, int max, int *out, fm_err *err)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max) {
        char what[80];
        snprintf(what, sizeof what, "must be an integer in %d-%d", min, max);
        return json_err(err, key, what);
    }
    *out = (int)v->valuedouble;
    return 0;
}

/* The admin API's form: same keys, absolute paths, strict types. */
int platform_spec_parse_json(const char *buf, size_t len, platform_spec *out, fm_err *err)
{
    platform_spec_init(out);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    int rc = 0;
    if (!root)
        return fm_err_set(err, FM_EPARSE, "spec: invalid JSON");
    if (!cJSON_IsObject(root)) {
        rc = fm_err_set(err, FM_EPARSE, "spec: expected a JSON object");
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *k = it->string;
        bool known = false;
        for (int i = 0; spec_keys[i] && !known; i++)
            known = strcmp(spec_keys[i], k) == 0;
        if (!known) {
            rc = fm_err_set(err, FM_EINVAL, "spec: unknown key '%s'", k);
            goto out;
        }
        if (cJSON_IsNull(it))
            continue;
        int erc = plat_spec_ext_json(it, out, err);
        if (erc == 0)
            erc = plat_spec_sb_json(it, out, err);
        if (erc < 0) {
            rc = erc;
            goto out;
        }
        if (erc > 0)
            continue; /* one of the profile keys (spec_profile.c) */
        bool is_str = cJSON_IsString(it);
        const char *sv = is_str ? it->valuestring : NULL;
        if (strcmp(k, "name") == 0) {
            if (!is_str || strlen(sv) > PLATFORM_NAME_MAX) {
                rc = json_err(err, k, "must be a string of at most 64 characters");
                goto out;
            }
            snprintf(out->name, sizeof out->name, "%s", sv);
        } else if (strcmp(k, "runtime") == 0) {
            if (!is_str || set_runtime(out, sv)) {
                rc = json_err(err, k, "must be 'custom' or 'builtin-onnx'");
                goto out;
            }
        } else if (!strcmp(k, "bootstrap") || !strcmp(k, "code_dir") || !strcmp(k, "model")) {
            if (!is_str || (sv[0] != '/' && !(k[0] == 'm' && has_scheme(sv)))) {
                rc = json_err(err, k, "must be an absolute path (a model may also be a URL)");
                goto out;
            }
            char **dst = k[0] == 'b' ? &out->bootstrap : k[0] == 'c' ? &out->code_dir : &out->model;
            if ((rc = set_str(dst, sv)))
                goto out;
        } else if (strcmp(k, "handler") == 0 || strcmp(k, "profile") == 0) {
            if (!is_str) {
                rc = json_err(err, k, "must be a string");
                goto out;
            }
            if (k[0] == 'h') {
                if ((rc = set_str(&out->handler, sv)))
                    goto out;
            } else {
                if (strlen(sv) >= sizeof out->profile) {
                    rc = json_err(err, k, "is not a known profile");
                    goto out;
                }
                snprintf(out->profile, sizeof out->profile, "%s", sv);
            }
        } else if (strcmp(k, "args") == 0) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > PLATFORM_MAX_ARGS) {
                rc = json_err(err, k, "must be an array of at most 32 strings");
                goto out;
            }
            for (const cJSON *a = it->child; a; a = a->next) {
                if (!cJSON_IsString(a)) {
                    rc = json_err(err, k, "must hold strings");
                    goto out;
                }
                if (!(out->args[out->nargs++] = strdup(a->valuestring))) {
                    rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                    goto out;
                }
            }
        } else if (strcmp(k, "environment") == 0) {
            if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) > PLATFORM_MAX_ENV) {
                rc = json_err(err, k, "must be an object of at most 64 strings");
                goto out;
            }
            for (const cJSON *e = it->child; e; e = e->next) {
                if (!cJSON_IsString(e)) {
                    rc = json_err(err, k, "values must be strings");
                    goto out;
                }
                out->env_keys[out->nenv] = strdup(e->string);
                out->env_vals[out->nenv] = strdup(e->valuestring);
                if (!out->env_keys[out->nenv++] || !out->env_vals[out->nenv - 1]) {
                    rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                    goto out;
                }
            }
        } else if (strcmp(k, "memory_mb") == 0) {
            if ((rc = json_int(it, k, 128, 10240, &out->memory_mb, err)))
                goto out;
        } else if (strcmp(k, "reserved_concurrency") == 0) {
            if ((rc = json_int(it, k, 0, 100000, &out->reserved_concurrency, err)))
                goto out;
        } else if (strcmp(k, "provisioned_concurrency") == 0) {
            if ((rc = json_int(it, k, 0, 1000, &out->provisioned_concurrency, err)))
                goto out;
        } else if (strcmp(k, "timeout_s") == 0 || strcmp(k, "keep_alive_s") == 0) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
                rc = json_err(err, k, "must be a number");
                goto out;
            }
            *(k[0] == 't' ? &out->timeout_s : &out->keep_alive_s) = it->valuedouble;
        } else if (strcmp(k, "keep_alive") == 0) {
            int64_t ns;
            if (!is_str || fm_parse_duration_ns(sv, &ns) || ns < 0) {
                rc = json_err(err, k, "must be a duration such as '10m'");
                goto out;
            }
            out->keep_alive_s = (double)ns / 1e9;
        }
    }
    rc = validate(out, "spec", err);
out:
    cJSON_Delete(root);
    if (rc)
        platform_spec_release(out);
    return rc;
}

/* What `deploy` sends and the admin API returns; parse_json reads it back. */
char *platform_spec_to_json(const platform_spec *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "runtime",
                            s->runtime == PLATFORM_RUNTIME_ONNX ? "builtin-onnx" : "custom");
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
