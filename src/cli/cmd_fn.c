/* faasml fn (also run as `bootstrap`): the function host, in Runtime API mode or HTTP mode. */
#include "cli.h"
#include "core/http.h"
#include "fn/fn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: the ready callback is where the init line and the ready line reach the terminal. */
static void print_ready(void *ud, const char *init_json, const char *url)
{
    fprintf(stderr, "FAASML_INIT %s\n", init_json);
    fflush(stderr);
    if (url) {
        printf("listening on %s\n", url);
        fflush(stdout);
    }
}

/* Why: "HOST:PORT" or "[V6]:PORT"; port 0 picks a free port. */
static int parse_listen(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    int64_t p;
    if (!colon || fm_parse_i64(colon + 1, &p) || p < 0 || p > 65535)
        return -1;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
        h++, n -= 2;
    if (n == 0 || n >= cap)
        return -1;
    snprintf(host, cap, "%.*s", (int)n, h);
    *port = (int)p;
    return 0;
}

/* Why: a relative _HANDLER is relative to the function's task root, as Lambda defines it. */
static void handler_path(char *out, size_t cap, const char *handler)
{
    const char *root = getenv("LAMBDA_TASK_ROOT");
    if (handler[0] == '/' || strstr(handler, "://") || !root || !*root)
        snprintf(out, cap, "%s", handler);
    else
        snprintf(out, cap, "%s/%s", root, handler);
}

static bool is_yaml(const char *p)
{
    size_t n = strlen(p);
    return (n > 5 && strcmp(p + n - 5, ".yaml") == 0) || (n > 4 && strcmp(p + n - 4, ".yml") == 0);
}

/* Why: in Runtime API mode a configuration error is also Lambda's init error (POST
 * /runtime/init/error), so it shows in the invocation result, not only in the logs. */
static int config_fail(bool lambda, const char *api, const fn_spec *fs, const fn_run_opts *ro,
                       fm_err *err)
{
    if (!lambda)
        return cli_fail("fn", 2, "%s", err->msg);
    fm_err cause = *err;
    fn_run_opts o = *ro;
    o.config_error = &cause;
    fn_lambda_run(fs, api, &o, err);
    return cli_fail("fn", 1, "%s", err->msg);
}

int cmd_fn(int argc, char **argv)
{
    const char *model = NULL, *spec_path = NULL, *listen = NULL, *name = NULL, *task_dir = NULL;
    const char *size = NULL, *mean = NULL, *std = NULL, *layout = NULL, *labels = NULL;
    const char *output = NULL, *log_level = NULL, *precision = NULL;
    int64_t threads = 0, max_batch = 0, channels = 0, topk = -1, max_events = 0, max_body = 0;
    int64_t max_header = 0, max_conns = 0, header_timeout = 0, idle_timeout = 0;
    double scale = -1;
    bool no_warmup = false, softmax = false;
    const cli_opt opts[] = {
        {"model", 'm', CLI_OPT_STR, &model, "PATH|URL",
         "ONNX model: a path, a file:// or http(s):// URL (copied into the task directory at "
         "init), or builtin:identity[:DTYPE[:D0xD1..]] (a test handler that echoes its input)"},
        {"spec", 's', CLI_OPT_STR, &spec_path, "FILE",
         "function spec (YAML; see docs/function-host.md)"},
        {"listen", 'l', CLI_OPT_STR, &listen, "HOST:PORT",
         "HTTP mode on HOST:PORT (port 0 picks one; default with $PORT: 127.0.0.1:$PORT)"},
        {"name", 0, CLI_OPT_STR, &name, "NAME", "model name in KServe paths (default: file name)"},
        {"threads", 0, CLI_OPT_INT, &threads, "N", "inference threads (default 1)"},
        {"max-batch", 0, CLI_OPT_INT, &max_batch, "N", "batch size the memory plan is sized for"},
        {"precision", 0, CLI_OPT_STR, &precision, "fp32|bf16|int8",
         "arithmetic (default fp32, or $FAASML_PRECISION); int8 needs a quantized model "
         "(faasml quantize)"},
        {"no-warmup", 0, CLI_OPT_FLAG, &no_warmup, NULL, "skip the warm-up inference at init"},
        {"task-dir", 0, CLI_OPT_STR, &task_dir, "DIR",
         "where model URLs are copied (default $FAASML_TASK_DIR or /tmp)"},
        {"size", 0, CLI_OPT_STR, &size, "HxW", "images: resize to H x W (default: model's)"},
        {"channels", 0, CLI_OPT_INT, &channels, "1|3", "images: grayscale or RGB (default 3)"},
        {"mean", 0, CLI_OPT_STR, &mean, "M[,M,M]", "images: per-channel mean after scaling"},
        {"std", 0, CLI_OPT_STR, &std, "S[,S,S]", "images: per-channel std after scaling"},
        {"scale", 0, CLI_OPT_DOUBLE, &scale, "X", "images: pixel (0..255) multiplier (1/255)"},
        {"layout", 0, CLI_OPT_STR, &layout, "NCHW|NHWC", "images: tensor layout (default NCHW)"},
        {"topk", 'k', CLI_OPT_INT, &topk, "K", "images: answer with the K best classes"},
        {"softmax", 0, CLI_OPT_FLAG, &softmax, NULL, "top-k scores are softmax probabilities"},
        {"output", 0, CLI_OPT_STR, &output, "NAME", "top-k reads this output (default: first)"},
        {"labels", 0, CLI_OPT_STR, &labels, "FILE", "top-k class labels, one per line"},
        {"max-body", 0, CLI_OPT_INT, &max_body, "BYTES",
         "HTTP mode: largest request body, larger ones get 413 (default 64 MiB)"},
        {"max-header", 0, CLI_OPT_INT, &max_header, "BYTES",
         "HTTP mode: largest request line plus headers (default 64 KiB)"},
        {"max-connections", 0, CLI_OPT_INT, &max_conns, "N",
         "HTTP mode: client connections at once; past it 503 (default 3/4 of the open-files "
         "limit)"},
        {"header-timeout", 0, CLI_OPT_DURATION, &header_timeout, "DUR",
         "HTTP mode: a new connection's request must arrive within DUR (default 30s)"},
        {"idle-timeout", 0, CLI_OPT_DURATION, &idle_timeout, "DUR",
         "HTTP mode: close keep-alive connections idle for DUR (default 16m)"},
        {"max-events", 0, CLI_OPT_INT, &max_events, "N",
         "Runtime API mode: exit 0 after N events (default: serve forever)"},
        {"log-level", 0, CLI_OPT_STR, &log_level, "LEVEL", "debug, info, warn, error, off"},
        {0},
    };
    const cli_spec spec = {
        "fn",
        "[--model PATH|URL | --spec FILE] [--listen HOST:PORT] [options] [serve]",
        "The function host: serves one ONNX model.\n\n"
        "Runtime API mode (AWS Lambda custom runtime; also when run as 'bootstrap'): when "
        "$AWS_LAMBDA_RUNTIME_API is set and --listen is not given. Events are KServe v2 "
        "requests, {\"image\": BASE64} / {\"images\": [...]}, or API Gateway proxy events. "
        "Without flags the model comes from $FAASML_SPEC, $FAASML_MODEL or $_HANDLER (relative "
        "to $LAMBDA_TASK_ROOT; a .yaml handler is a spec).\n\n"
        "HTTP mode: with --listen or $PORT. KServe v2 REST (/v2/health/{live,ready}, "
        "/v2/models/NAME[/ready|/infer], binary tensor extension), SageMaker (GET /ping, "
        "POST /invocations), Knative ($PORT, SIGTERM drains). Prints 'listening on URL' first. "
        "The argument 'serve' (how SageMaker starts a container: `docker run IMAGE serve`) is "
        "HTTP mode on 0.0.0.0:8080 unless --listen says otherwise.\n\n"
        "Zygote mode (started by 'faasml serve' for cold_start: zygote): with $FAASML_ZYGOTE_FD, "
        "a control socket. Loads the model once, then forks a ready Runtime API instance per "
        "request on the socket (docs/platform.md).\n\n"
        "Both modes print the init phases to stderr as one line:\n"
        "  FAASML_INIT {\"runtime_ms\":..,\"download_ms\":..,\"load_ms\":..,\"plan_ms\":..,"
        "\"warmup_ms\":..,\"init_ms\":..}",
        opts,
        0,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    bool sagemaker = npos == 1 && strcmp(argv[0], "serve") == 0;
    if (npos == 1 && !sagemaker)
        return cli_fail("fn", 2, "unknown argument '%s' (only 'serve', SageMaker's, is taken)",
                        argv[0]);
    if (sagemaker && !listen)
        listen = "0.0.0.0:8080"; /* SageMaker's container contract: port 8080 */
    if (log_level) {
        fm_log_level lv;
        if (fm_log_level_parse(log_level, &lv))
            return cli_fail("fn", 2, "invalid --log-level '%s'", log_level);
        fm_log_set_level(lv);
    }

    fm_err err = {0};
    fn_spec fs;
    fn_spec_init(&fs);
    if (max_body < 0 || max_events < 0)
        return cli_fail("fn", 2, "--max-body and --max-events must not be negative");
    fm_http_limits lim;
    fm_http_limits_default(&lim);
    if (max_header)
        lim.max_header_bytes = (size_t)FM_MAX(max_header, 0);
    if (max_conns < 0 || max_conns > 1 << 20)
        return cli_fail("fn", 2, "--max-connections must be in [1, 1048576]");
    lim.max_connections = (int)max_conns;
    if (header_timeout)
        lim.header_timeout_ns = header_timeout;
    if (idle_timeout)
        lim.idle_timeout_ns = idle_timeout;
    if (fm_http_limits_check(&lim, &err))
        return cli_fail("fn", 2, "%s", err.msg);
    fm_nofile_raise(NULL, NULL);
    fn_run_opts ro = {.on_ready = print_ready,
                      .max_events = max_events,
                      .max_body = (size_t)max_body,
                      .limits = &lim};
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *port_env = getenv("PORT");
    bool http = listen || (port_env && *port_env && !(api && *api));
    bool lambda = !http && api && *api;
    const char *handler = getenv("_HANDLER");
    char hpath[4096] = "";
    if (!spec_path && !model && handler && *handler)
        handler_path(hpath, sizeof hpath, handler);
    if (!spec_path)
        spec_path = getenv("FAASML_SPEC");
    if (!spec_path && hpath[0] && is_yaml(hpath))
        spec_path = hpath;
    if (spec_path && *spec_path && fn_spec_load_file(spec_path, &fs, &err))
        return config_fail(lambda, api, &fs, &ro, &err);
    if (!model && !fs.model[0])
        model = getenv("FAASML_MODEL");
    if (!model && !fs.model[0] && hpath[0] && !is_yaml(hpath))
        model = hpath;
    if (model)
        snprintf(fs.model, sizeof fs.model, "%s", model);
    if (!fs.model[0]) {
        fm_err_set(&err, FM_EINVAL,
                   "no model: give --model, --spec, $FAASML_SPEC, $FAASML_MODEL or $_HANDLER");
        return config_fail(lambda, api, &fs, &ro, &err);
    }
    if (name)
        snprintf(fs.name, sizeof fs.name, "%s", name);
    if (task_dir)
        snprintf(fs.task_dir, sizeof fs.task_dir, "%s", task_dir);
    if (!threads && getenv("FAASML_THREADS") && fm_parse_i64(getenv("FAASML_THREADS"), &threads)) {
        fm_err_set(&err, FM_EINVAL, "invalid $FAASML_THREADS '%s'", getenv("FAASML_THREADS"));
        return config_fail(lambda, api, &fs, &ro, &err);
    }
    if (threads < 0 || threads > 256 || max_batch < 0 || max_batch > 65536)
        return cli_fail("fn", 2, "--threads must be in [1, 256] and --max-batch in [1, 65536]");
    if (threads)
        fs.threads = (int)threads;
    if (!precision && getenv("FAASML_PRECISION") && *getenv("FAASML_PRECISION"))
        precision = getenv("FAASML_PRECISION");
    if (precision && fn_precision_parse(precision, &fs.precision)) {
        fm_err_set(&err, FM_EINVAL, "invalid precision '%s' (want fp32, bf16 or int8)", precision);
        return config_fail(lambda, api, &fs, &ro, &err);
    }
    if (max_batch)
        fs.max_batch = (int)max_batch;
    if (no_warmup)
        fs.warmup = false;
    if (size) {
        int h, w;
        char tail;
        if (sscanf(size, "%dx%d%c", &h, &w, &tail) != 2 || h < 1 || w < 1 || h > 16384 || w > 16384)
            return cli_fail("fn", 2, "invalid --size '%s' (want HxW, e.g. 224x224)", size);
        fs.pre.height = h;
        fs.pre.width = w;
        fs.pre.set = true;
    }
    if (channels) {
        if (channels != 1 && channels != 3)
            return cli_fail("fn", 2, "--channels must be 1 or 3");
        fs.pre.channels = (int)channels;
    }
    if ((mean && fn_spec_parse_floats(mean, fs.pre.mean, 3, &err)) ||
        (std && fn_spec_parse_floats(std, fs.pre.std, 3, &err)))
        return cli_fail("fn", 2, "%s", err.msg);
    if (std && (fs.pre.std[0] == 0 || fs.pre.std[1] == 0 || fs.pre.std[2] == 0))
        return cli_fail("fn", 2, "--std must not be 0");
    if (scale >= 0)
        fs.pre.scale = scale;
    if (layout && fn_layout_parse(layout, &fs.pre.layout))
        return cli_fail("fn", 2, "--layout must be NCHW or NHWC, not '%s'", layout);
    if (topk >= 0) {
        if (topk < 1 || topk > 1000)
            return cli_fail("fn", 2, "--topk must be in [1, 1000]");
        fs.post.topk = (int)topk;
    }
    if (softmax)
        fs.post.softmax = true;
    if (output)
        snprintf(fs.post.output, sizeof fs.post.output, "%s", output);
    if (labels)
        snprintf(fs.post.labels, sizeof fs.post.labels, "%s", labels);

    char host[256] = "127.0.0.1";
    int port = 0;
    if (http) {
        char spec_listen[300];
        if (!listen) {
            /* $FAASML_HOST: a container image binds every address (faasml package sets it). */
            const char *h = getenv("FAASML_HOST");
            snprintf(spec_listen, sizeof spec_listen, "%s:%s", h && *h ? h : "127.0.0.1", port_env);
            listen = spec_listen;
        }
        if (parse_listen(listen, host, sizeof host, &port))
            return cli_fail("fn", 2, "invalid listen address '%s' (want HOST:PORT)", listen);
        rc = fn_http_run(&fs, host, port, &ro, &err);
    } else if (getenv("FAASML_ZYGOTE_FD") && *getenv("FAASML_ZYGOTE_FD")) {
        /* Started by `faasml serve` for a cold_start: zygote function (docs/platform.md). */
        int64_t fd;
        if (fm_parse_i64(getenv("FAASML_ZYGOTE_FD"), &fd) || fd < 3 || fd > 1 << 20)
            return cli_fail("fn", 2, "invalid $FAASML_ZYGOTE_FD '%s'", getenv("FAASML_ZYGOTE_FD"));
        unsetenv("FAASML_ZYGOTE_FD");
        rc = fn_zygote_run(&fs, (int)fd, &ro, &err);
    } else if (lambda) {
        rc = fn_lambda_run(&fs, api, &ro, &err);
    } else {
        return cli_fail("fn", 2,
                        "nothing to serve on: give --listen HOST:PORT, set $PORT, or run "
                        "under the Lambda Runtime API ($AWS_LAMBDA_RUNTIME_API)");
    }
    if (rc)
        return cli_fail("fn", 1, "%s", err.msg);
    return 0;
}
