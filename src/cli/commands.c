/* The subcommand table. One line per command; the function lives in cmd_<name>.c. A command whose
 * capability has not landed has fn = NULL and says so when run. */
#include "cli.h"

int cmd_db(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_functions(int argc, char **argv);
int cmd_invoke(int argc, char **argv);

static const cli_cmd commands[] = {
    {"infer", "run an ONNX model on .npy inputs, or benchmark it", NULL, "inference runtime"},
    {"fn", "the function host: Lambda Runtime API client or KServe v2/SageMaker server", NULL,
     "function host"},
    {"serve", "start the serverless platform (gateway, instances, policies)", cmd_serve, NULL},
    {"deploy", "deploy a function from a YAML spec to a running platform", cmd_deploy, NULL},
    {"functions", "list or remove functions on a running platform", cmd_functions, NULL},
    {"invoke", "invoke a function on a running platform", cmd_invoke, NULL},
    {"load", "open-loop load generator (MMPP, Poisson, constant, traces)", NULL,
     "load generator"},
    {"report", "latency, success ratio and cost of recorded runs; HTML reports", NULL,
     "analyzer"},
    {"simulate", "run platform policies on a virtual clock at cloud scale", NULL, "simulator"},
    {"calibrate", "measure service-time models for the simulator", NULL, "simulator"},
    {"bench", "the study: plan, run and report an experiment spec", NULL, "main job"},
    {"plan", "search the design space for the cheapest configuration under an SLO", NULL,
     "main job"},
    {"db", "inspect a results database and export its tables as CSV", cmd_db, NULL},
};

const cli_cmd *cli_commands(int *n)
{
    *n = (int)FM_ARRAY_LEN(commands);
    return commands;
}
