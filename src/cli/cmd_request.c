/* faasml request: write the request body a served model takes (random tensors or an image), as
 * KServe v2 JSON, v2 binary or a Lambda event, so `curl -d @FILE`, `faasml invoke --payload FILE`,
 * `aws lambda invoke --payload file://FILE` and `faasml load --payload FILE` have something to
 * send. The codecs are fn's; this file only reads arguments and writes the result. */
#include "cli.h"
#include "fn/fn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: MODEL is an ONNX file, a function spec (its model and preprocess block, which decide how
 * an image becomes a tensor) or a builtin handler, as `faasml fn --model/--spec` accept. */
static int open_model(const char *arg, fn_spec *spec, fn_handler **h, fm_err *err)
{
    fn_spec_init(spec);
    size_t n = strlen(arg);
    bool yaml =
        (n > 5 && strcmp(arg + n - 5, ".yaml") == 0) || (n > 4 && strcmp(arg + n - 4, ".yml") == 0);
    if (yaml) {
        int rc = fn_spec_load_file(arg, spec, err);
        if (rc)
            return rc;
    } else {
        snprintf(spec->model, sizeof spec->model, "%s", arg);
    }
    if (strncmp(spec->model, "builtin:", 8) == 0)
        return fn_handler_identity_new(spec->model + 8, h, err);
    if (strstr(spec->model, "://"))
        return fm_err_set(err, FM_EUNSUPPORTED,
                          "model '%s' is a URL: give a local copy of the model", spec->model);
    return fn_handler_onnx_new(spec->model, 1, 1, FN_PRECISION_FP32, h, err);
}

/* Why: says what was written in one line, and the one header a binary body needs to be sent. */
static void print_summary(const char *out, fn_request_format fmt, const fn_buf *b,
                          int64_t header_len, const fn_handler *h, bool image, bool json)
{
    const char *src = image ? "image" : "random";
    if (json) {
        printf("{\"path\":");
        fn_buf q = {0};
        fn_buf_json_str(&q, out);
        printf("%s,\"format\":\"%s\",\"source\":\"%s\",\"bytes\":%zu,\"header_length\":%lld,"
               "\"inputs\":%zu}\n",
               q.p ? q.p : "\"\"", fn_request_format_name(fmt), src, b->len, (long long)header_len,
               image ? (size_t)1 : h->n_inputs);
        fn_buf_release(&q);
        return;
    }
    fprintf(stderr, "wrote '%s': %s request, %zu bytes, %s %s", out, fn_request_format_name(fmt),
            b->len, src, image ? "input" : "inputs:");
    if (!image)
        for (size_t i = 0; i < h->n_inputs; i++)
            fprintf(stderr, " %s", h->inputs[i].name);
    fputc('\n', stderr);
    if (header_len >= 0)
        fprintf(stderr,
                "send it with the header 'Inference-Header-Content-Length: %lld' and "
                "Content-Type application/octet-stream\n",
                (long long)header_len);
}

int cmd_request(int argc, char **argv)
{
    const char *image = NULL, *format = "v2-json", *out = NULL;
    bool random = false, json = false;
    int64_t seed = 1, batch = 1;
    const cli_opt opts[] = {
        {"image", 0, CLI_OPT_FILE, &image, "FILE",
         "JPEG or PNG image: preprocessed as the spec says (v2 formats) or sent as base64 "
         "(lambda-event)"},
        {"random", 0, CLI_OPT_FLAG, &random, NULL,
         "random tensors for every input (the default): floats N(0,1), integers below 1000"},
        {"format", 0, CLI_OPT_STR, &format, "FORMAT",
         "v2-json (default), v2-binary (binary tensor extension) or lambda-event"},
        {"batch", 0, CLI_OPT_INT, &batch, "N", "items in the batch dimension (default 1)"},
        {"seed", 0, CLI_OPT_INT, &seed, "N", "seed of the random tensors (default 1)"},
        {"output", 'o', CLI_OPT_STR, &out, "FILE", "write the body to FILE (default stdout)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "print what was written as JSON (with -o)"},
        {0},
    };
    const cli_spec spec = {
        "request",
        "MODEL [--image FILE | --random] [--format FORMAT] [-o FILE]",
        "Writes a request body for MODEL (an .onnx file, a function spec .yaml whose preprocess "
        "block says how an image becomes a tensor, or builtin:identity:DTYPE:DIMS), built from "
        "the model's declared inputs: variable dimensions are the batch (dim 0) or 1. The same "
        "seed gives the same bytes. A v2-binary body needs the header "
        "Inference-Header-Content-Length, which is printed.",
        opts,
        1,
        1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("request", argv, npos)))
        return rc;
    fn_request_opts o = {.seed = (uint64_t)seed, .batch = batch};
    if (fn_request_format_parse(format, &o.format))
        return cli_fail("request", 2,
                        "unknown format '%s' (known: v2-json, v2-binary, lambda-event)", format);
    if (image && random)
        return cli_fail("request", 2, "--image and --random exclude each other");
    if (batch < 1)
        return cli_fail("request", 2, "--batch must be at least 1, got %lld", (long long)batch);
    fm_err err = {0};
    char *img = NULL;
    size_t img_len = 0;
    if (image && fm_read_file(image, &img, &img_len, &err))
        return cli_fail("request", 2, "%s", err.msg);
    o.image = img;
    o.image_len = img_len;
    fn_spec fs;
    fn_handler *h = NULL;
    if (open_model(argv[0], &fs, &h, &err)) {
        free(img);
        return cli_fail("request", 2, "%s", err.msg);
    }
    o.pre = &fs.pre;
    fn_buf b = {0};
    int64_t header_len = -1;
    rc = fn_request_build(h, &o, &b, &header_len, &err);
    free(img);
    if (rc) {
        fn_handler_free(h);
        fn_buf_release(&b);
        return cli_fail("request", 2, "%s", err.msg);
    }
    if (out && strcmp(out, "-") != 0) {
        if (fm_write_file_atomic(out, b.p, b.len, &err))
            rc = cli_fail("request", 1, "%s", err.msg);
        else
            print_summary(out, o.format, &b, header_len, h, image != NULL, json);
    } else {
        if (fwrite(b.p, 1, b.len, stdout) != b.len)
            rc = cli_fail("request", 1, "cannot write the body to stdout");
        if (header_len >= 0)
            fprintf(stderr, "Inference-Header-Content-Length: %lld\n", (long long)header_len);
    }
    fn_handler_free(h);
    fn_buf_release(&b);
    return rc;
}
