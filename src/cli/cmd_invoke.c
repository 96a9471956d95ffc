/* faasml invoke: call a function through the Lambda Invoke API of a running platform. */
#include "cli.h"
#include "plat_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* faasml invoke: one Invoke API call; exit 1 on a function error or a non-200. */
int cmd_invoke(int argc, char **argv)
{
    const char *gateway = NULL, *payload = NULL, *out = NULL;
    bool event = false, tail = false;
    const cli_opt opts[] = {
        {"payload", 0, CLI_OPT_FILE, &payload, "FILE",
         "JSON event (file; '-' for stdin; "
         "default {})"},
        {"gateway", 'g', CLI_OPT_STR, &gateway, "URL",
         "platform URL (default $FAASML_GATEWAY or http://127.0.0.1:9000)"},
        {"event", 0, CLI_OPT_FLAG, &event, NULL, "asynchronous invocation (Event): queued, 202"},
        {"tail", 0, CLI_OPT_FLAG, &tail, NULL, "print the last 4 KB of the log to stderr"},
        {"output", 'o', CLI_OPT_STR, &out, "FILE", "write the response to FILE (default stdout)"},
        {0},
    };
    const cli_spec spec = {"invoke",
                           "NAME [--payload FILE] [--gateway URL]",
                           "Invokes a function through the Lambda Invoke API and prints its "
                           "response. Exits 1 on a function error (X-Amz-Function-Error), a "
                           "throttle or any other failure.",
                           opts,
                           1,
                           1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    char *body = NULL;
    size_t len = 0;
    fm_err err = {0};
    if (payload && strcmp(payload, "-") == 0)
        payload = "/dev/stdin";
    if (payload && fm_read_file(payload, &body, &len, &err))
        return cli_fail("invoke", 2, "%s", err.msg);
    char url[1024], ebuf[512];
    snprintf(url, sizeof url, "%s/2015-03-31/functions/%s/invocations", plat_gateway_url(gateway),
             argv[0]);
    const char *hdr[] = {event ? "X-Amz-Invocation-Type: Event"
                               : "X-Amz-Invocation-Type: RequestResponse",
                         tail ? "X-Amz-Log-Type: Tail" : "X-Amz-Log-Type: None",
                         "Content-Type: application/json", NULL};
    plat_http_reply r;
    rc = plat_http("POST", url, body ? body : "{}", body ? len : 2, hdr, &r, ebuf, sizeof ebuf);
    free(body);
    if (rc)
        return cli_fail("invoke", 1, "%s", ebuf);
    uint8_t *log;
    size_t log_len;
    if (tail && r.log_result[0] &&
        fm_base64_decode(r.log_result, strlen(r.log_result), &log, &log_len, NULL) == 0) {
        fwrite(log, 1, log_len, stderr);
        free(log);
    }
    if (r.status == 202) {
        printf("accepted (request %s)\n", r.request_id);
    } else if (r.status != 200) {
        rc = cli_fail("invoke", 1, "HTTP %ld: %s", r.status, r.body);
    } else {
        FILE *f = out ? fopen(out, "wb") : stdout;
        if (!f) {
            plat_http_reply_release(&r);
            return cli_fail("invoke", 1, "cannot write '%s'", out);
        }
        fwrite(r.body, 1, r.len, f);
        if (!out && r.len && r.body[r.len - 1] != '\n')
            fputc('\n', f);
        if (out)
            fclose(f);
        if (r.function_error[0])
            rc = cli_fail("invoke", 1, "function error (%s)", r.function_error);
    }
    plat_http_reply_release(&r);
    return rc;
}
