/* Workload specs: from YAML documents, from the compact strings the command line takes
 * ("10,100", "0,1;1,0", "ramp:10:100:60s"), and back out as JSON for the results store. */
#include "load.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compact strings --------------------------------------------------------------------------
 */
static int parse_num(const char *s, bool duration, double *out)
{
    if (duration) {
        int64_t ns;
        if (fm_parse_duration_ns(s, &ns))
            return FM_EINVAL;
        *out = (double)ns / 1e9;
        return 0;
    }
    return fm_parse_double(s, out);
}

int load_parse_list(const char *s, bool durations, double *out, int max, int *n, fm_err *err)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return fm_err_set(err, FM_EINVAL, "list '%.32s...' is too long", s);
    strcpy(buf, s);
    int k = 0;
    char *save, *tok = strtok_r(buf, ",", &save);
    for (; tok; tok = strtok_r(NULL, ",", &save)) {
        if (k == max)
            return fm_err_set(err, FM_EINVAL, "list '%s' has more than %d values", s, max);
        if (parse_num(tok, durations, &out[k]))
            return fm_err_set(err, FM_EINVAL, "list '%s': '%s' is not a %s", s, tok,
                              durations ? "duration" : "number");
        k++;
    }
    if (k == 0)
        return fm_err_set(err, FM_EINVAL, "empty list '%s'", s);
    *n = k;
    return 0;
}

int load_parse_matrix(const char *s, double m[LOAD_MMPP_MAX][LOAD_MMPP_MAX], int *k, fm_err *err)
{
    char buf[4096];
    if (strlen(s) >= sizeof buf)
        return fm_err_set(err, FM_EINVAL, "matrix is too long");
    strcpy(buf, s);
    int rows = 0;
    char *save, *row = strtok_r(buf, ";", &save);
    for (; row; row = strtok_r(NULL, ";", &save)) {
        if (rows == LOAD_MMPP_MAX)
            return fm_err_set(err, FM_EINVAL, "matrix has more than %d rows", LOAD_MMPP_MAX);
        int n, rc = load_parse_list(row, false, m[rows], LOAD_MMPP_MAX, &n, err);
        if (rc)
            return fm_err_prefix(err, "matrix row %d: ", rows + 1);
        if (rows > 0 && n != *k)
            return fm_err_set(err, FM_EINVAL, "matrix row %d has %d values, row 1 has %d", rows + 1,
                              n, *k);
        *k = n;
        rows++;
    }
    if (rows != *k)
        return fm_err_set(err, FM_EINVAL, "matrix is %dx%d: it must be square", rows, *k);
    return 0;
}

/* "step:RATE:DUR", "ramp:FROM:TO:DUR", "sine:MEAN:AMPLITUDE:PERIOD:DUR" */
int load_segment_parse(const char *s, load_segment *g, fm_err *err)
{
    static const struct {
        const char *name;
        load_seg_kind kind;
        int nargs;
        const char *form;
    } forms[] = {{"step", LOAD_SEG_STEP, 2, "step:RATE:DURATION"},
                 {"ramp", LOAD_SEG_RAMP, 3, "ramp:FROM:TO:DURATION"},
                 {"sine", LOAD_SEG_SINE, 4, "sine:MEAN:AMPLITUDE:PERIOD:DURATION"}};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *f[6], *save;
    int n = 0;
    for (char *t = strtok_r(buf, ":", &save); t && n < 6; t = strtok_r(NULL, ":", &save))
        f[n++] = t;
    memset(g, 0, sizeof *g);
    for (size_t i = 0; n > 0 && i < FM_ARRAY_LEN(forms); i++) {
        if (strcmp(f[0], forms[i].name) != 0)
            continue;
        if (n != forms[i].nargs + 1)
            return fm_err_set(err, FM_EINVAL, "segment '%s': expected %s", s, forms[i].form);
        g->kind = forms[i].kind;
        double *dst[3] = {&g->a, &g->b, &g->period_s};
        for (int a = 0; a + 1 < forms[i].nargs; a++) {
            bool dur = g->kind == LOAD_SEG_SINE && a == 2;
            if (parse_num(f[1 + a], dur, dst[a]))
                return fm_err_set(err, FM_EINVAL, "segment '%s': '%s' is not a %s", s, f[1 + a],
                                  dur ? "duration" : "number");
        }
        if (fm_parse_duration_ns(f[n - 1], &g->duration_ns))
            return fm_err_set(err, FM_EINVAL, "segment '%s': '%s' is not a duration", s, f[n - 1]);
        return 0;
    }
    return fm_err_set(err, FM_EINVAL, "segment '%s': expected step:..., ramp:... or sine:...", s);
}

int load_spec_load_trace(load_spec *s, const char *path, load_unit unit, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    free(s->trace_ns);
    s->trace_ns = NULL;
    rc = load_trace_parse(buf, len, unit, path, &s->trace_ns, &s->trace_n, err);
    free(buf);
    if (!rc)
        s->process = LOAD_PROC_TRACE;
    return rc;
}

int load_spec_load_azure(load_spec *s, const char *path, const char *function, fm_err *err)
{
    char *buf;
    size_t len;
    int rc = fm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    free(s->azure_counts);
    s->azure_counts = NULL;
    rc = load_azure_parse(buf, len, path, function, &s->azure_counts, &s->azure_minutes, err);
    free(buf);
    if (!rc)
        s->process = LOAD_PROC_AZURE;
    return rc;
}

/* ---- YAML -------------------------------------------------------------------------------------
 */
static int y_num(const fm_yaml *y, const fm_ynode *n, bool duration, double *out, fm_err *err)
{
    const char *s = fm_ynode_str(n);
    if (!s || parse_num(s, duration, out))
        return fm_yaml_error(y, n, err, FM_EINVAL, "expected a %s",
                             duration ? "duration" : "number");
    return 0;
}

static int y_list(const fm_yaml *y, const fm_ynode *map, const char *key, bool duration,
                  double *out, int *n, fm_err *err)
{
    const fm_ynode *l = fm_ynode_get(map, key);
    if (!l)
        return 0;
    if (fm_ynode_kind_of(l) != FM_YAML_SEQ || fm_ynode_len(l) == 0 ||
        fm_ynode_len(l) > LOAD_MMPP_MAX)
        return fm_yaml_error(y, l, err, FM_EINVAL, "'%s' must be a list of 1 to %d values", key,
                             LOAD_MMPP_MAX);
    *n = (int)fm_ynode_len(l);
    for (int i = 0; i < *n; i++) {
        int rc = y_num(y, fm_ynode_item(l, (size_t)i), duration, &out[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static int y_matrix(const fm_yaml *y, const fm_ynode *map, const char *key, int k,
                    double m[LOAD_MMPP_MAX][LOAD_MMPP_MAX], bool *have, fm_err *err)
{
    const fm_ynode *l = fm_ynode_get(map, key);
    if (!l)
        return 0;
    if (fm_ynode_kind_of(l) != FM_YAML_SEQ || (int)fm_ynode_len(l) != k)
        return fm_yaml_error(y, l, err, FM_EINVAL,
                             "'%s' must be a %dx%d matrix (one list per "
                             "state)",
                             key, k, k);
    for (int i = 0; i < k; i++) {
        const fm_ynode *r = fm_ynode_item(l, (size_t)i);
        if (fm_ynode_kind_of(r) != FM_YAML_SEQ || (int)fm_ynode_len(r) != k)
            return fm_yaml_error(y, r, err, FM_EINVAL, "'%s' row %d must have %d values", key,
                                 i + 1, k);
        for (int j = 0; j < k; j++) {
            int rc = y_num(y, fm_ynode_item(r, (size_t)j), false, &m[i][j], err);
            if (rc)
                return rc;
        }
    }
    *have = true;
    return 0;
}

static int y_mmpp(const fm_yaml *y, const fm_ynode *n, load_mmpp *m, fm_err *err)
{
    static const char *const keys[] = {"rates", "sojourn", "transition", "generator", NULL};
    int rc = fm_yaml_check_keys(y, n, keys, err);
    int nr = 0, ns = 0;
    bool have_p = false, have_q = false;
    if (!rc)
        rc = y_list(y, n, "rates", false, m->rate, &nr, err);
    if (!rc && nr == 0)
        rc = fm_yaml_error(y, n, err, FM_EINVAL, "mmpp needs 'rates' (one per state)");
    m->k = nr;
    if (!rc)
        rc = y_list(y, n, "sojourn", true, m->sojourn_s, &ns, err);
    if (!rc)
        rc = y_matrix(y, n, "transition", nr, m->transition, &have_p, err);
    if (!rc)
        rc = y_matrix(y, n, "generator", nr, m->generator, &have_q, err);
    if (rc)
        return rc;
    if (have_q == (ns > 0 || have_p))
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "mmpp needs either 'generator' or 'sojourn' with 'transition'");
    if (!have_q && (ns != nr || (!have_p && nr > 1)))
        return fm_yaml_error(y, n, err, FM_EINVAL,
                             "mmpp needs one sojourn time per state and a 'transition' matrix");
    m->have_generator = have_q;
    return 0;
}

static int y_segment(const fm_yaml *y, const fm_ynode *n, load_segment *g, fm_err *err)
{
    static const char *const keys[] = {"kind",      "rate",   "from",     "to", "mean",
                                       "amplitude", "period", "duration", NULL};
    const char *kind = NULL, *dur = NULL, *period = NULL;
    int rc = fm_yaml_check_keys(y, n, keys, err);
    if (!rc)
        rc = fm_yaml_get_str(y, n, "kind", true, &kind, err);
    if (!rc)
        rc = fm_yaml_get_str(y, n, "duration", true, &dur, err);
    if (rc)
        return rc;
    memset(g, 0, sizeof *g);
    if (fm_parse_duration_ns(dur, &g->duration_ns))
        return fm_yaml_error(y, fm_ynode_get(n, "duration"), err, FM_EINVAL,
                             "'%s' is not a duration", dur);
    const double big = 1e9;
    if (strcmp(kind, "step") == 0) {
        g->kind = LOAD_SEG_STEP;
        return fm_yaml_get_double(y, n, "rate", true, 0, big, &g->a, err);
    }
    if (strcmp(kind, "ramp") == 0) {
        g->kind = LOAD_SEG_RAMP;
        rc = fm_yaml_get_double(y, n, "from", true, 0, big, &g->a, err);
        return rc ? rc : fm_yaml_get_double(y, n, "to", true, 0, big, &g->b, err);
    }
    if (strcmp(kind, "sine") == 0) {
        g->kind = LOAD_SEG_SINE;
        int64_t p;
        rc = fm_yaml_get_double(y, n, "mean", true, 0, big, &g->a, err);
        if (!rc)
            rc = fm_yaml_get_double(y, n, "amplitude", true, 0, big, &g->b, err);
        if (!rc)
            rc = fm_yaml_get_str(y, n, "period", true, &period, err);
        if (!rc && fm_parse_duration_ns(period, &p))
            rc = fm_yaml_error(y, fm_ynode_get(n, "period"), err, FM_EINVAL,
                               "'%s' is not a duration", period);
        g->period_s = rc ? 0 : (double)p / 1e9;
        return rc;
    }
    return fm_yaml_error(y, fm_ynode_get(n, "kind"), err, FM_EINVAL,
                         "unknown segment kind '%s' (step, ramp, sine)", kind);
}

/* A path in the spec is relative to the spec file's directory. */
static void spec_path(const fm_yaml *y, const char *p, char *out, size_t cap)
{
    if (p[0] == '/' || !fm_yaml_name(y)) {
        snprintf(out, cap, "%s", p);
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fm_yaml_name(y));
    snprintf(out, cap, "%s/%s", dirname(dir), p);
}

static int y_files(const fm_yaml *y, const fm_ynode *map, load_spec *s, fm_err *err)
{
    const fm_ynode *t = fm_ynode_get(map, "trace"), *az = fm_ynode_get(map, "azure");
    char path[4096];
    if (t) {
        static const char *const keys[] = {"file", "unit", NULL};
        const char *file = NULL, *unit = "s";
        load_unit u;
        int rc = fm_yaml_check_keys(y, t, keys, err);
        if (!rc)
            rc = fm_yaml_get_str(y, t, "file", true, &file, err);
        if (!rc)
            rc = fm_yaml_get_str(y, t, "unit", false, &unit, err);
        if (!rc && load_unit_parse(unit, &u))
            rc = fm_yaml_error(y, fm_ynode_get(t, "unit"), err, FM_EINVAL,
                               "unknown unit '%s' (s, ms, us, ns)", unit);
        if (rc)
            return rc;
        spec_path(y, file, path, sizeof path);
        return load_spec_load_trace(s, path, u, err);
    }
    if (az) {
        static const char *const keys[] = {"file", "function", "spread", NULL};
        const char *file = NULL, *fn = NULL, *spread = "uniform";
        int rc = fm_yaml_check_keys(y, az, keys, err);
        if (!rc)
            rc = fm_yaml_get_str(y, az, "file", true, &file, err);
        if (!rc)
            rc = fm_yaml_get_str(y, az, "function", false, &fn, err);
        if (!rc)
            rc = fm_yaml_get_str(y, az, "spread", false, &spread, err);
        if (!rc && load_spread_parse(spread, &s->spread))
            rc = fm_yaml_error(y, fm_ynode_get(az, "spread"), err, FM_EINVAL,
                               "unknown spread '%s' (uniform, poisson, equal)", spread);
        if (rc)
            return rc;
        spec_path(y, file, path, sizeof path);
        return load_spec_load_azure(s, path, fn, err);
    }
    return 0;
}

int load_spec_from_yaml(const fm_yaml *y, const fm_ynode *map, load_spec *s, fm_err *err)
{
    static const char *const keys[] = {"process", "rate",  "requests", "duration",
                                       "seed",    "mmpp",  "segments", "spacing",
                                       "repeat",  "trace", "azure",    NULL};
    if (!map || fm_ynode_kind_of(map) != FM_YAML_MAP)
        return fm_yaml_error(y, map, err, FM_EINVAL, "workload must be a map");
    int rc = fm_yaml_check_keys(y, map, keys, err);
    const char *proc = NULL, *dur = NULL, *spacing = NULL;
    int64_t req = 0, seed = (int64_t)s->seed;
    if (!rc)
        rc = fm_yaml_get_str(y, map, "process", true, &proc, err);
    if (!rc && load_process_parse(proc, &s->process))
        rc = fm_yaml_error(y, fm_ynode_get(map, "process"), err, FM_EINVAL,
                           "unknown process '%s' (constant, poisson, mmpp, piecewise, trace, "
                           "azure)",
                           proc);
    if (!rc)
        rc = fm_yaml_get_double(y, map, "rate", false, -1e18, 1e18, &s->rate, err);
    if (!rc)
        rc = fm_yaml_get_int(y, map, "requests", false, 0, INT64_MAX, &req, err);
    if (!rc)
        rc = fm_yaml_get_int(y, map, "seed", false, 0, INT64_MAX, &seed, err);
    if (!rc)
        rc = fm_yaml_get_str(y, map, "duration", false, &dur, err);
    if (!rc && dur && fm_parse_duration_ns(dur, &s->duration_ns))
        rc = fm_yaml_error(y, fm_ynode_get(map, "duration"), err, FM_EINVAL,
                           "'%s' is not a duration", dur);
    if (!rc)
        rc = fm_yaml_get_str(y, map, "spacing", false, &spacing, err);
    if (!rc && spacing) {
        if (strcmp(spacing, "poisson") == 0)
            s->spacing = LOAD_SPACING_POISSON;
        else if (strcmp(spacing, "even") == 0)
            s->spacing = LOAD_SPACING_EVEN;
        else
            rc = fm_yaml_error(y, fm_ynode_get(map, "spacing"), err, FM_EINVAL,
                               "unknown spacing '%s' (poisson, even)", spacing);
    }
    if (!rc)
        rc = fm_yaml_get_bool(y, map, "repeat", false, &s->repeat, err);
    if (rc)
        return rc;
    s->requests = (uint64_t)req;
    s->seed = (uint64_t)seed;
    const fm_ynode *mm = fm_ynode_get(map, "mmpp");
    if (mm && (rc = y_mmpp(y, mm, &s->mmpp, err)))
        return rc;
    const fm_ynode *segs = fm_ynode_get(map, "segments");
    if (segs) {
        if (fm_ynode_kind_of(segs) != FM_YAML_SEQ || fm_ynode_len(segs) == 0 ||
            fm_ynode_len(segs) > LOAD_SEG_MAX)
            return fm_yaml_error(y, segs, err, FM_EINVAL,
                                 "'segments' must be a list of 1 to %d segments", LOAD_SEG_MAX);
        s->nseg = (int)fm_ynode_len(segs);
        for (int i = 0; i < s->nseg; i++)
            if ((rc = y_segment(y, fm_ynode_item(segs, (size_t)i), &s->seg[i], err)))
                return rc;
    }
    load_process want = s->process;
    if ((rc = y_files(y, map, s, err)))
        return rc;
    if (s->process != want)
        return fm_yaml_error(y, fm_ynode_get(map, "process"), err, FM_EINVAL,
                             "process '%s' does not match the trace given", proc);
    rc = load_spec_validate(s, err);
    if (rc)
        return fm_yaml_error(y, map, err, rc, "%s", err->msg);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------------------------------
 */
static cJSON *num_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

char *load_spec_to_json(const load_spec *s)
{
    static const char *const seg_names[] = {"step", "ramp", "sine"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "process", load_process_name(s->process));
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON_AddNumberToObject(o, "requests", (double)s->requests);
    cJSON_AddNumberToObject(o, "duration_s", (double)s->duration_ns / 1e9);
    switch (s->process) {
    case LOAD_PROC_CONSTANT:
    case LOAD_PROC_POISSON: cJSON_AddNumberToObject(o, "rate", s->rate); break;
    case LOAD_PROC_MMPP: {
        cJSON *m = cJSON_AddObjectToObject(o, "mmpp");
        int k = s->mmpp.k;
        cJSON_AddItemToObject(m, "rates", num_array(s->mmpp.rate, k));
        cJSON *mat = cJSON_CreateArray();
        for (int i = 0; i < k; i++)
            cJSON_AddItemToArray(mat, num_array(s->mmpp.have_generator ? s->mmpp.generator[i]
                                                                       : s->mmpp.transition[i],
                                                k));
        if (!s->mmpp.have_generator)
            cJSON_AddItemToObject(m, "sojourn_s", num_array(s->mmpp.sojourn_s, k));
        cJSON_AddItemToObject(m, s->mmpp.have_generator ? "generator" : "transition", mat);
        break;
    }
    case LOAD_PROC_PIECEWISE: {
        cJSON *a = cJSON_AddArrayToObject(o, "segments");
        for (int i = 0; i < s->nseg; i++) {
            const load_segment *g = &s->seg[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "kind", seg_names[g->kind]);
            cJSON_AddNumberToObject(e, "a", g->a);
            cJSON_AddNumberToObject(e, "b", g->b);
            cJSON_AddNumberToObject(e, "period_s", g->period_s);
            cJSON_AddNumberToObject(e, "duration_s", (double)g->duration_ns / 1e9);
            cJSON_AddItemToArray(a, e);
        }
        cJSON_AddStringToObject(o, "spacing", s->spacing == LOAD_SPACING_EVEN ? "even" : "poisson");
        cJSON_AddBoolToObject(o, "repeat", s->repeat);
        break;
    }
    case LOAD_PROC_TRACE: cJSON_AddNumberToObject(o, "trace_arrivals", (double)s->trace_n); break;
    case LOAD_PROC_AZURE:
        cJSON_AddNumberToObject(o, "azure_minutes", (double)s->azure_minutes);
        cJSON_AddStringToObject(o, "spread", load_spread_name(s->spread));
        break;
    default: break;
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}
