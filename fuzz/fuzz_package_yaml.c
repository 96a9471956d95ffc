/* Fuzz target for the manifests' YAML printer (src/package/emit.c): any JSON tree printed as block
 * YAML must load back with the platform's YAML loader into the same tree, every scalar as its text
 * (what Kubernetes and SAM read from the files `faasml package` writes). Inputs cJSON cannot parse,
 * or that are not valid UTF-8, deeper than the loader's JSON export (16), or hold duplicate keys,
 * say nothing about the printer and are skipped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "package/package_int.h"

/* Every scalar as the text the printer wrote for it. */
static cJSON *as_text(const cJSON *n, int depth)
{
    if (depth > 14)
        return NULL;
    if (cJSON_IsObject(n) || cJSON_IsArray(n)) {
        cJSON *o = cJSON_IsObject(n) ? cJSON_CreateObject() : cJSON_CreateArray();
        for (const cJSON *c = n->child; c; c = c->next) {
            cJSON *t = as_text(c, depth + 1);
            if (!t) {
                cJSON_Delete(o);
                return NULL;
            }
            if (cJSON_IsObject(n)) {
                if (cJSON_GetObjectItemCaseSensitive(o, c->string)) {
                    cJSON_Delete(t);
                    cJSON_Delete(o);
                    return NULL; /* duplicate key */
                }
                cJSON_AddItemToObject(o, c->string, t);
            } else {
                cJSON_AddItemToArray(o, t);
            }
        }
        return o;
    }
    if (cJSON_IsString(n))
        return cJSON_CreateString(n->valuestring);
    char *t = cJSON_PrintUnformatted(n);
    cJSON *s = t ? cJSON_CreateString(t) : NULL;
    free(t);
    return s;
}

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or code points above U+10FFFF, no NUL. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c >= 0x01 && c < 0x80   ? 1
                     : c >= 0xc2 && c < 0xe0 ? 2
                     : c >= 0xe0 && c < 0xf0 ? 3
                     : c >= 0xf0 && c < 0xf5 ? 4
                                             : 0;
        if (!len || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] >> 6) != 2)
                return false;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
            return false;
        i += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!utf8_ok(data, size))
        return 0;
    cJSON *in = cJSON_ParseWithLength((const char *)data, size);
    if (!in || !(cJSON_IsObject(in) || cJSON_IsArray(in)) || !in->child) {
        cJSON_Delete(in);
        return 0;
    }
    cJSON *want = as_text(in, 0);
    char *yaml = want ? pkg_yaml_print(in) : NULL;
    cJSON_Delete(in);
    if (!want || !yaml) {
        cJSON_Delete(want);
        free(yaml);
        return 0;
    }
    /* Control characters other than \t \n \r are escaped by cJSON, so the text is YAML-clean. */
    fm_yaml *y;
    fm_err err;
    if (fm_yaml_load_buf(yaml, strlen(yaml), "fuzz.yaml", &y, &err) != 0)
        abort(); /* the printer wrote YAML its own loader refuses */
    char *back = fm_ynode_to_json(fm_yaml_root(y));
    cJSON *got = back ? cJSON_Parse(back) : NULL;
    if (back && !cJSON_Compare(want, got, true))
        abort(); /* the tree changed on the way through YAML */
    cJSON_Delete(got);
    free(back);
    fm_yaml_free(y);
    cJSON_Delete(want);
    free(yaml);
    return 0;
}
