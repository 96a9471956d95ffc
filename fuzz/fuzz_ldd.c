/* Fuzz target for package_ldd_parse: `ldd` output is a child's text, read as untrusted input.
 * Every path handed to the callback must be absolute and NUL-terminated inside the bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "package/package.h"

static int check(void *ud, const char *path)
{
    size_t *n = ud;
    if (path[0] != '/' || strlen(path) >= 4096)
        abort();
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    fm_err err = {0};
    package_ldd_parse((const char *)data, size, check, &n, &err);
    return 0;
}
