/* YAML spec loading over libyaml, keeping each node's position for error messages. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct fm_ynode {
    fm_ynode_kind kind;
    int line, col;
    const char *str;
    size_t n;          /* items, or pairs */
    fm_ynode **kids;   /* items, or key,value,key,value... */
};

struct fm_yaml {
    fm_arena arena;
    char *name;
    fm_ynode *root;
};

/* Why: libyaml's document nodes refer to each other by index; our own tree with positions lets
 * callers walk a spec without the document at hand. Depth is bounded so hostile input (deep
 * nesting, alias loops through the same node) cannot overflow the stack. */
static fm_ynode *convert(fm_yaml *y, yaml_document_t *doc, yaml_node_t *src, int depth)
{
    if (!src || depth > 64)
        return NULL;
    fm_ynode *n = fm_arena_calloc(&y->arena, 1, sizeof *n);
    if (!n)
        return NULL;
    n->line = (int)src->start_mark.line + 1;
    n->col = (int)src->start_mark.column + 1;
    switch (src->type) {
    case YAML_SCALAR_NODE:
        n->kind = FM_YAML_SCALAR;
        n->str = fm_arena_strdup(&y->arena, (const char *)src->data.scalar.value);
        return n->str ? n : NULL;
    case YAML_SEQUENCE_NODE: {
        n->kind = FM_YAML_SEQ;
        yaml_node_item_t *it = src->data.sequence.items.start;
        n->n = (size_t)(src->data.sequence.items.top - it);
        n->kids = fm_arena_calloc(&y->arena, n->n ? n->n : 1, sizeof *n->kids);
        if (!n->kids)
            return NULL;
        for (size_t i = 0; i < n->n; i++)
            if (!(n->kids[i] = convert(y, doc, yaml_document_get_node(doc, it[i]), depth + 1)))
                return NULL;
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->kind = FM_YAML_MAP;
        yaml_node_pair_t *p = src->data.mapping.pairs.start;
        n->n = (size_t)(src->data.mapping.pairs.top - p);
        n->kids = fm_arena_calloc(&y->arena, n->n ? 2 * n->n : 1, sizeof *n->kids);
        if (!n->kids)
            return NULL;
        for (size_t i = 0; i < n->n; i++) {
            n->kids[2 * i] = convert(y, doc, yaml_document_get_node(doc, p[i].key), depth + 1);
            n->kids[2 * i + 1] =
                convert(y, doc, yaml_document_get_node(doc, p[i].value), depth + 1);
            if (!n->kids[2 * i] || !n->kids[2 * i + 1])
                return NULL;
        }
        return n;
    }
    default:
        return NULL;
    }
}

int fm_yaml_load_buf(const char *buf, size_t len, const char *name, fm_yaml **out, fm_err *err)
{
    *out = NULL;
    fm_yaml *y = calloc(1, sizeof *y);
    if (!y || !(y->name = strdup(name))) {
        free(y);
        return fm_err_set(err, FM_ENOMEM, "%s: out of memory", name);
    }
    fm_arena_init(&y->arena, 0);
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        fm_yaml_free(y);
        return fm_err_set(err, FM_ENOMEM, "%s: out of memory", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t m = parser.problem_mark;
        rc = fm_err_set(err, FM_EPARSE, "%s:%zu:%zu: %s%s%s", name, m.line + 1, m.column + 1,
                        parser.problem ? parser.problem : "invalid YAML",
                        parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fm_yaml_free(y);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && !(y->root = convert(y, &doc, root, 0)))
        rc = fm_err_set(err, FM_EPARSE, "%s: document nested too deeply or out of memory", name);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) {
        fm_yaml_free(y);
        return rc;
    }
    *out = y;
    return 0;
}

int fm_yaml_load_file(const char *path, fm_yaml **out, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = fm_yaml_load_buf(buf, len, path, out, err);
    free(buf);
    return rc;
}

void fm_yaml_free(fm_yaml *y)
{
    if (!y)
        return;
    fm_arena_release(&y->arena);
    free(y->name);
    free(y);
}

const fm_ynode *fm_yaml_root(const fm_yaml *y) { return y->root; }
const char *fm_yaml_name(const fm_yaml *y) { return y->name; }
fm_ynode_kind fm_ynode_kind_of(const fm_ynode *n) { return n->kind; }
int fm_ynode_line(const fm_ynode *n) { return n->line; }
int fm_ynode_col(const fm_ynode *n) { return n->col; }
const char *fm_ynode_str(const fm_ynode *n) { return n && n->kind == FM_YAML_SCALAR ? n->str : NULL; }
size_t fm_ynode_len(const fm_ynode *n) { return n && n->kind != FM_YAML_SCALAR ? n->n : 0; }

const fm_ynode *fm_ynode_item(const fm_ynode *n, size_t i)
{
    return n && n->kind == FM_YAML_SEQ && i < n->n ? n->kids[i] : NULL;
}

const fm_ynode *fm_ynode_key(const fm_ynode *n, size_t i)
{
    return n && n->kind == FM_YAML_MAP && i < n->n ? n->kids[2 * i] : NULL;
}

const fm_ynode *fm_ynode_value(const fm_ynode *n, size_t i)
{
    return n && n->kind == FM_YAML_MAP && i < n->n ? n->kids[2 * i + 1] : NULL;
}

const fm_ynode *fm_ynode_get(const fm_ynode *map, const char *key)
{
    if (!map || map->kind != FM_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const fm_ynode *k = map->kids[2 * i];
        if (k->kind == FM_YAML_SCALAR && strcmp(k->str, key) == 0)
            return map->kids[2 * i + 1];
    }
    return NULL;
}

int fm_yaml_error(const fm_yaml *y, const fm_ynode *at, fm_err *err, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        return fm_err_set(err, code, "%s:%d:%d: %s", y->name, at->line, at->col, msg);
    return fm_err_set(err, code, "%s: %s", y->name, msg);
}

int fm_yaml_check_keys(const fm_yaml *y, const fm_ynode *map, const char *const *allowed,
                       fm_err *err)
{
    if (!map || map->kind != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EPARSE, "expected a mapping");
    for (size_t i = 0; i < map->n; i++) {
        const fm_ynode *k = map->kids[2 * i];
        if (k->kind != FM_YAML_SCALAR)
            return fm_yaml_error(y, k, err, FM_EPARSE, "keys must be plain scalars");
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k->str) == 0;
        if (!ok)
            return fm_yaml_error(y, k, err, FM_EPARSE, "unknown key '%s'", k->str);
        for (size_t j = 0; j < i; j++)
            if (strcmp(map->kids[2 * j]->str, k->str) == 0)
                return fm_yaml_error(y, k, err, FM_EPARSE, "duplicate key '%s'", k->str);
    }
    return 0;
}

static int get_scalar(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                      const fm_ynode **out, fm_err *err)
{
    *out = fm_ynode_get(map, key);
    if (!*out)
        return required ? fm_yaml_error(y, map, err, FM_EPARSE, "missing key '%s'", key) : 0;
    if ((*out)->kind != FM_YAML_SCALAR)
        return fm_yaml_error(y, *out, err, FM_EPARSE, "'%s' must be a scalar", key);
    return 0;
}

int fm_yaml_get_str(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                    const char **out, fm_err *err)
{
    const fm_ynode *n;
    int rc = get_scalar(y, map, key, required, &n, err);
    if (!rc && n)
        *out = n->str;
    return rc;
}

int fm_yaml_get_int(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                    int64_t min, int64_t max, int64_t *out, fm_err *err)
{
    const fm_ynode *n;
    int rc = get_scalar(y, map, key, required, &n, err);
    if (rc || !n)
        return rc;
    int64_t v;
    if (fm_parse_i64(n->str, &v))
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be an integer, not '%s'", key,
                             n->str);
    if (v < min || v > max)
        return fm_yaml_error(y, n, err, FM_ERANGE,
                             "'%s' is %lld, out of range [%lld, %lld]", key, (long long)v,
                             (long long)min, (long long)max);
    *out = v;
    return 0;
}

int fm_yaml_get_double(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                       double min, double max, double *out, fm_err *err)
{
    const fm_ynode *n;
    int rc = get_scalar(y, map, key, required, &n, err);
    if (rc || !n)
        return rc;
    double v;
    if (fm_parse_double(n->str, &v))
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be a number, not '%s'", key,
                             n->str);
    if (!(v >= min && v <= max))
        return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is %g, out of range [%g, %g]", key, v,
                             min, max);
    *out = v;
    return 0;
}

int fm_yaml_get_bool(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                     bool *out, fm_err *err)
{
    const fm_ynode *n;
    int rc = get_scalar(y, map, key, required, &n, err);
    if (rc || !n)
        return rc;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < FM_ARRAY_LEN(yes); i++) {
        if (strcasecmp(n->str, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->str, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be true or false, not '%s'", key,
                         n->str);
}
