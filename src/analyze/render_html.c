/* The HTML report: index.html with the tables, and SVG figures drawn by gnuplot, each kept with
 * its script (.gp) and data (.dat) so a user can restyle it. Written into a temporary directory
 * and renamed into place, so an error never leaves a partial report. */
#include "analyze.h"
#include "analyze_int.h"

#include <cjson/cJSON.h>

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
            "set key noautotitle outside right top vertical box lc rgb '#cccccc'\n",
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
    char headline[400]; /* what the figure shows about these runs, in one line */
    char caption[600];
    char left_out[1200]; /* the runs not drawn, each with why; "" when every run is */
} figure;

/* Why: a run missing from a figure must be visible as missing, with its reason, not silently
 * absent. */
static void left_out_add(figure *fg, const char *label, const char *why)
{
    size_t n = strlen(fg->left_out);
    snprintf(fg->left_out + n, sizeof fg->left_out - n, "%s%s (%s)", n ? "; " : "", label, why);
}

/* Do two runs have the same latency sample, so one line would hide the other? */
static bool same_latencies(const an_run *a, const an_run *b)
{
    return a->n_lat == b->n_lat && a->n_lat > 0 &&
           memcmp(a->lat_sorted, b->lat_sorted, a->n_lat * sizeof *a->lat_sorted) == 0;
}

/* A run's p99 in ms, or -1 when it has none. */
static double p99_of(const an_run *r)
{
    const an_est *p = &r->total.latency_q[AN_P99];
    return p->est.why ? -1 : p->est.v;
}

static int fig_cdf(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "latency_cdf");
    snprintf(fg->title, sizeof fg->title, "Latency distribution");
    snprintf(fg->caption, sizeof fg->caption,
             "Empirical CDF of the latency of 2xx responses, one line per run; the dashed "
             "vertical line is the SLO. A run whose latencies equal an earlier run's is drawn "
             "dashed and says so in the legend.");
    FILE *d, *g;
    if (fig_open(h, "latency_cdf.dat", "latency_cdf.gp", &d, &g))
        return h->err->code;
    preamble(g, "latency_cdf", 1000, 440);
    double lo = INFINITY, hi = 0;
    int blocks = 0, n_slo_ok = 0, n_slo = 0, n_same = 0;
    const an_run *best = NULL, *worst = NULL;
    char same[300] = "";
    fprintf(g, "set xlabel 'latency (ms)'\nset ylabel 'fraction of 2xx responses <= x'\n"
               "set yrange [0:1.02]\n");
    char plot[16384];
    size_t pl = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        if (r->n_lat == 0) {
            left_out_add(fg, r->label, "no successful requests");
            continue;
        }
        const an_run *twin = NULL;
        for (size_t j = 0; j < i && !twin; j++)
            if (same_latencies(h->runs[j], r))
                twin = h->runs[j];
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
        double p99 = p99_of(r);
        if (p99 >= 0) {
            if (!best || p99 < p99_of(best))
                best = r;
            if (!worst || p99 > p99_of(worst))
                worst = r;
            if (r->slo_ms > 0) {
                n_slo++;
                n_slo_ok += p99 <= r->slo_ms;
            }
        }
        char q[300], t[700];
        gp_quote(q, sizeof q, r->label);
        if (twin) {
            char tq[300];
            gp_quote(tq, sizeof tq, twin->label);
            snprintf(t, sizeof t, "%s (identical to %s)", q, tq);
            if (!n_same++)
                snprintf(same, sizeof same, "; %s and %s have identical latencies", r->label,
                         twin->label);
        } else {
            snprintf(t, sizeof t, "%s", q);
        }
        pl += (size_t)snprintf(plot + pl, sizeof plot - pl,
                               "%s'latency_cdf.dat' index %d using 1:2 with steps ls %zu%s "
                               "title '%s'",
                               blocks ? ", \\\n     " : "plot ", blocks,
                               i % FM_ARRAY_LEN(palette) + 1, twin ? " dt 2 lw 3.5" : "", t);
        if (pl >= sizeof plot)
            pl = sizeof plot - 1;
        blocks++;
    }
    if (blocks == 0) {
        fprintf(d, "# no run has a successful request\n");
        no_data(g, "latency_cdf", "no successful requests in any run");
        snprintf(fg->headline, sizeof fg->headline, "No run has a successful request.");
    } else {
        if (best && best != worst)
            snprintf(fg->headline, sizeof fg->headline,
                     "%s has the lowest p99 (%.4g ms), %s the highest (%.4g ms, %.3gx)",
                     best->label, p99_of(best), worst->label, p99_of(worst),
                     p99_of(best) > 0 ? p99_of(worst) / p99_of(best) : 0);
        else if (best)
            snprintf(fg->headline, sizeof fg->headline, "%s: p99 %.4g ms", best->label,
                     p99_of(best));
        size_t hl = strlen(fg->headline);
        if (n_slo)
            hl += (size_t)snprintf(fg->headline + hl, sizeof fg->headline - hl,
                                   "; %d of %d run%s keep p99 within the SLO", n_slo_ok, n_slo,
                                   n_slo == 1 ? "" : "s");
        snprintf(fg->headline + hl, sizeof fg->headline - hl, "%s.", same);
        if (lo > 0 && hi / lo > 20)
            fprintf(g, "set logscale x 10\n");
        double slo_seen[16];
        int ns = 0;
        for (size_t i = 0; i < h->n && ns < 16; i++) {
            double sl = h->runs[i]->slo_ms;
            bool dup = false;
            for (int j = 0; j < ns; j++)
                dup |= slo_seen[j] == sl;
            if (sl <= 0 || dup)
                continue;
            slo_seen[ns++] = sl;
            fprintf(
                g,
                "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lw 1.5 lc rgb '#888888'\n"
                "set label 'SLO %g ms' at %g, graph 0.97 left offset 0.5,0 tc rgb '#666666'\n",
                sl, sl, sl, sl);
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
    const an_metrics *m = &r->total;
    int64_t bad = m->n_requests - m->n_success;
    int hl =
        snprintf(fg->headline, sizeof fg->headline,
                 "%lld requests, %lld (%.3g%%) not successful (error, throttle or over the SLO)",
                 (long long)m->n_requests, (long long)bad,
                 m->n_requests ? 100.0 * (double)bad / (double)m->n_requests : 0.0);
    if (!m->instances_max.why)
        snprintf(fg->headline + hl, sizeof fg->headline - (size_t)hl,
                 "; at most %.0f instance%s alive, %lld cold start%s", m->instances_max.v,
                 m->instances_max.v == 1 ? "" : "s", (long long)m->cold_starts,
                 m->cold_starts == 1 ? "" : "s");
    strncat(fg->headline, ".", sizeof fg->headline - strlen(fg->headline) - 1);
    FILE *d, *g;
    if (fig_open(h, dn, gn, &d, &g))
        return h->err->code;
    preamble(g, fg->name, 1000, 580);
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
                "set multiplot layout 2,1 margins 0.09,0.91,0.09,0.9 spacing 0,0.13\n"
                "# each panel's key sits above it, outside the plot (panels: 0.09-0.43, "
                "0.56-0.9)\n"
                "set key at screen 0.91, screen 0.99 right top horizontal\n"
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
            fprintf(g, "set ylabel 'latency (ms)'\nset format x ''\n");
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
                "set offsets 0,0,graph 0.12,0\n"
                "set key at screen 0.91, screen 0.535 right top horizontal\nplot ",
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
             "'%s'). Right: the same per 1M successful requests (no bar: no successful "
             "request).",
             h->o->snapshot ? h->o->snapshot : "current");
    FILE *d, *g;
    if (fig_open(h, "cost.dat", "cost.gp", &d, &g))
        return h->err->code;
    preamble(g, "cost", 900, 460);
    fprintf(d, "# i\trun\tcost_usd\tper_1m_ok_usd\n");
    int rows = 0;
    const an_run *cheap = NULL, *dear = NULL;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        if (!r->has_own || !r->own.priced) {
            left_out_add(fg, r->label, !r->has_own ? r->own_why : r->own.why);
            continue;
        }
        if (r->own.has_per_1m) {
            if (!cheap || r->own.per_1m < cheap->own.per_1m)
                cheap = r;
            if (!dear || r->own.per_1m > dear->own.per_1m)
                dear = r;
        }
        char l[300];
        dat_label(l, sizeof l, r->label);
        if (r->own.has_per_1m)
            fprintf(d, "%d\t%s\t%.10g\t%.10g\n", rows++, l, r->own.total, r->own.per_1m);
        else /* '?' is gnuplot's missing value: no bar rather than a false 0 */
            fprintf(d, "%d\t%s\t%.10g\t?\n", rows++, l, r->own.total);
    }
    if (cheap && cheap != dear)
        snprintf(fg->headline, sizeof fg->headline,
                 "%s is the cheapest per 1M successful requests ($%.3g), %s the dearest ($%.3g, "
                 "%.3gx as much).",
                 cheap->label, cheap->own.per_1m, dear->label, dear->own.per_1m,
                 cheap->own.per_1m > 0 ? dear->own.per_1m / cheap->own.per_1m : 0);
    else if (cheap)
        snprintf(fg->headline, sizeof fg->headline,
                 "%s cost $%.3g, $%.3g per 1M successful requests.", cheap->label, cheap->own.total,
                 cheap->own.per_1m);
    else
        snprintf(fg->headline, sizeof fg->headline,
                 rows ? "No priced run has a successful request to price per 1M."
                      : "No run has a price.");
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

/* Why a log axis past 10x: stacked on a linear axis, a GPU server's 14 s cold start flattens
 * every CPU run's bars to nothing; on a log axis the phases stand side by side instead (stacking
 * on a log axis would misstate their shares). */
static int fig_coldstart(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "coldstart");
    snprintf(fg->title, sizeof fg->title, "Cold-start phases");
    FILE *d, *g;
    if (fig_open(h, "coldstart.dat", "coldstart.gp", &d, &g))
        return h->err->code;
    preamble(g, "coldstart", 1000, 460);
    double tmin = INFINITY, tmax = 0, pmin = INFINITY;
    const an_run *fast = NULL, *slow = NULL;
    double phase_sum[AN__PHASES] = {0};
    for (size_t i = 0; i < h->n; i++) {
        const an_metrics *m = &h->runs[i]->total;
        double t = 0;
        bool any = false;
        for (int k = 0; k < AN__PHASES; k++)
            if (!m->phase_ms[k].why) {
                any = true;
                t += m->phase_ms[k].v;
                phase_sum[k] += m->phase_ms[k].v;
                if (m->phase_ms[k].v > 0)
                    pmin = fmin(pmin, m->phase_ms[k].v);
            }
        if (!any) {
            left_out_add(fg, h->runs[i]->label, "no cold-start phases recorded");
            continue;
        }
        if (t > 0 && t < tmin) {
            tmin = t;
            fast = h->runs[i];
        }
        if (t > tmax) {
            tmax = t;
            slow = h->runs[i];
        }
    }
    bool log_axis = fast && tmax / tmin > 10;
    snprintf(fg->caption, sizeof fg->caption,
             "Mean time per instance in each cold-start phase (instances table): spawn, runtime "
             "init, model download, model load, warm-up. %s",
             log_axis ? "The totals span more than 10x, so the phases stand side by side on a "
                        "log axis; a phase a run did not record has no bar."
                      : "Stacked: a bar's height is the whole cold start; a phase a run did not "
                        "record counts as 0 here, the details table says which.");
    int top = 0;
    for (int k = 1; k < AN__PHASES; k++)
        if (phase_sum[k] > phase_sum[top])
            top = k;
    if (fast && fast != slow)
        snprintf(fg->headline, sizeof fg->headline,
                 "Cold starts take from %.3g s (%s) to %.3g s (%s, %.3gx); %s takes the most "
                 "time overall.",
                 tmin / 1e3, fast->label, tmax / 1e3, slow->label, tmax / tmin, an_phase_name[top]);
    else if (slow)
        snprintf(fg->headline, sizeof fg->headline,
                 "A cold start of %s takes %.3g s, most of it %s.", slow->label, tmax / 1e3,
                 an_phase_name[top]);
    else
        snprintf(fg->headline, sizeof fg->headline, "No run recorded cold-start phases.");
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
        for (int k = 0; k < AN__PHASES; k++) {
            const an_num *v = &m->phase_ms[k];
            if (log_axis && (v->why || v->v <= 0))
                fprintf(d, "\t?");
            else
                fprintf(d, "\t%.6g", v->why ? 0.0 : v->v);
        }
        fprintf(d, "\n");
        rows++;
    }
    if (rows == 0) {
        no_data(g, "coldstart", "no run recorded cold-start phases");
    } else {
        if (log_axis)
            fprintf(g,
                    "set datafile missing '?'\nset style data histograms\n"
                    "set style histogram clustered gap 1\nset style fill solid 0.9 border "
                    "rgb 'white'\nset logscale y 10\nset yrange [%g:*]\n"
                    "set ylabel 'mean time per instance (ms, log scale)'\n",
                    pow(10, floor(log10(pmin > 0 && isfinite(pmin) ? pmin : 1))));
        else
            fprintf(g, "set style data histograms\nset style histogram rowstacked\n"
                       "set style fill solid 0.9 border rgb 'white'\nset boxwidth 0.55\n"
                       "set ylabel 'mean time per instance (ms)'\nset yrange [0:*]\n");
        fprintf(g, "set xtics rotate by -20 left\nset bmargin 6\nplot ");
        for (int k = 0; k < AN__PHASES; k++)
            fprintf(g, "%s'coldstart.dat' using %d%s title '%s' lc rgb '%s'",
                    k ? ", \\\n     " : "", k + 2, k == 0 ? ":xtic(1)" : "", an_phase_name[k],
                    palette[k]);
        fprintf(g, "\n");
    }
    return fig_close(h, d, g, "coldstart.dat", "coldstart.gp");
}

typedef struct scatter_pt {
    const an_run *r;
    double x, y, lo, hi;
    bool front;
    int twin; /* index of an earlier point at the same place, -1 when none */
} scatter_pt;

/* Why the front: the runs worth choosing are those no other run beats on both cost and p99;
 * drawing them as a staircase shows the trade-off at a glance. Identical points are drawn once,
 * labelled with every run at that place. */
static int fig_scatter(html *h, figure *fg)
{
    snprintf(fg->name, sizeof fg->name, "latency_cost");
    snprintf(fg->title, sizeof fg->title, "Latency vs cost");
    snprintf(fg->caption, sizeof fg->caption,
             "Each run as a point: p99 latency of 2xx responses (with its 95%% confidence "
             "interval) against cost per 1M successful requests. Lower left is better; the "
             "staircase joins the Pareto front (runs no other run beats on both), grey points "
             "are dominated, the dashed line is the SLO. Runs at the same place share one "
             "point and one label (A = B).");
    FILE *d, *g;
    if (fig_open(h, "latency_cost.dat", "latency_cost.gp", &d, &g))
        return h->err->code;
    preamble(g, "latency_cost", 1000, 480);
    scatter_pt *pt = calloc(h->n ? h->n : 1, sizeof *pt);
    if (!pt) {
        fclose(d);
        fclose(g);
        return fm_err_set(h->err, FM_ENOMEM, "out of memory");
    }
    int rows = 0;
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (size_t i = 0; i < h->n; i++) {
        const an_run *r = h->runs[i];
        const an_est *p = &r->total.latency_q[AN_P99];
        if (!r->has_own || !r->own.priced) {
            left_out_add(fg, r->label, !r->has_own ? r->own_why : r->own.why);
            continue;
        }
        if (!r->own.has_per_1m || p->est.why) {
            left_out_add(fg, r->label, p->est.why ? p->est.why : "no successful requests");
            continue;
        }
        scatter_pt *q = &pt[rows];
        q->r = r;
        q->x = r->own.per_1m;
        q->y = p->est.v;
        q->lo = p->has_ci ? p->lo : p->est.v;
        q->hi = p->has_ci ? p->hi : p->est.v;
        q->twin = -1;
        for (int j = 0; j < rows && q->twin < 0; j++)
            if (pt[j].x == q->x && pt[j].y == q->y)
                q->twin = j;
        xlo = fmin(xlo, q->x);
        xhi = fmax(xhi, q->x);
        ylo = fmin(ylo, q->lo);
        yhi = fmax(yhi, q->hi);
        rows++;
    }
    int n_front = 0, n_dom = 0, n_slo = 0, n_slo_ok = 0;
    for (int i = 0; i < rows; i++) {
        bool dominated = false;
        for (int j = 0; j < rows && !dominated; j++)
            dominated = pt[j].x <= pt[i].x && pt[j].y <= pt[i].y &&
                        (pt[j].x < pt[i].x || pt[j].y < pt[i].y);
        pt[i].front = !dominated;
        n_front += pt[i].front && pt[i].twin < 0;
        n_dom += dominated;
        if (pt[i].r->slo_ms > 0) {
            n_slo++;
            n_slo_ok += pt[i].y <= pt[i].r->slo_ms;
        }
    }
    /* block 0: one point per place, its label naming every run there; block 1: the front */
    fprintf(d, "# per_1m_ok_usd\tp99_ms\tp99_lo\tp99_hi\truns\ton_front\n");
    for (int i = 0; i < rows; i++) {
        if (pt[i].twin >= 0)
            continue;
        char l[300], all[1200];
        dat_label(l, sizeof l, pt[i].r->label);
        size_t al = (size_t)snprintf(all, sizeof all, "%s", l);
        for (int j = i + 1; j < rows; j++)
            if (pt[j].twin == i) {
                dat_label(l, sizeof l, pt[j].r->label);
                al += (size_t)snprintf(all + al, al < sizeof all ? sizeof all - al : 0, " = %s", l);
            }
        fprintf(d, "%.10g\t%.6g\t%.6g\t%.6g\t%s\t%d\n", pt[i].x, pt[i].y, pt[i].lo, pt[i].hi, all,
                pt[i].front);
    }
    if (rows == 0)
        fprintf(d, "NaN\tNaN\tNaN\tNaN\t-\t0\n");
    fprintf(d, "\n\n# Pareto front, by cost: per_1m_ok_usd\tp99_ms\n");
    char names[300] = "";
    size_t nl = 0;
    for (double last = -INFINITY;;) { /* front points in increasing cost */
        int next = -1;
        for (int i = 0; i < rows; i++)
            if (pt[i].front && pt[i].twin < 0 && pt[i].x > last &&
                (next < 0 || pt[i].x < pt[next].x))
                next = i;
        if (next < 0)
            break;
        last = pt[next].x;
        fprintf(d, "%.10g\t%.6g\n", pt[next].x, pt[next].y);
        nl += (size_t)snprintf(names + nl, nl < sizeof names ? sizeof names - nl : 0, "%s%s",
                               nl ? ", " : "", pt[next].r->label);
    }
    if (n_front == 0)
        fprintf(d, "NaN\tNaN\n");
    fprintf(d, "\n\n");
    if (rows == 0) {
        snprintf(fg->headline, sizeof fg->headline, "No run has both a p99 latency and a cost.");
        no_data(g, "latency_cost", "no run has both a p99 latency and a cost");
    } else {
        int hl = snprintf(fg->headline, sizeof fg->headline,
                          "Pareto front, cheapest first: %s; %d of %d run%s dominated", names,
                          n_dom, rows, rows == 1 ? "" : "s");
        if (n_slo)
            snprintf(fg->headline + hl, sizeof fg->headline - (size_t)hl,
                     "; %d of %d within the SLO at p99", n_slo_ok, n_slo);
        strncat(fg->headline, ".", sizeof fg->headline - strlen(fg->headline) - 1);
        bool logx = xlo > 0 && xhi / xlo > 20, logy = ylo > 0 && yhi / ylo > 20;
        if (logx)
            fprintf(g, "set logscale x 10\n");
        if (logy)
            fprintf(g, "set logscale y 10\n");
        fprintf(g,
                "set xlabel 'cost per 1M successful requests (USD)'\n"
                "set ylabel 'p99 latency (ms)'\n%s"
                "set offsets graph 0.05, graph 0.3, graph 0.15, graph 0.05\n"
                "set style textbox opaque noborder\n",
                logy ? "" : "set yrange [0:*]\n");
        double slo_seen[16];
        int ns = 0;
        char slo_title[64] = "";
        for (int i = 0; i < rows && ns < 16; i++) {
            double sl = pt[i].r->slo_ms;
            bool dup = false;
            for (int j = 0; j < ns; j++)
                dup |= slo_seen[j] == sl;
            if (sl <= 0 || dup)
                continue;
            slo_seen[ns++] = sl;
            fprintf(g,
                    "set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lw 1.5 "
                    "lc rgb '#888888' back\n",
                    sl, sl);
            snprintf(slo_title, sizeof slo_title, ns > 1 ? "SLOs" : "SLO %g ms", sl);
        }
        if (yhi < (ns ? slo_seen[0] : 0) && !logy)
            fprintf(g, "set yrange [0:%g]\n", slo_seen[0] * 1.1);
        fprintf(g,
                "plot 'latency_cost.dat' index 1 using 1:2 with steps lc rgb '%s' lw 2 "
                "title 'Pareto front', \\\n"
                "     '' index 0 using 1:($6 == 1 ? $2 : 1/0):3:4 with yerrorbars lc rgb '%s' "
                "pt 7 ps 1.5 title 'on the front', \\\n"
                "     '' index 0 using 1:($6 == 0 ? $2 : 1/0):3:4 with yerrorbars "
                "lc rgb '#9aa3ad' pt 7 ps 1.3 title 'dominated', \\\n"
                "     '' index 0 using 1:2:5 with labels boxed left offset 1.2,0.9 font ',11' "
                "tc rgb '#222222' notitle",
                palette[2], palette[0]);
        if (ns)
            fprintf(g, ", \\\n     NaN with lines dt 2 lw 1.5 lc rgb '#888888' title '%s'",
                    slo_title);
        fprintf(g, "\n");
    }
    free(pt);
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
    ".headline{margin:0 0 8px;font-size:14px;color:#1f2d3d}"
    ".leftout{margin:6px 0 0;font-size:13px;color:#8a6d3b}"
    "table.cfg{width:auto}table.cfg td{text-align:left;white-space:normal}"
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

/* ---- the Runs section: configurations as tables -------------------------------------------- */

typedef struct cfg_kv {
    char key[128];
    char val[256];
} cfg_kv;

typedef struct cfg_flat {
    cfg_kv *kv;
    size_t n, cap;
    bool bad; /* the configuration is not JSON (or memory ran out) */
} cfg_flat;

static void cfg_put(cfg_flat *c, const char *key, const char *val)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        cfg_kv *kv = realloc(c->kv, cap * sizeof *kv);
        if (!kv) {
            c->bad = true;
            return;
        }
        c->kv = kv;
        c->cap = cap;
    }
    snprintf(c->kv[c->n].key, sizeof c->kv[c->n].key, "%s", key);
    snprintf(c->kv[c->n].val, sizeof c->kv[c->n].val, "%s", val);
    c->n++;
}

static void scalar_text(const cJSON *v, char *b, size_t cap)
{
    if (cJSON_IsString(v))
        snprintf(b, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(b, cap, "%.10g", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(b, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(b, cap, "null");
    else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(b, cap, "%s", t ? t : "");
        free(t);
    }
}

/* Nested objects become dotted keys ("policy.inst.keep_alive"); a list of scalars is one value
 * ("1, 4, 8"); anything deeper stays JSON in its cell. */
static void cfg_flatten(const cJSON *o, const char *prefix, cfg_flat *c)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, o)
    {
        char key[128], val[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", v->string ? v->string : "");
        if (cJSON_IsObject(v) && v->child) {
            cfg_flatten(v, key, c);
            continue;
        }
        if (cJSON_IsArray(v)) {
            bool flat = true;
            const cJSON *e;
            cJSON_ArrayForEach(e, v) flat &= !cJSON_IsObject(e) && !cJSON_IsArray(e);
            if (flat) {
                size_t n = 0;
                val[0] = 0;
                cJSON_ArrayForEach(e, v)
                {
                    char t[96];
                    scalar_text(e, t, sizeof t);
                    n += (size_t)snprintf(val + n, n < sizeof val ? sizeof val - n : 0, "%s%s",
                                          n ? ", " : "", t);
                }
                cfg_put(c, key, val);
                continue;
            }
        }
        scalar_text(v, val, sizeof val);
        cfg_put(c, key, val);
    }
}

static const char *cfg_get(const cfg_flat *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->kv[i].key, key) == 0)
            return c->kv[i].val;
    return NULL;
}

/* Why a table: a run's configuration as raw JSON hides what differs between runs. The keys that
 * differ get a column each beside the run; the keys every run shares are listed once below. */
static void runs_html(FILE *f, html *h)
{
    cfg_flat *cf = calloc(h->n ? h->n : 1, sizeof *cf);
    cfg_flat keys = {0}; /* the union of keys, first seen first; val unused */
    if (!cf) {
        fputs("<h2>Runs</h2>\n<p class=\"note\">out of memory</p>\n", f);
        return;
    }
    for (size_t i = 0; i < h->n; i++) {
        const char *txt = h->runs[i]->info.config;
        cJSON *o = txt ? cJSON_Parse(txt) : cJSON_CreateObject();
        if (!cJSON_IsObject(o))
            cf[i].bad = true;
        else
            cfg_flatten(o, "", &cf[i]);
        cJSON_Delete(o);
        for (size_t k = 0; k < cf[i].n; k++)
            if (!cfg_get(&keys, cf[i].kv[k].key))
                cfg_put(&keys, cf[i].kv[k].key, "");
    }
    bool *differs = calloc(keys.n ? keys.n : 1, sizeof *differs);
    size_t n_diff = 0, n_same = 0;
    for (size_t k = 0; differs && k < keys.n; k++) {
        const char *first = cfg_get(&cf[0], keys.kv[k].key);
        for (size_t i = 0; i < h->n; i++) {
            const char *v = cfg_get(&cf[i], keys.kv[k].key);
            if (cf[i].bad || !v || !first || strcmp(v, first) != 0)
                differs[k] = true;
        }
        if (h->n == 1)
            differs[k] = false;
        n_diff += differs[k];
    }
    n_same = differs ? keys.n - n_diff : 0;
    fputs("<h2>Runs</h2>\n<div class=\"scroll\"><table class=\"runs\"><thead><tr><th>run</th>"
          "<th>mode</th><th>profile</th><th>status</th><th>seed</th>",
          f);
    for (size_t k = 0; differs && k < keys.n; k++)
        if (differs[k]) {
            fputs("<th>", f);
            esc(f, keys.kv[k].key);
            fputs("</th>", f);
        }
    fputs("</tr></thead><tbody>\n", f);
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
        fprintf(f, "</td><td>%llu</td>", (unsigned long long)r->info.seed);
        for (size_t k = 0; differs && k < keys.n; k++) {
            if (!differs[k])
                continue;
            const char *v = cfg_get(&cf[i], keys.kv[k].key);
            fputs(v ? "<td>" : "<td class=\"words\">", f);
            esc(f, v ? v : cf[i].bad ? "configuration is not JSON" : "not set");
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n", f);
    if (n_same) {
        fprintf(f,
                "<p class=\"note\">%s:</p>\n<div class=\"scroll\"><table class=\"cfg\">"
                "<thead><tr><th>setting</th><th>value</th></tr></thead><tbody>\n",
                h->n == 1 ? "Configuration" : "Configuration every run shares");
        for (size_t k = 0; k < keys.n; k++) {
            if (differs[k])
                continue;
            fputs("<tr><td class=\"label\">", f);
            esc(f, keys.kv[k].key);
            fputs("</td><td>", f);
            esc(f, cfg_get(&cf[0], keys.kv[k].key));
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table></div>\n", f);
    }
    for (size_t i = 0; i < h->n; i++)
        free(cf[i].kv);
    free(cf);
    free(keys.kv);
    free(differs);
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
        fprintf(f, "<figure id=\"%s\"><h3 style=\"margin:0 0 4px;font-size:16px\">", figs[i].name);
        esc(f, figs[i].title);
        fputs("</h3><p class=\"headline\">", f);
        esc(f, figs[i].headline);
        fprintf(f, "</p><img src=\"%s.svg\" alt=\"", figs[i].name);
        esc(f, figs[i].title);
        fputs("\">", f);
        if (figs[i].left_out[0]) {
            fputs("<p class=\"leftout\">Not drawn: ", f);
            esc(f, figs[i].left_out);
            fputs(".</p>", f);
        }
        fputs("<figcaption>", f);
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
