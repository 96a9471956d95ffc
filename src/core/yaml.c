/* YAML spec loading over libyaml, keeping each node's position for error messages. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include <cjson/cJSON.h>

struct fm_ynode {
    fm_ynode_kind kind;
    int line, col;
    const char *str;
    size_t n;        /* items, or pairs */
    fm_ynode **kids; /* items, or key,value,key,value... */
};

struct fm_yaml {
    fm_arena arena;
    char *name;
    fm_ynode *root;
};

/* Limits on what a document may expand to. Nesting is bounded so hostile input cannot overflow the
 * stack; the node budget is bounded because aliases let a few bytes name an exponentially large
 * tree ("billion laughs") and a self-referencing alias names an infinite one. Without aliases a
 * document has at most about one node per input byte, so the budget never refuses one. */
#define FM_YAML_MAX_DEPTH 64
#define FM_YAML_MAX_NODES 200000

typedef struct convert_ctx {
    fm_yaml *y;
    yaml_document_t *doc;
    size_t nodes, max_nodes;
    int code;              /* first failure: FM_ELIMIT, FM_ENOMEM or FM_EPARSE */
    const yaml_node_t *at; /* where it happened */
    const char *why;
} convert_ctx;

/* Why: the first failure is the one to report; later ones are its consequences. */
static fm_ynode *convert_fail(convert_ctx *c, const yaml_node_t *at, int code, const char *why)
{
    if (!c->code) {
        c->code = code;
        c->at = at;
        c->why = why;
    }
    return NULL;
}

/* Why: libyaml's document nodes refer to each other by index; our own tree with positions lets
 * callers walk a spec without the document at hand. */
static fm_ynode *convert(convert_ctx *c, yaml_node_t *src, int depth)
{
    if (!src)
        return convert_fail(c, NULL, FM_EPARSE, "dangling node reference");
    if (depth > FM_YAML_MAX_DEPTH)
        return convert_fail(c, src, FM_ELIMIT, "nested deeper than 64 levels");
    if (++c->nodes > c->max_nodes)
        return convert_fail(c, src, FM_ELIMIT, "aliases expand the document past its node limit");
    fm_arena *a = &c->y->arena;
    fm_ynode *n = fm_arena_calloc(a, 1, sizeof *n);
    if (!n)
        return convert_fail(c, src, FM_ENOMEM, "out of memory");
    n->line = (int)src->start_mark.line + 1;
    n->col = (int)src->start_mark.column + 1;
    switch (src->type) {
    case YAML_SCALAR_NODE:
        n->kind = FM_YAML_SCALAR;
        /* "\0" in a quoted scalar would silently cut it short ("name\0x" read as "name") */
        if (strlen((const char *)src->data.scalar.value) != src->data.scalar.length)
            return convert_fail(c, src, FM_EPARSE, "scalar contains a NUL character");
        n->str = fm_arena_strdup(a, (const char *)src->data.scalar.value);
        return n->str ? n : convert_fail(c, src, FM_ENOMEM, "out of memory");
    case YAML_SEQUENCE_NODE: {
        n->kind = FM_YAML_SEQ;
        yaml_node_item_t *it = src->data.sequence.items.start;
        n->n = (size_t)(src->data.sequence.items.top - it);
        n->kids = fm_arena_calloc(a, n->n ? n->n : 1, sizeof *n->kids);
        if (!n->kids)
            return convert_fail(c, src, FM_ENOMEM, "out of memory");
        for (size_t i = 0; i < n->n; i++)
            if (!(n->kids[i] = convert(c, yaml_document_get_node(c->doc, it[i]), depth + 1)))
                return NULL;
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->kind = FM_YAML_MAP;
        yaml_node_pair_t *p = src->data.mapping.pairs.start;
        n->n = (size_t)(src->data.mapping.pairs.top - p);
        if (n->n > SIZE_MAX / 2)
            return convert_fail(c, src, FM_ENOMEM, "out of memory");
        n->kids = fm_arena_calloc(a, n->n ? 2 * n->n : 1, sizeof *n->kids);
        if (!n->kids)
            return convert_fail(c, src, FM_ENOMEM, "out of memory");
        for (size_t i = 0; i < n->n; i++) {
            n->kids[2 * i] = convert(c, yaml_document_get_node(c->doc, p[i].key), depth + 1);
            if (!n->kids[2 * i])
                return NULL;
            n->kids[2 * i + 1] = convert(c, yaml_document_get_node(c->doc, p[i].value), depth + 1);
            if (!n->kids[2 * i + 1])
                return NULL;
        }
        return n;
    }
    default: return convert_fail(c, src, FM_EPARSE, "empty node");
    }
}

/* Why: reader errors (bad UTF-8, control characters) carry a byte offset, not a mark; users need
 * line:column like every other error. */
static void offset_to_mark(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Why: libyaml reports the problem and, separately, the construct it was inside; both positions
 * help ("did not find expected ',' or ']' while parsing a flow sequence started at 1:4"). */
static int parser_error(const yaml_parser_t *p, const char *buf, size_t len, const char *name,
                        fm_err *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return fm_err_set(err, FM_ENOMEM, "%s: out of memory", name);
    size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR)
        offset_to_mark(buf, len, p->problem_offset, &line, &col);
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (!p->context)
        return fm_err_set(err, FM_EPARSE, "%s:%zu:%zu: %s", name, line, col, problem);
    return fm_err_set(err, FM_EPARSE, "%s:%zu:%zu: %s %s started at %zu:%zu", name, line, col,
                      problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
}

/* Why: one entry point for files, embedded defaults and fuzzing; every failure names
 * name:line:col. */
int fm_yaml_load_buf(const char *buf, size_t len, const char *name, fm_yaml **out, fm_err *err)
{
    *out = NULL;
    if (!name)
        name = "<input>";
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
        rc = parser_error(&parser, buf, len, name, err);
        yaml_parser_delete(&parser);
        fm_yaml_free(y);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    /* a document of only "---" holds one empty plain scalar: treat it as empty like "" */
    if (root && root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0 &&
        root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        root = NULL;
    if (root) {
        convert_ctx c = {.y = y, .doc = &doc, .max_nodes = FM_YAML_MAX_NODES + len};
        if (!(y->root = convert(&c, root, 0))) {
            const yaml_node_t *at = c.at ? c.at : root;
            rc = fm_err_set(err, c.code ? c.code : FM_EINTERNAL, "%s:%zu:%zu: %s", name,
                            at->start_mark.line + 1, at->start_mark.column + 1,
                            c.why ? c.why : "cannot convert document");
        }
    }
    yaml_document_delete(&doc);
    /* a spec is one document; a second one would be silently ignored, so refuse it */
    if (!rc) {
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = parser_error(&parser, buf, len, name, err);
        } else {
            if (yaml_document_get_root_node(&next))
                rc = fm_err_set(err, FM_EPARSE, "%s:%zu:%zu: more than one document", name,
                                next.start_mark.line + 1, next.start_mark.column + 1);
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    if (rc) {
        fm_yaml_free(y);
        return rc;
    }
    *out = y;
    return 0;
}

/* Why: the path becomes the name in every message. */
int fm_yaml_load_file(const char *path, fm_yaml **out, fm_err *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = fm_yaml_load_buf(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* Why: the whole tree lives in one arena, so one call frees it. */
void fm_yaml_free(fm_yaml *y)
{
    if (!y)
        return;
    fm_arena_release(&y->arena);
    free(y->name);
    free(y);
}

/* Accessors. Why: nodes are opaque so the tree can change without touching callers;
 * the sequence/map accessors return NULL (or 0) for the wrong kind instead of crashing. */
const fm_ynode *fm_yaml_root(const fm_yaml *y)
{
    return y->root;
}
const char *fm_yaml_name(const fm_yaml *y)
{
    return y->name;
}
fm_ynode_kind fm_ynode_kind_of(const fm_ynode *n)
{
    return n->kind;
}
int fm_ynode_line(const fm_ynode *n)
{
    return n->line;
}
int fm_ynode_col(const fm_ynode *n)
{
    return n->col;
}
const char *fm_ynode_str(const fm_ynode *n)
{
    return n && n->kind == FM_YAML_SCALAR ? n->str : NULL;
}
size_t fm_ynode_len(const fm_ynode *n)
{
    return n && n->kind != FM_YAML_SCALAR ? n->n : 0;
}

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

/* Why: specs are small, so a linear scan beats building a hash per map. */
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

/* Why: spec loaders report their own semantic errors (an unknown model, a bad
 * combination) with the same file:line:col prefix as parse errors. */
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

/* Why: a typo in a key ("memroy") must fail loudly instead of silently using a default. */
int fm_yaml_check_keys(const fm_yaml *y, const fm_ynode *map, const char *const *allowed,
                       fm_err *err)
{
    if (!map)
        return fm_yaml_error(y, NULL, err, FM_EPARSE, "expected a mapping, found %s",
                             y->root ? "nothing" : "an empty document");
    if (map->kind != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EPARSE, "expected a mapping, found a %s",
                             map->kind == FM_YAML_SEQ ? "sequence" : "scalar");
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

/* Why: the shared part of the typed getters: absent, required, and not-a-scalar cases. */
static int get_scalar(const fm_yaml *y, const fm_ynode *map, const char *key, bool required,
                      const fm_ynode **out, fm_err *err)
{
    *out = NULL;
    if (map && map->kind != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EPARSE, "expected a mapping with key '%s'", key);
    *out = fm_ynode_get(map, key);
    if (!*out)
        return required ? fm_yaml_error(y, map, err, FM_EPARSE, "missing key '%s'", key) : 0;
    if ((*out)->kind != FM_YAML_SCALAR)
        return fm_yaml_error(y, *out, err, FM_EPARSE, "'%s' must be a scalar", key);
    return 0;
}

/* Why: typed reads with range checks, so every spec loader validates the same way and
 * names the key and its position when a value is wrong. */
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
        return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is %lld, out of range [%lld, %lld]", key,
                             (long long)v, (long long)min, (long long)max);
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
        return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be a number, not '%s'", key, n->str);
    if (!(v >= min && v <= max))
        return fm_yaml_error(y, n, err, FM_ERANGE, "'%s' is %g, out of range [%g, %g]", key, v, min,
                             max);
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
    return fm_yaml_error(y, n, err, FM_EPARSE, "'%s' must be true or false, not '%s'", key, n->str);
}

static cJSON *to_json(const fm_ynode *n, int depth)
{
    if (!n || depth > 16)
        return NULL;
    if (n->kind == FM_YAML_SCALAR)
        return cJSON_CreateString(n->str);
    cJSON *o = n->kind == FM_YAML_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
    for (size_t i = 0; o && i < n->n; i++) {
        if (n->kind == FM_YAML_SEQ) {
            cJSON *v = to_json(n->kids[i], depth + 1);
            if (!v)
                goto fail;
            cJSON_AddItemToArray(o, v);
            continue;
        }
        const fm_ynode *k = n->kids[2 * i];
        cJSON *v = k->kind == FM_YAML_SCALAR ? to_json(n->kids[2 * i + 1], depth + 1) : NULL;
        if (!v)
            goto fail;
        cJSON_AddItemToObject(o, k->str, v);
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *fm_ynode_to_json(const fm_ynode *n)
{
    cJSON *j = to_json(n, 0);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return txt;
}
