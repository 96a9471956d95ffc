/*
 * The function spec fields the host reads: model, threads, batch, precision, warm-up, task
 * directory, preprocess (images) and postprocess (top-k). Other top-level keys belong to the
 * platform.
 */
#include "fn/fn.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fn_spec_init(fn_spec *s)
{
    memset(s, 0, sizeof *s);
    s->threads = 1;
    s->max_batch = 1;
    s->warmup = true;
    s->pre.channels = 3;
    s->pre.scale = 1.0 / 255.0;
    s->pre.layout = FN_LAYOUT_NCHW;
    for (int c = 0; c < 3; c++) {
        s->pre.mean[c] = 0.0f;
        s->pre.std[c] = 1.0f;
    }
}

int fn_layout_parse(const char *s, fn_layout *out)
{
    if (strcasecmp(s, "NCHW") == 0)
        *out = FN_LAYOUT_NCHW;
    else if (strcasecmp(s, "NHWC") == 0)
        *out = FN_LAYOUT_NHWC;
    else
        return FM_EINVAL;
    return 0;
}

/* Why: --mean/--std flags take a comma list; one value stands for every channel. */
int fn_spec_parse_floats(const char *s, float *out, int n, fm_err *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    int k = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        double d;
        if (k == n || fm_parse_double(tok, &d))
            return fm_err_set(err, FM_EINVAL, "invalid list '%s' (want %d numbers)", s, n);
        out[k++] = (float)d;
    }
    if (k == 1)
        for (int i = 1; i < n; i++)
            out[i] = out[0];
    else if (k != n)
        return fm_err_set(err, FM_EINVAL, "invalid list '%s' (want 1 or %d numbers)", s, n);
    return 0;
}

/* Why: a relative path in a spec means relative to the spec file, wherever the host runs. */
static void resolve(char *dst, size_t cap, const char *dir, const char *path)
{
    if (!dir || !*dir || path[0] == '/' || strstr(path, "://") || strncmp(path, "builtin:", 8) == 0)
        snprintf(dst, cap, "%s", path);
    else
        snprintf(dst, cap, "%s/%s", dir, path);
}

/* Why: mean/std/size are a number or a list of numbers in YAML. */
static int get_floats(const fm_yaml *y, const fm_ynode *map, const char *key, float *out, int n,
                      fm_err *err)
{
    const fm_ynode *v = fm_ynode_get(map, key);
    if (!v)
        return 0;
    if (fm_ynode_kind_of(v) == FM_YAML_SCALAR) {
        double d;
        if (fm_parse_double(fm_ynode_str(v), &d))
            return fm_yaml_error(y, v, err, FM_EPARSE, "'%s' must be a number", key);
        for (int i = 0; i < n; i++)
            out[i] = (float)d;
        return 0;
    }
    if (fm_ynode_kind_of(v) != FM_YAML_SEQ ||
        (fm_ynode_len(v) != 1 && fm_ynode_len(v) != (size_t)n))
        return fm_yaml_error(y, v, err, FM_EPARSE, "'%s' must be a number or a list of %d", key, n);
    for (size_t i = 0; i < fm_ynode_len(v); i++) {
        const fm_ynode *it = fm_ynode_item(v, i);
        double d;
        if (!fm_ynode_str(it) || fm_parse_double(fm_ynode_str(it), &d))
            return fm_yaml_error(y, it, err, FM_EPARSE, "'%s' items must be numbers", key);
        out[i] = (float)d;
    }
    if (fm_ynode_len(v) == 1)
        for (int i = 1; i < n; i++)
            out[i] = out[0];
    return 0;
}

static int load_preprocess(const fm_yaml *y, const fm_ynode *m, fn_spec *s, fm_err *err)
{
    static const char *const keys[] = {"size", "channels", "mean", "std", "scale", "layout", NULL};
    int rc = fm_yaml_check_keys(y, m, keys, err);
    int64_t ch = s->pre.channels;
    const char *layout = NULL;
    float size[2] = {0, 0};
    rc = rc ? rc : fm_yaml_get_int(y, m, "channels", false, 1, 3, &ch, err);
    if (!rc && ch == 2)
        rc = fm_yaml_error(y, fm_ynode_get(m, "channels"), err, FM_ERANGE,
                           "'channels' must be 1 (grayscale) or 3 (RGB)");
    s->pre.channels = (int)ch;
    rc = rc ? rc : get_floats(y, m, "size", size, 2, err);
    rc = rc ? rc : get_floats(y, m, "mean", s->pre.mean, 3, err);
    rc = rc ? rc : get_floats(y, m, "std", s->pre.std, 3, err);
    rc = rc ? rc : fm_yaml_get_double(y, m, "scale", false, 0, 1e9, &s->pre.scale, err);
    rc = rc ? rc : fm_yaml_get_str(y, m, "layout", false, &layout, err);
    if (!rc && layout && fn_layout_parse(layout, &s->pre.layout))
        rc = fm_yaml_error(y, fm_ynode_get(m, "layout"), err, FM_EPARSE,
                           "'layout' must be NCHW or NHWC, not '%s'", layout);
    if (!rc && (size[0] < 0 || size[1] < 0 || size[0] > 16384 || size[1] > 16384 ||
                size[0] != (int)size[0] || size[1] != (int)size[1]))
        rc = fm_yaml_error(y, fm_ynode_get(m, "size"), err, FM_ERANGE,
                           "'size' must be whole numbers in [1, 16384]");
    for (int c = 0; c < 3 && !rc; c++)
        if (s->pre.std[c] == 0)
            rc = fm_yaml_error(y, fm_ynode_get(m, "std"), err, FM_ERANGE, "'std' must not be 0");
    s->pre.height = (int)size[0];
    s->pre.width = (int)size[1];
    s->pre.set = true;
    return rc;
}

static int load_postprocess(const fm_yaml *y, const fm_ynode *m, const char *dir, fn_spec *s,
                            fm_err *err)
{
    static const char *const keys[] = {"topk", "softmax", "output", "labels", NULL};
    int rc = fm_yaml_check_keys(y, m, keys, err);
    int64_t k = 0;
    const char *output = NULL, *labels = NULL;
    rc = rc ? rc : fm_yaml_get_int(y, m, "topk", false, 1, 1000, &k, err);
    rc = rc ? rc : fm_yaml_get_bool(y, m, "softmax", false, &s->post.softmax, err);
    rc = rc ? rc : fm_yaml_get_str(y, m, "output", false, &output, err);
    rc = rc ? rc : fm_yaml_get_str(y, m, "labels", false, &labels, err);
    s->post.topk = (int)k;
    if (output)
        snprintf(s->post.output, sizeof s->post.output, "%s", output);
    if (labels)
        resolve(s->post.labels, sizeof s->post.labels, dir, labels);
    return rc;
}

int fn_spec_load_buf(const char *buf, size_t len, const char *name, const char *dir, fn_spec *s,
                     fm_err *err)
{
    fm_yaml *y;
    int rc = fm_yaml_load_buf(buf, len, name, &y, err);
    if (rc)
        return rc;
    const fm_ynode *root = fm_yaml_root(y);
    if (!root || fm_ynode_kind_of(root) != FM_YAML_MAP) {
        rc = fm_yaml_error(y, root, err, FM_EPARSE, "a function spec must be a mapping");
        fm_yaml_free(y);
        return rc;
    }
    const char *str = NULL;
    int64_t v;
    rc = fm_yaml_get_str(y, root, "name", false, &str, err);
    if (!rc && str)
        snprintf(s->name, sizeof s->name, "%s", str);
    str = NULL;
    rc = rc ? rc : fm_yaml_get_str(y, root, "model", false, &str, err);
    if (!rc && str)
        resolve(s->model, sizeof s->model, dir, str);
    str = NULL;
    rc = rc ? rc : fm_yaml_get_str(y, root, "task_dir", false, &str, err);
    if (!rc && str)
        snprintf(s->task_dir, sizeof s->task_dir, "%s", str);
    v = s->threads;
    rc = rc ? rc : fm_yaml_get_int(y, root, "threads", false, 1, 256, &v, err);
    s->threads = (int)v;
    v = s->max_batch;
    rc = rc ? rc : fm_yaml_get_int(y, root, "max_batch", false, 1, 65536, &v, err);
    s->max_batch = (int)v;
    str = NULL;
    rc = rc ? rc : fm_yaml_get_str(y, root, "precision", false, &str, err);
    if (!rc && str && fn_precision_parse(str, &s->precision))
        rc = fm_yaml_error(y, fm_ynode_get(root, "precision"), err, FM_EPARSE,
                           "'precision' must be fp32, bf16 or int8, not '%s'", str);
    rc = rc ? rc : fm_yaml_get_bool(y, root, "warmup", false, &s->warmup, err);
    const fm_ynode *pre = fm_ynode_get(root, "preprocess");
    const fm_ynode *post = fm_ynode_get(root, "postprocess");
    if (!rc && pre)
        rc = load_preprocess(y, pre, s, err);
    if (!rc && post)
        rc = load_postprocess(y, post, dir, s, err);
    fm_yaml_free(y);
    return rc;
}

int fn_spec_load_file(const char *path, fn_spec *s, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    rc = fn_spec_load_buf(buf, len, path, dirname(tmp), s, err);
    free(buf);
    return rc;
}
