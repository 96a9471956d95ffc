/* Text renderers: the terminal table (aligned columns, words where a number is missing), JSON and
 * CSV. Every renderer reads the same an_run values, so the formats cannot disagree. */
#include "analyze.h"
#include "analyze_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- formatting helpers --------------------------------------------------------------------- */

static void fmt_usd(char *b, size_t cap, double v)
{
    if (v >= 1)
        snprintf(b, cap, "$%.2f", v);
    else if (v >= 0.01)
        snprintf(b, cap, "$%.4f", v);
    else
        snprintf(b, cap, "$%.3g", v);
}

static void fmt_ms(char *b, size_t cap, double v)
{
    snprintf(b, cap, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
}

/* The fmt_ helpers write a number, or the words that stand for it; they return true for words,
 * so that the text table can move long words to footnotes. */
static bool words(char *b, size_t cap, const char *why)
{
    snprintf(b, cap, "%s", why);
    return true;
}

static bool fmt_est_ms(char *b, size_t cap, const an_est *e, bool ci)
{
    char x[32], lo[32], hi[32];
    if (e->est.why)
        return words(b, cap, e->est.why);
    fmt_ms(x, sizeof x, e->est.v);
    if (ci && !e->has_ci) { /* the interval's absence is said, not left blank */
        snprintf(b, cap, "%s [%s]", x, e->ci_why ? e->ci_why : "no interval");
        return false;
    }
    if (!ci) {
        snprintf(b, cap, "%s", x);
        return false;
    }
    fmt_ms(lo, sizeof lo, e->lo);
    fmt_ms(hi, sizeof hi, e->hi);
    snprintf(b, cap, "%s [%s, %s]", x, lo, hi);
    return false;
}

static bool fmt_num_ms(char *b, size_t cap, an_num v)
{
    if (v.why)
        return words(b, cap, v.why);
    fmt_ms(b, cap, v.v);
    return false;
}

static bool fmt_num(char *b, size_t cap, an_num v, int decimals)
{
    an_fmt(b, cap, v, decimals);
    return v.why != NULL;
}

static bool fmt_pct(char *b, size_t cap, an_num v)
{
    if (v.why)
        return words(b, cap, v.why);
    snprintf(b, cap, "%.1f%%", 100 * v.v);
    return false;
}

static bool fmt_sr(char *b, size_t cap, const an_est *e)
{
    if (e->est.why)
        return words(b, cap, e->est.why);
    snprintf(b, cap, "%.1f%% [%.1f, %.1f]", 100 * e->est.v, 100 * e->lo, 100 * e->hi);
    return false;
}

static bool fmt_cost(char *b, size_t cap, const cost_result *c, bool per_1m)
{
    char v[48];
    if (!c->priced)
        return words(b, cap, c->why);
    if (per_1m && !c->has_per_1m)
        return words(b, cap, "no successful requests");
    fmt_usd(v, sizeof v, per_1m ? c->per_1m : c->total);
    snprintf(b, cap, "%s%s", v, c->unverified ? "?" : "");
    return false;
}

bool an_fmt_run_cost(char *b, size_t cap, const an_run *r, bool per_1m)
{
    if (!r->has_own)
        return words(b, cap, r->own_why);
    return fmt_cost(b, cap, &r->own, per_1m);
}

/* ---- the aligned grid ----------------------------------------------------------------------- */

static char *grid_cell(an_grid *g, int row, int col)
{
    if (row >= g->cap) {
        int nc = g->cap ? g->cap * 2 : 16;
        void *p = realloc(g->cell, (size_t)nc * (size_t)g->cols * AN_CELL);
        if (!p)
            return NULL;
        g->cell = p;
        memset(g->cell + (size_t)g->cap * (size_t)g->cols, 0,
               (size_t)(nc - g->cap) * (size_t)g->cols * AN_CELL);
        g->cap = nc;
    }
    if (row >= g->rows)
        g->rows = row + 1;
    return g->cell[(size_t)row * (size_t)g->cols + (size_t)col];
}

#define WORDS_MARK '\x01' /* first byte of a cell that holds words instead of a number */

bool an_grid_is_words(const an_grid *g, int row, int col)
{
    return an_grid_at(g, row, col)[0] == WORDS_MARK;
}

const char *an_grid_text(const an_grid *g, int row, int col)
{
    const char *s = an_grid_at(g, row, col);
    return s[0] == WORDS_MARK ? s + 1 : s;
}

/* Why footnotes: a missing number is explained in words, but a long phrase repeated in every
 * column would make the table unreadable, so the text table shows "-[k]" and lists the phrases
 * below it. */
static void grid_print(const an_grid *g, int max_width, FILE *out)
{
    enum { MAXW = 32, MAXNOTES = 32 };
    const char *notes[MAXNOTES];
    int n_notes = 0, w[MAXW] = {0};
    char(*shown)[AN_CELL] = calloc((size_t)g->rows * (size_t)g->cols, AN_CELL);
    if (!shown)
        return;
    for (int r = 0; r < g->rows; r++)
        for (int c = 0; c < g->cols && c < MAXW; c++) {
            char *d = shown[(size_t)r * (size_t)g->cols + (size_t)c];
            const char *t = an_grid_text(g, r, c);
            if (an_grid_is_words(g, r, c)) {
                int k = 0;
                while (k < n_notes && strcmp(notes[k], t))
                    k++;
                if (k == n_notes && n_notes < MAXNOTES)
                    notes[n_notes++] = t;
                if (k < MAXNOTES)
                    snprintf(d, AN_CELL, "-[%d]", k + 1);
                else
                    snprintf(d, AN_CELL, "%s", t);
            } else {
                snprintf(d, AN_CELL, "%s", t);
            }
            int l = (int)strlen(d);
            w[c] = l > w[c] ? l : w[c];
        }
    /* Too wide: first shorten the first column (run labels) down to ELIDE_MIN, keeping each
     * label's end, "(#id)", which names the run; then columns that still do not fit go to a
     * further block below, each block led by the first column, so no line is wider than
     * max_width (unless one column alone is). */
    int ncols = g->cols < MAXW ? g->cols : MAXW;
    enum { ELIDE_MIN = 16 };
    int total = 0;
    for (int c = 0; c < ncols; c++)
        total += w[c] + (c ? 2 : 0);
    if (max_width > 0 && total > max_width && w[0] > ELIDE_MIN) {
        int to = w[0] - (total - max_width);
        w[0] = to < ELIDE_MIN ? ELIDE_MIN : to;
        for (int r = 1; r < g->rows; r++) {
            char *d = shown[(size_t)r * (size_t)g->cols];
            int len = (int)strlen(d);
            if (len <= w[0])
                continue;
            const char *id = strstr(d, " (#");
            int tail = id ? len - (int)(id - d) : 0;
            if (tail > w[0] - 4)
                tail = 0;
            char e[AN_CELL];
            snprintf(e, sizeof e, "%.*s~%s", w[0] - tail - 1, d, d + len - tail);
            snprintf(d, AN_CELL, "%s", e);
        }
    }
    for (int c0 = 1; c0 < ncols || (c0 == 1 && ncols == 1);) {
        int c1 = c0, tot = w[0];
        while (c1 < ncols && (c1 == c0 || max_width <= 0 || tot + 2 + w[c1] <= max_width))
            tot += 2 + w[c1++];
        if (c0 > 1)
            fputc('\n', out);
        for (int r = 0; r < g->rows; r++) {
            fprintf(out, "%-*s", c1 > c0 ? w[0] : 0, shown[(size_t)r * (size_t)g->cols]);
            for (int c = c0; c < c1; c++)
                fprintf(out, "  %*s", w[c], shown[(size_t)r * (size_t)g->cols + (size_t)c]);
            fputc('\n', out);
            if (r == 0) {
                for (int i = 0; i < tot; i++)
                    fputc('-', out);
                fputc('\n', out);
            }
        }
        if (c1 == c0)
            break;
        c0 = c1;
    }
    for (int k = 0; k < n_notes; k++)
        fprintf(out, "  [%d] %s\n", k + 1, notes[k]);
    free(shown);
}

int an_grid_put(an_grid *g, int row, int col, const char *s, bool is_words)
{
    char *c = grid_cell(g, row, col);
    if (!c)
        return FM_ENOMEM;
    if (is_words)
        snprintf(c, AN_CELL, "%c%s", WORDS_MARK, s);
    else
        snprintf(c, AN_CELL, "%s", s);
    return 0;
}

int an_grid_set(an_grid *g, int row, int col, const char *s)
{
    return an_grid_put(g, row, col, s, false);
}

static const char *const main_cols[] = {"run",
                                        "mode",
                                        "profile",
                                        "requests",
                                        "success [95% CI]",
                                        "p50 ms",
                                        "p99 ms [95% CI]",
                                        "mean ms",
                                        "max ms",
                                        "ok/s",
                                        "cold starts",
                                        "util",
                                        "run cost",
                                        "per 1M ok",
                                        NULL};

static int metrics_row(an_grid *g, int row, const char *label, const an_run *r, const an_metrics *m,
                       bool first_fn_row)
{
    char b[AN_CELL];
    int c = 0, rc = 0;
    rc |= an_grid_set(g, row, c++, label);
    rc |= an_grid_set(g, row, c++, first_fn_row ? (r->info.mode ? r->info.mode : "-") : "");
    rc |= an_grid_set(g, row, c++, first_fn_row ? (r->info.profile ? r->info.profile : "-") : "");
    snprintf(b, sizeof b, "%lld", (long long)m->n_requests);
    rc |= an_grid_set(g, row, c++, b);
    rc |= an_grid_put(g, row, c++, b, fmt_sr(b, sizeof b, &m->success_ratio));
    rc |= an_grid_put(g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_q[AN_P50], false));
    rc |= an_grid_put(g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_q[AN_P99], true));
    rc |= an_grid_put(g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_mean, false));
    rc |= an_grid_put(g, row, c++, b, fmt_num_ms(b, sizeof b, m->latency_max));
    rc |= an_grid_put(g, row, c++, b, fmt_num(b, sizeof b, m->throughput_rps, 1));
    if (m->cold_rate.why)
        snprintf(b, sizeof b, "%lld", (long long)m->cold_starts);
    else
        snprintf(b, sizeof b, "%lld (%.1f%%)", (long long)m->cold_starts, 100 * m->cold_rate.v);
    rc |= an_grid_set(g, row, c++, b);
    rc |= an_grid_put(g, row, c++, b, fmt_pct(b, sizeof b, m->utilisation));
    if (first_fn_row) {
        rc |= an_grid_put(g, row, c++, b, an_fmt_run_cost(b, sizeof b, r, false));
        rc |= an_grid_put(g, row, c++, b, an_fmt_run_cost(b, sizeof b, r, true));
    } else {
        rc |= an_grid_set(g, row, c++, "");
        rc |= an_grid_set(g, row, c++, "");
    }
    return rc;
}

int an_grid_main(an_run *const *runs, size_t n, an_grid *gp)
{
    an_grid g = {.cols = (int)(FM_ARRAY_LEN(main_cols) - 1)};
    int row = 0, rc = 0;
    for (int c = 0; main_cols[c]; c++)
        rc |= an_grid_set(&g, 0, c, main_cols[c]);
    for (size_t i = 0; i < n && !rc; i++) {
        const an_run *r = runs[i];
        rc |= metrics_row(&g, ++row, r->label, r, &r->total, true);
        for (int f = 0; r->n_funcs > 1 && f < r->n_funcs; f++) {
            char l[AN_CELL];
            snprintf(l, sizeof l, "  function %s",
                     r->funcs[f].function[0] ? r->funcs[f].function : "(unnamed)");
            rc |= metrics_row(&g, ++row, l, r, &r->funcs[f], false);
        }
    }
    *gp = g;
    return rc;
}

int an_grid_detail(an_run *const *runs, size_t n, an_grid *gp)
{
    static const char *const cols[] = {
        "run",          "offered/s", "inst max", "inst mean", "cold init ms",     "spawn",
        "runtime init", "download",  "load",     "warmup",    "dispatch mean ms", "dispatch p99",
        "dispatch max", NULL};
    an_grid g = {.cols = (int)(FM_ARRAY_LEN(cols) - 1)};
    int rc = 0;
    char b[AN_CELL];
    for (int c = 0; cols[c]; c++)
        rc |= an_grid_set(&g, 0, c, cols[c]);
    for (size_t i = 0; i < n && !rc; i++) {
        const an_metrics *m = &runs[i]->total;
        int row = (int)i + 1, c = 0;
        rc |= an_grid_set(&g, row, c++, runs[i]->label);
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->offered_rps, 1));
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->instances_max, 0));
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->instances_mean, 2));
        rc |= an_grid_put(&g, row, c++, b, fmt_num_ms(b, sizeof b, m->init_ms));
        for (int k = 0; k < AN__PHASES; k++) {
            rc |= an_grid_put(&g, row, c++, b, fmt_num_ms(b, sizeof b, m->phase_ms[k]));
        }
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_mean_ms, 3));
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_p99_ms, 3));
        rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_max_ms, 3));
    }
    *gp = g;
    return rc;
}

/* The cost of each run on every applicable catalogue entry: one row per entry, a column per run. */
int an_grid_whatif(an_run *const *runs, size_t n, an_grid *gp)
{
    an_grid g = {.cols = (int)n + 1};
    int rc = an_grid_set(&g, 0, 0, "catalogue entry");
    for (size_t i = 0; i < n && !rc; i++)
        rc |= an_grid_set(&g, 0, (int)i + 1, runs[i]->label);
    int rows = 0;
    const char *ids[256];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < runs[i]->n_whatif; k++) {
            const char *id = runs[i]->whatif[k].offer->id;
            int j = 0;
            while (j < rows && strcmp(ids[j], id))
                j++;
            if (j == rows && rows < 256)
                ids[rows++] = id;
        }
    if (rows == 0) {
        *gp = g;
        return rc;
    }
    for (int j = 0; j < rows && !rc; j++) {
        char b[AN_CELL];
        snprintf(b, sizeof b, "%s", ids[j]);
        rc |= an_grid_set(&g, j + 1, 0, b);
        for (size_t i = 0; i < n; i++) {
            const cost_result *c = NULL;
            for (size_t k = 0; k < runs[i]->n_whatif; k++)
                if (strcmp(runs[i]->whatif[k].offer->id, ids[j]) == 0)
                    c = &runs[i]->whatif[k];
            if (c) {
                bool w = fmt_cost(b, sizeof b, c, false);
                if (w) {
                    rc |= an_grid_put(&g, j + 1, (int)i + 1, b, true);
                    continue;
                }
                if (runs[i]->has_own && c->offer == runs[i]->own.offer)
                    strncat(b, " (run's own)", sizeof b - strlen(b) - 1);
            } else {
                snprintf(b, sizeof b, "not applicable");
            }
            rc |= an_grid_set(&g, j + 1, (int)i + 1, b);
        }
    }
    *gp = g;
    return rc;
}

/* ---- the terminal report -------------------------------------------------------------------
 * By default it fits 100 columns: a summary (load, success, p50, p99, cold starts, cost per 1M)
 * then details in narrower tables. --wide prints the same grids the HTML report shows. */

#define TEXT_WIDTH 100

/* Why a cell of its own: an interval that cannot be computed is words ("too few samples") and
 * goes to a footnote like any other missing number, instead of vanishing beside the estimate. */
static bool fmt_ci(char *b, size_t cap, const an_est *e, bool pct)
{
    char lo[32], hi[32];
    if (e->est.why)
        return words(b, cap, e->est.why);
    if (!e->has_ci)
        return words(b, cap, e->ci_why ? e->ci_why : "no interval");
    if (pct) {
        snprintf(b, cap, "[%.1f,%.1f]", 100 * e->lo, 100 * e->hi);
        return false;
    }
    fmt_ms(lo, sizeof lo, e->lo);
    fmt_ms(hi, sizeof hi, e->hi);
    snprintf(b, cap, "[%s,%s]", lo, hi);
    return false;
}

static int summary_row(an_grid *g, int row, const char *label, const an_run *r, const an_metrics *m,
                       bool first_fn_row)
{
    char b[AN_CELL];
    int c = 0, rc = an_grid_set(g, row, c++, label);
    rc |= an_grid_put(g, row, c++, b, fmt_num(b, sizeof b, m->offered_rps, 1));
    if (m->success_ratio.est.why) {
        rc |= an_grid_put(g, row, c++, m->success_ratio.est.why, true);
    } else {
        snprintf(b, sizeof b, "%.1f%%", 100 * m->success_ratio.est.v);
        rc |= an_grid_set(g, row, c++, b);
    }
    rc |= an_grid_put(g, row, c++, b, fmt_ci(b, sizeof b, &m->success_ratio, true));
    rc |= an_grid_put(g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_q[AN_P50], false));
    rc |= an_grid_put(g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_q[AN_P99], false));
    rc |= an_grid_put(g, row, c++, b, fmt_ci(b, sizeof b, &m->latency_q[AN_P99], false));
    rc |= an_grid_put(g, row, c++, b, fmt_pct(b, sizeof b, m->cold_rate));
    if (first_fn_row)
        rc |= an_grid_put(g, row, c++, b, an_fmt_run_cost(b, sizeof b, r, true));
    else
        rc |= an_grid_set(g, row, c++, "");
    return rc;
}

static int grid_summary(an_run *const *runs, size_t n, double level, an_grid *gp)
{
    char ci[32];
    snprintf(ci, sizeof ci, "%g%% CI", 100 * level);
    const char *cols[] = {"run", "load/s", "success", ci, "p50 ms", "p99 ms", ci, "cold", "per 1M"};
    an_grid g = {.cols = (int)FM_ARRAY_LEN(cols)};
    int row = 0, rc = 0;
    for (int c = 0; c < g.cols; c++)
        rc |= an_grid_set(&g, 0, c, cols[c]);
    for (size_t i = 0; i < n && !rc; i++) {
        const an_run *r = runs[i];
        rc |= summary_row(&g, ++row, r->label, r, &r->total, true);
        for (int f = 0; r->n_funcs > 1 && f < r->n_funcs; f++) {
            char l[AN_CELL];
            snprintf(l, sizeof l, "  function %s",
                     r->funcs[f].function[0] ? r->funcs[f].function : "(unnamed)");
            rc |= summary_row(&g, ++row, l, r, &r->funcs[f], false);
        }
    }
    *gp = g;
    return rc;
}

/* The rest of what a run measured, one row per run, in tables that each fit the width. */
typedef enum narrow_kind { NARROW_RUNS, NARROW_INSTANCES, NARROW_DISPATCH } narrow_kind;

static int grid_narrow(an_run *const *runs, size_t n, narrow_kind kind, an_grid *gp)
{
    static const char *const cols[][10] = {
        [NARROW_RUNS] = {"run", "mode", "profile", "requests", "ok/s", "mean ms", "max ms", "util",
                         "run cost", NULL},
        [NARROW_INSTANCES] = {"run", "inst max", "inst mean", "init ms", "spawn", "runtime",
                              "download", "load", "warmup", NULL},
        [NARROW_DISPATCH] = {"run", "mean ms", "p99 ms", "max ms", NULL},
    };
    an_grid g = {0};
    while (cols[kind][g.cols])
        g.cols++;
    int rc = 0;
    char b[AN_CELL];
    for (int c = 0; c < g.cols; c++)
        rc |= an_grid_set(&g, 0, c, cols[kind][c]);
    for (size_t i = 0; i < n && !rc; i++) {
        const an_run *r = runs[i];
        const an_metrics *m = &r->total;
        int row = (int)i + 1, c = 0;
        rc |= an_grid_set(&g, row, c++, r->label);
        switch (kind) {
        case NARROW_RUNS:
            rc |= an_grid_set(&g, row, c++, r->info.mode ? r->info.mode : "-");
            rc |= an_grid_set(&g, row, c++, r->info.profile ? r->info.profile : "-");
            snprintf(b, sizeof b, "%lld", (long long)m->n_requests);
            rc |= an_grid_set(&g, row, c++, b);
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->throughput_rps, 1));
            rc |= an_grid_put(&g, row, c++, b, fmt_est_ms(b, sizeof b, &m->latency_mean, false));
            rc |= an_grid_put(&g, row, c++, b, fmt_num_ms(b, sizeof b, m->latency_max));
            rc |= an_grid_put(&g, row, c++, b, fmt_pct(b, sizeof b, m->utilisation));
            rc |= an_grid_put(&g, row, c++, b, an_fmt_run_cost(b, sizeof b, r, false));
            break;
        case NARROW_INSTANCES:
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->instances_max, 0));
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->instances_mean, 2));
            rc |= an_grid_put(&g, row, c++, b, fmt_num_ms(b, sizeof b, m->init_ms));
            for (int k = 0; k < AN__PHASES; k++)
                rc |= an_grid_put(&g, row, c++, b, fmt_num_ms(b, sizeof b, m->phase_ms[k]));
            break;
        case NARROW_DISPATCH:
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_mean_ms, 3));
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_p99_ms, 3));
            rc |= an_grid_put(&g, row, c++, b, fmt_num(b, sizeof b, m->dispatch_max_ms, 3));
            break;
        }
    }
    *gp = g;
    return rc;
}

static int print_built(int rc, an_grid *g, int width, FILE *out)
{
    if (!rc && g->rows > 1)
        grid_print(g, width, out);
    free(g->cell);
    return rc;
}

static int print_grid(int (*build)(an_run *const *, size_t, an_grid *), an_run *const *runs,
                      size_t n, int width, FILE *out)
{
    an_grid g = {0};
    return print_built(build(runs, n, &g), &g, width, out);
}

/* Why: prose lines are wrapped like the tables, so the whole report fits the terminal. */
static void wrapped(FILE *out, int width, const char *indent, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wrapped(FILE *out, int width, const char *indent, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const char *p = text;
    size_t ind = 0;
    while (*p) {
        size_t room = (size_t)(width > 0 ? width : 100000) - ind, len = strlen(p);
        size_t cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut == 0) /* one word longer than the line: break it */
                cut = room;
        }
        fprintf(out, "%*s%.*s\n", (int)ind, "", (int)cut, p);
        p += cut;
        while (*p == ' ')
            p++;
        ind = strlen(indent);
    }
}

/* The SLO once when every run has the same one, else one line per run. */
static void slo_lines(an_run *const *runs, size_t n, int width, FILE *out)
{
    bool same = true;
    for (size_t i = 1; i < n; i++)
        same &= runs[i]->slo_ms == runs[0]->slo_ms &&
                strcmp(runs[i]->slo_source, runs[0]->slo_source) == 0;
    const char *def = "a request succeeds when it gets a 2xx response within the SLO (latency "
                      "<= SLO counts as success)";
    if (same && runs[0]->slo_ms > 0) {
        wrapped(out, width, "  ", "SLO: %g ms for every run (from %s): %s.", runs[0]->slo_ms,
                runs[0]->slo_source, def);
        return;
    }
    if (same) {
        wrapped(out, width, "  ", "SLO: none; success = any 2xx response.");
        return;
    }
    wrapped(out, width, "  ", "SLO: %s.", def);
    for (size_t i = 0; i < n; i++) {
        if (runs[i]->slo_ms > 0)
            wrapped(out, width, "    ", "  %s: SLO %g ms (from %s)", runs[i]->label,
                    runs[i]->slo_ms, runs[i]->slo_source);
        else
            wrapped(out, width, "    ", "  %s: no SLO (success = any 2xx response)",
                    runs[i]->label);
    }
}

static void definitions(an_run *const *runs, size_t n, const an_opts *o, int width, FILE *out)
{
    double level = o->level > 0 ? o->level : 0.95;
    fputc('\n', out);
    slo_lines(runs, n, width, out);
    wrapped(out, width, "  ",
            "latency: response received minus request sent, over 2xx responses. %.0f%% CIs: "
            "quantiles by order statistics (distribution-free), success ratio by Wilson score, "
            "mean by normal approximation.",
            100 * level);
    bool any_sim = false;
    for (size_t i = 0; i < n; i++)
        any_sim |= runs[i]->info.mode && strcmp(runs[i]->info.mode, "sim") == 0;
    if (any_sim)
        wrapped(out, width, "  ",
                "Intervals of simulated runs cover the sampling of that simulation only, not "
                "the uncertainty of the calibration it was simulated from: a narrow interval "
                "there means many simulated requests, not a certain prediction.");
    wrapped(out, width, "  ",
            "load/s: requests offered (scheduled) per second. cold: share of requests that "
            "waited for a new instance. per 1M: the run's cost per 1M successful requests. util: "
            "busy instance-seconds / billed "
            "instance-seconds. cost: USD, catalogue snapshot '%s'; '?' marks a price the "
            "catalogue lists as unverified. Definitions: docs/report.md.",
            o->snapshot ? o->snapshot : "current");
}

static void workload_words(char *b, size_t cap, const an_run *r)
{
    char rate[48];
    an_fmt(rate, sizeof rate, r->total.offered_rps, 1);
    snprintf(b, cap, "%lld requests at %s/s offered", (long long)r->total.n_requests, rate);
}

static void compare_line(const an_run *base, const an_run *r, int width, FILE *out)
{
    char p99[64], cost[64], mark[256] = "";
    const an_est *a = &base->total.latency_q[AN_P99], *b = &r->total.latency_q[AN_P99];
    if (a->est.why || b->est.why || a->est.v <= 0)
        snprintf(p99, sizeof p99, "not comparable");
    else
        snprintf(p99, sizeof p99, "x%.3g", b->est.v / a->est.v);
    if (!base->has_own || !r->has_own || !base->own.priced || !r->own.priced ||
        !base->own.has_per_1m || !r->own.has_per_1m || base->own.per_1m <= 0)
        snprintf(cost, sizeof cost, "per 1M ok not comparable");
    else
        snprintf(cost, sizeof cost, "per 1M ok x%.3g", r->own.per_1m / base->own.per_1m);
    if (!an_same_workload(base, r)) {
        char w[128];
        workload_words(w, sizeof w, r);
        snprintf(mark, sizeof mark, " [different workload: %s]", w);
    }
    wrapped(out, width, "      ", "  %s: p99 %s, cost %s%s", r->label, p99, cost, mark);
}

/* Why: a ratio between runs of different loads says nothing about the platforms, so runs are
 * compared within their workload (with the first run of each), or with the baseline the user
 * chose, where a different workload is said on the line. */
static void comparisons(an_run *const *runs, size_t n, const an_opts *o, int width, FILE *out)
{
    char w[128];
    if (o->baseline) {
        workload_words(w, sizeof w, o->baseline);
        fputc('\n', out);
        wrapped(out, width, "  ", "compared with %s (%s):", o->baseline->label, w);
        for (size_t i = 0; i < n; i++)
            if (runs[i] != o->baseline)
                compare_line(o->baseline, runs[i], width, out);
        return;
    }
    bool *done = calloc(n, sizeof *done);
    if (!done)
        return;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        done[i] = true;
        size_t k = 0;
        for (size_t j = i + 1; j < n; j++)
            k += !done[j] && an_same_workload(runs[i], runs[j]);
        if (k == 0)
            continue;
        workload_words(w, sizeof w, runs[i]);
        fputc('\n', out);
        wrapped(out, width, "  ", "compared with %s (same workload: %s):", runs[i]->label, w);
        for (size_t j = i + 1; j < n; j++)
            if (!done[j] && an_same_workload(runs[i], runs[j])) {
                done[j] = true;
                compare_line(runs[i], runs[j], width, out);
            }
    }
    free(done);
}

int analyze_write_table(an_run *const *runs, size_t n, const an_opts *o, FILE *out)
{
    if (n == 0) {
        fprintf(out, "no runs to report\n");
        return 0;
    }
    int width = o->wide ? 0 : TEXT_WIDTH, rc;
    double level = o->level > 0 ? o->level : 0.95;
    if (o->wide) {
        rc = print_grid(an_grid_main, runs, n, 0, out);
        if (!rc) {
            fputc('\n', out);
            rc = print_grid(an_grid_detail, runs, n, 0, out);
        }
    } else {
        an_grid g = {0};
        rc = print_built(grid_summary(runs, n, level, &g), &g, width, out);
        static const char *const titles[] = {"runs", "instances and cold-start phases (ms)",
                                             "load generator dispatch error"};
        for (int k = NARROW_RUNS; !rc && k <= NARROW_DISPATCH; k++) {
            fprintf(out, "\n%s:\n", titles[k]);
            an_grid d = {0};
            rc = print_built(grid_narrow(runs, n, (narrow_kind)k, &d), &d, width, out);
        }
    }
    size_t n_offers = 0;
    for (size_t i = 0; i < n; i++)
        n_offers = runs[i]->n_whatif > n_offers ? runs[i]->n_whatif : n_offers;
    if (!rc && (o->costs || o->wide)) {
        fprintf(out, "\ncost of each run on the catalogue entries that apply (snapshot %s):\n",
                runs[0]->snapshot ? runs[0]->snapshot : "-");
        rc = print_grid(an_grid_whatif, runs, n, width, out);
    } else if (!rc && n_offers > 1) {
        fputc('\n', out);
        wrapped(out, width, "  ",
                "(the same runs priced on every catalogue entry that applies: --costs)");
    }
    if (!rc && n > 1)
        comparisons(runs, n, o, width, out);
    if (!rc)
        definitions(runs, n, o, width, out);
    if (!rc && ferror(out))
        rc = FM_EIO;
    return rc;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_num(FILE *out, const char *key, an_num v, bool *first)
{
    fprintf(out, "%s\"%s\":", *first ? "" : ",", key);
    *first = false;
    if (v.why) {
        char q[256];
        fm_json_quote(q, sizeof q, v.why);
        fprintf(out, "{\"value\":null,\"note\":%s}", q);
    } else {
        fprintf(out, "{\"value\":%.17g}", v.v);
    }
}

static void json_est(FILE *out, const char *key, const an_est *e, bool *first)
{
    fprintf(out, "%s\"%s\":", *first ? "" : ",", key);
    *first = false;
    char q[256];
    if (e->est.why) {
        fm_json_quote(q, sizeof q, e->est.why);
        fprintf(out, "{\"value\":null,\"note\":%s}", q);
        return;
    }
    fprintf(out, "{\"value\":%.17g", e->est.v);
    if (e->has_ci)
        fprintf(out, ",\"ci\":[%.17g,%.17g],\"coverage\":%.6f", e->lo, e->hi, e->coverage);
    else {
        fm_json_quote(q, sizeof q, e->ci_why ? e->ci_why : "none");
        fprintf(out, ",\"ci\":null,\"ci_note\":%s", q);
    }
    fputc('}', out);
}

static void json_metrics(FILE *out, const an_metrics *m)
{
    bool f = true;
    fputc('{', out);
    if (m->function) {
        char q[512];
        fm_json_quote(q, sizeof q, m->function);
        fprintf(out, "\"function\":%s", q);
        f = false;
    }
    fprintf(out,
            "%s\"requests\":%lld,\"ok_2xx\":%lld,\"success\":%lld,\"invoked\":%lld,"
            "\"throttled\":%lld,\"cold_starts\":%lld,\"instances\":%lld",
            f ? "" : ",", (long long)m->n_requests, (long long)m->n_2xx, (long long)m->n_success,
            (long long)m->n_invoked, (long long)m->n_throttled, (long long)m->cold_starts,
            (long long)m->n_instances);
    f = false;
    json_est(out, "success_ratio", &m->success_ratio, &f);
    json_est(out, "latency_mean_ms", &m->latency_mean, &f);
    for (int q = 0; q < AN__QUANTILES; q++) {
        char k[32];
        snprintf(k, sizeof k, "latency_%s_ms", an_quantile_name[q]);
        json_est(out, k, &m->latency_q[q], &f);
    }
    json_num(out, "latency_max_ms", m->latency_max, &f);
    json_num(out, "throughput_rps", m->throughput_rps, &f);
    json_num(out, "offered_rps", m->offered_rps, &f);
    json_num(out, "cold_rate", m->cold_rate, &f);
    json_num(out, "cold_init_ms", m->init_ms, &f);
    for (int k = 0; k < AN__PHASES; k++) {
        char key[48];
        snprintf(key, sizeof key, "phase_%s_ms", an_phase_name[k]);
        for (char *p = key; *p; p++)
            if (*p == ' ')
                *p = '_';
        json_num(out, key, m->phase_ms[k], &f);
    }
    json_num(out, "instances_max", m->instances_max, &f);
    json_num(out, "instances_mean", m->instances_mean, &f);
    json_num(out, "busy_instance_s", m->busy_s, &f);
    json_num(out, "billed_instance_s", m->billed_s, &f);
    json_num(out, "utilisation", m->utilisation, &f);
    json_num(out, "dispatch_mean_ms", m->dispatch_mean_ms, &f);
    json_num(out, "dispatch_p99_ms", m->dispatch_p99_ms, &f);
    json_num(out, "dispatch_max_ms", m->dispatch_max_ms, &f);
    fputc('}', out);
}

static void json_cost(FILE *out, const cost_result *c)
{
    char q[512], s[1024];
    fm_json_quote(q, sizeof q, c->offer->id);
    fprintf(out, "{\"offer\":%s,\"snapshot\":\"%s\",\"profile\":\"%s\"", q, c->offer->snapshot,
            cost_profile_name(c->offer->profile));
    if (!c->priced) {
        fm_json_quote(q, sizeof q, c->why);
        fprintf(out, ",\"usd\":null,\"note\":%s}", q);
        return;
    }
    fprintf(out, ",\"usd\":%.17g,\"per_1m_ok_usd\":", c->total);
    if (c->has_per_1m)
        fprintf(out, "%.17g", c->per_1m);
    else
        fprintf(out, "null");
    fprintf(out, ",\"unverified\":%s,\"lines\":[", c->unverified ? "true" : "false");
    for (int i = 0; i < c->n_lines; i++) {
        const cost_line *l = &c->lines[i];
        const cost_price *p = &c->offer->price[l->item];
        fm_json_quote(s, sizeof s, p->source);
        fprintf(out,
                "%s{\"item\":\"%s\",\"quantity\":%.17g,\"unit\":\"%s\",\"unit_price\":%.17g,"
                "\"amount\":%.17g,\"status\":\"%s\",\"date\":\"%s\",\"source\":%s}",
                i ? "," : "", cost_item_key(l->item), l->quantity, cost_item_unit(l->item),
                l->unit_price, l->amount, p->status, p->date, s);
    }
    fprintf(out, "]}");
}

int analyze_write_json(an_run *const *runs, size_t n, const an_opts *o, FILE *out)
{
    fprintf(out, "{\"confidence_level\":%g,\"snapshot\":\"%s\",\"runs\":[",
            o->level > 0 ? o->level : 0.95, o->snapshot ? o->snapshot : "current");
    for (size_t i = 0; i < n; i++) {
        const an_run *r = runs[i];
        char q[512], name[512];
        fm_json_quote(q, sizeof q, r->label);
        fm_json_quote(name, sizeof name, r->info.name ? r->info.name : "");
        fprintf(out,
                "%s{\"label\":%s,\"id\":%lld,\"name\":%s,\"mode\":\"%s\",\"profile\":\"%s\","
                "\"status\":\"%s\",\"seed\":%llu,",
                i ? "," : "", q, (long long)r->info.id, name, r->info.mode ? r->info.mode : "",
                r->info.profile ? r->info.profile : "", r->info.status ? r->info.status : "",
                (unsigned long long)r->info.seed);
        if (r->slo_ms > 0)
            fprintf(out, "\"slo_ms\":%g,\"slo_source\":\"%s\",", r->slo_ms, r->slo_source);
        else
            fprintf(out, "\"slo_ms\":null,\"slo_source\":\"none\",");
        fprintf(out, "\"metrics\":");
        json_metrics(out, &r->total);
        fprintf(out, ",\"functions\":[");
        for (int f = 0; f < r->n_funcs; f++) {
            if (f)
                fputc(',', out);
            json_metrics(out, &r->funcs[f]);
        }
        fprintf(out, "],\"cost\":");
        if (r->has_own) {
            json_cost(out, &r->own);
        } else {
            fm_json_quote(q, sizeof q, r->own_why);
            fprintf(out, "{\"usd\":null,\"note\":%s}", q);
        }
        fprintf(out, ",\"cost_elsewhere\":[");
        for (size_t k = 0; k < r->n_whatif; k++) {
            if (k)
                fputc(',', out);
            json_cost(out, &r->whatif[k]);
        }
        fprintf(out, "]}");
    }
    fprintf(out, "]}\n");
    return ferror(out) ? FM_EIO : 0;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static void csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_num(FILE *out, an_num v)
{
    fputc(',', out);
    if (v.why)
        csv_str(out, v.why);
    else
        fprintf(out, "%.10g", v.v);
}

static void csv_est(FILE *out, const an_est *e)
{
    csv_num(out, e->est);
    if (e->has_ci && !e->est.why)
        fprintf(out, ",%.10g,%.10g", e->lo, e->hi);
    else {
        fputc(',', out);
        csv_str(out, e->est.why ? e->est.why : e->ci_why ? e->ci_why : "no interval");
        fputc(',', out);
        csv_str(out, e->est.why ? e->est.why : e->ci_why ? e->ci_why : "no interval");
    }
}

int analyze_write_csv(an_run *const *runs, size_t n, const an_opts *o, FILE *out)
{
    fputs("run_id,run,function,mode,profile,slo_ms,requests,ok_2xx,success,success_ratio,"
          "success_ratio_lo,success_ratio_hi,latency_mean_ms,latency_mean_lo,latency_mean_hi",
          out);
    for (int q = 0; q < AN__QUANTILES; q++)
        fprintf(out, ",latency_%s_ms,latency_%s_lo,latency_%s_hi", an_quantile_name[q],
                an_quantile_name[q], an_quantile_name[q]);
    fputs(",latency_max_ms,throughput_rps,offered_rps,cold_starts,cold_rate,instances_max,"
          "instances_mean,utilisation,dispatch_mean_ms,dispatch_p99_ms,cost_usd,"
          "cost_per_1m_ok_usd,cost_offer\r\n",
          out);
    (void)o;
    for (size_t i = 0; i < n; i++) {
        const an_run *r = runs[i];
        for (int f = -1; f < (r->n_funcs > 1 ? r->n_funcs : 0); f++) {
            const an_metrics *m = f < 0 ? &r->total : &r->funcs[f];
            char b[256];
            fprintf(out, "%lld,", (long long)r->info.id);
            csv_str(out, r->info.name ? r->info.name : "");
            fputc(',', out);
            csv_str(out, f < 0 ? "" : m->function);
            fprintf(out, ",%s,", r->info.mode ? r->info.mode : "");
            csv_str(out, r->info.profile ? r->info.profile : "");
            if (r->slo_ms > 0)
                fprintf(out, ",%g", r->slo_ms);
            else
                fputs(",no SLO", out);
            fprintf(out, ",%lld,%lld,%lld", (long long)m->n_requests, (long long)m->n_2xx,
                    (long long)m->n_success);
            csv_est(out, &m->success_ratio);
            csv_est(out, &m->latency_mean);
            for (int q = 0; q < AN__QUANTILES; q++)
                csv_est(out, &m->latency_q[q]);
            csv_num(out, m->latency_max);
            csv_num(out, m->throughput_rps);
            csv_num(out, m->offered_rps);
            fprintf(out, ",%lld", (long long)m->cold_starts);
            csv_num(out, m->cold_rate);
            csv_num(out, m->instances_max);
            csv_num(out, m->instances_mean);
            csv_num(out, m->utilisation);
            csv_num(out, m->dispatch_mean_ms);
            csv_num(out, m->dispatch_p99_ms);
            if (f >= 0) {
                fputs(",per run only,per run only,", out);
            } else if (!r->has_own || !r->own.priced) {
                fputc(',', out);
                csv_str(out, r->has_own ? r->own.why : r->own_why);
                fputc(',', out);
                csv_str(out, r->has_own ? r->own.why : r->own_why);
                fputc(',', out);
                csv_str(out, r->has_own ? r->own.offer->id : "");
            } else {
                fprintf(out, ",%.10g,", r->own.total);
                if (r->own.has_per_1m)
                    fprintf(out, "%.10g", r->own.per_1m);
                else
                    fputs("no successful requests", out);
                fputc(',', out);
                snprintf(b, sizeof b, "%s%s", r->own.offer->id,
                         r->own.unverified ? " (unverified price)" : "");
                csv_str(out, b);
            }
            fputs("\r\n", out);
        }
    }
    return ferror(out) ? FM_EIO : 0;
}
