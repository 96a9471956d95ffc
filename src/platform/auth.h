/* Access control for the gateway: AWS Signature Version 4, as aws cli, boto3 and every SDK send
 * it, checked against the credentials file the operator configures (docs/security.md).
 *
 * Pure functions first (parse the Authorization header, build the canonical request, sign,
 * verify one request against a credential set at a given time); they allocate nothing and read
 * no clock, so the unit tests run them on AWS's published test suite and the fuzzer on anything.
 * The gateway's part is one call, plat_auth_gate, which answers a refused request with Lambda's
 * 403 shapes: UnrecognizedClientException (no or unknown credentials), InvalidSignatureException
 * (a bad signature, scope or an Authorization header that does not parse, or a signature more
 * than 15 minutes from the server's clock) and AccessDeniedException (a valid key without the
 * permission: admin actions need `admin`, invocations `invoke`). */
#ifndef FM_PLAT_AUTH_H
#define FM_PLAT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define PLAT_AUTH_KEY_MAX 128
#define PLAT_AUTH_SKEW_S (15 * 60) /* SigV4: a signature is valid 15 minutes either side */

typedef enum plat_auth_perm {
    PLAT_AUTH_INVOKE = 1, /* Invoke API and KServe v2 */
    PLAT_AUTH_ADMIN = 2,  /* deploy, update, delete, list; /metrics */
} plat_auth_perm;

typedef struct plat_cred {
    char access_key[PLAT_AUTH_KEY_MAX + 1];
    char secret[PLAT_AUTH_KEY_MAX + 1];
    unsigned perms; /* plat_auth_perm bits */
} plat_cred;

/* The operator's credentials; owned, freed by plat_creds_release. */
typedef struct plat_creds {
    plat_cred *v;
    int n;
} plat_creds;

/* The YAML file (docs/security.md):
 *   credentials:
 *     - access_key: AKIA...
 *       secret_key: ...
 *       permissions: [invoke, admin]
 * Errors name file:line:col. */
int plat_creds_load(const char *path, plat_creds *out, fm_err *err);
int plat_creds_parse(const char *buf, size_t len, const char *name, plat_creds *out, fm_err *err);
void plat_creds_release(plat_creds *c);

/* The parts of `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b;c, Signature=HEX`. */
typedef struct plat_sigv4_auth {
    char access_key[PLAT_AUTH_KEY_MAX + 1];
    char date[9]; /* YYYYMMDD */
    char region[33], service[33];
    char signed_headers[512]; /* lowercase, sorted, ';'-separated */
    char signature[65];       /* lowercase hex */
} plat_sigv4_auth;

/* Parses an Authorization header value (not NUL-terminated: len bytes). */
int plat_sigv4_parse(const char *s, size_t len, plat_sigv4_auth *out, fm_err *err);

typedef struct plat_http_header {
    const char *name, *value;
} plat_http_header;

/* A request as the verifier sees it: the method, the path and query exactly as on the wire,
 * every header in arrival order, and the hex SHA-256 of the body. */
typedef struct plat_sigv4_req {
    const char *method;
    const char *path;
    const char *query; /* NULL or "" when none */
    const plat_http_header *h;
    int nh;
    const char *payload_sha256; /* 64 lowercase hex */
} plat_sigv4_req;

/* SigV4's canonical request for the headers named in signed_headers; its length, or a negative
 * FM_E* code (FM_ELIMIT when cap is too small, FM_EINVAL when a signed header is missing). */
int plat_sigv4_canonical(const plat_sigv4_req *r, const char *signed_headers, char *out,
                         size_t cap);
/* The hex signature of a canonical request: the string to sign (amz_date and the scope
 * date/region/service) under the key derived from secret. */
void plat_sigv4_sign(const char *secret, const char *date8, const char *region, const char *service,
                     const char *amz_date, const char *canonical, char hex[65]);
/* Lowercase hex SHA-256 of data. */
void plat_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

typedef enum plat_auth_outcome {
    PLAT_AUTH_OK,
    PLAT_AUTH_MISSING,     /* no Authorization header */
    PLAT_AUTH_UNKNOWN_KEY, /* an access key the file does not hold */
    PLAT_AUTH_MALFORMED,   /* an Authorization header or X-Amz-Date that does not parse */
    PLAT_AUTH_SCOPE,       /* another region or service, or a scope date not the request's */
    PLAT_AUTH_EXPIRED,     /* X-Amz-Date more than 15 minutes from now */
    PLAT_AUTH_SIGNATURE,   /* the signature does not match */
    PLAT_AUTH_DENIED,      /* the key lacks the permission */
} plat_auth_outcome;

typedef struct plat_auth_result {
    plat_auth_outcome outcome;
    const char *type; /* Lambda's error type (x-amzn-ErrorType), NULL when OK */
    char msg[320];
    char access_key[PLAT_AUTH_KEY_MAX + 1]; /* who, once parsed */
} plat_auth_result;

/* Verifies one request needing permission `need` against creds, in `region` for service
 * "lambda", at now_s (Unix seconds). Pure: the caller supplies the clock. */
void plat_auth_verify(const plat_creds *creds, const plat_sigv4_req *r, const char *authz,
                      const char *region, int64_t now_s, unsigned need, plat_auth_result *out);

/* ---- the gateway's one call ---------------------------------------------------------------- */
struct platform;
struct evhttp_request;
/* True when req may go on (no credentials configured, or it verifies); else it has been
 * answered 403 and the caller returns. */
bool plat_auth_gate(struct platform *p, struct evhttp_request *req, const char *path);
/* Loads cfg.credentials (when set) at platform start; frees them at the end. */
int plat_auth_init(struct platform *p, fm_err *err);
void plat_auth_release(struct platform *p);

#endif
