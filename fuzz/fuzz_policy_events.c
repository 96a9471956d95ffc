/* Fuzz target: event sequences decoded from the input drive a policy_fn; the shadow model of
 * tests/unit/policy_props.h aborts on any broken safety rule. */
#include "../tests/unit/policy_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pp_run(data, size);
    return 0;
}
