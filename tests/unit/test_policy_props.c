/*
 * policy: property test — thousands of pseudo-random event sequences (fixed seed) under every
 * profile and every keep-alive policy (fixed, histogram, greedy-dual), each checked against the
 * safety rules of tests/unit/policy_props.h (never dispatch before ready, never stop a busy
 * instance, every request answered exactly once, ...).
 * fuzz/fuzz_policy_events.c runs the same check under libFuzzer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy_props.h"

/* Why: a fixed seed makes every run check the same sequences; FM_SANITIZED scales work down. */
static void test_random_sequences(void **state)
{
    (void)state;
    const char *san = getenv("FM_SANITIZED");
    int runs = san && strcmp(san, "1") == 0 ? 400 : 4000;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    uint8_t buf[1024];
    for (int r = 0; r < runs; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 2 + (size_t)(x % (sizeof(buf) - 2));
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = (uint8_t)(x >> 24);
        }
        pp_run(buf, len);
    }
    /* the sequences reached the keep-alive policies' own decisions, not only their fallbacks */
    assert_true(pp_seen.prewarms > 0);
    assert_true(pp_seen.evictions > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_sequences)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
