/* cJSON trees printed as block YAML, the form Kubernetes manifests and SAM templates are read and
 * reviewed in. Every scalar is printed by cJSON as JSON (strings quoted and escaped), and JSON
 * scalars are YAML scalars, so what a parser reads back is exactly the tree: "0" stays a string,
 * 512 a number, and no value can turn into YAML syntax. */
#include "package_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ybuf {
    char *b;
    size_t n, cap;
    bool oom;
} ybuf;

static void put(ybuf *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(ybuf *y, const char *fmt, ...)
{
    if (y->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || y->n + (size_t)need + 1 > y->cap) {
        size_t nc = y->cap ? y->cap : 1024;
        while (need >= 0 && nc < y->n + (size_t)need + 1)
            nc *= 2;
        char *nb = need < 0 ? NULL : realloc(y->b, nc);
        if (!nb) {
            y->oom = true;
            return;
        }
        y->b = nb;
        y->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(y->b + y->n, y->cap - y->n, fmt, ap);
    va_end(ap);
    y->n += (size_t)need;
}

/* Keys made of [A-Za-z0-9._/-] (not starting with '-') are plain YAML; any other is quoted. */
static void put_key(ybuf *y, const char *k)
{
    bool plain = k[0] && k[0] != '-';
    for (const char *c = k; *c && plain; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '.' || *c == '_' || *c == '/' || *c == '-';
    if (plain) {
        put(y, "%s:", k);
        return;
    }
    char q[512];
    size_t need = fm_json_quote(q, sizeof q, k);
    if (need >= sizeof q) {
        char *big = malloc(need + 1);
        if (!big) {
            y->oom = true;
            return;
        }
        fm_json_quote(big, need + 1, k);
        put(y, "%s:", big);
        free(big);
    } else {
        put(y, "%s:", q);
    }
}

static bool is_container(const cJSON *n)
{
    return (cJSON_IsObject(n) || cJSON_IsArray(n)) && n->child;
}

static void put_scalar(ybuf *y, const cJSON *n)
{
    if (cJSON_IsObject(n)) {
        put(y, "{}");
        return;
    }
    if (cJSON_IsArray(n)) {
        put(y, "[]");
        return;
    }
    char *t = cJSON_PrintUnformatted(n);
    if (!t) {
        y->oom = true;
        return;
    }
    put(y, "%s", t);
    free(t);
}

static void emit(ybuf *y, const cJSON *n, int indent, bool inline_first);

/* A map entry or list item's value: a scalar on the same line, a container below it. */
static void emit_value(ybuf *y, const cJSON *v, int indent)
{
    if (is_container(v)) {
        put(y, "\n");
        emit(y, v, indent, false);
    } else {
        put(y, " ");
        put_scalar(y, v);
        put(y, "\n");
    }
}

/* inline_first: the first line continues a "- " already written. */
static void emit(ybuf *y, const cJSON *n, int indent, bool inline_first)
{
    bool first = true;
    for (const cJSON *c = n->child; c; c = c->next) {
        if (!(first && inline_first))
            put(y, "%*s", indent, "");
        first = false;
        if (cJSON_IsObject(n)) {
            put_key(y, c->string);
            emit_value(y, c, indent + 2);
        } else if (cJSON_IsObject(c) && c->child) {
            put(y, "- ");
            emit(y, c, indent + 2, true);
        } else if (cJSON_IsArray(c) && c->child) {
            put(y, "-\n");
            emit(y, c, indent + 2, false);
        } else {
            put(y, "-");
            emit_value(y, c, indent + 2);
        }
    }
}

char *pkg_yaml_print(const cJSON *root)
{
    if (!root)
        return NULL;
    ybuf y = {0};
    if (is_container(root))
        emit(&y, root, 0, false);
    else {
        put_scalar(&y, root);
        put(&y, "\n");
    }
    if (y.oom) {
        free(y.b);
        return NULL;
    }
    return y.b;
}
