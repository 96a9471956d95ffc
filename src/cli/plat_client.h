/* A small HTTP client for the commands that talk to a running platform (deploy, functions,
 * invoke): core's libcurl call, one request at a time, body and chosen headers captured. */
#ifndef FM_CLI_PLAT_CLIENT_H
#define FM_CLI_PLAT_CLIENT_H

#include <stddef.h>

typedef struct plat_http_reply {
    long status;
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
    char function_error[64]; /* X-Amz-Function-Error */
    char log_result[8192];   /* X-Amz-Log-Result (base64) */
    char request_id[64];
} plat_http_reply;

/* The gateway URL: --gateway, else $FAASML_GATEWAY, else http://127.0.0.1:9000. */
const char *plat_gateway_url(const char *opt);
/* Sends method url with an optional body and extra "Name: value" headers (NULL-terminated).
 * Returns 0, or -1 with a message in errbuf when the server could not be reached. */
int plat_http(const char *method, const char *url, const char *body, size_t len,
              const char *const *headers, plat_http_reply *out, char *errbuf, size_t errcap);
void plat_http_reply_release(plat_http_reply *r);

#endif
