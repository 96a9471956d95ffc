/* faasml db: list the runs of a results database and export its tables as CSV. */
#include "cli.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int print_run(const store_run *r, void *ud)
{
    bool json = *(bool *)ud;
    if (json) {
        char name[512];
        fm_json_quote(name, sizeof name, r->name);
        printf("{\"id\":%" PRId64 ",\"name\":%s,\"mode\":\"%s\",\"profile\":\"%s\","
               "\"seed\":%" PRIu64 ",\"started_ns\":%" PRId64 ",\"ended_ns\":%" PRId64
               ",\"status\":\"%s\"}\n",
               r->id, name, r->mode, r->profile ? r->profile : "", r->seed, r->started_ns,
               r->ended_ns, r->status ? r->status : "");
    } else {
        printf("%-5" PRId64 " %-32s %-5s %-8s %-12s %.1fs\n", r->id, r->name, r->mode,
               r->profile ? r->profile : "-", r->status ? r->status : "-",
               r->ended_ns > r->started_ns ? (double)(r->ended_ns - r->started_ns) / 1e9 : 0.0);
    }
    return 0;
}

int cmd_db(int argc, char **argv)
{
    const char *table = NULL, *out_path = NULL;
    int64_t run = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"csv", 0, CLI_OPT_STR, &table, "TABLE",
         "export TABLE (runs, requests, instances, costs, points) as CSV"},
        {"run", 0, CLI_OPT_INT, &run, "ID", "only this run (default: all)"},
        {"output", 'o', CLI_OPT_STR, &out_path, "FILE", "write to FILE (default: stdout)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "list runs as JSON lines"},
        {0},
    };
    const cli_spec spec = {"db", "DB [--csv TABLE [--run ID] [-o FILE]]",
                           "Lists the runs recorded in a results database, or exports one of "
                           "its tables as CSV.",
                           opts, 1, 1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    fm_err err = {0};
    store *s;
    if (store_open(argv[0], &s, &err))
        return cli_fail("db", 1, "%s", err.msg);
    if (!table) {
        rc = store_runs_each(s, print_run, &json, &err);
    } else if (!out_path) {
        rc = store_export_csv(s, table, run, stdout, &err);
    } else {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
        FILE *f = fopen(tmp, "w");
        if (!f) {
            store_close(s);
            return cli_fail("db", 1, "cannot write '%s'", out_path);
        }
        rc = store_export_csv(s, table, run, f, &err);
        if (fclose(f) != 0 && !rc)
            rc = fm_err_set(&err, FM_EIO, "cannot write '%s'", out_path);
        if (rc)
            remove(tmp);
        else if (rename(tmp, out_path) != 0)
            rc = fm_err_set(&err, FM_EIO, "cannot write '%s'", out_path);
    }
    store_close(s);
    if (rc)
        return cli_fail("db", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
    return 0;
}
