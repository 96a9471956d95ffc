/* The subcommand table. One line per command; the function lives in cmd_<name>.c. Every command
 * function is declared weak, so a command whose file is not in the build links as NULL and says
 * "not built yet" when run, instead of pretending to work. */
#include "cli.h"

#define CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))
CMD(infer);
CMD(quantize);
CMD(fn);
CMD(serve);
CMD(deploy);
CMD(functions);
CMD(invoke);
CMD(logs);
CMD(load);
CMD(report);
CMD(simulate);
CMD(calibrate);
CMD(bench);
CMD(plan);
CMD(db);
CMD(package);
CMD(request);
CMD(completion);
#undef CMD

static const cli_cmd commands[] = {
    {"infer", "run an ONNX model on .npy inputs, or benchmark it", cmd_infer, "inference runtime"},
    {"quantize", "write an INT8 copy of an ONNX model (static QDQ or dynamic)", cmd_quantize,
     "inference runtime"},
    {"fn", "the function host: Lambda Runtime API client or KServe v2/SageMaker server", cmd_fn,
     "function host"},
    {"serve", "start the serverless platform (gateway, instances, policies)", cmd_serve,
     "platform"},
    {"deploy", "deploy a function from a YAML spec to a running platform", cmd_deploy, "platform"},
    {"functions", "list or remove functions on a running platform", cmd_functions, "platform"},
    {"invoke", "invoke a function on a running platform", cmd_invoke, "platform"},
    {"logs", "print a function's instance logs (START/END/REPORT), --follow", cmd_logs, "platform"},
    {"request", "write a request body for a model (random tensors or an image)", cmd_request,
     "function host"},
    {"load", "open-loop load generator (MMPP, Poisson, constant, traces)", cmd_load,
     "load generator"},
    {"report", "latency, success ratio and cost of recorded runs; HTML reports", cmd_report,
     "analyzer"},
    {"simulate", "run platform policies on a virtual clock at cloud scale", cmd_simulate,
     "simulator"},
    {"calibrate", "measure service-time models for the simulator", cmd_calibrate, "simulator"},
    {"bench", "the study: plan, run and report an experiment spec", cmd_bench, "main job"},
    {"plan", "search the design space for the cheapest configuration under an SLO", cmd_plan,
     "main job"},
    {"db", "inspect a results database and export its tables as CSV", cmd_db, "foundation"},
    {"package", "turn a function spec into a Lambda zip, OCI image, Knative/KServe/SageMaker/SAM",
     cmd_package, "leaving the machine"},
    {"completion", "print a bash completion script (source <(faasml completion bash))",
     cmd_completion, "cli"},
};

const cli_cmd *cli_commands(int *n)
{
    *n = (int)FM_ARRAY_LEN(commands);
    return commands;
}
