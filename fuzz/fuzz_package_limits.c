/* Fuzz target for data/engines.yaml (package_limits_parse): arbitrary bytes must give a parsed
 * set of limits or an error, never a crash; a parsed set honours the file's own ranges. */
#include <stdint.h>
#include <stdlib.h>

#include "package/package.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    package_limits l;
    fm_err err = {0};
    if (package_limits_parse((const char *)data, size, "engines.yaml", &l, &err) == 0 &&
        (l.lambda_unzipped_max_mb < 1 || l.sagemaker_serverless_memory_step_mb < 1 ||
         l.sagemaker_serverless_memory_min_mb > l.sagemaker_serverless_memory_max_mb))
        abort();
    return 0;
}
