/* faasml: one binary, subcommands in a table (commands.c). Invoked as `bootstrap` it runs the
 * function host, so the same file is a custom runtime on AWS Lambda. */
#include "cli.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sys/prctl.h>

/* Why: LeakSanitizer stops the world with ptrace, which an instance's sandbox denies (seccomp), so
 * in a sandboxed instance it ends in a fatal error instead of a report. LeakSanitizer asks this
 * hook at exit; the same code is leak-checked wherever it runs unsandboxed (fn, infer, the unit
 * tests). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return prctl(PR_GET_SECCOMP) == 2;
}
#endif

/* Why: the command list is generated from the table, so it never goes stale. */
static void usage(FILE *out)
{
    int n;
    const cli_cmd *cmds = cli_commands(&n);
    fprintf(out, "usage: faasml <command> [options]\n\n"
                 "faasml is serverless model serving, measured.\n\ncommands:\n");
    for (int i = 0; i < n; i++)
        fprintf(out, "  %-11s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(out, "\n'faasml <command> --help' documents each command's options.\n");
}

/* Why: dispatch by name; exit codes 0 ok, 1 failure, 2 usage, as DESIGN.md says. */
int main(int argc, char **argv)
{
    int n;
    const cli_cmd *cmds = cli_commands(&n);
    const char *self = strrchr(argv[0], '/');
    self = self ? self + 1 : argv[0];
    if (strcmp(self, "bootstrap") == 0) /* a Lambda custom runtime's entry point */
        return cmd_fn(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    char *help_argv[] = {argv[0], argc > 2 ? argv[2] : NULL, "--help", NULL};
    if (argc > 2 && strcmp(argv[1], "help") == 0) { /* `help CMD` is `CMD --help` */
        argc = 3;
        argv = help_argv;
    } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
               strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        cli_print_version(stdout);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(cmds[i].name, argv[1]) != 0)
            continue;
        return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "faasml: '%s' is not a faasml command (see 'faasml --help')\n", argv[1]);
    return 2;
}
