/* The option parser: options declared as data (cli_opt tables), GNU-style long and short forms. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Inputs that are not local files: stdin, builtin handlers, URLs. */
static bool cli_is_remote(const char *path)
{
    return strcmp(path, "-") == 0 || strncmp(path, "builtin:", 8) == 0 || strstr(path, "://");
}

static cli_captured *capture; /* set only inside cli_capture_opts */
static bool captured;

static void capture_spec(const cli_spec *spec)
{
    capture->usage = spec->usage;
    capture->n = 0;
    for (const cli_opt *o = spec->opts; o && o->name && capture->n < CLI_CAPTURE_MAX; o++) {
        capture->opts[capture->n] = *o;
        capture->opts[capture->n++].dst = NULL;
    }
    captured = true;
}

int cli_capture_opts(const cli_cmd *cmd, cli_captured *out)
{
    if (!cmd->fn)
        return FM_ENOTFOUND;
    char name[64], help[] = "--help";
    snprintf(name, sizeof name, "%s", cmd->name);
    char *argv[] = {name, help, NULL};
    memset(out, 0, sizeof *out);
    capture = out;
    captured = false;
    cmd->fn(2, argv);
    capture = NULL;
    return captured ? 0 : FM_ENOTFOUND;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char c)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

/* Why: one conversion per option type, with the same message for every bad value. */
static int set_value(const cli_spec *spec, const cli_opt *o, const char *val)
{
    switch (o->type) {
    case CLI_OPT_FLAG: *(bool *)o->dst = true; return 0;
    case CLI_OPT_STR: *(const char **)o->dst = val; return 0;
    case CLI_OPT_FILE:
        *(const char **)o->dst = val;
        return cli_is_remote(val) ? 0 : cli_need_file(spec->cmd, val);
    case CLI_OPT_INT:
        if (fm_parse_i64(val, (int64_t *)o->dst) == 0)
            return 0;
        break;
    case CLI_OPT_DOUBLE:
        if (fm_parse_double(val, (double *)o->dst) == 0)
            return 0;
        break;
    case CLI_OPT_DURATION:
        if (fm_parse_duration_ns(val, (int64_t *)o->dst) == 0)
            return 0;
        break;
    case CLI_OPT_LIST: {
        cli_strlist *l = o->dst;
        if (l->n >= CLI_LIST_MAX)
            return cli_fail(spec->cmd, 2, "too many --%s options (at most %d)", o->name,
                            CLI_LIST_MAX);
        l->v[l->n++] = val;
        return 0;
    }
    }
    return cli_fail(spec->cmd, 2, "invalid value '%s' for --%s", val, o->name);
}

/* Why: --help is generated from the option table, so it documents every option. */
void cli_print_help(const cli_spec *spec)
{
    printf("usage: faasml %s %s\n\n", spec->cmd, spec->usage);
    if (spec->description)
        printf("%s\n\n", spec->description);
    printf("options:\n");
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char left[64];
        int n = 0;
        if (o->short_name)
            n = snprintf(left, sizeof left, "-%c, ", o->short_name);
        else
            n = snprintf(left, sizeof left, "    ");
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "    --help", "show this help");
}

/* Why: GNU-style --long, --long=value, -s value and -- for every command alike. */
int cli_parse(const cli_spec *spec, int argc, char **argv, int *npos)
{
    int np = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            argv[np++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (capture) {
                capture_spec(spec);
                return CLI_HELP_SHOWN;
            }
            cli_print_help(spec);
            return CLI_HELP_SHOWN;
        }
        const cli_opt *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            o = find_long(spec->opts, a + 2, len);
            if (!o)
                return cli_fail(spec->cmd, 2, "unknown option '%.*s' (see --help)", (int)len + 2,
                                a);
            if (eq) {
                if (o->type == CLI_OPT_FLAG)
                    return cli_fail(spec->cmd, 2, "option '--%s' takes no value", o->name);
                val = eq + 1;
            }
        } else {
            o = find_short(spec->opts, a[1]);
            if (!o || a[2])
                return cli_fail(spec->cmd, 2, "unknown option '%s' (see --help)", a);
        }
        if (o->type != CLI_OPT_FLAG && !val) {
            if (i + 1 >= argc)
                return cli_fail(spec->cmd, 2, "option '--%s' needs a value", o->name);
            val = argv[++i];
        }
        int rc = set_value(spec, o, val);
        if (rc)
            return rc;
    }
    if (np < spec->min_pos)
        return cli_fail(spec->cmd, 2, "missing argument: usage: faasml %s %s", spec->cmd,
                        spec->usage);
    if (spec->max_pos >= 0 && np > spec->max_pos)
        return cli_fail(spec->cmd, 2, "unexpected argument '%s': usage: faasml %s %s",
                        argv[spec->max_pos], spec->cmd, spec->usage);
    argv[np] = NULL;
    *npos = np;
    return CLI_CONTINUE;
}

/* Why: every command error has the same "faasml CMD: message" shape. */
int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "faasml %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Why: one wording and one exit code (2: invalid input) for a missing input in every command. */
int cli_need_file(const char *cmd, const char *path)
{
    if (access(path, R_OK) == 0)
        return 0;
    if (errno == ENOENT || errno == ENOTDIR)
        return cli_fail(cmd, 2, "no such file '%s'", path);
    return cli_fail(cmd, 2, "cannot read '%s': %s", path, strerror(errno));
}

int cli_parse_seed(const char *s, uint64_t *out)
{
    int64_t v;
    if (fm_parse_i64(s, &v) || v < 0)
        return FM_EINVAL;
    *out = (uint64_t)v;
    return 0;
}

int cli_need_files(const char *cmd, char *const *paths, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = cli_is_remote(paths[i]) ? 0 : cli_need_file(cmd, paths[i]);
        if (rc)
            return rc;
    }
    return 0;
}
