/* The HTML report: index.html with the tables, and SVG figures drawn by gnuplot, each kept with
 * its script (.gp) and data (.dat) so a user can restyle it. Written into a temporary directory
 * and renamed into place, so an error never leaves a partial report. */
#include "analyze.h"
#include "analyze_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKER ".faasml-report"
#define MAX_POINTS 20000 /* per timeline figure; more are thinned evenly */

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                      "#76b7b2", "#edc948", "#b07aa1", "#9c755f"};

typedef struct html {
    char dir[PATH_MAX]; /* the temporary directory being filled */
    an_run *const *runs;
    size_t n;
    const an_opts *o;
    fm_err *err;
} html;

/* ---- files ---------------------------------------------------------------------------------- */

static FILE *open_in(html *h, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", h->dir, name);
    FILE *f = fopen(p, "w");
    if (!f)
        fm_err_set(h->err, -errno, "cannot write '%s': %s", p, strerror(errno));
    return f;
}

static int close_file(html *h, FILE *f, const char *name)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return fm_err_set(h->err, FM_EIO, "cannot write '%s/%s'", h->dir, name);
    return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Why a subprocess: gnuplot from Debian draws the figures, so they can be restyled by editing
 * the .gp script beside each one and running gnuplot again. Its messages go to a log that is
 * quoted in the error when it fails. */
static int run_gnuplot(html *h, const char *script)
{
    char log[PATH_MAX + 32];
    snprintf(log, sizeof log, "%s/gnuplot.log", h->dir);
    pid_t pid = fork();
    if (pid < 0)
        return fm_err_set(h->err, -errno, "cannot run gnuplot: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(h->dir) == 0)
            execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        unlink(log);
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return fm_err_set(h->err, FM_ENOTFOUND,
                          "cannot run 'gnuplot' (install gnuplot-nox, scripts/install-deps.sh)");
    char *txt = NULL;
    size_t len = 0;
    fm_read_file(log, &txt, &len, NULL);
    char *last = txt ? txt : "";
    while (len > 0 && (last[len - 1] == '\n' || last[len - 1] == ' '))
        last[--len] = 0;
    char *nl = strrchr(last, '\n');
    int rc =
        fm_err_set(h->err, FM_EINTERNAL, "gnuplot failed on '%s': %s", script, nl ? nl + 1 : last);
    free(txt);
    return rc;
}

/* Why: every figure is a data file and a gnuplot script written side by side; both open or
 * neither does. */
static int fig_open(html *h, const char *dn, const char *gn, FILE **d, FILE **g)
{
    *d = open_in(h, dn);
    *g = open_in(h, gn);
    if (*d && *g)
        return 0;
    if (*d)
        fclose(*d);
    if (*g)
        fclose(*g);
    return h->err->code;
}

/* Closes a figure's two files and renders the script into its SVG. */
static int fig_close(html *h, FILE *d, FILE *g, const char *dn, const char *gn)
{
    int rc = close_file(h, d, dn);
    rc = close_file(h, g, gn) || rc ? h->err->code : 0;
    return rc ? rc : run_gnuplot(h, gn);
}

/* A label safe inside a single-quoted gnuplot string ('' is a literal quote). */
static void gp_quote(char *b, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 3 < cap; s++) {
        if (*s == '\'')
            b[k++] = '\'';
        b[k++] = (*s == '\n' || *s == '\t') ? ' ' : *s;
    }
    b[k] = 0;
}

/* A label safe as a tab-separated data field. */
static void dat_label(char *b, size_t cap, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < cap; s++)
        b[k++] = (*s == '\t' || *s == '\n' || *s == '"') ? ' ' : *s;
    b[k] = 0;
}

static void preamble(FILE *f, const char *name, int w, int hgt)
{
    fprintf(f,
            "# %s.gp: drawn by faasml report; edit and run `gnuplot %s.gp` to restyle.\n"
            "set terminal svg size %d,%d noenhanced font 'sans-serif,13' background rgb 'white'\n"
            "set encoding utf8\n"
            "set output '%s.svg'\n"
            "set datafile separator '\\t'\n"
            "set border 3 lc rgb '#555555'\n"
            "set tics nomirror textcolor rgb '#333333'\n"
            "set grid lc rgb '#e6e6e6' lt 1\n"
            "set key noautotitle box lc rgb '#cccccc' opaque\n",
            name, name, w, hgt, name);
    for (size_t i = 0; i < FM_ARRAY_LEN(palette); i++)
        fprintf(f, "set style line %zu lc rgb '%s' lw 2.2 pt 7\n", i + 1, palette[i]);
}

/* A figure with nothing to draw says so, in a short image instead of a blank full-size one. */
static void no_data(FILE *f, const char *name, const char *why)
{
    char q[256];
    gp_quote(q, sizeof q, why);
    fprintf(f,
            "set terminal svg size 900,120 noenhanced font 'sans-serif,13' background rgb 'white'\n"
            "set output '%s.svg'\n"
            "unset border; unset tics; unset grid; unset key\n"
            "set xrange [0:1]; set yrange [0:1]\n"
            "set label 1 '%s' at graph 0.5, graph 0.5 center font ',15' tc rgb '#888888'\n"
            "plot 2 notitle\n",
            name, q);
}

/* ---- figures -------------------------------------------------------------------------------- */

typedef struct figure {
    char name[64];
    char title[128];
    char caption[600];
} figure;

static int fig_cdf(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "latency_cdf");
    snprintf(fg->title, sizeof fg->title, "Latency distribution");
    snprintf(fg->caption, sizeof fg->caption,
             "Empirical CDF of the latency of 2xx responses, one line per run; the dashed line "
             "is the SLO.");
    FILE *d, *g;
    if (fig_open(h, "latency_cdf.dat", "latency_cdf.gp", &d, &g))
        return h->err->code;
    preamble(g, "latency_cdf", 900, 440);
    double lo = INFINITY, hi = 0;
    int blocks = 0;
    fprintf(g, "set xlabel 'latency (ms)'\nset ylabel 'fraction of 2xx responses <= x'\n"
               "set yrange [0:1.02]\nset key bottom right\n");
    char plot[16384];
    size_t pl = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        if (r->n_lat == 0)
            continue;
        fprintf(d, "# %s: latency_ms\tfraction\n", r->label);
        size_t k = r->n_lat > 1000 ? 1000 : r->n_lat;
        for (size_t j = 0; j < k; j++) {
            size_t idx =
                k == 1 ? 0 : (size_t)llround((double)j * (double)(r->n_lat - 1) / (double)(k - 1));
            fprintf(d, "%.6g\t%.6g\n", r->lat_sorted[idx], (double)(idx + 1) / (double)r->n_lat);
        }
        fprintf(d, "\n\n");
        lo = fmin(lo, r->lat_sorted[0]);
        hi = fmax(hi, r->lat_sorted[r->n_lat - 1]);
        char q[300];
        gp_quote(q, sizeof q, r->label);
        pl += (size_t)snprintf(
            plot + pl, sizeof plot - pl,
            "%s'latency_cdf.dat' index %d using 1:2 with steps ls %zu title '%s'",
            blocks ? ", \\\n     " : "plot ", blocks, i % FM_ARRAY_LEN(palette) + 1, q);
        if (pl >= sizeof plot)
            pl = sizeof plot - 1;
        blocks++;
    }
    if (blocks == 0) {
        fprintf(d, "# no run has a successful request\n");
        no_data(g, "latency_cdf", "no successful requests in any run");
    } else {
        if (lo > 0 && hi / lo > 20)
            fprintf(g, "set logscale x 10\n");
        double slo_seen[16];
        int ns = 0;
        for (size_t i = 0; i < h->n && ns < 16; i++) {
            double s = h->runs[i]->slo_ms;
            bool dup = false;
            for (int j = 0; j < ns; j++)
                dup |= slo_seen[j] == s;
            if (s <= 0 || dup)
                continue;
            slo_seen[ns++] = s;
            fprintf(
                g,
                "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lw 1.5 lc rgb '#888888'\n"
                "set label 'SLO %g ms' at %g, graph 0.97 left offset 0.5,0 tc rgb '#666666'\n",
                s, s, s, s);
        }
        fprintf(g, "%s\n", plot);
    }
    return fig_close(h, d, g, "latency_cdf.dat", "latency_cdf.gp");
}

static int fig_timeline(html *h, size_t k, figure *fg)
{
    const an_run *r = h->runs[k];
    char dn[80], gn[80], q[300];
    snprintf(fg->name, sizeof fg->name, "timeline_%zu", k + 1);
    snprintf(fg->title, sizeof fg->title, "Over time: %s", r->label);
    snprintf(dn, sizeof dn, "%s.dat", fg->name);
    snprintf(gn, sizeof gn, "%s.gp", fg->name);
    size_t step = r->n_timeline > MAX_POINTS ? (r->n_timeline + MAX_POINTS - 1) / MAX_POINTS : 1;
    snprintf(fg->caption, sizeof fg->caption,
             "Top: latency of each answered request by the time it was sent (blue: success, "
             "red: error or over the SLO)%s. Bottom: arrival rate (requests scheduled per second) "
             "and instances alive (from the %s)%s.",
             step > 1 ? "; thinned evenly to at most 20000 points" : "",
             r->instances_source ? r->instances_source : "instances table",
             r->n_busy ? "; dashed: instances busy" : "");
    FILE *d, *g;
    if (fig_open(h, dn, gn, &d, &g))
        return h->err->code;
    preamble(g, fg->name, 900, 560);
    size_t n_ok = 0, n_bad = 0;
    double inst_max = 0; /* headroom above the instance line, so it does not hide in the border */
    for (size_t i = 0; i < r->n_instances; i++)
        inst_max = fmax(inst_max, r->instances[i].y);
    double lo = INFINITY, hi = 0, end = 0;
    for (int pass = 0; pass < 2; pass++) {
        fprintf(d, "# %s: sent_s\tlatency_ms\n", pass == 0 ? "successful" : "failed or over SLO");
        for (size_t i = 0; i < r->n_timeline; i += step) {
            if (r->timeline_ok[i] != (pass == 0))
                continue;
            fprintf(d, "%.6f\t%.6g\n", r->timeline[i].x, r->timeline[i].y);
            *(pass == 0 ? &n_ok : &n_bad) += 1;
            lo = fmin(lo, r->timeline[i].y);
            hi = fmax(hi, r->timeline[i].y);
            end = fmax(end, r->timeline[i].x);
        }
        if ((pass == 0 ? n_ok : n_bad) == 0) /* gnuplot skips the index of a block without data */
            fprintf(d, "NaN\tNaN\n");
        fprintf(d, "\n\n");
    }
    fprintf(d, "# arrival rate: t_s\trequests_per_s\n");
    for (size_t i = 0; i < r->n_arrivals; i++) {
        fprintf(d, "%.6f\t%.6g\n", r->arrivals[i].x, r->arrivals[i].y);
        end = fmax(end, r->arrivals[i].x + 1);
    }
    if (r->n_arrivals == 0)
        fprintf(d, "NaN\tNaN\n");
    fprintf(d, "\n\n# instances alive: t_s\tcount\n");
    for (size_t i = 0; i < r->n_instances; i++) {
        fprintf(d, "%.6f\t%g\n", r->instances[i].x, r->instances[i].y);
        end = fmax(end, r->instances[i].x);
    }
    if (r->n_instances) /* carry the last step to the end of the run */
        fprintf(d, "%.6f\t%g\n", end, r->instances[r->n_instances - 1].y);
    else
        fprintf(d, "NaN\tNaN\n");
    fprintf(d, "\n\n# instances busy: t_s\tcount\n");
    for (size_t i = 0; i < r->n_busy; i++)
        fprintf(d, "%.6f\t%g\n", r->busy[i].x, r->busy[i].y);
    if (r->n_busy)
        fprintf(d, "%.6f\t%g\n", end, r->busy[r->n_busy - 1].y);
    fprintf(d, "\n\n");
    if (n_ok + n_bad == 0 && r->n_arrivals == 0 && r->n_instances == 0) {
        no_data(g, fg->name, "no requests recorded");
    } else {
        fprintf(g,
                "set multiplot layout 2,1 margins 0.11,0.9,0.1,0.97 spacing 0,0.08\n"
                "set xrange [0:%g]\n",
                end > 0 ? end : 1);
        gp_quote(q, sizeof q, r->label);
        if (n_ok + n_bad == 0) {
            fprintf(g, "set label 1 'no answered requests' at graph 0.5, graph 0.5 center "
                       "tc rgb '#888888'\nset yrange [0:1]\nplot 2 notitle\nunset label 1\n"
                       "set yrange [*:*]\n");
        } else {
            if (lo > 0 && hi / lo > 20)
                fprintf(g, "set logscale y 10\n");
            fprintf(g, "set ylabel 'latency (ms)'\nset key top right\nset format x ''\n");
            if (r->slo_ms > 0)
                fprintf(g,
                        "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 "
                        "lw 1.5 lc rgb '#888888'\nset label 2 'SLO' at graph 0.005, first %g "
                        "left offset 0,0.6 tc rgb '#666666'\n",
                        r->slo_ms, r->slo_ms, r->slo_ms);
            fprintf(g, "plot ");
            if (n_ok)
                fprintf(g,
                        "'%s' index 0 using 1:2 with points pt 7 ps 0.35 lc rgb '%s' "
                        "title 'success'%s",
                        dn, palette[0], n_bad ? ", \\\n     " : "");
            if (n_bad)
                fprintf(g,
                        "'%s' index 1 using 1:2 with points pt 7 ps 0.45 lc rgb '%s' "
                        "title 'error or over SLO'",
                        dn, palette[3]);
            fprintf(g, "\nunset logscale y\nunset arrow 1\nunset label 2\n");
        }
        fprintf(g,
                "set format x '%%g'\nset xlabel 'time since start of run (s)'\n"
                "set ylabel 'arrivals (req/s)'\nset y2label 'instances'\n"
                "set ytics nomirror\nset y2tics\nset yrange [0:*]\nset y2range [0:%g]\n"
                "set offsets 0,0,graph 0.12,0\nset key top right\nplot ",
                inst_max > 0 ? ceil(inst_max * 1.15) : 1);
        bool any = false;
        if (r->n_arrivals) {
            fprintf(g,
                    "'%s' index 2 using 1:2 with steps ls 1 lw 1.6 title 'arrival rate' "
                    "axes x1y1",
                    dn);
            any = true;
        }
        if (r->n_instances)
            fprintf(g,
                    "%s'%s' index 3 using 1:2 with steps ls 2 lw 2.4 title 'instances' "
                    "axes x1y2",
                    any ? ", \\\n     " : "", dn);
        else if (!any)
            fprintf(g, "2 notitle");
        if (r->n_busy)
            fprintf(g,
                    ", \\\n     '%s' index 4 using 1:2 with steps ls 3 lw 1.8 dt 2 "
                    "title 'busy' axes x1y2",
                    dn);
        fprintf(g, "\nunset multiplot\n");
    }
    return fig_close(h, d, g, dn, gn);
}

static int fig_cost(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "cost");
    snprintf(fg->title, sizeof fg->title, "Cost per run");
    snprintf(fg->caption, sizeof fg->caption,
             "Left: what each run cost on the catalogue entry it was recorded on (USD, snapshot "
             "'%s'). Right: the same per 1M successful requests. Runs without a price are "
             "left out and say why in the tables.",
             h->o->snapshot ? h->o->snapshot : "current");
    FILE *d, *g;
    if (fig_open(h, "cost.dat", "cost.gp", &d, &g))
        return h->err->code;
    preamble(g, "cost", 900, 460);
    fprintf(d, "# i\trun\tcost_usd\tper_1m_ok_usd\n");
    int rows = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        if (!r->has_own || !r->own.priced)
            continue;
        char l[300];
        dat_label(l, sizeof l, r->label);
        if (r->own.has_per_1m)
            fprintf(d, "%d\t%s\t%.10g\t%.10g\n", rows++, l, r->own.total, r->own.per_1m);
        else /* '?' is gnuplot's missing value: no bar rather than a false 0 */
            fprintf(d, "%d\t%s\t%.10g\t?\n", rows++, l, r->own.total);
    }
    if (rows == 0) {
        no_data(g, "cost", "no run has a price");
    } else {
        fprintf(g,
                "set datafile missing '?'\nunset key\n"
                "set multiplot layout 1,2 margins 0.09,0.94,0.27,0.92 spacing 0.1,0\n"
                "set style fill solid 0.85 noborder\nset boxwidth 0.6\n"
                "set xtics rotate by -35 left\nset xrange [-0.6:%d.6]\nset yrange [0:*]\n"
                "set offsets 0,0,graph 0.12,0\n"
                "set title 'run cost (USD)'\n"
                "plot 'cost.dat' using 1:3:xtic(2) with boxes lc rgb '%s', \\\n"
                "     '' using 1:3:(sprintf('$%%.3g', $3)) with labels offset 0,0.7 font ',11'\n"
                "set title 'cost per 1M successful requests (USD)'\n"
                "plot 'cost.dat' using 1:4:xtic(2) with boxes lc rgb '%s', \\\n"
                "     '' using 1:4:(sprintf('$%%.3g', $4)) with labels offset 0,0.7 font ',11'\n"
                "unset multiplot\n",
                rows - 1, palette[0], palette[1]);
    }
    return fig_close(h, d, g, "cost.dat", "cost.gp");
}

static int fig_coldstart(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "coldstart");
    snprintf(fg->title, sizeof fg->title, "Cold-start phases");
    snprintf(fg->caption, sizeof fg->caption,
             "Mean time per instance in each cold-start phase (instances table): spawn, runtime "
             "init, model download, model load, warm-up. A phase a run did not record counts "
             "as 0 here; the details table says which.");
    FILE *d, *g;
    if (fig_open(h, "coldstart.dat", "coldstart.gp", &d, &g))
        return h->err->code;
    preamble(g, "coldstart", 900, 440);
    fprintf(d, "# run");
    for (int k = 0; k < AN__PHASES; k++)
        fprintf(d, "\t%s_ms", an_phase_name[k]);
    fprintf(d, "\n");
    int rows = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_metrics *m = &h->runs[i]->total;
        bool any = false;
        for (int k = 0; k < AN__PHASES; k++)
            any |= !m->phase_ms[k].why;
        if (!any)
            continue;
        char l[300];
        dat_label(l, sizeof l, h->runs[i]->label);
        fprintf(d, "%s", l);
        for (int k = 0; k < AN__PHASES; k++)
            fprintf(d, "\t%.6g", m->phase_ms[k].why ? 0.0 : m->phase_ms[k].v);
        fprintf(d, "\n");
        rows++;
    }
    if (rows == 0) {
        no_data(g, "coldstart", "no run recorded cold-start phases");
    } else {
        fprintf(g, "set style data histograms\nset style histogram rowstacked\n"
                   "set style fill solid 0.9 border rgb 'white'\nset boxwidth 0.55\n"
                   "set ylabel 'mean time per instance (ms)'\nset yrange [0:*]\n"
                   "set key outside right top vertical\nset xtics rotate by -20 left\n"
                   "set bmargin 6\nplot ");
        for (int k = 0; k < AN__PHASES; k++)
            fprintf(g, "%s'coldstart.dat' using %d%s title '%s' lc rgb '%s'",
                    k ? ", \\\n     " : "", k + 2, k == 0 ? ":xtic(1)" : "", an_phase_name[k],
                    palette[k]);
        fprintf(g, "\n");
    }
    return fig_close(h, d, g, "coldstart.dat", "coldstart.gp");
}

static int fig_scatter(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "latency_cost");
    snprintf(fg->title, sizeof fg->title, "Latency vs cost");
    snprintf(fg->caption, sizeof fg->caption,
             "Each run as a point: p99 latency of 2xx responses (with its 95%% confidence "
             "interval) against cost per 1M successful requests. Lower left is better.");
    FILE *d, *g;
    if (fig_open(h, "latency_cost.dat", "latency_cost.gp", &d, &g))
        return h->err->code;
    preamble(g, "latency_cost", 900, 460);
    fprintf(d, "# per_1m_ok_usd\tp99_ms\tp99_lo\tp99_hi\trun\n");
    int rows = 0;
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        const an_est *p = &r->total.latency_q[AN_P99];
        if (!r->has_own || !r->own.priced || !r->own.has_per_1m || p->est.why)
            continue;
        char l[300];
        dat_label(l, sizeof l, r->label);
        double plo = p->has_ci ? p->lo : p->est.v, phi = p->has_ci ? p->hi : p->est.v;
        fprintf(d, "%.10g\t%.6g\t%.6g\t%.6g\t%s\n", r->own.per_1m, p->est.v, plo, phi, l);
        xlo = fmin(xlo, r->own.per_1m);
        xhi = fmax(xhi, r->own.per_1m);
        ylo = fmin(ylo, plo);
        yhi = fmax(yhi, phi);
        rows++;
    }
    if (rows == 0) {
        no_data(g, "latency_cost", "no run has both a p99 latency and a cost");
    } else {
        if (xlo > 0 && xhi / xlo > 20)
            fprintf(g, "set logscale x 10\n");
        if (ylo > 0 && yhi / ylo > 20)
            fprintf(g, "set logscale y 10\n");
        fprintf(g,
                "set xlabel 'cost per 1M successful requests (USD)'\n"
                "set ylabel 'p99 latency (ms)'\nunset key\n%s"
                "set offsets graph 0.08, graph 0.25, graph "
                "0.15, 0\n"
                "plot 'latency_cost.dat' using 1:2:3:4 with yerrorbars ls 1 pt 7 ps 1.4, \\\n"
                "     '' using 1:2:5 with labels left offset 1.2,0.6 font ',11' "
                "tc rgb '#333333'\n",
                ylo > 0 && yhi / ylo > 20 ? "" : "set yrange [0:*]\n");
    }
    return fig_close(h, d, g, "latency_cost.dat", "latency_cost.gp");
}

/* ---- index.html ----------------------------------------------------------------------------- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int html_grid(FILE *f, int (*build)(an_run *const *, size_t, an_grid *), html *h,
                     const char *cls)
{
    an_grid g = {0};
    int rc = build(h->runs, h->n, &g);
    if (rc || g.rows < 2) {
        free(g.cell);
        return rc;
    }
    fprintf(f, "<div class=\"scroll\"><table class=\"%s\">\n<thead><tr>", cls);
    for (int c = 0; c < g.cols; c++) {
        fputs("<th>", f);
        esc(f, an_grid_text(&g, 0, c));
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int r = 1; r < g.rows; r++) {
        const char *first = an_grid_text(&g, r, 0);
        fprintf(f, "<tr%s>", strncmp(first, "  ", 2) == 0 ? " class=\"sub\"" : "");
        for (int c = 0; c < g.cols; c++) {
            bool w = an_grid_is_words(&g, r, c);
            fprintf(f, "<td%s>", c == 0 ? " class=\"label\"" : w ? " class=\"words\"" : "");
            const char *t = an_grid_text(&g, r, c), *ci = w || c == 0 ? NULL : strstr(t, " [");
            if (ci) { /* the interval goes on its own smaller line under the estimate */
                char v[AN_CELL];
                snprintf(v, sizeof v, "%.*s", (int)(ci - t), t);
                esc(f, v);
                fputs("<span class=\"ci\">", f);
                esc(f, ci + 1);
                fputs("</span>", f);
            } else {
                esc(f, t);
            }
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    free(g.cell);
    return 0;
}

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0;background:#f6f7f9;color:#222;line-height:1.45}"
    "header{background:#1f2d3d;color:#fff;padding:22px 36px}"
    "header h1{margin:0;font-size:26px;font-weight:600}"
    "header p{margin:6px 0 0;color:#c9d3de;font-size:14px}"
    "main{max-width:1320px;margin:0 auto;padding:12px 36px 48px}"
    "h2{font-size:19px;margin:30px 0 10px;border-bottom:2px solid #dde2e8;padding-bottom:4px}"
    ".scroll{overflow-x:auto;background:#fff;border:1px solid #dde2e8;border-radius:6px}"
    "table{border-collapse:collapse;font-size:12.5px;width:100%}"
    "th{background:#eef1f5;text-align:right;padding:7px 8px;vertical-align:bottom;"
    "font-weight:600}th:first-child{text-align:left}"
    "td{padding:6px 8px;text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums;border-top:1px solid #eef0f3}"
    "td.label{text-align:left;font-weight:600}tr.sub td.label{font-weight:400;padding-left:24px}"
    "td.words{color:#8a6d3b;font-style:italic;white-space:normal;min-width:56px;"
    "font-size:12px}"
    "tbody tr:nth-child(even){background:#fafbfc}"
    ".ci{display:block;font-size:11px;color:#7a8591}"
    "figure{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:14px 0;"
    "padding:14px}figure img{display:block;max-width:100%;height:auto;margin:0 auto}"
    "figcaption{font-size:13px;color:#555;margin-top:8px}"
    "figcaption a{color:#2b6cb0}"
    "dl{font-size:14px}dt{font-weight:600;margin-top:8px}dd{margin-left:18px}"
    ".note{font-size:13px;color:#555}code{font-size:12px;background:#eef1f5;padding:1px 4px;"
    "border-radius:3px}";

static void definitions_html(FILE *f, html *h)
{
    double level = h->o->level > 0 ? h->o->level : 0.95;
    fprintf(f, "<h2>Definitions</h2>\n<dl>\n"
               "<dt>Success ratio (SR)</dt><dd>Requests that got a 2xx response with latency "
               "&le; the SLO, over every request the run scheduled (throttled, dropped and "
               "failed ones included). A latency exactly at the SLO counts as success. "
               "Interval: Wilson score.</dd>\n<dt>SLO</dt><dd>");
    for (size_t i = 0; i < h->n; i++) {
        esc(f, h->runs[i]->label);
        if (h->runs[i]->slo_ms > 0)
            fprintf(f, ": %g ms (from %s)", h->runs[i]->slo_ms, h->runs[i]->slo_source);
        else
            fprintf(f, ": none, so success = any 2xx response");
        fputs(i + 1 < h->n ? "; " : ".", f);
    }
    fprintf(f,
            "</dd>\n<dt>Latency</dt><dd>Time from sending a request to receiving its whole "
            "response, over 2xx responses. Quantiles are nearest-rank; their %.0f%% intervals "
            "are distribution-free order-statistic intervals (exact binomial coverage &ge; "
            "%.0f%%); the mean's interval is a normal approximation.</dd>\n"
            "<dt>ok/s</dt><dd>2xx responses per second between the first send and the last "
            "response. <b>offered/s</b>: requests scheduled per second.</dd>\n"
            "<dt>Cold starts</dt><dd>Requests that started an instance, and their share of the "
            "requests that reached an instance. Phases are the mean per instance.</dd>\n"
            "<dt>Utilisation</dt><dd>Busy instance-seconds (sum of execution durations) over "
            "billed instance-seconds (billed durations plus provisioned time for per-request "
            "profiles; instance lifetimes for managed and server).</dd>\n"
            "<dt>Dispatch error</dt><dd>Time the load generator sent a request minus the time "
            "it was scheduled to.</dd>\n"
            "<dt>Cost</dt><dd>USD from the price catalogue <code>",
            100 * level, 100 * level);
    esc(f, h->o->prices ? cost_catalog_path(h->o->prices) : "(none)");
    fprintf(f, "</code>, snapshot <code>");
    esc(f, h->o->snapshot ? h->o->snapshot : "current");
    fprintf(f, "</code>; free tiers are not applied; a price marked <b>?</b> is listed as "
               "unverified in the catalogue. Formulas: docs/costs.md.</dd>\n</dl>\n");
}

static void runs_html(FILE *f, html *h)
{
    fputs("<h2>Runs</h2>\n<div class=\"scroll\"><table><thead><tr><th>run</th><th>mode</th>"
          "<th>profile</th><th>status</th><th>seed</th><th style=\"text-align:left\">"
          "configuration</th></tr></thead><tbody>\n",
          f);
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        fputs("<tr><td class=\"label\">", f);
        esc(f, r->label);
        fputs("</td><td>", f);
        esc(f, r->info.mode);
        fputs("</td><td>", f);
        esc(f, r->info.profile ? r->info.profile : "-");
        fputs("</td><td>", f);
        esc(f, r->info.status ? r->info.status : "-");
        fprintf(f, "</td><td>%llu</td><td style=\"text-align:left;white-space:normal\"><code>",
                (unsigned long long)r->info.seed);
        esc(f, r->info.config ? r->info.config : "{}");
        fputs("</code></td></tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
}

static int write_index(html *h, const figure *figs, int n_figs)
{
    FILE *f = open_in(h, "index.html");
    if (!f)
        return h->err->code;
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>faasml report</title>\n<style>%s</style></head>\n<body>\n"
            "<header><h1>faasml report</h1><p>%zu run%s &middot; generated %s &middot; "
            "prices: snapshot ",
            css, h->n, h->n == 1 ? "" : "s", when);
    esc(f, h->o->snapshot ? h->o->snapshot : "current");
    fputs(" &middot; data: <a style=\"color:#c9d3de\" href=\"report.json\">report.json</a>"
          "</p></header>\n<main>\n<h2>Summary</h2>\n",
          f);
    int rc = html_grid(f, an_grid_main, h, "main");
    fputs("<h2>Instances, cold starts and load generator</h2>\n", f);
    if (!rc)
        rc = html_grid(f, an_grid_detail, h, "detail");
    fputs("<h2>Cost of each run on the catalogue entries that apply</h2>\n", f);
    if (!rc)
        rc = html_grid(f, an_grid_whatif, h, "whatif");
    fputs("<p class=\"note\">Per-request offers (Lambda, Cloud Functions) re-bill each "
          "invocation's execution time at that offer's rounding; per-instance offers re-bill the "
          "run's instance lifetimes. \"run's own\" marks the entry the run was recorded on.</p>\n",
          f);
    fputs("<h2>Figures</h2>\n", f);
    for (int i = 0; i < n_figs; i++) {
        fprintf(f, "<figure id=\"%s\"><h3 style=\"margin:0 0 8px;font-size:16px\">", figs[i].name);
        esc(f, figs[i].title);
        fprintf(f, "</h3><img src=\"%s.svg\" alt=\"", figs[i].name);
        esc(f, figs[i].title);
        fputs("\"><figcaption>", f);
        esc(f, figs[i].caption);
        fprintf(f,
                " <a href=\"%s.gp\">gnuplot script</a> &middot; <a href=\"%s.dat\">data</a>"
                "</figcaption></figure>\n",
                figs[i].name, figs[i].name);
    }
    definitions_html(f, h);
    runs_html(f, h);
    fputs("</main></body></html>\n", f);
    int crc = close_file(h, f, "index.html");
    return rc ? fm_err_set(h->err, rc, "out of memory") : crc;
}

/* ---- the atomic directory swap ----------------------------------------------------------------
 */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int build(html *h)
{
    int n_figs = 0, rc;
    figure *figs = calloc(h->n + 4, sizeof *figs);
    if (!figs)
        return fm_err_set(h->err, FM_ENOMEM, "out of memory");
    rc = fig_cdf(h, &figs[n_figs++]);
    for (size_t i = 0; !rc && i < h->n; i++)
        rc = fig_timeline(h, i, &figs[n_figs++]);
    if (!rc)
        rc = fig_cost(h, &figs[n_figs++]);
    if (!rc)
        rc = fig_coldstart(h, &figs[n_figs++]);
    if (!rc)
        rc = fig_scatter(h, &figs[n_figs++]);
    if (!rc)
        rc = write_index(h, figs, n_figs);
    free(figs);
    if (rc)
        return rc;
    FILE *j = open_in(h, "report.json");
    if (!j)
        return h->err->code;
    if (analyze_write_json(h->runs, h->n, h->o, j) || ferror(j)) {
        fclose(j);
        return fm_err_set(h->err, FM_EIO, "cannot write '%s/report.json'", h->dir);
    }
    if (close_file(h, j, "report.json"))
        return h->err->code;
    FILE *m = open_in(h, MARKER);
    if (!m)
        return h->err->code;
    fputs("a faasml HTML report; `faasml report --html` may replace this directory\n", m);
    return close_file(h, m, MARKER);
}

int analyze_write_html(an_run *const *runs, size_t n, const an_opts *o, const char *dir,
                       fm_err *err)
{
    char marker[PATH_MAX + 32], old[PATH_MAX + 32];
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (dl == 0 || dl > PATH_MAX - 40)
        return fm_err_set(err, FM_EINVAL, "invalid report directory '%s'", dir);
    snprintf(marker, sizeof marker, "%.*s/" MARKER, (int)dl, dir);
    bool exists = is_dir(dir);
    if (!exists && access(dir, F_OK) == 0)
        return fm_err_set(err, FM_EEXISTS, "'%s' exists and is not a directory", dir);
    if (exists && access(marker, F_OK) != 0) {
        /* an empty directory is fine to replace; anything else might be the user's */
        if (rmdir(dir) != 0)
            return fm_err_set(err, FM_EEXISTS,
                              "'%s' exists and is not a faasml report; choose another "
                              "directory",
                              dir);
        exists = false;
    }
    html h = {.runs = runs, .n = n, .o = o, .err = err};
    snprintf(h.dir, sizeof h.dir, "%.*s.tmp-XXXXXX", (int)dl, dir);
    if (!mkdtemp(h.dir))
        return fm_err_set(err, -errno, "cannot create a directory beside '%s': %s", dir,
                          strerror(errno));
    chmod(h.dir, 0755);
    int rc = build(&h);
    if (rc) {
        rm_tree(h.dir);
        return rc;
    }
    if (exists) {
        snprintf(old, sizeof old, "%.*s.old-%ld", (int)dl, dir, (long)getpid());
        if (rename(dir, old) != 0) {
            rc = fm_err_set(err, -errno, "cannot replace '%s': %s", dir, strerror(errno));
            rm_tree(h.dir);
            return rc;
        }
    }
    char final[PATH_MAX];
    snprintf(final, sizeof final, "%.*s", (int)dl, dir);
    if (rename(h.dir, final) != 0) {
        rc = fm_err_set(err, -errno, "cannot create '%s': %s", dir, strerror(errno));
        if (exists)
            rename(old, final);
        rm_tree(h.dir);
        return rc;
    }
    if (exists)
        rm_tree(old);
    return 0;
}
