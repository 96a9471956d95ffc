/* Key tables: a spec's keys as data. One row per key (name, type, field offset, range, doc)
 * drives parsing with file:line:col errors, the unknown- and duplicate-key checks, required keys,
 * and the key tables in docs/, so a key means one thing wherever it is read. JSON specs load
 * through the same YAML loader (JSON is YAML), so one table serves both forms. */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: a JSON form may say "key": null for "not given"; YAML's plain null means the same. */
static bool is_null(const fm_ynode *n)
{
    const char *s = fm_ynode_str(n);
    return s && (strcmp(s, "null") == 0 || strcmp(s, "~") == 0);
}

/* Why: every scalar type reads its text the same way and names the key when it is not one. */
static const char *scalar(const fm_yaml *y, const fm_ynode *n, const fm_key *k, fm_err *err)
{
    const char *s = fm_ynode_str(n);
    if (!s)
        fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be a scalar (%s)", k->name,
                      fm_key_type_name(k->type));
    return s;
}

static int parse_one(const fm_key *k, const fm_yaml *y, const fm_ynode *n, void *obj, void *ctx,
                     fm_err *err)
{
    char *field = (char *)obj + k->off;
    if (k->type == FM_KEY_CUSTOM)
        return k->parse(k, y, n, obj, ctx, err);
    if (k->type == FM_KEY_TABLE) {
        if (fm_ynode_kind_of(n) != FM_YAML_MAP)
            return fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be a mapping", k->name);
        return fm_keys_parse(k->sub, k->nsub, y, n, obj, ctx, err);
    }
    const char *s = scalar(y, n, k, err);
    if (!s)
        return err->code;
    int64_t i;
    double d;
    switch (k->type) {
    case FM_KEY_INT:
        if (fm_parse_i64(s, &i))
            return fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be an integer, not '%s'", k->name,
                                 s);
        if ((double)i < k->min || (double)i > k->max)
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is %s, outside %.15g-%.15g", k->name,
                                 s, k->min, k->max);
        *(int *)field = (int)i;
        return 0;
    case FM_KEY_DOUBLE:
    case FM_KEY_SECONDS:
        if (k->type == FM_KEY_SECONDS && fm_parse_duration_ns(s, &i) == 0)
            d = (double)i / 1e9;
        else if (fm_parse_double(s, &d))
            return k->type == FM_KEY_SECONDS
                       ? fm_yaml_error(y, n, err, FM_EINVAL,
                                       "'%s': invalid duration '%s' (e.g. 10m, 30s, 500ms)",
                                       k->name, s)
                       : fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be a number, not '%s'",
                                       k->name, s);
        if (!(d >= k->min && d <= k->max))
            return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is %s, outside %.15g-%.15g%s", k->name,
                                 s, k->min, k->max, k->type == FM_KEY_SECONDS ? " seconds" : "");
        *(double *)field = d;
        return 0;
    case FM_KEY_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            *(bool *)field = s[0] == 't';
            return 0;
        }
        return fm_yaml_error(y, n, err, FM_EINVAL, "'%s' must be true or false, not '%s'", k->name,
                             s);
    case FM_KEY_STRBUF:
    case FM_KEY_STRDUP:
        if (k->names) {
            bool known = false;
            for (const char *const *v = k->names; *v && !known; v++)
                known = strcmp(*v, s) == 0;
            if (!known) {
                char list[256] = "";
                size_t used = 0;
                for (const char *const *v = k->names; *v; v++)
                    used +=
                        (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0,
                                         "%s%s", v == k->names ? "" : ", ", *v);
                return fm_yaml_error(y, n, err, FM_EINVAL, "unknown %s '%s' (%s)", k->name, s,
                                     list);
            }
        }
        if (k->type == FM_KEY_STRBUF) {
            if (strlen(s) >= k->cap)
                return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is longer than %zu characters",
                                     k->name, k->cap - 1);
            memcpy(field, s, strlen(s) + 1);
            return 0;
        } else {
            char *dup = strdup(s);
            if (!dup)
                return fm_err_set(err, FM_ENOMEM, "out of memory");
            free(*(char **)field);
            *(char **)field = dup;
            return 0;
        }
    default: return fm_err_set(err, FM_EINTERNAL, "key '%s' has no type", k->name);
    }
}

int fm_keys_parse(const fm_key *keys, size_t n, const fm_yaml *y, const fm_ynode *map, void *obj,
                  void *ctx, fm_err *err)
{
    if (!map || fm_ynode_kind_of(map) != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EPARSE, "expected a mapping");
    size_t pairs = fm_ynode_len(map);
    for (size_t i = 0; i < pairs; i++) { /* unknown and duplicate keys first, in file order */
        const fm_ynode *kn = fm_ynode_key(map, i);
        const char *name = fm_ynode_str(kn);
        if (!name)
            return fm_yaml_error(y, kn, err, FM_EPARSE, "keys must be plain scalars");
        if (!fm_keys_find(keys, n, name))
            return fm_yaml_error(y, kn, err, FM_EINVAL, "unknown key '%s'", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(fm_ynode_str(fm_ynode_key(map, j)), name) == 0)
                return fm_yaml_error(y, kn, err, FM_EPARSE, "duplicate key '%s'", name);
    }
    for (size_t i = 0; i < n; i++) { /* then values, in table order (a table's order is its
                                         dependency order: later keys may read earlier fields) */
        const fm_ynode *v = fm_ynode_get(map, keys[i].name);
        if (!v || is_null(v)) {
            if (keys[i].required)
                return fm_yaml_error(y, map, err, FM_EINVAL, "missing key '%s'", keys[i].name);
            continue;
        }
        int rc = parse_one(&keys[i], y, v, obj, ctx, err);
        if (rc)
            return rc;
    }
    return 0;
}

const fm_key *fm_keys_find(const fm_key *keys, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

const char *fm_key_type_name(fm_key_type t)
{
    static const char *const names[] = {
        [FM_KEY_INT] = "integer",   [FM_KEY_DOUBLE] = "number", [FM_KEY_SECONDS] = "duration",
        [FM_KEY_BOOL] = "boolean",  [FM_KEY_STRBUF] = "string", [FM_KEY_STRDUP] = "string",
        [FM_KEY_TABLE] = "mapping", [FM_KEY_CUSTOM] = "value",
    };
    _Static_assert(FM_ARRAY_LEN(names) == FM_KEY__COUNT, "a name for every key type");
    return t < FM_KEY__COUNT ? names[t] : "?";
}

/* Appends the table's rows as Markdown ("| key | type | range | description |"); prefix names
 * nested tables ("batch."). Returns the length written or needed, like snprintf. */
static size_t md_rows(const fm_key *keys, size_t n, const char *prefix, char *buf, size_t cap,
                      size_t used)
{
    for (size_t i = 0; i < n; i++) {
        const fm_key *k = &keys[i];
        char name[128], range[96] = "";
        snprintf(name, sizeof name, "%s%s", prefix, k->name);
        if (k->type == FM_KEY_TABLE) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.", name);
            used = md_rows(k->sub, k->nsub, sub, buf, cap, used);
            continue;
        }
        if (k->type == FM_KEY_INT || k->type == FM_KEY_DOUBLE || k->type == FM_KEY_SECONDS)
            snprintf(range, sizeof range, "%.15g–%.15g%s", k->min, k->max,
                     k->type == FM_KEY_SECONDS ? " s" : "");
        else if (k->names)
            for (const char *const *v = k->names; *v; v++) {
                size_t l = strlen(range);
                snprintf(range + l, sizeof range - l, "%s`%s`", v == k->names ? "" : ", ", *v);
            }
        used += (size_t)snprintf(
            buf ? buf + FM_MIN(used, cap) : NULL, buf && used < cap ? cap - used : 0,
            "| `%s`%s | %s | %s | %s |\n", name, k->required ? " (required)" : "",
            k->type_doc ? k->type_doc : fm_key_type_name(k->type), range, k->doc ? k->doc : "");
    }
    return used;
}

size_t fm_keys_markdown(const fm_key *keys, size_t n, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap,
                                   "| key | type | range | description |\n"
                                   "|---|---|---|---|\n");
    return md_rows(keys, n, "", buf, cap, used);
}
