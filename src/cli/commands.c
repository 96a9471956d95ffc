/* The subcommand table. One line per command; the function lives in cmd_<name>.c. */
#include "cli.h"

static const cli_cmd commands[] = {
    {"infer", "run an ONNX model on .npy inputs, or benchmark it", cmd_infer},
    {"quantize", "write an INT8 copy of an ONNX model (static QDQ or dynamic)", cmd_quantize},
    {"fn", "the function host: Lambda Runtime API client or KServe v2/SageMaker server", cmd_fn},
    {"serve", "start the serverless platform (gateway, instances, policies)", cmd_serve},
    {"deploy", "deploy a function from a YAML spec to a running platform", cmd_deploy},
    {"functions", "list or remove functions on a running platform", cmd_functions},
    {"invoke", "invoke a function on a running platform", cmd_invoke},
    {"logs", "print a function's instance logs (START/END/REPORT), --follow", cmd_logs},
    {"request", "write a request body for a model (random tensors or an image)", cmd_request},
    {"load", "open-loop load generator (MMPP, Poisson, constant, traces)", cmd_load},
    {"report", "latency, success ratio and cost of recorded runs; HTML reports", cmd_report},
    {"simulate", "run platform policies on a virtual clock at cloud scale", cmd_simulate},
    {"calibrate", "measure service-time models for the simulator", cmd_calibrate},
    {"bench", "the study: plan, run and report an experiment spec", cmd_bench},
    {"plan", "search the design space for the cheapest configuration under an SLO", cmd_plan},
    {"db", "inspect a results database and export its tables as CSV", cmd_db},
    {"package", "turn a function spec into a Lambda zip, OCI image, Knative/KServe/SageMaker/SAM",
     cmd_package},
    {"completion", "print a bash completion script (source <(faasml completion bash))",
     cmd_completion},
};

const cli_cmd *cli_commands(int *n)
{
    *n = (int)FM_ARRAY_LEN(commands);
    return commands;
}
