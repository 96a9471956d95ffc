/* faasml functions: list the functions of a running platform, or delete one. */
#include "cli.h"
#include "plat_client.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* Reads a JSON number field as int (0 when absent). */
static int num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

/* faasml functions: a table of the admin API's list, or --delete NAME. */
int cmd_functions(int argc, char **argv)
{
    const char *gateway = NULL, *del = NULL;
    bool json = false;
    const cli_opt opts[] = {
        {"gateway", 'g', CLI_OPT_STR, &gateway, "URL",
         "platform URL (default $FAASML_GATEWAY or http://127.0.0.1:9000)"},
        {"delete", 0, CLI_OPT_STR, &del, "NAME", "remove the function NAME (instances drain)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "print the list as JSON"},
        {0},
    };
    const cli_spec spec = {"functions",
                           "[--delete NAME] [--gateway URL] [--json]",
                           "Lists the functions deployed on a running 'faasml serve' with their "
                           "instances by state, or removes one.",
                           opts,
                           0,
                           0};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    char url[1024], ebuf[512];
    plat_http_reply r;
    if (del) {
        snprintf(url, sizeof url, "%s/admin/functions/%s", plat_gateway_url(gateway), del);
        if (plat_http("DELETE", url, NULL, 0, NULL, &r, ebuf, sizeof ebuf))
            return cli_fail("functions", 1, "%s", ebuf);
        if (r.status != 204)
            rc = cli_fail("functions", 1, "cannot delete '%s' (HTTP %ld): %s", del, r.status,
                          r.body);
        else
            printf("deleted function '%s'\n", del);
        plat_http_reply_release(&r);
        return rc;
    }
    snprintf(url, sizeof url, "%s/admin/functions", plat_gateway_url(gateway));
    if (plat_http("GET", url, NULL, 0, NULL, &r, ebuf, sizeof ebuf))
        return cli_fail("functions", 1, "%s", ebuf);
    cJSON *o = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    const cJSON *fns = cJSON_GetObjectItemCaseSensitive(o, "functions");
    if (!cJSON_IsArray(fns)) {
        rc = cli_fail("functions", 1, "unexpected answer (HTTP %ld): %s", r.status, r.body);
    } else if (json) {
        printf("%s\n", r.body);
    } else {
        printf("%-24s %-13s %7s %8s %5s %5s %5s %8s\n", "NAME", "RUNTIME", "MEMORY", "TIMEOUT",
               "IDLE", "BUSY", "START", "QUEUED");
        const cJSON *f;
        cJSON_ArrayForEach(f, fns)
        {
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(f, "instances");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "timeout_s");
            printf("%-24s %-13s %4d MB %7.2fs %5d %5d %5d %8d\n", str(f, "name"), str(f, "runtime"),
                   num(f, "memory_mb"), cJSON_IsNumber(t) ? t->valuedouble : 0, num(in, "idle"),
                   num(in, "busy"), num(in, "starting"), num(f, "queue_depth"));
        }
    }
    cJSON_Delete(o);
    plat_http_reply_release(&r);
    return rc;
}
