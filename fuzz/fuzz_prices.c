/* Fuzz target: the price catalogue parser (cost_catalog_load_buf), then billing a small usage
 * on every offer it accepted, so a catalogue that loads can never crash the formulas. */
#include <stdint.h>
#include <stdlib.h>

#include "cost/cost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cost_catalog *c = NULL;
    fm_err err = {0};
    if (cost_catalog_load_buf((const char *)data, size, "fuzz.yaml", &c, &err) != 0)
        return 0;
    cost_invocation inv[] = {
        {.duration_ms = 12.5, .billed_ms = 13, .memory_mb = 1024, .invoked = true},
        {.duration_ms = 0.2, .memory_mb = 128, .on_provisioned = true, .invoked = true}};
    cost_span spans[] = {{.seconds = 61, .memory_mb = 1024, .provisioned = true},
                         {.seconds = 3601, .memory_mb = 2048}};
    cost_usage u = {.inv = inv, .n_inv = 2, .spans = spans, .n_spans = 2, .n_ok = 2};
    const cost_offer *all;
    size_t n = cost_catalog_offers(c, &all);
    for (size_t i = 0; i < n; i++) {
        cost_result r;
        cost_bill(&all[i], &u, i % 2 == 0, &r);
        (void)cost_offer_applies(&all[i], &u);
    }
    cost_catalog_free(c);
    return 0;
}
