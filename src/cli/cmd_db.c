/* faasml db: list the runs of a results database and export its tables as CSV. */
#include "cli.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Why: one line per run for people, one JSON object per line for scripts (--json). */
static int print_run(const store_run *r, void *ud)
{
    bool json = *(bool *)ud;
    if (json) {
        char name[512], mode[32], profile[128], status[64];
        fm_json_quote(name, sizeof name, r->name);
        fm_json_quote(mode, sizeof mode, r->mode ? r->mode : "");
        fm_json_quote(profile, sizeof profile, r->profile ? r->profile : "");
        fm_json_quote(status, sizeof status, r->status ? r->status : "");
        printf("{\"id\":%" PRId64 ",\"name\":%s,\"mode\":%s,\"profile\":%s,\"seed\":%" PRIu64
               ",\"started_ns\":%" PRId64 ",\"ended_ns\":%" PRId64 ",\"status\":%s}\n",
               r->id, name, mode, profile, r->seed, r->started_ns, r->ended_ns, status);
    } else {
        printf("%-5" PRId64 " %-32s %-5s %-8s %-12s %.1fs\n", r->id, r->name, r->mode,
               r->profile ? r->profile : "-", r->status ? r->status : "-",
               r->ended_ns > r->started_ns ? (double)(r->ended_ns - r->started_ns) / 1e9 : 0.0);
    }
    return 0;
}

/* Why: an export to a file must never leave half a CSV behind: it goes to a temporary file beside
 * the target and is renamed over it only when complete. */
static int export_to_file(store *s, const char *table, int64_t run, const char *path, fm_err *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp)
        return fm_err_set(err, FM_EINVAL, "cannot write '%s': path too long", path);
    int fd = mkstemp(tmp);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return fm_err_set(err, -e, "cannot write '%s': %s", path, strerror(e));
    }
    int rc = store_export_csv(s, table, run, f, err);
    if (fclose(f) != 0 && !rc)
        rc = fm_err_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = fm_err_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

static int found_cb(const store_run *r, void *ud)
{
    (void)r;
    *(bool *)ud = true;
    return 0;
}

/* Why: --run takes a name or an id in every command: an id that exists, else the latest run of
 * that name, as `faasml report --run` does. */
static int find_run(store *s, const char *key, int64_t *id, fm_err *err)
{
    if (fm_parse_i64(key, id) == 0 && *id > 0) {
        bool found = false;
        int rc = store_run_get(s, *id, found_cb, &found, err);
        if (rc < 0)
            return rc;
        if (found)
            return 0;
    }
    int rc = store_run_find(s, key, id, err);
    if (rc == FM_ENOTFOUND)
        fm_err_set(err, rc, "no run '%s' in the database", key);
    return rc;
}

/* Why: results must be inspectable without writing SQL, and exportable to any tool. */
int cmd_db(int argc, char **argv)
{
    const char *table = NULL, *out_path = NULL, *run_key = NULL;
    int64_t run = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"csv", 0, CLI_OPT_STR, &table, "TABLE",
         "export TABLE (runs, requests, instances, costs, points) as CSV"},
        {"run", 0, CLI_OPT_STR, &run_key, "NAME|ID",
         "only this run: an id, or a name (its latest run) (default: all)"},
        {"output", 'o', CLI_OPT_STR, &out_path, "FILE", "write to FILE (default: stdout)"},
        {"json", 0, CLI_OPT_FLAG, &json, NULL, "list runs as JSON lines"},
        {0},
    };
    const cli_spec spec = {"db",
                           "DB [--csv TABLE [--run NAME|ID] [-o FILE]]",
                           "Lists the runs recorded in a results database, or exports one of\n"
                           "its tables as CSV (RFC 4180 with a header row; an empty field is\n"
                           "NULL, \"\" is the empty string). DB must exist: a mistyped name is\n"
                           "an error, not a new empty database. The schema is described in\n"
                           "docs/results-db.md.",
                           opts,
                           1,
                           1};
    int npos, rc = cli_parse(&spec, argc, argv, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_need_files("db", argv, npos)))
        return rc;
    /* check the table before touching the database, so a typo creates no file */
    if (table) {
        bool known = false;
        for (int i = 0; store_tables[i]; i++)
            known |= strcmp(store_tables[i], table) == 0;
        if (!known)
            return cli_fail("db", 2,
                            "unknown table '%s' (runs, requests, instances, costs, points)", table);
    }
    if ((rc = cli_need_file("db", argv[0])))
        return rc;
    fm_err err = {0};
    store *s;
    if (store_open(argv[0], &s, &err))
        return cli_fail("db", 1, "%s", err.msg);
    if (run_key && (rc = find_run(s, run_key, &run, &err))) {
        store_close(s);
        return cli_fail("db", rc == FM_ENOTFOUND ? 2 : 1, "%s", err.msg);
    }
    if (!table)
        rc = store_runs_each(s, print_run, &json, &err);
    else if (!out_path)
        rc = store_export_csv(s, table, run, stdout, &err);
    else
        rc = export_to_file(s, table, run, out_path, &err);
    store_close(s);
    if (rc)
        return cli_fail("db", rc == FM_EINVAL ? 2 : 1, "%s", err.msg);
    return 0;
}
