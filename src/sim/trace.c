/*
 * The Azure Functions 2019 trace in the In-Vitro sample layout (../shared/traces/README.md):
 * per-minute invocation counts per function (*_inv.csv), execution-time percentiles per function
 * (*_run.csv) and allocated memory per application (*_mem.csv). The files are untrusted input:
 * every row is checked, and an error names file:line and the problem.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fields of one CSV line, pointing into the buffer (no quoting in these files) */
#define TR_MAXF 4096

typedef struct tr_line {
    const char *f[TR_MAXF];
    size_t len[TR_MAXF];
    int n;
    bool too_many;
} tr_line;

typedef struct tr_iter {
    const char *p, *end, *name;
    int lineno;
} tr_iter;

/* Next non-empty line split at commas; false at the end of the buffer. */
static bool tr_next(tr_iter *it, tr_line *l)
{
    while (it->p < it->end) {
        const char *b = it->p, *e = memchr(b, '\n', (size_t)(it->end - b));
        it->p = e ? e + 1 : it->end;
        if (!e)
            e = it->end;
        it->lineno++;
        if (e > b && e[-1] == '\r')
            e--;
        if (e == b)
            continue;
        l->n = 0;
        l->too_many = false;
        for (const char *s = b;;) {
            const char *c = memchr(s, ',', (size_t)(e - s));
            const char *fe = c ? c : e;
            if (l->n == TR_MAXF) {
                l->too_many = true;
                break;
            }
            l->f[l->n] = s;
            l->len[l->n++] = (size_t)(fe - s);
            if (!c)
                break;
            s = c + 1;
        }
        return true;
    }
    return false;
}

static bool field_is(const tr_line *l, int i, const char *s)
{
    return i < l->n && l->len[i] == strlen(s) && memcmp(l->f[i], s, l->len[i]) == 0;
}

/* Parses a decimal number field (integer or not); why: the files mix "460.0" and "905". */
static int field_num(const tr_line *l, int i, double *out)
{
    char tmp[64];
    if (l->len[i] == 0 || l->len[i] >= sizeof tmp)
        return FM_EPARSE;
    memcpy(tmp, l->f[i], l->len[i]);
    tmp[l->len[i]] = 0;
    return fm_parse_double(tmp, out);
}

static char *field_dup(const tr_line *l, int i)
{
    char *s = malloc(l->len[i] + 1);
    if (s) {
        memcpy(s, l->f[i], l->len[i]);
        s[l->len[i]] = 0;
    }
    return s;
}

/* a key (function or app hash) with the row it came from, sorted for lookups */
typedef struct tr_key {
    const char *k;
    size_t len;
    int row;
} tr_key;

static int key_cmp(const void *a, const void *b)
{
    const tr_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static const tr_key *key_find(const tr_key *v, int n, const char *k, size_t len)
{
    tr_key want = {k, len, 0};
    return n ? bsearch(&want, v, (size_t)n, sizeof *v, key_cmp) : NULL;
}

static const char *const run_header[] = {"HashFunction",
                                         "HashApp",
                                         "HashOwner",
                                         "Count",
                                         "Average",
                                         "Minimum",
                                         "Maximum",
                                         "percentile_Average_0",
                                         "percentile_Average_1",
                                         "percentile_Average_25",
                                         "percentile_Average_50",
                                         "percentile_Average_75",
                                         "percentile_Average_99",
                                         "percentile_Average_100"};
static const double run_p[] = {0, 0.01, 0.25, 0.50, 0.75, 0.99, 1.0};
enum { RUN_FIELDS = 14, RUN_P0 = 7, MEM_AVG = 3 };

typedef struct tr_run {
    double v[7];
} tr_run;

/* Reads the durations file into rows sorted by function. */
static int read_run(const char *buf, size_t len, const char *name, tr_key **keys, tr_run **rows,
                    int *n, fm_err *err)
{
    tr_iter it = {buf, buf + len, name, 0};
    tr_line *l = malloc(sizeof *l);
    int cap = 0, rc = 0;
    *keys = NULL;
    *rows = NULL;
    *n = 0;
    if (!l)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    if (!tr_next(&it, l)) {
        rc = fm_err_set(err, FM_EPARSE, "%s: empty file", name);
        goto out;
    }
    for (int i = 0; i < RUN_FIELDS; i++)
        if (!field_is(l, i, run_header[i]) || l->n != RUN_FIELDS) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: header must be %s,%s,%s,...,%s (%d fields)",
                            name, it.lineno, run_header[0], run_header[1], run_header[2],
                            run_header[RUN_FIELDS - 1], RUN_FIELDS);
            goto out;
        }
    while (tr_next(&it, l)) {
        if (l->n != RUN_FIELDS) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: %d fields, expected %d", name, it.lineno, l->n,
                            RUN_FIELDS);
            goto out;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            tr_key *nk = realloc(*keys, (size_t)cap * sizeof **keys);
            if (nk)
                *keys = nk;
            tr_run *nr = nk ? realloc(*rows, (size_t)cap * sizeof **rows) : NULL;
            if (nr)
                *rows = nr;
            if (!nk || !nr) {
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
        tr_run *r = &(*rows)[*n];
        for (int i = 0; i < 7; i++) {
            if (field_num(l, RUN_P0 + i, &r->v[i]) || r->v[i] < 0) {
                rc = fm_err_set(err, FM_EPARSE, "%s:%d: %s '%.*s' is not a duration >= 0 ms", name,
                                it.lineno, run_header[RUN_P0 + i],
                                (int)FM_MIN(l->len[RUN_P0 + i], 40), l->f[RUN_P0 + i]);
                goto out;
            }
            if (i > 0 && r->v[i] < r->v[i - 1]) {
                rc =
                    fm_err_set(err, FM_EPARSE,
                               "%s:%d: %s is below %s (percentiles must not "
                               "decrease)",
                               name, it.lineno, run_header[RUN_P0 + i], run_header[RUN_P0 + i - 1]);
                goto out;
            }
        }
        (*keys)[*n] = (tr_key){l->f[0], l->len[0], *n};
        ++*n;
    }
    if (*n > 0)
        qsort(*keys, (size_t)*n, sizeof **keys, key_cmp);
out:
    free(l);
    if (rc) {
        free(*keys);
        free(*rows);
        *keys = NULL;
        *rows = NULL;
    }
    return rc;
}

/* Reads the memory file into average MB per app, sorted by app. */
static int read_mem(const char *buf, size_t len, const char *name, tr_key **keys, double **mb,
                    int *n, fm_err *err)
{
    tr_iter it = {buf, buf + len, name, 0};
    tr_line *l = malloc(sizeof *l);
    int cap = 0, rc = 0;
    *keys = NULL;
    *mb = NULL;
    *n = 0;
    if (!l)
        return fm_err_set(err, FM_ENOMEM, "out of memory");
    int nf = 0;
    if (!tr_next(&it, l) || !field_is(l, 0, "HashApp") || !field_is(l, 1, "HashOwner") ||
        !field_is(l, 3, "AverageAllocatedMb")) {
        rc =
            fm_err_set(err, FM_EPARSE,
                       "%s:%d: header must be HashApp,HashOwner,SampleCount,AverageAllocatedMb,...",
                       name, it.lineno ? it.lineno : 1);
        goto out;
    }
    nf = l->n;
    while (tr_next(&it, l)) {
        if (l->n != nf) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: %d fields, expected %d", name, it.lineno, l->n,
                            nf);
            goto out;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            tr_key *nk = realloc(*keys, (size_t)cap * sizeof **keys);
            if (nk)
                *keys = nk;
            double *nm = nk ? realloc(*mb, (size_t)cap * sizeof **mb) : NULL;
            if (nm)
                *mb = nm;
            if (!nk || !nm) {
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                goto out;
            }
        }
        double v;
        if (field_num(l, MEM_AVG, &v) || !(v > 0) || v > 1e7) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: AverageAllocatedMb '%.*s' is not a size > 0",
                            name, it.lineno, (int)FM_MIN(l->len[MEM_AVG], 40), l->f[MEM_AVG]);
            goto out;
        }
        (*mb)[*n] = v;
        (*keys)[*n] = (tr_key){l->f[0], l->len[0], *n};
        ++*n;
    }
    if (*n > 0)
        qsort(*keys, (size_t)*n, sizeof **keys, key_cmp);
out:
    free(l);
    if (rc) {
        free(*keys);
        free(*mb);
        *keys = NULL;
        *mb = NULL;
    }
    return rc;
}

void sim_trace_release(sim_trace *t)
{
    for (int i = 0; t->fn && i < t->n; i++) {
        free(t->fn[i].function);
        free(t->fn[i].app);
        free(t->fn[i].counts);
    }
    free(t->fn);
    memset(t, 0, sizeof *t);
}

int sim_trace_parse(const sim_trace_files *f, int max_functions, sim_trace *t, fm_err *err)
{
    memset(t, 0, sizeof *t);
    tr_key *rk = NULL, *mk = NULL;
    tr_run *rr = NULL;
    double *mm = NULL;
    int nr = 0, nm = 0;
    int rc = read_run(f->run, f->run_len, f->run_name, &rk, &rr, &nr, err);
    if (!rc)
        rc = read_mem(f->mem, f->mem_len, f->mem_name, &mk, &mm, &nm, err);
    tr_line *l = malloc(sizeof *l);
    if (!rc && !l)
        rc = fm_err_set(err, FM_ENOMEM, "out of memory");
    if (rc)
        goto out;
    tr_iter it = {f->inv, f->inv + f->inv_len, f->inv_name, 0};
    if (!tr_next(&it, l) || !field_is(l, 0, "HashFunction") || !field_is(l, 1, "HashApp") ||
        !field_is(l, 2, "HashOwner") || l->n < 4 || l->too_many) {
        rc = fm_err_set(err, FM_EPARSE,
                        "%s:%d: header must be HashFunction,HashApp,HashOwner,minute_1,... (at "
                        "most %d minutes)",
                        f->inv_name, it.lineno ? it.lineno : 1, TR_MAXF - 3);
        goto out;
    }
    for (int i = 3; i < l->n; i++) {
        char want[32];
        snprintf(want, sizeof want, "minute_%d", i - 2);
        if (!field_is(l, i, want)) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: column %d must be '%s'", f->inv_name, it.lineno,
                            i + 1, want);
            goto out;
        }
    }
    int nf = l->n, cap = 0;
    t->minutes = nf - 3;
    while ((max_functions <= 0 || t->n < max_functions) && tr_next(&it, l)) {
        if (l->n != nf || l->too_many) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: %d fields, expected %d (malformed row)",
                            f->inv_name, it.lineno, l->n, nf);
            goto out;
        }
        if (l->len[0] == 0 || l->len[1] == 0) {
            rc = fm_err_set(err, FM_EPARSE, "%s:%d: empty HashFunction or HashApp", f->inv_name,
                            it.lineno);
            goto out;
        }
        const tr_key *r = key_find(rk, nr, l->f[0], l->len[0]);
        if (!r) {
            rc = fm_err_set(err, FM_ENOTFOUND, "%s:%d: function '%.*s' has no row in %s",
                            f->inv_name, it.lineno, (int)FM_MIN(l->len[0], 80), l->f[0],
                            f->run_name);
            goto out;
        }
        const tr_key *m = key_find(mk, nm, l->f[1], l->len[1]);
        if (!m) {
            rc = fm_err_set(err, FM_ENOTFOUND, "%s:%d: app '%.*s' has no row in %s", f->inv_name,
                            it.lineno, (int)FM_MIN(l->len[1], 80), l->f[1], f->mem_name);
            goto out;
        }
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            sim_trace_fn *nfn = realloc(t->fn, (size_t)cap * sizeof *nfn);
            if (!nfn) {
                rc = fm_err_set(err, FM_ENOMEM, "out of memory");
                goto out;
            }
            t->fn = nfn;
        }
        sim_trace_fn *tf = &t->fn[t->n];
        memset(tf, 0, sizeof *tf);
        t->n++;
        tf->function = field_dup(l, 0);
        tf->app = field_dup(l, 1);
        tf->counts = calloc((size_t)t->minutes, sizeof *tf->counts);
        tf->line = it.lineno;
        if (!tf->function || !tf->app || !tf->counts) {
            rc = fm_err_set(err, FM_ENOMEM, "out of memory");
            goto out;
        }
        for (int i = 3; i < nf; i++) {
            char tmp[32];
            int64_t v;
            if (l->len[i] == 0 || l->len[i] >= sizeof tmp) {
                rc = fm_err_set(err, FM_EPARSE, "%s:%d: minute %d: count '%.*s' is not an integer",
                                f->inv_name, it.lineno, i - 2, (int)FM_MIN(l->len[i], 31), l->f[i]);
                goto out;
            }
            memcpy(tmp, l->f[i], l->len[i]);
            tmp[l->len[i]] = 0;
            if (fm_parse_i64(tmp, &v)) {
                rc = fm_err_set(err, FM_EPARSE, "%s:%d: minute %d: count '%s' is not an integer",
                                f->inv_name, it.lineno, i - 2, tmp);
                goto out;
            }
            if (v < 0) {
                rc = fm_err_set(err, FM_ERANGE, "%s:%d: minute %d: negative count %s", f->inv_name,
                                it.lineno, i - 2, tmp);
                goto out;
            }
            if (v > 100000000) {
                rc = fm_err_set(err, FM_ERANGE, "%s:%d: minute %d: count %s is above 1e8",
                                f->inv_name, it.lineno, i - 2, tmp);
                goto out;
            }
            tf->counts[i - 3] = (uint64_t)v;
            tf->total += (uint64_t)v;
        }
        /* execution time: the percentile row as a piecewise-linear inverse CDF (a 0 ms
         * percentile becomes 0.01 ms: the simulator's durations are positive) */
        const tr_run *run = &rr[r->row];
        tf->duration.kind = SIM_DIST_QUANTILES;
        tf->duration.nq = 7;
        for (int q = 0; q < 7; q++) {
            tf->duration.p[q] = run_p[q];
            tf->duration.v[q] = run->v[q] > 0.01 ? run->v[q] : 0.01;
        }
        tf->memory_mb = mm[m->row];
    }
    if (t->n == 0)
        rc = fm_err_set(err, FM_EPARSE, "%s: no functions", f->inv_name);
out:
    free(l);
    free(rk);
    free(rr);
    free(mk);
    free(mm);
    if (rc)
        sim_trace_release(t);
    return rc;
}

int sim_trace_load_dir(const char *dir, const char *prefix, int max_functions, sim_trace *t,
                       fm_err *err)
{
    char p[3][4096];
    static const char *const suffix[] = {"inv", "run", "mem"};
    char *buf[3] = {0};
    size_t len[3] = {0};
    int rc = 0;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(p[i], sizeof p[i], "%s/%s_%s.csv", dir, prefix, suffix[i]);
        rc = fm_read_file(p[i], &buf[i], &len[i], err);
    }
    if (!rc) {
        sim_trace_files f = {buf[0], len[0], p[0], buf[1], len[1], p[1], buf[2], len[2], p[2]};
        rc = sim_trace_parse(&f, max_functions, t, err);
    }
    for (int i = 0; i < 3; i++)
        free(buf[i]);
    return rc;
}
