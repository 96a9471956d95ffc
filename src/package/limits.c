/* The engines' limits (data/engines.yaml): every number a package is checked against or rounded to
 * comes from the data file with its source, as the policy's numbers come from data/platforms.yaml.
 * One key table drives parsing; the file is untrusted input (fuzz/fuzz_package_limits.c). */
#include "package.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *sec, *key;
    size_t off;
    int64_t min, max;
} keys[] = {
    {"lambda", "unzipped_max_mb", offsetof(package_limits, lambda_unzipped_max_mb), 1, 1 << 20},
    {"lambda", "image_max_mb", offsetof(package_limits, lambda_image_max_mb), 1, 1 << 20},
    {"sagemaker", "serverless_memory_min_mb",
     offsetof(package_limits, sagemaker_serverless_memory_min_mb), 1, 1 << 20},
    {"sagemaker", "serverless_memory_max_mb",
     offsetof(package_limits, sagemaker_serverless_memory_max_mb), 1, 1 << 20},
    {"sagemaker", "serverless_memory_step_mb",
     offsetof(package_limits, sagemaker_serverless_memory_step_mb), 1, 1 << 20},
    {"sagemaker", "serverless_max_concurrency",
     offsetof(package_limits, sagemaker_serverless_max_concurrency), 1, 1 << 20},
    {"sagemaker", "response_timeout_s", offsetof(package_limits, sagemaker_response_timeout_s), 1,
     86400},
};

static const char *const root_keys[] = {"format", "lambda", "sagemaker", NULL};
static const char *const sourced_keys[] = {"value", "status", "date", "source", NULL};

/* The keys of one section, for fm_yaml_check_keys. */
static void section_keys(const char *sec, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < FM_ARRAY_LEN(keys) && n + 1 < cap; i++)
        if (strcmp(keys[i].sec, sec) == 0)
            out[n++] = keys[i].key;
    out[n] = NULL;
}

int package_limits_parse(const char *buf, size_t len, const char *name, package_limits *out,
                         fm_err *err)
{
    memset(out, 0, sizeof *out);
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    if (rc)
        return rc;
    const fm_ynode *root = fm_yaml_root(y);
    int64_t format = 0;
    if (!root || fm_ynode_kind_of(root) != FM_YAML_MAP) {
        rc = fm_err_set(err, FM_EPARSE, "%s: expected a mapping", name);
        goto out;
    }
    if ((rc = fm_yaml_check_keys(y, root, root_keys, err)) ||
        (rc = fm_yaml_get_int(y, root, "format", true, 1, 1, &format, err)))
        goto out;
    for (size_t i = 0; i < FM_ARRAY_LEN(keys); i++) {
        const fm_ynode *sec = fm_ynode_get(root, keys[i].sec);
        if (!sec || fm_ynode_kind_of(sec) != FM_YAML_MAP) {
            rc = fm_yaml_error(y, sec ? sec : root, err, FM_EINVAL, "'%s' must be a mapping",
                               keys[i].sec);
            goto out;
        }
        const char *allowed[FM_ARRAY_LEN(keys) + 1];
        section_keys(keys[i].sec, allowed, FM_ARRAY_LEN(allowed));
        if ((rc = fm_yaml_check_keys(y, sec, allowed, err)))
            goto out;
        const fm_ynode *v = fm_ynode_get(sec, keys[i].key);
        if (!v || fm_ynode_kind_of(v) != FM_YAML_MAP) {
            rc = fm_yaml_error(y, v ? v : sec, err, FM_EINVAL,
                               "'%s.%s' needs {value, status, date, source}", keys[i].sec,
                               keys[i].key);
            goto out;
        }
        int64_t n = 0;
        const char *s;
        if ((rc = fm_yaml_check_keys(y, v, sourced_keys, err)) ||
            (rc = fm_yaml_get_int(y, v, "value", true, keys[i].min, keys[i].max, &n, err)) ||
            (rc = fm_yaml_get_str(y, v, "status", true, &s, err)) ||
            (rc = fm_yaml_get_str(y, v, "date", true, &s, err)) ||
            (rc = fm_yaml_get_str(y, v, "source", true, &s, err)))
            goto out;
        *(int64_t *)((char *)out + keys[i].off) = n;
    }
    if (out->sagemaker_serverless_memory_min_mb > out->sagemaker_serverless_memory_max_mb)
        rc = fm_err_set(err, FM_EINVAL,
                        "%s: sagemaker.serverless_memory_min_mb exceeds serverless_memory_max_mb",
                        name);
out:
    fm_yaml_free(y);
    return rc;
}

int package_limits_load(const char *path, package_limits *out, fm_err *err)
{
    char found[4096];
    if (!path && !(path = fm_data_file("engines.yaml", found, sizeof found)))
        return fm_err_set(err, FM_ENOTFOUND,
                          "cannot find data/engines.yaml (set $FAASML_DATA to faasml's data/)");
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = package_limits_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}
