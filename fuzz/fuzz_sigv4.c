/* Fuzzes the SigV4 Authorization header parser and the verifier behind it (src/platform/auth.c):
 * the input is an Authorization value; it is parsed, then verified against a fixed request and
 * credential set (every outcome must be a clean refusal or, for a correct signature, OK). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    plat_sigv4_auth a;
    fm_err err = {0};
    if (plat_sigv4_parse((const char *)data, size, &a, &err) == 0) {
        /* a parsed header holds bounded, NUL-terminated fields */
        if (strlen(a.signature) != 64 || strlen(a.date) != 8)
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    static plat_cred cv[] = {{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 3}};
    const plat_creds creds = {cv, 1};
    plat_http_header hs[] = {{"Host", "127.0.0.1"},
                             {"X-Amz-Date", "20150830T123600Z"},
                             {"Content-Type", "application/json"},
                             {"My-Header1", "  a   b  "}};
    char sha[65];
    plat_sigv4_sha256_hex("{}", 2, sha);
    plat_sigv4_req r = {
        "POST", "/2015-03-31/functions/f%3A1/invocations", "Qualifier=%24LATEST&x", hs, 4, sha};
    plat_auth_result res;
    plat_auth_verify(&creds, &r, s, "us-east-1", 1440938160, PLAT_AUTH_INVOKE, &res);
    if (res.outcome != PLAT_AUTH_OK && !res.type)
        abort();
    free(s);
    return 0;
}
