/* SigV4 (src/platform/auth.c) against AWS's published Signature Version 4 test suite
 * (aws-sig-v4-test-suite, 2015-08-30: AKIDEXAMPLE, region us-east-1, service "service"), then
 * the verifier's outcomes on requests it signs itself: right key, wrong key, wrong secret,
 * wrong region, skewed clock, replay after 15 minutes, missing permission, malformed headers;
 * and the credentials file parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/auth.h"

#include <stdio.h>
#include <string.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct vec {
    const char *name, *method, *path, *query;
    plat_http_header h[4]; /* besides Host and X-Amz-Date */
    const char *body, *signed_headers, *signature;
} vec;

static const vec suite[] = {
    {"get-vanilla",
     "GET",
     "/",
     NULL,
     {{0}},
     "",
     "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"post-vanilla",
     "POST",
     "/",
     NULL,
     {{0}},
     "",
     "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/",
     "Param2=value2&Param1=value1",
     {{0}},
     "",
     "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-empty-query-key",
     "GET",
     "/",
     "Param1=value1",
     {{0}},
     "",
     "host;x-amz-date",
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
    {"get-vanilla-query-unreserved",
     "GET",
     "/",
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{0}},
     "",
     "host;x-amz-date",
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
    {"get-vanilla-utf8-query",
     "GET",
     "/",
     "\xe1\x88\xb4=bar",
     {{0}},
     "",
     "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-unreserved",
     "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     NULL,
     {{0}},
     "",
     "host;x-amz-date",
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     NULL,
     {{0}},
     "",
     "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-header-key-duplicate",
     "GET",
     "/",
     NULL,
     {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
     "",
     "host;my-header1;x-amz-date",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-order",
     "GET",
     "/",
     NULL,
     {{"My-Header1", "value4"},
      {"My-Header1", "value1"},
      {"My-Header1", "value3"},
      {"My-Header1", "value2"}},
     "",
     "host;my-header1;x-amz-date",
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-value-trim",
     "GET",
     "/",
     NULL,
     {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
     "",
     "host;my-header1;my-header2;x-amz-date",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-header-key-sort",
     "POST",
     "/",
     NULL,
     {{"My-Header1", "value1"}},
     "",
     "host;my-header1;x-amz-date",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"post-header-value-case",
     "POST",
     "/",
     NULL,
     {{"My-Header1", "VALUE1"}},
     "",
     "host;my-header1;x-amz-date",
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
    {"post-vanilla-query",
     "POST",
     "/",
     "Param1=value1",
     {{0}},
     "",
     "host;x-amz-date",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     NULL,
     {{"Content-Type", "application/x-www-form-urlencoded"}},
     "Param1=value1",
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
    {"post-sts-header-before",
     "POST",
     "/",
     NULL,
     {{"X-Amz-Security-Token",
       "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicR"
       "XmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsbur"
       "EDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkU"
       "L64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="}},
     "",
     "host;x-amz-date;x-amz-security-token",
     "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
};

/* Fills r from v: Host and X-Amz-Date first, then the vector's own headers. */
static void build(const vec *v, plat_http_header *hs, plat_sigv4_req *r, char sha[65])
{
    int n = 0;
    hs[n++] = (plat_http_header){"Host", "example.amazonaws.com"};
    hs[n++] = (plat_http_header){"X-Amz-Date", DATE};
    for (int i = 0; i < 4 && v->h[i].name; i++)
        hs[n++] = v->h[i];
    plat_sigv4_sha256_hex(v->body, strlen(v->body), sha);
    *r = (plat_sigv4_req){v->method, v->path, v->query, hs, n, sha};
}

static void test_suite_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof suite / sizeof *suite; i++) {
        const vec *v = &suite[i];
        plat_http_header hs[8];
        plat_sigv4_req r;
        char sha[65], canon[4096], sig[65];
        build(v, hs, &r, sha);
        int n = plat_sigv4_canonical(&r, v->signed_headers, canon, sizeof canon);
        assert_true(n > 0);
        plat_sigv4_sign(SECRET, "20150830", "us-east-1", "service", DATE, canon, sig);
        if (strcmp(sig, v->signature) != 0)
            fail_msg("%s: got %s, want %s\ncanonical:\n%s", v->name, sig, v->signature, canon);
    }
}

/* The suite's get-vanilla canonical request, byte for byte. */
static void test_canonical_get_vanilla(void **state)
{
    (void)state;
    plat_http_header hs[8];
    plat_sigv4_req r;
    char sha[65], canon[1024];
    build(&suite[0], hs, &r, sha);
    assert_true(plat_sigv4_canonical(&r, "host;x-amz-date", canon, sizeof canon) > 0);
    assert_string_equal(canon, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE
                               "\n\nhost;x-amz-date\n" EMPTY_SHA);
    /* a signed header the request lacks, and a buffer too small */
    assert_int_equal(plat_sigv4_canonical(&r, "host;x-absent", canon, sizeof canon), FM_EINVAL);
    assert_int_equal(plat_sigv4_canonical(&r, "host;x-amz-date", canon, 16), FM_ELIMIT);
}

static void test_parse(void **state)
{
    (void)state;
    plat_sigv4_auth a;
    fm_err err = {0};
    const char *ok = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_int_equal(plat_sigv4_parse(ok, strlen(ok), &a, &err), 0);
    assert_string_equal(a.access_key, "AKIDEXAMPLE");
    assert_string_equal(a.date, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "service");
    assert_string_equal(a.signed_headers, "host;x-amz-date");
    static const char *const bad[] = {
        "",
        "AWS4-HMAC-SHA1 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4, SignedHeaders=host, Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=x-amz-date;host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host;host, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature="
        "5FA00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, Credential=B/20150830/r/s/"
        "aws4_request, SignedHeaders=host, Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (plat_sigv4_parse(bad[i], strlen(bad[i]), &a, &err) == 0)
            fail_msg("accepted: %s", bad[i]);
}

/* ---- verification outcomes ------------------------------------------------------------------ */

#define NOW 1440938160 /* 2015-08-30T12:36:00Z */

static plat_cred creds_v[] = {{"AKIDINVOKE", "invoke-secret", PLAT_AUTH_INVOKE},
                              {"AKIDADMIN", "admin-secret", PLAT_AUTH_INVOKE | PLAT_AUTH_ADMIN}};
static const plat_creds creds = {creds_v, 2};

/* Signs a Lambda invoke as a client would, with the given key, secret, region and date. */
static void sign_invoke(const char *key, const char *secret, const char *region,
                        const char *amz_date, char *authz, size_t cap, plat_http_header *hs,
                        plat_sigv4_req *r, char sha[65])
{
    hs[0] = (plat_http_header){"Host", "127.0.0.1:9000"};
    hs[1] = (plat_http_header){"X-Amz-Date", amz_date};
    hs[2] = (plat_http_header){"Content-Type", "application/json"};
    plat_sigv4_sha256_hex("{}", 2, sha);
    *r = (plat_sigv4_req){"POST", "/2015-03-31/functions/echo/invocations", NULL, hs, 3, sha};
    char canon[2048], sig[65], d8[9];
    snprintf(d8, sizeof d8, "%.8s", amz_date);
    assert_true(plat_sigv4_canonical(r, "content-type;host;x-amz-date", canon, sizeof canon) > 0);
    plat_sigv4_sign(secret, d8, region, "lambda", amz_date, canon, sig);
    snprintf(authz, cap,
             "AWS4-HMAC-SHA256 Credential=%s/%s/%s/lambda/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date, Signature=%s",
             key, d8, region, sig);
}

static plat_auth_outcome verify(const char *key, const char *secret, const char *region,
                                const char *amz_date, int64_t now, unsigned need,
                                plat_auth_result *res)
{
    plat_http_header hs[4];
    plat_sigv4_req r;
    char sha[65], authz[512];
    sign_invoke(key, secret, region, amz_date, authz, sizeof authz, hs, &r, sha);
    plat_auth_verify(&creds, &r, authz, "us-east-1", now, need, res);
    return res->outcome;
}

static void test_verify_outcomes(void **state)
{
    (void)state;
    plat_auth_result res;
    assert_int_equal(
        verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_OK);
    assert_null(res.type);
    /* within the skew on both sides */
    assert_int_equal(
        verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW + 899, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_OK);
    assert_int_equal(
        verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW - 899, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_OK);
    assert_int_equal(
        verify("AKIDNOBODY", "invoke-secret", "us-east-1", DATE, NOW, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_UNKNOWN_KEY);
    assert_string_equal(res.type, "UnrecognizedClientException");
    assert_int_equal(
        verify("AKIDINVOKE", "wrong-secret", "us-east-1", DATE, NOW, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_SIGNATURE);
    assert_string_equal(res.type, "InvalidSignatureException");
    assert_int_equal(
        verify("AKIDINVOKE", "invoke-secret", "eu-west-1", DATE, NOW, PLAT_AUTH_INVOKE, &res),
        PLAT_AUTH_SCOPE);
    assert_string_equal(res.type, "InvalidSignatureException");
    assert_non_null(strstr(res.msg, "eu-west-1"));
    /* replayed 16 minutes later; a client clock 16 minutes ahead */
    assert_int_equal(verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW + 16 * 60,
                            PLAT_AUTH_INVOKE, &res),
                     PLAT_AUTH_EXPIRED);
    assert_string_equal(res.type, "InvalidSignatureException");
    assert_non_null(strstr(res.msg, "Signature expired: " DATE " is now earlier than"));
    assert_int_equal(verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW - 16 * 60,
                            PLAT_AUTH_INVOKE, &res),
                     PLAT_AUTH_EXPIRED);
    /* admin needs the admin permission */
    assert_int_equal(
        verify("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, NOW, PLAT_AUTH_ADMIN, &res),
        PLAT_AUTH_DENIED);
    assert_string_equal(res.type, "AccessDeniedException");
    assert_int_equal(
        verify("AKIDADMIN", "admin-secret", "us-east-1", DATE, NOW, PLAT_AUTH_ADMIN, &res),
        PLAT_AUTH_OK);
}

static void test_verify_tampering(void **state)
{
    (void)state;
    plat_http_header hs[4];
    plat_sigv4_req r;
    char sha[65], authz[512];
    plat_auth_result res;
    sign_invoke("AKIDINVOKE", "invoke-secret", "us-east-1", DATE, authz, sizeof authz, hs, &r, sha);
    plat_auth_verify(&creds, &r, NULL, "us-east-1", NOW, PLAT_AUTH_INVOKE, &res);
    assert_int_equal(res.outcome, PLAT_AUTH_MISSING);
    assert_string_equal(res.type, "UnrecognizedClientException");
    /* another body, another function, another date header: the signature no longer matches */
    char other[65];
    plat_sigv4_sha256_hex("{\"x\":1}", 7, other);
    plat_sigv4_req r2 = r;
    r2.payload_sha256 = other;
    plat_auth_verify(&creds, &r2, authz, "us-east-1", NOW, PLAT_AUTH_INVOKE, &res);
    assert_int_equal(res.outcome, PLAT_AUTH_SIGNATURE);
    r2 = r;
    r2.path = "/2015-03-31/functions/other/invocations";
    plat_auth_verify(&creds, &r2, authz, "us-east-1", NOW, PLAT_AUTH_INVOKE, &res);
    assert_int_equal(res.outcome, PLAT_AUTH_SIGNATURE);
    hs[1].value = "20150830T123601Z";
    plat_auth_verify(&creds, &r, authz, "us-east-1", NOW, PLAT_AUTH_INVOKE, &res);
    assert_int_equal(res.outcome, PLAT_AUTH_SIGNATURE);
    hs[1].value = "2015-08-30";
    plat_auth_verify(&creds, &r, authz, "us-east-1", NOW, PLAT_AUTH_INVOKE, &res);
    assert_int_equal(res.outcome, PLAT_AUTH_MALFORMED);
    hs[1].value = DATE;
    plat_auth_verify(&creds, &r, "AWS4-HMAC-SHA256 garbage", "us-east-1", NOW, PLAT_AUTH_INVOKE,
                     &res);
    assert_int_equal(res.outcome, PLAT_AUTH_MALFORMED);
    assert_string_equal(res.type, "InvalidSignatureException");
}

static void test_creds_file(void **state)
{
    (void)state;
    plat_creds c;
    fm_err err = {0};
    const char *ok =
        "credentials:\n"
        "  - access_key: AKIDA\n    secret_key: s1\n    permissions: [invoke]\n"
        "  - access_key: AKIDB\n    secret_key: s2\n    permissions: [invoke, admin]\n";
    assert_int_equal(plat_creds_parse(ok, strlen(ok), "c.yaml", &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[0].perms, PLAT_AUTH_INVOKE);
    assert_int_equal(c.v[1].perms, PLAT_AUTH_INVOKE | PLAT_AUTH_ADMIN);
    assert_string_equal(c.v[1].secret, "s2");
    plat_creds_release(&c);
    static const char *const bad[][2] = {
        {"credentials: []\n", "non-empty list"},
        {"credentials:\n  - access_key: A\n    secret_key: s\n    permissions: [root]\n",
         "unknown permission 'root'"},
        {"credentials:\n  - access_key: A\n    permissions: [invoke]\n", "secret_key"},
        {"credentials:\n  - access_key: A\n    secret_key: s\n    permissions: [invoke]\n"
         "  - access_key: A\n    secret_key: t\n    permissions: [admin]\n",
         "appears twice"},
        {"keys: 1\n", "keys"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_not_equal(plat_creds_parse(bad[i][0], strlen(bad[i][0]), "c.yaml", &c, &err), 0);
        if (!strstr(err.msg, bad[i][1]))
            fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_vectors),
        cmocka_unit_test(test_canonical_get_vanilla),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_verify_outcomes),
        cmocka_unit_test(test_verify_tampering),
        cmocka_unit_test(test_creds_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
