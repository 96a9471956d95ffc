/* Fuzzes the function spec parsers: the admin API's JSON form and the YAML form of `deploy`.
 * Whatever the input, parsing either fails cleanly or yields a spec that survives a JSON round
 * trip unchanged. */
#include "platform/platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    platform_spec s;
    fm_err err = {0};
    if (platform_spec_parse_json((const char *)data, size, &s, &err) == 0) {
        char *json = platform_spec_to_json(&s);
        platform_spec again;
        if (json) {
            if (platform_spec_parse_json(json, strlen(json), &again, &err) != 0)
                abort(); /* what we print we must read back */
            char *json2 = platform_spec_to_json(&again);
            if (json2 && strcmp(json, json2) != 0)
                abort();
            free(json2);
            platform_spec_release(&again);
        }
        free(json);
        platform_spec_release(&s);
    }
    if (platform_spec_parse_yaml((const char *)data, size, "fuzz.yaml", "/srv", &s, &err) == 0)
        platform_spec_release(&s);
    return 0;
}
