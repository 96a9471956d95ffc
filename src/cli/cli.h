/*
 * cli — the faasml binary: the subcommand table and the option parser every subcommand uses.
 * Only cli/ prints to the terminal or exits; commands return 0 ok, 1 failure, 2 usage.
 */
#ifndef FM_CLI_H
#define FM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

typedef int (*cli_cmd_fn)(int argc, char **argv);

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    cli_cmd_fn fn;
} cli_cmd;

/* Options are declared as data. `dst` points at: bool (FLAG), const char * (STR, FILE), int64_t
 * (INT), double (DOUBLE), int64_t ns (DURATION), cli_strlist (LIST, repeatable). A FILE is an
 * input that must exist ("-", builtin:... and URLs pass): a missing one is the same usage error
 * in every command (cli_need_file), and shell completion offers file names for it. */
typedef enum cli_opt_type {
    CLI_OPT_FLAG,
    CLI_OPT_STR,
    CLI_OPT_FILE,
    CLI_OPT_INT,
    CLI_OPT_DOUBLE,
    CLI_OPT_DURATION,
    CLI_OPT_LIST
} cli_opt_type;

#define CLI_LIST_MAX 64
typedef struct cli_strlist {
    const char *v[CLI_LIST_MAX];
    int n;
} cli_strlist;

typedef struct cli_opt {
    const char *name; /* long name without dashes; NULL ends the table */
    char short_name;  /* 0 for none */
    cli_opt_type type;
    void *dst;
    const char *arg; /* placeholder in --help, e.g. "HOST:PORT" */
    const char *help;
} cli_opt;

typedef struct cli_spec {
    const char *cmd;         /* "infer" */
    const char *usage;       /* "MODEL [options]" */
    const char *description; /* paragraph printed by --help */
    const cli_opt *opts;
    int min_pos, max_pos; /* positional argument bounds; max_pos < 0: unbounded */
} cli_spec;

enum { CLI_CONTINUE = 0, CLI_HELP_SHOWN = -1 };

/* Parses argv (argv[0] is the command name). On success, positional arguments are gathered at the
 * front of argv and their count stored in *npos. Returns CLI_CONTINUE, CLI_HELP_SHOWN (the command
 * returns 0), or 2 after printing a usage error. --help is always accepted. */
int cli_parse(const cli_spec *spec, int argc, char **argv, int *npos);
void cli_print_help(const cli_spec *spec);

/* Prints "faasml CMD: message" to stderr and returns code. */
int cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Every command's input files go through here, so a missing one reads the same everywhere:
 * "faasml CMD: no such file 'PATH'" and exit 2. Returns 0 when path names something readable. */
int cli_need_file(const char *cmd, const char *path);
/* cli_need_file for positional arguments 0..n-1 (stdin "-", builtin:... and URLs pass). */
int cli_need_files(const char *cmd, char *const *paths, int n);

/* A --seed value: a non-negative integer. Returns 0, or FM_EINVAL. */
int cli_parse_seed(const char *s, uint64_t *out);

/* The commands, in `faasml --help` order: name (the function is cmd_<name>, in cmd_<name>.c)
 * and summary. The one list of them: the prototypes below and the table (commands.c) expand it. */
#define CLI_COMMAND_MAP(X)                                                                         \
    X(infer, "run an ONNX model on .npy inputs, or benchmark it")                                  \
    X(quantize, "write an INT8 copy of an ONNX model (static QDQ or dynamic)")                     \
    X(fn, "the function host: Lambda Runtime API client or KServe v2/SageMaker server")            \
    X(serve, "start the serverless platform (gateway, instances, policies)")                       \
    X(deploy, "deploy a function from a YAML spec to a running platform")                          \
    X(functions, "list or remove functions on a running platform")                                 \
    X(invoke, "invoke a function on a running platform")                                           \
    X(logs, "print a function's instance logs (START/END/REPORT), --follow")                       \
    X(request, "write a request body for a model (random tensors or an image)")                    \
    X(load, "open-loop load generator (MMPP, Poisson, constant, traces)")                          \
    X(report, "latency, success ratio and cost of recorded runs; HTML reports")                    \
    X(simulate, "run platform policies on a virtual clock at cloud scale")                         \
    X(calibrate, "measure service-time models for the simulator")                                  \
    X(bench, "the study: plan, run and report an experiment spec")                                 \
    X(plan, "search the design space for the cheapest configuration under an SLO")                 \
    X(db, "inspect a results database and export its tables as CSV")                               \
    X(package, "turn a function spec into a Lambda zip, OCI image, Knative/KServe/SageMaker/SAM")  \
    X(completion, "print a bash completion script (source <(faasml completion bash))")
#define CLI_CMD_DECL(name, summary) int cmd_##name(int argc, char **argv);
CLI_COMMAND_MAP(CLI_CMD_DECL)
#undef CLI_CMD_DECL
const cli_cmd *cli_commands(int *n);

/* A command's option table as its own code declares it, for generated completion: the command
 * runs with only "--help" while the parser copies its spec here instead of printing help (the
 * copy has no dst pointers). Every command parses before doing anything, so nothing else runs.
 * Returns 0, or FM_ENOTFOUND for a command not built or one that never called cli_parse. */
#define CLI_CAPTURE_MAX 96
typedef struct cli_captured {
    const char *usage;
    cli_opt opts[CLI_CAPTURE_MAX];
    int n;
} cli_captured;
int cli_capture_opts(const cli_cmd *cmd, cli_captured *out);

/* `faasml --version`: version, commit, compiler, library versions and CPU features. */
void cli_print_version(FILE *out);

#endif
