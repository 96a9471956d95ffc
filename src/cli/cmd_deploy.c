/* faasml deploy: send a function spec (YAML) to a running platform's admin API. */
#include "cli.h"
#include "plat_client.h"
#include "platform/platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* faasml deploy: validate locally (file:line:col errors), then PUT to the admin API. */
int cmd_deploy(int argc, char **argv)
{
    const char *gateway = NULL;
    bool json = false;
    const cli_opt opts[] = {
        {"gateway", 'g', CLI_OPT_STR, &gateway, "URL",
         "platform URL (default $FAASML_GATEWAY or http://127.0.0.1:9000)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "print the deployed function as JSON"},
        {0},
    };
    const cli_spec spec = {
        "deploy",
        "SPEC.yaml [--gateway URL]",
        "Validates a function spec (name, runtime: custom with bootstrap | builtin-onnx with "
        "model | image with a container image in podman's storage, memory_mb, timeout_s, "
        "environment, reserved_concurrency, provisioned_concurrency, "
        "keep_alive, profile: lambda|gcf|managed|server, platform, policy overrides, batch: "
        "{max_size, max_delay_ms}, cold_start: exec|zygote) and deploys it to a running "
        "'faasml serve'. Deploying a name that "
        "exists updates it: new instances use the new spec, old ones drain. Relative paths are "
        "taken from the spec's directory. See docs/platform.md.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("deploy", argv, npos)))
        return rc;
    platform_spec fs;
    fm_err err = {0};
    if (platform_spec_load_yaml(argv[0], &fs, &err))
        return cli_fail("deploy", 2, "%s", err.msg);
    char *body = platform_spec_to_json(&fs);
    char url[1024], ebuf[512];
    snprintf(url, sizeof url, "%s/admin/functions/%s", plat_gateway_url(gateway), fs.name);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    plat_http_reply r;
    rc = body ? plat_http("PUT", url, body, strlen(body), hdr, &r, ebuf, sizeof ebuf) : -1;
    free(body);
    if (rc) {
        platform_spec_release(&fs);
        return cli_fail("deploy", 1, "%s", body ? ebuf : "out of memory");
    }
    if (r.status != 200 && r.status != 201) {
        rc = cli_fail("deploy", r.status == 400 ? 2 : 1, "cannot deploy '%s' (HTTP %ld): %s",
                      fs.name, r.status, r.body);
    } else if (json) {
        printf("%s\n", r.body);
    } else {
        printf("%s function '%s'\n", r.status == 201 ? "created" : "updated", fs.name);
    }
    platform_spec_release(&fs);
    plat_http_reply_release(&r);
    return rc;
}
