/* Fuzz target for YAML spec loading: fm_yaml_load_buf on arbitrary bytes, then a walk of the whole
 * tree and the typed getters on present and absent keys, the way spec loaders use them. Scalars
 * also go through the strict number and duration parsers. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

static const char *const known_keys[] = {"name",        "memory", "timeout",  "runtime", "batch",
                                         "provisioned", "rate",   "duration", "",        NULL};

/* Uses every getter on map[key]; the results only feed a checksum. */
static uint64_t probe(const fm_yaml *y, const fm_ynode *map, const char *key)
{
    fm_err err;
    uint64_t h = 0;
    const char *s = NULL;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    h += (uint64_t)fm_yaml_get_str(y, map, key, false, &s, &err);
    h += (uint64_t)fm_yaml_get_str(y, map, key, true, &s, &err);
    h += (uint64_t)fm_yaml_get_int(y, map, key, true, -1000, 1000, &i, &err);
    h += (uint64_t)fm_yaml_get_int(y, map, key, false, INT64_MIN, INT64_MAX, &i, &err);
    h += (uint64_t)fm_yaml_get_double(y, map, key, true, -1e300, 1e300, &d, &err);
    h += (uint64_t)fm_yaml_get_bool(y, map, key, true, &b, &err);
    h += strlen(err.msg) + (uint64_t)i + (uint64_t)b + (s ? strlen(s) : 0);
    return h;
}

/* Visits every node once; getters run on a few keys of each map (they scan the map, so running
 * them on every key would make large maps quadratic). */
static uint64_t walk(const fm_yaml *y, const fm_ynode *n, int depth)
{
    if (!n)
        return 1;
    uint64_t h = (uint64_t)fm_ynode_line(n) * 31 + (uint64_t)fm_ynode_col(n);
    fm_err err;
    switch (fm_ynode_kind_of(n)) {
    case FM_YAML_SCALAR: {
        const char *s = fm_ynode_str(n);
        int64_t i;
        double d;
        h += strlen(s) + (uint64_t)fm_parse_i64(s, &i) + (uint64_t)fm_parse_double(s, &d) +
             (uint64_t)fm_parse_duration_ns(s, &i);
        break;
    }
    case FM_YAML_SEQ:
        for (size_t k = 0; k < fm_ynode_len(n); k++)
            h += walk(y, fm_ynode_item(n, k), depth + 1);
        h += fm_ynode_item(n, fm_ynode_len(n)) == NULL;
        h += (uint64_t)fm_yaml_check_keys(y, n, known_keys, &err);
        h += probe(y, n, "name");
        break;
    case FM_YAML_MAP:
        for (size_t k = 0; k < fm_ynode_len(n); k++) {
            const fm_ynode *key = fm_ynode_key(n, k);
            h += walk(y, key, depth + 1) + walk(y, fm_ynode_value(n, k), depth + 1);
            if (k < 4 && fm_ynode_str(key))
                h += probe(y, n, fm_ynode_str(key));
        }
        h += fm_ynode_key(n, fm_ynode_len(n)) == NULL;
        h += (uint64_t)fm_yaml_check_keys(y, n, known_keys, &err);
        h += probe(y, n, "memory") + probe(y, n, "no such key");
        h += (uint64_t)fm_yaml_error(y, n, &err, FM_EINVAL, "depth %d", depth);
        break;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_yaml *y = NULL;
    fm_err err;
    if (fm_yaml_load_buf((const char *)data, size, "fuzz.yaml", &y, &err) != 0) {
        /* failures always say where */
        if (strncmp(err.msg, "fuzz.yaml", 9) != 0)
            __builtin_trap();
        return 0;
    }
    const fm_ynode *root = fm_yaml_root(y);
    volatile uint64_t sink = walk(y, root, 0);
    sink += (uint64_t)fm_yaml_check_keys(y, root, known_keys, &err);
    sink += probe(y, root, "name");
    (void)sink;
    fm_yaml_free(y);
    return 0;
}
