/* The HTTP client of deploy, functions and invoke: core's fm_http_call, with the reply in the
 * shape the commands print. */
#include "plat_client.h"
#include "core/http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which platform the client commands talk to. */
const char *plat_gateway_url(const char *opt)
{
    const char *env = getenv("FAASML_GATEWAY");
    if (opt && *opt)
        return opt;
    return env && *env ? env : "http://127.0.0.1:9000";
}

/* One blocking HTTP exchange through core's client; enough for the client commands. */
int plat_http(const char *method, const char *url, const char *body, size_t len,
              const char *const *headers, plat_http_reply *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof *out);
    fm_http_req q = {.method = method, .url = url, .body = body, .len = len, .headers = headers};
    /* A platform started with --credentials verifies SigV4; sign with the AWS SDKs' variables. */
    const char *key = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (key && *key && secret && *secret) {
        q.sigv4_key = key;
        q.sigv4_secret = secret;
        q.sigv4_region = region && *region ? region : NULL;
    }
    fm_http_reply r;
    fm_err err = {0};
    int rc = fm_http_call(&q, &r, &err);
    if (rc) {
        /* Why: "connection refused" alone leaves a newcomer guessing; the likely cause is a
         * platform that is not running, or running on another port than this command uses. */
        const char *host = strstr(url, "://");
        host = host ? host + 3 : url;
        int hl = (int)strcspn(host, "/");
        bool refused = rc == -ECONNREFUSED; /* core names a refused connection by its errno */
        snprintf(errbuf, errcap, "%s%s%.*s%s", err.msg,
                 refused ? " (is `faasml serve` running on " : "", refused ? hl : 0, host,
                 refused ? "? start it, or name its URL with --gateway or $FAASML_GATEWAY)" : "");
    }
    out->status = r.status;
    out->len = r.body.len;
    out->body = fm_buf_take(&r.body);
    snprintf(out->function_error, sizeof out->function_error, "%s", r.function_error);
    snprintf(out->log_result, sizeof out->log_result, "%s", r.log_result);
    snprintf(out->request_id, sizeof out->request_id, "%s", r.request_id);
    fm_http_reply_release(&r);
    return rc ? -1 : 0;
}

/* Frees the reply body. */
void plat_http_reply_release(plat_http_reply *r)
{
    free(r->body);
    r->body = NULL;
}
