/* Unit tests of the function host's JSON number reader against strtod, bit for bit: edge cases
 * (subnormals, the normal/subnormal boundary, halfway cases, overflow, 19+ digit mantissas, long
 * exponents), random doubles printed every common way, random digit strings with random
 * exponents, and every number in the v2 fuzz corpora. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fn/fn_int.h"

static size_t scaled(size_t n)
{
    const char *s = getenv("FM_SANITIZED");
    return s && (strcmp(s, "1") == 0 || strcmp(s, "true") == 0) ? n / 10 : n;
}

/* Reads text as "[text]" through the reader; returns 0 and the number, or the reader's error. */
static int parse_one(const char *text, size_t len, double *out, fm_err *err)
{
    char buf[1200];
    if (len + 3 > sizeof buf)
        return -1;
    buf[0] = '[';
    memcpy(buf + 1, text, len);
    buf[len + 1] = ']';
    fm_arena a;
    fm_arena_init(&a, 0);
    fj *root = NULL;
    int rc = fj_parse(buf, len + 2, &a, &root, err);
    if (!rc) {
        if (!root->nums || root->n != 1)
            rc = -2;
        else
            *out = root->nums[0];
    }
    fm_arena_release(&a);
    return rc;
}

/* Compares with strtod bit for bit; returns false (after printing) on a difference. */
static bool agrees(const char *text, size_t len)
{
    char z[1200];
    snprintf(z, sizeof z, "%.*s", (int)len, text);
    double want = strtod(z, NULL), got = 0;
    fm_err err = {0};
    if (parse_one(text, len, &got, &err) != 0) {
        print_error("'%s': not read (%s)\n", z, err.msg);
        return false;
    }
    if (memcmp(&want, &got, 8) != 0) {
        print_error("'%s': got %.17g, strtod %.17g\n", z, got, want);
        return false;
    }
    return true;
}

static bool agrees_str(const char *s)
{
    return agrees(s, strlen(s));
}

static void test_edges(void **state)
{
    static const char *const cases[] = {
        "0",
        "-0",
        "1",
        "-1",
        "0.0",
        "1e0",
        "1E+0",
        "1e-0",
        "123456789",
        "0.1",
        "0.2",
        "0.3",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995",
        "18446744073709551615",
        "18446744073709551616",
        "12345678901234567890",
        "123456789012345678901234567890",
        "0.1000000000000000055511151231257827021181583404541015625",
        "0.10000000000000000555111512312578270211815834045410156250000000001",
        "0.1000000000000000055511151231257827021181583404541015624999999999",
        "2.2250738585072011e-308",
        "2.2250738585072012e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "4.9406564584124654e-324",
        "4.9406564584124654e-325",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.47032822920623272088e-324",
        "5e-324",
        "3e-324",
        "1e-323",
        "1e-400",
        "1e-100000",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "1.797693134862315807e308",
        "1.7976931348623157e+308",
        "1e308",
        "1e309",
        "-1e999",
        "1e100000",
        "1e400000000000",
        "0.000000000000000000000000001",
        "100000000000000000000000000000e-30",
        "7.2057594037927933e16",
        "3.0517578125e-05",
        "8.98846567431158e307",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "4503599627370496.5",
        "4503599627370497.5",
        "1448997445238699",
        "5708990770823839524233143877797980545530986496",
        "3.4028234663852886e38",
        "3.4028235677973366e38",
        "1.17549435e-38",
        "1.4e-45",
        "0.00000000000000000000000000000000000000000000000000000000000000000000000000001e80",
        "12345678.12345678",
        "1234567812345678.1234",
        "0.12345678901234567890123",
        "-0.0000000000000000000000000000000000000001",
    };
    bool ok = true;
    for (size_t i = 0; i < FM_ARRAY_LEN(cases); i++)
        ok &= agrees_str(cases[i]);
    assert_true(ok);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void test_random_doubles(void **state)
{
    static const char *const fmts[] = {"%.17g", "%.9g", "%.6e", "%.3g", "%.15g", "%.20e", "%.1f"};
    size_t n = scaled(400000), bad = 0;
    char buf[512];
    for (size_t i = 0; i < n && bad < 5; i++) {
        uint64_t b = next();
        double d;
        if (i % 4 == 0) /* uniform in [0, 1), as tensors often are */
            d = (double)(b >> 11) / 9007199254740992.0;
        else if (i % 4 == 1) /* any finite bit pattern: subnormals and huge exponents too */
            memcpy(&d, &b, 8);
        else /* float values, as FP32 tensors hold */
            d = (double)(float)((double)(int64_t)b / 9.2e18 * 1e4);
        if (!isfinite(d))
            continue;
        const char *f = fmts[next() % FM_ARRAY_LEN(fmts)];
        if (strcmp(f, "%.1f") == 0 && fabs(d) > 1e30)
            f = "%.17g";
        int len = snprintf(buf, sizeof buf, f, d);
        bad += !agrees(buf, (size_t)len);
    }
    assert_int_equal(bad, 0);
}

/* Random digit strings: 1 to 40 significant digits, a decimal point anywhere, exponents across
 * the whole range and past it, so truncated mantissas and halfway cases come up. */
static void test_random_digits(void **state)
{
    size_t n = scaled(400000), bad = 0;
    char buf[128];
    for (size_t i = 0; i < n && bad < 5; i++) {
        size_t k = 0;
        if (next() & 1)
            buf[k++] = '-';
        int nd = 1 + (int)(next() % 40), point = (int)(next() % (uint64_t)(nd + 1));
        buf[k++] = (char)('1' + next() % 9);
        for (int j = 1; j < nd; j++) {
            if (j == point)
                buf[k++] = '.';
            /* runs of 0 and 9 make values close to halfway between doubles */
            uint64_t r = next() % 10;
            buf[k++] = (char)('0' + (r < 3 ? 0 : r < 6 ? 9 : next() % 10));
        }
        if (next() % 3)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "e%d", (int)(next() % 700) - 360);
        bad += !agrees(buf, k);
    }
    assert_int_equal(bad, 0);
}

/* Every JSON number in the v2 fuzz corpora (inputs the decoder has been fed on purpose). */
static void test_corpus(void **state)
{
    const char *src = getenv("FM_SOURCE_DIR");
    if (!src)
        skip();
    static const char *const dirs[] = {"v2_json", "v2_binary", "v2_batch"};
    size_t numbers = 0, bad = 0;
    for (size_t d = 0; d < FM_ARRAY_LEN(dirs); d++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz/corpus/%s", src, dirs[d]);
        DIR *dir = opendir(path);
        assert_non_null(dir);
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.')
                continue;
            char file[2048], *text;
            size_t len;
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            if (fm_read_file(file, &text, &len, NULL))
                continue;
            /* a number starts at '-' or a digit not inside a word or string-ish run */
            for (size_t i = 0; i < len; i++) {
                char c = text[i], prev = i ? text[i - 1] : ' ';
                if (!(c == '-' || (c >= '0' && c <= '9')) || strchr("[,: \n", prev) == NULL)
                    continue;
                size_t j = i + (c == '-');
                if (j >= len || text[j] < '0' || text[j] > '9')
                    continue;
                size_t k = i;
                while (k < len && strchr("+-0123456789.eE", text[k]) && text[k])
                    k++;
                char tok[1100];
                if (k - i >= sizeof tok)
                    continue;
                memcpy(tok, text + i, k - i);
                tok[k - i] = 0;
                double v;
                fm_err err;
                if (parse_one(tok, k - i, &v, &err) == 0) { /* a valid JSON number */
                    numbers++;
                    bad += !agrees(tok, k - i);
                }
                i = k;
            }
            free(text);
        }
        closedir(dir);
    }
    print_message("corpus: %zu numbers checked against strtod\n", numbers);
    assert_true(numbers > 100);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random_doubles),
        cmocka_unit_test(test_random_digits),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
