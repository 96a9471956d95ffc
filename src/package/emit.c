/* cJSON trees printed as block YAML, the form Kubernetes manifests and SAM templates are read and
 * reviewed in. Strings are always double-quoted with YAML's escapes (which also escape what YAML
 * forbids raw and JSON allows: C1 controls, U+2028/2029, the BOM); numbers, booleans and null are
 * printed by cJSON. So what a parser reads back is exactly the tree: "0" stays a string, 512 a
 * number, and no value can turn into YAML syntax (fuzz/fuzz_package_yaml.c checks the round trip).
 */
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

/* A YAML double-quoted scalar: printable text as is, everything YAML 1.1 reads as non-printable or
 * as a line break escaped. Bytes are UTF-8 (they came from a YAML spec or from this module). */
static void put_quoted(ybuf *y, const char *v)
{
    put(y, "\"");
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (*c == '"' || *c == '\\')
            put(y, "\\%c", *c);
        else if (*c == '\n')
            put(y, "\\n");
        else if (*c == '\t')
            put(y, "\\t");
        else if (*c == '\r')
            put(y, "\\r");
        else if (*c < 0x20 || *c == 0x7f)
            put(y, "\\x%02x", *c);
        else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) /* C1 controls U+0080-009F */
            put(y, "\\x%02x", *++c);
        else if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9)) {
            put(y, c[2] == 0xa8 ? "\\L" : "\\P"); /* line and paragraph separators */
            c += 2;
        } else if (c[0] == 0xef && c[1] == 0xbf && (c[2] == 0xbe || c[2] == 0xbf)) {
            put(y, c[2] == 0xbe ? "\\uFFFE" : "\\uFFFF"); /* noncharacters */
            c += 2;
        } else if (c[0] == 0xef && c[1] == 0xbb && c[2] == 0xbf) {
            put(y, "\\uFEFF"); /* a BOM inside a scalar */
            c += 2;
        } else
            put(y, "%c", *c);
    }
    put(y, "\"");
}

/* YAML limits an implicit key to 1024 characters; a longer one is written as an explicit key. */
#define YAML_IMPLICIT_KEY_MAX 1000

/* Keys made of [A-Za-z0-9._/-] (not starting with '-') are plain YAML; any other is quoted. */
static void put_key(ybuf *y, const char *k, int indent)
{
    bool plain = k[0] && k[0] != '-' && strlen(k) < YAML_IMPLICIT_KEY_MAX;
    for (const char *c = k; *c && plain; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '.' || *c == '_' || *c == '/' || *c == '-';
    if (plain) {
        put(y, "%s:", k);
        return;
    }
    size_t start = y->n;
    put_quoted(y, k);
    if (y->n - start < YAML_IMPLICIT_KEY_MAX) {
        put(y, ":");
        return;
    }
    /* "? KEY" then ": VALUE" on the next line, at the map's indentation. */
    ybuf q = {0};
    put_quoted(&q, k);
    y->n = start;
    if (y->b)
        y->b[start] = '\0';
    y->oom |= q.oom;
    put(y, "? %s\n%*s:", q.b ? q.b : "\"\"", indent, "");
    free(q.b);
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
    if (cJSON_IsString(n)) {
        put_quoted(y, n->valuestring);
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
            put_key(y, c->string, indent);
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
